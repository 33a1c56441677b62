//! Effects (`effects_row_v1`): Horizon's effect set for every operation type,
//! with stellar-etl's `details` objects.
//!
//! Only operations of successful transactions have effects (Horizon and
//! stellar-etl). Each operation's effects come from its envelope body, its
//! result and its slice of the shared change list (`ChangeOrigin::Operation`);
//! invoke-host-function effects come from the operation's contract events.
//! Order inside an operation follows stellar-etl: the type-specific effects,
//! then sponsorship effects, then liquidity-pool created/removed effects, the
//! latter two over the operation's changes sorted by ledger key (the Go SDK's
//! `GetOperationChanges` order).

mod details;
mod entries;
mod ops;
mod sac;

use crate::model::Timestamp;
use std::collections::HashMap;

use serde_json::Value;
use stellar_xdr::{AccountId, ContractEvent, MuxedAccount, OperationResult, TransactionMeta};

use super::changes::{ChangeOrigin, EntryChange};
use super::encode::{account_id, ledger_range, muxed_address, muxed_base, toid};
use super::view::{LedgerView, TxView};
use super::{ExtractContext, ExtractError};
use crate::tables::{EffectRow, LedgerTables};
use details::Details;

/// Horizon / stellar-etl effect types: number and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AccountCreated = 0,
    AccountRemoved = 1,
    AccountCredited = 2,
    AccountDebited = 3,
    AccountThresholdsUpdated = 4,
    AccountHomeDomainUpdated = 5,
    AccountFlagsUpdated = 6,
    AccountInflationDestinationUpdated = 7,
    SignerCreated = 10,
    SignerRemoved = 11,
    SignerUpdated = 12,
    TrustlineCreated = 20,
    TrustlineRemoved = 21,
    TrustlineUpdated = 22,
    TrustlineAuthorized = 23,
    TrustlineDeauthorized = 24,
    TrustlineAuthorizedToMaintainLiabilities = 25,
    TrustlineFlagsUpdated = 26,
    Trade = 33,
    DataCreated = 40,
    DataRemoved = 41,
    DataUpdated = 42,
    SequenceBumped = 43,
    ClaimableBalanceCreated = 50,
    ClaimableBalanceClaimantCreated = 51,
    ClaimableBalanceClaimed = 52,
    AccountSponsorshipCreated = 60,
    AccountSponsorshipUpdated = 61,
    AccountSponsorshipRemoved = 62,
    TrustlineSponsorshipCreated = 63,
    TrustlineSponsorshipUpdated = 64,
    TrustlineSponsorshipRemoved = 65,
    DataSponsorshipCreated = 66,
    DataSponsorshipUpdated = 67,
    DataSponsorshipRemoved = 68,
    ClaimableBalanceSponsorshipCreated = 69,
    ClaimableBalanceSponsorshipUpdated = 70,
    ClaimableBalanceSponsorshipRemoved = 71,
    SignerSponsorshipCreated = 72,
    SignerSponsorshipUpdated = 73,
    SignerSponsorshipRemoved = 74,
    ClaimableBalanceClawedBack = 80,
    LiquidityPoolDeposited = 90,
    LiquidityPoolWithdrew = 91,
    LiquidityPoolTrade = 92,
    LiquidityPoolCreated = 93,
    LiquidityPoolRemoved = 94,
    LiquidityPoolRevoked = 95,
    ContractCredited = 96,
    ContractDebited = 97,
    ExtendFootprintTtl = 98,
    RestoreFootprint = 99,
}

impl Kind {
    /// The `type_string` Horizon and stellar-etl use.
    pub(crate) fn name(self) -> &'static str {
        use Kind::*;
        match self {
            AccountCreated => "account_created",
            AccountRemoved => "account_removed",
            AccountCredited => "account_credited",
            AccountDebited => "account_debited",
            AccountThresholdsUpdated => "account_thresholds_updated",
            AccountHomeDomainUpdated => "account_home_domain_updated",
            AccountFlagsUpdated => "account_flags_updated",
            AccountInflationDestinationUpdated => "account_inflation_destination_updated",
            SignerCreated => "signer_created",
            SignerRemoved => "signer_removed",
            SignerUpdated => "signer_updated",
            TrustlineCreated => "trustline_created",
            TrustlineRemoved => "trustline_removed",
            TrustlineUpdated => "trustline_updated",
            TrustlineAuthorized => "trustline_authorized",
            TrustlineDeauthorized => "trustline_deauthorized",
            TrustlineAuthorizedToMaintainLiabilities => "trustline_authorized_to_maintain_liabilities",
            TrustlineFlagsUpdated => "trustline_flags_updated",
            Trade => "trade",
            DataCreated => "data_created",
            DataRemoved => "data_removed",
            DataUpdated => "data_updated",
            SequenceBumped => "sequence_bumped",
            ClaimableBalanceCreated => "claimable_balance_created",
            ClaimableBalanceClaimantCreated => "claimable_balance_claimant_created",
            ClaimableBalanceClaimed => "claimable_balance_claimed",
            AccountSponsorshipCreated => "account_sponsorship_created",
            AccountSponsorshipUpdated => "account_sponsorship_updated",
            AccountSponsorshipRemoved => "account_sponsorship_removed",
            TrustlineSponsorshipCreated => "trustline_sponsorship_created",
            TrustlineSponsorshipUpdated => "trustline_sponsorship_updated",
            TrustlineSponsorshipRemoved => "trustline_sponsorship_removed",
            DataSponsorshipCreated => "data_sponsorship_created",
            DataSponsorshipUpdated => "data_sponsorship_updated",
            DataSponsorshipRemoved => "data_sponsorship_removed",
            ClaimableBalanceSponsorshipCreated => "claimable_balance_sponsorship_created",
            ClaimableBalanceSponsorshipUpdated => "claimable_balance_sponsorship_updated",
            ClaimableBalanceSponsorshipRemoved => "claimable_balance_sponsorship_removed",
            SignerSponsorshipCreated => "signer_sponsorship_created",
            SignerSponsorshipUpdated => "signer_sponsorship_updated",
            SignerSponsorshipRemoved => "signer_sponsorship_removed",
            ClaimableBalanceClawedBack => "claimable_balance_clawed_back",
            LiquidityPoolDeposited => "liquidity_pool_deposited",
            LiquidityPoolWithdrew => "liquidity_pool_withdrew",
            LiquidityPoolTrade => "liquidity_pool_trade",
            LiquidityPoolCreated => "liquidity_pool_created",
            LiquidityPoolRemoved => "liquidity_pool_removed",
            LiquidityPoolRevoked => "liquidity_pool_revoked",
            ContractCredited => "contract_credited",
            ContractDebited => "contract_debited",
            ExtendFootprintTtl => "extend_footprint_ttl",
            RestoreFootprint => "restore_footprint",
        }
    }
}

/// One effect before it becomes a row.
pub(crate) struct Effect {
    /// `G...` of the account the effect belongs to.
    account: String,
    /// `M...` when the account was given as a muxed account.
    muxed: Option<String>,
    kind: Kind,
    details: Details,
}

impl Effect {
    /// Effect on a possibly muxed account (Horizon's `addMuxed`).
    pub(crate) fn muxed(m: &MuxedAccount, kind: Kind, details: Details) -> Self {
        Effect { account: muxed_base(m), muxed: muxed_address(m), kind, details }
    }

    /// Effect on a plain account (Horizon's `addUnmuxed`).
    pub(crate) fn account(a: &AccountId, kind: Kind, details: Details) -> Self {
        Effect { account: account_id(a), muxed: None, kind, details }
    }
}

/// Everything an operation's effects are computed from.
pub(crate) struct OpInput<'a> {
    pub op: &'a stellar_xdr::Operation,
    pub result: Option<&'a stellar_xdr::OperationResultTr>,
    pub raw_result: Option<&'a OperationResult>,
    /// Operation source, else transaction source.
    pub source: MuxedAccount,
    /// The operation's ledger-entry changes in meta order.
    pub changes: Vec<&'a EntryChange<'a>>,
    /// The operation's contract events (meta v3 Soroban events or meta v4 op events).
    pub events: &'a [ContractEvent],
    pub network_id: &'a [u8; 32],
}

/// Appends this module's rows for one ledger to `out`.
pub fn rows(
    view: &LedgerView<'_>,
    changes: &[EntryChange<'_>],
    ctx: &ExtractContext,
    closed_at: Timestamp,
    out: &mut LedgerTables,
) -> Result<(), ExtractError> {
    let seq = view.seq();
    let mut by_op: HashMap<(usize, u32), Vec<&EntryChange<'_>>> = HashMap::new();
    for c in changes {
        if let (Some(tx), ChangeOrigin::Operation(i)) = (c.tx, c.origin) {
            by_op.entry((tx, i)).or_default().push(c);
        }
    }
    for (t, tx) in view.txs.iter().enumerate() {
        if !tx.successful() {
            continue;
        }
        let ops = tx.operations();
        let results = tx.op_results().unwrap_or(&[]);
        let tx_source = tx.inner().source();
        let tx_hash = hex::encode(tx.result.transaction_hash.0);
        for (i, op) in ops.iter().enumerate() {
            let raw_result = results.get(i);
            let input = OpInput {
                op,
                result: match raw_result {
                    Some(OperationResult::OpInner(tr)) => Some(tr),
                    _ => None,
                },
                raw_result,
                source: op.source_account.clone().unwrap_or_else(|| tx_source.clone()),
                changes: by_op.remove(&(t, i as u32)).unwrap_or_default(),
                events: op_events(tx, i),
                network_id: &ctx.network_id,
            };
            let effects = operation_effects(&input);
            let operation_id = toid(seq, tx.order, i as u32 + 1);
            for (index, e) in effects.into_iter().enumerate() {
                out.effects.push(effect_row(e, seq, &tx_hash, i, index, operation_id, ctx, closed_at));
            }
        }
    }
    Ok(())
}

/// All effects of one operation, in stellar-etl's order.
pub(crate) fn operation_effects(input: &OpInput<'_>) -> Vec<Effect> {
    let mut effects = ops::type_effects(input);
    let ordered = entries::key_ordered(&input.changes);
    for c in &ordered {
        entries::sponsorship_effects(input, c, &mut effects);
    }
    for c in &ordered {
        entries::pool_entry_effects(input, c, &mut effects);
    }
    effects
}

/// Contract events emitted by operation `i` (meta v3 keeps them in the
/// Soroban meta of its single operation, meta v4 per operation).
fn op_events<'a>(tx: &TxView<'a>, i: usize) -> &'a [ContractEvent] {
    match tx.meta {
        TransactionMeta::V3(m) if i == 0 => m.soroban_meta.as_ref().map_or(&[], |s| &s.events[..]),
        TransactionMeta::V4(m) => m.operations.get(i).map_or(&[], |o| &o.events[..]),
        _ => &[],
    }
}

#[allow(clippy::too_many_arguments)]
fn effect_row(
    e: Effect,
    seq: u32,
    tx_hash: &str,
    op_index: usize,
    index: usize,
    operation_id: i64,
    ctx: &ExtractContext,
    closed_at: Timestamp,
) -> EffectRow {
    let d = &e.details;
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    let b = |k: &str| d.get(k).and_then(Value::as_bool);
    let asset = asset_columns(d);
    let amount = match e.kind {
        Kind::AccountCreated => s("starting_balance"),
        _ => s("amount"),
    };
    let authorize_flag = match e.kind {
        Kind::TrustlineAuthorized => Some(true),
        Kind::TrustlineDeauthorized | Kind::TrustlineAuthorizedToMaintainLiabilities => Some(false),
        Kind::TrustlineFlagsUpdated => b("authorized_flag"),
        _ => None,
    };
    let (signer_account, signer_weight) = match e.kind {
        Kind::SignerCreated | Kind::SignerRemoved | Kind::SignerUpdated => {
            (s("public_key"), d.get("weight").and_then(Value::as_i64).map(|w| w as i32))
        }
        Kind::SignerSponsorshipCreated | Kind::SignerSponsorshipUpdated | Kind::SignerSponsorshipRemoved => {
            (s("signer"), None)
        }
        _ => (None, None),
    };
    EffectRow {
        ledger_sequence: i64::from(seq),
        transaction_hash: tx_hash.to_string(),
        operation_index: op_index as i32,
        effect_index: index as i32,
        effect_type: e.kind as i32,
        effect_type_string: e.kind.name().to_string(),
        account_id: Some(e.account.clone()),
        amount,
        asset_code: asset.1,
        asset_issuer: asset.2,
        asset_type: asset.0,
        trustline_limit: s("limit"),
        authorize_flag,
        clawback_flag: if e.kind == Kind::TrustlineFlagsUpdated { b("clawback_enabled_flag") } else { None },
        signer_account,
        signer_weight,
        offer_id: if e.kind == Kind::Trade { d.get("offer_id").and_then(Value::as_i64) } else { None },
        seller_account: if e.kind == Kind::Trade { s("seller") } else { None },
        created_at: closed_at,
        ledger_range: Some(ledger_range(seq)),
        era_id: ctx.era_id.clone(),
        version_label: ctx.version_label.clone(),
        effect_id: format!("{operation_id}-{index}"),
        operation_id,
        account_muxed: e.muxed,
        details: Some(details::to_json(&e.details)),
    }
}

/// `(asset_type, asset_code, asset_issuer)` of the effect's single asset:
/// from `asset_type`/`asset_code`/`asset_issuer` details, or from a canonical
/// `asset` string (claimable balance and trustline sponsorship effects).
/// Trades and pool effects involve two assets and leave these NULL.
fn asset_columns(d: &Details) -> (Option<String>, Option<String>, Option<String>) {
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(t) = s("asset_type") {
        // Trustline sponsorship effects name pool shares `liquidity_pool`.
        let t = if t == "liquidity_pool" { "liquidity_pool_shares".to_string() } else { t };
        return (Some(t), s("asset_code"), s("asset_issuer"));
    }
    match s("asset").as_deref() {
        Some("native") => (Some("native".into()), None, None),
        Some(canonical) => match canonical.split_once(':') {
            Some((code, issuer)) => {
                let t = if code.len() <= 4 { "credit_alphanum4" } else { "credit_alphanum12" };
                (Some(t.into()), Some(code.into()), Some(issuer.into()))
            }
            None => (None, None, None),
        },
        None => (None, None, None),
    }
}

#[cfg(test)]
mod tests;

//! `operations_row_v2`: one row per operation of every applied transaction
//! (failed transactions included, as in stellar-etl).

use crate::model::Timestamp;
use stellar_xdr::{
    Asset, ClaimAtom, CreateClaimableBalanceResult, Operation, OperationBody, OperationResult, OperationResultTr,
    PathPaymentStrictReceiveResult, PathPaymentStrictSendResult, Price, TrustLineFlags,
};

use super::codes::{operation_result_code, operation_trace_code};
use super::encode::{
    AssetColumns, account_id, asset, asset_code, change_trust_asset, claimable_balance_id, ledger_range, muxed_address,
    muxed_base, price_decimal, snake_case, toid,
};
use super::transactions::{host_function_contract, host_function_type};
use super::view::TxView;
use super::{ExtractContext, ExtractError, LedgerView};
use crate::tables::OperationRow;

pub fn operation_rows(
    view: &LedgerView<'_>,
    tx: &TxView<'_>,
    ctx: &ExtractContext,
    closed_at: Timestamp,
    out: &mut Vec<OperationRow>,
) -> Result<(), ExtractError> {
    let seq = view.seq();
    let tx_source = tx.inner().source();
    let tx_hash = hex::encode(tx.result.transaction_hash.0);
    let tx_id = toid(seq, tx.order, 0);
    let results = tx.op_results();
    let ops = tx.operations();
    if let Some(r) = results
        && r.len() != ops.len()
    {
        return Err(ExtractError::new(
            seq,
            format!("transaction {tx_hash} has {} operations but {} operation results", ops.len(), r.len()),
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        let source = op.source_account.as_ref().unwrap_or(&tx_source);
        let result = results.map(|r| &r[i]);
        let mut row = OperationRow {
            transaction_hash: tx_hash.clone(),
            operation_index: i as i32,
            ledger_sequence: i64::from(seq),
            source_account: muxed_base(source),
            op_type: op.body.discriminant() as i32,
            type_string: snake_case(op.body.name()),
            created_at: closed_at,
            transaction_successful: tx.successful(),
            operation_result_code: result.map(operation_result_code),
            operation_trace_code: result.and_then(operation_trace_code),
            ledger_range: Some(ledger_range(seq)),
            source_account_muxed: muxed_address(source),
            era_id: ctx.era_id.clone(),
            version_label: ctx.version_label.clone(),
            operation_id: toid(seq, tx.order, i as u32 + 1),
            transaction_id: tx_id,
            ..Default::default()
        };
        let source = row.source_account.clone();
        fill_details(&mut row, op, source, result, ctx);
        out.push(row);
    }
    Ok(())
}

fn set_asset(row: &mut OperationRow, a: AssetColumns) {
    row.asset = Some(a.canonical);
    row.asset_type = Some(a.asset_type);
    row.asset_code = a.code;
    row.asset_issuer = a.issuer;
}

fn set_source_asset(row: &mut OperationRow, a: AssetColumns) {
    row.source_asset = Some(a.canonical);
    row.source_asset_type = Some(a.asset_type);
    row.source_asset_code = a.code;
    row.source_asset_issuer = a.issuer;
}

fn set_offer(row: &mut OperationRow, selling: &Asset, buying: &Asset, amount: i64, price: &Price) {
    let s = asset(selling);
    row.selling_asset = Some(s.canonical);
    row.selling_asset_type = Some(s.asset_type);
    row.selling_asset_code = s.code;
    row.selling_asset_issuer = s.issuer;
    let b = asset(buying);
    row.buying_asset = Some(b.canonical);
    row.buying_asset_type = Some(b.asset_type);
    row.buying_asset_code = b.code;
    row.buying_asset_issuer = b.issuer;
    row.amount = Some(amount);
    row.price = price_decimal(price.n, price.d);
    row.price_r = Some(format!("{}/{}", price.n, price.d));
}

/// The operation-specific result, when the operation ran.
fn inner(result: Option<&OperationResult>) -> Option<&OperationResultTr> {
    match result {
        Some(OperationResult::OpInner(tr)) => Some(tr),
        _ => None,
    }
}

/// Amount the source sent in a successful strict-receive path payment
/// (Horizon and the Go SDK's `SendAmount`).
pub(super) fn strict_receive_sent(result: Option<&OperationResult>) -> Option<i64> {
    let Some(OperationResultTr::PathPaymentStrictReceive(PathPaymentStrictReceiveResult::Success(s))) = inner(result)
    else {
        return None;
    };
    let Some(first) = s.offers.first() else {
        return Some(s.last.amount);
    };
    let first_asset = atom_asset_bought(first);
    Some(s.offers.iter().take_while(|o| atom_asset_bought(o) == first_asset).map(atom_amount_bought).sum())
}

fn atom_asset_bought(a: &ClaimAtom) -> &Asset {
    match a {
        ClaimAtom::V0(a) => &a.asset_bought,
        ClaimAtom::OrderBook(a) => &a.asset_bought,
        ClaimAtom::LiquidityPool(a) => &a.asset_bought,
    }
}

fn atom_amount_bought(a: &ClaimAtom) -> i64 {
    match a {
        ClaimAtom::V0(a) => a.amount_bought,
        ClaimAtom::OrderBook(a) => a.amount_bought,
        ClaimAtom::LiquidityPool(a) => a.amount_bought,
    }
}

/// `Some(true)` when `flag` is set, `Some(false)` when cleared, else NULL.
fn flag_change(set: u32, clear: u32, flag: TrustLineFlags) -> Option<bool> {
    let bit = flag as u32;
    if set & bit != 0 {
        Some(true)
    } else if clear & bit != 0 {
        Some(false)
    } else {
        None
    }
}

fn fill_details(
    row: &mut OperationRow,
    op: &Operation,
    source: String,
    result: Option<&OperationResult>,
    ctx: &ExtractContext,
) {
    match &op.body {
        OperationBody::CreateAccount(o) => {
            row.destination = Some(account_id(&o.destination));
            row.starting_balance = Some(o.starting_balance);
        }
        OperationBody::Payment(o) => {
            row.destination = Some(muxed_base(&o.destination));
            set_asset(row, asset(&o.asset));
            row.amount = Some(o.amount);
        }
        OperationBody::PathPaymentStrictReceive(o) => {
            row.destination = Some(muxed_base(&o.destination));
            set_asset(row, asset(&o.dest_asset));
            set_source_asset(row, asset(&o.send_asset));
            row.amount = Some(o.dest_amount);
            row.source_amount = strict_receive_sent(result);
        }
        OperationBody::PathPaymentStrictSend(o) => {
            row.destination = Some(muxed_base(&o.destination));
            set_asset(row, asset(&o.dest_asset));
            set_source_asset(row, asset(&o.send_asset));
            row.source_amount = Some(o.send_amount);
            row.destination_min = Some(o.dest_min);
            row.amount = match inner(result) {
                Some(OperationResultTr::PathPaymentStrictSend(PathPaymentStrictSendResult::Success(s))) => {
                    Some(s.last.amount)
                }
                _ => None,
            };
        }
        OperationBody::ManageSellOffer(o) => {
            set_offer(row, &o.selling, &o.buying, o.amount, &o.price);
            row.offer_id = Some(o.offer_id);
        }
        OperationBody::ManageBuyOffer(o) => {
            set_offer(row, &o.selling, &o.buying, o.buy_amount, &o.price);
            row.offer_id = Some(o.offer_id);
        }
        OperationBody::CreatePassiveSellOffer(o) => {
            set_offer(row, &o.selling, &o.buying, o.amount, &o.price);
        }
        OperationBody::SetOptions(o) => {
            row.set_flags = o.set_flags.map(|f| f as i32);
            row.clear_flags = o.clear_flags.map(|f| f as i32);
            row.home_domain = o.home_domain.as_ref().map(|d| String::from_utf8_lossy(d.as_slice()).into_owned());
            row.master_weight = o.master_weight.map(|w| w as i32);
            row.low_threshold = o.low_threshold.map(|w| w as i32);
            row.medium_threshold = o.med_threshold.map(|w| w as i32);
            row.high_threshold = o.high_threshold.map(|w| w as i32);
        }
        OperationBody::ChangeTrust(o) => {
            set_asset(row, change_trust_asset(&o.line));
            row.trustline_limit = Some(o.limit);
            row.trustor = Some(source);
        }
        OperationBody::AllowTrust(o) => {
            // The asset's issuer is the operation's source (the trustee).
            let (kind, code) = match &o.asset {
                stellar_xdr::AssetCode::CreditAlphanum4(c) => ("credit_alphanum4", asset_code(&c.0)),
                stellar_xdr::AssetCode::CreditAlphanum12(c) => ("credit_alphanum12", asset_code(&c.0)),
            };
            set_asset(
                row,
                AssetColumns {
                    canonical: format!("{kind}/{code}/{source}"),
                    asset_type: kind.to_string(),
                    code: Some(code),
                    issuer: Some(source),
                },
            );
            row.trustor = Some(account_id(&o.trustor));
            row.authorize = Some(o.authorize & TrustLineFlags::AuthorizedFlag as u32 != 0);
            row.authorize_to_maintain_liabilities =
                Some(o.authorize & TrustLineFlags::AuthorizedToMaintainLiabilitiesFlag as u32 != 0);
            row.trust_line_flags = Some(o.authorize as i32);
        }
        OperationBody::SetTrustLineFlags(o) => {
            set_asset(row, asset(&o.asset));
            row.trustor = Some(account_id(&o.trustor));
            row.set_flags = Some(o.set_flags as i32);
            row.clear_flags = Some(o.clear_flags as i32);
            row.trust_line_flags = Some(o.set_flags as i32);
            row.authorize = flag_change(o.set_flags, o.clear_flags, TrustLineFlags::AuthorizedFlag);
            row.authorize_to_maintain_liabilities =
                flag_change(o.set_flags, o.clear_flags, TrustLineFlags::AuthorizedToMaintainLiabilitiesFlag);
        }
        OperationBody::AccountMerge(dest) => {
            row.destination = Some(muxed_base(dest));
        }
        OperationBody::ManageData(o) => {
            row.data_name = Some(String::from_utf8_lossy(o.data_name.as_slice()).into_owned());
            row.data_value = o.data_value.as_ref().map(|v| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(v.as_slice())
            });
        }
        OperationBody::BumpSequence(o) => {
            row.bump_to = Some(o.bump_to.0);
        }
        OperationBody::CreateClaimableBalance(o) => {
            set_asset(row, asset(&o.asset));
            row.amount = Some(o.amount);
            row.claimants_count = Some(o.claimants.len() as i32);
            if let Some(OperationResultTr::CreateClaimableBalance(CreateClaimableBalanceResult::Success(id))) =
                inner(result)
            {
                row.balance_id = Some(claimable_balance_id(id));
            }
        }
        OperationBody::ClaimClaimableBalance(o) => {
            row.balance_id = Some(claimable_balance_id(&o.balance_id));
        }
        OperationBody::ClawbackClaimableBalance(o) => {
            row.balance_id = Some(claimable_balance_id(&o.balance_id));
        }
        OperationBody::BeginSponsoringFutureReserves(o) => {
            row.sponsored_id = Some(account_id(&o.sponsored_id));
        }
        OperationBody::Clawback(o) => {
            set_asset(row, asset(&o.asset));
            row.amount = Some(o.amount);
            // The account clawed back from: the holder of the trust line.
            row.trustor = Some(muxed_base(&o.from));
        }
        OperationBody::InvokeHostFunction(o) => {
            row.soroban_operation = Some("invoke".to_string());
            row.soroban_function = Some(host_function_type(&o.host_function).to_string());
            row.soroban_contract_id = host_function_contract(&o.host_function, &ctx.network_id);
            row.soroban_auth_required = Some(!o.auth.is_empty());
        }
        OperationBody::ExtendFootprintTtl(_) => {
            row.soroban_operation = Some("extend_ttl".to_string());
        }
        OperationBody::RestoreFootprint(_) => {
            row.soroban_operation = Some("restore".to_string());
        }
        OperationBody::EndSponsoringFutureReserves
        | OperationBody::RevokeSponsorship(_)
        | OperationBody::Inflation
        | OperationBody::LiquidityPoolDeposit(_)
        | OperationBody::LiquidityPoolWithdraw(_) => {}
    }
}

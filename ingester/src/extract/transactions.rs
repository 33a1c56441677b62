//! `transactions_row_v2`: one row per applied transaction, in application order.

use crate::model::Timestamp;
use sha2::{Digest, Sha256};
use stellar_xdr::{
    ContractIdPreimage, DecoratedSignature, HashIdPreimage, HashIdPreimageContractId, HostFunction, Limits, Memo,
    MuxedAccount, OperationBody, Preconditions, SignerKey, SorobanTransactionMetaExt, TransactionMeta,
    TransactionResultResult, WriteXdr,
};

use super::codes::transaction_result_code;
use super::encode::{
    base64_decoded_len, contract_address, ledger_range, muxed_address, muxed_base, sc_address, toid, xdr_base64,
};
use super::view::TxView;
use super::{ExtractContext, ExtractError, LedgerView};
use crate::tables::TransactionRow;

pub fn transaction_row(
    view: &LedgerView<'_>,
    tx: &TxView<'_>,
    ctx: &ExtractContext,
    closed_at: Timestamp,
) -> Result<TransactionRow, ExtractError> {
    let seq = view.seq();
    let inner = tx.inner();
    let source = inner.source();
    let fee_bump = tx.fee_bump();
    let ops = tx.operations();
    let (memo_type, memo) = memo_columns(inner.memo());
    let bounds = Bounds::of(&inner.preconditions());
    let soroban = inner.soroban_data();
    let soroban_data = soroban.map(xdr_base64);
    let fees = soroban_fees(tx);
    // The fee columns are differences of ledger values, which hostile input can
    // push past i64 (fuzz/: soroban-fee-base-overflow.xdr).
    let fee_overflow = || {
        let hash = hex::encode(tx.result.transaction_hash.0);
        ExtractError::new(seq, format!("transaction {hash}: its Soroban fees do not fit a 64-bit integer"))
    };
    let charged = fees.map(|f| f.non_refundable.checked_add(f.refundable).ok_or_else(fee_overflow)).transpose()?;
    let fee_base = charged.map(|c| tx.result.result.fee_charged.checked_sub(c).ok_or_else(fee_overflow)).transpose()?;
    let fee_refund =
        soroban.zip(charged).map(|(d, c)| d.resource_fee.checked_sub(c).ok_or_else(fee_overflow)).transpose()?;
    let invoke = first_host_function(tx);

    let inner_hash = match &tx.result.result.result {
        TransactionResultResult::TxFeeBumpInnerSuccess(p) | TransactionResultResult::TxFeeBumpInnerFailed(p) => {
            Some(hex::encode(p.transaction_hash.0))
        }
        _ => None,
    };
    let fee_source = fee_bump.map(|fb| &fb.fee_source);

    Ok(TransactionRow {
        ledger_sequence: i64::from(seq),
        transaction_hash: hex::encode(tx.result.transaction_hash.0),
        source_account: muxed_base(&source),
        fee_charged: tx.result.result.fee_charged,
        max_fee: i64::from(inner.fee()),
        successful: tx.successful(),
        transaction_result_code: transaction_result_code(&tx.result.result.result),
        operation_count: ops.len() as i32,
        memo_type: Some(memo_type.to_string()),
        memo,
        created_at: closed_at,
        account_sequence: Some(inner.seq_num().0),
        ledger_range: Some(ledger_range(seq)),
        source_account_muxed: muxed_address(&source),
        fee_account_muxed: fee_source.and_then(muxed_address),
        inner_transaction_hash: inner_hash,
        fee_bump_fee: fee_bump.map(|fb| fb.fee),
        max_fee_bid: fee_bump.map(|fb| fb.fee),
        inner_source_account: fee_bump.map(|_| muxed_base(&source)),
        timebounds_min_time: bounds.time.map(|(min, _)| min),
        timebounds_max_time: bounds.time.map(|(_, max)| max),
        ledgerbounds_min: bounds.ledger.map(|(min, _)| min),
        ledgerbounds_max: bounds.ledger.map(|(_, max)| max),
        min_sequence_number: bounds.min_seq_num,
        min_sequence_age: bounds.min_seq_age,
        soroban_resources_instructions: soroban.map(|d| i64::from(d.resources.instructions)),
        soroban_resources_read_bytes: soroban.map(|d| i64::from(d.resources.disk_read_bytes)),
        soroban_resources_write_bytes: soroban.map(|d| i64::from(d.resources.write_bytes)),
        soroban_data_size_bytes: soroban_data.as_deref().map(|b| base64_decoded_len(b) as i32),
        soroban_data_resources: soroban_data,
        soroban_fee_base: fee_base,
        soroban_fee_resources: soroban.map(|d| d.resource_fee),
        soroban_fee_refund: fee_refund,
        soroban_fee_charged: charged,
        soroban_fee_wasted: charged.map(|c| if tx.successful() { 0 } else { c }),
        soroban_host_function_type: invoke.map(|hf| host_function_type(hf).to_string()),
        soroban_contract_id: invoke.and_then(|hf| host_function_contract(hf, &ctx.network_id)),
        soroban_contract_events_count: contract_events_count(tx.meta),
        signatures_count: tx.signatures().len() as i32,
        new_account: ops.iter().any(|op| matches!(op.body, OperationBody::CreateAccount(_))),
        tx_envelope: Some(xdr_base64(tx.envelope)),
        tx_result: Some(xdr_base64(&tx.result.result)),
        tx_meta: Some(xdr_base64(tx.meta)),
        tx_fee_meta: Some(xdr_base64(tx.fee_processing)),
        tx_signers: Some(signers_json(tx.signatures(), &signer_candidates(tx, &source))),
        extra_signers: bounds.extra_signers,
        era_id: ctx.era_id.clone(),
        version_label: ctx.version_label.clone(),
        transaction_id: toid(seq, tx.order, 0),
        fee_account: fee_source.map(muxed_base),
    })
}

/// `(memo_type, memo)`: type `none|text|id|hash|return`; text as UTF-8 (invalid
/// bytes replaced), id in decimal, hash and return in hex; no memo is NULL.
fn memo_columns(memo: &Memo) -> (&'static str, Option<String>) {
    match memo {
        Memo::None => ("none", None),
        Memo::Text(t) => ("text", Some(String::from_utf8_lossy(t.as_slice()).into_owned())),
        Memo::Id(id) => ("id", Some(id.to_string())),
        Memo::Hash(h) => ("hash", Some(hex::encode(h.0))),
        Memo::Return(h) => ("return", Some(hex::encode(h.0))),
    }
}

#[derive(Default)]
struct Bounds {
    time: Option<(i64, i64)>,
    ledger: Option<(i64, i64)>,
    min_seq_num: Option<i64>,
    min_seq_age: Option<i64>,
    extra_signers: Option<String>,
}

impl Bounds {
    fn of(p: &Preconditions) -> Bounds {
        let time = |tb: &stellar_xdr::TimeBounds| Some((clamp(tb.min_time.0), clamp(tb.max_time.0)));
        match p {
            Preconditions::None => Bounds::default(),
            Preconditions::Time(tb) => Bounds { time: time(tb), ..Default::default() },
            Preconditions::V2(v2) => Bounds {
                time: v2.time_bounds.as_ref().and_then(time),
                ledger: v2.ledger_bounds.as_ref().map(|lb| (i64::from(lb.min_ledger), i64::from(lb.max_ledger))),
                min_seq_num: v2.min_seq_num.as_ref().map(|s| s.0),
                min_seq_age: Some(clamp(v2.min_seq_age.0)),
                extra_signers: (!v2.extra_signers.is_empty()).then(|| {
                    let keys: Vec<String> = v2.extra_signers.iter().map(SignerKey::to_string).collect();
                    serde_json::to_string(&keys).unwrap_or_default()
                }),
            },
        }
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Resource fees the network actually charged (Soroban meta ext v1).
#[derive(Clone, Copy)]
struct SorobanFees {
    non_refundable: i64,
    refundable: i64,
}

fn soroban_fees(tx: &TxView<'_>) -> Option<SorobanFees> {
    let ext = match tx.meta {
        TransactionMeta::V3(m) => &m.soroban_meta.as_ref()?.ext,
        TransactionMeta::V4(m) => &m.soroban_meta.as_ref()?.ext,
        _ => return None,
    };
    match ext {
        SorobanTransactionMetaExt::V1(v) => Some(SorobanFees {
            non_refundable: v.total_non_refundable_resource_fee_charged,
            refundable: v.total_refundable_resource_fee_charged,
        }),
        SorobanTransactionMetaExt::V0 => None,
    }
}

/// Operation-level contract events (meta v3: Soroban meta; v4: per operation,
/// which from protocol 23 includes classic SAC events). NULL before meta v3.
fn contract_events_count(meta: &TransactionMeta) -> Option<i32> {
    match meta {
        TransactionMeta::V3(m) => Some(m.soroban_meta.as_ref().map_or(0, |s| s.events.len() as i32)),
        TransactionMeta::V4(m) => Some(m.operations.iter().map(|o| o.events.len() as i32).sum()),
        _ => None,
    }
}

fn first_host_function<'a>(tx: &TxView<'a>) -> Option<&'a HostFunction> {
    tx.operations().iter().find_map(|op| match &op.body {
        OperationBody::InvokeHostFunction(f) => Some(&f.host_function),
        _ => None,
    })
}

/// stellar-etl's names for host function types.
pub fn host_function_type(hf: &HostFunction) -> &'static str {
    match hf {
        HostFunction::InvokeContract(_) => "invoke_contract",
        HostFunction::CreateContract(_) => "create_contract",
        HostFunction::UploadContractWasm(_) => "upload_wasm",
        HostFunction::CreateContractV2(_) => "create_contract_v2",
    }
}

/// The contract a host function invokes or creates (`C...`); uploads have none.
pub fn host_function_contract(hf: &HostFunction, network_id: &[u8; 32]) -> Option<String> {
    match hf {
        HostFunction::InvokeContract(args) => Some(sc_address(&args.contract_address)),
        HostFunction::CreateContract(args) => Some(created_contract_id(&args.contract_id_preimage, network_id)),
        HostFunction::CreateContractV2(args) => Some(created_contract_id(&args.contract_id_preimage, network_id)),
        HostFunction::UploadContractWasm(_) => None,
    }
}

/// The id a create-contract host function gives the new contract:
/// sha256(XDR HashIdPreimage::ContractId { network id, preimage }).
pub fn created_contract_id(preimage: &ContractIdPreimage, network_id: &[u8; 32]) -> String {
    let p = HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: stellar_xdr::Hash(*network_id),
        contract_id_preimage: preimage.clone(),
    });
    let bytes = p.to_xdr(Limits::none()).unwrap_or_default();
    contract_address(&Sha256::digest(&bytes).into())
}

/// Keys that may have signed: the transaction, fee-bump and operation sources.
fn signer_candidates(tx: &TxView<'_>, source: &MuxedAccount) -> Vec<[u8; 32]> {
    let key = |m: &MuxedAccount| match m {
        MuxedAccount::Ed25519(k) => k.0,
        MuxedAccount::MuxedEd25519(m) => m.ed25519.0,
    };
    let mut keys = vec![key(source)];
    if let Some(fb) = tx.fee_bump() {
        keys.push(key(&fb.fee_source));
    }
    for op in tx.operations() {
        if let Some(s) = &op.source_account {
            let k = key(s);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Signers as a JSON array: the `G...` key whose last four bytes match the
/// signature hint among the transaction's source accounts, else `hint:<hex>`.
fn signers_json(signatures: &[DecoratedSignature], candidates: &[[u8; 32]]) -> String {
    let signers: Vec<String> = signatures
        .iter()
        .map(|s| {
            let hint = s.hint.0;
            candidates
                .iter()
                .find(|k| k[28..] == hint)
                .map(super::encode::g_address)
                .unwrap_or_else(|| format!("hint:{}", hex::encode(hint)))
        })
        .collect();
    serde_json::to_string(&signers).unwrap_or_default()
}

//! `ledgers_row_v2`: one row per ledger, from the header and the tx results.

use crate::model::Timestamp;
use stellar_xdr::{LedgerCloseMeta, LedgerCloseMetaExt, StellarValueExt};

use super::encode::{account_id, ledger_range};
use super::{ExtractContext, LedgerView};
use crate::tables::LedgerRow;

/// Close time, at millisecond precision when the ledger carries it (protocol 28+).
pub fn close_time(view: &LedgerView<'_>) -> Timestamp {
    let sv = &view.header.header.scp_value;
    match &sv.ext {
        StellarValueExt::SignedMs(v) => Timestamp::from_unix_millis(v.close_time_ms.0),
        StellarValueExt::EmptyTxSetMs(v) => Timestamp::from_unix_millis(v.close_time_ms.0),
        _ => Timestamp::from_unix_seconds(sv.close_time.0),
    }
}

/// `header_xdr` is the XDR of the ledger header (already encoded to check its hash).
pub fn ledger_row(view: &LedgerView<'_>, ctx: &ExtractContext, closed_at: Timestamp, header_xdr: &[u8]) -> LedgerRow {
    let h = &view.header.header;
    let successful = view.txs.iter().filter(|t| t.successful()).count() as i32;
    let failed = view.txs.len() as i32 - successful;
    let op_count = |only_successful: bool| -> i32 {
        view.txs.iter().filter(|t| !only_successful || t.successful()).map(|t| t.operations().len() as i32).sum()
    };
    let signature = match &h.scp_value.ext {
        StellarValueExt::Signed(s) => Some(&s.node_id.0).zip(Some(&s.signature)),
        StellarValueExt::EmptyTxSet(v) => Some((&v.lc_value_signature.node_id.0, &v.lc_value_signature.signature)),
        StellarValueExt::SignedMs(v) => Some((&v.lc_value_signature.node_id.0, &v.lc_value_signature.signature)),
        StellarValueExt::EmptyTxSetMs(v) => Some((&v.lc_value_signature.node_id.0, &v.lc_value_signature.signature)),
        StellarValueExt::Basic => None,
    };
    let (ext, soroban_state_size, evicted) = match view.lcm {
        LedgerCloseMeta::V0(_) => (None, None, None),
        LedgerCloseMeta::V1(m) => {
            (Some(&m.ext), Some(m.total_byte_size_of_live_soroban_state), Some(m.evicted_keys.len()))
        }
        LedgerCloseMeta::V2(m) => {
            (Some(&m.ext), Some(m.total_byte_size_of_live_soroban_state), Some(m.evicted_keys.len()))
        }
    };
    let soroban_fee_write1kb = match ext {
        Some(LedgerCloseMetaExt::V1(v)) => Some(v.soroban_fee_write1_kb),
        _ => None,
    };
    // Before protocol 23 (LCM V1) this field held the whole bucket list size;
    // from protocol 23 (LCM V2) it holds the live Soroban state size.
    let (bucket_list_size, live_soroban_state_size) = match view.lcm {
        LedgerCloseMeta::V1(_) => (soroban_state_size, None),
        LedgerCloseMeta::V2(_) => (None, soroban_state_size),
        LedgerCloseMeta::V0(_) => (None, None),
    };
    let seq = h.ledger_seq;
    LedgerRow {
        sequence: i64::from(seq),
        ledger_hash: hex::encode(view.header.hash.0),
        previous_ledger_hash: hex::encode(h.previous_ledger_hash.0),
        closed_at,
        protocol_version: h.ledger_version as i32,
        total_coins: h.total_coins,
        fee_pool: h.fee_pool,
        base_fee: h.base_fee as i32,
        base_reserve: h.base_reserve as i32,
        max_tx_set_size: h.max_tx_set_size as i32,
        successful_tx_count: successful,
        failed_tx_count: failed,
        ingestion_timestamp: Some(Timestamp::now()),
        ledger_range: Some(ledger_range(seq)),
        transaction_count: Some(view.txs.len() as i32),
        operation_count: Some(op_count(true)),
        tx_set_operation_count: Some(op_count(false)),
        soroban_fee_write1kb,
        node_id: signature.map(|(k, _)| account_id(&stellar_xdr::AccountId(k.clone()))),
        signature: signature.map(|(_, s)| base64_bytes(&s.0)),
        ledger_header: Some(base64_bytes(header_xdr)),
        bucket_list_size: bucket_list_size.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
        live_soroban_state_size: live_soroban_state_size.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
        evicted_keys_count: evicted.map(|n| n as i32),
        era_id: ctx.era_id.clone(),
        version_label: ctx.version_label.clone(),
    }
}

fn base64_bytes(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

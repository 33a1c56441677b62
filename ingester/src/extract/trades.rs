//! Trades (`trades_row_v1`): both parties of every order-book and liquidity-pool match.
//!
//! One row per claim atom of a successful manage_sell_offer,
//! manage_buy_offer, create_passive_sell_offer or path payment (stellar-etl
//! `TransformTrade`; atoms that moved nothing are skipped, as stellar-etl and
//! Horizon do). Every row is told from the **maker's** side, for both
//! kinds of atom alike:
//!
//! * seller = the maker: the offer's owner (`G...`), or the pool (`L...`);
//! * selling = what the maker gave up (the atom's `asset_sold` /
//!   `amount_sold`), buying = what the maker received (`asset_bought`);
//! * buyer = the taker: the operation's source account;
//! * price = buying_amount / selling_amount, i.e. the realized price of one
//!   unit of the selling asset in the buying asset (the same direction as an
//!   offer's price).

use crate::model::Timestamp;
use std::collections::HashMap;

use stellar_xdr::{
    Asset, ClaimAtom, LedgerEntryData, LiquidityPoolEntryBody, ManageBuyOfferResult, ManageOfferSuccessResult,
    ManageOfferSuccessResultOffer, ManageSellOfferResult, OperationResult, OperationResultTr,
    PathPaymentStrictReceiveResult, PathPaymentStrictSendResult, PoolId, Price,
};

use super::changes::{ChangeOrigin, EntryChange};
use super::encode::{
    account_id, amount_decimal, asset, g_address, ledger_range, muxed_address, muxed_base, ratio_decimal, toid,
};
use super::view::LedgerView;
use super::{ExtractContext, ExtractError};
use crate::tables::{LedgerTables, TradeRow};

/// What an operation's result says about trades.
struct Matches<'a> {
    atoms: &'a [ClaimAtom],
    /// The taker's own offer, when it rests on the book after the operation.
    taker_offer: Option<i64>,
    /// stellar-etl's `seller_is_exact`: path payments only.
    seller_is_exact: Option<bool>,
}

/// The matches of one successful operation result, if it can trade.
fn matches(result: &OperationResult) -> Option<Matches<'_>> {
    let OperationResult::OpInner(tr) = result else { return None };
    let (atoms, taker_offer, seller_is_exact) = match tr {
        // The result arm, not the operation type, decides: old cores wrote
        // manage_sell_offer results for create_passive_sell_offer.
        OperationResultTr::ManageSellOffer(ManageSellOfferResult::Success(s))
        | OperationResultTr::CreatePassiveSellOffer(ManageSellOfferResult::Success(s))
        | OperationResultTr::ManageBuyOffer(ManageBuyOfferResult::Success(s)) => {
            (&s.offers_claimed[..], resting_offer(s), None)
        }
        OperationResultTr::PathPaymentStrictReceive(PathPaymentStrictReceiveResult::Success(s)) => {
            (&s.offers[..], None, Some(true))
        }
        OperationResultTr::PathPaymentStrictSend(PathPaymentStrictSendResult::Success(s)) => {
            (&s.offers[..], None, Some(false))
        }
        _ => return None,
    };
    Some(Matches { atoms, taker_offer, seller_is_exact })
}

/// The taker's offer id when the operation left (or updated) it on the book.
fn resting_offer(s: &ManageOfferSuccessResult) -> Option<i64> {
    match &s.offer {
        ManageOfferSuccessResultOffer::Created(o) | ManageOfferSuccessResultOffer::Updated(o) => Some(o.offer_id),
        ManageOfferSuccessResultOffer::Deleted => None,
    }
}

/// The maker's side of one atom.
struct Atom<'a> {
    /// `G...` of the offer owner, or `L...` of the pool.
    seller: String,
    offer_id: Option<i64>,
    pool: Option<&'a PoolId>,
    sold: &'a Asset,
    amount_sold: i64,
    bought: &'a Asset,
    amount_bought: i64,
}

fn atom(a: &ClaimAtom) -> Atom<'_> {
    match a {
        ClaimAtom::V0(o) => Atom {
            seller: g_address(&o.seller_ed25519.0),
            offer_id: Some(o.offer_id),
            pool: None,
            sold: &o.asset_sold,
            amount_sold: o.amount_sold,
            bought: &o.asset_bought,
            amount_bought: o.amount_bought,
        },
        ClaimAtom::OrderBook(o) => Atom {
            seller: account_id(&o.seller_id),
            offer_id: Some(o.offer_id),
            pool: None,
            sold: &o.asset_sold,
            amount_sold: o.amount_sold,
            bought: &o.asset_bought,
            amount_bought: o.amount_bought,
        },
        ClaimAtom::LiquidityPool(p) => Atom {
            seller: p.liquidity_pool_id.to_string(),
            offer_id: None,
            pool: Some(&p.liquidity_pool_id),
            sold: &p.asset_sold,
            amount_sold: p.amount_sold,
            bought: &p.asset_bought,
            amount_bought: p.amount_bought,
        },
    }
}

/// Offer prices and pool fees as they were before each operation touched
/// them, from the ledger's change list (stellar-etl reads the same `pre`
/// state of the operation's changes).
#[derive(Default)]
struct PreState {
    offer_price: HashMap<(usize, u32, i64), Price>,
    pool_fee: HashMap<(usize, u32, [u8; 32]), i32>,
}

impl PreState {
    fn new(changes: &[EntryChange<'_>]) -> Self {
        let mut s = PreState::default();
        for c in changes {
            let (Some(tx), ChangeOrigin::Operation(op), Some(pre)) = (c.tx, c.origin, c.pre) else { continue };
            match &pre.data {
                LedgerEntryData::Offer(o) => {
                    s.offer_price.insert((tx, op, o.offer_id), o.price.clone());
                }
                LedgerEntryData::LiquidityPool(p) => {
                    let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &p.body;
                    s.pool_fee.insert((tx, op, p.liquidity_pool_id.0.0), cp.params.fee);
                }
                _ => {}
            }
        }
        s
    }
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
    // Built on first use: most ledgers' changes are scanned only if they trade.
    let mut pre: Option<PreState> = None;
    for (tx_ix, tx) in view.txs.iter().enumerate() {
        if !tx.successful() {
            continue;
        }
        let Some(results) = tx.op_results() else { continue };
        let ops = tx.operations();
        if results.len() != ops.len() {
            return Err(ExtractError::new(
                seq,
                format!(
                    "transaction {} has {} operations but {} results",
                    hex::encode(tx.result.transaction_hash.0),
                    ops.len(),
                    results.len()
                ),
            ));
        }
        let tx_source = tx.inner().source();
        for (op_ix, (op, result)) in ops.iter().zip(results).enumerate() {
            let Some(m) = matches(result) else { continue };
            if m.atoms.is_empty() {
                continue;
            }
            let pre = pre.get_or_insert_with(|| PreState::new(changes));
            let taker = op.source_account.as_ref().unwrap_or(&tx_source);
            let op_ix = op_ix as u32;
            for (trade_ix, a) in m.atoms.iter().enumerate() {
                let a = atom(a);
                if a.amount_sold == 0 && a.amount_bought == 0 {
                    continue;
                }
                let (price_n, price_d) = match a.offer_id {
                    Some(id) => match pre.offer_price.get(&(tx_ix, op_ix, id)) {
                        Some(p) => (Some(i64::from(p.n)), Some(i64::from(p.d))),
                        None => (None, None),
                    },
                    // stellar-etl: a pool trade's price is bought / sold.
                    None => (Some(a.amount_bought), Some(a.amount_sold)),
                };
                let sold = asset(a.sold);
                let bought = asset(a.bought);
                out.trades.push(TradeRow {
                    ledger_sequence: i64::from(seq),
                    transaction_hash: hex::encode(tx.result.transaction_hash.0),
                    operation_index: op_ix as i32,
                    trade_index: trade_ix as i32,
                    trade_type: if a.pool.is_some() { "liquidity_pool" } else { "orderbook" }.to_string(),
                    trade_timestamp: closed_at,
                    seller_account: a.seller,
                    selling_asset_code: sold.code,
                    selling_asset_issuer: sold.issuer,
                    selling_amount: amount_decimal(a.amount_sold),
                    buyer_account: muxed_base(taker),
                    buying_asset_code: bought.code,
                    buying_asset_issuer: bought.issuer,
                    buying_amount: amount_decimal(a.amount_bought),
                    price: ratio_decimal(i128::from(a.amount_bought), i128::from(a.amount_sold)),
                    created_at: closed_at,
                    ledger_range: Some(ledger_range(seq)),
                    era_id: ctx.era_id.clone(),
                    version_label: ctx.version_label.clone(),
                    history_operation_id: toid(seq, tx.order, op_ix + 1),
                    selling_asset_type: sold.asset_type,
                    buying_asset_type: bought.asset_type,
                    selling_amount_stroops: a.amount_sold,
                    buying_amount_stroops: a.amount_bought,
                    price_n,
                    price_d,
                    selling_offer_id: a.offer_id,
                    buying_offer_id: m.taker_offer,
                    liquidity_pool_id: a.pool.map(|p| hex::encode(p.0.0)),
                    liquidity_pool_fee: a.pool.and_then(|p| pre.pool_fee.get(&(tx_ix, op_ix, p.0.0)).copied()),
                    buyer_account_muxed: muxed_address(taker),
                    seller_is_exact: m.seller_is_exact,
                });
            }
        }
    }
    Ok(())
}

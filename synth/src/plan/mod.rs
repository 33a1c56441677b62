//! The planner: decides what the network does in a ledger. It picks an
//! action (weighted, adapted to the state: bootstrap first, then a market of
//! payments, offers, pools, claimable balances, sponsorship, Soroban calls),
//! builds the transaction, and applies it to the live state at once so the
//! next choice sees its effects. The generator rolls that planning pass back
//! and replays the chosen transactions properly (fees first) to build meta.
//!
//! This file holds the planner, the action tables and the shared helpers of a
//! planning round; the actions live by operation family in [`payments`],
//! [`offers`], [`trust`], [`accounts`], [`balances`] and [`contracts`].

use stellar_xdr::{
    AllowTrustOp, Asset, AssetCode, BeginSponsoringFutureReservesOp, BumpSequenceOp, ChangeTrustAsset, ChangeTrustOp,
    ClaimClaimableBalanceOp, ClaimPredicate, ClaimableBalanceId, Claimant, ClaimantV0, ClawbackClaimableBalanceOp,
    ClawbackOp, ContractExecutable, ContractIdPreimage, ContractIdPreimageFromAddress, CreateAccountOp,
    CreateClaimableBalanceOp, CreateContractArgs, CreatePassiveSellOfferOp, DataValue, DecoratedSignature,
    ExtendFootprintTtlOp, ExtensionPoint, FeeBumpTransaction, FeeBumpTransactionEnvelope, FeeBumpTransactionExt,
    FeeBumpTransactionInnerTx, Hash, HostFunction, InvokeContractArgs, InvokeHostFunctionOp, LedgerBounds,
    LedgerFootprint, LedgerKey, LiquidityPoolDepositOp, LiquidityPoolWithdrawOp, ManageBuyOfferOp, ManageDataOp,
    ManageSellOfferOp, Memo, MuxedAccount, MuxedAccountMed25519, Operation, OperationBody, PathPaymentStrictReceiveOp,
    PathPaymentStrictSendOp, PaymentOp, PoolId, Preconditions, PreconditionsV2, Price, RestoreFootprintOp,
    RevokeSponsorshipOp, ScSymbol, ScVal, SequenceNumber, SetOptionsOp, SetTrustLineFlagsOp, Signature, SignatureHint,
    Signer, SignerKey, SorobanAuthorizationEntry, SorobanAuthorizedFunction, SorobanAuthorizedInvocation,
    SorobanCredentials, SorobanResources, SorobanTransactionData, SorobanTransactionDataExt, TimeBounds, TimePoint,
    Transaction, TransactionEnvelope, TransactionExt, TransactionV1Envelope, Uint256,
};

mod accounts;
mod balances;
mod contracts;
mod offers;
mod payments;
mod trust;

use super::dex;
use super::funds::{Env, available};
use super::rng::Rng;
use super::soroban::{Liveness, liveness};
use super::state::{
    CKey, Durability, HashMap, HashSet, Key, Px, State, TL_AUTHORIZED, TL_CLAWBACK, TL_MAINTAIN, TrustAsset,
};
use super::txs::{PlannedTx, apply_tx, planned};
use super::universe::{AUTH_REQUIRED, AssetIx, Id, NATIVE, PoolIx, Universe, account_id, derive_key};
use super::xdr::{account_address, contract_address, i128_val, ledger_key, vecm};

const XLM: i64 = 10_000_000;

/// What the planner remembers between ledgers (never part of the ledger state).
pub struct Planner {
    seed: u64,
    /// Market price of each asset in XLM; drifts every ledger.
    pub mids: Vec<f64>,
    accounts_made: u64,
    nonce: u64,
    salt: u64,
    /// Contract id to the account that created (administers) it.
    admins: HashMap<Id, Id>,
    pub failure_rate: f64,
    pub soroban_share: f64,
    pub fee_bump_share: f64,
    /// Population below which the root account creates more users.
    pub min_users: usize,
    /// How often each classic action was planned.
    done: Vec<u64>,
}

/// Per-ledger bookkeeping that keeps planned transactions from colliding.
#[derive(Default)]
struct Scratch {
    /// Accounts created in this ledger: they cannot pay fees yet.
    new_accounts: HashSet<Id>,
    /// Soroban transactions are re-ordered by hash; keep them independent.
    soroban_sources: HashSet<Id>,
    soroban_keys: HashSet<Key>,
}

/// A transaction before sequence number, fee, memo and signatures.
struct Draft {
    source: Id,
    ops: Vec<Operation>,
    /// Accounts (besides the source) whose signatures the transaction needs.
    signers: Vec<Id>,
    soroban: Option<SorobanTransactionData>,
}

impl Draft {
    fn new(source: Id, ops: Vec<Operation>) -> Self {
        Draft { source, ops, signers: Vec::new(), soroban: None }
    }
}

fn op(body: OperationBody) -> Operation {
    Operation { source_account: None, body }
}

fn op_from(src: &Id, body: OperationBody) -> Operation {
    Operation { source_account: Some(MuxedAccount::Ed25519(Uint256(*src))), body }
}

/// A price as n/d close to `p`, with the largest denominator that keeps n in range.
pub fn px(p: f64) -> Px {
    let p = p.clamp(1e-7, 1e9);
    let mut d: i64 = 10_000_000;
    while p * d as f64 > f64::from(i32::MAX) && d > 1 {
        d /= 10;
    }
    let n = ((p * d as f64).round() as i64).clamp(1, i64::from(i32::MAX));
    Px { n: n as i32, d: d as i32 }
}

fn price(p: Px) -> Price {
    Price { n: p.n, d: p.d }
}

/// Classic actions and their weights.
#[derive(Clone, Copy, Debug)]
enum Action {
    PayNative,
    PayCredit,
    IssuerMint,
    IssuerOffer,
    PathSend,
    PathReceive,
    SellOffer,
    BuyOffer,
    PassiveOffer,
    ChangeTrust,
    Authorize,
    CreateAccount,
    SetOptions,
    ManageData,
    BumpSeq,
    Merge,
    CreateBalance,
    ClaimBalance,
    ClawbackBalance,
    Clawback,
    Sponsor,
    RevokeSponsorship,
    PoolDeposit,
    PoolWithdraw,
}

const CLASSIC: &[(Action, u32)] = &[
    (Action::PayNative, 120),
    (Action::PayCredit, 80),
    (Action::IssuerMint, 50),
    (Action::IssuerOffer, 40),
    (Action::PathSend, 70),
    (Action::PathReceive, 50),
    (Action::SellOffer, 110),
    (Action::BuyOffer, 50),
    (Action::PassiveOffer, 20),
    (Action::ChangeTrust, 60),
    (Action::Authorize, 25),
    (Action::CreateAccount, 25),
    (Action::SetOptions, 15),
    (Action::ManageData, 15),
    (Action::BumpSeq, 8),
    (Action::Merge, 6),
    (Action::CreateBalance, 35),
    (Action::ClaimBalance, 25),
    (Action::ClawbackBalance, 12),
    (Action::Clawback, 12),
    (Action::Sponsor, 15),
    (Action::RevokeSponsorship, 8),
    (Action::PoolDeposit, 30),
    (Action::PoolWithdraw, 15),
];

#[derive(Clone, Copy, Debug)]
enum SorobanAction {
    Upload,
    Create,
    Mint,
    Transfer,
    Extend,
    Restore,
}

const SOROBAN: &[(SorobanAction, u32)] = &[
    (SorobanAction::Upload, 2),
    (SorobanAction::Create, 4),
    (SorobanAction::Mint, 25),
    (SorobanAction::Transfer, 60),
    (SorobanAction::Extend, 12),
    (SorobanAction::Restore, 8),
];

impl Planner {
    pub fn new(seed: u64, u: &Universe) -> Self {
        Planner {
            seed,
            mids: u.assets.iter().map(|a| a.ref_price).collect(),
            accounts_made: 0,
            nonce: 0,
            salt: 0,
            admins: HashMap::default(),
            failure_rate: 0.1,
            soroban_share: 0.15,
            fee_bump_share: 0.05,
            min_users: 20,
            done: vec![0; CLASSIC.len()],
        }
    }

    /// Plans `n` transactions for the ledger `env.seq`, applying each to the
    /// state as it goes, then rolls the state back. Returns the classic
    /// transactions in application order and the Soroban ones.
    pub fn plan_ledger(
        &mut self,
        st: &mut State,
        env: &Env<'_>,
        rng: &mut Rng,
        n: usize,
    ) -> (Vec<PlannedTx>, Vec<PlannedTx>) {
        for m in self.mids.iter_mut().skip(1) {
            *m *= 1.0 + (rng.unit() - 0.5) * 0.004;
        }
        st.begin();
        let mut round = Round { pl: self, st, env, rng, sc: Scratch::default() };
        let mut classic = Vec::new();
        let mut soroban_slots = 0;
        for _ in 0..n {
            if round.bootstrapped() && round.rng.chance(round.pl.soroban_share) {
                soroban_slots += 1;
                continue;
            }
            if let Some(tx) = round.classic_tx() {
                apply_tx(round.st, round.env, &tx, false);
                classic.push(tx);
            }
        }
        let mut soroban = Vec::new();
        for _ in 0..soroban_slots {
            if let Some(tx) = round.soroban_tx() {
                apply_tx(round.st, round.env, &tx, false);
                soroban.push(tx);
            }
        }
        st.rollback();
        (classic, soroban)
    }
}

struct Round<'a, 'b> {
    pl: &'a mut Planner,
    st: &'a mut State,
    env: &'a Env<'b>,
    rng: &'a mut Rng,
    sc: Scratch,
}

impl Round<'_, '_> {
    fn u(&self) -> &Universe {
        self.env.u
    }

    fn is_user(&self, id: &Id) -> bool {
        *id != self.u().root && !self.u().assets.iter().any(|a| a.issuer == *id)
    }

    fn users(&self) -> usize {
        self.st.accounts.len().saturating_sub(self.u().assets.len())
    }

    fn bootstrapped(&self) -> bool {
        self.users() >= self.pl.min_users && self.u().credit_assets().all(|a| self.issuer_ready(a))
    }

    fn issuer_ready(&self, a: AssetIx) -> bool {
        let info = self.u().asset(a);
        self.st.account(&info.issuer).is_some_and(|acc| !acc.home_domain.is_empty())
    }

    /// Can pay a fee in this ledger: existed when the ledger started.
    fn usable(&self, id: &Id) -> bool {
        !self.sc.new_accounts.contains(id) && self.st.account(id).is_some()
    }

    fn avail(&self, id: &Id, asset: AssetIx) -> i64 {
        available(self.st, self.env, id, asset)
    }

    /// A random user with at least `min` spendable XLM.
    fn pick_user(&mut self, min: i64) -> Option<Id> {
        for _ in 0..24 {
            let id = *self.st.accounts.pick(self.rng)?;
            if self.is_user(&id) && self.usable(&id) && self.avail(&id, NATIVE) >= min {
                return Some(id);
            }
        }
        None
    }

    fn pick_soroban_user(&mut self, min: i64) -> Option<Id> {
        for _ in 0..8 {
            let id = self.pick_user(min)?;
            if !self.sc.soroban_sources.contains(&id) {
                return Some(id);
            }
        }
        None
    }

    /// Any account other than `not` (users mostly, sometimes root or an issuer).
    fn pick_dest(&mut self, not: &Id) -> Option<Id> {
        for _ in 0..16 {
            let id = *self.st.accounts.pick(self.rng)?;
            if id != *not {
                return Some(id);
            }
        }
        None
    }

    /// A usable user holding `asset` (authorized) with at least `min` available.
    fn pick_holder(&mut self, asset: AssetIx, min: i64) -> Option<Id> {
        if asset == NATIVE {
            return self.pick_user(min.max(20 * XLM));
        }
        for _ in 0..32 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            if ta == TrustAsset::Asset(asset)
                && self.usable(&id)
                && self.avail(&id, NATIVE) >= 5 * XLM
                && self.avail(&id, asset) >= min
            {
                return Some(id);
            }
        }
        None
    }

    /// Can receive `asset` (native, own asset, or an authorized trustline).
    fn can_receive(&self, id: &Id, asset: AssetIx) -> bool {
        asset == NATIVE
            || self.u().is_issuer(id, asset)
            || self.st.trust(id, TrustAsset::Asset(asset)).is_some_and(|t| t.authorized())
    }

    fn pick_receiver(&mut self, asset: AssetIx, not: &Id) -> Option<Id> {
        for _ in 0..32 {
            let id = self.pick_dest(not)?;
            if self.is_user(&id) && self.can_receive(&id, asset) {
                return Some(id);
            }
        }
        None
    }

    /// The clawback-enabled asset.
    fn gold(&self) -> AssetIx {
        self.u().assets.iter().position(|a| a.code == "GOLD").unwrap_or(0) as AssetIx
    }

    fn random_asset(&mut self) -> AssetIx {
        self.rng.below(self.u().assets.len() as u64) as AssetIx
    }

    /// A sensible amount of `asset` worth roughly `xlm` lumens.
    fn worth(&self, asset: AssetIx, xlm: f64) -> i64 {
        ((xlm / self.pl.mids[usize::from(asset)]) * XLM as f64).max(1.0) as i64
    }

    fn fail(&mut self) -> bool {
        self.rng.chance(self.pl.failure_rate)
    }

    /// The account, muxed (M...) with probability `p`.
    fn muxed_p(&mut self, id: &Id, p: f64) -> MuxedAccount {
        if self.rng.chance(p) {
            MuxedAccount::MuxedEd25519(MuxedAccountMed25519 { id: self.rng.below(1 << 40), ed25519: Uint256(*id) })
        } else {
            MuxedAccount::Ed25519(Uint256(*id))
        }
    }

    fn muxed(&mut self, id: &Id) -> MuxedAccount {
        self.muxed_p(id, 0.05)
    }

    fn new_key(&mut self) -> Id {
        self.pl.accounts_made += 1;
        derive_key(self.pl.seed, "account", self.pl.accounts_made)
    }

    // ---------- transactions ----------

    fn classic_tx(&mut self) -> Option<PlannedTx> {
        let draft = self.bootstrap().or_else(|| {
            for _ in 0..6 {
                // Actions that never happened yet get a boost, so short chains cover them.
                let weights: Vec<u32> = CLASSIC
                    .iter()
                    .enumerate()
                    .map(|(i, (_, w))| if self.pl.done[i] == 0 { w * 4 } else { *w })
                    .collect();
                let i = self.rng.weighted(&weights);
                if let Some(d) = self.action(CLASSIC[i].0) {
                    self.pl.done[i] += 1;
                    return Some(d);
                }
            }
            self.pay_native()
        })?;
        Some(self.finish(draft))
    }

    fn soroban_tx(&mut self) -> Option<PlannedTx> {
        for _ in 0..6 {
            let weights: Vec<u32> = SOROBAN.iter().map(|(_, w)| *w).collect();
            let action = SOROBAN[self.rng.weighted(&weights)].0;
            if let Some(d) = self.soroban_action(action) {
                self.sc.soroban_sources.insert(d.source);
                return Some(self.finish(d));
            }
        }
        None
    }

    /// Sequence number, fee, memo, preconditions, signatures; sometimes a fee bump.
    fn finish(&mut self, d: Draft) -> PlannedTx {
        let acct = self.st.account(&d.source).expect("draft sources exist");
        let seq = acct.seq + 1;
        let n_ops = d.ops.len() as u32;
        let is_soroban = d.soroban.is_some();
        let spread = if self.rng.chance(0.2) { 50 } else { 3 };
        let inclusion_bid = 100 * n_ops * (1 + self.rng.below(spread) as u32);
        let fee = inclusion_bid + d.soroban.as_ref().map_or(0, |s| s.resource_fee as u32);
        let close = self.env.close_time;
        let cond = match self.rng.below(20) {
            0..=13 => Preconditions::Time(TimeBounds { min_time: TimePoint(0), max_time: TimePoint(close + 300) }),
            14..=18 => Preconditions::None,
            _ => Preconditions::V2(PreconditionsV2 {
                time_bounds: Some(TimeBounds { min_time: TimePoint(close - 600), max_time: TimePoint(0) }),
                ledger_bounds: Some(LedgerBounds { min_ledger: 0, max_ledger: self.env.seq + 100 }),
                min_seq_num: None,
                min_seq_age: stellar_xdr::Duration(0),
                min_seq_ledger_gap: 0,
                extra_signers: Default::default(),
            }),
        };
        let memo = match self.rng.below(20) {
            0..=11 => Memo::None,
            12..=15 => Memo::Text(format!("synthetic {}", self.rng.below(100_000)).try_into().expect("short memo")),
            16..=18 => Memo::Id(self.rng.next_u64() >> 8),
            _ => Memo::Hash(Hash(self.rng.bytes())),
        };
        let source = self.muxed_p(&d.source, 0.03);
        let tx = Transaction {
            source_account: source,
            fee,
            seq_num: SequenceNumber(seq),
            cond,
            memo,
            operations: vecm(d.ops),
            ext: match d.soroban {
                Some(s) => TransactionExt::V1(s),
                None => TransactionExt::V0,
            },
        };
        let mut signers = vec![d.source];
        for s in d.signers {
            if !signers.contains(&s) {
                signers.push(s);
            }
        }
        let signatures = self.signatures(&signers);
        let inner = TransactionV1Envelope { tx, signatures: vecm(signatures) };
        let env = if !is_soroban && self.rng.chance(self.pl.fee_bump_share) {
            let payer = self.pick_user(50 * XLM).unwrap_or(d.source);
            let outer_fee = i64::from(100 * (n_ops + 1)) * (1 + self.rng.below(5) as i64);
            let signatures = self.signatures(&[payer]);
            TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
                tx: FeeBumpTransaction {
                    fee_source: MuxedAccount::Ed25519(Uint256(payer)),
                    fee: outer_fee,
                    inner_tx: FeeBumpTransactionInnerTx::Tx(inner),
                    ext: FeeBumpTransactionExt::V0,
                },
                signatures: vecm(signatures),
            })
        } else {
            TransactionEnvelope::Tx(inner)
        };
        planned(env, self.env.u)
    }

    /// Random 64-byte signatures with the right hints (nobody verifies them);
    /// multisig accounts sometimes add a co-signer.
    fn signatures(&mut self, keys: &[Id]) -> Vec<DecoratedSignature> {
        let mut out = Vec::new();
        for k in keys {
            out.push(self.signature(k));
            let cosigner = self.st.account(k).and_then(|a| a.signers.first().map(|s| s.key));
            if let Some(c) = cosigner
                && self.rng.chance(0.3)
                && out.len() < 20
            {
                out.push(self.signature(&c));
            }
        }
        out.truncate(20);
        out
    }

    fn signature(&mut self, key: &Id) -> DecoratedSignature {
        let sig: [u8; 64] = self.rng.bytes();
        DecoratedSignature {
            hint: SignatureHint([key[28], key[29], key[30], key[31]]),
            signature: Signature(sig.to_vec().try_into().expect("64 bytes fit")),
        }
    }

    // ---------- bootstrap ----------

    /// Root creates the issuers, issuers configure themselves, root funds users.
    fn bootstrap(&mut self) -> Option<Draft> {
        let u = self.env.u;
        let root = u.root;
        let missing: Vec<Id> =
            u.credit_assets().map(|a| u.asset(a).issuer).filter(|i| self.st.account(i).is_none()).collect();
        if !missing.is_empty() {
            let ops = missing
                .iter()
                .map(|i| {
                    self.sc.new_accounts.insert(*i);
                    op(OperationBody::CreateAccount(CreateAccountOp {
                        destination: account_id(i),
                        starting_balance: 1_000_000 * XLM,
                    }))
                })
                .collect();
            return Some(Draft::new(root, ops));
        }
        for a in u.credit_assets() {
            let info = u.asset(a);
            if !self.issuer_ready(a) && self.usable(&info.issuer) {
                let domain = format!("{}.example.org", info.code.to_lowercase());
                let set = SetOptionsOp {
                    inflation_dest: None,
                    clear_flags: None,
                    set_flags: (info.issuer_flags != 0).then_some(info.issuer_flags),
                    master_weight: None,
                    low_threshold: None,
                    med_threshold: None,
                    high_threshold: None,
                    home_domain: Some(stellar_xdr::String32(domain.as_str().try_into().expect("short domain"))),
                    signer: None,
                };
                return Some(Draft::new(info.issuer, vec![op(OperationBody::SetOptions(set))]));
            }
        }
        if self.users() < self.pl.min_users && self.rng.chance(0.8) {
            let n = (self.pl.min_users - self.users()).min(50);
            let ops = (0..n)
                .map(|_| {
                    let k = self.new_key();
                    self.sc.new_accounts.insert(k);
                    let start = (5_000 + self.rng.below(45_000) as i64) * XLM;
                    op(OperationBody::CreateAccount(CreateAccountOp {
                        destination: account_id(&k),
                        starting_balance: start,
                    }))
                })
                .collect();
            return Some(Draft::new(root, ops));
        }
        None
    }

    fn action(&mut self, a: Action) -> Option<Draft> {
        if !self.bootstrapped() && self.users() < 2 {
            return None;
        }
        match a {
            Action::PayNative => self.pay_native(),
            Action::PayCredit => self.pay_credit(),
            Action::IssuerMint => self.issuer_mint(),
            Action::IssuerOffer => self.issuer_offer(),
            Action::PathSend => self.path_payment(true),
            Action::PathReceive => self.path_payment(false),
            Action::SellOffer => self.offer(OfferKind::Sell),
            Action::BuyOffer => self.offer(OfferKind::Buy),
            Action::PassiveOffer => self.offer(OfferKind::Passive),
            Action::ChangeTrust => self.change_trust(),
            Action::Authorize => self.authorize(),
            Action::CreateAccount => self.create_account(),
            Action::SetOptions => self.set_options(),
            Action::ManageData => self.manage_data(),
            Action::BumpSeq => self.bump_seq(),
            Action::Merge => self.merge(),
            Action::CreateBalance => self.create_balance(),
            Action::ClaimBalance => self.claim_balance(),
            Action::ClawbackBalance => self.clawback_balance(),
            Action::Clawback => self.clawback(),
            Action::Sponsor => self.sponsor(),
            Action::RevokeSponsorship => self.revoke_sponsorship(),
            Action::PoolDeposit => self.pool_deposit(),
            Action::PoolWithdraw => self.pool_withdraw(),
        }
    }
}

#[derive(Clone, Copy)]
enum OfferKind {
    Sell,
    Buy,
    Passive,
}

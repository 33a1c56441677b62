//! The planner: decides what the network does in a ledger. It picks an
//! action (weighted, adapted to the state: bootstrap first, then a market of
//! payments, offers, pools, claimable balances, sponsorship, Soroban calls),
//! builds the transaction, and applies it to the live state at once so the
//! next choice sees its effects. The generator rolls that planning pass back
//! and replays the chosen transactions properly (fees first) to build meta.

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

    // ---------- classic actions ----------

    fn pay_native(&mut self) -> Option<Draft> {
        let src = self.pick_user(30 * XLM)?;
        let n = if self.rng.chance(0.12) { 2 + self.rng.below(4) as usize } else { 1 };
        let avail = self.avail(&src, NATIVE);
        let mut ops = Vec::new();
        for _ in 0..n {
            let dest = self.pick_dest(&src)?;
            let amount = if self.fail() {
                avail + self.rng.range(1, 1000) * XLM
            } else {
                self.rng.range(XLM / 10, (avail / (4 * n as i64)).clamp(XLM, 5_000 * XLM))
            };
            let destination = self.muxed(&dest);
            ops.push(op(OperationBody::Payment(PaymentOp { destination, asset: Asset::Native, amount })));
        }
        Some(Draft::new(src, ops))
    }

    fn pay_credit(&mut self) -> Option<Draft> {
        let asset = 1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx;
        let src = self.pick_holder(asset, 1)?;
        let avail = self.avail(&src, asset);
        let failing = self.fail();
        let dest = if failing {
            self.pick_dest(&src)?
        } else if self.rng.chance(0.05) {
            self.u().asset(asset).issuer
        } else {
            self.pick_receiver(asset, &src)?
        };
        let amount =
            if failing && self.can_receive(&dest, asset) { avail + 1 } else { self.rng.range(1, (avail / 3).max(1)) };
        let destination = self.muxed(&dest);
        let asset_xdr = self.u().asset(asset).xdr.clone();
        Some(Draft::new(src, vec![op(OperationBody::Payment(PaymentOp { destination, asset: asset_xdr, amount }))]))
    }

    /// An issuer sends its asset to a holder of an authorized trustline.
    fn issuer_mint(&mut self) -> Option<Draft> {
        for _ in 0..32 {
            let &(dest, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(asset) = ta else { continue };
            let issuer = self.u().asset(asset).issuer;
            if !self.usable(&issuer) || !self.can_receive(&dest, asset) {
                continue;
            }
            let xlm = 200.0 + self.rng.unit() * 5_000.0;
            let amount = self.worth(asset, xlm);
            let asset_xdr = self.u().asset(asset).xdr.clone();
            let destination = self.muxed(&dest);
            let body = PaymentOp { destination, asset: asset_xdr, amount };
            return Some(Draft::new(issuer, vec![op(OperationBody::Payment(body))]));
        }
        None
    }

    fn path_payment(&mut self, strict_send: bool) -> Option<Draft> {
        let (from, to) = self.market_pair();
        let src = self.pick_holder(from, 10)?;
        let dest = if self.rng.chance(0.4) && self.can_receive(&src, to) { src } else { self.pick_receiver(to, &src)? };
        let via_xlm = from != NATIVE && to != NATIVE && (self.u().pool_for(from, to).is_none() || self.rng.chance(0.5));
        let hops: Vec<AssetIx> = if via_xlm { vec![NATIVE] } else { Vec::new() };
        let path = dex::full_path(from, &hops, to);
        let budget = self.avail(&src, from).min(self.worth(from, 2_000.0));
        let failing = self.fail();
        let xdr = |s: &Self, a: AssetIx| s.u().asset(a).xdr.clone();
        let path_xdr = vecm(hops.iter().map(|&a| xdr(self, a)).collect());
        let destination = self.muxed(&dest);
        let body = if strict_send {
            let send = self.rng.range(1, budget.max(1) / 2 + 1);
            let quote = dex::quote_send(self.st, self.env, &src, &path, send);
            let dest_min = match quote {
                Some(q) if !failing => (q as f64 * 0.98) as i64,
                Some(q) => q + q / 2 + 1,
                None if failing => self.worth(to, 10.0),
                None => return None,
            };
            OperationBody::PathPaymentStrictSend(PathPaymentStrictSendOp {
                send_asset: xdr(self, from),
                send_amount: send,
                destination,
                dest_asset: xdr(self, to),
                dest_min: dest_min.max(1),
                path: path_xdr,
            })
        } else {
            let want = self.rng.range(1, self.worth(to, 200.0).max(2));
            let quote = dex::quote_receive(self.st, self.env, &src, &path, want);
            let send_max = match quote {
                Some(q) if !failing && q <= budget => q + q / 50 + 1,
                Some(q) if failing => (q / 2).max(1),
                _ if failing => self.worth(from, 1.0),
                _ => return None,
            };
            OperationBody::PathPaymentStrictReceive(PathPaymentStrictReceiveOp {
                send_asset: xdr(self, from),
                send_max,
                destination,
                dest_asset: xdr(self, to),
                dest_amount: want,
                path: path_xdr,
            })
        };
        Some(Draft::new(src, vec![op(body)]))
    }

    fn offer(&mut self, kind: OfferKind) -> Option<Draft> {
        // Sometimes change or cancel an existing offer instead.
        if !matches!(kind, OfferKind::Passive)
            && self.rng.chance(0.3)
            && let Some(d) = self.amend_offer(kind)
        {
            return Some(d);
        }
        let (sell, buy) = self.market_pair();
        let src = self.pick_holder(sell, 10)?;
        if !self.can_receive(&src, buy) || self.u().is_issuer(&src, buy) {
            return None;
        }
        let avail = self.avail(&src, sell);
        let fair = self.pl.mids[usize::from(sell)] / self.pl.mids[usize::from(buy)];
        // Mostly above the market (resting offers), sometimes below (crossing).
        let skew = 1.0 + (self.rng.unit() - 0.25) * 0.06;
        let amount = self.rng.range(1, (avail / 5).clamp(1, self.worth(sell, 3_000.0)));
        let (sx, bx) = (self.u().asset(sell).xdr.clone(), self.u().asset(buy).xdr.clone());
        let body = match kind {
            OfferKind::Sell => OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: sx,
                buying: bx,
                amount,
                price: price(px(fair * skew)),
                offer_id: 0,
            }),
            OfferKind::Passive => OperationBody::CreatePassiveSellOffer(CreatePassiveSellOfferOp {
                selling: sx,
                buying: bx,
                amount,
                price: price(px(fair * skew)),
            }),
            OfferKind::Buy => {
                // Price in units of `sell` per unit of `buy`.
                let p = px(skew / fair);
                let buy_amount = ((amount as f64) * fair / skew).max(1.0) as i64;
                OperationBody::ManageBuyOffer(ManageBuyOfferOp {
                    selling: sx,
                    buying: bx,
                    buy_amount,
                    price: price(p),
                    offer_id: 0,
                })
            }
        };
        Some(Draft::new(src, vec![op(body)]))
    }

    /// Updates or deletes a random existing offer of a usable account.
    fn amend_offer(&mut self, kind: OfferKind) -> Option<Draft> {
        let &(seller, id) = self.st.offers.pick(self.rng)?;
        if !self.usable(&seller) || self.avail(&seller, NATIVE) < 5 * XLM {
            return None;
        }
        let o = self.st.offer(&seller, id)?.clone();
        let (sx, bx) = (self.u().asset(o.selling).xdr.clone(), self.u().asset(o.buying).xdr.clone());
        let cancel = self.rng.chance(0.4);
        let fair = self.pl.mids[usize::from(o.selling)] / self.pl.mids[usize::from(o.buying)];
        let new_price = px(fair * (1.0 + self.rng.unit() * 0.05));
        let body = match kind {
            OfferKind::Buy => OperationBody::ManageBuyOffer(ManageBuyOfferOp {
                selling: sx,
                buying: bx,
                buy_amount: if cancel {
                    0
                } else {
                    super::funds::mul_div_floor(o.amount, i64::from(new_price.n), i64::from(new_price.d)).max(1)
                },
                price: Price { n: new_price.d, d: new_price.n },
                offer_id: id,
            }),
            _ => OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: sx,
                buying: bx,
                amount: if cancel { 0 } else { (o.amount / 2).max(1) },
                price: price(new_price),
                offer_id: id,
            }),
        };
        Some(Draft::new(seller, vec![op(body)]))
    }

    fn change_trust(&mut self) -> Option<Draft> {
        let src = self.pick_user(20 * XLM)?;
        let roll = self.rng.below(10);
        if roll < 1 {
            // Drop an empty trustline.
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let t = self.st.trust(&id, ta)?;
            let pending = t.flags & (TL_AUTHORIZED | TL_MAINTAIN) == 0;
            if !self.usable(&id) || pending || t.balance != 0 || t.liabilities != Default::default() || t.pool_use != 0
            {
                return None;
            }
            let line = self.change_trust_asset(ta);
            return Some(Draft::new(id, vec![op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit: 0 }))]));
        }
        if roll < 4 {
            return self.pool_trust();
        }
        // GOLD (auth required, clawback enabled) often, so authorization and
        // clawback have trustlines to act on.
        let asset = if self.rng.chance(0.25) {
            self.gold()
        } else {
            1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx
        };
        if self.st.trust(&src, TrustAsset::Asset(asset)).is_some() {
            return None;
        }
        let limit = if self.rng.chance(0.8) { i64::MAX } else { self.worth(asset, 1_000_000.0) };
        let line = self.change_trust_asset(TrustAsset::Asset(asset));
        Some(Draft::new(src, vec![op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit }))]))
    }

    /// A pool-share trustline for a holder of one of the pool's assets who
    /// trusts the other side too.
    fn pool_trust(&mut self) -> Option<Draft> {
        for _ in 0..16 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(a) = ta else { continue };
            if !self.usable(&id) || self.avail(&id, NATIVE) < 20 * XLM || !self.can_receive(&id, a) {
                continue;
            }
            let candidates: Vec<PoolIx> = (0..self.u().pools.len() as PoolIx)
                .filter(|&p| {
                    let info = self.u().pool(p);
                    let other = if info.a == a {
                        info.b
                    } else if info.b == a {
                        info.a
                    } else {
                        return false;
                    };
                    self.can_receive(&id, other) && self.st.trust(&id, TrustAsset::Pool(p)).is_none()
                })
                .collect();
            let Some(&p) = self.rng.pick(&candidates) else { continue };
            let line = self.change_trust_asset(TrustAsset::Pool(p));
            return Some(Draft::new(id, vec![op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit: i64::MAX }))]));
        }
        None
    }

    /// An asset pair with likely liquidity: mostly one side is XLM.
    fn market_pair(&mut self) -> (AssetIx, AssetIx) {
        let n = self.u().assets.len() as u64;
        let credit = 1 + self.rng.below(n - 1) as AssetIx;
        match self.rng.below(10) {
            0..=3 => (credit, NATIVE),
            4..=7 => (NATIVE, credit),
            _ => {
                let other = 1 + self.rng.below(n - 1) as AssetIx;
                if other == credit { (credit, NATIVE) } else { (credit, other) }
            }
        }
    }

    /// An issuer quotes its own asset against XLM on both sides of the market.
    fn issuer_offer(&mut self) -> Option<Draft> {
        let asset = 1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx;
        let issuer = self.u().asset(asset).issuer;
        if !self.usable(&issuer) {
            return None;
        }
        let mid = self.pl.mids[usize::from(asset)];
        let (ax, nx) = (self.u().asset(asset).xdr.clone(), Asset::Native);
        let body = if self.rng.chance(0.5) {
            let xlm = 1_000.0 + self.rng.unit() * 20_000.0;
            let amount = self.worth(asset, xlm);
            let p = px(mid * (1.002 + self.rng.unit() * 0.03));
            OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: ax,
                buying: nx,
                amount,
                price: price(p),
                offer_id: 0,
            })
        } else {
            let amount = (1_000.0 + self.rng.unit() * 20_000.0) as i64 * XLM;
            let p = px((1.0 / mid) * (1.002 + self.rng.unit() * 0.03));
            OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: nx,
                buying: ax,
                amount,
                price: price(p),
                offer_id: 0,
            })
        };
        Some(Draft::new(issuer, vec![op(body)]))
    }

    fn change_trust_asset(&self, ta: TrustAsset) -> ChangeTrustAsset {
        match ta {
            TrustAsset::Asset(a) => match &self.u().asset(a).xdr {
                Asset::Native => ChangeTrustAsset::Native,
                Asset::CreditAlphanum4(x) => ChangeTrustAsset::CreditAlphanum4(x.clone()),
                Asset::CreditAlphanum12(x) => ChangeTrustAsset::CreditAlphanum12(x.clone()),
            },
            TrustAsset::Pool(p) => ChangeTrustAsset::PoolShare(self.u().pool(p).params.clone()),
        }
    }

    /// An issuer authorizes a pending trustline (or toggles maintain-liabilities).
    fn authorize(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(asset) = ta else { continue };
            let info = self.u().asset(asset).clone();
            if info.issuer_flags & AUTH_REQUIRED == 0 || !self.usable(&info.issuer) {
                continue;
            }
            let flags = self.st.trust(&id, ta)?.flags;
            let (set, clear) = if flags & (TL_AUTHORIZED | TL_MAINTAIN) == 0 {
                (TL_AUTHORIZED, 0)
            } else if flags & TL_MAINTAIN != 0 {
                (TL_AUTHORIZED, TL_MAINTAIN)
            } else if self.rng.chance(0.2) {
                (TL_MAINTAIN, TL_AUTHORIZED)
            } else {
                continue;
            };
            let body = if self.rng.chance(0.5) {
                let code = match &info.xdr {
                    Asset::CreditAlphanum4(x) => AssetCode::CreditAlphanum4(x.asset_code.clone()),
                    Asset::CreditAlphanum12(x) => AssetCode::CreditAlphanum12(x.asset_code.clone()),
                    Asset::Native => continue,
                };
                OperationBody::AllowTrust(AllowTrustOp { trustor: account_id(&id), asset: code, authorize: set })
            } else {
                OperationBody::SetTrustLineFlags(SetTrustLineFlagsOp {
                    trustor: account_id(&id),
                    asset: info.xdr.clone(),
                    clear_flags: clear,
                    set_flags: set,
                })
            };
            return Some(Draft::new(info.issuer, vec![op(body)]));
        }
        None
    }

    fn create_account(&mut self) -> Option<Draft> {
        let src = self.pick_user(200 * XLM)?;
        let k = self.new_key();
        self.sc.new_accounts.insert(k);
        let start = if self.fail() { XLM / 2 } else { self.rng.range(5, 100) * XLM };
        Some(Draft::new(
            src,
            vec![op(OperationBody::CreateAccount(CreateAccountOp {
                destination: account_id(&k),
                starting_balance: start,
            }))],
        ))
    }

    fn set_options(&mut self) -> Option<Draft> {
        let src = self.pick_user(20 * XLM)?;
        let acct = self.st.account(&src)?.clone();
        let mut o = SetOptionsOp {
            inflation_dest: None,
            clear_flags: None,
            set_flags: None,
            master_weight: None,
            low_threshold: None,
            med_threshold: None,
            high_threshold: None,
            home_domain: None,
            signer: None,
        };
        match self.rng.below(4) {
            0 => {
                let d = format!("user{}.example.com", self.rng.below(10_000));
                o.home_domain = Some(stellar_xdr::String32(d.as_str().try_into().expect("short domain")));
            }
            1 if !acct.signers.is_empty() => {
                let s = acct.signers[self.rng.below(acct.signers.len() as u64) as usize].key;
                o.signer = Some(Signer { key: SignerKey::Ed25519(Uint256(s)), weight: 0 });
            }
            2 => {
                o.low_threshold = Some(self.rng.below(2) as u32);
                o.med_threshold = Some(1);
                o.high_threshold = Some(1);
                o.master_weight = Some(1 + self.rng.below(3) as u32);
            }
            _ => {
                let k = self.new_key();
                o.signer = Some(Signer { key: SignerKey::Ed25519(Uint256(k)), weight: 1 });
            }
        }
        Some(Draft::new(src, vec![op(OperationBody::SetOptions(o))]))
    }

    fn manage_data(&mut self) -> Option<Draft> {
        if self.rng.chance(0.3)
            && let Some((id, name)) = self.st.data.pick(self.rng).cloned()
            && self.usable(&id)
            && self.avail(&id, NATIVE) > 5 * XLM
        {
            let body = ManageDataOp {
                data_name: stellar_xdr::String64(name.as_str().try_into().expect("stored names fit")),
                data_value: None,
            };
            return Some(Draft::new(id, vec![op(OperationBody::ManageData(body))]));
        }
        let src = self.pick_user(20 * XLM)?;
        let name = format!("config.{}", self.rng.below(8));
        let len = 1 + self.rng.below(64) as usize;
        let value: Vec<u8> = (0..len).map(|_| b'a' + self.rng.below(26) as u8).collect();
        let body = ManageDataOp {
            data_name: stellar_xdr::String64(name.as_str().try_into().expect("short name")),
            data_value: Some(DataValue(value.try_into().expect("at most 64 bytes"))),
        };
        Some(Draft::new(src, vec![op(OperationBody::ManageData(body))]))
    }

    fn bump_seq(&mut self) -> Option<Draft> {
        let src = self.pick_user(10 * XLM)?;
        let seq = self.st.account(&src)?.seq;
        let to = if self.rng.chance(0.2) { seq } else { seq + 1 + self.rng.below(1_000) as i64 };
        Some(Draft::new(src, vec![op(OperationBody::BumpSequence(BumpSequenceOp { bump_to: SequenceNumber(to) }))]))
    }

    fn merge(&mut self) -> Option<Draft> {
        if self.users() <= self.pl.min_users {
            return None;
        }
        for _ in 0..16 {
            let id = self.pick_user(0)?;
            let a = self.st.account(&id)?;
            let seq_ok = a.seq < i64::from(self.env.seq) << 32;
            if a.num_sub_entries as usize == a.signers.len() && a.num_sponsoring == 0 && seq_ok {
                let dest = self.pick_dest(&id)?;
                let dest = self.muxed(&dest);
                return Some(Draft::new(id, vec![op(OperationBody::AccountMerge(dest))]));
            }
        }
        None
    }

    fn create_balance(&mut self) -> Option<Draft> {
        // GOLD (clawback enabled) often, so clawbacks have something to act on.
        let asset = if self.rng.chance(0.4) { self.gold() } else { self.random_asset() };
        let src = self.pick_holder(asset, 2)?;
        let avail = self.avail(&src, asset);
        let amount = if self.fail() { avail + 1 } else { self.rng.range(1, (avail / 10).max(1)) };
        let n = 1 + self.rng.below(3) as usize;
        let mut claimants = Vec::new();
        let mut seen = Vec::new();
        for i in 0..n {
            let dest = if i == 0 && self.rng.chance(0.3) { src } else { self.pick_dest(&src)? };
            if seen.contains(&dest) {
                continue;
            }
            seen.push(dest);
            let predicate = match self.rng.below(5) {
                0 | 1 => ClaimPredicate::Unconditional,
                2 => ClaimPredicate::BeforeRelativeTime(3_600 + self.rng.below(30 * 86_400) as i64),
                3 => ClaimPredicate::Not(Some(Box::new(ClaimPredicate::BeforeAbsoluteTime(
                    self.env.close_time as i64 - 1,
                )))),
                _ => ClaimPredicate::Or(vecm(vec![
                    ClaimPredicate::BeforeRelativeTime(600),
                    ClaimPredicate::Not(Some(Box::new(ClaimPredicate::BeforeRelativeTime(86_400)))),
                ])),
            };
            claimants.push(Claimant::ClaimantTypeV0(ClaimantV0 { destination: account_id(&dest), predicate }));
        }
        let body =
            CreateClaimableBalanceOp { asset: self.u().asset(asset).xdr.clone(), amount, claimants: vecm(claimants) };
        Some(Draft::new(src, vec![op(OperationBody::CreateClaimableBalance(body))]))
    }

    fn claim_balance(&mut self) -> Option<Draft> {
        for _ in 0..16 {
            let id = *self.st.balances.pick(self.rng)?;
            let b = self.st.claimable(&id)?.clone();
            let now = self.env.close_time;
            let failing = self.fail();
            let claimant = b.claimants.iter().find(|(d, p)| {
                self.usable(d)
                    && self.avail(d, NATIVE) >= 5 * XLM
                    && (failing || (super::ops::predicate_holds(p, now) && self.can_receive(d, b.asset)))
            });
            if let Some((d, _)) = claimant {
                let body =
                    ClaimClaimableBalanceOp { balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)) };
                return Some(Draft::new(*d, vec![op(OperationBody::ClaimClaimableBalance(body))]));
            }
        }
        None
    }

    fn clawback_balance(&mut self) -> Option<Draft> {
        for _ in 0..16 {
            let id = *self.st.balances.pick(self.rng)?;
            let b = self.st.claimable(&id)?;
            let issuer = self.u().asset(b.asset).issuer;
            if b.clawback && self.usable(&issuer) {
                let body =
                    ClawbackClaimableBalanceOp { balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)) };
                return Some(Draft::new(issuer, vec![op(OperationBody::ClawbackClaimableBalance(body))]));
            }
        }
        None
    }

    fn clawback(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(asset) = ta else { continue };
            let t = self.st.trust(&id, ta)?;
            let issuer = self.u().asset(asset).issuer;
            if t.flags & TL_CLAWBACK != 0 && t.available() > 0 && self.usable(&issuer) {
                let amount = self.rng.range(1, (t.available() / 4).max(1));
                let body = ClawbackOp {
                    asset: self.u().asset(asset).xdr.clone(),
                    from: MuxedAccount::Ed25519(Uint256(id)),
                    amount,
                };
                return Some(Draft::new(issuer, vec![op(OperationBody::Clawback(body))]));
            }
        }
        None
    }

    /// Begin sponsoring / sponsored operation / end sponsoring, in one transaction.
    fn sponsor(&mut self) -> Option<Draft> {
        let sponsor = self.pick_user(100 * XLM)?;
        let begin = |s: &Id| {
            op(OperationBody::BeginSponsoringFutureReserves(BeginSponsoringFutureReservesOp {
                sponsored_id: account_id(s),
            }))
        };
        let end = |s: &Id| op_from(s, OperationBody::EndSponsoringFutureReserves);
        match self.rng.below(3) {
            0 => {
                let k = self.new_key();
                self.sc.new_accounts.insert(k);
                let create = op(OperationBody::CreateAccount(CreateAccountOp {
                    destination: account_id(&k),
                    starting_balance: XLM,
                }));
                let mut d = Draft::new(sponsor, vec![begin(&k), create, end(&k)]);
                d.signers.push(k);
                Some(d)
            }
            1 => {
                let user = self.pick_user(5 * XLM).filter(|u| *u != sponsor)?;
                let asset = 1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx;
                if self.st.trust(&user, TrustAsset::Asset(asset)).is_some() {
                    return None;
                }
                let line = self.change_trust_asset(TrustAsset::Asset(asset));
                let trust = op_from(&user, OperationBody::ChangeTrust(ChangeTrustOp { line, limit: i64::MAX }));
                let mut d = Draft::new(sponsor, vec![begin(&user), trust, end(&user)]);
                d.signers.push(user);
                Some(d)
            }
            _ => {
                let user = self.pick_user(5 * XLM).filter(|u| *u != sponsor)?;
                let name = format!("sponsored.{}", self.rng.below(4));
                if self.st.contains(&Key::Data(user, name.clone())) {
                    return None;
                }
                let data = op_from(
                    &user,
                    OperationBody::ManageData(ManageDataOp {
                        data_name: stellar_xdr::String64(name.as_str().try_into().expect("short name")),
                        data_value: Some(DataValue(b"sponsored".to_vec().try_into().expect("short value"))),
                    }),
                );
                let mut d = Draft::new(sponsor, vec![begin(&user), data, end(&user)]);
                d.signers.push(user);
                Some(d)
            }
        }
    }

    fn revoke_sponsorship(&mut self) -> Option<Draft> {
        for _ in 0..32 {
            let key = if self.rng.chance(0.5) {
                let &(id, ta) = self.st.trustlines.pick(self.rng)?;
                Key::Trust(id, ta)
            } else {
                let &id = self.st.accounts.pick(self.rng)?;
                Key::Account(id)
            };
            let Some(sponsor) = self.st.get(&key).and_then(|s| s.sponsor) else { continue };
            let owner = match &key {
                Key::Trust(id, _) | Key::Account(id) => *id,
                _ => continue,
            };
            if self.usable(&sponsor) && self.avail(&owner, NATIVE) >= 3 * self.env.base_reserve {
                let lk: LedgerKey = ledger_key(self.u(), &key);
                return Some(Draft::new(
                    sponsor,
                    vec![op(OperationBody::RevokeSponsorship(RevokeSponsorshipOp::LedgerEntry(lk)))],
                ));
            }
        }
        None
    }

    fn pool_deposit(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Pool(p) = ta else { continue };
            if !self.usable(&id) || self.avail(&id, NATIVE) < 20 * XLM {
                continue;
            }
            let info = self.u().pool(p).clone();
            let (have_a, have_b) = (self.avail(&id, info.a), self.avail(&id, info.b));
            if have_a < 100 || have_b < 100 {
                continue;
            }
            let pool = self.st.pool(p)?.clone();
            let ratio = if pool.shares > 0 {
                pool.reserve_b as f64 / pool.reserve_a as f64
            } else {
                self.pl.mids[usize::from(info.a)] / self.pl.mids[usize::from(info.b)]
            };
            let max_a = (have_a / 4).min(self.worth(info.a, 5_000.0)).max(1);
            let max_b = ((max_a as f64 * ratio) as i64).min(have_b / 4).max(1);
            let max_a = ((max_b as f64 / ratio) as i64).clamp(1, max_a);
            let p_mid = max_a as f64 / max_b as f64;
            let body = LiquidityPoolDepositOp {
                liquidity_pool_id: PoolId(Hash(info.id)),
                max_amount_a: max_a,
                max_amount_b: max_b,
                min_price: price(px(p_mid * 0.9)),
                max_price: price(px(p_mid * 1.1)),
            };
            return Some(Draft::new(id, vec![op(OperationBody::LiquidityPoolDeposit(body))]));
        }
        None
    }

    fn pool_withdraw(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Pool(p) = ta else { continue };
            let t = self.st.trust(&id, ta)?;
            if t.balance <= 0 || !self.usable(&id) || self.avail(&id, NATIVE) < 5 * XLM {
                continue;
            }
            let amount = if self.rng.chance(0.3) { t.balance } else { self.rng.range(1, t.balance) };
            let body = LiquidityPoolWithdrawOp {
                liquidity_pool_id: PoolId(Hash(self.u().pool(p).id)),
                amount,
                min_amount_a: 0,
                min_amount_b: 0,
            };
            let mut ops = vec![op(OperationBody::LiquidityPoolWithdraw(body))];
            // Leaving the pool entirely drops the pool-share trustline too (and
            // the pool itself with its last trustline), so removals get exercised.
            if amount == t.balance {
                let line = self.change_trust_asset(ta);
                ops.push(op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit: 0 })));
            }
            return Some(Draft::new(id, ops));
        }
        None
    }

    // ---------- Soroban ----------

    fn soroban_action(&mut self, a: SorobanAction) -> Option<Draft> {
        match a {
            SorobanAction::Upload => self.upload(),
            SorobanAction::Create => self.create_contract(),
            SorobanAction::Mint => self.mint(),
            SorobanAction::Transfer => self.transfer(),
            SorobanAction::Extend => self.extend(),
            SorobanAction::Restore => self.restore(),
        }
    }

    /// Resource declaration and fee of a Soroban transaction.
    fn soroban_data(&mut self, read_only: Vec<Key>, read_write: Vec<Key>) -> SorobanTransactionData {
        for k in &read_write {
            self.sc.soroban_keys.insert(k.clone());
        }
        let u = self.env.u;
        SorobanTransactionData {
            ext: SorobanTransactionDataExt::V0,
            resources: SorobanResources {
                footprint: LedgerFootprint {
                    read_only: vecm(read_only.iter().map(|k| ledger_key(u, k)).collect()),
                    read_write: vecm(read_write.iter().map(|k| ledger_key(u, k)).collect()),
                },
                instructions: 1_000_000 + self.rng.below(40_000_000) as u32,
                disk_read_bytes: self.rng.below(12_000) as u32,
                write_bytes: 200 + self.rng.below(6_000) as u32,
            },
            resource_fee: 40_000 + self.rng.below(2_000_000) as i64,
        }
    }

    fn free(&self, k: &Key) -> bool {
        !self.sc.soroban_keys.contains(k)
    }

    fn upload(&mut self) -> Option<Draft> {
        if self.st.codes.len() >= 4 && !self.rng.chance(0.1) {
            return None;
        }
        let src = self.pick_soroban_user(50 * XLM)?;
        let code = super::wasm::module(self.rng);
        let hash = super::universe::sha256(&[&code]);
        let key = Key::ContractCode(hash);
        let data = self.soroban_data(Vec::new(), vec![key]);
        let body = InvokeHostFunctionOp {
            host_function: HostFunction::UploadContractWasm(code.try_into().expect("code fits")),
            auth: Default::default(),
        };
        let mut d = Draft::new(src, vec![op(OperationBody::InvokeHostFunction(body))]);
        d.soroban = Some(data);
        Some(d)
    }

    fn create_contract(&mut self) -> Option<Draft> {
        if self.st.contracts.len() >= 12 && !self.rng.chance(0.05) {
            return None;
        }
        let code = *self.st.codes.pick(self.rng)?;
        if !self.free(&Key::ContractCode(code))
            || liveness(self.st, self.env.seq, self.u(), &Key::ContractCode(code)) != Liveness::Live
        {
            return None;
        }
        let src = self.pick_soroban_user(50 * XLM)?;
        self.pl.salt += 1;
        let salt = super::universe::sha256(&[b"salt", &self.pl.salt.to_be_bytes()]);
        let preimage = ContractIdPreimage::Address(ContractIdPreimageFromAddress {
            address: account_address(&src),
            salt: Uint256(salt),
        });
        let id = super::universe::contract_id(&self.u().network_id, preimage.clone());
        let instance = Key::ContractData(id, CKey::Instance, Durability::Persistent);
        if !self.free(&instance) {
            return None;
        }
        self.pl.admins.insert(id, src);
        let args =
            CreateContractArgs { contract_id_preimage: preimage, executable: ContractExecutable::Wasm(Hash(code)) };
        let auth = SorobanAuthorizationEntry {
            credentials: SorobanCredentials::SourceAccount,
            root_invocation: SorobanAuthorizedInvocation {
                function: SorobanAuthorizedFunction::CreateContractHostFn(args.clone()),
                sub_invocations: Default::default(),
            },
        };
        let data = self.soroban_data(vec![Key::ContractCode(code)], vec![instance]);
        let body = InvokeHostFunctionOp { host_function: HostFunction::CreateContract(args), auth: vecm(vec![auth]) };
        let mut d = Draft::new(src, vec![op(OperationBody::InvokeHostFunction(body))]);
        d.soroban = Some(data);
        Some(d)
    }

    /// The code of a contract whose instance and code are live and not
    /// written by another Soroban transaction of this ledger.
    fn usable_contract(&self, c: &Id) -> Option<Id> {
        let instance = Key::ContractData(*c, CKey::Instance, Durability::Persistent);
        if !self.free(&instance) || liveness(self.st, self.env.seq, self.u(), &instance) != Liveness::Live {
            return None;
        }
        let code = match self.st.get(&instance).map(|s| &s.entry) {
            Some(super::state::Entry::ContractData(ScVal::ContractInstance(i))) => match &i.executable {
                ContractExecutable::Wasm(h) => h.0,
                _ => return None,
            },
            _ => return None,
        };
        let code_key = Key::ContractCode(code);
        (self.free(&code_key) && liveness(self.st, self.env.seq, self.u(), &code_key) == Liveness::Live).then_some(code)
    }

    /// A random usable contract and its code.
    fn live_contract(&mut self) -> Option<(Id, Id)> {
        for _ in 0..8 {
            let c = *self.st.contracts.pick(self.rng)?;
            if let Some(code) = self.usable_contract(&c) {
                return Some((c, code));
            }
        }
        None
    }

    fn invoke_draft(&mut self, src: Id, contract: Id, code: Id, func: &str, args: Vec<ScVal>, rw: Vec<Key>) -> Draft {
        let call = InvokeContractArgs {
            contract_address: contract_address(&contract),
            function_name: ScSymbol(func.try_into().expect("short symbol")),
            args: vecm(args),
        };
        let auth = SorobanAuthorizationEntry {
            credentials: SorobanCredentials::SourceAccount,
            root_invocation: SorobanAuthorizedInvocation {
                function: SorobanAuthorizedFunction::ContractFn(call.clone()),
                sub_invocations: Default::default(),
            },
        };
        let ro = vec![Key::ContractData(contract, CKey::Instance, Durability::Persistent), Key::ContractCode(code)];
        let data = self.soroban_data(ro, rw);
        let body = InvokeHostFunctionOp { host_function: HostFunction::InvokeContract(call), auth: vecm(vec![auth]) };
        let mut d = Draft::new(src, vec![op(OperationBody::InvokeHostFunction(body))]);
        d.soroban = Some(data);
        d
    }

    /// An archived balance of a usable contract: minting to it restores it
    /// automatically (protocol 23+).
    fn archived_balance(&mut self) -> Option<(Id, Id, Id)> {
        let k = self.st.archived.pick(self.rng)?.clone();
        let Key::ContractData(c, CKey::Balance(to), Durability::Persistent) = k else { return None };
        let code = self.usable_contract(&c)?;
        Some((c, code, to))
    }

    fn mint(&mut self) -> Option<Draft> {
        let archived = if self.rng.chance(0.4) { self.archived_balance() } else { None };
        let (c, code, to) = match archived {
            Some((c, code, to)) => (c, code, Some(to)),
            None => {
                let (c, code) = self.live_contract()?;
                (c, code, None)
            }
        };
        let admin = *self.pl.admins.get(&c)?;
        if !self.usable(&admin) || self.sc.soroban_sources.contains(&admin) || self.avail(&admin, NATIVE) < 30 * XLM {
            return None;
        }
        let to = match to {
            Some(t) => t,
            None => self.pick_user(0)?,
        };
        let bal = Key::ContractData(c, CKey::Balance(to), Durability::Persistent);
        if !self.free(&bal) {
            return None;
        }
        let restore = liveness(self.st, self.env.seq, self.u(), &bal) == Liveness::Archived;
        let amount = i128::from(self.rng.range(1_000, 1_000_000_000));
        let args = vec![ScVal::Address(account_address(&to)), i128_val(amount)];
        let mut d = self.invoke_draft(admin, c, code, "mint", args, vec![bal]);
        if restore && let Some(s) = d.soroban.as_mut() {
            // The balance is read-write entry 0: declare it archived.
            s.ext = SorobanTransactionDataExt::V1(stellar_xdr::SorobanResourcesExtV0 {
                archived_soroban_entries: vecm(vec![0]),
            });
        }
        Some(d)
    }

    fn transfer(&mut self) -> Option<Draft> {
        for _ in 0..12 {
            let key = self.st.contract_balances.pick(self.rng)?.clone();
            let Key::ContractData(c, CKey::Balance(from), _) = key.clone() else { continue };
            if !self.usable(&from) || self.sc.soroban_sources.contains(&from) || self.avail(&from, NATIVE) < 30 * XLM {
                continue;
            }
            if !self.free(&key) || liveness(self.st, self.env.seq, self.u(), &key) != Liveness::Live {
                continue;
            }
            let Some(code) = self.usable_contract(&c) else { continue };
            let balance = match self.st.get(&key).map(|s| &s.entry) {
                Some(super::state::Entry::ContractData(ScVal::I128(p))) => (i128::from(p.hi) << 64) | i128::from(p.lo),
                _ => continue,
            };
            if balance <= 0 {
                continue;
            }
            let to = self.pick_user(0)?;
            let to_key = Key::ContractData(c, CKey::Balance(to), Durability::Persistent);
            if to == from
                || !self.free(&to_key)
                || liveness(self.st, self.env.seq, self.u(), &to_key) == Liveness::Archived
            {
                continue;
            }
            let amount = if self.fail() { balance + 1 } else { 1 + (self.rng.unit() * (balance as f64) / 2.0) as i128 };
            self.pl.nonce += 1;
            let nonce = self.pl.nonce;
            let nonce_key = Key::ContractData(c, CKey::Nonce(nonce), Durability::Temporary);
            let args = vec![
                ScVal::Address(account_address(&from)),
                ScVal::Address(account_address(&to)),
                i128_val(amount),
                ScVal::U64(nonce),
            ];
            return Some(self.invoke_draft(from, c, code, "transfer", args, vec![key, to_key, nonce_key]));
        }
        None
    }

    fn extend(&mut self) -> Option<Draft> {
        let src = self.pick_soroban_user(30 * XLM)?;
        let mut keys = Vec::new();
        for _ in 0..3 {
            let k = match self.rng.below(3) {
                0 => Key::ContractData(*self.st.contracts.pick(self.rng)?, CKey::Instance, Durability::Persistent),
                1 => Key::ContractCode(*self.st.codes.pick(self.rng)?),
                _ => self.st.contract_balances.pick(self.rng)?.clone(),
            };
            if self.free(&k) && !keys.contains(&k) && liveness(self.st, self.env.seq, self.u(), &k) == Liveness::Live {
                keys.push(k);
            }
        }
        if keys.is_empty() {
            return None;
        }
        let extend_to = 100 + self.rng.below(2_000) as u32;
        // Read-only keys may be shared, but keep two extensions off the same TTL.
        for k in &keys {
            self.sc.soroban_keys.insert(k.clone());
        }
        let data = self.soroban_data(keys, Vec::new());
        let body = ExtendFootprintTtlOp { ext: ExtensionPoint::V0, extend_to };
        let mut d = Draft::new(src, vec![op(OperationBody::ExtendFootprintTtl(body))]);
        d.soroban = Some(data);
        Some(d)
    }

    fn restore(&mut self) -> Option<Draft> {
        let key = self.st.archived.pick(self.rng)?.clone();
        if !self.free(&key) {
            return None;
        }
        let src = self.pick_soroban_user(30 * XLM)?;
        let data = self.soroban_data(Vec::new(), vec![key]);
        let mut d =
            Draft::new(src, vec![op(OperationBody::RestoreFootprint(RestoreFootprintOp { ext: ExtensionPoint::V0 }))]);
        d.soroban = Some(data);
        Some(d)
    }
}

#[derive(Clone, Copy)]
enum OfferKind {
    Sell,
    Buy,
    Passive,
}

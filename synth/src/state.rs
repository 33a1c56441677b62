//! The simulated ledger state and its journal.
//!
//! Entries are typed (cheap to mutate); [`super::xdr`] turns them into XDR
//! only when a change is recorded. Every mutation goes through the journal,
//! which keeps the pre-image of each entry the first time a frame touches it.
//! That gives nested rollback (a failed operation, a failed transaction, the
//! planning pass of a whole ledger) and the before/after pairs of the meta.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use stellar_xdr::{ClaimPredicate, ScVal};

use super::rng::Rng;
use super::universe::{AssetIx, Id, PoolIx};

/// The rustc "Fx" hash (a multiply-rotate over machine words) with a
/// finalizer: much faster than SipHash for the short keys here, and with no
/// random state.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut v = [0u8; 8];
            v[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(v));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    /// Fx alone leaves the low bits (the bucket index) depending on the low
    /// bits of the last words only; a murmur3 finalizer spreads every bit.
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// What a trustline holds: an asset or pool shares.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum TrustAsset {
    Asset(AssetIx),
    Pool(PoolIx),
}

/// Contract-data keys the simulated contracts use.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum CKey {
    Instance,
    Balance(Id),
    Nonce(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Durability {
    Temporary,
    Persistent,
}

/// A ledger key in compact form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Key {
    Account(Id),
    Trust(Id, TrustAsset),
    Offer(Id, i64),
    Data(Id, String),
    Balance(Id),
    Pool(PoolIx),
    ContractData(Id, CKey, Durability),
    ContractCode(Id),
    Ttl(Id),
    /// An evicted persistent entry, kept in the hot archive; never in meta.
    Archived(Box<Key>),
}

/// A price as the protocol stores it (n/d); ordered by value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Px {
    pub n: i32,
    pub d: i32,
}

impl Ord for Px {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (i64::from(self.n) * i64::from(o.d))
            .cmp(&(i64::from(o.n) * i64::from(self.d)))
            .then(self.n.cmp(&o.n))
            .then(self.d.cmp(&o.d))
    }
}

impl PartialOrd for Px {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Liabilities {
    pub buying: i64,
    pub selling: i64,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountSigner {
    pub key: Id,
    pub weight: u32,
    pub sponsor: Option<Id>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Account {
    pub balance: i64,
    pub seq: i64,
    pub num_sub_entries: u32,
    pub flags: u32,
    pub home_domain: String,
    /// Master weight, low, medium, high.
    pub thresholds: [u8; 4],
    /// Sorted by key, as the protocol keeps them.
    pub signers: Vec<AccountSigner>,
    pub liabilities: Liabilities,
    pub num_sponsored: u32,
    pub num_sponsoring: u32,
    /// Ledger and close time of the last sequence bump (0 = never).
    pub seq_ledger: u32,
    pub seq_time: u64,
}

impl Account {
    /// Reserve the account must keep: two base reserves plus one per sub-entry,
    /// shifted by what it sponsors for others and what others sponsor for it.
    pub fn min_balance(&self, base_reserve: i64) -> i64 {
        let units =
            2 + i64::from(self.num_sub_entries) + i64::from(self.num_sponsoring) - i64::from(self.num_sponsored);
        units * base_reserve
    }

    /// Native balance it can spend.
    pub fn available(&self, base_reserve: i64) -> i64 {
        self.balance - self.min_balance(base_reserve) - self.liabilities.selling
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrustLine {
    pub balance: i64,
    pub limit: i64,
    pub flags: u32,
    pub liabilities: Liabilities,
    pub pool_use: i32,
}

pub const TL_AUTHORIZED: u32 = 1;
pub const TL_MAINTAIN: u32 = 2;
pub const TL_CLAWBACK: u32 = 4;

impl TrustLine {
    pub fn authorized(&self) -> bool {
        self.flags & TL_AUTHORIZED != 0
    }
    pub fn available(&self) -> i64 {
        self.balance - self.liabilities.selling
    }
    pub fn room(&self) -> i64 {
        self.limit - self.balance - self.liabilities.buying
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Offer {
    pub selling: AssetIx,
    pub buying: AssetIx,
    pub amount: i64,
    /// Units of `buying` per unit of `selling`.
    pub price: Px,
    pub passive: bool,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClaimableBalance {
    pub claimants: Vec<(Id, ClaimPredicate)>,
    pub asset: AssetIx,
    pub amount: i64,
    pub clawback: bool,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Pool {
    pub reserve_a: i64,
    pub reserve_b: i64,
    pub shares: i64,
    pub trustlines: i64,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Entry {
    Account(Account),
    Trust(TrustLine),
    Offer(Offer),
    Data(Vec<u8>),
    Balance(ClaimableBalance),
    Pool(Pool),
    ContractData(ScVal),
    ContractCode(Arc<[u8]>),
    Ttl(u32),
}

/// An entry with its ledger-entry envelope fields.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Stored {
    pub entry: Entry,
    pub last_modified: u32,
    pub sponsor: Option<Id>,
}

/// Header values that roll back with a failed transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hdr {
    pub id_pool: u64,
    pub fee_pool: i64,
}

/// A vector with O(1) membership, removal and random choice; order is a
/// deterministic function of the insert/remove history.
#[derive(Debug, Clone)]
pub struct PickList<T: Clone + Eq + Hash> {
    items: Vec<T>,
    pos: HashMap<T, usize>,
}

impl<T: Clone + Eq + Hash> Default for PickList<T> {
    fn default() -> Self {
        PickList::new()
    }
}

impl<T: Clone + Eq + Hash> PickList<T> {
    pub fn new() -> Self {
        PickList { items: Vec::new(), pos: HashMap::default() }
    }
    pub fn insert(&mut self, t: T) {
        if !self.pos.contains_key(&t) {
            self.pos.insert(t.clone(), self.items.len());
            self.items.push(t);
        }
    }
    pub fn remove(&mut self, t: &T) {
        if let Some(i) = self.pos.remove(t) {
            self.items.swap_remove(i);
            if let Some(moved) = self.items.get(i) {
                self.pos.insert(moved.clone(), i);
            }
        }
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn pick(&self, rng: &mut Rng) -> Option<&T> {
        rng.pick(&self.items)
    }
}

/// One level of the journal: where its part of the undo log starts.
#[derive(Default)]
struct Frame {
    start: usize,
    restored_start: usize,
    /// Keys of the frame's log segment, built once the segment is long;
    /// short segments are scanned. Keys a committed child logged may be
    /// missing, which only costs a duplicate pre-image (undo stays exact:
    /// the oldest one is restored last).
    seen: Option<HashSet<Key>>,
    hdr: Hdr,
}

const FRAME_SCAN_LIMIT: usize = 8;

/// Order-book side: offers selling `.0` for `.1`, best (lowest) price first.
pub type Book = BTreeSet<(Px, i64, Id)>;

/// The whole simulated ledger state.
#[derive(Default)]
pub struct State {
    map: HashMap<Key, Stored>,
    frames: Vec<Frame>,
    /// Undo log: pre-images, first touch per frame, in order. A commit only
    /// drops its frame marker, so nothing is moved.
    log: Vec<(Key, Option<Stored>)>,
    restored: Vec<Key>,
    /// Ledger being closed: the `last_modified_ledger_seq` of every write.
    pub seq: u32,
    pub hdr: Hdr,
    pub accounts: PickList<Id>,
    pub trustlines: PickList<(Id, TrustAsset)>,
    pub offers: PickList<(Id, i64)>,
    pub books: BTreeMap<(AssetIx, AssetIx), Book>,
    pub balances: PickList<Id>,
    pub data: PickList<(Id, String)>,
    pub contracts: PickList<Id>,
    pub codes: PickList<Id>,
    /// Persistent contract balances (candidates for TTL extension).
    pub contract_balances: PickList<Key>,
    /// (live until, key hash) of every TTL entry: the eviction queue.
    pub ttls: BTreeSet<(u32, Id)>,
    pub archived: PickList<Key>,
    /// Estimated bytes of live Soroban state (LCM V2 header field).
    pub soroban_bytes: i64,
    /// TTL key hash to the entry it belongs to (a pure function, never rolled back).
    pub ttl_keys: HashMap<Id, Key>,
}

impl State {
    pub fn new() -> Self {
        State::default()
    }

    pub fn get(&self, k: &Key) -> Option<&Stored> {
        self.map.get(k)
    }

    pub fn contains(&self, k: &Key) -> bool {
        self.map.contains_key(k)
    }

    pub fn account(&self, id: &Id) -> Option<&Account> {
        match self.map.get(&Key::Account(*id)).map(|s| &s.entry) {
            Some(Entry::Account(a)) => Some(a),
            _ => None,
        }
    }

    pub fn trust(&self, id: &Id, asset: TrustAsset) -> Option<&TrustLine> {
        match self.map.get(&Key::Trust(*id, asset)).map(|s| &s.entry) {
            Some(Entry::Trust(t)) => Some(t),
            _ => None,
        }
    }

    pub fn offer(&self, seller: &Id, id: i64) -> Option<&Offer> {
        match self.map.get(&Key::Offer(*seller, id)).map(|s| &s.entry) {
            Some(Entry::Offer(o)) => Some(o),
            _ => None,
        }
    }

    pub fn pool(&self, ix: PoolIx) -> Option<&Pool> {
        match self.map.get(&Key::Pool(ix)).map(|s| &s.entry) {
            Some(Entry::Pool(p)) => Some(p),
            _ => None,
        }
    }

    pub fn claimable(&self, id: &Id) -> Option<&ClaimableBalance> {
        match self.map.get(&Key::Balance(*id)).map(|s| &s.entry) {
            Some(Entry::Balance(b)) => Some(b),
            _ => None,
        }
    }

    pub fn ttl(&self, hash: &Id) -> Option<u32> {
        match self.map.get(&Key::Ttl(*hash)).map(|s| &s.entry) {
            Some(Entry::Ttl(t)) => Some(*t),
            _ => None,
        }
    }

    // ---- journal ----

    pub fn begin(&mut self) {
        self.frames.push(Frame {
            start: self.log.len(),
            restored_start: self.restored.len(),
            seen: None,
            hdr: self.hdr,
        });
    }

    /// Keeps the frame's writes; its log segment becomes part of the parent's.
    pub fn commit(&mut self) {
        self.frames.pop().expect("commit without begin");
        if self.frames.is_empty() {
            self.log.clear();
            self.restored.clear();
        }
    }

    /// Undoes every write of the frame.
    pub fn rollback(&mut self) {
        let frame = self.frames.pop().expect("rollback without begin");
        while self.log.len() > frame.start {
            let (k, pre) = self.log.pop().expect("log is longer than the frame start");
            self.raw_put(&k, pre);
        }
        self.restored.truncate(frame.restored_start);
        self.hdr = frame.hdr;
    }

    /// Pre-images of the current frame, in first-touch order, and the keys it restored.
    pub fn frame_touched(&self) -> (&[(Key, Option<Stored>)], &[Key]) {
        let f = self.frames.last().expect("frame_touched without begin");
        (&self.log[f.start..], &self.restored[f.restored_start..])
    }

    /// Records the pre-image of `k` the first time the current frame touches it.
    fn touch(&mut self, k: &Key) {
        let Some(f) = self.frames.last_mut() else { return };
        let segment = &self.log[f.start..];
        let seen = match &mut f.seen {
            Some(s) => !s.insert(k.clone()),
            None if segment.len() >= FRAME_SCAN_LIMIT => {
                let mut s: HashSet<Key> = segment.iter().map(|(x, _)| x.clone()).collect();
                let seen = !s.insert(k.clone());
                f.seen = Some(s);
                seen
            }
            None => segment.iter().any(|(x, _)| x == k),
        };
        if !seen {
            let pre = self.map.get(k).cloned();
            self.log.push((k.clone(), pre));
        }
    }

    pub fn create(&mut self, k: Key, entry: Entry, sponsor: Option<Id>) {
        debug_assert!(!self.map.contains_key(&k), "create of an existing entry {k:?}");
        self.touch(&k);
        let seq = self.seq;
        self.raw_put(&k, Some(Stored { entry, last_modified: seq, sponsor }));
    }

    /// Brings an archived entry back (meta: RESTORED).
    pub fn restore(&mut self, k: Key, stored: Stored) {
        self.touch(&k);
        self.raw_put(&k, Some(Stored { last_modified: self.seq, ..stored }));
        if !self.frames.is_empty() {
            self.restored.push(k);
        }
    }

    pub fn remove(&mut self, k: &Key) -> Option<Stored> {
        if !self.map.contains_key(k) {
            return None;
        }
        self.touch(k);
        self.raw_put(k, None)
    }

    /// Mutates an existing entry (bumping its last-modified ledger).
    pub fn update<R>(&mut self, k: &Key, f: impl FnOnce(&mut Stored) -> R) -> R {
        self.touch(k);
        let reindex = matches!(k, Key::Offer(..) | Key::Ttl(_));
        let old = if reindex { self.map.get(k).cloned() } else { None };
        let seq = self.seq;
        let s = self.map.get_mut(k).unwrap_or_else(|| panic!("update of a missing entry {k:?}"));
        let r = f(s);
        s.last_modified = seq;
        if let Some(old) = old {
            let new = s.clone();
            self.index(k, &old, false);
            self.index(k, &new, true);
        }
        r
    }

    pub fn update_account<R>(&mut self, id: &Id, f: impl FnOnce(&mut Account) -> R) -> R {
        self.update(&Key::Account(*id), |s| match &mut s.entry {
            Entry::Account(a) => f(a),
            _ => unreachable!("account key holds an account"),
        })
    }

    pub fn update_trust<R>(&mut self, id: &Id, asset: TrustAsset, f: impl FnOnce(&mut TrustLine) -> R) -> R {
        self.update(&Key::Trust(*id, asset), |s| match &mut s.entry {
            Entry::Trust(t) => f(t),
            _ => unreachable!("trustline key holds a trustline"),
        })
    }

    pub fn update_offer<R>(&mut self, seller: &Id, id: i64, f: impl FnOnce(&mut Offer) -> R) -> R {
        self.update(&Key::Offer(*seller, id), |s| match &mut s.entry {
            Entry::Offer(o) => f(o),
            _ => unreachable!("offer key holds an offer"),
        })
    }

    pub fn update_pool<R>(&mut self, ix: PoolIx, f: impl FnOnce(&mut Pool) -> R) -> R {
        self.update(&Key::Pool(ix), |s| match &mut s.entry {
            Entry::Pool(p) => f(p),
            _ => unreachable!("pool key holds a pool"),
        })
    }

    /// Writes without journaling (genesis, eviction) — still indexed.
    pub fn put_untracked(&mut self, k: Key, v: Option<Stored>) -> Option<Stored> {
        self.raw_put(&k, v)
    }

    fn raw_put(&mut self, k: &Key, v: Option<Stored>) -> Option<Stored> {
        let Some(new) = v else {
            let old = self.map.remove(k);
            if let Some(o) = &old {
                self.index(k, o, false);
            }
            return old;
        };
        // Only offers (price) and TTLs (expiry) are indexed by value; other
        // replacements keep their index entries (and pick-list order).
        let by_value = matches!(k, Key::Offer(..) | Key::Ttl(_));
        match self.map.get_mut(k) {
            Some(cur) if !by_value => Some(std::mem::replace(cur, new)),
            Some(_) => {
                let old = self.map.insert(k.clone(), new.clone()).expect("entry present");
                self.index(k, &old, false);
                self.index(k, &new, true);
                Some(old)
            }
            None => {
                self.index(k, &new, true);
                self.map.insert(k.clone(), new);
                None
            }
        }
    }

    /// Keeps the secondary indexes in step with the map.
    fn index(&mut self, k: &Key, s: &Stored, add: bool) {
        fn set<T: Clone + Eq + Hash>(l: &mut PickList<T>, t: T, add: bool) {
            if add { l.insert(t) } else { l.remove(&t) }
        }
        match (k, &s.entry) {
            (Key::Account(id), _) => set(&mut self.accounts, *id, add),
            (Key::Trust(id, a), _) => set(&mut self.trustlines, (*id, *a), add),
            (Key::Offer(seller, id), Entry::Offer(o)) => {
                set(&mut self.offers, (*seller, *id), add);
                let book = self.books.entry((o.selling, o.buying)).or_default();
                if add {
                    book.insert((o.price, *id, *seller));
                } else {
                    book.remove(&(o.price, *id, *seller));
                }
            }
            (Key::Data(id, name), _) => set(&mut self.data, (*id, name.clone()), add),
            (Key::Balance(id), _) => set(&mut self.balances, *id, add),
            (Key::ContractData(c, ckey, dur), Entry::ContractData(_)) => {
                let size = if *ckey == CKey::Instance { 160 } else { 112 };
                self.soroban_bytes += if add { size } else { -size };
                match ckey {
                    CKey::Instance => set(&mut self.contracts, *c, add),
                    CKey::Balance(_) if *dur == Durability::Persistent => {
                        set(&mut self.contract_balances, k.clone(), add)
                    }
                    _ => {}
                }
            }
            (Key::ContractCode(h), Entry::ContractCode(code)) => {
                let size = code.len() as i64 + 48;
                self.soroban_bytes += if add { size } else { -size };
                set(&mut self.codes, *h, add);
            }
            (Key::Ttl(h), Entry::Ttl(until)) => {
                if add {
                    self.ttls.insert((*until, *h));
                } else {
                    self.ttls.remove(&(*until, *h));
                }
            }
            (Key::Archived(inner), _) => set(&mut self.archived, (**inner).clone(), add),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(balance: i64) -> Entry {
        Entry::Account(Account { balance, ..Default::default() })
    }

    #[test]
    fn rollback_restores_entries_and_indexes() {
        let mut s = State::new();
        s.seq = 5;
        s.create(Key::Account([1; 32]), acct(10), None);
        s.begin();
        s.update_account(&[1; 32], |a| a.balance = 20);
        s.create(Key::Account([2; 32]), acct(5), None);
        s.begin();
        s.remove(&Key::Account([1; 32]));
        assert_eq!(s.accounts.len(), 1);
        s.commit();
        assert_eq!(s.frame_touched().0.len(), 3, "the child's log segment joins the parent's");
        s.rollback();
        assert_eq!(s.account(&[1; 32]).map(|a| a.balance), Some(10));
        assert!(s.account(&[2; 32]).is_none());
        assert_eq!(s.accounts.len(), 1);
    }

    #[test]
    fn px_orders_by_value() {
        assert!(Px { n: 1, d: 2 } < Px { n: 2, d: 3 });
        assert!(Px { n: 2, d: 4 } != Px { n: 1, d: 2 });
        assert!(Px { n: 1, d: 2 } < Px { n: 2, d: 4 }, "ties broken by representation");
    }
}

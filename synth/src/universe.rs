//! The fixed cast of the simulated network: the root account, asset issuers,
//! liquidity-pool pairs and the ids derived from them. Everything here is a
//! pure function of the seed and the network passphrase.

use sha2::{Digest, Sha256};
use stellar_xdr::{
    AccountId, AlphaNum4, AlphaNum12, Asset, AssetCode4, AssetCode12, ContractIdPreimage, Hash, HashIdPreimage,
    HashIdPreimageContractId, Limits, LiquidityPoolConstantProductParameters, LiquidityPoolParameters, PublicKey,
    Uint256, WriteXdr,
};

/// A 32-byte key or hash (account ids, pool ids, contract ids, balance ids).
pub type Id = [u8; 32];
/// Index into [`Universe::assets`]; 0 is the native asset.
pub type AssetIx = u16;
/// Index into [`Universe::pools`].
pub type PoolIx = u16;

pub const NATIVE: AssetIx = 0;
/// Fee of every constant-product pool, in basis points (the only value the protocol allows).
pub const POOL_FEE_BPS: i32 = 30;

/// Issuer account flags.
pub const AUTH_REQUIRED: u32 = 1;
pub const AUTH_REVOCABLE: u32 = 2;
pub const AUTH_CLAWBACK: u32 = 8;

/// One issued asset and how its issuer is configured.
#[derive(Debug, Clone)]
pub struct AssetInfo {
    pub code: &'static str,
    pub xdr: Asset,
    /// Issuer account (all zeros for native).
    pub issuer: Id,
    /// Flags the issuer sets on itself once created.
    pub issuer_flags: u32,
    /// Starting price in XLM per unit; the market drifts from there.
    pub ref_price: f64,
    /// Stellar Asset Contract id: the `contract_id` of this asset's events.
    pub sac: Id,
    /// "native" or "CODE:G...", the asset string of SAC events.
    pub event_name: String,
}

/// A constant-product pool pair (`a` sorts before `b`, as the protocol requires).
#[derive(Debug, Clone)]
pub struct PoolInfo {
    pub a: AssetIx,
    pub b: AssetIx,
    pub id: Id,
    pub params: LiquidityPoolParameters,
}

#[derive(Debug, Clone)]
pub struct Universe {
    pub network_id: Id,
    pub root: Id,
    /// The validator that signs every ledger's StellarValue.
    pub node: Id,
    pub assets: Vec<AssetInfo>,
    pub pools: Vec<PoolInfo>,
}

/// Code, issuer flags, price in XLM.
const ASSETS: &[(&str, u32, f64)] = &[
    ("USDC", 0, 4.0),
    ("EURC", AUTH_REVOCABLE, 4.4),
    ("BTC", 0, 350_000.0),
    ("AQUA", 0, 0.003),
    ("yXLM", 0, 1.0),
    ("GOLD", AUTH_REQUIRED | AUTH_REVOCABLE | AUTH_CLAWBACK, 300.0),
    ("CARBONCREDIT", AUTH_REQUIRED | AUTH_REVOCABLE, 2.0),
];

/// Pool pairs by asset code ("XLM" = native).
const POOLS: &[(&str, &str)] = &[("XLM", "USDC"), ("XLM", "AQUA"), ("USDC", "EURC"), ("XLM", "yXLM"), ("USDC", "BTC")];

/// sha256 over the concatenation of the parts.
pub fn sha256(parts: &[&[u8]]) -> Id {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Streams XDR into SHA-256 without an intermediate buffer.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// sha256 of a value's XDR.
pub fn xdr_hash(v: &impl WriteXdr) -> Id {
    let mut w = stellar_xdr::Limited::new(HashWriter(Sha256::new()), Limits::none());
    v.write_xdr(&mut w).expect("XDR encoding into a hasher cannot fail");
    w.inner.0.finalize().into()
}

/// A deterministic 32-byte public key. Nobody can sign for it (there is no
/// private key), which is fine: signatures are not verified downstream.
pub fn derive_key(seed: u64, label: &str, n: u64) -> Id {
    sha256(&[b"ducklake-synth", &seed.to_be_bytes(), label.as_bytes(), &n.to_be_bytes()])
}

pub fn account_id(id: &Id) -> AccountId {
    AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(*id)))
}

/// The id a contract created from `preimage` gets on this network.
pub fn contract_id(network_id: &Id, preimage: ContractIdPreimage) -> Id {
    xdr_hash(&HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: Hash(*network_id),
        contract_id_preimage: preimage,
    }))
}

fn credit_asset(code: &str, issuer: &Id) -> Asset {
    let bytes = code.as_bytes();
    if bytes.len() <= 4 {
        let mut c = [0u8; 4];
        c[..bytes.len()].copy_from_slice(bytes);
        Asset::CreditAlphanum4(AlphaNum4 { asset_code: AssetCode4(c), issuer: account_id(issuer) })
    } else {
        let mut c = [0u8; 12];
        c[..bytes.len()].copy_from_slice(bytes);
        Asset::CreditAlphanum12(AlphaNum12 { asset_code: AssetCode12(c), issuer: account_id(issuer) })
    }
}

/// The protocol's asset order (type, then code, then issuer), used for pool pairs.
fn asset_order(a: &Asset) -> (u8, Vec<u8>, Id) {
    match a {
        Asset::Native => (0, Vec::new(), [0; 32]),
        Asset::CreditAlphanum4(x) => (1, x.asset_code.0.to_vec(), issuer_bytes(&x.issuer)),
        Asset::CreditAlphanum12(x) => (2, x.asset_code.0.to_vec(), issuer_bytes(&x.issuer)),
    }
}

fn issuer_bytes(a: &AccountId) -> Id {
    let PublicKey::PublicKeyTypeEd25519(k) = &a.0;
    k.0
}

impl Universe {
    pub fn new(seed: u64, network_id: Id) -> Self {
        let native_sac = contract_id(&network_id, ContractIdPreimage::Asset(Asset::Native));
        let mut assets = vec![AssetInfo {
            code: "XLM",
            xdr: Asset::Native,
            issuer: [0; 32],
            issuer_flags: 0,
            ref_price: 1.0,
            sac: native_sac,
            event_name: "native".into(),
        }];
        for (i, &(code, flags, price)) in ASSETS.iter().enumerate() {
            let issuer = derive_key(seed, "issuer", i as u64);
            let xdr = credit_asset(code, &issuer);
            let sac = contract_id(&network_id, ContractIdPreimage::Asset(xdr.clone()));
            let event_name = format!("{code}:{}", stellar_strkey::ed25519::PublicKey(issuer).to_string());
            assets.push(AssetInfo { code, xdr, issuer, issuer_flags: flags, ref_price: price, sac, event_name });
        }
        let ix = |code: &str| assets.iter().position(|a| a.code == code).expect("pool assets are in the asset table");
        let pools = POOLS
            .iter()
            .map(|&(x, y)| {
                let (mut a, mut b) = (ix(x), ix(y));
                if asset_order(&assets[a].xdr) > asset_order(&assets[b].xdr) {
                    std::mem::swap(&mut a, &mut b);
                }
                let params =
                    LiquidityPoolParameters::LiquidityPoolConstantProduct(LiquidityPoolConstantProductParameters {
                        asset_a: assets[a].xdr.clone(),
                        asset_b: assets[b].xdr.clone(),
                        fee: POOL_FEE_BPS,
                    });
                PoolInfo { a: a as AssetIx, b: b as AssetIx, id: xdr_hash(&params), params }
            })
            .collect();
        Universe {
            network_id,
            root: derive_key(seed, "root", 0),
            node: derive_key(seed, "validator", 0),
            assets,
            pools,
        }
    }

    pub fn asset(&self, ix: AssetIx) -> &AssetInfo {
        &self.assets[usize::from(ix)]
    }

    /// Credit assets (every index but native).
    pub fn credit_assets(&self) -> impl Iterator<Item = AssetIx> + '_ {
        (1..self.assets.len()).map(|i| i as AssetIx)
    }

    pub fn is_issuer(&self, account: &Id, asset: AssetIx) -> bool {
        asset != NATIVE && self.asset(asset).issuer == *account
    }

    /// The pool for an unordered pair, if one is defined.
    pub fn pool_for(&self, x: AssetIx, y: AssetIx) -> Option<PoolIx> {
        self.pools.iter().position(|p| (p.a == x && p.b == y) || (p.a == y && p.b == x)).map(|i| i as PoolIx)
    }

    pub fn pool(&self, ix: PoolIx) -> &PoolInfo {
        &self.pools[usize::from(ix)]
    }
}

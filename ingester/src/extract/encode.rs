//! How XDR values become column values: strkeys, asset strings, TOIDs, enum
//! names, amounts. One definition per format, so every table agrees.

use stellar_xdr::{
    AccountId, AlphaNum4, AlphaNum12, Asset, ChangeTrustAsset, ClaimableBalanceId, Hash, Limits, MuxedAccount,
    PublicKey, ScAddress, TrustLineAsset, WriteXdr,
};

/// `G...` for an ed25519 public key.
pub fn g_address(key: &[u8; 32]) -> String {
    strkey(VERSION_ACCOUNT, key, &[])
}

/// Strkey version bytes (SEP-23): the type's number shifted left by three.
const VERSION_ACCOUNT: u8 = 6 << 3;
const VERSION_MUXED: u8 = 12 << 3;
const VERSION_CONTRACT: u8 = 2 << 3;

/// SEP-23 strkey: base32 (RFC 4648, no padding) of the version byte, the
/// payload (`key` then `tail`) and its CRC16-XModem, little-endian. Written
/// here rather than through `stellar_strkey` because extraction makes one
/// for nearly every row (accounts, sources, issuers): this fills one stack
/// buffer and allocates the string once, at its exact size, where the
/// crate's goes through two intermediate buffers and a heap copy.
fn strkey(version: u8, key: &[u8; 32], tail: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut raw = [0u8; 1 + 32 + 8 + 2];
    let n = 1 + 32 + tail.len().min(8);
    raw[0] = version;
    raw[1..33].copy_from_slice(key);
    raw[33..n].copy_from_slice(&tail[..n - 33]);
    let crc = crc16_xmodem(&raw[..n]).to_le_bytes();
    raw[n..n + 2].copy_from_slice(&crc);
    let raw = &raw[..n + 2];
    let mut out = Vec::with_capacity((raw.len() * 8).div_ceil(5));
    let (mut bits, mut acc) = (0u32, 0u32);
    for &b in raw {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize]);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize]);
    }
    // Every byte comes from the ASCII alphabet.
    String::from_utf8(out).unwrap_or_default()
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), by a table built at compile time.
fn crc16_xmodem(data: &[u8]) -> u16 {
    const TABLE: [u16; 256] = {
        let mut t = [0u16; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = (i as u16) << 8;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
                bit += 1;
            }
            t[i] = crc;
            i += 1;
        }
        t
    };
    data.iter().fold(0u16, |crc, &b| (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ b)])
}

/// `G...` for an account id.
pub fn account_id(id: &AccountId) -> String {
    let PublicKey::PublicKeyTypeEd25519(k) = &id.0;
    g_address(&k.0)
}

/// The underlying `G...` account of a possibly muxed account.
pub fn muxed_base(m: &MuxedAccount) -> String {
    match m {
        MuxedAccount::Ed25519(k) => g_address(&k.0),
        MuxedAccount::MuxedEd25519(m) => g_address(&m.ed25519.0),
    }
}

/// `M...` when the account is muxed, else `None`.
pub fn muxed_address(m: &MuxedAccount) -> Option<String> {
    match m {
        MuxedAccount::Ed25519(_) => None,
        MuxedAccount::MuxedEd25519(m) => Some(strkey(VERSION_MUXED, &m.ed25519.0, &m.id.to_be_bytes())),
    }
}

/// `C...` for a contract id.
pub fn contract_address(id: &[u8; 32]) -> String {
    strkey(VERSION_CONTRACT, id, &[])
}

/// Strkey of any Soroban address (`G`, `C`, `M`, `B`, `L`).
pub fn sc_address(a: &ScAddress) -> String {
    a.to_string()
}

/// Lower-case hex of a 32-byte hash.
pub fn hash_hex(h: &Hash) -> String {
    hex::encode(h.0)
}

/// Claimable balance id as Horizon and stellar-etl print it: hex of its XDR
/// (4-byte type then the 32-byte hash, 72 hex digits).
pub fn claimable_balance_id(id: &ClaimableBalanceId) -> String {
    let ClaimableBalanceId::ClaimableBalanceIdTypeV0(h) = id;
    format!("00000000{}", hex::encode(h.0))
}

/// Standard base64 of a value's XDR. The XDR is written into a buffer each
/// thread keeps (a transaction's meta is tens of KB: growing a new vector
/// for each one copied it several times), and the base64 into a string of
/// its exact size.
pub fn xdr_base64(v: &impl WriteXdr) -> String {
    use base64::Engine;
    thread_local!(static XDR: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    XDR.with_borrow_mut(|buf| {
        buf.clear();
        // Writing a decoded value into memory cannot fail.
        let _ = v.write_xdr(&mut stellar_xdr::Limited::new(&mut *buf, Limits::none()));
        let out = base64::engine::general_purpose::STANDARD.encode(buf.as_slice());
        if buf.capacity() > 4 << 20 {
            // One huge value does not keep its buffer for the thread's life.
            *buf = Vec::new();
        }
        out
    })
}

/// Bytes of the XDR that `base64` (standard, padded, as [`xdr_base64`]
/// writes) encodes.
pub fn base64_decoded_len(base64: &str) -> usize {
    let padding = base64.bytes().rev().take_while(|b| *b == b'=').count();
    base64.len() / 4 * 3 - padding
}

/// TOID (SEP-0035 / Horizon / stellar-etl): ledger << 32 | tx order << 12 | op index.
/// `tx_order` and `op_index` are 1-based; 0 names the ledger or the transaction itself.
pub fn toid(ledger: u32, tx_order: u32, op_index: u32) -> i64 {
    (i64::from(ledger) << 32) | (i64::from(tx_order & 0xF_FFFF) << 12) | i64::from(op_index & 0xFFF)
}

/// Ledgers grouped in buckets of 10,000 (the Go tool's `ledger_range` column).
pub fn ledger_range(seq: u32) -> i64 {
    i64::from(seq / 10_000 * 10_000)
}

/// Asset code without trailing NUL padding; invalid UTF-8 is replaced.
pub fn asset_code(bytes: &[u8]) -> String {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// An asset split into the four column forms used by every table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssetColumns {
    /// `native`, or `credit_alphanum4/CODE/ISSUER` (the Go tool's form).
    pub canonical: String,
    /// `native`, `credit_alphanum4`, `credit_alphanum12` or `liquidity_pool_shares`.
    pub asset_type: String,
    pub code: Option<String>,
    pub issuer: Option<String>,
}

pub fn asset(a: &Asset) -> AssetColumns {
    match a {
        Asset::Native => native(),
        Asset::CreditAlphanum4(AlphaNum4 { asset_code: c, issuer }) => credit("credit_alphanum4", &c.0, issuer),
        Asset::CreditAlphanum12(AlphaNum12 { asset_code: c, issuer }) => credit("credit_alphanum12", &c.0, issuer),
    }
}

pub fn change_trust_asset(a: &ChangeTrustAsset) -> AssetColumns {
    match a {
        ChangeTrustAsset::Native => native(),
        ChangeTrustAsset::CreditAlphanum4(AlphaNum4 { asset_code: c, issuer }) => {
            credit("credit_alphanum4", &c.0, issuer)
        }
        ChangeTrustAsset::CreditAlphanum12(AlphaNum12 { asset_code: c, issuer }) => {
            credit("credit_alphanum12", &c.0, issuer)
        }
        ChangeTrustAsset::PoolShare(_) => pool_shares(),
    }
}

pub fn trust_line_asset(a: &TrustLineAsset) -> AssetColumns {
    match a {
        TrustLineAsset::Native => native(),
        TrustLineAsset::CreditAlphanum4(AlphaNum4 { asset_code: c, issuer }) => {
            credit("credit_alphanum4", &c.0, issuer)
        }
        TrustLineAsset::CreditAlphanum12(AlphaNum12 { asset_code: c, issuer }) => {
            credit("credit_alphanum12", &c.0, issuer)
        }
        TrustLineAsset::PoolShare(_) => pool_shares(),
    }
}

fn native() -> AssetColumns {
    AssetColumns { canonical: "native".into(), asset_type: "native".into(), code: None, issuer: None }
}

fn pool_shares() -> AssetColumns {
    AssetColumns {
        canonical: "liquidity_pool_shares".into(),
        asset_type: "liquidity_pool_shares".into(),
        code: None,
        issuer: None,
    }
}

fn credit(kind: &str, code: &[u8], issuer: &AccountId) -> AssetColumns {
    let code = asset_code(code);
    let issuer = account_id(issuer);
    AssetColumns {
        canonical: format!("{kind}/{code}/{issuer}"),
        asset_type: kind.into(),
        code: Some(code),
        issuer: Some(issuer),
    }
}

/// A price fraction as a decimal with 7 places, rounded half away from zero
/// (matches Go's `%.7f` of n/d without floating-point error).
pub fn price_decimal(n: i32, d: i32) -> Option<String> {
    ratio_decimal(i128::from(n), i128::from(d))
}

/// `n / d` as an exact decimal with 7 places, rounded half away from zero;
/// `None` when `d` is 0. Exact for any 64-bit operands (i128 arithmetic).
pub fn ratio_decimal(n: i128, d: i128) -> Option<String> {
    if d == 0 {
        return None;
    }
    let scaled = n * 10_000_000;
    let q = scaled / d;
    let r = scaled % d;
    let q = if 2 * r.abs() >= d.abs() { q + scaled.signum() * d.signum() } else { q };
    let sign = if q < 0 { "-" } else { "" };
    let q = q.abs();
    Some(format!("{sign}{}.{:07}", q / 10_000_000, q % 10_000_000))
}

/// Stroops as a decimal string with exactly 7 places (`amount.String` in the
/// Stellar Go SDK): `12.3400000`, `-0.0000001`. Used by every VARCHAR amount column.
pub fn amount_decimal(stroops: i64) -> String {
    let sign = if stroops < 0 { "-" } else { "" };
    let v = stroops.unsigned_abs();
    format!("{sign}{}.{:07}", v / 10_000_000, v % 10_000_000)
}

/// `snake_case` of a `CamelCase` XDR variant name (`PathPaymentStrictSend` -> `path_payment_strict_send`).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strkeys_equal_the_stellar_strkey_crates() {
        // A cheap deterministic byte stream covers all-zero, all-0xff and mixed keys.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut keys = vec![[0u8; 32], [0xff; 32]];
        for _ in 0..500 {
            let mut k = [0u8; 32];
            k.iter_mut().for_each(|b| *b = next() as u8);
            keys.push(k);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(g_address(k), stellar_strkey::ed25519::PublicKey(*k).to_string().as_str());
            assert_eq!(contract_address(k), stellar_strkey::Contract(*k).to_string().as_str());
            let id = if i % 3 == 0 { u64::MAX - i as u64 } else { next() };
            let m =
                MuxedAccount::MuxedEd25519(stellar_xdr::MuxedAccountMed25519 { id, ed25519: stellar_xdr::Uint256(*k) });
            let expected = stellar_strkey::ed25519::MuxedAccount { ed25519: *k, id }.to_string();
            assert_eq!(muxed_address(&m).as_deref(), Some(expected.as_str()));
        }
    }

    #[test]
    fn xdr_base64_is_the_values_xdr_and_its_length_is_known() {
        use base64::Engine;
        for n in 0..7usize {
            let v = stellar_xdr::ScBytes(vec![7u8; n].try_into().unwrap());
            let text = xdr_base64(&v);
            let xdr = v.to_xdr(Limits::none()).unwrap();
            assert_eq!(text, base64::engine::general_purpose::STANDARD.encode(&xdr));
            assert_eq!(base64_decoded_len(&text), xdr.len());
        }
        // A value larger than the kept buffer, then a small one: no stale bytes.
        let big = stellar_xdr::ScBytes(vec![1u8; 5 << 20].try_into().unwrap());
        assert_eq!(base64_decoded_len(&xdr_base64(&big)), (5 << 20) + 4);
        assert_eq!(xdr_base64(&stellar_xdr::ScBytes(vec![2u8].try_into().unwrap())), "AAAAAQIAAAA=");
    }

    #[test]
    fn toid_matches_stellar_etl_golden() {
        // transactions golden: ledger 30822015, first tx id 132379546421821440 + (1 << 12)
        assert_eq!(toid(30822015, 0, 0), 132379546421821440);
        assert_eq!(toid(30822015, 1, 0), 132379546421821440 + 4096);
        assert_eq!(toid(30822015, 15, 1), 132379546421882881);
    }

    #[test]
    fn prices() {
        assert_eq!(price_decimal(1, 10_000_000).as_deref(), Some("0.0000001"));
        assert_eq!(price_decimal(1, 3).as_deref(), Some("0.3333333"));
        assert_eq!(price_decimal(2, 3).as_deref(), Some("0.6666667"));
        assert_eq!(price_decimal(5, 1).as_deref(), Some("5.0000000"));
        assert_eq!(price_decimal(i32::MAX, 1).as_deref(), Some("2147483647.0000000"));
        assert_eq!(price_decimal(1, 0), None);
        let max = i128::from(i64::MAX);
        assert_eq!(ratio_decimal(max, 1).as_deref(), Some("9223372036854775807.0000000"));
        assert_eq!(ratio_decimal(1, max).as_deref(), Some("0.0000000"));
        assert_eq!(ratio_decimal(15, 10_000_000 * 10).as_deref(), Some("0.0000002"));
    }

    #[test]
    fn amounts() {
        assert_eq!(amount_decimal(0), "0.0000000");
        assert_eq!(amount_decimal(123_400_000), "12.3400000");
        assert_eq!(amount_decimal(-1), "-0.0000001");
        assert_eq!(amount_decimal(i64::MIN), "-922337203685.4775808");
    }

    #[test]
    fn names() {
        assert_eq!(snake_case("PathPaymentStrictSend"), "path_payment_strict_send");
        assert_eq!(snake_case("ExtendFootprintTtl"), "extend_footprint_ttl");
        assert_eq!(asset_code(b"USD\0"), "USD");
        assert_eq!(ledger_range(63092982), 63090000);
    }

    #[test]
    fn strkeys() {
        assert_eq!(g_address(&[0; 32]), "GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF");
        assert_eq!(contract_address(&[0; 32]), "CAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABSC4");
    }
}

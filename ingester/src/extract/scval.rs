//! Soroban values (`ScVal`) as JSON, for the `*_decoded` columns.
//!
//! The mapping follows the shape of SEP-51 "XDR-JSON" (what `stellar xdr
//! decode` and the Rust `stellar-xdr` serde output look like), so every
//! value names its own type and nothing is lost:
//!
//! | ScVal | JSON |
//! |---|---|
//! | bool | `{"bool":true}` |
//! | void | `"void"` |
//! | u32 / i32 | `{"u32":7}` / `{"i32":-7}` (JSON numbers) |
//! | u64 / i64 / timepoint / duration | `{"u64":"7"}` ... decimal **strings** (they can exceed 2^53) |
//! | u128 / i128 / u256 / i256 | `{"i128":"-170141183460469231731687303715884105728"}` decimal strings |
//! | bytes | `{"bytes":"<lower-case hex>"}` |
//! | string / symbol | `{"string":"text"}` / `{"symbol":"transfer"}`; bytes that are not UTF-8 become `{"string_hex":"<hex>"}` / `{"symbol_hex":"<hex>"}` |
//! | address | `{"address":"G..."}` strkey (`G`, `M`, `C`, `B`, `L`, and the muxed-contract strkey) |
//! | vec | `{"vec":[...]}` (`{"vec":null}` for an absent vector) |
//! | map | `{"map":[{"key":...,"val":...}, ...]}` in XDR order (`{"map":null}` when absent) |
//! | error | `{"error":{"contract":5}}` or `{"error":{"auth":"invalid_action"}}` |
//! | contract instance | `{"contract_instance":{"executable":{"wasm":"<hex>"} \| "stellar_asset" \| {"external_ref":{...}},"storage":<map or null>}}` |
//! | ledger key contract instance | `"ledger_key_contract_instance"` |
//! | ledger key nonce | `{"ledger_key_nonce":{"nonce":"<i64 string>"}}` |
//! | executable tag | `{"executable_tag":"text"}` (`executable_tag_hex` when not UTF-8) |

use stellar_xdr::{
    ContractExecutable, Int128Parts, Int256Parts, ScAddress, ScError, ScErrorCode, ScMap, ScVal, ScVec, UInt128Parts,
    UInt256Parts,
};

use super::encode::{sc_address, snake_case};
use super::json;

/// The JSON form of one value (see the module table), as text.
pub fn to_json(v: &ScVal) -> String {
    let mut out = String::with_capacity(64);
    write(v, &mut out);
    out
}

/// A JSON array of the values' JSON forms, as text (the `topics_decoded` column).
pub fn array_json(vals: &[ScVal]) -> String {
    let mut out = String::with_capacity(32 * vals.len() + 2);
    out.push('[');
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(v, &mut out);
    }
    out.push(']');
    out
}

/// Appends the JSON form of `v` to `out`. Objects with several keys write
/// them sorted, as serde_json's maps did (`executable` < `storage`,
/// `executable_owner` < `tag`, `key` < `val`).
fn write(v: &ScVal, out: &mut String) {
    let tagged = |tag: &str, out: &mut String, body: &dyn Fn(&mut String)| {
        json::open_key(tag, out);
        body(out);
        out.push('}');
    };
    match v {
        ScVal::Bool(b) => tagged("bool", out, &|o| o.push_str(if *b { "true" } else { "false" })),
        ScVal::Void => out.push_str("\"void\""),
        ScVal::Error(e) => tagged("error", out, &|o| error(e, o)),
        ScVal::U32(n) => tagged("u32", out, &|o| json::number(n, o)),
        ScVal::I32(n) => tagged("i32", out, &|o| json::number(n, o)),
        ScVal::U64(n) => tagged("u64", out, &|o| json::number_string(n, o)),
        ScVal::I64(n) => tagged("i64", out, &|o| json::number_string(n, o)),
        ScVal::Timepoint(t) => tagged("timepoint", out, &|o| json::number_string(t.0, o)),
        ScVal::Duration(d) => tagged("duration", out, &|o| json::number_string(d.0, o)),
        ScVal::U128(p) => tagged("u128", out, &|o| json::number_string(u128_value(p), o)),
        ScVal::I128(p) => tagged("i128", out, &|o| json::number_string(i128_value(p), o)),
        ScVal::U256(p) => tagged("u256", out, &|o| json::string(&u256_decimal(p), o)),
        ScVal::I256(p) => tagged("i256", out, &|o| json::string(&i256_decimal(p), o)),
        ScVal::Bytes(b) => tagged("bytes", out, &|o| json::hex_string(b.as_slice(), o)),
        ScVal::String(s) => text("string", s.0.as_slice(), out),
        ScVal::Symbol(s) => text("symbol", s.0.as_slice(), out),
        ScVal::Vec(v) => tagged("vec", out, &|o| vec(v.as_ref(), o)),
        ScVal::Map(m) => tagged("map", out, &|o| map(m.as_ref(), o)),
        ScVal::Address(a) => address(a, out),
        ScVal::ContractInstance(i) => tagged("contract_instance", out, &|o| {
            json::open_key("executable", o);
            match &i.executable {
                ContractExecutable::Wasm(h) => tagged("wasm", o, &|o| json::hex_string(&h.0, o)),
                ContractExecutable::StellarAsset => o.push_str("\"stellar_asset\""),
                ContractExecutable::ExternalRef(r) => tagged("external_ref", o, &|o| {
                    json::open_key("executable_owner", o);
                    json::string(&sc_address(&r.executable_owner), o);
                    json::next_key("tag", o);
                    text("string", r.tag.0.as_slice(), o);
                    o.push('}');
                }),
            }
            json::next_key("storage", o);
            map(i.storage.as_ref(), o);
            o.push('}');
        }),
        ScVal::LedgerKeyContractInstance => out.push_str("\"ledger_key_contract_instance\""),
        ScVal::LedgerKeyNonce(n) => tagged("ledger_key_nonce", out, &|o| {
            json::open_key("nonce", o);
            json::number_string(n.nonce, o);
            o.push('}');
        }),
        ScVal::ExecutableTag(t) => text("executable_tag", t.0.as_slice(), out),
    }
}

/// Text that may not be UTF-8 (XDR strings are bytes): the text itself, or
/// its hex under `<tag>_hex`, so the JSON never silently alters bytes.
fn text(tag: &str, bytes: &[u8], out: &mut String) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            json::open_key(tag, out);
            json::string(s, out);
        }
        Err(_) => {
            out.push_str("{\"");
            out.push_str(tag);
            out.push_str("_hex\":");
            json::hex_string(bytes, out);
        }
    }
    out.push('}');
}

fn vec(v: Option<&ScVec>, out: &mut String) {
    let Some(v) = v else { return out.push_str("null") };
    out.push('[');
    for (i, x) in v.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(x, out);
    }
    out.push(']');
}

fn map(m: Option<&ScMap>, out: &mut String) {
    let Some(m) = m else { return out.push_str("null") };
    out.push('[');
    for (i, e) in m.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::open_key("key", out);
        write(&e.key, out);
        json::next_key("val", out);
        write(&e.val, out);
        out.push('}');
    }
    out.push(']');
}

fn address(a: &ScAddress, out: &mut String) {
    json::open_key("address", out);
    json::string(&sc_address(a), out);
    out.push('}');
}

fn error(e: &ScError, out: &mut String) {
    let (kind, code) = match e {
        ScError::Contract(n) => {
            json::open_key("contract", out);
            json::number(n, out);
            return out.push('}');
        }
        ScError::WasmVm(c) => ("wasm_vm", c),
        ScError::Context(c) => ("context", c),
        ScError::Storage(c) => ("storage", c),
        ScError::Object(c) => ("object", c),
        ScError::Crypto(c) => ("crypto", c),
        ScError::Events(c) => ("events", c),
        ScError::Budget(c) => ("budget", c),
        ScError::Value(c) => ("value", c),
        ScError::Auth(c) => ("auth", c),
    };
    json::open_key(kind, out);
    json::string(&error_code(*code), out);
    out.push('}');
}

fn error_code(c: ScErrorCode) -> String {
    snake_case(c.name())
}

fn u128_value(p: &UInt128Parts) -> u128 {
    (u128::from(p.hi) << 64) | u128::from(p.lo)
}

fn i128_value(p: &Int128Parts) -> i128 {
    (i128::from(p.hi) << 64) | i128::from(p.lo)
}

fn u256_decimal(p: &UInt256Parts) -> String {
    limbs_decimal([p.hi_hi, p.hi_lo, p.lo_hi, p.lo_lo])
}

/// Two's complement 256-bit value: negate the magnitude when the top bit is set.
fn i256_decimal(p: &Int256Parts) -> String {
    let limbs = [p.hi_hi as u64, p.hi_lo, p.lo_hi, p.lo_lo];
    if p.hi_hi >= 0 {
        return limbs_decimal(limbs);
    }
    // magnitude = !x + 1 (limbs are big-endian)
    let mut mag = limbs.map(|l| !l);
    for limb in mag.iter_mut().rev() {
        let (v, carry) = limb.overflowing_add(1);
        *limb = v;
        if !carry {
            break;
        }
    }
    format!("-{}", limbs_decimal(mag))
}

/// Decimal digits of a big-endian 256-bit unsigned integer (repeated
/// division by 10^19, the largest power of ten in a u64).
fn limbs_decimal(mut limbs: [u64; 4]) -> String {
    const CHUNK: u64 = 10_000_000_000_000_000_000;
    let mut chunks = Vec::new();
    while limbs.iter().any(|l| *l != 0) {
        let mut rem: u128 = 0;
        for limb in limbs.iter_mut() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / u128::from(CHUNK)) as u64;
            rem = cur % u128::from(CHUNK);
        }
        chunks.push(rem as u64);
    }
    match chunks.split_last() {
        None => "0".into(),
        Some((first, rest)) => {
            let mut s = first.to_string();
            for c in rest.iter().rev() {
                s.push_str(&format!("{c:019}"));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{
        AccountId, ContractId, Hash, MuxedContract, PublicKey, ScBytes, ScMapEntry, ScNonceKey, ScString, ScSymbol,
        Uint256,
    };

    fn s(v: &ScVal) -> String {
        let text = to_json(v);
        // Valid JSON, and the text serde_json would write for it.
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(parsed.to_string(), text);
        text
    }

    #[test]
    fn scalars() {
        assert_eq!(s(&ScVal::Bool(true)), r#"{"bool":true}"#);
        assert_eq!(s(&ScVal::Void), r#""void""#);
        assert_eq!(s(&ScVal::U32(7)), r#"{"u32":7}"#);
        assert_eq!(s(&ScVal::I32(-7)), r#"{"i32":-7}"#);
        assert_eq!(s(&ScVal::U64(u64::MAX)), r#"{"u64":"18446744073709551615"}"#);
        assert_eq!(s(&ScVal::I64(i64::MIN)), r#"{"i64":"-9223372036854775808"}"#);
        assert_eq!(s(&ScVal::LedgerKeyNonce(ScNonceKey { nonce: -3 })), r#"{"ledger_key_nonce":{"nonce":"-3"}}"#);
        assert_eq!(s(&ScVal::Error(ScError::Contract(5))), r#"{"error":{"contract":5}}"#);
        assert_eq!(
            s(&ScVal::Error(ScError::Auth(ScErrorCode::InvalidAction))),
            r#"{"error":{"auth":"invalid_action"}}"#
        );
    }

    #[test]
    fn big_integers() {
        let i128min = ScVal::I128(Int128Parts { hi: i64::MIN, lo: 0 });
        assert_eq!(s(&i128min), format!(r#"{{"i128":"{}"}}"#, i128::MIN));
        let minus_one = ScVal::I128(Int128Parts { hi: -1, lo: u64::MAX });
        assert_eq!(s(&minus_one), r#"{"i128":"-1"}"#);
        let u128max = ScVal::U128(UInt128Parts { hi: u64::MAX, lo: u64::MAX });
        assert_eq!(s(&u128max), format!(r#"{{"u128":"{}"}}"#, u128::MAX));
        let u256max = ScVal::U256(UInt256Parts { hi_hi: u64::MAX, hi_lo: u64::MAX, lo_hi: u64::MAX, lo_lo: u64::MAX });
        assert_eq!(
            s(&u256max),
            r#"{"u256":"115792089237316195423570985008687907853269984665640564039457584007913129639935"}"#
        );
        let i256min = ScVal::I256(Int256Parts { hi_hi: i64::MIN, hi_lo: 0, lo_hi: 0, lo_lo: 0 });
        assert_eq!(
            s(&i256min),
            r#"{"i256":"-57896044618658097711785492504343953926634992332820282019728792003956564819968"}"#
        );
        let i256_m1 = ScVal::I256(Int256Parts { hi_hi: -1, hi_lo: u64::MAX, lo_hi: u64::MAX, lo_lo: u64::MAX });
        assert_eq!(s(&i256_m1), r#"{"i256":"-1"}"#);
        let ten19 = ScVal::U256(UInt256Parts { hi_hi: 0, hi_lo: 0, lo_hi: 0, lo_lo: 10_000_000_000_000_000_000 });
        assert_eq!(s(&ten19), r#"{"u256":"10000000000000000000"}"#);
        assert_eq!(s(&ScVal::U256(UInt256Parts { hi_hi: 0, hi_lo: 0, lo_hi: 0, lo_lo: 0 })), r#"{"u256":"0"}"#);
    }

    #[test]
    fn containers_text_and_addresses() {
        let sym = ScVal::Symbol(ScSymbol("transfer".try_into().unwrap()));
        let bad = ScVal::String(ScString(vec![0xff, 0x41].try_into().unwrap()));
        let bytes = ScVal::Bytes(ScBytes(vec![0xde, 0xad].try_into().unwrap()));
        let acct = ScVal::Address(ScAddress::Account(AccountId(PublicKey::PublicKeyTypeEd25519(Uint256([0; 32])))));
        let muxed =
            ScVal::Address(ScAddress::MuxedContract(MuxedContract { id: 9, contract_id: ContractId(Hash([0; 32])) }));
        let m = ScVal::Map(Some(ScMap(vec![ScMapEntry { key: sym.clone(), val: bytes.clone() }].try_into().unwrap())));
        // Every address kind is a strkey that parses back to the same address.
        let ScVal::Address(mc) = &muxed else { unreachable!() };
        let parsed: serde_json::Value = serde_json::from_str(&to_json(&muxed)).unwrap();
        let text = parsed["address"].as_str().unwrap().to_string();
        assert_eq!(&text.parse::<ScAddress>().unwrap(), mc);
        let v = ScVal::Vec(Some(ScVec(vec![sym, bad, acct, m, ScVal::Vec(None)].try_into().unwrap())));
        assert_eq!(
            s(&v),
            concat!(
                r#"{"vec":[{"symbol":"transfer"},{"string_hex":"ff41"},"#,
                r#"{"address":"GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF"},"#,
                r#"{"map":[{"key":{"symbol":"transfer"},"val":{"bytes":"dead"}}]},{"vec":null}]}"#
            )
        );
    }

    #[test]
    fn contract_instances_and_escaped_text() {
        use stellar_xdr::{ContractExecutableExternalRef, ScContractInstance};
        let sym = ScVal::Symbol(ScSymbol("k".try_into().unwrap()));
        let storage = Some(ScMap(vec![ScMapEntry { key: sym.clone(), val: ScVal::U32(1) }].try_into().unwrap()));
        let wasm = ScVal::ContractInstance(ScContractInstance {
            executable: ContractExecutable::Wasm(Hash([0xab; 32])),
            storage: storage.clone(),
        });
        assert_eq!(
            s(&wasm),
            format!(
                r#"{{"contract_instance":{{"executable":{{"wasm":"{}"}},"storage":[{{"key":{{"symbol":"k"}},"val":{{"u32":1}}}}]}}}}"#,
                "ab".repeat(32)
            )
        );
        let owner = ScAddress::Contract(ContractId(Hash([0; 32])));
        let external = ScVal::ContractInstance(ScContractInstance {
            executable: ContractExecutable::ExternalRef(ContractExecutableExternalRef {
                executable_owner: owner,
                tag: ScString("t\"\n".as_bytes().to_vec().try_into().unwrap()),
            }),
            storage: None,
        });
        assert!(s(&external).contains(r#""tag":{"string":"t\"\n"}}},"storage":null"#), "{}", s(&external));
        let sac = ScVal::ContractInstance(ScContractInstance { executable: ContractExecutable::StellarAsset, storage });
        assert!(s(&sac).starts_with(r#"{"contract_instance":{"executable":"stellar_asset","storage":["#));
        assert_eq!(s(&ScVal::LedgerKeyContractInstance), r#""ledger_key_contract_instance""#);
        assert_eq!(array_json(&[sym.clone(), ScVal::Void]), r#"[{"symbol":"k"},"void"]"#);
        assert_eq!(array_json(&[]), "[]");
    }
}

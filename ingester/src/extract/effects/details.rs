//! The pieces of stellar-etl's effect `details` objects: asset fields, pool
//! summaries, claim predicates, and the JSON text itself (sorted keys, Go's
//! string escaping) so `details` compares byte for byte with stellar-etl.

use serde_json::{Map, Value, json};
use stellar_xdr::{Asset, ClaimPredicate, LiquidityPoolEntry, LiquidityPoolEntryBody};

use super::super::encode::{amount_decimal, asset, hash_hex};

pub type Details = Map<String, Value>;

/// `asset_type`, `asset_code`, `asset_issuer` (the last two absent for
/// native), each key prefixed (stellar-etl's `addAssetDetails`).
pub fn add_asset(d: &mut Details, a: &Asset, prefix: &str) {
    let cols = asset(a);
    d.insert(format!("{prefix}asset_type"), cols.asset_type.into());
    if let (Some(code), Some(issuer)) = (cols.code, cols.issuer) {
        d.insert(format!("{prefix}asset_code"), code.into());
        d.insert(format!("{prefix}asset_issuer"), issuer.into());
    }
}

/// `{"amount": …, <asset fields>}`, the body of credit/debit effects.
pub fn amount_and_asset(stroops: i64, a: &Asset) -> Details {
    let mut d = Details::new();
    d.insert("amount".into(), amount_decimal(stroops).into());
    add_asset(&mut d, a, "");
    d
}

/// SEP-11 canonical asset string: `native` or `CODE:ISSUER` (Go's `StringCanonical`).
pub fn canonical(a: &Asset) -> String {
    let cols = asset(a);
    match (cols.code, cols.issuer) {
        (Some(code), Some(issuer)) => format!("{code}:{issuer}"),
        _ => "native".into(),
    }
}

/// i128 stroops (SAC event amounts) as a 7-decimal string (`amount.String128`).
pub fn amount_i128(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let u = v.unsigned_abs();
    format!("{sign}{}.{:07}", u / 10_000_000, u % 10_000_000)
}

/// The pool summary stellar-etl nests under `liquidity_pool`.
pub fn pool(lp: &LiquidityPoolEntry) -> Value {
    let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &lp.body;
    json!({
        "id": hash_hex(&lp.liquidity_pool_id.0),
        "fee_bp": cp.params.fee,
        "type": "constant_product",
        "total_trustlines": cp.pool_shares_trust_line_count.to_string(),
        "total_shares": amount_decimal(cp.total_pool_shares),
        "reserves": [
            asset_amount(&cp.params.asset_a, cp.reserve_a),
            asset_amount(&cp.params.asset_b, cp.reserve_b),
        ],
    })
}

/// `{"asset": canonical, "amount": decimal}` (Horizon's `base.AssetAmount`).
pub fn asset_amount(a: &Asset, stroops: i64) -> Value {
    json!({ "asset": canonical(a), "amount": amount_decimal(stroops) })
}

/// A claim predicate as the Go SDK marshals it: `{"unconditional":true}`,
/// `{"and":[…]}`, `{"or":[…]}`, `{"not":…}`,
/// `{"abs_before":"<RFC3339>","abs_before_epoch":"<secs>"}`, `{"rel_before":"<secs>"}`.
pub fn predicate(p: &ClaimPredicate) -> Value {
    match p {
        ClaimPredicate::Unconditional => json!({ "unconditional": true }),
        ClaimPredicate::And(ps) => json!({ "and": ps.iter().map(predicate).collect::<Vec<_>>() }),
        ClaimPredicate::Or(ps) => json!({ "or": ps.iter().map(predicate).collect::<Vec<_>>() }),
        // A NOT without an operand is valid XDR but meaningless; Go would
        // panic on it, we print an empty operand.
        ClaimPredicate::Not(inner) => json!({ "not": inner.as_deref().map_or_else(|| json!({}), predicate) }),
        ClaimPredicate::BeforeAbsoluteTime(t) => {
            json!({ "abs_before": rfc3339(*t), "abs_before_epoch": t.to_string() })
        }
        ClaimPredicate::BeforeRelativeTime(t) => json!({ "rel_before": t.to_string() }),
    }
}

/// Unix seconds as RFC 3339 UTC; years past 9999 get a `+` (Go's iso8601Time).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant), in i128 so any i64 input is safe.
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    let plus = if year > 9999 { "+" } else { "" };
    format!("{plus}{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// JSON text with sorted keys and Go's `encoding/json` escaping of `<`, `>`,
/// `&`, U+2028 and U+2029 (serde_json writes those raw), written straight
/// from the map: no copy of the tree, whatever order the map keeps its keys
/// in (serde_json's map keeps insertion order when the `preserve_order`
/// feature is on anywhere in the build).
pub fn to_json(d: &Details) -> String {
    let mut out = String::with_capacity(128);
    write_object(d, &mut out);
    out
}

fn write_object(m: &Details, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_unstable();
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_string(k, out);
        out.push(':');
        write_value(&m[k], out);
    }
    out.push('}');
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // serde_json's own text for numbers (integers and floats alike).
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => write_object(m, out),
    }
}

/// A string literal as Go's `encoding/json` writes it.
fn go_string(s: &str, out: &mut String) {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return super::super::json::string(s, out);
    }
    let mut escaped = String::with_capacity(s.len() + 2);
    super::super::json::string(s, &mut escaped);
    out.push_str(
        &escaped
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_amounts() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_595_895_040), "2020-07-28T00:10:40Z");
        assert_eq!(rfc3339(253_402_300_800), "+10000-01-01T00:00:00Z");
        assert_eq!(amount_i128(-1), "-0.0000001");
        assert_eq!(amount_i128(i128::from(i64::MAX) * 4), "3689348814741.9103228");
    }

    #[test]
    fn go_escaping_and_order() {
        let mut d = Details::new();
        d.insert("z".into(), "a<b>&c".into());
        d.insert("a".into(), json!({"y": 1, "b": 2}));
        assert_eq!(to_json(&d), r#"{"a":{"b":2,"y":1},"z":"a\u003cb\u003e\u0026c"}"#);
        d.insert("m".into(), json!([1.5, -2, null, true, "\u{2028}\n", {"b": [], "a": {}}]));
        assert_eq!(
            to_json(&d),
            r#"{"a":{"b":2,"y":1},"m":[1.5,-2,null,true,"\u2028\n",{"a":{},"b":[]}],"z":"a\u003cb\u003e\u0026c"}"#
        );
    }
}

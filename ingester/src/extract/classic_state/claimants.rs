//! Claimants of a claimable balance as JSON, in Horizon's predicate form
//! (what `GET /claimable_balances` returns), so analysts can read the
//! conditions without decoding XDR.

use serde_json::{Value, json};
use stellar_xdr::{ClaimPredicate, Claimant};

use crate::extract::encode::account_id;
use crate::model::format_timestamp_micros;

/// Latest absolute time printable as an RFC 3339 date (9999-12-31T23:59:59Z).
const MAX_RFC3339_SECS: i64 = 253_402_300_799;

/// `[{"destination":"G...","predicate":{...}}]`.
pub(super) fn claimants_json(claimants: &[Claimant]) -> String {
    let items: Vec<Value> = claimants
        .iter()
        .map(|c| {
            let Claimant::ClaimantTypeV0(v0) = c;
            json!({ "destination": account_id(&v0.destination), "predicate": predicate(&v0.predicate) })
        })
        .collect();
    Value::Array(items).to_string()
}

/// `{"unconditional":true}`, `{"and":[..]}`, `{"or":[..]}`, `{"not":{..}}`,
/// `{"abs_before":"<RFC 3339>","abs_before_epoch":"<secs>"}` (the date is left
/// out beyond year 9999) or `{"rel_before":"<secs>"}`; integers are strings as
/// in Horizon.
fn predicate(p: &ClaimPredicate) -> Value {
    match p {
        ClaimPredicate::Unconditional => json!({ "unconditional": true }),
        ClaimPredicate::And(ps) => json!({ "and": ps.iter().map(predicate).collect::<Vec<_>>() }),
        ClaimPredicate::Or(ps) => json!({ "or": ps.iter().map(predicate).collect::<Vec<_>>() }),
        ClaimPredicate::Not(inner) => json!({ "not": inner.as_deref().map(predicate) }),
        ClaimPredicate::BeforeAbsoluteTime(t) => {
            let mut m = serde_json::Map::new();
            if (0..=MAX_RFC3339_SECS).contains(t) {
                m.insert("abs_before".into(), Value::String(format_timestamp_micros(t * 1_000_000)));
            }
            m.insert("abs_before_epoch".into(), Value::String(t.to_string()));
            Value::Object(m)
        }
        ClaimPredicate::BeforeRelativeTime(t) => json!({ "rel_before": t.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_predicate_form() {
        let p = ClaimPredicate::And(
            vec![ClaimPredicate::BeforeAbsoluteTime(1_600_000_000), ClaimPredicate::BeforeRelativeTime(3600)]
                .try_into()
                .unwrap(),
        );
        assert_eq!(
            predicate(&p).to_string(),
            r#"{"and":[{"abs_before":"2020-09-13T12:26:40Z","abs_before_epoch":"1600000000"},{"rel_before":"3600"}]}"#
        );
        let not = ClaimPredicate::Not(Some(Box::new(ClaimPredicate::Unconditional)));
        assert_eq!(predicate(&not).to_string(), r#"{"not":{"unconditional":true}}"#);
        assert_eq!(
            predicate(&ClaimPredicate::BeforeAbsoluteTime(i64::MAX)).to_string(),
            r#"{"abs_before_epoch":"9223372036854775807"}"#
        );
    }
}

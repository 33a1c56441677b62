//! JSON text written straight into a `String`, for the JSON columns.
//!
//! Building a `serde_json::Value` tree per row and serializing it cost more
//! than the rest of those rows' extraction (issue 20): every key and value
//! became its own allocation. The writers here emit the same text as
//! `serde_json::to_string` (same escapes, keys in the order the caller
//! gives, which callers keep sorted as serde_json's maps are).

use std::fmt::Write;

/// Appends `s` as a JSON string literal, escaped exactly as serde_json does:
/// `"` and `\`, the short forms `\b \t \n \f \r`, other control characters
/// as `\u00xx`; everything else (non-ASCII included) as it is.
pub fn string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `{"<key>":` (the key needs no escaping: the callers' keys are fixed names).
pub fn open_key(key: &str, out: &mut String) {
    out.push_str("{\"");
    out.push_str(key);
    out.push_str("\":");
}

/// Appends `,"<key>":` for the next key of an open object.
pub fn next_key(key: &str, out: &mut String) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
}

/// Appends a number (any integer) as JSON.
pub fn number(n: impl std::fmt::Display, out: &mut String) {
    let _ = write!(out, "{n}");
}

/// Appends a JSON string holding the decimal digits of `n`.
pub fn number_string(n: impl std::fmt::Display, out: &mut String) {
    let _ = write!(out, "\"{n}\"");
}

/// Appends a JSON string of the lower-case hex digits of `bytes`.
pub fn hex_string(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2 + 2);
    out.push('"');
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let all: String = (0u8..=0x7f).map(char::from).chain("é€😀 \u{2028}".chars()).collect();
        for s in [all.as_str(), "", "plain", "a\"b\\c", "\u{7f}\u{1f}\u{0}"] {
            let mut out = String::new();
            string(s, &mut out);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        }
        let mut out = String::new();
        hex_string(&[0xde, 0xad, 0x00, 0x0f], &mut out);
        assert_eq!(out, "\"dead000f\"");
    }
}

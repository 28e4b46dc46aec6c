/*!
RFC 8785 (JCS) canonical JSON: the form payloads are hashed and stored in.

Written directly from a [`serde_json::Value`] in one pass. The general canonicalizer
(`serde_json_canonicalizer`) buffers every member of every object, re-parses each key to sort
it and copies nested values up level by level; on the hook's path that was the largest single
cost of an event (about 190k instructions for a tool call). The output is the same bytes: the
tests compare the two on the recorded Claude Code payloads and on the corner cases of the RFC.

- Strings are escaped as serde_json escapes them, which is what RFC 8785 asks (`\b \t \n \f \r
  \" \\`, other control characters as lowercase `\u00xx`, nothing else).
- Object members are sorted by their names' UTF-16 code units.
- Integers within ±2^53 are written as they are (ES6 number formatting gives the same digits);
  any other number goes through the canonicalizer, which formats it as an ES6 double.
*/

use serde::Serialize;
use serde_json::{Number, Value};

/// Integers whose ES6 rendering is their decimal digits.
const SAFE_INTEGER: u64 = 1 << 53;

/// The canonical bytes of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    Ok(value_to_vec(&value))
}

/// The canonical bytes of a `Value` (which cannot hold a non-finite number, so this cannot fail).
pub fn value_to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // UTF-8 byte order is code point order; it differs from UTF-16 order only between
            // a character above U+FFFF and one in U+E000..=U+FFFF, so compare UTF-16 only
            // when a key has a byte that can start either.
            if members.iter().any(|(k, _)| k.bytes().any(|b| b >= 0xEE)) {
                members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            } else {
                members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            out.push(b'{');
            for (i, (key, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write(out, value);
            }
            out.push(b'}');
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    let mut digits = itoa::Buffer::new();
    if let Some(u) = n.as_u64().filter(|u| *u <= SAFE_INTEGER) {
        out.extend_from_slice(digits.format(u).as_bytes());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= SAFE_INTEGER) {
        out.extend_from_slice(digits.format(i).as_bytes());
    } else {
        // Floats and large integers: the ES6 double formatting of the general canonicalizer.
        // A `Number` is always finite, so this cannot fail.
        match serde_json_canonicalizer::to_vec(n) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(_) => out.extend_from_slice(b"null"),
        }
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference(value: &Value) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(value).unwrap()
    }

    fn same(value: &Value) {
        assert_eq!(
            String::from_utf8(value_to_vec(value)).unwrap(),
            String::from_utf8(reference(value)).unwrap(),
            "{value}"
        );
    }

    #[test]
    fn matches_the_canonicalizer_on_corner_cases() {
        for value in [
            json!(null),
            json!(true),
            json!([]),
            json!({}),
            json!(0),
            json!(-0.0),
            json!(1.0),
            json!(1.5e300),
            json!(1e21),
            json!(1e-7),
            json!(123456789.125),
            json!(-42),
            json!(9007199254740992u64),
            json!(9007199254740993u64),
            json!(-9007199254740993i64),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}\"\\/€😀\u{2028}"),
            json!({"b": 1, "a": 2, "": 3, "aa": [1, {"z": null, "y": false}]}),
            // UTF-16 order puts U+1F600 (a surrogate pair, 0xD83D…) before U+E000 and U+FFFD.
            json!({"\u{e000}": 1, "😀": 2, "\u{fffd}": 3, "z": 4, "é": 5, "\u{10000}": 6}),
            json!({"\n": 1, "\"": 2, "\\": 3, "A": 4, "a": 5, "1": 6}),
        ] {
            same(&value);
        }
    }

    #[test]
    fn matches_the_canonicalizer_on_recorded_payloads() {
        let mut seen = 0;
        for name in [
            "cc-2.1.328-e2e-payloads.jsonl",
            "cc-2.1.328-e2e-transcript.jsonl",
        ] {
            let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let value: Value = serde_json::from_str(line).unwrap();
                same(&value);
                seen += 1;
            }
        }
        assert!(seen > 20, "only {seen} payloads");
    }

    #[test]
    fn typed_values_serialize_as_their_value() {
        #[derive(Serialize)]
        struct T {
            b: u8,
            a: Option<&'static str>,
            #[serde(flatten)]
            rest: serde_json::Map<String, Value>,
        }
        let mut rest = serde_json::Map::new();
        rest.insert("c".into(), json!([1.25]));
        let t = T {
            b: 1,
            a: None,
            rest,
        };
        assert_eq!(to_vec(&t).unwrap(), br#"{"a":null,"b":1,"c":[1.25]}"#);
    }
}

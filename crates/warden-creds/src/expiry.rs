//! When an OAuth token expires: from an explicit field of an agent's file, or from
//! the `exp` claim of a token that is a JWT. A field of the wrong type or out of range
//! is an error naming the field, so a token is never taken as valid forever by mistake.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The expiry in milliseconds since the Unix epoch held by `value` (the field `field`,
/// named in errors). `None` or `null`: no expiry given. Whole numbers only, also when
/// written as a float (`1.7e12`); never the value in an error, only the field's name.
pub fn field_ms(value: Option<&Value>, field: &str) -> Result<Option<i64>, String> {
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number,
        Some(_) => return Err(format!("{field} is not a number")),
    };
    if let Some(ms) = number.as_i64() {
        return Ok(Some(ms));
    }
    match number.as_f64() {
        // The range check is on the f64 itself: `as` would saturate silently.
        Some(ms) if ms.fract() == 0.0 && ms.abs() < 9.0e18 => Ok(Some(ms as i64)),
        Some(ms) if ms.fract() != 0.0 && ms.is_finite() => {
            Err(format!("{field} is not a whole number of milliseconds"))
        }
        _ => Err(format!("{field} is out of range")),
    }
}

/// The time `ms` milliseconds after the epoch, or an error naming `field` when no
/// calendar date is that far away.
pub fn to_time(ms: i64, field: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| format!("{field} is out of range ({ms} ms)"))
}

/// `when` as RFC 3339 (`2025-01-31T12:00:00Z`), for notes and tables.
pub fn display(when: OffsetDateTime) -> String {
    when.format(&Rfc3339).unwrap_or_else(|_| when.to_string())
}

/// The `exp` claim of a JWT, in milliseconds, when `token` is one. Anything else
/// (an opaque token, a JWT without `exp`) is `None`: the token just has no known expiry.
/// The signature is not checked: this only decides whether to bother using the token.
pub fn jwt_ms(token: &str) -> Option<i64> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let claims: Value = serde_json::from_slice(&base64url_decode(payload)?).ok()?;
    let seconds = field_ms(claims.get("exp"), "exp").ok()??;
    seconds.checked_mul(1000)
}

/// The string claim at `path` (nested object keys) of a JWT's payload, unverified:
/// `None` when `token` is not a JWT or the claim is not a non-empty string.
pub fn jwt_claim(token: &str, path: &[&str]) -> Option<String> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let claims: Value = serde_json::from_slice(&base64url_decode(payload)?).ok()?;
    let mut at = &claims;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use; `None` on any other byte.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_ms_takes_whole_numbers_and_names_the_field_otherwise() {
        assert_eq!(field_ms(None, "f"), Ok(None));
        assert_eq!(field_ms(Some(&json!(null)), "f"), Ok(None));
        assert_eq!(
            field_ms(Some(&json!(1_700_000_000_000i64)), "f"),
            Ok(Some(1_700_000_000_000))
        );
        assert_eq!(
            field_ms(Some(&json!(1.7e12)), "f"),
            Ok(Some(1_700_000_000_000))
        );
        let cases = [
            (json!("1700000000000"), "f is not a number"),
            (json!({"ms": 1}), "f is not a number"),
            (json!(1.5), "f is not a whole number of milliseconds"),
            (json!(u64::MAX), "f is out of range"),
            (json!(1e300), "f is out of range"),
        ];
        for (value, want) in cases {
            assert_eq!(
                field_ms(Some(&value), "f"),
                Err(want.to_string()),
                "{value}"
            );
        }
    }

    #[test]
    fn to_time_refuses_dates_no_calendar_holds() {
        assert_eq!(
            display(to_time(0, "f").expect("epoch")),
            "1970-01-01T00:00:00Z"
        );
        let err = to_time(i64::MAX, "f").expect_err("too far");
        assert!(err.starts_with("f is out of range"), "{err}");
        assert!(to_time(i64::MIN, "f").is_err());
    }

    #[test]
    fn jwt_exp_is_read_and_anything_else_is_none() {
        // {"alg":"none"} . {"exp":1700000000,"sub":"x"} . sig
        let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsInN1YiI6IngifQ.c2ln";
        assert_eq!(jwt_ms(jwt), Some(1_700_000_000_000));
        assert_eq!(jwt_ms("opaque-token"), None);
        assert_eq!(jwt_ms("a.b.c.d"), None);
        assert_eq!(jwt_ms("a.!!!.c"), None);
        // {"sub":"x"}: no exp.
        assert_eq!(jwt_ms("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"), None);
        // {"exp":9223372036854775807}: seconds that overflow milliseconds.
        assert_eq!(
            jwt_ms("e30.eyJleHAiOjkyMjMzNzIwMzY4NTQ3NzU4MDd9.c2ln"),
            None
        );
    }
}

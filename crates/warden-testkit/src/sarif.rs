//! Validation against the official SARIF 2.1.0 schema, kept in `shared/schemas/`
//! beside the workspace (`../shared/schemas/sarif-schema-2.1.0.json`).
//!
//! ```no_run
//! let doc = serde_json::json!({"version": "2.1.0", "runs": []});
//! warden_testkit::sarif::assert_valid(&doc);
//! ```

use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where the schema lives: `shared/schemas/` next to the workspace root.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/schemas/sarif-schema-2.1.0.json")
}

/// The SARIF 2.1.0 schema; panics with the expected path if it is missing.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = schema_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the SARIF 2.1.0 schema must be at {} for these tests: {e}",
                path.display()
            )
        });
        serde_json::from_str(&text).expect("the SARIF schema file is valid JSON")
    })
}

/// RFC 3986 `URI-reference` at the character level: unreserved and reserved
/// characters, well-formed `%XX` escapes, at most one `#`. The schema is draft-04,
/// which predates this format, so without it artifact URIs would go unchecked.
pub fn is_uri_reference(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b)) {
            return false;
        }
        i += 1;
    }
    s.matches('#').count() <= 1
}

/// Every schema violation in `doc`, one readable line each (empty when valid).
pub fn errors(doc: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .with_format("uri-reference", is_uri_reference)
        .build(schema())
        .expect("the SARIF schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// Panics with every violation when `doc` is not valid SARIF 2.1.0.
pub fn assert_valid(doc: &Value) {
    let errors = errors(doc);
    assert!(
        errors.is_empty(),
        "SARIF output violates the 2.1.0 schema:\n{}\n\ndocument:\n{doc:#}",
        errors.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal(uri: &str) -> Value {
        json!({
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "t"}},
                "results": [{
                    "message": {"text": "m"},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]
                }]
            }]
        })
    }

    #[test]
    fn accepts_a_minimal_log_and_rejects_broken_ones() {
        assert_valid(&minimal("src/a%20b.py"));
        assert!(!errors(&json!({"runs": []})).is_empty(), "missing version");
        assert!(
            !errors(&minimal("src/a b.py")).is_empty(),
            "raw space in a URI"
        );
        let mut bad_level = minimal("a.py");
        bad_level["runs"][0]["results"][0]["level"] = json!("severe");
        assert!(!errors(&bad_level).is_empty(), "unknown level");
    }

    #[test]
    fn uri_references() {
        assert!(is_uri_reference("src/caf%C3%A9.py#L3"));
        assert!(!is_uri_reference("a%2"));
        assert!(!is_uri_reference("a#b#c"));
        assert!(!is_uri_reference("é.py"));
    }
}

//! The `.env` parser on arbitrary bytes: never a panic, every key it returns is a
//! plain variable name, every bad line number is a line of the input, and text that
//! is UTF-8 parses the same through `parse` and `parse_bytes`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let parsed = warden_creds::dotenv::parse_bytes(bytes);
    for (key, _) in &parsed.vars {
        assert!(!key.is_empty(), "empty key");
        assert!(
            key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()),
            "key {key:?} is not a variable name"
        );
    }
    let lines = bytes.split(|&b| b == b'\n').count();
    assert!(parsed.bad_lines.iter().all(|&n| n >= 1 && n <= lines));
    if let Ok(text) = std::str::from_utf8(bytes) {
        assert_eq!(warden_creds::dotenv::parse(text), parsed);
    }
});

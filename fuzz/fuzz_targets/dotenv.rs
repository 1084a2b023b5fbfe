//! The `.env` parser on arbitrary text: never a panic, and every key it returns
//! is a plain variable name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let parsed = warden_creds::dotenv::parse(text);
    for (key, _) in &parsed.vars {
        assert!(!key.is_empty(), "empty key");
        assert!(
            key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()),
            "key {key:?} is not a variable name"
        );
    }
    assert!(parsed.bad_lines.iter().all(|&n| n >= 1));
});

use super::*;

#[test]
fn parses_prefix_and_sources_and_never_debugs_the_value() {
    let dir = tempfile::tempdir().ok();
    let path = dir
        .as_ref()
        .map(|d| d.path().join("key"))
        .unwrap_or_default();
    std::fs::write(&path, "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789\n").ok();
    let spec = format!(
        "API.OpenAI.com.:Authorization=Bearer file:{}",
        path.display()
    );
    let b = Binding::parse(&spec);
    let b = match b {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(b.host(), "api.openai.com");
    assert_eq!(b.header().as_str(), "authorization");
    let value = b
        .header_value()
        .map(|v| v.to_str().unwrap_or_default().to_string());
    assert_eq!(
        value.as_deref(),
        Some("Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789")
    );
    assert!(b.placeholder().starts_with("sk-proj-"));
    assert_eq!(
        b.placeholder().len(),
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789".len()
    );
    let debug = format!("{b:?}");
    assert!(
        !debug.contains("abcdefghij") && !debug.contains(b.placeholder()),
        "{debug}"
    );
}

#[test]
fn placeholders_are_random_and_marked() {
    let a = Binding::new("api.test", "x-api-key", Secret::new("plainsecret"));
    let b = Binding::new("api.test", "x-api-key", Secret::new("plainsecret"));
    let (a, b) = (
        a.map(|x| x.placeholder).unwrap_or_default(),
        b.map(|x| x.placeholder).unwrap_or_default(),
    );
    assert!(a.starts_with("warden-placeholder-") && a.len() == 19 + 24);
    assert_ne!(a, b);
}

#[test]
fn rejects_bad_specs_without_echoing_secrets() {
    for spec in [
        "api.test",
        "api.test:x-api-key",
        "api.test:x-api-key=literal",
        "*.test:x=env:HOME",
        "api.test:bad header=env:HOME",
        "api.test:host=env:HOME",
    ] {
        assert!(Binding::parse(spec).is_err(), "{spec}");
    }
    let dir = tempfile::tempdir().ok();
    if let Some(dir) = &dir {
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Must return at once: nobody will ever write to this FIFO.
            let got = Binding::parse(&format!("api.test:x-api-key=file:{}", fifo.display()));
            assert!(
                matches!(got, Err(BindingError::NotRegular { what: "a FIFO", .. })),
                "{got:?}"
            );
        }
        let got = Binding::parse(&format!("api.test:x-api-key=file:{}", dir.path().display()));
        assert!(
            matches!(got, Err(BindingError::NotRegular { .. })),
            "{got:?}"
        );
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 100_000]).ok();
        let got = Binding::parse(&format!("api.test:x-api-key=file:{}", big.display()));
        assert!(
            matches!(got, Err(BindingError::FileTooLarge { .. })),
            "{got:?}"
        );
    }
    let got = Binding::parse("api.test:x-api-key=file:/dev/zero");
    assert!(
        matches!(
            got,
            Err(BindingError::NotRegular {
                what: "a device",
                ..
            })
        ),
        "{got:?}"
    );
    let missing = Binding::parse("api.test:x-api-key=env:WARDEN_EGRESS_SURELY_UNSET_VAR");
    assert!(matches!(missing, Err(BindingError::MissingEnv { .. })));
    assert!(Binding::new("api.test", "x-api-key", Secret::new("bad\nvalue")).is_err());
}

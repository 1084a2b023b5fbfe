//! Base URLs from configuration (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`, a
//! gateway's): only an `http` or `https` URL with a host is an endpoint.
//! Anything else is a configuration mistake, found before the first call
//! instead of being retried as a transport error on every file.

/// `Ok` for an `http(s)` URL with a host; otherwise why not, in words that
/// complete "VARIABLE …". The value itself is never quoted: what sits in a
/// base-URL variable by mistake is often a key meant for the variable next to it.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        // A short scheme (`ftp`, `javascript`) is no secret and tells the user what went wrong.
        scheme if scheme.len() <= 12 => {
            return Err(format!("is not an http(s) URL (its scheme is `{scheme}:`)"))
        }
        _ => return Err("is not an http(s) URL".to_string()),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_base_url;

    #[test]
    fn only_http_urls_with_a_host_pass() {
        for ok in [
            "https://api.anthropic.com",
            "http://127.0.0.1:3129",
            "https://ai-gateway.vercel.sh/v1/",
            "http://[::1]:8080/v1",
        ] {
            assert_eq!(check_base_url(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("not a url", "is not a URL"),
            ("", "is not a URL"),
            ("ftp://example.com", "scheme is `ftp:`"),
            ("javascript:alert(1)", "scheme is `javascript:`"),
            ("file:///etc/passwd", "scheme is `file:`"),
            ("http://[::1", "is not a URL (invalid IPv6 address)"),
            ("http://", "is not a URL"),
            ("https://host:99999", "is not a URL"),
        ] {
            let err = check_base_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_value_is_never_quoted() {
        let key = "sk-ant-api03-SECRETSECRETSECRET";
        for value in [
            key.to_string(),
            format!("x{key}:rest"),
            format!("ftp://{key}@h"),
        ] {
            let err = check_base_url(&value).unwrap_err();
            assert!(!err.contains("SECRET"), "{err}");
        }
    }
}

//! Turning a request target into a checked (host, port) pair, refusing the malformed.

use http::uri::Authority;

use crate::policy::canonical_host;

/// Host (canonical: lower case, no trailing dot, IPv6 without brackets) and port from
/// an authority. `default_port` is `None` for CONNECT, where the port is mandatory.
/// The error is a fixed text for the 400 body.
pub(crate) fn parse_authority(
    auth: &Authority,
    default_port: Option<u16>,
) -> Result<(String, u16), &'static str> {
    if auth.as_str().contains('@') {
        return Err("userinfo (user@host) is not allowed in a proxy target");
    }
    let host = canonical_host(auth.host())
        .ok_or("the target host is not a valid host name or IP address")?;
    let port = match (auth.port_u16(), default_port) {
        (Some(p), _) => p,
        (None, Some(p)) if auth.port().is_none() => p,
        (None, _) => return Err("the target must be host:port with a numeric port"),
    };
    if port == 0 {
        return Err("port 0 is not a valid target");
    }
    Ok((host, port))
}

/// The host named by a `Host` header value, canonical, or `None` if it does not parse.
pub(crate) fn host_of_header(value: &http::HeaderValue) -> Option<String> {
    let auth: Authority = value.to_str().ok()?.parse().ok()?;
    canonical_host(auth.host())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, default: Option<u16>) -> Result<(String, u16), &'static str> {
        let auth: Authority = s.parse().map_err(|_| "unparsable")?;
        parse_authority(&auth, default)
    }

    #[test]
    fn connect_targets() {
        assert_eq!(parse("API.Test.:443", None), Ok(("api.test".into(), 443)));
        assert_eq!(parse("[::1]:8080", None), Ok(("::1".into(), 8080)));
        assert!(parse("api.test", None).is_err());
        assert!(parse("api.test:", None).is_err());
        assert!(parse("user@api.test:443", None).is_err());
        assert!(parse("api.test:0", None).is_err());
        assert!(parse("a_b$.test:443", None).is_err());
        assert_eq!(parse("api.test", Some(80)), Ok(("api.test".into(), 80)));
    }
}

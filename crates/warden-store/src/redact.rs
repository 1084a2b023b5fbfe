//! Secret values never reach the store: every text the store keeps (matched lines,
//! findings, verdicts, failure reasons) passes through [`redact_secrets`] first, so no
//! report, export or copy of the database can leak a key the scan found.
//!
//! A redacted value keeps its first few characters (enough to tell an `AKIA` key id
//! from an `sk_live_` key) and a short fingerprint of the whole value (so two findings
//! about the same secret can be matched, and a user can check which key it was), as
//! secret scanners do: `sk_live_…[redacted:3f2a9c1b]`.

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

/// What every redaction contains; `--show-secrets` looks for it to re-read a line.
pub const REDACTED_MARK: &str = "[redacted:";

/// Secret values; where a pattern has a `secret` group, only that part is the value.
/// Token formats are those of the `generic` rule pack, which finds them. Each pattern
/// comes with its anchors: words (in any case) of which every match holds one; a test
/// in `warden-scan`, which reads the literals a pattern cannot match without, checks them.
pub const PATTERNS: &[(&str, &[&str])] = &[
    // Provider tokens with a recognisable prefix: the whole match is the secret.
    (
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z2-7]{16}(?-u:\b)",
        &[
            "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa",
        ],
    ),
    (
        r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{36}(?-u:\b)|(?-u:\b)github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?-u:\b)",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    ),
    (r"(?-u:\b)xox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{8,}", &["xox"]),
    (
        r"https://hooks\.slack\.com/services/(?P<secret>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})",
        &["hooks.slack.com"],
    ),
    (
        r"(?-u:\b)(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{20,}(?-u:\b)",
        &["_live_", "_test_"],
    ),
    (r"(?-u:\b)AIza[0-9A-Za-z_-]{35}(?-u:\b)", &["aiza"]),
    (
        r"(?-u:\b)sk-ant-[A-Za-z0-9]{2,8}\d{0,2}-[A-Za-z0-9_-]{20,}",
        &["sk-ant-"],
    ),
    (
        r"(?-u:\b)sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|(?-u:\b)sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}(?-u:\b)|(?-u:\b)sk-[A-Za-z0-9]{48}(?-u:\b)",
        &["sk-"],
    ),
    (
        r"(?-u:\b)glpat-[A-Za-z0-9_-]{20,}|(?-u:\b)npm_[A-Za-z0-9]{36}(?-u:\b)|(?-u:\b)pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}|(?-u:\b)SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?-u:\b)|(?-u:\b)hf_[A-Za-z]{34}(?-u:\b)|(?-u:\b)shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}(?-u:\b)|(?-u:\b)dop_v1_[a-f0-9]{64}(?-u:\b)",
        &["glpat-", "npm_", "pypi-", "sg.", "hf_", "shp", "dop_v1_"],
    ),
    (
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}",
        &["eyj"],
    ),
    // An AWS secret key next to its name.
    (
        r#"(?i)(?-u:\b)aws_?secret_?access_?key["']?\s*(?::|=|:=|=>)\s*["']?(?P<secret>[A-Za-z0-9/+]{40})(?-u:\b)"#,
        &["secret"],
    ),
    // The password of a credential URL.
    (
        r#"(?-u:\b)[a-z][a-z0-9+.-]{1,20}://[A-Za-z0-9._%-]+:(?P<secret>[^@\s/"'${}<>]{3,})@[A-Za-z0-9.-]"#,
        &["://"],
    ),
    // A literal assigned to a name that says it is a secret: the literal.
    (
        r#"(?i)(?-u:\b)(?:[a-z0-9]+_)*(?:password|passwd|pwd|passphrase|secret|secret_?key(?:_?base)?|api_?key|apikey|access_?key|auth_?token|access_?token|secret_?token|api_?token|bearer_?token|client_?secret|private_?key|signing_?key|jwt_?(?:key|secret)|token_?secret|hmac_?(?:key|secret)|encryption_?key)["']?\s*(?::|=|:=|=>)\s*[bru]?["'](?P<secret>[^"'\s]{8,})["']"#,
        &["pass", "pwd", "secret", "key", "token"],
    ),
    // The same with a type between name and value: `const SIGNING_KEY: &str = "…"`,
    // `var apiKey string = "…"`.
    (
        r#"(?i)(?-u:\b)(?:[a-z0-9]+_)*(?:password|passwd|pwd|passphrase|secret|secret_?key(?:_?base)?|api_?key|apikey|access_?key|auth_?token|access_?token|client_?secret|private_?key|signing_?key|jwt_?(?:key|secret)|token_?secret|hmac_?(?:key|secret)|encryption_?key)\s*(?::\s*[\w&'\[\]; ?]{1,30}?\s*=|\s+string\s*=)\s*[bru]?["'](?P<secret>[^"'\s]{8,})["']"#,
        &["pass", "pwd", "secret", "key", "token"],
    ),
    // camelCase names: `jwtSecret: '…'`, `dbPassword = "…"`, `stripeSecretKey: string = '…'`,
    // exported Go fields after an acronym (`JWTSecret: []byte("…")`, `SMTPPassword: "…"`)
    // or bare (`SigningKey: []byte("…")`), and Go's key bytes, `jwtSecret = []byte("…")`;
    // C++'s brace initialisation too (`const std::string kSigningSecret{"…"};`).
    (
        r#"(?:(?-u:\b)|[A-Za-z0-9])(?:Secret|Password|Passwd|Passphrase|ApiKey|APIKey|ApiToken|APIToken|AccessToken|AuthToken|Token|PrivateKey|SigningKey|SecretKey|JwtKey|JWTKey|SessionKey|CookieKey|EncryptionKey|HmacKey|HMACKey)["']?\s*(?::\s*[\w&'\[\]; ?]{1,30}?\s*=|\s+string\s*=|:=|=>|=|:|\{)\s*(?:\[\]byte\(\s*)?["'`](?P<secret>[^"'`\s]{6,})["'`]"#,
        &["secret", "pass", "key", "token"],
    ),
    // A function or method named for a secret that returns it: `def session_secret` /
    // `"…"` / `end`, `function jwtSecret(): string { return '…'; }`.
    (
        r#"(?i)(?-u:\b)(?:def|function|fn)\s+(?:self\.)?\w*(?:secret|password|passwd|api_?key|apikey|auth_?token|access_?token|api_?token|private_?key|signing_?key|encryption_?key)\w*\s*(?:\(\s*(?:&\s*self\s*)?\))?\s*(?::\s*\??string\s*|->\s*&\s*(?:'static\s+)?(?:str|\[u8\])\s*)?[{=]?\s*(?:return\s+)?b?["'](?P<secret>[^"'\s]{6,})["']"#,
        &["secret", "pass", "key", "token"],
    ),
    // Whole names that are a key by themselves (`signingKey`, `jwtKey`), typed or not.
    (
        r#"(?-u:\b)(?:signingKey|secretKey|jwtKey|hmacKey|apiKey|apiSecret|privateKey|sessionKey|cookieKey|encryptionKey)\s*(?:string\s*|\[\]byte\s*)?(?::=|=|:)\s*(?:\[\]byte\(\s*)?["'`](?P<secret>[^"'`\s]{6,})["'`]"#,
        &["key", "secret"],
    ),
    // A secret's fallback where it is read from the environment: `getenv("JWT_SECRET",
    // "…")`, `process.env.X || '…'`, `${jwt.secret:…}`, `${DB_PASSWORD:-…}`.
    (
        r#"(?i)(?:secret|password|passwd|pwd|token|key)[a-z0-9_]*["']\s*,\s*["'`](?P<secret>[^"'`\s$]{6,})["'`]"#,
        &["secret", "pass", "pwd", "token", "key"],
    ),
    (
        r#"\bprocess\.env\.\w+\s*(?:\|\||\?\?)\s*["'`](?P<secret>[^"'`\s$]{6,})["'`]"#,
        &["process.env"],
    ),
    // A Ruby setting named by a symbol: `set :session_secret, "…"` (Sinatra),
    // `config.x :api_key, '…'`.
    (
        r#"(?i):\w*(?:secret|password|passwd|token|key)\w*\s*,\s*["'](?P<secret>[^"'\s]{6,})["']"#,
        &["secret", "pass", "token", "key"],
    ),
    (
        r#"(?i)\$\{[\w.-]*(?:secret|password|passwd|token|key)[\w.-]*:-?(?P<secret>[^}\s$]{6,})\}"#,
        &["secret", "pass", "token", "key"],
    ),
    // `KEY=value` lines of .env files, compose files and Dockerfiles.
    (
        r#"(?:_|\b)(?:SECRET|PASSWORD|PASSWD|TOKEN)(?:_[A-Z0-9]+)*=(?P<secret>[A-Za-z0-9!#%&*+,./:;?@^_~-]{4,})"#,
        &["secret", "pass", "token"],
    ),
    // `<password>…</password>` in XML configuration.
    (
        r#"(?i)<(?:password|passwd|pwd|secret)\b[^>]*>(?P<secret>[^<\s]{3,})</"#,
        &["pass", "pwd", "secret"],
    ),
    // A password inside a connection string: `…;Password=…;`.
    (
        r#"(?i)["'][^"'\n]*\b(?:password|pwd)\s*=\s*(?P<secret>[^;"'\s{}$%]{3,})"#,
        &["pass", "pwd"],
    ),
    // …and outside quotes, in a .properties or .env line: `…;Password=…`, a JDBC URL's
    // `?password=…` or `&password=…`.
    (
        r#"(?i)[;?&][ ]?(?:password|pwd)\s*=\s*(?P<secret>[^;&"'\s{}$%<>]{3,})"#,
        &["pass", "pwd"],
    ),
    // A secret-named key with an unquoted value in YAML, properties or INI.
    (
        r#"(?im)^[ \t]*(?:[\w-]+\.)*[\w-]*(?:password|passwd|secret|secret[_-]?key|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|client[_-]?secret|private[_-]?key|signing[_-]?key|jwt[_-]?(?:key|secret))[ \t]*[:=][ \t]*(?P<secret>[A-Za-z0-9!#%&*+,./;?@^_~-]{4,})[ \t]*\r?$"#,
        &["pass", "secret", "key", "token"],
    ),
    // SQL scripts: `IDENTIFIED BY '…'`, `PASSWORD '…'` (PostgreSQL roles).
    (
        r#"(?i)(?-u:\b)(?:identified\s+(?:with\s+\w+\s+)?by|password)\s+n?'(?P<secret>[^'\s$:{]{4,})'"#,
        &["identified", "pass"],
    ),
    // Literal keys handed to the call that uses them: JWT signing, session and cookie
    // secrets, SMTP logins, Rust's `env::var(…).unwrap_or("…")`.
    (
        r#"\bjwt\.(?:sign|verify)\(\s*(?:\{[^{}\n]*\}|[^,\n]+),\s*["'`](?P<secret>[^"'`\n]{4,})["'`]"#,
        &["jwt."],
    ),
    // jjwt's `Keys.hmacShaKeyFor("…".toByteArray())`, java-jwt's `Algorithm.HMAC256("…")`
    // and `signWith(SignatureAlgorithm.HS256, "…")`.
    (
        r#"(?:\bhmacShaKeyFor|\bAlgorithm\.HMAC(?:256|384|512)|\bsignWith\s*\(\s*SignatureAlgorithm\.\w+\s*,)\s*\(?\s*"(?P<secret>[^"\n]{4,})""#,
        &["hmacshakeyfor", "algorithm.hmac", "signaturealgorithm"],
    ),
    // Python's itsdangerous signers and serializers, and hmac.new, given a literal key:
    // `URLSafeTimedSerializer("…")`, `hmac.new(b"…", msg, sha256)`.
    (
        r#"(?-u:\b)(?:URLSafe(?:Timed)?Serializer|TimedSerializer|(?:Timed)?JSONWebSignatureSerializer|TimestampSigner|Signer|Serializer)\(\s*(?:secret_key\s*=\s*)?[bru]?["'](?P<secret>[^"'\n]{6,})["']"#,
        &["serializer", "signer"],
    ),
    (
        r#"(?-u:\b)hmac\.new\(\s*(?:key\s*=\s*)?b["'](?P<secret>[^"'\n]{6,})["']"#,
        &["hmac.new"],
    ),
    // Go's `SignedString([]byte("…"))` and a jwt key function returning a literal;
    // Python's `jwt.encode(payload, "…")` / `jwt.decode(token, '…')`.
    (
        r#"\.SignedString\(\s*\[\]byte\(\s*"(?P<secret>[^"\n]{4,})""#,
        &["signedstring"],
    ),
    (
        r#"\*jwt\.Token\s*\)\s*\(\s*(?:interface\{\}|any)\s*,\s*error\s*\)\s*\{\s*return\s+\[\]byte\(\s*"(?P<secret>[^"\n]{4,})""#,
        &["jwt.token"],
    ),
    (
        r#"\bjwt\.(?:encode|decode)\(\s*(?:\{[^{}\n]*\}|[^,\n]+),\s*[bru]?["'](?P<secret>[^"'\n]{4,})["']"#,
        &["jwt."],
    ),
    // Ruby's `JWT.encode(payload, "…")` / `JWT.decode(token, '…')`, and .NET's
    // `new SymmetricSecurityKey(Encoding.UTF8.GetBytes("…"))`.
    (
        r#"\bJWT\.(?:encode|decode)\([^,\n]+,\s*["'](?P<secret>[^"'\n]{4,})["']"#,
        &["jwt."],
    ),
    (
        r#"\bSymmetricSecurityKey\s*\(\s*Encoding\.\w+\.GetBytes\s*\(\s*"(?P<secret>[^"\n]{4,})""#,
        &["symmetricsecuritykey"],
    ),
    // Rust's jsonwebtoken, hmac, cookie and cipher keys given a literal:
    // `EncodingKey::from_secret(b"…")`, `Hmac::<Sha256>::new_from_slice(b"…")`,
    // `Key::from(b"…")`, `Key::<Aes256Gcm>::from_slice(b"…")`.
    (
        r#"(?:\bfrom_secret|\bnew_from_slice|\bKey(?:::<[^>\n]*>)?::(?:from|from_slice|derive_from|try_from))\s*\(\s*(?:&\s*)?b?"(?P<secret>[^"\n]{4,})""#,
        &["from"],
    ),
    // A constant named for a key holding a literal with a digit or a symbol in it (not a
    // header or claim name), whatever the name's other words:
    // `const CALLER_KEY: &[u8] = b"…"`, `static final String ROTA_TOKEN_KEY = "…"`,
    // `private const string TokenKey = "…"`.
    (
        r#"(?i)(?-u:\b)(?:const|static|final|readonly)\s+(?:[\w&'\[\];<>]+\s+){0,3}?\w*(?:key|secret|token|hmac|jwt)\w*\s*(?::\s*[\w&'\[\]; ]{1,30}?\s*)?=\s*\*?b?"(?P<secret>[A-Za-z0-9!#$%&*+/=?@^_|~.,;:-]{7,}[0-9!#$%&*+/=?@^_|~.,;:-][A-Za-z0-9!#$%&*+/=?@^_|~.,;:-]*|[A-Za-z0-9!#$%&*+/=?@^_|~.,;:-]*[0-9!#$%&*+/=?@^_|~.,;:-][A-Za-z0-9!#$%&*+/=?@^_|~.,;:-]{7,})""#,
        &[
            "const", "static", "final", "readonly", "key", "secret", "token", "hmac", "jwt",
        ],
    ),
    (
        r#"(?i)\bsecret\s*:\s*["'](?P<secret>[^"'\n]{4,})["']"#,
        &["secret"],
    ),
    (
        r#"\bcookieParser\(\s*["'](?P<secret>[^"'\n]{4,})["']"#,
        &["cookieparser"],
    ),
    // Kotlin/Java: a key decoded from a hex literal (Ktor's session sign key).
    (
        r#"\b(?:hex|Hex\.decodeHex|parseHex|parseHexBinary)\(\s*"(?P<secret>[0-9a-fA-F]{16,})""#,
        &["hex"],
    ),
    (
        r#"\bPlainAuth\(\s*"[^"]*"\s*,\s*"[^"]*"\s*,\s*"(?P<secret>[^"]{4,})""#,
        &["plainauth"],
    ),
    (
        r#"\.unwrap_or(?:_else)?\(\s*(?:\|_\|\s*)?"(?P<secret>[^"\s]{6,})""#,
        &["unwrap_or"],
    ),
    // C: a credential compared with or defined as a literal, key bytes and key strings.
    (
        r#"(?i)\bstr(?:n|case)?cmp\s*\(\s*[\w.>-]*(?:pass|pwd|pin|secret|key|token)\w*\s*,\s*"(?P<secret>[^"]{3,})""#,
        &["cmp"],
    ),
    (
        r#"(?i)#\s*define\s+\w*(?:pass|pwd|secret|key|token)\w*\s+"(?P<secret>[^"]{4,})""#,
        &["define"],
    ),
    (
        r#"(?i)\b\w*(?:key|iv|secret|token|passwd|password)\w*\s*\[\s*\w*\s*\]\s*=\s*"(?P<secret>[^"]{8,})""#,
        &["key", "iv", "secret", "token", "passw"],
    ),
    (
        r#"(?i)\b\w*(?:key|iv|secret)\w*\s*\[\s*\w*\s*\]\s*=\s*\{(?P<secret>\s*0x[0-9a-f]{2}(?:\s*,\s*0x[0-9a-f]{2}){3,})"#,
        &["key", "iv", "secret"],
    ),
];

/// The anchors of every pattern in one automaton, and for each anchor (by its index
/// in the automaton) the patterns it anchors: most texts (matched lines, verdicts) hold
/// none and are passed over in one literal search; the others run only the patterns
/// whose anchors they hold.
static ANCHORS: LazyLock<Option<(aho_corasick::AhoCorasick, Vec<Vec<usize>>)>> =
    LazyLock::new(|| {
        let mut words: Vec<&str> = Vec::new();
        let mut anchored: Vec<Vec<usize>> = Vec::new();
        for (i, (_, anchors)) in PATTERNS.iter().enumerate() {
            for a in *anchors {
                match words.iter().position(|w| w == a) {
                    Some(at) => anchored[at].push(i),
                    None => {
                        words.push(a);
                        anchored.push(vec![i]);
                    }
                }
            }
        }
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .ok()?;
        Some((ac, anchored))
    });

/// Each pattern compiled on its own, by the same index as in `PATTERNS`, on its first
/// use (most never run in a scan), over bytes and ASCII: Unicode classes made each
/// automaton several times larger, and the redaction runs when a scan's memory is at
/// its peak.
static SECRETS: [OnceLock<Option<regex::bytes::Regex>>; PATTERNS.len()] =
    [const { OnceLock::new() }; PATTERNS.len()];

/// Pattern `i`, compiled.
fn secret(i: usize) -> Option<&'static regex::bytes::Regex> {
    SECRETS[i]
        .get_or_init(|| {
            match regex::bytes::RegexBuilder::new(PATTERNS[i].0)
                .unicode(false)
                .build()
            {
                Ok(re) => Some(re),
                Err(err) => {
                    // Unreachable for the constants above (a unit test compiles each).
                    tracing::error!("secret pattern does not compile: {err}");
                    None
                }
            }
        })
        .as_ref()
}

/// `text` with every secret value it holds replaced by a redaction; borrowed when
/// there is none.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    // Which patterns can apply; without the automaton (never, in practice) every one is.
    let candidates: Vec<bool> = match ANCHORS.as_ref() {
        Some((ac, anchored)) => {
            let mut on = vec![false; PATTERNS.len()];
            for m in ac.find_overlapping_iter(text) {
                for &p in &anchored[m.pattern().as_usize()] {
                    on[p] = true;
                }
            }
            if !on.contains(&true) {
                return Cow::Borrowed(text);
            }
            on
        }
        None => vec![true; PATTERNS.len()],
    };
    let mut out: Option<Vec<u8>> = None;
    for (i, _) in candidates.iter().enumerate().filter(|(_, on)| **on) {
        let Some(re) = secret(i) else { continue };
        let current = out.as_deref().unwrap_or(text.as_bytes());
        if !re.is_match(current) {
            continue;
        }
        let replaced = re
            .replace_all(current, |caps: &regex::bytes::Captures<'_>| {
                let whole = caps.get(0).map_or(&b""[..], |m| m.as_bytes());
                let mut piece = Vec::with_capacity(whole.len());
                match caps.name("secret") {
                    Some(secret) => {
                        let start = secret.start() - caps.get(0).map_or(0, |m| m.start());
                        let end = start + secret.as_bytes().len();
                        piece.extend_from_slice(&whole[..start]);
                        let value = String::from_utf8_lossy(secret.as_bytes());
                        piece.extend_from_slice(redaction(&value).as_bytes());
                        piece.extend_from_slice(&whole[end..]);
                    }
                    None => {
                        let value = String::from_utf8_lossy(whole);
                        piece.extend_from_slice(redaction(&value).as_bytes());
                    }
                }
                piece
            })
            .into_owned();
        out = Some(replaced);
    }
    match out {
        None => Cow::Borrowed(text),
        // Values start and end at ASCII delimiters, so the text stays UTF-8.
        Some(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
    }
}

/// `redact_secrets` for an optional text.
pub fn redact_opt(text: Option<&str>) -> Option<Cow<'_, str>> {
    text.map(redact_secrets)
}

/// The first few characters of `value`, then the mark with a fingerprint of it.
fn redaction(value: &str) -> String {
    if value.contains(REDACTED_MARK) {
        return value.to_string();
    }
    // Keep at most a quarter of the value, and never more than 8 characters.
    let keep = (value.chars().count() / 4).min(8);
    let prefix: String = value.chars().take(keep).collect();
    let hash = blake3::hash(value.as_bytes()).to_hex();
    format!("{prefix}…{REDACTED_MARK}{}]", &hash[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert!((0..PATTERNS.len()).all(|i| secret(i).is_some()));
        assert!(ANCHORS.is_some());
        assert!(PATTERNS.iter().all(|(_, anchors)| !anchors.is_empty()));
    }

    #[test]
    fn provider_keys_are_redacted_keeping_a_prefix_and_a_fingerprint() {
        let key = format!("sk_live_{}", "a1B2c3D4e5F6g7H8i9J0k1L2");
        let line = format!("stripe.api_key = \"{key}\"");
        let red = redact_secrets(&line);
        assert!(!red.contains(&key), "{red}");
        assert!(red.contains("sk_live_"), "the prefix stays: {red}");
        assert!(red.contains(REDACTED_MARK), "{red}");
        // Deterministic: the same secret gets the same fingerprint.
        assert_eq!(red, redact_secrets(&line));
        let other = redact_secrets("stripe.api_key = \"sk_live_zzzzzzzzzzzzzzzzzzzzzzzzzz\"");
        assert_ne!(red, other);
    }

    #[test]
    fn only_the_secret_part_of_a_match_goes() {
        let line = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc";
        let red = redact_secrets(line);
        assert!(
            red.starts_with("aws_secret_access_key = wJalrXUt…"),
            "{red}"
        );
        assert!(!red.contains("bPxRfiCYzzzzKEYabc"), "{red}");

        let url = "DATABASE_URL = 'postgres://app:hunter2hunter2@db.internal:5432/app'";
        let red = redact_secrets(url);
        assert!(red.contains("postgres://app:"), "{red}");
        assert!(red.contains("@db.internal"), "{red}");
        assert!(!red.contains("hunter2hunter2"), "{red}");

        for line in [
            "spring.datasource.url=jdbc:mysql://db:3306/shop?user=shop&password=Sh0pDb!2024",
            "ConnectionStrings__Orders=Host=pg;Database=orders;Username=orders;Password=0rd3rs-pg",
            r#""Orders": "Server=sql01;User Id=app;Password=0rd3rs!Pr0d;TrustServerCertificate=True""#,
            r#""JwtKey": "b7Jd92kLmQ0vX4tR8sPz1YwE6nHc3Ua5","#,
            "CREATE USER 'reporting'@'%' IDENTIFIED BY 'Sh0pDb!2024';",
            "CREATE ROLE orders LOGIN PASSWORD '0rd3rs-pg';",
            "app.jwt.secret=Sh0pDb!2024",
            "    client-secret: 0rd3rs-pg",
            r#"token = JWT.encode({ sub: id }, "Sh0pDb!2024", "HS256")"#,
            r#"new SymmetricSecurityKey(Encoding.UTF8.GetBytes("0rd3rs-pg"))"#,
        ] {
            let red = redact_secrets(line);
            for secret in [
                "Sh0pDb!2024",
                "0rd3rs-pg",
                "0rd3rs!Pr0d",
                "b7Jd92kLmQ0vX4tR8sPz1YwE6nHc3Ua5",
            ] {
                assert!(!red.contains(secret), "{red}");
            }
        }

        let assign = "password = \"Tr0ub4dor&3xyz\"";
        let red = redact_secrets(assign);
        assert!(!red.contains("Tr0ub4dor&3xyz"), "{red}");
        assert!(red.starts_with("password = \""), "{red}");
    }

    #[test]
    fn typed_camel_case_and_fallback_secrets_are_redacted() {
        for (line, value) in [
            (
                r#"const SIGNING_KEY: &str = "k3y-prod-2f9a8c1d77e0";"#,
                "k3y-prod-2f9a8c1d77e0",
            ),
            (
                r#"var apiKey string = "a8f5f167f44f4964e6c9""#,
                "a8f5f167f44f4964e6c9",
            ),
            ("  jwtSecret: 'kT9vX2mQ7rLp4Ws8',", "kT9vX2mQ7rLp4Ws8"),
            (
                r#"var signingKey = []byte("k8s-prod-2f9a7c1e55b04d")"#,
                "k8s-prod-2f9a7c1e55b04d",
            ),
            (r#"jwtKey := []byte("Zq8mN3vL7pX2")"#, "Zq8mN3vL7pX2"),
            (
                r#"	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("secret"))"#,
                "secret",
            ),
            (
                "\ttok, err := jwt.Parse(raw, func(t *jwt.Token) (interface{}, error) {\n\t\treturn []byte(\"supersecret\"), nil",
                "supersecret",
            ),
            (
                r#"    return jwt.encode({"sub": user_id}, "s3cr3t-k", algorithm="HS256")"#,
                "s3cr3t-k",
            ),
            (
                r#"    val signKey = hex("6a3f9b21c0d84e77a5b1f2c3d4e5f60718293a4b")"#,
                "6a3f9b21c0d84e77a5b1f2c3d4e5f60718293a4b",
            ),
            (
                r#"const defaultSessionKey = "qu4rry-s3ss10n-k3y-2025!zz""#,
                "qu4rry-s3ss10n-k3y-2025!zz",
            ),
            (r#"sessionKey := "Hx7-pL2q-9vWz""#, "Hx7-pL2q-9vWz"),
            (
                r#"set :session_secret, 'van-tracker-session-2024'"#,
                "van-tracker-session-2024",
            ),
            (r#"const dbPassword = "Pr0d-Db-2024!";"#, "Pr0d-Db-2024!"),
            (
                r#"		JWTSecret: []byte("cr0p-prod-hmac-7b1e9c2d44"),"#,
                "cr0p-prod-hmac-7b1e9c2d44",
            ),
            (r#"		SMTPPassword: "Sup3rS3cretMail!","#, "Sup3rS3cretMail!"),
            (
                r#"		SigningKey:  []byte("4c9e1f07-ledger-hmac-2022"),"#,
                "4c9e1f07-ledger-hmac-2022",
            ),
            (
                r#"serializer = URLSafeTimedSerializer("portal-2023-signing")"#,
                "portal-2023-signing",
            ),
            (
                r#"sig = hmac.new(b"webhook-k3y-77", body, hashlib.sha256)"#,
                "webhook-k3y-77",
            ),
            (
                "  private readonly stripeSecretKey: string = 'rk9vX2mQ7rLp4Ws8Yz';",
                "rk9vX2mQ7rLp4Ws8Yz",
            ),
            (
                r#"JWT_SECRET = os.getenv("JWT_SECRET", "changeme-2024")"#,
                "changeme-2024",
            ),
            (
                "secret: process.env.SESSION_SECRET || 'keyboard-cat-42',",
                "keyboard-cat-42",
            ),
            (
                r#"@Value("${jwt.secret:mySecretKey123456}")"#,
                "mySecretKey123456",
            ),
            (
                "- ROOT_PASSWORD=${DB_PASSWORD:-infini_rag_flow}",
                "infini_rag_flow",
            ),
            (
                r#"  config.secret_key_base = "6f1a9b0c3d2e4f5a6b7c8d9e0f1a""#,
                "6f1a9b0c3d2e4f5a6b7c8d9e0f1a",
            ),
            (
                "return jwt.sign({ sub: u.id, role: u.role }, 'museum-staff-2024', { expiresIn: '8h' });",
                "museum-staff-2024",
            ),
            (
                r#"private val key = Keys.hmacShaKeyFor("parking-officer-key-24".toByteArray())"#,
                "parking-officer-key-24",
            ),
            (
                r#"Algorithm algorithm = Algorithm.HMAC256("s3cr3t-admissions");"#,
                "s3cr3t-admissions",
            ),
            (
                r#".signWith(SignatureAlgorithm.HS512, "warehouse-secret")"#,
                "warehouse-secret",
            ),
            (
                r#"static const char kUploadToken[] = "up_live_5d2c9a7e31f04b8c";"#,
                "up_live_5d2c9a7e31f04b8c",
            ),
            (
                r#"const char mqtt_password[32] = "Hv4c!Roof2023";"#,
                "Hv4c!Roof2023",
            ),
            (
                r#"static const std::string kSigningSecret{"ss_prod_8e2b6f0c91"};"#,
                "ss_prod_8e2b6f0c91",
            ),
            (
                r#"let key = EncodingKey::from_secret(b"dispatch-signing-2024");"#,
                "dispatch-signing-2024",
            ),
            (
                r#"let mac = HmacSha256::new_from_slice(b"webhook-shared-9f2c").unwrap();"#,
                "webhook-shared-9f2c",
            ),
            (
                r#"    let key = Key::from(b"0123456789abcdef0123456789abcdef0123456789abcdef");"#,
                "0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
            (
                r#"const CALLER_KEY: &[u8] = b"bingo-caller-2023!eyes";"#,
                "bingo-caller-2023!eyes",
            ),
            (
                r#"    private static final String ROTA_TOKEN_KEY = "r0ta-desk!signing-2021";"#,
                "r0ta-desk!signing-2021",
            ),
            (
                r#"    private const string TokenKey = "stable-staff-signing-2023";"#,
                "stable-staff-signing-2023",
            ),
        ] {
            let red = redact_secrets(line);
            assert!(!red.contains(value), "{line} -> {red}");
            assert!(red.contains(REDACTED_MARK), "{line} -> {red}");
        }
        // Names alone, reads without a fallback and interpolated values keep their text.
        for line in [
            r#"conn = f"SERVER={host};UID={req['username']};PWD={req['password']};""#,
            r#"JWT_SECRET = os.environ["JWT_SECRET"]"#,
            "const secret = process.env.JWT_SECRET;",
            "resetPasswordPath(user)",
        ] {
            assert_eq!(redact_secrets(line), line);
        }
    }

    #[test]
    fn text_without_secrets_is_borrowed_and_redaction_is_idempotent() {
        let plain = "os.system(\"ls \" + request.args[\"p\"])";
        assert!(matches!(redact_secrets(plain), Cow::Borrowed(_)));
        let line = "key = AKIAIOSFODNN7EXAMPLE";
        let once = redact_secrets(line).into_owned();
        assert!(!once.contains("AKIAIOSFODNN7EXAMPLE"), "{once}");
        assert_eq!(redact_secrets(&once), once);
    }
}

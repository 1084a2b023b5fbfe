//! What kind of file a path is, for ranking: application code first.
//!
//! Tests, fixtures, examples, documentation and rule definitions (a scanner's
//! own patterns, a file of example secrets) match many rules and rarely ship.
//! They are still scanned, counted and listed, but rank below application code
//! unless the user asks for equal terms (`scan --include-tests`).

use serde::Serialize;

/// The kind of a scanned file, as far as ranking cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathClass {
    /// Code that ships: ranked on its score alone.
    App,
    Test,
    Fixture,
    Example,
    Docs,
    /// Detection rules, signatures, patterns: full of what rules look for, on purpose.
    RuleDefinition,
}

impl PathClass {
    pub fn name(self) -> &'static str {
        match self {
            PathClass::App => "app",
            PathClass::Test => "test",
            PathClass::Fixture => "fixture",
            PathClass::Example => "example",
            PathClass::Docs => "docs",
            PathClass::RuleDefinition => "rule-definition",
        }
    }

    /// Ranked below application code by default.
    pub fn is_demoted(self) -> bool {
        self != PathClass::App
    }
}

const FIXTURE_DIRS: &[&str] = &[
    "fixtures",
    "fixture",
    "__fixtures__",
    "testdata",
    "test-data",
    "test_data",
    "mocks",
    "__mocks__",
    "stubs",
    "__snapshots__",
    "snapshots",
    "golden",
];
const EXAMPLE_DIRS: &[&str] = &[
    "example",
    "examples",
    "sample",
    "samples",
    "demo",
    "demos",
    "tutorial",
    "tutorials",
    "playground",
    "cookbook",
];
const DOCS_DIRS: &[&str] = &["doc", "docs", "documentation", "man"];
const RULE_DIRS: &[&str] = &[
    "rules",
    "signatures",
    "detectors",
    "semgrep",
    "yara",
    "nuclei-templates",
    "queries",
];

/// Classifies a `/`-separated path relative to the scanned root, from its name alone.
pub fn classify_path(path: &str) -> PathClass {
    let lower = path.to_ascii_lowercase();
    let mut parts: Vec<&str> = lower.split('/').collect();
    let file = parts.pop().unwrap_or("");
    let in_dir = |names: &[&str]| parts.iter().any(|d| names.contains(d));
    let ext = file.rsplit_once('.').map_or("", |(_, e)| e);
    let data_file = matches!(
        ext,
        "yml" | "yaml" | "json" | "toml" | "yar" | "yara" | "ql"
    );
    if in_dir(FIXTURE_DIRS) {
        PathClass::Fixture
    } else if is_test_path(path) || is_test_support(file) {
        PathClass::Test
    } else if in_example_dir(&parts) || is_example_file(file) {
        PathClass::Example
    } else if in_dir(DOCS_DIRS) {
        PathClass::Docs
    } else if matches!(ext, "yar" | "yara" | "ql")
        || (data_file && (in_dir(RULE_DIRS) || is_rules_file(file)))
    {
        PathClass::RuleDefinition
    } else {
        PathClass::App
    }
}

/// Whether a directory of `parts` names examples. A package segment is not one: in
/// `src/main/java/com/example/shop/` the `example` after `com` is the reverse domain
/// (Spring Initializr's default package), and the application lives under it.
fn in_example_dir(parts: &[&str]) -> bool {
    parts.iter().enumerate().any(|(i, d)| {
        EXAMPLE_DIRS.contains(d) && !(i > 0 && REVERSE_DOMAIN_ROOTS.contains(&parts[i - 1]))
    })
}

/// The first segment of a reverse-domain package name (`com.example`, `org.sample`).
const REVERSE_DOMAIN_ROOTS: &[&str] = &["com", "org", "net", "io", "dev", "edu", "gov"];

/// Test code is worth reviewing less: it rarely ships and its "vulnerabilities" are fixtures.
pub fn is_test_path(path: &str) -> bool {
    let mut parts = path.split('/');
    let file = parts.next_back().unwrap_or("");
    let in_test_dir = path.split('/').rev().skip(1).any(|d| {
        matches!(
            d,
            "test" | "tests" | "__tests__" | "spec" | "specs" | "testdata" | "fixtures" | "e2e"
        )
    });
    let stem = file.split('.').next().unwrap_or(file);
    in_test_dir
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_spec")
        || file.contains(".test.")
        || file.contains(".spec.")
        || (stem.ends_with("Test") || stem.ends_with("Tests"))
            && stem.len() > 4
            && !stem.chars().last().is_some_and(|c| c.is_ascii_digit())
}

/// Helpers only test suites load.
fn is_test_support(file: &str) -> bool {
    matches!(
        file,
        "conftest.py" | "tests.py" | "test.py" | "setuptests.js" | "setuptests.ts"
    ) || file.starts_with("jest.")
        || file.starts_with("karma.")
        || file.starts_with("cypress.")
        || file.starts_with("playwright.")
}

fn is_example_file(file: &str) -> bool {
    let stem = file.split('.').next().unwrap_or(file);
    stem.starts_with("example_")
        || stem.starts_with("sample_")
        || stem.ends_with("_example")
        || file.contains(".example.")
        || file.contains(".sample.")
        || file.ends_with(".example")
        || file.ends_with(".sample")
}

fn is_rules_file(file: &str) -> bool {
    let stem = file.split('.').next().unwrap_or(file);
    stem == "rules"
        || stem.ends_with("-rules")
        || stem.ends_with("_rules")
        || stem == "semgrep"
        || stem == ".semgrep"
        || stem == "signatures"
        || stem == "patterns"
}

/// Whether a matched line is itself a detection pattern: a string literal holding
/// regular-expression syntax (`\d{4}`, `[A-Za-z0-9]`, `(?i)`, `\b`). A file whose hits
/// are mostly on such lines defines rules rather than breaking them.
pub fn is_pattern_line(line: &str) -> bool {
    const TOKENS: &[&str] = &[
        r"\s", r"\d", r"\w", r"\b", "(?i)", "[a-z", "[A-Z", "[0-9", "[^", "]{", "]+", r"\.",
    ];
    let quoted =
        line.contains('"') || line.contains('\'') || line.contains('`') || line.contains('/');
    quoted && TOKENS.iter().filter(|t| line.contains(*t)).count() >= 2
}

/// Classifies a file from its path and, for rule definitions written as code (a
/// scanner's patterns in a `.py` or `.go` file), the lines its hits matched.
pub fn classify<'a>(path: &str, hit_lines: impl IntoIterator<Item = &'a str>) -> PathClass {
    let by_path = classify_path(path);
    if by_path != PathClass::App {
        return by_path;
    }
    let (mut hits, mut patterns) = (0usize, 0usize);
    for line in hit_lines {
        hits += 1;
        patterns += usize::from(is_pattern_line(line));
    }
    if hits >= 3 && patterns * 10 >= hits * 6 {
        PathClass::RuleDefinition
    } else {
        PathClass::App
    }
}

/// Whether `path` names production configuration: a `prod` or `production` word in
/// the file name or a directory (`config/environments/production.rb`, `.env.production`,
/// `application-prod.properties`, `settings/prod.py`, `values.prod.yaml`).
pub(crate) fn is_production_config(path: &str) -> bool {
    path.split(['/', '.', '-', '_'])
        .any(|w| w.eq_ignore_ascii_case("prod") || w.eq_ignore_ascii_case("production"))
}

/// Whether `path` names configuration for a developer's machine: a `dev`,
/// `development` or `local` word in the file name or a directory
/// (`config/environments/development.rb`, `.env.development`, `settings/local.py`,
/// `application-dev.yml`, `docker-compose.local.yml`).
pub(crate) fn is_development_config(path: &str) -> bool {
    path.split(['/', '.', '-', '_']).any(|w| {
        w.eq_ignore_ascii_case("dev")
            || w.eq_ignore_ascii_case("development")
            || w.eq_ignore_ascii_case("local")
    })
}

/// Whether `path` is a view template: a template language's file or a server page
/// (JSP, Web Forms, Razor, ERB, Blade, Vue and Svelte components), or a plain PHP file
/// in a templates or views directory (Slim, Plates, WordPress themes).
pub(crate) fn is_view_template(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    let in_view_dir = || {
        path.split('/').rev().skip(1).any(|d| {
            matches!(
                d.to_ascii_lowercase().as_str(),
                "templates" | "views" | "template-parts" | "partials" | "layouts"
            )
        })
    };
    name.ends_with(".blade.php")
        || (matches!(ext, "php" | "phtml") && in_view_dir())
        || matches!(
            ext,
            "jsp"
                | "aspx"
                | "ascx"
                | "master"
                | "cshtml"
                | "razor"
                | "erb"
                | "phtml"
                | "vue"
                | "svelte"
        )
        || crate::Language::detect(std::path::Path::new(&name)) == Some(crate::Language::Template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths() {
        for p in [
            "tests/x.py",
            "pkg/foo_test.go",
            "src/a.test.ts",
            "test_views.py",
            "src/FooTest.java",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in [
            "testcode/BenchmarkTest00001.py",
            "src/contest.py",
            "latest/app.js",
            "Test.java",
        ] {
            assert!(!is_test_path(p), "{p}");
        }
    }

    #[test]
    fn classes_by_path() {
        let cases = [
            ("app/views.py", PathClass::App),
            ("src/routes/login.ts", PathClass::App),
            ("testcode/BenchmarkTest00001.py", PathClass::App),
            ("internal/rules/engine.go", PathClass::App),
            ("app/contest.py", PathClass::App),
            ("tests/test_views.py", PathClass::Test),
            ("pkg/api/handler_test.go", PathClass::Test),
            ("shop/tests.py", PathClass::Test),
            ("conftest.py", PathClass::Test),
            ("test/fixtures/users.json", PathClass::Fixture),
            ("pkg/testdata/secret.pem", PathClass::Fixture),
            ("src/__mocks__/db.js", PathClass::Fixture),
            ("examples/server.go", PathClass::Example),
            (
                "src/main/java/com/example/shop/OrderRepository.java",
                PathClass::App,
            ),
            ("src/main/kotlin/org/sample/app/Routes.kt", PathClass::App),
            (
                "examples/src/main/java/com/example/Demo.java",
                PathClass::Example,
            ),
            ("config/settings.example.py", PathClass::Example),
            (".env.example", PathClass::Example),
            ("docs/conf.py", PathClass::Docs),
            ("rules/secrets.yml", PathClass::RuleDefinition),
            ("detect/aws.yar", PathClass::RuleDefinition),
            ("config/semgrep-rules.yaml", PathClass::RuleDefinition),
        ];
        for (path, want) in cases {
            assert_eq!(classify_path(path), want, "{path}");
        }
    }

    #[test]
    fn code_full_of_patterns_is_a_rule_definition() {
        let lines = [
            r#"    "aws": re.compile(r"AKIA[0-9A-Z]{16}"),"#,
            r#"    "slack": re.compile(r"xox[baprs]-[0-9a-zA-Z]{10,48}"),"#,
            r#"    "pem": re.compile(r"-----BEGIN [A-Z ]+PRIVATE KEY-----\s"),"#,
        ];
        assert_eq!(
            classify("scanner/secrets.py", lines),
            PathClass::RuleDefinition
        );
        let app = [
            r#"cursor.execute("SELECT * FROM users WHERE id = " + uid)"#,
            r#"os.system("ping " + host)"#,
            r#"token = "AKIAIOSFODNN7EXAMPLE""#,
        ];
        assert_eq!(classify("app/db.py", app), PathClass::App);
        // Two pattern-like hits are not enough to call a file a rule definition.
        assert_eq!(
            classify("app/x.py", lines.iter().take(2).copied()),
            PathClass::App
        );
    }
}

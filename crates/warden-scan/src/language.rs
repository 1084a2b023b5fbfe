//! Which language a file is written in, from its name.

use std::path::Path;

/// A language (or file family) that rule packs can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    Python,
    JavaScript,
    TypeScript,
    Go,
    Java,
    Kotlin,
    Ruby,
    Php,
    C,
    Cpp,
    CSharp,
    Rust,
    Shell,
    /// SQL scripts: migrations, stored procedures and functions.
    Sql,
    /// Configuration and data files: YAML, JSON, TOML, XML, INI, properties, env files, Dockerfiles, Terraform.
    Config,
    /// HTML and server-side templates.
    Template,
}

impl Language {
    pub const ALL: [Language; 16] = [
        Language::Python,
        Language::JavaScript,
        Language::TypeScript,
        Language::Go,
        Language::Java,
        Language::Kotlin,
        Language::Ruby,
        Language::Php,
        Language::C,
        Language::Cpp,
        Language::CSharp,
        Language::Rust,
        Language::Shell,
        Language::Sql,
        Language::Config,
        Language::Template,
    ];

    /// The name used in rule packs, the store and reports.
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Go => "go",
            Language::Java => "java",
            Language::Kotlin => "kotlin",
            Language::Ruby => "ruby",
            Language::Php => "php",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::CSharp => "csharp",
            Language::Rust => "rust",
            Language::Shell => "shell",
            Language::Sql => "sql",
            Language::Config => "config",
            Language::Template => "template",
        }
    }

    /// Parses a name as written in a rule pack.
    pub fn from_name(name: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether this is a programming language (as opposed to config or templates).
    pub fn is_code(self) -> bool {
        !matches!(self, Language::Config | Language::Template)
    }

    /// Detects the language from a file name; `None` means Warden has no rules for it.
    pub fn detect(path: &Path) -> Option<Language> {
        let name = path.file_name()?.to_str()?;
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "dockerfile" | "containerfile" | "docker-compose.yml" | "docker-compose.yaml" => {
                return Some(Language::Config)
            }
            "gemfile" | "rakefile" => return Some(Language::Ruby),
            // Where private keys usually live: the secrets rules must see them.
            "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" => return Some(Language::Config),
            _ => {}
        }
        if lower.starts_with(".env") || lower.starts_with("dockerfile.") {
            return Some(Language::Config);
        }
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        let lang = match ext {
            "py" | "pyw" | "pyi" => Language::Python,
            "js" | "jsx" | "mjs" | "cjs" | "vue" | "svelte" | "astro" => Language::JavaScript,
            "ts" | "tsx" | "mts" | "cts" => Language::TypeScript,
            "go" => Language::Go,
            "java" | "jsp" => Language::Java,
            "kt" | "kts" => Language::Kotlin,
            "rb" | "rake" | "erb" => Language::Ruby,
            "php" | "phtml" => Language::Php,
            "c" | "h" => Language::C,
            "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "ipp" => Language::Cpp,
            // Web Forms pages, controls and master pages hold C# between `<% %>`.
            "cs" | "cshtml" | "razor" | "aspx" | "ascx" | "master" => Language::CSharp,
            "rs" => Language::Rust,
            "sh" | "bash" | "zsh" | "ksh" => Language::Shell,
            "sql" | "psql" | "pgsql" | "plsql" | "pls" | "pkb" | "pks" | "prc" => Language::Sql,
            "yml" | "yaml" | "json" | "toml" | "xml" | "ini" | "cfg" | "conf" | "properties"
            | "env" | "tf" | "tfvars" | "hcl" | "config" | "plist" | "gradle" | "pem" | "key"
            | "ppk" => Language::Config,
            "html" | "htm" | "j2" | "jinja" | "jinja2" | "hbs" | "handlebars" | "ejs"
            | "mustache" | "twig" | "tmpl" | "gotmpl" | "pug" | "jade" | "njk" | "nunjucks"
            | "liquid" | "ftl" | "ftlh" | "ftlx" | "haml" | "slim" | "gohtml" | "tpl" => {
                Language::Template
            }
            _ => return None,
        };
        Some(lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_languages_from_names() {
        let cases = [
            ("app/views.py", Some(Language::Python)),
            ("web/src/App.tsx", Some(Language::TypeScript)),
            ("server.mjs", Some(Language::JavaScript)),
            ("main.go", Some(Language::Go)),
            ("Foo.java", Some(Language::Java)),
            ("build.gradle.kts", Some(Language::Kotlin)),
            ("lib/x.rb", Some(Language::Ruby)),
            ("index.php", Some(Language::Php)),
            ("a.c", Some(Language::C)),
            ("a.hpp", Some(Language::Cpp)),
            ("Program.cs", Some(Language::CSharp)),
            ("Search.aspx", Some(Language::CSharp)),
            ("db/procs/search_orders.sql", Some(Language::Sql)),
            ("views/profile.pug", Some(Language::Template)),
            ("app/views/posts/show.html.haml", Some(Language::Template)),
            ("templates/review.ftlh", Some(Language::Template)),
            ("lib.rs", Some(Language::Rust)),
            (".env.local", Some(Language::Config)),
            ("Dockerfile", Some(Language::Config)),
            ("settings.yaml", Some(Language::Config)),
            ("deploy/id_rsa", Some(Language::Config)),
            ("certs/server.key", Some(Language::Config)),
            ("certs/server.pem", Some(Language::Config)),
            ("README.md", None),
            ("logo.png", None),
            ("Makefile", None),
        ];
        for (path, want) in cases {
            assert_eq!(Language::detect(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn names_round_trip() {
        for lang in Language::ALL {
            assert_eq!(Language::from_name(lang.name()), Some(lang));
        }
    }
}

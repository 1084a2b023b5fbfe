//! Detecting a project's frameworks from its manifests.
//!
//! Every manifest in the tree counts, not only the root's: a monorepo's
//! `web/package.json` turns on the Express rules as surely as a root one.

use std::collections::BTreeSet;
use std::path::Path;

/// (manifest file name, dependency name as it appears in the manifest, framework tag).
const SIGNATURES: &[(&str, &str, &str)] = &[
    // JavaScript / TypeScript
    ("package.json", "\"express\"", "express"),
    ("package.json", "\"koa\"", "koa"),
    ("package.json", "\"fastify\"", "fastify"),
    ("package.json", "\"@hapi/hapi\"", "hapi"),
    ("package.json", "\"@nestjs/core\"", "nestjs"),
    ("package.json", "\"next\"", "nextjs"),
    ("package.json", "\"react\"", "react"),
    ("package.json", "\"vue\"", "vue"),
    ("package.json", "\"@angular/core\"", "angular"),
    ("package.json", "\"svelte\"", "svelte"),
    ("package.json", "\"electron\"", "electron"),
    ("package.json", "\"sequelize\"", "sequelize"),
    ("package.json", "\"mongoose\"", "mongoose"),
    ("package.json", "\"mongodb\"", "mongodb"),
    ("package.json", "\"jsonwebtoken\"", "jsonwebtoken"),
    // Python
    ("requirements.txt", "flask", "flask"),
    ("requirements.txt", "django", "django"),
    ("requirements.txt", "fastapi", "fastapi"),
    ("requirements.txt", "tornado", "tornado"),
    ("requirements.txt", "pyramid", "pyramid"),
    ("requirements.txt", "sqlalchemy", "sqlalchemy"),
    ("requirements.txt", "jinja2", "jinja2"),
    ("requirements.txt", "lxml", "lxml"),
    ("requirements.txt", "pyyaml", "pyyaml"),
    ("pyproject.toml", "flask", "flask"),
    ("pyproject.toml", "django", "django"),
    ("pyproject.toml", "fastapi", "fastapi"),
    ("pyproject.toml", "sqlalchemy", "sqlalchemy"),
    ("pipfile", "flask", "flask"),
    ("pipfile", "django", "django"),
    ("pipfile", "fastapi", "fastapi"),
    ("setup.py", "flask", "flask"),
    ("setup.py", "django", "django"),
    ("setup.cfg", "flask", "flask"),
    ("setup.cfg", "django", "django"),
    // Go
    ("go.mod", "github.com/gin-gonic/gin", "gin"),
    ("go.mod", "github.com/labstack/echo", "echo"),
    ("go.mod", "github.com/gofiber/fiber", "fiber"),
    ("go.mod", "github.com/go-chi/chi", "chi"),
    ("go.mod", "github.com/gorilla/mux", "gorilla"),
    ("go.mod", "google.golang.org/grpc", "grpc"),
    ("go.mod", "gorm.io/gorm", "gorm"),
    // Java / Kotlin
    ("pom.xml", "spring-boot", "spring"),
    ("pom.xml", "spring-web", "spring"),
    ("pom.xml", "struts", "struts"),
    ("pom.xml", "jakarta.servlet", "servlet"),
    ("pom.xml", "javax.servlet", "servlet"),
    ("pom.xml", "hibernate", "hibernate"),
    ("build.gradle", "spring-boot", "spring"),
    ("build.gradle", "io.ktor", "ktor"),
    ("build.gradle.kts", "spring-boot", "spring"),
    ("build.gradle.kts", "io.ktor", "ktor"),
    // Ruby
    ("gemfile", "'rails'", "rails"),
    ("gemfile", "\"rails\"", "rails"),
    ("gemfile", "'sinatra'", "sinatra"),
    ("gemfile", "\"sinatra\"", "sinatra"),
    ("gemfile", "grpc", "grpc"),
    // Apps and engines that pull in Rails piecewise.
    ("gemfile", "'railties'", "rails"),
    ("gemfile", "\"railties\"", "rails"),
    ("gemfile", "'actionpack'", "rails"),
    ("gemfile", "\"actionpack\"", "rails"),
    // PHP
    ("composer.json", "laravel/framework", "laravel"),
    ("composer.json", "symfony/", "symfony"),
    // Eloquent and the query builder used outside a full Laravel app.
    ("composer.json", "illuminate/database", "laravel"),
    // Ruby gems and engines declare their dependencies in a gemspec
    ("gemspec", "rails", "rails"),
    ("gemspec", "sinatra", "sinatra"),
    ("gemspec", "grpc", "grpc"),
    // .NET
    ("csproj", "microsoft.aspnetcore", "aspnetcore"),
    ("csproj", "microsoft.net.sdk.web", "aspnetcore"),
    ("csproj", "newtonsoft.json", "newtonsoft"),
    ("csproj", "entityframework", "efcore"),
    ("packages.config", "microsoft.aspnet.mvc", "aspnet"),
    ("packages.config", "newtonsoft.json", "newtonsoft"),
    // Rust
    ("cargo.toml", "actix-web", "actix"),
    ("cargo.toml", "axum", "axum"),
    ("cargo.toml", "rocket", "rocket"),
    ("cargo.toml", "warp", "warp"),
];

/// The manifest's own tag: which ecosystem it declares.
fn ecosystem(file: &str) -> Option<&'static str> {
    Some(match file {
        "package.json" => "npm",
        "requirements.txt"
        | "requirements-dev.txt"
        | "pyproject.toml"
        | "pipfile"
        | "setup.py"
        | "setup.cfg" => "pypi",
        "go.mod" => "go-modules",
        "pom.xml" => "maven",
        "build.gradle" | "build.gradle.kts" => "gradle",
        "gemfile" => "rubygems",
        "composer.json" => "composer",
        "cargo.toml" => "cargo",
        "gemspec" => "rubygems",
        "csproj" | "packages.config" => "nuget",
        _ => return None,
    })
}

/// The manifest kind of a file name (lowercased), as used in [`SIGNATURES`]; `None` if it is none.
pub fn manifest_kind(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("requirements") && lower.ends_with(".txt") {
        return Some("requirements.txt");
    }
    if lower.ends_with(".gemspec") {
        return Some("gemspec");
    }
    if lower.ends_with(".csproj") {
        return Some("csproj");
    }
    crate::walk::MANIFESTS.iter().copied().find(|m| *m == lower)
}

/// Reads each manifest (at most 1 MiB of it) and returns the sorted set of tags found.
/// An unreadable manifest is skipped: tech detection only turns rules on.
pub fn detect(manifests: &[impl AsRef<Path>]) -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    for manifest in manifests {
        let path = manifest.as_ref();
        let Some(name) = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
        else {
            continue;
        };
        let Some(name) = manifest_kind(&name) else {
            continue;
        };
        let Ok(bytes) = read_capped(path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        if let Some(eco) = ecosystem(name) {
            tags.insert(eco.to_string());
        }
        for (file, needle, tag) in SIGNATURES {
            if *file == name && text.contains(needle) {
                tags.insert((*tag).to_string());
            }
        }
    }
    tags
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(1 << 20)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_frameworks_in_nested_manifests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let web = dir.path().join("web");
        std::fs::create_dir(&web).expect("mkdir");
        std::fs::write(
            web.join("package.json"),
            r#"{"dependencies":{"express":"^4"}}"#,
        )
        .expect("write");
        std::fs::write(
            dir.path().join("requirements.txt"),
            "Flask==3.0\nrequests\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("go.mod"),
            "module x\nrequire github.com/gin-gonic/gin v1",
        )
        .expect("write");
        let tags = detect(&[
            web.join("package.json"),
            dir.path().join("requirements.txt"),
            dir.path().join("go.mod"),
            dir.path().join("missing/pom.xml"),
        ]);
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        assert_eq!(
            tags,
            ["express", "flask", "gin", "go-modules", "npm", "pypi"]
        );
    }

    #[test]
    fn look_alike_names_do_not_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("package.json");
        std::fs::write(
            &p,
            r#"{"dependencies":{"express-validator":"1","nextra":"2"}}"#,
        )
        .expect("write");
        let tags = detect(&[p]);
        assert!(!tags.contains("express"), "{tags:?}");
        assert!(!tags.contains("nextjs"), "{tags:?}");
    }
}

//! Integration tests of the store: every test of the API runs against both backends,
//! real SQLite files in temporary directories and real PostgreSQL databases on a
//! throwaway cluster (`warden_testkit::pg`); tests of files on disk are SQLite-only.

/// Instantiates each generic test `fn name(b: Backend)` as `sqlite::name` and
/// `postgres::name`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(crate::common::Backend::Sqlite)
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(crate::common::Backend::Postgres)
                }
            )*
        }
    };
}

mod claims;
mod common;
mod findings;
mod locks;
mod open;
mod postgres;
mod redaction;
mod review;
mod scan;
mod sessions;
mod spend;
mod surface;
mod workers;

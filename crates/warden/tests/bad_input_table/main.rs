//! The bad-input table: every command, fed what a careless user or an attacker would
//! give it. Each row names the command line, what it starts from, the exit code, a
//! phrase the error must contain and what must hold afterwards; every row also checks
//! that nothing panicked, hung, printed more than one error line, or (unless the row
//! says so) changed a byte of its fixture. Add a row for every bad input that gets fixed.

#[path = "../common/mod.rs"]
mod common;
mod table;

mod agents;
mod cli;
mod credentials;
mod output;
mod process;
mod report;
mod sandbox;
mod scan;
mod store;

/// Each module's rows; one test per module below, so they run in parallel.
fn modules() -> Vec<fn() -> Vec<table::Case>> {
    vec![
        agents::cases,
        cli::cases,
        credentials::cases,
        scan::cases,
        output::cases,
        process::cases,
        store::cases,
        report::cases,
        sandbox::cases,
    ]
}

/// The table must keep covering every command broadly.
const AT_LEAST: usize = 150;

#[test]
fn the_table_is_broad_and_its_names_unique() {
    let mut names = Vec::new();
    for cases in modules() {
        names.extend(cases().into_iter().map(|c| c.name));
    }
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(total, names.len(), "case names are unique");
    assert!(
        total >= AT_LEAST,
        "the table has {total} cases; keep at least {AT_LEAST}"
    );
}

macro_rules! module_test {
    ($name:ident, $module:ident) => {
        #[test]
        fn $name() {
            table::run_all($module::cases());
        }
    };
}

module_test!(agents_rows, agents);
module_test!(cli_rows, cli);
module_test!(credentials_rows, credentials);
module_test!(scan_rows, scan);
module_test!(output_rows, output);
module_test!(process_rows, process);
module_test!(store_rows, store);
module_test!(report_rows, report);
module_test!(sandbox_rows, sandbox);

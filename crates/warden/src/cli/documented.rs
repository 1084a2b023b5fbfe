//! `warden --help`, each flag's help and the README say the same about exit codes and
//! numeric ranges.

use super::Cli;
use clap::CommandFactory;

const README: &str = include_str!("../../../../README.md");

fn flag_help(subcommand: &str, flag: &str) -> String {
    let mut sub = Cli::command();
    for name in subcommand.split(' ') {
        sub = sub
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("no subcommand {subcommand}"))
            .clone();
    }
    let arg = sub
        .get_arguments()
        .find(|a| a.get_long() == flag.strip_prefix("--"))
        .unwrap_or_else(|| panic!("no flag {subcommand} {flag}"));
    arg.get_help().map(ToString::to_string).unwrap_or_default()
}

#[test]
fn every_exit_code_is_in_the_readme_as_in_the_help() {
    for (code, meaning) in crate::exit::CODES {
        let row = format!("| {code} | {meaning} |");
        assert!(README.contains(&row), "README lacks the row:\n{row}");
    }
    let rows = README
        .lines()
        .skip_while(|l| !l.starts_with("## Exit codes"))
        .take_while(|l| !l.starts_with("## Numeric") && !l.starts_with("## Bench"))
        .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(
        rows,
        crate::exit::CODES.len(),
        "README has other exit codes"
    );
    let help = crate::exit::help_table();
    for (code, _) in crate::exit::CODES {
        assert!(help.contains(&format!("  {code} ")), "{help}");
    }
}

#[test]
fn every_numeric_flag_states_its_range_in_its_help_and_the_readme() {
    for (subcommand, flag, range, default) in crate::ranges::FLAGS {
        let help = flag_help(subcommand, flag);
        assert!(
            help.contains(range),
            "`{subcommand} {flag}` help does not say `{range}`: {help}"
        );
        let row = format!("| `{subcommand} {flag}` | {range} | {default} |");
        assert!(README.contains(&row), "README lacks the row:\n{row}");
    }
}

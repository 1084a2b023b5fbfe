//! Rows for output files (`scan -o`, `report -o`): devices are written in place, links
//! are written through, nothing guessable is followed, and write errors are errors.

use crate::table::{absent, case, holds, Case, Fixture::*};

pub fn cases() -> Vec<Case> {
    let mut rows = Vec::new();
    for (cmd, fixture, args) in [
        ("scan", Scanned, &["scan", "{root}", "--json", "-o"][..]),
        (
            "report",
            Findings,
            &["report", "--format", "json", "-o"][..],
        ),
    ] {
        let with = |extra: &'static str| -> Vec<&'static str> { [args, &[extra]].concat() };
        rows.extend([
            case(&format!("{cmd}: -o /dev/full"), fixture, &with("/dev/full"))
                .code(4)
                .says("/dev/full")
                .says("no space left")
                .changes()
                .check("/dev/full is still a device", |_, _| {
                    use std::os::unix::fs::FileTypeExt;
                    let meta = std::fs::symlink_metadata("/dev/full").map_err(|e| e.to_string())?;
                    meta.file_type()
                        .is_char_device()
                        .then_some(())
                        .ok_or_else(|| "replaced".to_string())
                }),
            case(
                &format!("{cmd}: -o /dev/stdout"),
                fixture,
                &with("/dev/stdout"),
            )
            .code(0)
            .changes()
            .prints("{"),
            case(&format!("{cmd}: -o /dev/null"), fixture, &with("/dev/null"))
                .code(0)
                .changes(),
            case(
                &format!("{cmd}: -o a directory"),
                fixture,
                &with("{tmp}/home"),
            )
            .code(4)
            .says("is a directory")
            .changes()
            .check("no temporary left", absent_temporaries),
            case(
                &format!("{cmd}: -o in a missing directory"),
                fixture,
                &with("{tmp}/no/such/out.json"),
            )
            .code(4)
            .says("no/such/out.json")
            .changes(),
            case(
                &format!("{cmd}: -o a dangling symlink"),
                fixture,
                &with("{tmp}/dangling"),
            )
            .prep(|ctx| {
                std::os::unix::fs::symlink(ctx.path("nowhere/x"), ctx.path("dangling")).unwrap()
            })
            .code(4)
            .says("does not exist")
            .changes()
            .check("nothing created at the target", absent("nowhere")),
            case(
                &format!("{cmd}: -o a symlink is written through"),
                fixture,
                &with("{tmp}/link.json"),
            )
            .prep(|ctx| {
                std::fs::write(ctx.path("real.json"), "old").unwrap();
                std::os::unix::fs::symlink(ctx.path("real.json"), ctx.path("link.json")).unwrap();
            })
            .code(0)
            .changes()
            .check("link kept, target replaced", |ctx, _| {
                let meta =
                    std::fs::symlink_metadata(ctx.path("link.json")).map_err(|e| e.to_string())?;
                if !meta.file_type().is_symlink() {
                    return Err("the link was replaced by a file".into());
                }
                let text =
                    std::fs::read_to_string(ctx.path("real.json")).map_err(|e| e.to_string())?;
                text.starts_with('{')
                    .then_some(())
                    .ok_or_else(|| format!("target holds {text:?}"))
            }),
            case(
                &format!("{cmd}: a link planted at the old temporary name is not followed"),
                fixture,
                &with("{tmp}/out.json"),
            )
            .prep(|ctx| {
                std::fs::write(ctx.path("victim"), "precious").unwrap();
                std::os::unix::fs::symlink(ctx.path("victim"), ctx.path(".out.json.warden-tmp"))
                    .unwrap();
            })
            .code(0)
            .changes()
            .check("victim untouched", holds("victim", "precious")),
            case(
                &format!("{cmd}: -o keeps an existing file's mode"),
                fixture,
                &with("{tmp}/out.json"),
            )
            .prep(|ctx| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::write(ctx.path("out.json"), "old").unwrap();
                std::fs::set_permissions(
                    ctx.path("out.json"),
                    std::fs::Permissions::from_mode(0o640),
                )
                .unwrap();
            })
            .code(0)
            .changes()
            .check("mode 0640", |ctx, _| {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(ctx.path("out.json"))
                    .map_err(|e| e.to_string())?
                    .permissions()
                    .mode();
                (mode & 0o777 == 0o640)
                    .then_some(())
                    .ok_or_else(|| format!("mode {mode:o}"))
            }),
        ]);
    }
    rows.push(
        case("report: stdout is /dev/full", Findings, &["report"])
            .code(4)
            .says("standard output")
            .prep(|_| ())
            .stdout_to_dev_full(),
    );
    rows
}

/// No `*.warden-tmp` file is left anywhere in the case's directory.
fn absent_temporaries(ctx: &crate::table::Ctx, _: &crate::common::Run) -> Result<(), String> {
    let mut stack = vec![ctx.tmp.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let path = entry.path();
            if path.to_string_lossy().ends_with(".warden-tmp") {
                return Err(format!("{} left behind", path.display()));
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    Ok(())
}

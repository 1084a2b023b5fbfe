//! After a scan is recorded: the attack surface (files with an entry point or reading
//! outside input, and the project files they import) is marked in the store; with `--coverage` the part of it no
//! rule selected becomes a low tier of candidates.

use std::collections::HashSet;
use std::path::Path;
use warden_scan::rules::Role;
use warden_scan::Scanner;
use warden_store::{Store, SurfaceDelta};

pub(super) fn mark(
    store: &mut Store,
    scanner: &Scanner,
    project: &str,
    root: &Path,
    coverage: bool,
) -> anyhow::Result<SurfaceDelta> {
    let entry_rules: Vec<String> = scanner
        .packs()
        .iter()
        .flat_map(|p| &p.rules)
        // A file that reads request data, argv or a message handles outside input as
        // surely as one that declares a route.
        .filter(|r| matches!(r.role, Role::EntryPoint | Role::Source))
        .map(|r| r.id.clone())
        .collect();
    let entry = store.files_with_rules(project, &entry_rules)?;
    let known: HashSet<String> = store.known_files(project)?.into_keys().collect();
    let surface: Vec<String> = warden_scan::surface::surface(root, &entry, &known)
        .into_iter()
        .collect();
    Ok(store.set_surface(project, &surface, coverage)?)
}

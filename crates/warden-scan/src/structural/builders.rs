//! Containers and builders held in a variable: what goes in (`add`, `put`, `append`,
//! `WriteString`) comes back out (`get`, `toString`, `String`), so a query assembled
//! piece by piece carries what was appended to it.

use super::analyze::{short, Walker};
use super::calls::Arg;
use super::flow::{Env, Lit, Val};
use crate::structural::fields::Kinds;
use tree_sitter::Node;

impl<'a> Walker<'a> {
    /// Lists, maps and builders held in a variable: `add`, `put`, `append`, `get`, `remove`.
    pub(super) fn container(
        &mut self,
        key: &str,
        method: &str,
        args: &[Arg<'a>],
        env: &mut Env,
        br: bool,
    ) -> Option<Val> {
        let var = env.get(key)?;
        // In a branch, a container made outside it may or may not be changed: its
        // elements and constant keys are no longer known exactly.
        let exact = !br || var.decl_br;
        let first_lit = args
            .first()
            .and_then(|a| a.val.lit.clone())
            .filter(|_| exact);
        match (method, args.len()) {
            ("put" | "setdefault" | "putIfAbsent" | "set" | "setAttribute", 2) => {
                let val = args[1].val.clone();
                let var = env.local(key);
                match first_lit {
                    Some(Lit::Str(k)) => {
                        var.keys.retain(|(kk, _)| *kk != k);
                        var.keys.push((k, val));
                    }
                    _ => {
                        // The key may be any of them: none is known exactly any more.
                        let known = std::mem::take(&mut var.keys);
                        let all = known.into_iter().fold(val, |v, (_, k)| v.join(k));
                        var.val = std::mem::take(&mut var.val).join(all);
                    }
                }
                Some(Val::default())
            }
            ("get" | "getAttribute" | "getOrDefault", 1 | 2) => {
                match (&first_lit, &var.elems) {
                    (Some(Lit::Str(k)), _) => {
                        if let Some((_, v)) = var.keys.iter().find(|(kk, _)| kk == k) {
                            return Some(v.clone());
                        }
                    }
                    (Some(Lit::Int(i)), Some(elems)) => {
                        return usize::try_from(*i).ok().and_then(|i| elems.get(i)).cloned();
                    }
                    _ => {}
                }
                let all = var.elems.iter().flatten().cloned();
                let all = all.chain(var.keys.iter().map(|(_, v)| v.clone()));
                Some(all.fold(var.val.clone(), Val::join))
            }
            ("remove" | "pop", 1) => {
                let var = env.local(key);
                if !exact {
                    var.elems = None;
                }
                if let (Some(Lit::Int(i)), Some(elems)) = (first_lit, var.elems.as_mut()) {
                    if let Ok(i) = usize::try_from(i) {
                        if i < elems.len() {
                            return Some(elems.remove(i));
                        }
                    }
                }
                Some(var.val.clone())
            }
            _ if self.syn.is(self.syn.mutators, method) => {
                let added = args
                    .iter()
                    .fold(Val::default(), |v, a| v.join(a.val.clone()));
                let var = env.local(key);
                if !exact {
                    var.elems = None;
                }
                if matches!(method, "add" | "append" | "push") && args.len() == 1 {
                    if let Some(elems) = var.elems.as_mut() {
                        elems.push(added.clone());
                    }
                }
                var.val = std::mem::take(&mut var.val).join(added);
                if var.val.nonconst && var.val.stringy && var.val.built.is_none() {
                    var.val.built = args
                        .first()
                        .map(|a| (Self::line(a.node), short(self.text(a.node))));
                }
                Some(var.val.clone())
            }
            _ => None,
        }
    }

    /// The variable a chain of builder calls starts from: `sb` of
    /// `sb.append(a).append(b)`.
    pub(super) fn builder_root(&self, mut r: Node<'a>) -> Option<String> {
        for _ in 0..16 {
            if let Some(k) = self.path_key(r) {
                return Some(k);
            }
            if !self.syn.is(self.syn.calls, r.kind_name()) {
                return None;
            }
            let (raw, _) = self.callee(r)?;
            let m = raw.rsplit('.').next().unwrap_or(&raw);
            if !self.syn.is(self.syn.mutators, m) {
                return None;
            }
            r = self.receiver(r)?;
        }
        None
    }
}

/// `new StringBuilder("SELECT …")`: a builder made from constants holds constant text
/// until something else is appended (an unknown constructor's result would make every
/// later append look like a non-constant one).
pub(super) fn constant_builder(raw: &str, args: &[Arg]) -> Option<Val> {
    let builder = matches!(
        raw,
        "new StringBuilder" | "new StringBuffer" | "new String" | "new StringJoiner"
    );
    (builder
        && args
            .iter()
            .all(|a| !a.val.nonconst && a.val.taint.is_none()))
    .then(|| Val {
        stringy: true,
        ..args
            .iter()
            .fold(Val::default(), |v, a| v.join(a.val.clone()))
    })
}

/// `new URL('/login', req.url)`: a path that starts with a single slash resolves against
/// the base's origin whatever the base holds, so the result names a page of this site
/// and carries nothing of the request. (`//host` and `/\host` are other hosts.)
pub(super) fn same_origin_url(raw: &str, args: &[Arg]) -> Option<Val> {
    if raw != "new URL" {
        return None;
    }
    match args.first().and_then(|a| a.val.lit.as_ref()) {
        Some(Lit::Str(path))
            if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") =>
        {
            Some(Val::default())
        }
        _ => None,
    }
}

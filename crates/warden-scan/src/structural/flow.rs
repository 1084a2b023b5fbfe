//! What the analysis knows about a value, and the variables of a scope.

use std::collections::HashMap;

/// Where attacker data in a value came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Flow {
    /// Bit i: the pack's source group i.
    pub groups: u64,
    /// Bit i: the pack's sanitizer group i was applied on every path seen.
    pub clean: u64,
    /// 1-based line where the data entered.
    pub line: u32,
    /// The last variable it passed through, for the label.
    pub via: Option<String>,
}

/// A compile-time constant, as far as the analysis folds them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Int(i64),
    Str(String),
    Bool(bool),
}

/// An abstract value: its taint, and how it was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Val {
    pub taint: Option<Flow>,
    /// Bit i: parameter i of the enclosing function reaches this value (for summaries).
    pub params: u64,
    /// Not a compile-time constant.
    pub nonconst: bool,
    /// Depends on state the analysis cannot see (a field, a global, a parameter-less
    /// call's result): it cannot be proven free of outside data.
    pub free: bool,
    /// Text built from a non-constant by concatenation, interpolation or formatting;
    /// the line where it was built and the non-constant's name.
    pub built: Option<(u32, String)>,
    /// A string (literal or built), as opposed to a number or an object.
    pub stringy: bool,
    /// Every non-constant part is a number computed here (`xs.length`, arithmetic):
    /// whatever the operands held, such a part is no text an attacker writes.
    pub count: bool,
    /// The constant itself, when known.
    pub lit: Option<Lit>,
    /// Objects made by an `unguarded` rule's `create`: (rule, line made, guarded).
    pub made: Vec<(usize, u32, bool)>,
    /// Lines where the value was assigned or built (a few): when it reaches a sink
    /// proven safe, line-based hits on those lines are refuted too.
    pub origin: Vec<u32>,
}

/// At most this many origin lines are kept per value.
const MAX_ORIGIN: usize = 16;

impl Val {
    /// Notes that the value was assigned or built on `line`.
    pub fn at(mut self, line: u32) -> Val {
        if !self.origin.contains(&line) && self.origin.len() < MAX_ORIGIN {
            self.origin.push(line);
        }
        self
    }

    pub fn lit(lit: Lit) -> Val {
        Val {
            stringy: matches!(lit, Lit::Str(_)),
            lit: Some(lit),
            ..Val::default()
        }
    }

    pub fn unknown() -> Val {
        Val {
            nonconst: true,
            ..Val::default()
        }
    }

    /// A number computed here (`xs.length`, arithmetic), or constant text around such
    /// numbers, carrying no request data, parameter or hidden state: pasting it into
    /// text builds nothing an attacker writes (`$${params.length}`, a placeholder's index).
    pub fn is_local_number(&self) -> bool {
        self.nonconst && self.count && self.taint.is_none() && self.params == 0 && !self.free
    }

    /// A count (`xs.length`): a number, whatever the collection holds.
    pub fn count() -> Val {
        Val {
            nonconst: true,
            count: true,
            ..Val::default()
        }
    }

    /// A value from state the analysis cannot see.
    pub fn opaque() -> Val {
        Val {
            nonconst: true,
            free: true,
            ..Val::default()
        }
    }

    /// The value of an expression made of `self` and `other`.
    pub fn join(mut self, other: Val) -> Val {
        self.taint = match (self.taint.take(), other.taint) {
            (Some(mut a), Some(b)) => {
                a.groups |= b.groups;
                // Clean for a group only if every tainted part is.
                a.clean &= b.clean;
                if a.via.is_none() {
                    a.via = b.via;
                }
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self.params |= other.params;
        self.count = (self.count || !self.nonconst) && (other.count || !other.nonconst);
        self.nonconst |= other.nonconst;
        self.free |= other.free;
        if self.built.is_none() {
            self.built = other.built;
        }
        self.stringy |= other.stringy;
        self.lit = None;
        self.made.extend(other.made);
        for l in other.origin {
            if !self.origin.contains(&l) && self.origin.len() < MAX_ORIGIN {
                self.origin.push(l);
            }
        }
        self
    }

    /// Either `self` or `other`, as after a branch: constants that differ are lost.
    pub fn either(self, other: Val) -> Val {
        let same = self.lit.is_some() && self.lit == other.lit;
        let lit = self.lit.clone();
        let mut v = self.join(other);
        if same {
            v.lit = lit;
        }
        v
    }

    /// `self` with what a sanitizer of `groups` does: its output is clean for them.
    pub fn sanitized(mut self, groups: u64) -> Val {
        if let Some(f) = &mut self.taint {
            f.clean |= groups;
        }
        self.params = 0;
        self.built = None;
        self.free = false;
        self
    }

    /// Whether the value is tainted by one of `sources` and not cleaned by one of `sanitizers`.
    pub fn tainted(&self, sources: u64, sanitizers: u64) -> Option<&Flow> {
        self.taint
            .as_ref()
            .filter(|f| f.groups & sources != 0 && f.clean & sanitizers == 0)
    }
}

/// What a variable holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Var {
    pub val: Val,
    /// The callee it stands for (`run = subprocess.run`, `import subprocess as sp`).
    pub alias: Option<String>,
    /// The wrapper call that made the alias (`functools.partial(subprocess.run,
    /// shell=True)`): what it fixed applies to every call through the alias, so a
    /// sink's `when`/`unless` read it with the call's own text.
    pub fixed: Option<String>,
    /// Elements of a list filled by constant operations (`add`, `remove(0)`), in order.
    pub elems: Option<Vec<Val>>,
    /// Entries of a map or dict stored under constant keys.
    pub keys: Vec<(String, Val)>,
    /// Declared inside a branch: its own later operations there are taken as certain.
    pub decl_br: bool,
}

/// The variables of one scope: a function starts from a copy of its enclosing scope's.
#[derive(Debug, Default, Clone)]
pub(crate) struct Env {
    pub vars: HashMap<String, Var>,
}

impl Env {
    pub fn get(&self, key: &str) -> Option<&Var> {
        self.vars.get(key)
    }

    pub fn local(&mut self, key: &str) -> &mut Var {
        self.vars.entry(key.to_string()).or_default()
    }

    /// Follows aliases: `sp.run` → `subprocess.run` when `sp` stands for `subprocess`.
    pub fn resolve(&self, path: &str) -> String {
        let mut path = path.to_string();
        for _ in 0..4 {
            if let Some(a) = self.get(&path).and_then(|v| v.alias.clone()) {
                if a != path {
                    path = a;
                    continue;
                }
            }
            let Some((head, rest)) = path.split_once('.') else {
                break;
            };
            match self.get(head).and_then(|v| v.alias.as_deref()) {
                Some(a) if a != head => path = format!("{a}.{rest}"),
                _ => break,
            }
        }
        path
    }
}

/// Code text as matched by rules: whitespace dropped (one space kept between words),
/// `->`, `::` and `?.` read as `.`, generic arguments (`<T>`) dropped.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut depth_angle = 0usize;
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_whitespace() {
            pending_space = true;
            i += 1;
            continue;
        }
        let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        if pending_space && out.chars().last().is_some_and(word) && word(c) {
            out.push(' ');
        }
        pending_space = false;
        let next = bytes.get(i + 1).copied();
        match (c, next) {
            ('-', Some('>')) | (':', Some(':')) | ('?', Some('.')) => {
                out.push('.');
                i += 2;
                continue;
            }
            // `f<T>(` and `new List<>()`: a `<` right after a word that closes before `(`.
            ('<', _)
                if depth_angle == 0
                    && out.chars().last().is_some_and(word)
                    && closes_generic(&bytes[i..]) =>
            {
                depth_angle = 1;
                i += 1;
                continue;
            }
            ('<', _) if depth_angle > 0 => depth_angle += 1,
            ('>', _) if depth_angle > 0 => {
                depth_angle -= 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        if depth_angle == 0 {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Whether `s` (starting at `<`) is a generic argument list: balanced `<...>`
/// of type-like characters, at the end of the text.
fn closes_generic(s: &[char]) -> bool {
    let mut depth = 0;
    for (i, &c) in s.iter().enumerate() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return s[i + 1..].iter().all(|c| c.is_whitespace());
                }
            }
            c if c.is_alphanumeric() || " ,.?_[]".contains(c) => {}
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_callees() {
        assert_eq!(normalize("$this->db\n  ->query"), "$this.db.query");
        assert_eq!(normalize("User::find"), "User.find");
        assert_eq!(normalize("new  URL"), "new URL");
        assert_eq!(normalize("this.http.get<T>"), "this.http.get");
        assert_eq!(normalize("new ArrayList<>"), "new ArrayList");
        assert_eq!(normalize("a?.b"), "a.b");
        assert_eq!(
            normalize("request.args.get( 'q' )"),
            "request.args.get('q')"
        );
    }

    #[test]
    fn aliases_resolve_through_heads() {
        let mut env = Env::default();
        env.local("sp").alias = Some("subprocess".into());
        env.local("run").alias = Some("sp.run".into());
        assert_eq!(env.resolve("run"), "subprocess.run");
        assert_eq!(env.resolve("sp.Popen"), "subprocess.Popen");
        assert_eq!(env.resolve("os.system"), "os.system");
    }
}

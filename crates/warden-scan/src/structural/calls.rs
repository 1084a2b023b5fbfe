//! Calls: where sinks are checked, sanitizers clean, and containers and builders
//! collect what is put in them.

use super::analyze::{short, Checked, Found, Walker};
use super::builders::{constant_builder, same_origin_url};
use super::counts::counted;
use super::flow::{normalize, Env, Lit, Val};
use super::spec::Kind;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// One argument of a call: its keyword (Python `sql=`), node and value.
pub(super) struct Arg<'t> {
    pub keyword: Option<String>,
    pub node: Node<'t>,
    pub val: Val,
}

/// Query-builder column operators whose argument is sent as a bound value
/// (SQLAlchemy's `like`/`ilike`/`contains`/`in_`, TypeORM's `Like`/`ILike`/`In`).
const BOUND_OPERATORS: &[&str] = &[
    "like",
    "ilike",
    "notlike",
    "notilike",
    "not_like",
    "not_ilike",
    "icontains",
    "startswith",
    "endswith",
    "istartswith",
    "iendswith",
    "in_",
    "not_in",
    "notin_",
    "Like",
    "ILike",
    "In",
];

impl<'a> Walker<'a> {
    /// The callee's text, from the call's start to its argument list (`$this->db->query`,
    /// `new URL`, `request.getParameter`).
    pub(crate) fn callee(&self, n: Node<'a>) -> Option<(String, Option<Node<'a>>)> {
        let args = n.field("arguments");
        let end = args.map_or(n.end_byte(), |a| a.start_byte());
        let text = self.src.get(n.start_byte()..end)?;
        if text.len() > 400 {
            return None;
        }
        Some((normalize(text.trim_end_matches('(')), args))
    }

    /// A call's text for `when`/`unless`: normalised, or raw when long.
    pub(crate) fn call_text(&self, n: Node<'a>) -> String {
        self.norm(n).unwrap_or_else(|| {
            let t = self.text(n);
            let mut end = t.len().min(4000);
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            t[..end].to_string()
        })
    }

    /// The object a method is called on, if any.
    pub(super) fn receiver(&self, n: Node<'a>) -> Option<Node<'a>> {
        if let Some(o) = n.field("object") {
            return Some(o);
        }
        if let Some(s) = n.field("scope") {
            return Some(s);
        }
        let f = n.field("function")?;
        if self.syn.is(self.syn.members, f.kind_name()) {
            return f.named_child(0);
        }
        Some(f).filter(|f| self.syn.is(self.syn.calls, f.kind_name()))
    }

    pub fn call(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let line = Self::line(n);
        let Some((raw, args_node)) = self.callee(n) else {
            return self.children_join(n, env, br);
        };
        let resolved = env.resolve(&raw);
        let method = raw.rsplit('.').next().unwrap_or(&raw).to_string();
        let recv_node = self.receiver(n);
        let recv = recv_node.map(|r| self.eval(r, env, br));
        let recv_key = recv_node.and_then(|r| self.path_key(r));
        let recv_bound = recv_key.as_ref().is_some_and(|k| env.get(k).is_some())
            || recv
                .as_ref()
                .is_some_and(|v| v.taint.is_some() || v.lit.is_some() || v.built.is_some());
        let args = self.args(args_node, env, br);

        if let Some(v) = self.source_of(&raw, line) {
            // Out-parameters (`c.ShouldBindJSON(&body)`) receive the request data too.
            for a in &args {
                if a.node.kind_name() == "unary_expression" && self.text(a.node).starts_with('&') {
                    if let Some(target) = a.node.named_child(0) {
                        self.bind(target, v.clone(), None, env, br, false);
                    }
                }
            }
            return v;
        }
        let sanitizer = self.pack.sanitizer_mask(&[&resolved, &method]);
        self.ensure_summary(&method);
        self.sinks(
            n,
            &raw,
            &resolved,
            &method,
            &args,
            recv.as_ref(),
            recv_key.as_deref(),
            env,
        );

        if let Some(v) = counted(
            &method,
            recv_node.is_some(),
            recv.as_ref().filter(|_| recv_bound),
            &args,
        ) {
            return v;
        }
        if sanitizer != 0 {
            let v = args
                .iter()
                .fold(Val::default(), |v, a| v.join(a.val.clone()));
            return Val {
                nonconst: true,
                ..v.sanitized(sanitizer)
            };
        }
        if let Some(v) = constant_builder(&raw, &args) {
            return v;
        }
        if let Some(v) = same_origin_url(&raw, &args) {
            return v;
        }
        // Containers and builders: what goes in comes back out. A chained call
        // (`sql.append(" ORDER BY ").append(sort)`) adds to the chain's variable.
        let chain_key = recv_key
            .is_none()
            .then(|| self.syn.is(self.syn.mutators, method.as_str()))
            .filter(|m| *m)
            .and_then(|_| recv_node.and_then(|r| self.builder_root(r)));
        if let Some(key) = recv_key.as_deref().or(chain_key.as_deref()) {
            if let Some(v) = self.container(key, &method, &args, env, br) {
                return v;
            }
        }
        if method == "charAt" {
            if let (Some(Lit::Str(s)), Some(Lit::Int(i))) = (
                recv.as_ref().and_then(|r| r.lit.clone()),
                args.first().and_then(|a| a.val.lit.clone()),
            ) {
                if let Some(c) = usize::try_from(i).ok().and_then(|i| s.chars().nth(i)) {
                    return Val::lit(Lit::Str(c.to_string()));
                }
            }
        }
        // A function of this file: what its summary says its result depends on.
        let in_file = !raw.contains('.')
            || raw.starts_with("this.")
            || raw.starts_with("self.")
            || raw.starts_with("$this.")
            || raw.starts_with("new ");
        let summary = self
            .summaries
            .get(&method)
            .filter(|_| in_file || recv.as_ref().is_some_and(|r| !r.nonconst))
            .cloned();
        if let Some(s) = summary {
            if let Some(ret) = &s.ret {
                let mut v = Val {
                    params: 0,
                    ..ret.clone()
                };
                for (i, a) in args.iter().enumerate() {
                    if i < 64 && ret.params & (1 << i) != 0 {
                        v = v.join(a.val.clone());
                    }
                }
                return v;
            }
        }
        let formatter = self.syn.is(self.syn.formatters, method.as_str());
        let mut v = Val::unknown();
        let mut stringy = false;
        let mut name = None;
        if let Some(r) = recv.clone().filter(|_| recv_bound) {
            stringy |= r.stringy;
            if r.nonconst {
                name = recv_node.map(|x| short(self.text(x)));
            }
            v = v.join(Val {
                made: Vec::new(),
                ..r
            });
        }
        // `Sprintf("… id = %d", id)`: an argument printed as a number adds no text.
        let numeric = if formatter {
            numeric_args(&method, recv.as_ref(), &args)
        } else {
            Vec::new()
        };
        // A column operator (`Member.name.ilike(f"%{term}%")`, TypeORM's `Like(...)`)
        // sends its operand as a bound parameter: the expression it returns holds no
        // text built from it.
        let binds = BOUND_OPERATORS.contains(&method.as_str());
        for (i, a) in args.iter().enumerate() {
            if numeric.get(i) == Some(&true) {
                continue;
            }
            stringy |= a.val.stringy && !binds;
            if a.val.nonconst && name.is_none() {
                name = Some(short(self.text(a.node)));
            }
            v = v.join(Val {
                made: Vec::new(),
                built: a.val.built.clone().filter(|_| !binds),
                ..a.val.clone()
            });
        }
        v.nonconst = true;
        // A call of constants on a known or static receiver yields no outside data; a
        // bare call without arguments (`get_input()`) may return anything.
        // A method of the current object that the file does not summarise reads its
        // state (`this.quotedTable()` from options the caller gave): not provably safe.
        // Reflection on its type (`this.getClass()`) reads no data.
        let own_method = ["this.", "self.", "$this."].iter().any(|p| {
            raw.strip_prefix(p)
                .is_some_and(|m| m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        }) && !matches!(method.as_str(), "getClass" | "__class__" | "constructor");
        v.free = args.iter().any(|a| a.val.free)
            || recv.as_ref().is_some_and(|r| r.free)
            || (recv_node.is_none() && args.is_empty())
            || own_method
            || self.syn.is(self.syn.reads, method.as_str());
        if formatter && stringy && v.built.is_none() {
            if let Some(name) = &name {
                v.built = Some((line, name.clone()));
            }
        }
        // A whole-constant format (`"a".format()`, `String.format("%d", 1)`) stays constant.
        if formatter && name.is_none() {
            v.nonconst = false;
        }
        for (rule, a) in self.active.iter().enumerate() {
            if a.spec.kind != Kind::Unguarded {
                continue;
            }
            if a.compiled
                .create
                .as_ref()
                .is_some_and(|re| re.is_match(&resolved))
            {
                let guarded = self
                    .norm(n)
                    .is_some_and(|t| a.compiled.guards.iter().any(|g| g.is_match(&t)));
                v.made.push((rule, line, guarded));
            }
        }
        v
    }

    pub(crate) fn children_join(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let mut v = Val::opaque();
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            v = v.join(self.eval(child, env, br));
        }
        v
    }

    fn args(&mut self, args: Option<Node<'a>>, env: &mut Env, br: bool) -> Vec<Arg<'a>> {
        let Some(args) = args else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut c = args.walk();
        let nodes: Vec<Node> = args.named_children(&mut c).collect();
        for mut node in nodes {
            if self.syn.is(self.syn.comments, node.kind_name()) {
                continue;
            }
            if self.syn.is(self.syn.arg_wrappers, node.kind_name()) {
                match node.named_child(node.named_child_count().saturating_sub(1) as u32) {
                    Some(inner) => node = inner,
                    None => continue,
                }
            }
            let mut keyword = None;
            let mut value = node;
            if self.syn.is(self.syn.keyword_args, node.kind_name()) {
                keyword = node.field("name").map(|k| self.text(k).to_string());
                value = node.field("value").unwrap_or(node);
            }
            let val = self.eval(value, env, br);
            out.push(Arg {
                keyword,
                node: value,
                val,
            });
        }
        out
    }

    /// Checks the call against every active rule's sinks, the file's wrapper functions,
    /// and the `use` of unguarded rules.
    #[allow(clippy::too_many_arguments)]
    fn sinks(
        &mut self,
        n: Node<'a>,
        raw: &str,
        resolved: &str,
        method: &str,
        args: &[Arg<'a>],
        recv: Option<&Val>,
        recv_key: Option<&str>,
        env: &mut Env,
    ) {
        let line = Self::line(n);
        let mut text: Option<Option<String>> = None;
        // Through an alias a wrapper made, the wrapper's fixed arguments are this call's.
        let fixed = env.get(raw).and_then(|v| v.fixed.clone());
        for ai in 0..self.active.len() {
            let a = &self.active[ai];
            let spec = a.spec;
            if spec.kind == Kind::Unguarded {
                let compiled = a.compiled;
                let t = text
                    .get_or_insert_with(|| Some(self.sink_text(n, fixed.as_deref())))
                    .clone();
                // A guard call on a made object secures it.
                if let (Some(key), Some(t)) = (recv_key, &t) {
                    if compiled.guards.iter().any(|g| g.is_match(t)) {
                        let var = env.local(key);
                        for m in var.val.made.iter_mut().filter(|m| m.0 == ai) {
                            m.2 = true;
                        }
                    }
                }
                if compiled
                    .use_
                    .as_ref()
                    .is_some_and(|re| re.is_match(resolved) || re.is_match(raw))
                {
                    let made = recv
                        .into_iter()
                        .chain(args.iter().map(|x| &x.val))
                        .flat_map(|v| v.made.iter())
                        .find(|m| m.0 == ai && !m.2)
                        .copied();
                    if let Some((_, from, _)) = made {
                        let var = recv_key
                            .map(str::to_string)
                            .unwrap_or_else(|| "parser".into());
                        self.report(ai, line, from, &var, raw, "");
                    }
                }
                continue;
            }
            // The first sink whose callee matches and whose `when`/`unless` hold.
            let mut chosen = None;
            let Some(set) = &a.compiled.sink_set else {
                continue;
            };
            let mut hits = set.matches(resolved);
            if raw != resolved {
                let more = set.matches(raw);
                if more.matched_any() {
                    hits = more;
                }
            }
            if !hits.matched_any() {
                continue;
            }
            for (si, sink) in a.compiled.sinks.iter().enumerate() {
                if !(sink.call.is_match(resolved) || sink.call.is_match(raw)) {
                    continue;
                }
                if sink.when.is_some() || sink.unless.is_some() {
                    let t = text.get_or_insert_with(|| Some(self.sink_text(n, fixed.as_deref())));
                    let t = t.as_deref().unwrap_or("");
                    if sink.when.as_ref().is_some_and(|re| !re.is_match(t))
                        || sink.unless.as_ref().is_some_and(|re| re.is_match(t))
                    {
                        continue;
                    }
                }
                chosen = Some(si);
                break;
            }
            let Some(si) = chosen else {
                continue;
            };
            let spec_sink = &spec.sinks[si];
            let every = spec_sink.args.is_empty() && !spec_sink.receiver;
            let matters = |i: usize, arg: &Arg| match &arg.keyword {
                Some(k) => spec_sink.kwargs.iter().any(|w| w == k),
                None => every || spec_sink.args.contains(&i),
            };
            let mut relevant: Vec<&Val> = args
                .iter()
                .enumerate()
                .filter(|(i, x)| matters(*i, x))
                .map(|(_, x)| &x.val)
                .collect();
            if spec_sink.receiver {
                relevant.extend(recv);
            }
            self.judge(ai, n, resolved, &relevant);
            let _ = line;
        }
        // Wrappers: a function of this file whose parameter reaches a sink.
        let in_file = !raw.contains('.')
            || raw.starts_with("this.")
            || raw.starts_with("self.")
            || raw.starts_with("$this.");
        if !in_file {
            return;
        }
        let Some(summary) = self.summaries.get(method).cloned() else {
            return;
        };
        for (ai, mask, sink) in summary.sinks {
            let vals: Vec<&Val> = args
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < 64 && mask & (1 << i) != 0)
                .map(|(_, a)| &a.val)
                .collect();
            let label = format!("{method} → {sink}");
            self.judge(ai, n, &label, &vals);
        }
    }

    /// A route handler returns `expr` (Flask and similar frameworks send a returned
    /// string as an HTML page): rules with a `return` sink judge it. A returned call
    /// (`jsonify(...)`, `render_template(...)`) is judged as that call, not here.
    pub(crate) fn response(&mut self, n: Node<'a>, expr: Node<'a>, v: &Val) {
        // Dicts and lists are sent as JSON; only text built here is a page.
        let kind = expr.kind_name();
        let container = ["dict", "list", "set", "tuple", "object", "array"]
            .iter()
            .any(|c| kind.contains(c));
        if self.syn.is(self.syn.calls, kind) || container || !v.stringy || v.built.is_none() {
            return;
        }
        for ai in 0..self.active.len() {
            let a = &self.active[ai];
            let returns = a.compiled.sinks.iter().any(|s| s.call.is_match("return"));
            if returns && a.spec.kind != Kind::Unguarded {
                self.judge(ai, n, "the handler's response", &[v]);
            }
        }
    }

    /// Decides a sink call of active rule `ai` from the values of its arguments that matter.
    fn judge(&mut self, ai: usize, n: Node<'a>, sink: &str, vals: &[&Val]) {
        let a = &self.active[ai];
        let spec = a.spec;
        let line = Self::line(n);
        let category = a.category.to_string();
        let mut params = 0u64;
        let mut hit = None;
        for v in vals {
            params |= v.params;
            match spec.kind {
                Kind::Taint => {
                    if let Some(f) = v.tainted(spec.sources, spec.sanitizers) {
                        let group = f.groups.trailing_zeros() as usize;
                        let var = f.via.clone().unwrap_or_else(|| "input".into());
                        hit = Some((f.line, var, group));
                    }
                }
                Kind::Built => {
                    if let Some((from, var)) = &v.built {
                        hit = Some((*from, var.clone(), 0));
                    }
                }
                Kind::Unguarded | Kind::Memory => {}
            }
            if hit.is_some() {
                break;
            }
        }
        if params != 0 && hit.is_none() {
            self.param_sinks.push((ai, params, sink.to_string()));
        }
        // Safe: every argument that matters is sanitised for this rule, or carries no
        // request data and depends on nothing the analysis could not see.
        let safe = !vals.is_empty()
            && vals.iter().all(|v| match &v.taint {
                Some(f) => f.clean & spec.sanitizers != 0,
                None => !v.free && v.params == 0,
            });
        let safe = safe && hit.is_none();
        if !self.record {
            return;
        }
        self.checked.push(Checked {
            from: line,
            to: Self::end_line(n),
            category: category.clone(),
            safe,
        });
        for l in vals.iter().flat_map(|v| v.origin.iter()) {
            self.checked.push(Checked {
                from: *l,
                to: *l,
                category: category.clone(),
                safe,
            });
        }
        if let Some((from, var, group)) = hit {
            let source = self.group_labels.get(group).copied().unwrap_or("input");
            self.report(ai, line, from, &var, sink, source);
        }
    }

    fn report(&mut self, ai: usize, line: u32, from: u32, var: &str, sink: &str, source: &str) {
        if !self.record {
            return;
        }
        let label = self.active[ai]
            .spec
            .label
            .replace("{source}", source)
            .replace("{sink}", sink)
            .replace("{var}", var)
            .replace("{from}", &from.to_string())
            .replace("{to}", &line.to_string());
        let f = Found {
            active: ai,
            line,
            label,
        };
        if !self.found.iter().any(|x| x.active == ai && x.line == line) {
            self.found.push(f);
        }
    }
}

/// Per argument of a printf-style formatting call whose format is a literal, whether
/// the format prints it as a number: the format is the first argument
/// (`fmt.Sprintf`, `String.format`, `sprintf`) or, for `formatted`, the receiver.
fn numeric_args(method: &str, recv: Option<&Val>, args: &[Arg]) -> Vec<bool> {
    let text = |v: &Val| match &v.lit {
        Some(Lit::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let recv_format = recv.and_then(text);
    let (format, first) = match method {
        "formatted" => (recv_format, 0),
        // A literal receiver is Python's `"{}".format(x)`: its arguments are values.
        "Sprintf" | "sprintf" | "format" if recv_format.is_none() => {
            (args.first().and_then(|a| text(&a.val)), 1)
        }
        _ => (None, 0),
    };
    let mut out = vec![false; args.len()];
    if let Some(verbs) = format.as_deref().and_then(super::fold::numeric_verbs) {
        for (k, numeric) in verbs.into_iter().enumerate() {
            if let Some(slot) = out.get_mut(first + k) {
                *slot = numeric;
            }
        }
    }
    out
}

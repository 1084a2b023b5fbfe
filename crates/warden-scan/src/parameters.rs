//! Sinks fed by their function's parameters.
//!
//! In an application of several files the request is read in a controller and handed
//! down: the repository that builds the SQL, the storage helper that joins the path, the
//! client that fetches the URL receive it as a parameter, and their own file holds no
//! source at all. A sink whose argument is one of its function's parameters (or a local
//! computed from one) takes whatever its callers pass; the scoring counts it as it
//! counts a source the file reads elsewhere. The reading is textual, per line, for every
//! language with functions: the nearest function header above the sink, the names of its
//! parameters, and the locals assigned from them up to the sink.

use crate::Language;
use regex::bytes::{Regex, RegexBuilder};
use std::collections::HashSet;
use std::sync::LazyLock;

mod statement;
use statement::{brackets_closed, reaches_arguments, sink_closed, without_keys, MAX_VALUE_LINES};

/// How far above a sink its function's header is looked for.
const MAX_FUNCTION_LINES: usize = 120;
/// Lines of a sink's statement read after its first (arguments on the next lines).
const STATEMENT_LINES: usize = 3;

/// Function headers, up to the opening parenthesis of the parameter list.
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    ascii(concat!(
        // Python, Ruby: `def name(`; Go: `func (r *T) name(`, `func(`; Rust: `fn name<T>(`;
        // PHP, JavaScript: `function name(`; Kotlin: `fun name(`.
        r"(?:^|[^\w.])(?:(?:async\s+)?def\s+(?:self\.)?\w+[!?]?|func\s*(?:\([^)]*\)\s*)?\w*|fn\s+\w+\s*(?:<(?:[^<>{]|<[^<>{]*>)*>)?|function\s*\*?\s*&?\w*|fun\s+(?:<[^>]*>\s*)?(?:[\w.]+\.)?\w+)\s*\(",
        // Java, C#, TypeScript methods: modifiers or a return type, a name, `(`.
        r"|^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|protected|internal|static|final|override|virtual|abstract|async|synchronized|suspend|open|readonly)\s+)+[\w<>\[\],.? ]*?\b\w+\s*\(",
        r"|^\s*(?:[\w<>\[\],.?]+\s+)\w+\s*\([^;]*\)\s*(?:throws\s+[\w., ]+)?\{\s*$",
        // JavaScript and TypeScript methods: `name(a, b) {`, `name(a: T): R {`.
        r"|^\s*\w+\s*\([^;]*\)\s*(?::\s*[^{;=]+)?\{\s*$",
    ))
});

/// Arrow functions and lambdas: `async (a, b) =>`, `(int id, Db db) =>`, `x =>`; the
/// last one on a line is the innermost.
static ARROW: LazyLock<Regex> = LazyLock::new(|| {
    ascii(r"\(([^()]*)\)\s*(?::\s*[\w<>\[\]., |]+?)?\s*=>|(?:^|[^\w.])(\w+)\s*=>")
});

/// Words that open a statement, not a function: `if (`, `for (`, `return (`, and
/// Python's `async with httpx.AsyncClient(...) as client:` (whose `async` would read as
/// a method's modifier).
static NOT_A_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    ascii(
        r"^\s*(?:\}\s*)?(?:if|for|foreach|while|switch|catch|return|new|else|elif|when|match|using|lock|throw|await|yield|async\s+(?:with|for))\b",
    )
});

/// An assignment of a local: its name and what it is given.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    ascii(
        r"^\s*(?:(?:const|let|var|val|final|auto|my|local|mut)\s+)*(?:[\w<>\[\],.?]+\s+)?\$?(\w+)\s*(?::\s*[\w<>\[\]., ?|]+?)?\s*(?::=|\+=|\.=|=)[^=>~]\s*(.*)$",
    )
});

static WORD: LazyLock<Regex> = LazyLock::new(|| ascii(r"\$?[A-Za-z_]\w*"));

/// The patterns above over bytes, with ASCII classes: code's names and keywords are
/// ASCII, and Unicode classes made each thread's automata caches megabytes larger.
fn ascii(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("parameter-reading pattern")
}

/// The text of a match of the patterns above (ASCII where it matters; lossy past it).
fn text(m: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(m)
}

/// Parameter names that are the object itself or the framework's plumbing, not data a
/// caller chose.
const NOT_DATA: &[&str] = &["self", "cls", "this", "_", "ctx", "context"];

/// The names handlers give the framework's request and response objects.
const REQUEST_OBJECTS: &[&str] = &[
    "request",
    "req",
    "r",
    "w",
    "res",
    "response",
    "c",
    "httpRequest",
    "servletRequest",
];

/// Whether functions of `lang` are read here (C and C++ flaws are decided by their own
/// checks; configuration, templates, SQL scripts and shell have no such functions).
pub fn applies(lang: Language) -> bool {
    !matches!(
        lang,
        Language::C
            | Language::Cpp
            | Language::Shell
            | Language::Sql
            | Language::Config
            | Language::Template
    )
}

/// A sink to read: its line (1-based) and, for a regex hit, where its match lies.
pub struct Sink {
    pub line: u32,
    pub span: Option<std::ops::Range<usize>>,
}

/// The lines of `sinks` whose call names a parameter of the function around it, or a
/// local assigned from one. Sorted. With `handlers` (the file declares handlers), the
/// framework's request and response objects are no parameter of interest: their reads
/// are the sources' to speak for.
pub fn fed_lines(lang: Language, content: &[u8], sinks: &[Sink], handlers: bool) -> Vec<u32> {
    if sinks.is_empty() || !applies(lang) {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(content);
    let all: Vec<&str> = text.lines().collect();
    let mut fed = Vec::new();
    for sink in sinks {
        let at = sink.line as usize;
        if at == 0 || at > all.len() {
            continue;
        }
        let matched = sink
            .span
            .as_ref()
            .and_then(|r| content.get(r.start..word_end(content, r.end)))
            .map(String::from_utf8_lossy);
        if feeds(lang, &all, at - 1, matched.as_deref(), handlers) {
            fed.push(sink.line);
        }
    }
    fed.sort_unstable();
    fed.dedup();
    fed
}

/// Where a match ending at `end` ends once the first argument it stops inside is a whole
/// name: a rule that only needs that argument's first letter (`URI\.create\(\s*[a-z]`)
/// would otherwise hand over `s` for `source`, a name no parameter has. A name the match
/// cuts after an operator (`"/srv/" + c`) is left as it is.
fn word_end(content: &[u8], end: usize) -> usize {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let Some(head) = content.get(..end) else {
        return end;
    };
    let partial = head.iter().rev().take_while(|b| word(b)).count();
    let before = head[..end - partial]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace());
    if partial == 0 || before != Some(&b'(') {
        return end;
    }
    end + content
        .get(end..)
        .map_or(0, |rest| rest.iter().take_while(|b| word(b)).count())
}

/// Whether the sink on line `sink` (0-based) names a parameter of its function. Its
/// text is what the rule `matched` when that reaches into the call's arguments (a URL
/// rule stops after the URL, before the body an event parameter fills), else the
/// statement from that line on.
fn feeds(
    lang: Language,
    lines: &[&str],
    sink: usize,
    matched: Option<&str>,
    handlers: bool,
) -> bool {
    let Some((header, header_end, params)) = enclosing_function(lang, lines, sink) else {
        return false;
    };
    let mut tainted: HashSet<String> = params
        .into_iter()
        .filter(|p| !(handlers && REQUEST_OBJECTS.contains(&p.as_str())))
        .collect();
    if tainted.is_empty() {
        return false;
    }
    // Locals computed from a parameter, in order, up to the sink.
    let body = lines.get(header + 1..sink).unwrap_or(&[]);
    for (i, line) in body.iter().enumerate() {
        if let Some(c) = ASSIGNMENT.captures(line.as_bytes()) {
            let name = text(&c[1]);
            // A value spread over lines (`probe = Probe(\n  hook=payload["url"],\n)`):
            // the lines up to its closing bracket.
            let mut value = text(&c[2]).into_owned();
            for more in body.iter().skip(i + 1).take(MAX_VALUE_LINES) {
                if brackets_closed(&value) {
                    break;
                }
                value.push('\n');
                value.push_str(more);
            }
            if !tainted.contains(name.as_ref()) && names_any(&without_keys(&value), &tainted, true)
            {
                tainted.insert(name.into_owned());
            }
        }
    }
    if let Some(m) = matched.filter(|m| reaches_arguments(m)) {
        return names_any(&without_keys(m), &tainted, false);
    }
    let end = (sink + STATEMENT_LINES).min(lines.len() - 1);
    let mut statement = String::new();
    for (i, line) in lines[sink..=end].iter().enumerate() {
        // On the header's own line only what follows the header is the statement.
        let line = if i == 0 && header == sink {
            line.get(header_end..).unwrap_or("")
        } else {
            line
        };
        statement.push_str(line);
        statement.push('\n');
        let t = line.trim_end();
        if t.ends_with(';') || t.ends_with('{') || t.ends_with(')') && sink_closed(&statement) {
            break;
        }
    }
    names_any(&without_keys(&statement), &tainted, false)
}

/// Whether `text` names one of `names` as a value: as a receiver (`name.strip()`) only
/// when `receivers` (an injected `db` or `client` a sink is called on is no data).
fn names_any(text: &str, names: &HashSet<String>, receivers: bool) -> bool {
    WORD.find_iter(text.as_bytes()).any(|m| {
        let word = std::str::from_utf8(m.as_bytes()).unwrap_or("");
        let word = word.trim_start_matches('$');
        if !names.contains(word) {
            return false;
        }
        let before = text[..m.start()].chars().next_back();
        let after = &text[m.end()..];
        // A member of something else (`obj.name`), or a keyword argument's name.
        if before == Some('.')
            || after.trim_start().starts_with('=') && !after.trim_start().starts_with("==")
        {
            return false;
        }
        receivers
            || !(after.starts_with('.') || after.starts_with("->") || after.starts_with("::"))
            || reads_field(after)
    })
}

/// Whether `after` (what follows a name) reads a field of it rather than calling a
/// method on it: `.url)` of `dto.url`, not `.execute(` of `db.execute(` nor `.conn.` of
/// `db.conn.execute(`.
fn reads_field(after: &str) -> bool {
    let Some(rest) = after.strip_prefix('.').or_else(|| after.strip_prefix("->")) else {
        return false;
    };
    let field = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if field == 0 {
        return false;
    }
    let next = rest[field..].trim_start();
    !(next.starts_with('(') || next.starts_with('.') || next.starts_with("->"))
}

/// The lines (1-based, sorted) where a function starts in `content`.
pub fn function_starts(lang: Language, content: &[u8]) -> Vec<u32> {
    functions(lang, content)
        .into_iter()
        .map(|(line, _)| line)
        .collect()
}

/// The functions of `content`, in order: each header's line (1-based) and the name it
/// declares (empty for an anonymous one).
pub fn functions(lang: Language, content: &[u8]) -> Vec<(u32, String)> {
    if !applies(lang) {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(content);
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let name = match header(lang, line, false)? {
                // `const total = (a, b) =>`: the name the arrow is bound to.
                Header::Arrow { .. } => BOUND_ARROW
                    .captures(line.as_bytes())
                    .map(|c| text_of(&c[1]))
                    .unwrap_or_default(),
                // The word before the parameter list's `(`, past any `<T>`.
                Header::Opens(open) => {
                    let before = line.get(..open.saturating_sub(1)).unwrap_or("").trim_end();
                    let before = without_generics(before);
                    let start = before
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(0, |i| i + 1);
                    before[start..].to_string()
                }
            };
            Some((u32::try_from(i + 1).ok()?, name))
        })
        .collect()
}

/// `text` without the generic parameters it ends with (`open<P: AsRef<Path>>`).
fn without_generics(text: &str) -> &str {
    if !text.ends_with('>') {
        return text;
    }
    let mut depth = 0usize;
    for (i, c) in text.char_indices().rev() {
        match c {
            '>' => depth += 1,
            '<' => {
                depth -= 1;
                if depth == 0 {
                    return text[..i].trim_end();
                }
            }
            _ => {}
        }
    }
    text
}

/// The name an arrow function is bound to: `const name = async (…) =>`, `name: (…) =>`.
static BOUND_ARROW: LazyLock<Regex> = LazyLock::new(|| {
    ascii(r"(\w+)\s*(?::\s*[\w<>\[\]., ]+)?\s*[=:]\s*(?:async\s*)?(?:\(|\w+\s*=>)")
});

fn text_of(m: &[u8]) -> String {
    text(m).into_owned()
}

/// A function header on a line: an arrow function's parameter list and where the arrow
/// ends, or where a header's own parameter list opens (after its `(`).
enum Header {
    /// `nested`: inside an open parenthesis on its line (`Find(i => i.Id == id)`): a
    /// callback handed to a call, whose enclosing function's parameters still count.
    Arrow {
        params: String,
        end: usize,
        nested: bool,
    },
    Opens(usize),
}

/// The header on `line`, if it opens a function: a header, or an arrow whose body goes
/// on below (or, `on_sink_line`, one on the sink's own line).
fn header(lang: Language, line: &str, on_sink_line: bool) -> Option<Header> {
    if let Some((params, start, end)) = arrow_params(lang, line, on_sink_line) {
        let before = line.get(..start).unwrap_or("");
        let opened = before.matches('(').count() > before.matches(')').count();
        return Some(Header::Arrow {
            params,
            end,
            nested: opened,
        });
    }
    let m = HEADER.find(line.as_bytes())?;
    if NOT_A_HEADER.is_match(line.as_bytes()) {
        return None;
    }
    // The whole-line forms (`Type name(a) {`, `name(a, b) {`) match past the list: it
    // opens at their first `(`, as no return type holds one.
    let matched = line.get(m.start()..m.end())?;
    let open = match matched.ends_with('(') {
        true => m.end(),
        false => m.start() + matched.find('(')? + 1,
    };
    Some(Header::Opens(open))
}

/// The parameter list of an arrow function on `line` and where the arrow ends: one whose
/// body goes on below opens a function, as does one on the sink's own line;
/// `xs.map(x => x.id)` above it does not.
fn arrow_params(lang: Language, line: &str, on_sink_line: bool) -> Option<(String, usize, usize)> {
    if !arrows(lang) {
        return None;
    }
    let c = ARROW.captures_iter(line.as_bytes()).last()?;
    let (start, end) = c.get(0).map_or((0, line.len()), |m| (m.start(), m.end()));
    let rest = line.get(end..).unwrap_or("").trim();
    if !on_sink_line && !matches!(rest, "" | "{" | "(") {
        return None;
    }
    let list = c
        .get(1)
        .or_else(|| c.get(2))
        .map_or(&b""[..], |m| m.as_bytes());
    Some((text(list).into_owned(), start, end))
}

/// Whether `=>` opens a function in `lang` (in Rust, PHP and Ruby it is a match arm or
/// a key's value).
fn arrows(lang: Language) -> bool {
    matches!(
        lang,
        Language::JavaScript | Language::TypeScript | Language::CSharp
    )
}

/// The nearest function header above `sink`: its line, where on it the header ends,
/// and its parameter names.
fn enclosing_function(
    lang: Language,
    lines: &[&str],
    sink: usize,
) -> Option<(usize, usize, Vec<String>)> {
    let first = sink.saturating_sub(MAX_FUNCTION_LINES);
    // A callback on the sink's line: its parameters, and the enclosing function's.
    let mut callback: Option<(usize, Vec<String>)> = None;
    let with_callback = |mut names: Vec<String>, callback: &Option<(usize, Vec<String>)>| {
        if let Some((_, inner)) = callback {
            names.extend(inner.iter().cloned());
        }
        names
    };
    for i in (first..=sink).rev() {
        let line = lines[i];
        let open = match header(lang, line, i == sink) {
            None => continue,
            Some(Header::Arrow {
                params,
                end,
                nested,
            }) if i == sink && nested => {
                callback = Some((end, parameter_names(lang, &params)));
                continue;
            }
            Some(Header::Arrow { params, end, .. }) => {
                let names = with_callback(parameter_names(lang, &params), &callback);
                return Some((i, end, names));
            }
            Some(Header::Opens(open)) => open,
        };
        // The parameter list, from its `(` to the matching `)`, over lines if need be.
        let mut list = String::new();
        let mut depth = 1usize;
        let mut end = line.len();
        let text = std::iter::once(&line[open..]).chain(lines[i + 1..=sink].iter().copied());
        'read: for (n, part) in text.enumerate() {
            if n > 0 {
                list.push(' ');
            }
            for ch in part.chars() {
                match ch {
                    '(' | '[' | '{' | '<' => depth += 1,
                    ')' | ']' | '}' | '>' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            if n == 0 {
                                end = open + list.len() + 1;
                            }
                            break 'read;
                        }
                    }
                    _ => {}
                }
                list.push(ch);
            }
        }
        return Some((
            i,
            end,
            with_callback(parameter_names(lang, &list), &callback),
        ));
    }
    callback.map(|(end, names)| (sink, end, names))
}

/// The names declared by a parameter list's text.
fn parameter_names(lang: Language, list: &str) -> Vec<String> {
    let mut names = Vec::new();
    for piece in split_top_level(list) {
        // A value the framework injects from the application's configuration is the
        // deployment's, not a caller's.
        if CONFIGURED.iter().any(|a| piece.contains(a)) {
            continue;
        }
        // Defaults and annotations say nothing of the name.
        let piece = piece.split('=').next().unwrap_or("");
        let piece = strip_annotations(piece);
        let words: Vec<&str> = WORD
            .find_iter(piece.as_bytes())
            .filter_map(|m| std::str::from_utf8(m.as_bytes()).ok())
            .collect();
        let name = if let Some(dollar) = words.iter().find(|w| w.starts_with('$')) {
            Some(dollar.trim_start_matches('$'))
        } else if let Some(colon) = piece.find(':') {
            WORD.find_iter(&piece.as_bytes()[..colon])
                .last()
                .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
        } else if lang == Language::Go {
            words.first().copied()
        } else {
            words.last().copied()
        };
        if let Some(name) = name {
            let name = name.trim_start_matches('$');
            if !NOT_DATA.contains(&name) && !name.is_empty() {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Annotations that fill a parameter from configuration: Spring's and Micronaut's
/// `@Value("${app.dir}")`, MicroProfile's `@ConfigProperty(name = …)`, Micronaut's
/// `@Property(name = …)`.
const CONFIGURED: &[&str] = &["@Value(", "@ConfigProperty(", "@Property("];

/// `@Valid @RequestParam("q") String q` read as `String q`.
fn strip_annotations(piece: &str) -> String {
    let mut out = String::new();
    let mut chars = piece.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '@' {
            out.push(c);
            continue;
        }
        while chars
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        {
            chars.next();
        }
        if chars.peek() == Some(&'(') {
            let mut depth = 0;
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// `a int, b map[string]int, c func(x, y int)` split at its own commas.
fn split_top_level(list: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in list.char_indices() {
        match ch {
            '(' | '[' | '{' | '<' => depth += 1,
            ')' | ']' | '}' | '>' => depth -= 1,
            ',' if depth <= 0 => {
                pieces.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&list[start..]);
    pieces
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect()
}

#[cfg(test)]
mod tests;

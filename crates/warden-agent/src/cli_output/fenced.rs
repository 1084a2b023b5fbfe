//! The fallback answer: a fenced JSON block of findings at the end of the
//! agent's final text (```` ```json [ {...}, ... ] ``` ````).

use serde_json::Value;

use crate::mcp::MAX_RECORDS;

/// The largest block parsed; a bigger one is not an answer Warden asked for.
const MAX_BLOCK_BYTES: usize = 4 << 20;

/// The findings of the last fenced JSON answer in `text` (empty when there is
/// none: see [`fenced_json_answer`] to tell "no answer" from "no findings").
pub fn fenced_json_findings(text: &str) -> Vec<Value> {
    fenced_json_answer(text).unwrap_or_default()
}

/// The last fenced block (```` ```json ```` or a bare ```` ``` ````) whose content
/// is a JSON array of findings, an object with a `findings` array, or a single
/// finding object; None when no block parses so.
///
/// Each finding is returned as written, except that `path` is copied to `file`
/// when `file` is missing (the fallback prompt asks for `path`, while
/// [`crate::finding::validate`] reads `file`). Non-object entries are dropped,
/// and at most [`MAX_RECORDS`] are kept. An unterminated last fence (output cut
/// short) is read to the end of the text.
pub fn fenced_json_answer(text: &str) -> Option<Vec<Value>> {
    blocks(text)
        .into_iter()
        .rev()
        .find_map(|b| findings_of(b.trim()))
}

/// The contents of the fenced blocks whose info string is `json` (any case) or
/// empty, in order.
fn blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let (info, body) = match after.find('\n') {
            Some(nl) => (&after[..nl], &after[nl + 1..]),
            None => break,
        };
        let (content, next) = match body.find("```") {
            Some(close) => (&body[..close], &body[close + 3..]),
            None => (body, ""),
        };
        let info = info.trim();
        if info.is_empty() || info.eq_ignore_ascii_case("json") {
            out.push(content);
        }
        rest = next;
    }
    out
}

fn findings_of(content: &str) -> Option<Vec<Value>> {
    if content.is_empty() || content.len() > MAX_BLOCK_BYTES {
        return None;
    }
    let value: Value = serde_json::from_str(content).ok()?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut obj) => match obj.remove("findings") {
            Some(Value::Array(items)) => items,
            Some(_) => return None,
            None if looks_like_finding(&obj) => vec![Value::Object(obj)],
            None => return None,
        },
        _ => return None,
    };
    Some(
        list.into_iter()
            .filter_map(|v| match v {
                Value::Object(mut o) => {
                    if !o.contains_key("file") {
                        if let Some(p) = o.get("path").cloned() {
                            o.insert("file".into(), p);
                        }
                    }
                    Some(Value::Object(o))
                }
                _ => None,
            })
            .take(MAX_RECORDS)
            .collect(),
    )
}

fn looks_like_finding(obj: &serde_json::Map<String, Value>) -> bool {
    obj.contains_key("title") && (obj.contains_key("file") || obj.contains_key("path"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_last_json_block_wins_and_path_becomes_file() {
        let text = "I looked.\n```json\n[{\"title\": \"old\"}]\n```\nThen:\n```python\nprint(1)\n```\nFinal:\n```JSON\n[{\"title\": \"SQLi\", \"path\": \"src/app.py\", \"start_line\": 4}, 7]\n```\n";
        let f = fenced_json_findings(text);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0]["file"], "src/app.py");
        assert_eq!(f[0]["path"], "src/app.py");
    }

    #[test]
    fn answers_in_other_shapes() {
        assert_eq!(fenced_json_answer("```json\n[]\n```"), Some(vec![]));
        assert_eq!(
            fenced_json_answer("```\n{\"findings\": [{\"title\": \"t\", \"file\": \"a\"}]}\n```")
                .map(|f| f.len()),
            Some(1)
        );
        assert_eq!(
            fenced_json_answer(
                "```json\n{\"title\": \"t\", \"file\": \"a\", \"file_extra\": 1}\n```"
            )
            .map(|f| f.len()),
            Some(1)
        );
        // Cut short: the unterminated fence is read to the end.
        assert_eq!(
            fenced_json_answer("done\n```json\n[{\"title\": \"t\", \"file\": \"a\"}]")
                .map(|f| f.len()),
            Some(1)
        );
    }

    #[test]
    fn no_answer_is_none_never_a_panic() {
        for text in [
            "",
            "no findings",
            "```",
            "```json",
            "```json\n",
            "```json\n[1, 2\n```",
            "```json\n{\"summary\": \"nothing\"}\n```",
            "```json\n\"text\"\n```",
            "```rust\n[]\n```",
            "```json\n{\"findings\": 3}\n```",
            "``````````",
            "```\u{0}\n\u{fffd}```",
        ] {
            assert_eq!(fenced_json_answer(text), None, "{text:?}");
        }
        // A broken last block falls back to an earlier good one.
        let text = "```json\n[{\"title\": \"a\", \"file\": \"x\"}]\n```\n```json\n[{\"tit\n```";
        assert_eq!(fenced_json_findings(text).len(), 1);
    }

    #[test]
    fn at_most_max_records_are_kept() {
        let many: Vec<Value> = (0..500).map(|i| json!({"title": i, "file": "a"})).collect();
        let text = format!("```json\n{}\n```", Value::Array(many));
        assert_eq!(fenced_json_findings(&text).len(), MAX_RECORDS);
    }
}

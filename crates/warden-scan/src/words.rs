//! Names and lines split into their words, for rules that read what code is called.

/// The lower-cased words of `text`, split at anything not a letter or digit and at
/// camelCase humps: `uri_path`, `uriPath` and `/uri-path` all give `uri`, `path`.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        let hump = c.is_ascii_uppercase() && prev_lower;
        if (!c.is_ascii_alphanumeric() || hump) && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The identifier `s` starts with (empty if none): letters, digits, `_` and, past the
/// first character, JavaScript's `$`; never a number.
pub(crate) fn ident_prefix(s: &str) -> &str {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphanumeric() || (i > 0 && c == '$')))
        .map_or(s.len(), |(i, _)| i);
    let name = &s[..end];
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        ""
    } else {
        name
    }
}

//! The bytes a rule's matches can start with, read from its pattern.
//!
//! Looking for a match just before each literal (see [`crate::near`]) tries one start
//! offset after another. Most offsets hold a byte no match can begin with (a space
//! where the pattern starts with a letter, a letter where it starts with a quote):
//! knowing the first bytes skips them for the price of a table lookup.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Past this many possible first bytes, the table skips too little to pay for itself.
const MAX_USEFUL: usize = 200;

/// Which bytes a non-empty match can start with.
#[derive(Clone, PartialEq)]
pub struct FirstBytes([bool; 256]);

impl std::fmt::Debug for FirstBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.iter().filter(|&&b| b).count();
        write!(f, "FirstBytes({n} bytes)")
    }
}

impl FirstBytes {
    /// The first bytes of `hir`'s non-empty matches; `None` when unknown or when nearly
    /// any byte can start one.
    pub fn of(hir: &Hir) -> Option<FirstBytes> {
        let (set, _) = first(hir)?;
        let count = set.iter().filter(|&&b| b).count();
        (count <= MAX_USEFUL).then_some(FirstBytes(set))
    }

    /// Whether a match can start with `b`.
    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b)]
    }
}

/// The bytes `hir`'s non-empty matches can start with, and whether it can match the
/// empty string (then what follows it can start the match too). `None`: unknown.
fn first(hir: &Hir) -> Option<([bool; 256], bool)> {
    let mut set = [false; 256];
    let nullable = match hir.kind() {
        // Zero-width: consumes nothing, so the next part starts the match.
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(lit) => match lit.0.first() {
            Some(&b) => {
                set[usize::from(b)] = true;
                false
            }
            None => true,
        },
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    set[usize::from(b)] = true;
                }
            }
            false
        }
        HirKind::Class(Class::Unicode(c)) => {
            // Only ASCII members are spelled as one byte; leave the rest unknown.
            for r in c.ranges() {
                if u32::from(r.end()) > 0x7f {
                    return None;
                }
                for ch in r.start()..=r.end() {
                    set[ch as usize] = true;
                }
            }
            false
        }
        HirKind::Capture(cap) => return first(&cap.sub),
        HirKind::Repetition(rep) => {
            let (sub, nullable) = first(&rep.sub)?;
            return Some((sub, nullable || rep.min == 0));
        }
        HirKind::Concat(subs) => {
            for sub in subs {
                let (f, nullable) = first(sub)?;
                union(&mut set, &f);
                if !nullable {
                    return Some((set, false));
                }
            }
            true
        }
        HirKind::Alternation(subs) => {
            let mut nullable = false;
            for sub in subs {
                let (f, n) = first(sub)?;
                union(&mut set, &f);
                nullable |= n;
            }
            nullable
        }
    };
    Some((set, nullable))
}

fn union(into: &mut [bool; 256], from: &[bool; 256]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a |= *b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_of(pattern: &str) -> Option<Vec<u8>> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("parses");
        FirstBytes::of(&hir).map(|f| (0..=255u8).filter(|&b| f.contains(b)).collect())
    }

    #[test]
    fn first_bytes_of_common_shapes() {
        assert_eq!(first_of(r"\beval\("), Some(b"e".to_vec()));
        assert_eq!(first_of(r"(?i)eval"), Some(b"Ee".to_vec()));
        // Optional and zero-width parts let what follows start the match.
        assert_eq!(
            first_of(r"^\s*(?:x_)?key"),
            Some(b"\t\n\x0b\x0c\r kx".to_vec())
        );
        assert_eq!(first_of(r"ab|cd"), Some(b"ac".to_vec()));
        // A part that may repeat zero times does not end the search for first bytes.
        assert_eq!(first_of(r"[a-c]*d"), Some(b"abcd".to_vec()));
        // Nearly anything can start these: no table.
        assert_eq!(first_of(r"(?s:.)x"), None);
        assert_eq!(first_of(r#"[^"]x"#), None);
    }
}

//! Arguments, variable values and paths as the bytes Linux gives them.
//!
//! A sandboxed command's argv, its environment values and its working directory are
//! byte strings, and need not be UTF-8 (`printf '\xff'`, a file name in Latin-1).
//! They travel from the CLI to the sandbox's init as JSON (the exec protocol, the init
//! config, the sandbox record), and JSON strings are Unicode: so an [`OsArg`] is written
//! as a plain string when it is UTF-8, which keeps records readable and old ones valid,
//! and as an array of byte values (`[255]`) when it is not. Nothing is ever replaced
//! by U+FFFD on the way.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// One argument, value or path, byte for byte.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct OsArg(OsString);

impl OsArg {
    pub fn new(s: impl Into<OsString>) -> OsArg {
        OsArg(s.into())
    }

    pub fn as_os_str(&self) -> &OsStr {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn into_os_string(self) -> OsString {
        self.0
    }

    /// For messages: invalid bytes shown as U+FFFD (never for anything passed on).
    pub fn lossy(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl fmt::Debug for OsArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<OsString> for OsArg {
    fn from(s: OsString) -> OsArg {
        OsArg(s)
    }
}

impl From<&OsStr> for OsArg {
    fn from(s: &OsStr) -> OsArg {
        OsArg(s.to_os_string())
    }
}

impl From<String> for OsArg {
    fn from(s: String) -> OsArg {
        OsArg(s.into())
    }
}

impl From<&str> for OsArg {
    fn from(s: &str) -> OsArg {
        OsArg(s.into())
    }
}

impl AsRef<OsStr> for OsArg {
    fn as_ref(&self) -> &OsStr {
        &self.0
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr<'a> {
    Text(std::borrow::Cow<'a, str>),
    Bytes(Vec<u8>),
}

impl Serialize for OsArg {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(text) => Repr::Text(text.into()),
            None => Repr::Bytes(self.as_bytes().to_vec()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OsArg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OsArg, D::Error> {
        Ok(match Repr::deserialize(deserializer)? {
            Repr::Text(text) => OsArg(text.into_owned().into()),
            Repr::Bytes(bytes) => OsArg(OsString::from_vec(bytes)),
        })
    }
}

/// Converts a list of `OsString`s (argv from the command line).
pub fn os_args(items: &[OsString]) -> Vec<OsArg> {
    items.iter().cloned().map(OsArg).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stays_a_string_and_other_bytes_survive_json() {
        let text = OsArg::from("héllo");
        assert_eq!(
            serde_json::to_string(&text).ok().as_deref(),
            Some("\"héllo\"")
        );
        let raw = OsArg::new(OsString::from_vec(vec![b'a', 0xff, 0xfe, b'\n']));
        let json = serde_json::to_string(&raw).unwrap_or_default();
        assert_eq!(json, "[97,255,254,10]");
        let back: OsArg = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, raw);
        let back: OsArg = serde_json::from_str("\"héllo\"").unwrap_or_default();
        assert_eq!(back, text);
        assert!(serde_json::from_str::<OsArg>("[256]").is_err());
        assert!(serde_json::from_str::<OsArg>("{}").is_err());
    }
}

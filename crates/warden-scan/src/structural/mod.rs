//! Structural matching: a real parser per language, and data flow within a function.
mod spec;
pub use spec::{builtin_packs, parse_pack, FlowPack, Kind, SanitizerGroup, Sink, SourceGroup, Spec, BUILTIN_SOURCES};
use crate::Language;
pub fn supports(lang: Language) -> bool {
    matches!(lang, Language::Python | Language::JavaScript | Language::TypeScript | Language::Go | Language::Java | Language::Php)
}

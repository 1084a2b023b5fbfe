//! Test support shared by Warden's crates. Used only as a dev-dependency.
//!
//! - [`agents`]: installs the real Claude Code and Codex CLIs from npm once per target dir.
//! - [`sarif`]: validates documents against the official SARIF 2.1.0 schema.
//! - [`mock_llm`]: a scriptable loopback server speaking the Anthropic Messages
//!   and OpenAI Responses / Chat Completions wire formats (JSON and SSE), good
//!   enough for the real Claude Code and Codex CLIs.
//! - [`pg`]: a throwaway PostgreSQL cluster per test process, a fresh database per test.

pub mod agents;
pub mod mock_llm;
pub mod pg;
pub mod sarif;

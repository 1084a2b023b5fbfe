//! Error classes.

use thiserror::Error;

/// What went wrong in a model call.
#[derive(Debug, Error)]
pub enum LlmError {
    #[error("malformed response: {message}")]
    MalformedResponse { message: String },
}

//! Warden's store. (Being written.)
pub mod model;
pub use model::*;

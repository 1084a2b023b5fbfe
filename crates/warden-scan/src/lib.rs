//! Scanner. (Being written.)

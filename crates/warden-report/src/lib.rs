//! Report renderers. (Being written.)

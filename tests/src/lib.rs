//! Cross-crate integration tests for the Velaro call crates.

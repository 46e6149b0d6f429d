//! Cross-crate integration tests for the Velaro call crates, and the deterministic call
//! harness they share.

pub mod call_pair;
pub mod fake_browser;
pub mod fixtures;

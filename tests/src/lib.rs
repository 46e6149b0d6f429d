//! Cross-crate integration tests for the Velaro call crates, and the deterministic call
//! harness they share.

#[cfg(feature = "browser")]
pub mod browser;
pub mod call_pair;
pub mod fake_browser;
pub mod fixtures;
pub mod fuzz_checks;
pub mod redis_server;

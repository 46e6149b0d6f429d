//! Examples for the Velaro call crates; see the `[[example]]` targets in `Cargo.toml`.
//!
//! The library part only compiles the README's code blocks as doctests, so they stay true.

/// The workspace README, whose Rust code blocks run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

//! Examples for the Velaro call crates; see the `[[example]]` targets.

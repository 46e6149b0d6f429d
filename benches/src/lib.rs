//! Criterion benchmarks for the Velaro call crates, measured against peer crates.

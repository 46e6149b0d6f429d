//! Candidate parsing never panics; what parses prints as text that parses to an equal candidate.
//! The property is `velaro_tests::fuzz_checks::candidate_round_trip`, which the stable replay test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| velaro_tests::fuzz_checks::candidate_round_trip(data));

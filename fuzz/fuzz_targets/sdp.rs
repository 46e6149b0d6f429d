//! sdp::check and sdp::summarize never panic and agree on the m-sections.
//! The property is `velaro_tests::fuzz_checks::sdp_check`, which the stable replay test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| velaro_tests::fuzz_checks::sdp_check(data));

//! A script of host and client operations against a Relay; every frame it writes decodes.
//! The property is `velaro_tests::fuzz_checks::relay_script`, which the stable replay test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| velaro_tests::fuzz_checks::relay_script(data));

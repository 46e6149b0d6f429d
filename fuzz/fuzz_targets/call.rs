//! A script of envelopes, actions, media events and timeouts against a Call; it keeps its promises.
//! The property is `velaro_tests::fuzz_checks::call_script`, which the stable replay test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| velaro_tests::fuzz_checks::call_script(data));

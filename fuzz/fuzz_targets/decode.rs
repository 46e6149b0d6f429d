//! A frame decodes without panicking and round-trips through encode.
//! The property is `velaro_tests::fuzz_checks::decode_round_trip`, which the stable replay test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| velaro_tests::fuzz_checks::decode_round_trip(data));

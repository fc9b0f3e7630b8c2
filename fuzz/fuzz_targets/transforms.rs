//! The `transforms` harness of `neurallog_agent::fuzzing` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| neurallog_agent::fuzzing::transforms(data));

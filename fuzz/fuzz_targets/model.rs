#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lenframe_fuzz::model::check(data));

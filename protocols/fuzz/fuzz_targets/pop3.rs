#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| asyncore_protocol_fuzz::pop3(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| { minimis_testkit::fuzz::tlog_policy(data); });

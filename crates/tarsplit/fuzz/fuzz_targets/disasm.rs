//! Any bytes: the disassembler never panics, and whatever it accepts
//! reassembles to exactly the same bytes (fed in chunks of varying size).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chunk = data.first().map_or(1, |&b| usize::from(b) * 7 + 1);
    if let Ok(Some(rebuilt)) = tarsplit::memory::round_trip(data, chunk, 1 << 20) {
        assert_eq!(rebuilt, data, "reassembly differs from the input");
    }
});

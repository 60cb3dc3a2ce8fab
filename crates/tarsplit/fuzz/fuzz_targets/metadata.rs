//! Any bytes as metadata: reading and assembling never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tarsplit::metadata::MetadataReader;

/// Serves the same small file for every name.
struct Fixed;

impl tarsplit::PayloadSource for Fixed {
    type Payload = std::io::Cursor<&'static [u8]>;

    fn open(&mut self, _name: &[u8]) -> tarsplit::Result<(Self::Payload, u64)> {
        const BYTES: &[u8] = &[0x61; 600];
        Ok((std::io::Cursor::new(BYTES), BYTES.len() as u64))
    }
}

fuzz_target!(|data: &[u8]| {
    let entries = MetadataReader::new(data);
    let _ = tarsplit::assemble(entries, &mut Fixed, &mut std::io::sink());
});

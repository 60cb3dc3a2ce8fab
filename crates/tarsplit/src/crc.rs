//! CRC-64 as Go's `hash/crc64` computes it with the ISO table (the checksum
//! tar-split records for each file): reflected polynomial, all-ones initial
//! value and final xor, written as 8 big-endian bytes.

use crc_fast::{CrcAlgorithm, Digest};

/// A running checksum (CRC-64/GO-ISO, folded with carry-less multiplication
/// where the CPU has it).
#[derive(Clone)]
pub struct Crc64(Digest);

impl Default for Crc64 {
    fn default() -> Self {
        Self(Digest::new(CrcAlgorithm::Crc64GoIso))
    }
}

impl Crc64 {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum as tar-split stores it.
    pub fn finish(self) -> [u8; 8] {
        self.0.finalize().to_be_bytes()
    }
}

/// Checksum of `bytes` in one call.
pub fn checksum(bytes: &[u8]) -> [u8; 8] {
    let mut crc = Crc64::default();
    crc.update(bytes);
    crc.finish()
}

/// The checksum of no bytes at all, which Go records for header-only
/// members whose size field is not zero.
pub const EMPTY: [u8; 8] = [0; 8];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_tar_split() {
        assert_eq!(
            u64::from_be_bytes(checksum(b"123456789")),
            0xb909_56c7_75a4_1001
        );
        assert_eq!(checksum(b"x"), 0x2310_0000_0000_0000u64.to_be_bytes());
        assert_eq!(checksum(b""), EMPTY);
    }
}

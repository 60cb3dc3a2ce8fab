//! The tar-split metadata stream: JSON lines as Go's tar-split writes them.
//!
//! Each line is one entry. Type 2 ("segment") carries raw archive bytes
//! (headers, padding, end blocks) base64-encoded in `payload`. Type 1
//! ("file") names a member whose payload is read back from the extracted
//! tree at reassembly, with its size and the CRC-64 of its payload; names
//! that are not UTF-8 go to `name_raw` in base64. `position` counts entries
//! from 0. See docs/tarsplit.md for the whole format and our conventions.

mod reader;
mod writer;

pub use reader::MetadataReader;
pub use writer::MetadataWriter;

/// Entry type number of file entries.
pub const FILE_TYPE: u8 = 1;
/// Entry type number of raw segments.
pub const SEGMENT_TYPE: u8 = 2;

/// Raw segments are cut at this size, as Go's tar-split cuts the bytes after
/// the end of an archive.
pub const MAX_SEGMENT: usize = 1 << 20;

/// One metadata entry, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Raw archive bytes, reproduced verbatim.
    Segment(Vec<u8>),
    /// A member whose payload comes from the extracted file `name`.
    File {
        /// The member's name, raw bytes.
        name: Vec<u8>,
        /// The logical size recorded (0 when absent).
        size: u64,
        /// CRC-64 of the payload; absent for empty files.
        crc: Option<[u8; 8]>,
    },
}

/// One metadata entry, borrowed, as the disassembler emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRef<'a> {
    /// Raw archive bytes.
    Segment(&'a [u8]),
    /// A member whose payload comes from the extracted file `name`.
    File {
        /// The member's name.
        name: &'a [u8],
        /// The logical size.
        size: u64,
        /// CRC-64 of the payload, when the size is not zero.
        crc: Option<[u8; 8]>,
    },
}

impl Entry {
    /// Borrows the entry.
    pub fn as_ref(&self) -> EntryRef<'_> {
        match self {
            Entry::Segment(bytes) => EntryRef::Segment(bytes),
            Entry::File { name, size, crc } => EntryRef::File {
                name,
                size: *size,
                crc: *crc,
            },
        }
    }
}

//! The crate's error type: what went wrong reading a tar, reading metadata or
//! reassembling an archive, with enough context to name the culprit.

use std::io;

/// Everything that can fail in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A header block's checksum does not match its contents.
    #[error("tar header at byte {offset}: checksum {stored} does not match the block ({unsigned})")]
    Checksum {
        /// Offset of the header block in the archive.
        offset: u64,
        /// The checksum stored in the header, as text.
        stored: String,
        /// The checksum computed over the block.
        unsigned: u64,
    },
    /// A numeric or text field of a header cannot be parsed.
    #[error("tar header at byte {offset}: invalid {field} field {value:?}")]
    InvalidField {
        /// Offset of the header block in the archive.
        offset: u64,
        /// Which field.
        field: &'static str,
        /// The field's raw contents, lossily decoded.
        value: String,
    },
    /// A PAX extended header is malformed.
    #[error("PAX header at byte {offset}: {reason}")]
    Pax {
        /// Offset of the PAX header block in the archive.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Extension data (PAX records, GNU long names, sparse maps) is too large.
    #[error(
        "tar header at byte {offset}: {what} of {size} bytes exceeds the limit of {limit} bytes"
    )]
    TooLarge {
        /// Offset of the header block in the archive.
        offset: u64,
        /// Which kind of extension data.
        what: &'static str,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A sparse member's map is malformed or inconsistent with its data.
    #[error("sparse member {name:?} at byte {offset}: {reason}")]
    Sparse {
        /// Offset of the member's header in the archive.
        offset: u64,
        /// The member's name.
        name: String,
        /// What is wrong with the map.
        reason: String,
    },
    /// The archive ends in the middle of a header or a member's data.
    #[error("tar archive truncated at byte {offset}: {what}")]
    Truncated {
        /// Offset where the input ended.
        offset: u64,
        /// What was being read.
        what: String,
    },
    /// The tar-split metadata stream is malformed.
    #[error("tar-split metadata entry {entry}: {reason}")]
    Metadata {
        /// Index of the entry (0-based) in the metadata stream.
        entry: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file's contents do not match the checksum recorded at disassembly.
    #[error("file {name:?}: contents changed since disassembly (CRC-64 mismatch)")]
    ChecksumMismatch {
        /// The entry's name.
        name: String,
    },
    /// A file named by the metadata cannot be opened.
    #[error("file {name:?}: cannot open: {source}")]
    MissingFile {
        /// The entry's name.
        name: String,
        /// Why it could not be opened.
        source: io::Error,
    },
    /// A file named by the metadata is not a regular file.
    #[error("file {name:?}: not a regular file")]
    NotAFile {
        /// The entry's name.
        name: String,
    },
    /// A file named by the metadata has a different size than recorded.
    #[error("file {name:?}: is {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// The entry's name.
        name: String,
        /// The size the archive needs.
        expected: u64,
        /// The size found.
        actual: u64,
    },
    /// Underlying I/O failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders raw name bytes for error messages.
pub(crate) fn display_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

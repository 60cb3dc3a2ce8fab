//! Bit-exact tar disassembly and reassembly.
//!
//! A container layer's identity is the sha256 of its tar stream, every byte
//! of it: headers, padding, end blocks and whatever follows them. Once the
//! layer has been extracted, those bytes are gone from the filesystem. This
//! crate keeps them: the [`Disassembler`] reads a tar and writes
//! *metadata* — the raw bytes that are not file payload, plus a name and a
//! CRC-64 for each file — and the [`Assembler`] later rebuilds the identical
//! tar from that metadata and the extracted files.
//!
//! The metadata format is Go's tar-split JSON lines, so Docker,
//! containers/storage and Go's `tar-split` tool read what we write and we
//! read what they write. Where Go's tar-split cannot reproduce an archive
//! (sparse members, duplicate paths, header-only members with a non-zero
//! size field) this crate still does; `docs/tarsplit.md` says how.
//!
//! The cores are sans-IO: the [`Parser`] and [`Disassembler`] take byte
//! slices; the [`Assembler`] takes entries and pulls payloads from a
//! [`PayloadSource`]. Memory stays flat whatever the archive size.
//!
//! ```
//! use tarsplit::{Disassembler, metadata::{Entry, EntryRef, MetadataWriter}};
//!
//! // A one-member archive: header, 5 bytes of payload, padding, end blocks.
//! let mut header = [0u8; 512];
//! header[..5].copy_from_slice(b"hello");
//! header[100..108].copy_from_slice(b"0000644\0");
//! header[108..116].copy_from_slice(b"0000000\0");
//! header[116..124].copy_from_slice(b"0000000\0");
//! header[124..136].copy_from_slice(b"00000000005\0");
//! header[136..148].copy_from_slice(b"00000000000\0");
//! header[156] = b'0';
//! header[257..265].copy_from_slice(b"ustar\x0000");
//! header[148..156].copy_from_slice(b"        ");
//! let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
//! header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
//! let mut tar = header.to_vec();
//! tar.extend_from_slice(b"world");
//! tar.resize(512 * 4, 0);
//!
//! let mut metadata = MetadataWriter::new(Vec::new());
//! let mut disasm = Disassembler::default();
//! disasm.feed(&tar, &mut metadata).unwrap();
//! let summary = disasm.finish(&mut metadata).unwrap();
//! assert_eq!(summary.members, 1);
//! let text = String::from_utf8(metadata.into_inner().unwrap()).unwrap();
//! assert!(text.contains("\"name\":\"hello\",\"size\":5"));
//! ```

#![deny(missing_docs)]

pub mod asm;
pub mod crc;
pub mod disasm;
mod error;
mod header;
pub mod inline;
pub mod io;
pub mod member;
pub mod memory;
pub mod metadata;
pub mod parser;
pub mod path;
mod pax;
pub mod seen;
mod sparse;

pub use asm::{Assembler, PayloadSource, assemble};
pub use disasm::{DisasmSink, Disassembler, Summary, Superseded};
pub use error::{Error, Result};
pub use header::Format;
pub use member::Member;
pub use parser::{Event, Limits, Parser};

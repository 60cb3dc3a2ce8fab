//! In-memory payloads: a [`DisasmSink`] that keeps the metadata entries and
//! every payload, and a [`PayloadSource`] that serves those payloads back in
//! order. Useful for tests, fuzzing and small archives; memory grows with
//! the archive, so the streaming paths never use it.

use std::collections::VecDeque;
use std::io::Cursor;

use crate::asm::PayloadSource;
use crate::disasm::DisasmSink;
use crate::error::{Error, Result};
use crate::member::Member;
use crate::metadata::{Entry, EntryRef};

/// Keeps what the disassembler emits.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Metadata entries in order.
    pub entries: Vec<Entry>,
    /// Extracted contents of each member that stores payload, in order
    /// (sparse members expanded with their holes).
    pub payloads: VecDeque<Vec<u8>>,
    current: Option<Current>,
    /// Largest expanded sparse file to materialise.
    max_expanded: u64,
    /// Set when a sparse file was larger than `max_expanded`.
    pub too_large: bool,
}

#[derive(Debug)]
struct Current {
    stored: Vec<u8>,
    member: Member,
}

impl MemorySink {
    /// A sink that expands sparse files up to `max_expanded` bytes.
    pub fn new(max_expanded: u64) -> Self {
        Self {
            max_expanded,
            ..Self::default()
        }
    }

    fn expanded(&mut self, current: Current) -> Option<Vec<u8>> {
        let Some(map) = &current.member.sparse else {
            return Some(current.stored);
        };
        if map.real_size > self.max_expanded {
            self.too_large = true;
            return None;
        }
        let mut file = vec![0u8; map.real_size as usize];
        let mut stored = current.stored.as_slice();
        for region in &map.regions {
            let (chunk, rest) = stored.split_at(region.length as usize);
            file[region.offset as usize..][..chunk.len()].copy_from_slice(chunk);
            stored = rest;
        }
        Some(file)
    }
}

impl DisasmSink for MemorySink {
    fn entry(&mut self, entry: EntryRef<'_>) -> Result<()> {
        self.entries.push(match entry {
            EntryRef::Segment(bytes) => Entry::Segment(bytes.to_vec()),
            EntryRef::File { name, size, crc } => Entry::File {
                name: name.to_vec(),
                size,
                crc,
            },
        });
        Ok(())
    }

    fn member(&mut self, member: &Member, _supersedes: Option<crate::Superseded>) -> Result<()> {
        self.current = (member.data_len > 0).then(|| Current {
            stored: Vec::new(),
            member: member.clone(),
        });
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(current) = &mut self.current {
            current.stored.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn member_end(&mut self) -> Result<()> {
        if let Some(current) = self.current.take() {
            let file = self.expanded(current).unwrap_or_default();
            self.payloads.push_back(file);
        }
        Ok(())
    }
}

/// Serves payloads in the order they were captured, whatever the name.
#[derive(Debug, Default)]
pub struct QueueSource {
    /// Payloads still to serve.
    pub payloads: VecDeque<Vec<u8>>,
}

impl PayloadSource for QueueSource {
    type Payload = Cursor<Vec<u8>>;

    fn open(&mut self, name: &[u8]) -> Result<(Self::Payload, u64)> {
        let payload = self
            .payloads
            .pop_front()
            .ok_or_else(|| Error::MissingFile {
                name: crate::error::display_name(name),
                source: std::io::ErrorKind::NotFound.into(),
            })?;
        let len = payload.len() as u64;
        Ok((Cursor::new(payload), len))
    }
}

/// Disassembles `tar` and reassembles it from memory; returns the rebuilt
/// bytes, or `None` when a sparse file was too large to expand.
pub fn round_trip(tar: &[u8], chunk: usize, max_expanded: u64) -> Result<Option<Vec<u8>>> {
    let mut sink = MemorySink::new(max_expanded);
    let mut disasm = crate::Disassembler::default();
    for piece in tar.chunks(chunk.max(1)) {
        disasm.feed(piece, &mut sink)?;
    }
    disasm.finish(&mut sink)?;
    if sink.too_large {
        return Ok(None);
    }
    let mut source = QueueSource {
        payloads: sink.payloads,
    };
    let mut out = Vec::with_capacity(tar.len());
    crate::assemble(sink.entries.into_iter().map(Ok), &mut source, &mut out)?;
    Ok(Some(out))
}

//! The disassembler: turns a tar stream, fed as byte slices, into metadata
//! entries, and hands each member and its payload to a sink.
//!
//! Per member it emits one segment (the previous member's padding plus all
//! of this member's header blocks) and then a file entry carrying the CRC-64
//! of the payload. PAX global headers get no file entry: they are not files,
//! and two of them with the same name would trip Go's duplicate check. The
//! end-of-archive blocks and anything after them become segments of at most
//! [`MAX_SEGMENT`] bytes.
//!
//! Duplicate paths are noted, not resolved: extraction keeps only the last
//! occurrence of a path, so the earlier ones' payloads are lost from the
//! tree. [`Summary::superseded`] lists them; [`crate::inline`] rewrites the
//! metadata so their payloads travel inside it. For OCI layer tars,
//! [`Disassembler::whiteouts_supersede`] also counts a whiteout
//! (`<dir>/.wh.<name>`) as superseding an earlier `<dir>/<name>` of the
//! same archive, which applying the layer removes.
//!
//! The last occurrence of each path is kept in a [`SeenPaths`] (in memory
//! by default; [`Disassembler::seen_in`] puts it elsewhere), so apart from
//! that the disassembler's memory does not grow with the archive.

use crate::crc::Crc64;
use crate::error::Result;
use crate::member::Member;
use crate::metadata::{EntryRef, MAX_SEGMENT};
use crate::parser::{Event, Limits, Parser};
use crate::path::clean;
use crate::seen::{SeenInMemory, SeenPaths, path_key};

/// Receives what the disassembler finds, in archive order.
pub trait DisasmSink {
    /// A metadata entry.
    fn entry(&mut self, entry: EntryRef<'_>) -> Result<()>;

    /// A member's headers are complete; its payload follows. `supersedes`
    /// is the earlier occurrence of the same path in this archive, if any.
    fn member(&mut self, member: &Member, supersedes: Option<Superseded>) -> Result<()> {
        let _ = (member, supersedes);
        Ok(())
    }

    /// Payload bytes of the current member.
    fn data(&mut self, bytes: &[u8]) -> Result<()> {
        let _ = bytes;
        Ok(())
    }

    /// The current member's payload is complete.
    fn member_end(&mut self) -> Result<()> {
        Ok(())
    }
}

/// An earlier occurrence of a path that a later member replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superseded {
    /// Position of its file entry in the metadata.
    pub position: u64,
    /// Offset of its payload in the archive.
    pub data_offset: u64,
    /// Length of its payload in the archive.
    pub data_len: u64,
}

/// What a finished disassembly found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Bytes of archive read, trailer included.
    pub bytes: u64,
    /// Members seen (PAX global headers not counted).
    pub members: u64,
    /// Earlier occurrences of duplicated paths, in archive order.
    pub superseded: Vec<Superseded>,
}

/// The path a whiteout `<dir>/.wh.<name>` removes (`<dir>/<name>`), for a
/// cleaned member path; `None` for other members and opaque markers.
fn whited_out(path: &[u8]) -> Option<Vec<u8>> {
    let start = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let name = path[start..].strip_prefix(b".wh.")?;
    if name.is_empty() || name == b".wh..opq" || name == b"." || name == b".." {
        return None;
    }
    let mut target = path[..start].to_vec();
    target.extend_from_slice(name);
    Some(target)
}

/// The disassembler. Feed it the archive in order, then call `finish`.
pub struct Disassembler {
    parser: Parser,
    segment: Vec<u8>,
    crc: Crc64,
    data_offset: u64,
    position: u64,
    /// Last occurrence of each cleaned path, by [`path_key`].
    seen: Box<dyn SeenPaths>,
    /// Whether `.wh.<name>` supersedes an earlier `<name>`.
    whiteouts: bool,
    summary: Summary,
}

impl Default for Disassembler {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Disassembler {
    /// A disassembler at the start of an archive.
    pub fn new(limits: Limits) -> Self {
        Self {
            parser: Parser::new(limits),
            segment: Vec::with_capacity(8192),
            crc: Crc64::default(),
            data_offset: 0,
            position: 0,
            seen: Box::new(SeenInMemory::default()),
            whiteouts: false,
            summary: Summary::default(),
        }
    }

    /// Treats the archive as an OCI layer: a whiteout `<dir>/.wh.<name>`
    /// supersedes an earlier member `<dir>/<name>` (the sink gets it as the
    /// whiteout's `supersedes`), since applying the layer removes it.
    pub fn whiteouts_supersede(mut self) -> Self {
        self.whiteouts = true;
        self
    }

    /// Keeps the last occurrence of each path in `seen` instead of memory.
    pub fn seen_in(mut self, seen: Box<dyn SeenPaths>) -> Self {
        self.seen = seen;
        self
    }

    /// Consumes all of `input`, the next bytes of the archive.
    pub fn feed<S: DisasmSink>(&mut self, input: &[u8], sink: &mut S) -> Result<()> {
        let mut rest = input;
        loop {
            match self.parser.step(rest)? {
                Event::NeedInput => return Ok(()),
                Event::Raw(n) => {
                    self.push_raw(&rest[..n], sink)?;
                    rest = &rest[n..];
                }
                Event::Data(n) => {
                    self.crc.update(&rest[..n]);
                    sink.data(&rest[..n])?;
                    rest = &rest[n..];
                }
                Event::Member => self.on_member(sink)?,
                Event::MemberEnd => self.on_member_end(sink)?,
                Event::End => {}
            }
        }
    }

    /// Ends the archive: checks it is complete and flushes the last segment.
    pub fn finish<S: DisasmSink>(mut self, sink: &mut S) -> Result<Summary> {
        self.feed(&[], sink)?;
        self.parser.finish()?;
        self.flush_segment(sink)?;
        self.summary.bytes = self.parser.offset();
        Ok(self.summary)
    }

    fn push_raw<S: DisasmSink>(&mut self, mut bytes: &[u8], sink: &mut S) -> Result<()> {
        if !self.parser.ended() {
            self.segment.extend_from_slice(bytes);
            return Ok(());
        }
        while !bytes.is_empty() {
            let n = bytes
                .len()
                .min(MAX_SEGMENT - self.segment.len().min(MAX_SEGMENT));
            self.segment.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.segment.len() >= MAX_SEGMENT {
                self.flush_segment(sink)?;
            }
        }
        Ok(())
    }

    fn flush_segment<S: DisasmSink>(&mut self, sink: &mut S) -> Result<()> {
        if self.segment.is_empty() {
            return Ok(());
        }
        sink.entry(EntryRef::Segment(&self.segment))?;
        self.position += 1;
        self.segment.clear();
        Ok(())
    }

    fn on_member<S: DisasmSink>(&mut self, sink: &mut S) -> Result<()> {
        self.flush_segment(sink)?;
        self.crc = Crc64::default();
        self.data_offset = self.parser.offset();
        let member = self.parser.member();
        if !member.is_entry() {
            return sink.member(member, None);
        }
        // The member's file entry comes right after its payload, so it gets
        // the next position.
        let occurrence = Superseded {
            position: self.position,
            data_offset: self.data_offset,
            data_len: member.data_len,
        };
        let cleaned = clean(&member.name);
        let mut earlier = self.seen.replace(path_key(&cleaned), occurrence)?;
        if let Some(target) = self.whiteouts.then(|| whited_out(&cleaned)).flatten()
            && let Some(removed) = self.seen.take(path_key(&target))?
        {
            earlier = Some(removed);
        }
        if let Some(earlier) = earlier {
            self.summary.superseded.push(earlier);
        }
        sink.member(member, earlier)
    }

    fn on_member_end<S: DisasmSink>(&mut self, sink: &mut S) -> Result<()> {
        let member = self.parser.member();
        if !member.is_entry() {
            return sink.member_end();
        }
        let size = if member.data_len == 0 && member.sparse.is_none() {
            0
        } else {
            member.size
        };
        let crc = (size > 0).then(|| std::mem::take(&mut self.crc).finish());
        sink.entry(EntryRef::File {
            name: &member.name,
            size,
            crc,
        })?;
        self.position += 1;
        self.summary.members += 1;
        sink.member_end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySink;

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut out = h.to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    fn superseded(disasm: Disassembler, tar: &[u8]) -> Vec<u64> {
        let mut sink = MemorySink::new(1 << 20);
        let mut disasm = disasm;
        disasm.feed(tar, &mut sink).expect("feed");
        let summary = disasm.finish(&mut sink).expect("finish");
        summary.superseded.iter().map(|s| s.position).collect()
    }

    #[test]
    fn whiteouts_supersede_earlier_members_of_layers_only() {
        let mut tar = member("dir/file", b"payload");
        tar.extend(member("./dir/.wh.file", b""));
        tar.extend(member("dir/.wh..wh..opq", b""));
        tar.extend(member("dir/.wh.never", b""));
        tar.extend([0u8; 1024]);
        // Entry 1 is dir/file's file entry (entry 0 its header segment).
        assert_eq!(
            superseded(Disassembler::default().whiteouts_supersede(), &tar),
            [1]
        );
        assert!(superseded(Disassembler::default(), &tar).is_empty());
    }
}

//! Rewrites metadata so that the payloads of superseded members (earlier
//! occurrences of a path the archive repeats) travel inside it.
//!
//! Extraction keeps only the last occurrence of a path, so an earlier
//! occurrence's payload cannot be read back from the tree. Its file entry is
//! replaced by segments holding the payload bytes, taken from wherever the
//! caller kept them (the archive itself, or files set aside during
//! extraction); a superseded member without payload simply loses its file
//! entry. The result is plain tar-split: Go's tar-split reassembles it
//! correctly, and no path appears twice among its file entries.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::disasm::Superseded;
use crate::error::{Error, Result};
use crate::metadata::{Entry, EntryRef, MAX_SEGMENT, MetadataWriter};

/// Where the stored payload bytes of superseded members can be read again.
pub trait SupersededPayloads {
    /// Reads the `superseded.data_len` payload bytes of that member, as
    /// stored in the archive.
    fn open(&mut self, superseded: &Superseded) -> Result<Box<dyn Read + '_>>;
}

/// The archive itself, seekable: payloads are read at their offsets.
pub struct FromArchive<R: Read + Seek>(pub R);

impl<R: Read + Seek> SupersededPayloads for FromArchive<R> {
    fn open(&mut self, superseded: &Superseded) -> Result<Box<dyn Read + '_>> {
        self.0.seek(SeekFrom::Start(superseded.data_offset))?;
        Ok(Box::new((&mut self.0).take(superseded.data_len)))
    }
}

/// Copies `entries` to `out`, inlining the payloads of `superseded`.
pub fn inline_superseded<I, P, W>(
    entries: I,
    superseded: &[Superseded],
    payloads: &mut P,
    out: &mut MetadataWriter<W>,
) -> Result<()>
where
    I: IntoIterator<Item = Result<Entry>>,
    P: SupersededPayloads,
    W: Write,
{
    let by_position: HashMap<u64, &Superseded> =
        superseded.iter().map(|s| (s.position, s)).collect();
    let mut chunk = Vec::new();
    for (position, entry) in entries.into_iter().enumerate() {
        let entry = entry?;
        match (by_position.get(&(position as u64)), &entry) {
            (Some(s), Entry::File { .. }) => write_payload(s, payloads, out, &mut chunk)?,
            (Some(_), Entry::Segment(_)) => {
                return Err(Error::Metadata {
                    entry: position as u64,
                    reason: "expected the file entry of a duplicated path".into(),
                });
            }
            (None, _) => out.write(entry.as_ref())?,
        }
    }
    Ok(())
}

fn write_payload<P: SupersededPayloads, W: Write>(
    superseded: &Superseded,
    payloads: &mut P,
    out: &mut MetadataWriter<W>,
    chunk: &mut Vec<u8>,
) -> Result<()> {
    if superseded.data_len == 0 {
        return Ok(());
    }
    let mut reader = payloads.open(superseded)?;
    let mut left = superseded.data_len;
    while left > 0 {
        let n = left.min(MAX_SEGMENT as u64) as usize;
        chunk.resize(n, 0);
        reader.read_exact(chunk)?;
        out.write(EntryRef::Segment(chunk))?;
        left -= n as u64;
    }
    Ok(())
}

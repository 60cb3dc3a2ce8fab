//! Rewrites metadata so that the payloads of superseded members (earlier
//! occurrences of a path the archive repeats) travel inside it.
//!
//! Extraction keeps only the last occurrence of a path, so an earlier
//! occurrence's payload cannot be read back from the tree. Its file entry is
//! replaced by segments holding the payload bytes, taken from the archive
//! itself; a superseded member without payload simply loses its file entry.
//! The result is plain tar-split: Go's tar-split reassembles it correctly,
//! and no path appears twice among its file entries.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::disasm::Superseded;
use crate::error::{Error, Result};
use crate::metadata::{Entry, EntryRef, MAX_SEGMENT, MetadataWriter};

/// Copies `entries` to `out`, inlining the payloads of `superseded` from
/// `archive` (the same archive the entries were made from).
pub fn inline_superseded<I, R, W>(
    entries: I,
    superseded: &[Superseded],
    archive: &mut R,
    out: &mut MetadataWriter<W>,
) -> Result<()>
where
    I: IntoIterator<Item = Result<Entry>>,
    R: Read + Seek,
    W: Write,
{
    let by_position: HashMap<u64, &Superseded> =
        superseded.iter().map(|s| (s.position, s)).collect();
    let mut chunk = Vec::new();
    for (position, entry) in entries.into_iter().enumerate() {
        let entry = entry?;
        match (by_position.get(&(position as u64)), &entry) {
            (Some(s), Entry::File { .. }) => write_payload(s, archive, out, &mut chunk)?,
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

fn write_payload<R: Read + Seek, W: Write>(
    superseded: &Superseded,
    archive: &mut R,
    out: &mut MetadataWriter<W>,
    chunk: &mut Vec<u8>,
) -> Result<()> {
    archive.seek(SeekFrom::Start(superseded.data_offset))?;
    let mut left = superseded.data_len;
    while left > 0 {
        let n = left.min(MAX_SEGMENT as u64) as usize;
        chunk.resize(n, 0);
        archive.read_exact(chunk)?;
        out.write(EntryRef::Segment(chunk))?;
        left -= n as u64;
    }
    Ok(())
}

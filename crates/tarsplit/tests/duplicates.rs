//! Archives that repeat a path: after `io::inline_duplicates`, the metadata
//! and the extracted tree (which keeps only the last occurrence) rebuild
//! the archive bit for bit; without the second pass they do not.

use std::collections::HashMap;
use std::io::Cursor;

use tarsplit::io::{
    disassemble, finish_gzip_metadata, gzip_metadata, inline_duplicates, read_metadata,
};
use tarsplit::{PayloadSource, Result};

/// An archive where `etc/conf` appears twice with different contents and
/// lengths, around another file.
fn archive() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1);
        header.set_cksum();
        builder
            .append_data(&mut header, path, data)
            .expect("append");
    };
    add("etc/conf", &[b'a'; 700]);
    add("etc/other", b"other");
    add("etc/conf", b"the last one wins");
    builder.into_inner().expect("finish")
}

/// The extracted tree: the last payload of each path.
struct Extracted(HashMap<Vec<u8>, Vec<u8>>);

impl Extracted {
    fn of(tar: &[u8]) -> Self {
        let mut files = HashMap::new();
        let mut reader = tar::Archive::new(tar);
        for entry in reader.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let name = entry.path_bytes().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
            files.insert(name, data);
        }
        Extracted(files)
    }
}

impl PayloadSource for Extracted {
    type Payload = Cursor<Vec<u8>>;

    fn open(&mut self, name: &[u8]) -> Result<(Self::Payload, u64)> {
        let data = self.0.get(name).cloned().unwrap_or_default();
        let len = data.len() as u64;
        Ok((Cursor::new(data), len))
    }
}

fn rebuild(metadata: Vec<u8>, tar: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    tarsplit::assemble(
        read_metadata(Cursor::new(metadata))?,
        &mut Extracted::of(tar),
        &mut out,
    )?;
    Ok(out)
}

#[test]
fn inlined_duplicates_rebuild_the_archive_exactly() {
    let tar = archive();
    let mut metadata = gzip_metadata(Vec::new());
    let summary = disassemble(&tar[..], &mut metadata, None).expect("disassemble");
    let first = finish_gzip_metadata(metadata).expect("finish");
    assert_eq!(summary.superseded.len(), 1, "one earlier occurrence");
    assert_eq!(summary.superseded[0].data_len, 700);

    let second = inline_duplicates(
        Cursor::new(&tar),
        Cursor::new(first.clone()),
        &summary.superseded,
        Vec::new(),
    )
    .expect("second pass");
    assert_eq!(rebuild(second, &tar).expect("assemble"), tar);

    // The first pass alone cannot: the tree has only the last payload.
    assert_ne!(rebuild(first, &tar).ok(), Some(tar));
}

#[test]
fn nothing_superseded_copies_the_metadata() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(3);
    header.set_cksum();
    builder
        .append_data(&mut header, "one", &b"one"[..])
        .expect("append");
    let tar = builder.into_inner().expect("finish");
    let mut metadata = gzip_metadata(Vec::new());
    let summary = disassemble(&tar[..], &mut metadata, None).expect("disassemble");
    let first = finish_gzip_metadata(metadata).expect("finish");
    assert!(summary.superseded.is_empty());
    let second = inline_duplicates(Cursor::new(&tar), Cursor::new(first), &[], Vec::new())
        .expect("second pass");
    assert_eq!(rebuild(second, &tar).expect("assemble"), tar);
}

//! The reading side of an import, on its own thread: the input is read to
//! its end and hashed (its compressed digest), its compression undone and
//! the tar hashed (the diff digest), and the tar handed to the extracting
//! thread in chunks.
//!
//! An input the caller vouches for ([`Vouched`]: a pull's download, whose
//! reads fail unless its bytes are the blob it was asked for) is not
//! hashed again when it is compressed: its digest is the one vouched for,
//! and only its length is checked. An uncompressed input is hashed
//! either way, as its digest is the diff digest.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use sha2::{Digest as _, Sha256};

use super::import::Progress;
use crate::compression::{self, Compression};
use crate::digest::{Digest, DigestReader};
use crate::error::{Error, IoContext, Result};

/// Bytes handed from the reader thread to the extracting thread at a time.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the two threads.
pub(super) const DEPTH: usize = 8;

/// The digest and length of a compressed input whose reads fail unless
/// its bytes are exactly that blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vouched {
    /// The blob's digest.
    pub digest: Digest,
    /// Its length.
    pub size: u64,
}

/// Digests of the two streams an import reads.
pub(super) struct Streams {
    pub compression: Compression,
    pub compressed: (Digest, u64),
    pub diff: (Digest, u64),
}

/// Reads the input to its end: hashes it (unless `vouched` and
/// compressed), undoes its compression, hashes the tar and hands it over
/// in chunks.
pub(super) fn read_streams(
    input: &mut (dyn Read + Send),
    tx: SyncSender<Vec<u8>>,
    progress: Option<Progress<'_>>,
    vouched: Option<&Vouched>,
) -> Result<Streams> {
    let hashing = AtomicBool::new(true);
    let mut compressed = Compressed {
        counting: Counting {
            inner: input,
            read: 0,
            progress,
        },
        hasher: Sha256::new(),
        hashing: &hashing,
    };
    let (compression, decoder) =
        compression::decompress(&mut compressed).context(|| "cannot read the layer".into())?;
    if vouched.is_some() && compression != Compression::None {
        hashing.store(false, Ordering::Relaxed);
    }
    // An uncompressed layer's tar is the input itself: it is hashed once.
    let diff = if compression == Compression::None {
        let mut tar = decoder;
        send_chunks(&mut tar, &tx, compression)?;
        None
    } else {
        let mut tar = DigestReader::new(decoder);
        send_chunks(&mut tar, &tx, compression)?;
        Some(tar.finish())
    };
    io::copy(&mut compressed, &mut io::sink()).context(|| "cannot read the layer".into())?;
    let read = compressed.counting.read;
    let compressed = match vouched.filter(|_| !hashing.load(Ordering::Relaxed)) {
        Some(vouched) if vouched.size == read => (vouched.digest.clone(), read),
        Some(vouched) => {
            return Err(Error::ContentMismatch {
                what: format!("the length of layer blob {}", vouched.digest),
                expected: vouched.size.to_string(),
                actual: read.to_string(),
            });
        }
        None => (Digest::from_hasher(compressed.hasher), read),
    };
    let diff = diff.unwrap_or_else(|| compressed.clone());
    Ok(Streams {
        compression,
        compressed,
        diff,
    })
}

/// Hands the tar over in chunks until it ends.
fn send_chunks(
    tar: &mut impl Read,
    tx: &SyncSender<Vec<u8>>,
    compression: Compression,
) -> Result<()> {
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let n = read_full(tar, &mut chunk).context(|| match compression {
            Compression::None => "cannot read the layer stream".to_string(),
            other => format!("cannot read the {} layer stream", other.name()),
        })?;
        if n == 0 {
            return Ok(());
        }
        chunk.truncate(n);
        if tx.send(chunk).is_err() {
            return Err(Error::Io {
                context: "import stopped".into(),
                source: io::ErrorKind::BrokenPipe.into(),
            });
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The input as read: counted, and hashed while `hashing` says so.
struct Compressed<'a, 'p> {
    counting: Counting<'a, 'p>,
    hasher: Sha256,
    hashing: &'a AtomicBool,
}

impl Read for Compressed<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.counting.read(buf)?;
        if self.hashing.load(Ordering::Relaxed) {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Counts input bytes for the progress callback.
struct Counting<'a, 'p> {
    inner: &'a mut (dyn Read + Send),
    read: u64,
    progress: Option<Progress<'p>>,
}

impl Read for Counting<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(progress) = self.progress {
            progress(self.read);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Runs `read_streams` over `input`, collecting the tar it hands over.
    fn read(input: &[u8], vouched: Option<&Vouched>) -> (Result<Streams>, Vec<u8>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(DEPTH);
        let mut reader = input;
        let streams = read_streams(&mut reader, tx, None, vouched);
        (streams, rx.into_iter().flatten().collect())
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("gzip");
        encoder.finish().expect("gzip")
    }

    #[test]
    fn a_vouched_compressed_input_takes_the_vouched_digest_and_its_length_is_checked() {
        let tar = testkit::TarBuilder::default()
            .file("etc/hello", b"hello\n")
            .finish();
        let blob = gzip(&tar);
        let vouched = Vouched {
            digest: Digest::of(b"whatever the caller checked"),
            size: blob.len() as u64,
        };
        let (streams, handed) = read(&blob, Some(&vouched));
        let streams = streams.expect("read");
        assert_eq!(handed, tar);
        assert_eq!(
            streams.compressed,
            (vouched.digest.clone(), blob.len() as u64)
        );
        assert_eq!(streams.diff, (Digest::of(&tar), tar.len() as u64));

        let (hashed, _) = read(&blob, None);
        assert_eq!(hashed.expect("read").compressed.0, Digest::of(&blob));

        let longer = Vouched {
            size: blob.len() as u64 + 1,
            ..vouched
        };
        let (refused, _) = read(&blob, Some(&longer));
        assert!(
            matches!(refused, Err(Error::ContentMismatch { .. })),
            "a length other than the one vouched for"
        );
    }

    #[test]
    fn an_uncompressed_input_is_hashed_even_when_vouched_for() {
        let tar = testkit::TarBuilder::default()
            .file("etc/hello", b"hello\n")
            .finish();
        let vouched = Vouched {
            digest: Digest::of(b"not the tar"),
            size: tar.len() as u64,
        };
        let (streams, _) = read(&tar, Some(&vouched));
        let streams = streams.expect("read");
        assert_eq!(streams.compressed.0, Digest::of(&tar));
        assert_eq!(streams.diff.0, Digest::of(&tar), "the diff id is its own");
    }
}

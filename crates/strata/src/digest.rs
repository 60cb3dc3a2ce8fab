//! Content digests (`sha256:<hex>`) and readers/writers that compute them
//! while bytes pass through.

use std::fmt;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("digest {text:?} is not sha256:<hex>"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!(
                "digest {text:?} does not have 64 lowercase hex digits"
            ));
        }
        Ok(Self(text.to_string()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub(crate) fn from_hasher(hasher: Sha256) -> Self {
        Self(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The whole `sha256:<hex>` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

/// Counts and hashes the bytes read through it.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> DigestReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Digest and length of everything read so far.
    pub fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.hasher), self.count)
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Counts and hashes the bytes written through it.
pub(crate) struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> DigestWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Digest and length of everything written, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (Digest::from_hasher(self.hasher), self.count, self.inner)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes handed to the hashing thread at a time.
const HASH_CHUNK: usize = 256 << 10;

/// Writes through to the inner writer and hashes what passes on another
/// thread, so hashing is off the writer's critical path (the copy it costs
/// is cheap next to SHA-256).
pub(crate) struct ParallelDigestWriter<W> {
    inner: W,
    pending: Vec<u8>,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<(Digest, u64)>>,
}

impl<W: Write> ParallelDigestWriter<W> {
    /// Wraps `inner` and starts the hashing thread.
    pub fn new(inner: W) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let hasher = std::thread::spawn(move || {
            let mut hasher = Sha256::new();
            let mut count = 0u64;
            for chunk in rx {
                hasher.update(&chunk);
                count += chunk.len() as u64;
            }
            (Digest::from_hasher(hasher), count)
        });
        Self {
            inner,
            pending: Vec::with_capacity(HASH_CHUNK),
            tx: Some(tx),
            hasher: Some(hasher),
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(HASH_CHUNK));
        match &self.tx {
            Some(tx) if tx.send(chunk).is_ok() => Ok(()),
            _ => Err(io::Error::other("the hashing thread stopped")),
        }
    }

    /// Digest and length of everything written, and the inner writer.
    pub fn finish(mut self) -> io::Result<(Digest, u64, W)> {
        if !self.pending.is_empty() {
            self.hand_over()?;
        }
        self.tx = None;
        let hasher = self
            .hasher
            .take()
            .ok_or_else(|| io::Error::other("already finished"))?;
        let (digest, count) = hasher
            .join()
            .map_err(|_| io::Error::other("the hashing thread panicked"))?;
        Ok((digest, count, self.inner))
    }
}

impl<W: Write> Write for ParallelDigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= HASH_CHUNK {
            self.hand_over()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let empty_tar = Digest::of(&[0u8; 1024]);
        assert_eq!(
            empty_tar.hex(),
            "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
        );
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(64))).is_err());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        let mut reader = DigestReader::new(&[0u8; 1024][..]);
        io::copy(&mut reader, &mut io::sink()).expect("copy");
        assert_eq!(reader.finish(), (empty_tar.clone(), 1024));
    }

    #[test]
    fn parallel_digest_matches() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let mut writer = ParallelDigestWriter::new(Vec::new());
        for piece in data.chunks(7919) {
            writer.write_all(piece).expect("write");
        }
        let (digest, count, out) = writer.finish().expect("finish");
        assert_eq!((digest, count), (Digest::of(&data), data.len() as u64));
        assert_eq!(out, data);
    }
}

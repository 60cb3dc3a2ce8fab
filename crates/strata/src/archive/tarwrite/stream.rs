//! A tar being written, whoever writes it: member headers in one set of
//! [`Conventions`], payloads, the padding after each and the two zero
//! blocks that end the archive, with every byte counted. Errors are the
//! caller's to name: the save writer and the changeset writer each report
//! them in their own terms.

use std::fmt;
use std::io::{self, Write};

use super::header::{BLOCK, Conventions, EncodeError, Header, encode, padding};

/// An output that counts what is written through it.
pub(crate) struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    /// Counts what goes to `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Self { inner, written: 0 }
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why a member's header was not written.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// The member cannot be put in a header.
    Encode(EncodeError),
    /// The output failed.
    Io(io::Error),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => e.fmt(f),
            Self::Io(e) => e.fmt(f),
        }
    }
}

/// A tar archive being written to `W`.
pub(crate) struct TarStream<W> {
    out: Counting<W>,
    conventions: Conventions,
    /// Scratch space for encoded headers.
    scratch: Vec<u8>,
}

impl<W: Write> TarStream<W> {
    /// A new archive on `out`, headers in `conventions`.
    pub(crate) fn new(out: W, conventions: Conventions) -> Self {
        Self {
            out: Counting::new(out),
            conventions,
            scratch: Vec::with_capacity(4 * BLOCK),
        }
    }

    /// Writes a member's header blocks (a PAX header first when needed).
    /// Its payload follows through [`Self::data`], then [`Self::pad`].
    pub(crate) fn header(&mut self, header: &Header<'_>) -> Result<(), HeaderError> {
        self.scratch.clear();
        encode(header, self.conventions, &mut self.scratch).map_err(HeaderError::Encode)?;
        self.out.write_all(&self.scratch).map_err(HeaderError::Io)
    }

    /// Payload bytes of the current member.
    pub(crate) fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// The output, for a payload written by someone else.
    pub(crate) fn output(&mut self) -> &mut Counting<W> {
        &mut self.out
    }

    /// Zeros after a payload of `size` bytes, up to the next block.
    pub(crate) fn pad(&mut self, size: u64) -> io::Result<()> {
        self.out.write_all(&[0; BLOCK][..padding(size)])
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.out.written
    }

    /// Ends the archive with two zero blocks and flushes; returns the
    /// output and the archive's length.
    pub(crate) fn finish(mut self) -> io::Result<(W, u64)> {
        self.out.write_all(&[0; 2 * BLOCK])?;
        self.out.flush()?;
        Ok((self.out.inner, self.out.written))
    }
}

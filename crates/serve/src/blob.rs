//! Streaming a blob: a blocking task reads it (a config from memory, a
//! layer rebuilt from tar-split by [`Store::diff`], a blob the store keeps
//! as a file) and sends the bytes a
//! reply carries through a small bounded channel, so memory stays flat
//! whatever the blob's size and a slow client slows the read.
//!
//! A layer or stored blob is always read to its end and its digest
//! compared with the one it is served by, even for a range; the last
//! chunk of the reply is held back
//! until then. A layer that does not match ends the reply short of its
//! `Content-Length`: the client sees a broken transfer, never wrong bytes
//! that look complete.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use strata::digest::{Digest, DigestReader};
use strata::{DiffFormat, Store};
use tokio::sync::mpsc;

use crate::content::{Blob, LayerBlob};
use crate::log::log;
use crate::ranges::{Multipart, Span};

/// Bytes sent to the client at a time.
const CHUNK: usize = 64 << 10;

/// Chunks in flight per reply.
const IN_FLIGHT: usize = 4;

/// One part of a reply: a header to send, then a span of the blob.
struct Segment {
    header: Vec<u8>,
    span: Span,
}

/// A blob reply not started yet: what to read and which bytes to send.
pub struct BlobBody {
    blob: Blob,
    segments: Vec<Segment>,
    trailer: Vec<u8>,
    len: u64,
}

impl BlobBody {
    /// All of `blob`, `size` bytes.
    pub fn whole(blob: Blob, size: u64) -> Self {
        let segments = (size > 0)
            .then(|| Segment {
                header: Vec::new(),
                span: Span {
                    start: 0,
                    end: size,
                },
            })
            .into_iter()
            .collect();
        Self {
            blob,
            segments,
            trailer: Vec::new(),
            len: size,
        }
    }

    /// One span of `blob`.
    pub fn span(blob: Blob, span: Span) -> Self {
        Self {
            blob,
            segments: vec![Segment {
                header: Vec::new(),
                span,
            }],
            trailer: Vec::new(),
            len: span.end - span.start,
        }
    }

    /// Several spans of `blob`, as the parts of `multipart`.
    pub fn multipart(blob: Blob, spans: &[Span], multipart: Multipart) -> Self {
        let len = multipart.len(spans);
        let segments = multipart
            .headers
            .into_iter()
            .zip(spans)
            .map(|(header, span)| Segment {
                header,
                span: *span,
            })
            .collect();
        Self {
            blob,
            segments,
            trailer: multipart.trailer,
            len,
        }
    }

    /// The reply body's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The stored blob and the one span of it this body is, when it is
    /// nothing else (no multipart framing): what [`crate::splice`] can send
    /// straight from the file.
    pub fn stored_span(&self) -> Option<(&Digest, u64, Span)> {
        let Blob::Stored { digest, size } = &self.blob else {
            return None;
        };
        match (self.segments.as_slice(), self.trailer.is_empty()) {
            ([segment], true) if segment.header.is_empty() => Some((digest, *size, segment.span)),
            _ => None,
        }
    }

    /// Starts reading on a blocking thread of the current runtime; the
    /// returned body yields what it sends.
    pub fn start(self, store: Arc<Store>) -> ChannelBody {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let len = self.len;
        tokio::task::spawn_blocking(move || self.produce(&store, tx));
        ChannelBody { rx, len }
    }

    /// Reads the blob and sends the reply's bytes.
    fn produce(self, store: &Store, tx: mpsc::Sender<io::Result<Bytes>>) {
        let mut shaper = Shaper {
            segments: self.segments,
            next: 0,
            header_sent: false,
            pos: 0,
            sink: Sink {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
        };
        let read = match &self.blob {
            Blob::Config(bytes) => shaper.write_all(bytes),
            Blob::Layer(layer) => rebuild(store, layer, &mut shaper),
            Blob::Stored { digest, size } => copy_stored(store, digest, *size, &mut shaper),
        };
        let done = read.and_then(|()| shaper.finish(&self.trailer));
        if let Err(error) = done {
            if error.kind() != io::ErrorKind::BrokenPipe {
                log!("strata serve: {error}");
            }
            shaper.sink.fail(error);
        }
    }
}

/// Rebuilds `layer`'s tar into `out`, then checks it is the diff id.
fn rebuild(store: &Store, layer: &LayerBlob, out: &mut Shaper) -> io::Result<()> {
    let report = store
        .diff(&layer.id, None, DiffFormat::None, out)
        .map_err(|e| {
            if out.sink.tx.is_closed() {
                io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
            } else {
                io::Error::other(format!("layer {}: {e}", layer.id))
            }
        })?;
    if report.digest != layer.diff_id || report.size != layer.size {
        return Err(io::Error::other(format!(
            "layer {} rebuilt as {} ({} bytes), not its diff id {} ({} bytes): reply cut short",
            layer.id, report.digest, report.size, layer.diff_id, layer.size
        )));
    }
    Ok(())
}

/// Copies the stored blob `digest` into `out`, then checks its digest.
fn copy_stored(store: &Store, digest: &Digest, size: u64, out: &mut Shaper) -> io::Result<()> {
    let (file, _) = store
        .open_stored_blob(digest)
        .map_err(|e| io::Error::other(e.to_string()))?
        .ok_or_else(|| io::Error::other(format!("blob {digest} went away")))?;
    let mut hashed = DigestReader::new(file);
    let copied = io::copy(&mut hashed, out)?;
    let (actual, _) = hashed.finish();
    if &actual != digest || copied != size {
        return Err(io::Error::other(format!(
            "stored blob {digest} read as {actual} ({copied} bytes, want {size}): reply cut short"
        )));
    }
    Ok(())
}

/// Picks the bytes of the segments out of the blob as it streams past.
struct Shaper {
    segments: Vec<Segment>,
    next: usize,
    header_sent: bool,
    /// Bytes of the blob seen so far.
    pos: u64,
    sink: Sink,
}

impl Shaper {
    /// Sends the trailer and the held-back chunk, once every segment is
    /// complete.
    fn finish(&mut self, trailer: &[u8]) -> io::Result<()> {
        if self.next < self.segments.len() {
            return Err(io::Error::other(format!(
                "the blob ended after {} bytes, before the bytes asked for",
                self.pos
            )));
        }
        self.sink.push(trailer)?;
        self.sink.flush_all()
    }
}

impl Write for Shaper {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let at = self.pos;
        let end = at + buf.len() as u64;
        while let Some(segment) = self.segments.get(self.next) {
            if !self.header_sent {
                self.sink.push(&segment.header)?;
                self.header_sent = true;
            }
            let from = segment.span.start.max(at);
            let to = segment.span.end.min(end);
            if from < to {
                self.sink
                    .push(&buf[(from - at) as usize..(to - at) as usize])?;
            }
            if segment.span.end > end {
                break;
            }
            self.next += 1;
            self.header_sent = false;
        }
        self.pos = end;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Gathers bytes into chunks and sends each full one once more bytes
/// come, so the last chunk waits for [`Sink::flush_all`].
struct Sink {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Sink {
    fn push(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.buf.len() == CHUNK {
                self.send()?;
            }
            let n = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(full)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    fn flush_all(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }

    fn fail(&mut self, error: io::Error) {
        // The client may be gone already; nothing is left to tell.
        let _ = self.tx.blocking_send(Err(error));
    }
}

/// A reply body fed by a blocking task.
pub struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    len: u64,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

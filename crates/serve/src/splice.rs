//! Zero-copy replies: on a plain-TCP connection, the bytes of a blob the
//! store keeps as a file (a pulled or pushed layer blob, whole or one
//! range of it) go from the page cache to the socket with `sendfile(2)`,
//! never through this process's memory.
//!
//! hyper writes every reply, so the HTTP framing stays hyper's: the reply
//! is built with its `Content-Length`, one marker header carrying a random
//! token, and a placeholder body of that length whose bytes are never
//! read. The connection's stream ([`SpliceStream`]) watches what hyper
//! writes; when it meets the marker line it leaves it out, writes the rest
//! of the head, and then, for exactly as many body bytes as the head
//! announced, sends the file's bytes with `sendfile` in place of the
//! placeholder's. The placeholder yields nothing until the marker has been
//! met, so no placeholder byte can reach the client even if the marker
//! were never found (the reply would stall instead).
//!
//! These bytes are not hashed as they go: a kept blob was hashed before it
//! took its name, `strata fsck` hashes it again, and every client checks
//! a blob against its digest. A blob file shorter than its recorded size
//! ends the connection short of the `Content-Length`. Layers rebuilt from
//! tar-split, configs, multi-range replies and TLS connections take the
//! checked, copying path of [`crate::blob`].

use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::log::log;
use crate::reply::{Body as ReplyBody, Reply};
use crate::state::lock;

/// The name of the marker header (never sent).
const MARKER: &str = "x-strata-splice";

/// Placeholder bytes handed to hyper per body frame.
const FRAME: usize = 4 << 20;

/// A connection's plain-TCP stream, able to send registered file spans
/// in place of a reply's placeholder body.
pub struct SpliceStream {
    stream: TcpStream,
    shared: Arc<Mutex<Option<Job>>>,
}

/// Registers zero-copy replies on one connection.
#[derive(Clone)]
pub struct Splicer {
    shared: Arc<Mutex<Option<Job>>>,
}

/// One reply's file span, and how far its sending got.
struct Job {
    /// The marker header's line as hyper writes it.
    marker: Vec<u8>,
    file: File,
    offset: u64,
    remaining: u64,
    phase: Phase,
    /// The placeholder body, waiting for the marker to be met.
    waker: Option<Waker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Looking for the marker line among the bytes hyper writes.
    Marker,
    /// Writing the rest of the reply's head; the state of the scan for
    /// its blank line.
    Head(LineEnd),
    /// Sending the file in place of the body.
    Body,
}

/// A scan for the empty line that ends an HTTP head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    InLine,
    Cr,
    LineStart,
    BlankCr,
}

impl LineEnd {
    /// The scan after `byte`; `None` once the head has ended with it.
    fn after(self, byte: u8) -> Option<LineEnd> {
        Some(match (self, byte) {
            (LineEnd::BlankCr, b'\n') => return None,
            (LineEnd::Cr, b'\n') => LineEnd::LineStart,
            (LineEnd::LineStart, b'\r') => LineEnd::BlankCr,
            (_, b'\r') => LineEnd::Cr,
            _ => LineEnd::InLine,
        })
    }

    /// How many bytes of `bytes` belong to the head (all of them when it
    /// does not end there), and the scan after them.
    fn head_part(self, bytes: &[u8]) -> (usize, Option<LineEnd>) {
        let mut state = self;
        for (at, &byte) in bytes.iter().enumerate() {
            match state.after(byte) {
                Some(next) => state = next,
                None => return (at + 1, None),
            }
        }
        (bytes.len(), Some(state))
    }
}

impl SpliceStream {
    /// Wraps an accepted connection; the [`Splicer`] registers replies on it.
    pub fn new(stream: TcpStream) -> (Self, Splicer) {
        let shared = Arc::new(Mutex::new(None));
        let splicer = Splicer {
            shared: Arc::clone(&shared),
        };
        (Self { stream, shared }, splicer)
    }

    /// Writes what hyper hands over, substituting a registered file span
    /// for its placeholder body.
    fn write_parts(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut job = lock(&self.shared);
        let Some(current) = job.as_mut() else {
            drop(job);
            return Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        };
        let Some(first) = bufs.iter().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        match current.phase {
            Phase::Marker => match find(first, &current.marker) {
                Some(0) => {
                    // The marker line is consumed, not sent.
                    current.phase = Phase::Head(LineEnd::LineStart);
                    if let Some(waker) = current.waker.take() {
                        waker.wake();
                    }
                    Poll::Ready(Ok(current.marker.len()))
                }
                Some(at) => {
                    drop(job);
                    Pin::new(&mut self.stream).poll_write(cx, &first[..at])
                }
                None => {
                    drop(job);
                    Pin::new(&mut self.stream).poll_write(cx, first)
                }
            },
            Phase::Head(scan) => {
                let (len, _) = scan.head_part(first);
                let written = ready!(Pin::new(&mut self.stream).poll_write(cx, &first[..len]))?;
                current.phase = match scan.head_part(&first[..written]) {
                    (_, Some(scan)) => Phase::Head(scan),
                    (_, None) => Phase::Body,
                };
                Poll::Ready(Ok(written))
            }
            Phase::Body => {
                let placeholder: u64 = bufs.iter().map(|b| b.len() as u64).sum();
                let count = current.remaining.min(placeholder).min(usize::MAX as u64) as usize;
                let sent = ready!(send_file(&self.stream, cx, current, count));
                let sent = match sent {
                    Ok(0) => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "a stored blob ended {} bytes early: reply cut short",
                            current.remaining
                        ),
                    )),
                    other => other,
                };
                match &sent {
                    Ok(n) => {
                        current.offset += *n as u64;
                        current.remaining -= *n as u64;
                        if current.remaining == 0 {
                            *job = None;
                        }
                    }
                    Err(error) => {
                        if !is_disconnect(error) {
                            log!("strata serve: {error}");
                        }
                        *job = None;
                    }
                }
                Poll::Ready(sent)
            }
        }
    }
}

/// Sends up to `count` bytes of the job's file to the socket.
fn send_file(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    job: &mut Job,
    count: usize,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let mut offset = job.offset;
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream.as_fd(), job.file.as_fd(), Some(&mut offset), count)
                .map_err(io::Error::from)
        });
        match sent {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            other => return Poll::Ready(other),
        }
    }
}

/// Whether `error` is the client going away.
fn is_disconnect(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// Where `needle` starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

impl AsyncRead for SpliceStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SpliceStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_parts(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_parts(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then queues body frames instead of copying them, so the
        // placeholder's bytes are never touched.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Splicer {
    /// `reply` with its body sent from the stored blob's file by this
    /// connection, when it is one span of a stored blob; as it was
    /// otherwise (and when the file is not the size recorded: the checked
    /// path then cuts the reply short and says why).
    pub async fn send_from_file(&self, store: &Arc<strata::Store>, mut reply: Reply) -> Reply {
        let ReplyBody::Stream(blob) = &reply.body else {
            return reply;
        };
        let Some((digest, size, span)) = blob.stored_span() else {
            return reply;
        };
        let (store, digest) = (Arc::clone(store), digest.clone());
        let opened = tokio::task::spawn_blocking(move || store.open_stored_blob(&digest)).await;
        let file = match opened {
            Ok(Ok(Some((file, len)))) if len == size => file,
            _ => return reply,
        };
        let Some((marker, body)) = self.register(file, span.start, span.end - span.start) else {
            return reply;
        };
        reply.headers.push(marker);
        reply.body = ReplyBody::Spliced(body);
        reply
    }

    /// Registers `len` bytes of `file` from `offset` as the body of the
    /// next reply; returns the marker header that reply must carry and
    /// its body. `None` while another reply's span is registered (or
    /// when no random token can be made).
    pub fn register(
        &self,
        file: File,
        offset: u64,
        len: u64,
    ) -> Option<((&'static str, String), SplicedBody)> {
        let mut job = lock(&self.shared);
        if job.is_some() {
            return None;
        }
        let token = crate::auth::random_token().ok()?;
        *job = Some(Job {
            marker: format!("{MARKER}: {token}\r\n").into_bytes(),
            file,
            offset,
            remaining: len,
            phase: Phase::Marker,
            waker: None,
        });
        let body = SplicedBody {
            shared: Arc::clone(&self.shared),
            left: len,
        };
        Some(((MARKER, token), body))
    }
}

/// The placeholder body of a zero-copy reply: as many bytes as the file
/// span, yielded only once the reply's head is on its way.
pub struct SplicedBody {
    shared: Arc<Mutex<Option<Job>>>,
    left: u64,
}

impl Body for SplicedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        {
            let mut job = lock(&self.shared);
            match job.as_mut() {
                Some(job) if job.phase == Phase::Marker => {
                    job.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Some(_) => {}
                None => {
                    return Poll::Ready(Some(Err(io::Error::other(
                        "the stored blob's sending ended early",
                    ))));
                }
            }
        }
        let n = self.left.min(FRAME as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(placeholder().slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

impl Drop for SplicedBody {
    fn drop(&mut self) {
        // A reply dropped before its head went out (the connection
        // failed) leaves nothing registered.
        let mut job = lock(&self.shared);
        if job.as_ref().is_some_and(|job| job.phase == Phase::Marker) {
            *job = None;
        }
    }
}

/// The placeholder bytes: zeros that are never read, so the pages of the
/// allocation are never touched either.
fn placeholder() -> &'static Bytes {
    static ZEROS: OnceLock<Bytes> = OnceLock::new();
    ZEROS.get_or_init(|| Bytes::from(vec![0u8; FRAME]))
}

#[cfg(test)]
mod tests {
    use super::LineEnd;

    #[test]
    fn a_head_ends_at_its_blank_line_across_writes() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc";
        let (len, rest) = LineEnd::InLine.head_part(head);
        assert_eq!((len, rest), (head.len() - 3, None));
        // The same head in two writes, split inside the blank line.
        let (first, scan) = LineEnd::InLine.head_part(&head[..len - 1]);
        assert_eq!(first, len - 1);
        let scan = scan.expect("not ended yet");
        assert_eq!(scan.head_part(&head[len - 1..]), (1, None));
        // Right after a consumed marker line, a blank line ends the head.
        assert_eq!(LineEnd::LineStart.head_part(b"\r\nbody"), (2, None));
        assert_eq!(
            LineEnd::LineStart.head_part(b"date: x\r\n"),
            (9, Some(LineEnd::LineStart))
        );
        // A lone CR is not a line end.
        assert_eq!(
            LineEnd::LineStart.head_part(b"a\rb\r\n"),
            (5, Some(LineEnd::LineStart))
        );
    }
}

//! Reading a blob as a stream that continues where it stopped: when the
//! connection breaks, stalls or ends short, the next request asks for the
//! rest with `Range`, for as long as attempts make progress. The reader
//! never yields more bytes than the blob's size, and never one byte twice.

use std::io::{self, Read};

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, HeaderValue, RANGE};
use reqwest::{Method, StatusCode};

use crate::client::{Client, Payload, Request};
use crate::error::{Error, Result};
use crate::retry;
use crate::timed::chunk_within;

impl Client {
    /// Opens blob `digest` of `repository`, from byte `offset` on. `size`
    /// is the blob's size as its descriptor gives it: the reader fails
    /// rather than yield more, and treats an earlier end as a break to
    /// resume from. The bytes are not checked against the digest here:
    /// the caller hashes what it reads (it may hold the first `offset`
    /// bytes from an earlier run).
    pub fn blob(
        &self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        offset: u64,
    ) -> Result<BlobReader<'_>> {
        check_digest(digest)?;
        let mut reader = BlobReader {
            client: self,
            what: format!("blob {digest} of {}/{repository}", self.host()),
            path: format!("/v2/{repository}/blobs/{digest}"),
            scopes: vec![format!("repository:{repository}:pull")],
            size,
            offset,
            response: None,
            pending: Bytes::new(),
            skip: 0,
            failures: 0,
            resumed: 0,
        };
        // Open now, so that a missing blob or refused access is an error
        // of this call rather than of the first read.
        reader.connect()?;
        Ok(reader)
    }
}

/// A blob's bytes from the registry, resumed across broken connections.
pub struct BlobReader<'a> {
    client: &'a Client,
    what: String,
    path: String,
    scopes: Vec<String>,
    size: Option<u64>,
    /// Bytes delivered so far, counting the starting offset.
    offset: u64,
    response: Option<reqwest::Response>,
    pending: Bytes,
    /// Bytes of the current response to drop (a server that ignored Range).
    skip: u64,
    /// Failures since the last byte arrived.
    failures: u32,
    /// How many times the reader reconnected.
    resumed: u32,
}

impl BlobReader<'_> {
    /// Bytes read so far, counting the offset it started from.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// How many times a broken transfer was resumed.
    pub fn resumed(&self) -> u32 {
        self.resumed
    }

    /// The blob's size, when known from its descriptor or the reply.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    fn connect(&mut self) -> Result<()> {
        let mut headers = HeaderMap::new();
        if self.offset > 0 {
            let range = format!("bytes={}-", self.offset);
            headers.insert(
                RANGE,
                HeaderValue::from_str(&range).map_err(|e| Error::Config(e.to_string()))?,
            );
        }
        let url = self.client.url(&self.path)?;
        let response = self.client.send(Request {
            what: &self.what,
            method: Method::GET,
            url,
            scopes: &self.scopes,
            headers,
            payload: Payload::Empty,
        })?;
        let status = response.status();
        self.skip = 0;
        match status {
            StatusCode::PARTIAL_CONTENT if self.offset > 0 => {
                let start = content_range_start(response.headers());
                if start != Some(self.offset) {
                    return Err(Error::protocol(
                        &self.what,
                        format!(
                            "asked for bytes from {}, the registry sent a range starting at {}",
                            self.offset,
                            start.map_or("an unreadable place".into(), |s| s.to_string())
                        ),
                    ));
                }
            }
            StatusCode::OK => {
                // The whole blob, whatever was asked: drop what we have.
                self.skip = self.offset;
                if let Some(length) = header_u64(response.headers(), CONTENT_LENGTH.as_str()) {
                    match self.size {
                        Some(size) if size != length => {
                            return Err(Error::protocol(
                                &self.what,
                                format!(
                                    "the registry sends {length} bytes, the descriptor says {size}"
                                ),
                            ));
                        }
                        None => self.size = Some(length),
                        _ => {}
                    }
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE if Some(self.offset) == self.size => {}
            status => return Err(self.client.status_error(&self.what, status, response)),
        }
        self.response = Some(response);
        Ok(())
    }

    /// Waits for the next piece of the body: `Ok(None)` at its end.
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let Some(response) = self.response.as_mut() else {
            return Ok(None);
        };
        let timeout = self.client.options().stall_timeout;
        self.client
            .block_on(chunk_within(response, timeout, &self.what))
    }

    /// Fills `pending`; `Ok(false)` at the end of the blob.
    fn fill(&mut self) -> Result<bool> {
        loop {
            if self.size == Some(self.offset) {
                self.check_no_more()?;
                return Ok(false);
            }
            if self.response.is_none() {
                self.connect()?;
            }
            match self.next_chunk() {
                Ok(Some(mut chunk)) => {
                    if self.skip > 0 {
                        let dropped = (self.skip as usize).min(chunk.len());
                        let _ = chunk.split_to(dropped);
                        self.skip -= dropped as u64;
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    if let Some(size) = self.size
                        && self.offset + chunk.len() as u64 > size
                    {
                        return Err(Error::protocol(
                            &self.what,
                            format!("the registry sent more than the {size} bytes of the blob"),
                        ));
                    }
                    self.failures = 0;
                    self.pending = chunk;
                    return Ok(true);
                }
                Ok(None) if self.size.is_none() => return Ok(false),
                Ok(None) => self.retry(self.ended_short(None))?,
                Err(Error::Transport { reason, .. }) if self.size.is_some() => {
                    self.retry(self.ended_short(Some(reason)))?
                }
                Err(e) => self.retry(e)?,
            }
        }
    }

    /// The error for a body that ended before the blob's size: the kind
    /// of break a later attempt resumes from.
    fn ended_short(&self, cause: Option<String>) -> Error {
        let mut reason = format!(
            "the body ended after {} of {} bytes",
            self.offset,
            self.size.unwrap_or_default()
        );
        if let Some(cause) = cause {
            reason.push_str(&format!(" ({cause})"));
        }
        Error::Transport {
            what: self.what.clone(),
            reason,
        }
    }

    /// Drops the broken response and waits before the next attempt, or
    /// gives up with `error` when attempts stopped making progress.
    fn retry(&mut self, error: Error) -> Result<()> {
        self.response = None;
        self.failures += 1;
        if self.failures >= self.client.options().attempts {
            return Err(error);
        }
        self.resumed += 1;
        let wait = retry::wait(self.client.options().backoff, self.failures, None);
        std::thread::sleep(wait);
        Ok(())
    }

    /// At the blob's size, the body must be over.
    fn check_no_more(&mut self) -> Result<()> {
        if self.response.is_none() {
            return Ok(());
        }
        match self.next_chunk() {
            Ok(Some(chunk)) if !chunk.is_empty() => Err(Error::protocol(
                &self.what,
                "the registry sent more than the blob's size",
            )),
            _ => {
                self.response = None;
                Ok(())
            }
        }
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending.is_empty() && !self.fill().map_err(io::Error::other)? {
            return Ok(0);
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        self.offset += n as u64;
        Ok(n)
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The first byte of a `Content-Range: bytes a-b/n` header.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

/// Refuses a digest that is not `algorithm:hex`, before it reaches a URL.
pub(crate) fn check_digest(digest: &str) -> Result<()> {
    let valid = match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && digest.split_once(':').is_some_and(|(_, hex)| {
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!("{digest:?} is not a digest")))
    }
}

//! Pushing blobs: asking whether the registry has one, mounting it from
//! another repository of the same registry, and uploading it — `POST`
//! for a session, then the bytes streamed in one `PUT` when the digest is
//! known before they are read, or one `PATCH` then a closing `PUT` when
//! it is learnt while streaming. A failed upload starts over from a fresh
//! reader, a bounded number of times.

use std::io::Read;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode, Url};
use sha2::{Digest as _, Sha256};

use crate::blob::check_digest;
use crate::client::{Client, Payload, Request};
use crate::error::{Error, Result};
use crate::names::check_repository;
use crate::retry;
use crate::timed::send_within;

/// The least time a streamed upload waits for the answer to its body.
const UPLOAD_ANSWER: std::time::Duration = std::time::Duration::from_secs(600);

/// Size of the pieces a streamed upload sends.
const PIECE: usize = 256 << 10;

/// A blob as pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
}

impl Client {
    /// The size of blob `digest` in `repository`, or `None` when the
    /// registry does not have it there.
    pub fn blob_size(&self, repository: &str, digest: &str) -> Result<Option<u64>> {
        check_repository(repository)?;
        check_digest(digest)?;
        let what = format!("blob {digest} of {}/{repository}", self.host());
        let scopes = [format!("repository:{repository}:pull,push")];
        let response = self.send(Request {
            what: &what,
            method: Method::HEAD,
            url: self.url(&format!("/v2/{repository}/blobs/{digest}"))?,
            scopes: &scopes,
            headers: HeaderMap::new(),
            payload: Payload::Empty,
        })?;
        match response.status() {
            StatusCode::OK => Ok(response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .or(Some(0))),
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(self.status_error(&what, status, response)),
        }
    }

    /// Asks the registry to mount blob `digest` from repository `from`
    /// into `repository`; `false` when it would not (the upload session
    /// it opened instead is cancelled).
    pub fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool> {
        check_repository(repository)?;
        check_repository(from)?;
        check_digest(digest)?;
        let what = format!(
            "mount of {digest} from {from} into {}/{repository}",
            self.host()
        );
        let scopes = [
            format!("repository:{repository}:pull,push"),
            format!("repository:{from}:pull"),
        ];
        let mut url = self.url(&format!("/v2/{repository}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let response = self.send(Request {
            what: &what,
            method: Method::POST,
            url,
            scopes: &scopes,
            headers: HeaderMap::new(),
            payload: Payload::Empty,
        })?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                if let Ok(session) = self.location(&what, &response) {
                    let _ = self.send(Request {
                        what: &what,
                        method: Method::DELETE,
                        url: session,
                        scopes: &scopes,
                        headers: HeaderMap::new(),
                        payload: Payload::Empty,
                    });
                }
                Ok(false)
            }
            status => Err(self.status_error(&what, status, response)),
        }
    }

    /// Uploads the bytes `open` yields into `repository`. With `known`
    /// (digest and size), they are streamed in one `PUT ?digest=`, which
    /// the registry checks against the bytes (the spec requires it), and
    /// their length must match; without, they are streamed in a `PATCH`
    /// and the digest computed on the way. `open` is called again for
    /// each new attempt.
    pub fn upload_blob(
        &self,
        repository: &str,
        known: Option<&Pushed>,
        open: &mut dyn FnMut() -> std::io::Result<Box<dyn Read + Send>>,
    ) -> Result<Pushed> {
        check_repository(repository)?;
        if let Some(known) = known {
            check_digest(&known.digest)?;
        }
        let what = format!("upload to {}/{repository}", self.host());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reader = open().map_err(|e| Error::Transport {
                what: what.clone(),
                reason: format!("cannot read the blob: {e}"),
            })?;
            match self.upload_once(repository, &what, known, reader) {
                Ok(pushed) => return Ok(pushed),
                Err(e) if retryable(&e) && attempt < self.options().attempts => {
                    std::thread::sleep(retry::wait(self.options().backoff, attempt, None));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn upload_once(
        &self,
        repository: &str,
        what: &str,
        known: Option<&Pushed>,
        reader: Box<dyn Read + Send>,
    ) -> Result<Pushed> {
        let scopes = [format!("repository:{repository}:pull,push")];
        let response = self.send(Request {
            what,
            method: Method::POST,
            url: self.url(&format!("/v2/{repository}/blobs/uploads/"))?,
            scopes: &scopes,
            headers: HeaderMap::new(),
            payload: Payload::Empty,
        })?;
        if response.status() != StatusCode::ACCEPTED {
            let status = response.status();
            return Err(self.status_error(what, status, response));
        }
        let session = self.location(what, &response)?;
        let (method, url) = match known {
            Some(known) => (Method::PUT, with_digest(session, &known.digest)),
            None => (Method::PATCH, session),
        };
        let (response, streamed) = self.stream(&scopes, what, method, url, known, reader)?;
        if let Some(known) = known {
            if streamed != *known {
                return Err(Error::DigestMismatch {
                    what: what.to_string(),
                    expected: format!("{} ({} bytes)", known.digest, known.size),
                    actual: format!("{} ({} bytes)", streamed.digest, streamed.size),
                });
            }
            return self.expect_created(what, response, streamed);
        }
        if response.status() != StatusCode::ACCEPTED {
            let status = response.status();
            return Err(self.status_error(what, status, response));
        }
        let url = with_digest(self.location(what, &response)?, &streamed.digest);
        let response = self.send(Request {
            what,
            method: Method::PUT,
            url,
            scopes: &scopes,
            headers: HeaderMap::new(),
            payload: Payload::Empty,
        })?;
        self.expect_created(what, response, streamed)
    }

    fn expect_created(
        &self,
        what: &str,
        response: reqwest::Response,
        pushed: Pushed,
    ) -> Result<Pushed> {
        match response.status() {
            StatusCode::CREATED => Ok(pushed),
            status => Err(self.status_error(what, status, response)),
        }
    }

    /// Streams `reader` as the body of one request, hashing it on the way
    /// unless its digest is `known` (then the registry checks it, and the
    /// length is counted).
    fn stream(
        &self,
        scopes: &[String],
        what: &str,
        method: Method,
        url: Url,
        known: Option<&Pushed>,
        mut reader: Box<dyn Read + Send>,
    ) -> Result<(reqwest::Response, Pushed)> {
        let size = known.map(|k| k.size);
        let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let mut hasher = known.is_none().then(Sha256::new);
                let mut total = 0u64;
                loop {
                    let mut piece = vec![0u8; PIECE];
                    let n = match reader.read(&mut piece) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            let reason = e.to_string();
                            let _ = sender.blocking_send(Err(e));
                            return Err(reason);
                        }
                    };
                    piece.truncate(n);
                    if let Some(hasher) = &mut hasher {
                        hasher.update(&piece);
                    }
                    total += n as u64;
                    if sender.blocking_send(Ok(Bytes::from(piece))).is_err() {
                        return Err("the registry stopped reading".into());
                    }
                }
                let digest = match (hasher, known) {
                    (Some(hasher), _) => format!("sha256:{}", hex::encode(hasher.finalize())),
                    (None, Some(known)) => known.digest.clone(),
                    (None, None) => String::new(),
                };
                Ok(Pushed {
                    digest,
                    size: total,
                })
            });
            let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(
                receiver,
                |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
            ));
            let timeout = self.options().stall_timeout;
            let sent = self.block_on(async {
                let authorization = self.authorization_for(&url, scopes).await?;
                let mut request = self
                    .http()
                    .request(method, url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body);
                if let Some(size) = size {
                    request = request.header(CONTENT_LENGTH, size);
                }
                if let Some(value) = authorization {
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
                // The registry answers once it has read the whole body.
                send_within(request, timeout.max(UPLOAD_ANSWER), what).await
            });
            let produced = producer
                .join()
                .map_err(|_| Error::protocol(what, "the blob reader panicked"))?;
            let response = sent?;
            let pushed = produced.map_err(|reason| Error::Transport {
                what: what.to_string(),
                reason,
            })?;
            Ok((response, pushed))
        })
    }

    /// The upload session URL a response hands out.
    fn location(&self, what: &str, response: &reqwest::Response) -> Result<Url> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::protocol(what, "the registry gave no upload Location"))?;
        self.resolve(what, location)
    }
}

fn with_digest(mut url: Url, digest: &str) -> Url {
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

/// Whether a failed upload may succeed when started again.
fn retryable(error: &Error) -> bool {
    match error {
        Error::Transport { .. } | Error::Stalled { .. } => true,
        Error::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
        _ => false,
    }
}

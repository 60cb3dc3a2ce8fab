//! Manifests: fetched by tag or digest with the media types strata reads,
//! capped in size, checked against the digest they were asked by (and the
//! `Docker-Content-Digest` the registry sends), and kept as the exact
//! bytes received; and pushed as given.

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::blob::check_digest;
use crate::client::{Client, Payload, Request};
use crate::error::{Error, Result};
use crate::names::check_repository;
use crate::timed::chunk_within;

/// The largest manifest strata accepts, as the distribution spec allows
/// registries to refuse larger ones.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Manifest media types strata asks for, most wanted first.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A manifest as the registry sent it.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// The `Content-Type` the registry gave.
    pub media_type: String,
    /// `sha256:` of the bytes.
    pub digest: String,
}

impl Client {
    /// Fetches the manifest `reference` (a tag or a digest) of
    /// `repository`. One fetched by digest must hash to it.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        check_repository(repository)?;
        check_reference(reference)?;
        let what = format!("manifest {}", display(self.host(), repository, reference));
        let mut headers = HeaderMap::new();
        let accept = MANIFEST_TYPES.join(", ");
        headers.insert(
            ACCEPT,
            HeaderValue::from_str(&accept).map_err(|e| Error::Config(e.to_string()))?,
        );
        let scopes = [format!("repository:{repository}:pull")];
        let response = self.send(Request {
            what: &what,
            method: Method::GET,
            url: self.url(&format!("/v2/{repository}/manifests/{reference}"))?,
            scopes: &scopes,
            headers,
            payload: Payload::Empty,
        })?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(self.status_error(&what, status, response));
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let claimed = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(length) = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && length > MAX_MANIFEST_SIZE
        {
            return Err(too_large(&what));
        }
        let bytes = self.read_capped(&what, response)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let expected = reference
            .contains(':')
            .then_some(reference)
            .or(claimed.as_deref().filter(|d| d.starts_with("sha256:")));
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                what,
                expected: expected.to_string(),
                actual: digest,
            });
        }
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Pushes `bytes` as manifest `reference` (a tag or its digest) of
    /// `repository`; returns its digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        check_repository(repository)?;
        check_reference(reference)?;
        let what = format!("manifest {}", display(self.host(), repository, reference));
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let scopes = [format!("repository:{repository}:pull,push")];
        let response = self.send(Request {
            what: &what,
            method: Method::PUT,
            url: self.url(&format!("/v2/{repository}/manifests/{reference}"))?,
            scopes: &scopes,
            headers: HeaderMap::new(),
            payload: Payload::Bytes(Bytes::copy_from_slice(bytes), media_type.to_string()),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_error(&what, status, response));
        }
        if let Some(claimed) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && claimed != digest
        {
            return Err(Error::DigestMismatch {
                what,
                expected: digest,
                actual: claimed.to_string(),
            });
        }
        Ok(digest)
    }

    /// Reads a response body of at most [`MAX_MANIFEST_SIZE`] bytes.
    fn read_capped(&self, what: &str, mut response: reqwest::Response) -> Result<Vec<u8>> {
        let timeout = self.options().stall_timeout;
        self.block_on(async {
            let mut bytes = Vec::new();
            loop {
                let chunk = chunk_within(&mut response, timeout, what).await?;
                let Some(chunk) = chunk else {
                    return Ok(bytes);
                };
                if (bytes.len() + chunk.len()) as u64 > MAX_MANIFEST_SIZE {
                    return Err(too_large(what));
                }
                bytes.extend_from_slice(&chunk);
            }
        })
    }
}

fn too_large(what: &str) -> Error {
    Error::protocol(
        what,
        format!(
            "the manifest is larger than {} MiB",
            MAX_MANIFEST_SIZE >> 20
        ),
    )
}

/// A tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) or a digest.
fn check_reference(reference: &str) -> Result<()> {
    if reference.contains(':') {
        return check_digest(reference);
    }
    let mut chars = reference.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && reference.len() <= 128 {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{reference:?} is not a tag or digest"
        )))
    }
}

/// `host/repository:tag` or `host/repository@digest`.
fn display(host: &str, repository: &str, reference: &str) -> String {
    let separator = if reference.contains(':') { '@' } else { ':' };
    format!("{host}/{repository}{separator}{reference}")
}

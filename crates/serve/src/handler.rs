//! Requests to replies: the route, then the checks of every name and
//! digest it carries, then the store. Runs on a blocking thread (the
//! store is synchronous).

use hyper::StatusCode;
use serde_json::json;
use strata::Store;
use strata::digest::Digest;

use crate::blob::BlobBody;
use crate::catalog::Catalog;
use crate::content::{self, Blob};
use crate::names::{ManifestRef, RepoName, parse_digest};
use crate::ranges::{self, Multipart, Ranges};
use crate::reply::{ApiError, Body, Reply};
use crate::route::{Route, query_value};
use crate::state::State;

/// What the handler reads of a request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path, as sent (not percent-decoded).
    pub path: String,
    /// The query, as sent.
    pub query: Option<String>,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `Content-Range` header, if any (a chunk of an upload).
    pub content_range: Option<String>,
}

/// The reply to a request that reads (or to a write this server does not
/// take: see [`crate::push`] for those it does).
pub fn handle(state: &State, request: &Request) -> Reply {
    respond(state, request).unwrap_or_else(ApiError::into_reply)
}

fn respond(state: &State, request: &Request) -> Result<Reply, ApiError> {
    let store = &state.store;
    let route = Route::of(&request.path);
    let method = request.method.as_str();
    if !matches!(method, "GET" | "HEAD") {
        return Err(match state.writes {
            None => ApiError::read_only(method),
            Some(_) => ApiError::unsupported(method, route.writes(method)),
        });
    }
    match route {
        Route::Base => Ok(Reply::new(StatusCode::OK).json(&json!({}))),
        Route::Upload { .. } if state.writes.is_none() => Err(ApiError::read_only(method)),
        Route::Upload { .. } => Err(ApiError::not_found(&request.path)),
        Route::Referrers { name, digest } => {
            RepoName::parse(name)?;
            parse_digest(digest)?;
            Ok(referrers(
                query_value(request.query.as_deref(), "artifactType").is_some(),
            ))
        }
        Route::Token => Err(ApiError::not_found(&request.path)),
        Route::Unknown => Err(ApiError::not_found(&request.path)),
        Route::Manifest { name, reference } => {
            let name = RepoName::parse(name)?;
            manifest(state, &name, &ManifestRef::parse(reference)?)
        }
        Route::Blob { name, digest } => {
            let name = RepoName::parse(name)?;
            blob(
                state,
                &name,
                &parse_digest(digest)?,
                request.range.as_deref(),
            )
        }
        Route::Tags { name } => tags(store, &RepoName::parse(name)?, request.query.as_deref()),
    }
}

/// A manifest by tag or digest: of the repository, or one pushed into it
/// by digest by this server (an image an index will hold, before the
/// index names it).
fn manifest(state: &State, name: &RepoName, reference: &ManifestRef) -> Result<Reply, ApiError> {
    let store = &state.store;
    let pushed = pushed_manifest(state, name, reference);
    let found = match (Catalog::load(store)?.repo(name), &pushed) {
        (Ok(repo), _) => content::served_by_reference(store, &repo, reference)?,
        (Err(error), None) => return Err(error),
        (Err(_), Some(_)) => None,
    };
    let found = match (found, &pushed) {
        (None, Some(digest)) => content::pushed_manifest(store, digest)?,
        (found, _) => found,
    };
    let served =
        found.ok_or_else(|| ApiError::manifest_unknown(name.as_str(), &reference.to_string()))?;
    Ok(Reply::new(StatusCode::OK)
        .header("Content-Type", served.media_type)
        .header("Docker-Content-Digest", served.digest.as_str())
        .header("ETag", format!("\"{}\"", served.digest))
        .bytes(served.bytes))
}

/// The digest `reference` names when it is a manifest this server took
/// into repository `name` by digest.
fn pushed_manifest(state: &State, name: &RepoName, reference: &ManifestRef) -> Option<Digest> {
    let ManifestRef::Digest(digest) = reference else {
        return None;
    };
    let writes = state.writes.as_ref()?;
    writes
        .is_linked_manifest(name.as_str(), digest)
        .then(|| digest.clone())
}

/// A blob, whole or in ranges: one the repository's served manifests
/// name, or one pushed or mounted into it by this server (before a
/// manifest names it). A blob pushed to one repository is not found in
/// another; a client that knows where it is mounts it.
fn blob(
    state: &State,
    name: &RepoName,
    digest: &Digest,
    range: Option<&str>,
) -> Result<Reply, ApiError> {
    let store = &state.store;
    let pushed = || {
        let writes = state.writes.as_ref()?;
        let size = writes.linked_size(name.as_str(), digest)?;
        store.stored_blob_size(digest)?;
        Some(Blob::Stored {
            digest: digest.clone(),
            size,
        })
    };
    let found = match Catalog::load(store)?.repo(name) {
        Ok(repo) => content::find_blob(store, &repo.images(), digest)?,
        Err(error) => match pushed() {
            Some(blob) => Some(blob),
            None => return Err(error),
        },
    };
    let blob = found
        .or_else(pushed)
        .ok_or_else(|| ApiError::blob_unknown(name.as_str(), digest.as_str()))?;
    let size = match &blob {
        Blob::Config(bytes) => bytes.len() as u64,
        Blob::Layer(layer) => layer.size,
        Blob::Stored { size, .. } => *size,
    };
    let reply = |status| {
        Reply::new(status)
            .header("Docker-Content-Digest", digest.as_str())
            .header("ETag", format!("\"{digest}\""))
            .header("Accept-Ranges", "bytes")
    };
    let (reply, body) = match ranges::parse(range, size) {
        Ranges::Whole => (
            reply(StatusCode::OK).header("Content-Type", "application/octet-stream"),
            BlobBody::whole(blob, size),
        ),
        Ranges::Spans(spans) if spans.len() == 1 => (
            reply(StatusCode::PARTIAL_CONTENT)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", spans[0].content_range(size)),
            BlobBody::span(blob, spans[0]),
        ),
        Ranges::Spans(spans) => {
            let parts = Multipart::new(&spans, size, digest.hex());
            let kind = format!("multipart/byteranges; boundary={}", parts.boundary);
            (
                reply(StatusCode::PARTIAL_CONTENT).header("Content-Type", kind),
                BlobBody::multipart(blob, &spans, parts),
            )
        }
        Ranges::Unsatisfiable => {
            return Ok(reply(StatusCode::RANGE_NOT_SATISFIABLE)
                .header("Content-Range", format!("bytes */{size}"))
                .bytes(Vec::new()));
        }
    };
    let mut reply = reply.header("Content-Length", body.len().to_string());
    reply.body = Body::Stream(body);
    Ok(reply)
}

/// The referrers of a manifest: none, ever, since the store keeps no
/// artifacts (a pushed artifact or image index is refused), so the answer
/// is the empty index the spec asks for rather than a 404. An
/// `artifactType` filter is applied trivially, and said so.
fn referrers(filtered: bool) -> Reply {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": strata::image::media::OCI_INDEX,
        "manifests": [],
    });
    let bytes = index.to_string().into_bytes();
    let reply = Reply::new(StatusCode::OK).header("Content-Type", strata::image::media::OCI_INDEX);
    let reply = match filtered {
        true => reply.header("OCI-Filters-Applied", "artifactType"),
        false => reply,
    };
    reply.bytes(bytes)
}

/// The tags of a repository, `n` at a time after `last`.
fn tags(store: &Store, name: &RepoName, query: Option<&str>) -> Result<Reply, ApiError> {
    let repo = Catalog::load(store)?.repo(name)?;
    let n = match query_value(query, "n") {
        None => None,
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| ApiError::pagination_invalid(text))?,
        ),
    };
    let last = query_value(query, "last");
    let after: Vec<&String> = repo
        .tags
        .keys()
        .filter(|tag| last.is_none_or(|last| tag.as_str() > last))
        .collect();
    let page = &after[..n.unwrap_or(after.len()).min(after.len())];
    let mut reply = Reply::new(StatusCode::OK);
    if let (Some(n), Some(last)) = (n, page.last())
        && page.len() < after.len()
    {
        reply = reply.header(
            "Link",
            format!(
                "</v2/{}/tags/list?n={n}&last={last}>; rel=\"next\"",
                name.as_str()
            ),
        );
    }
    Ok(reply.json(&json!({ "name": name.as_str(), "tags": page })))
}

//! Requests to replies: the route, then the checks of every name and
//! digest it carries, then the store. Runs on a blocking thread (the
//! store is synchronous).

use std::sync::Arc;

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
}

/// The reply to `request`.
pub fn handle(store: &Arc<Store>, request: &Request) -> Reply {
    respond(store, request).unwrap_or_else(ApiError::into_reply)
}

fn respond(store: &Arc<Store>, request: &Request) -> Result<Reply, ApiError> {
    let route = Route::of(&request.path);
    let method = request.method.as_str();
    if !matches!(method, "GET" | "HEAD") {
        return Err(ApiError::unsupported(method, route.writes(method)));
    }
    match route {
        Route::Base => Ok(Reply::new(StatusCode::OK).json(&json!({}))),
        Route::Upload => Err(ApiError::unsupported(method, "pushes")),
        Route::Referrers => Err(ApiError::referrers()),
        Route::Unknown => Err(ApiError::not_found(&request.path)),
        Route::Manifest { name, reference } => {
            let name = RepoName::parse(name)?;
            manifest(store, &name, &ManifestRef::parse(reference)?)
        }
        Route::Blob { name, digest } => {
            let name = RepoName::parse(name)?;
            blob(
                store,
                &name,
                &parse_digest(digest)?,
                request.range.as_deref(),
            )
        }
        Route::Tags { name } => tags(store, &RepoName::parse(name)?, request.query.as_deref()),
    }
}

/// A manifest by tag or digest.
fn manifest(store: &Store, name: &RepoName, reference: &ManifestRef) -> Result<Reply, ApiError> {
    let repo = Catalog::load(store)?.repo(name)?;
    let served = match reference {
        ManifestRef::Tag(tag) => {
            let image = repo
                .tags
                .get(tag)
                .ok_or_else(|| ApiError::manifest_unknown(name.as_str(), tag))?;
            content::served(store, image)?
        }
        ManifestRef::Digest(digest) => by_digest(store, &repo.images(), digest)?
            .ok_or_else(|| ApiError::manifest_unknown(name.as_str(), digest.as_str()))?,
    };
    Ok(Reply::new(StatusCode::OK)
        .header("Content-Type", served.media_type)
        .header("Docker-Content-Digest", served.digest.as_str())
        .header("ETag", format!("\"{}\"", served.digest))
        .bytes(served.manifest))
}

/// The served manifest of `images` whose digest is `digest`.
fn by_digest(
    store: &Store,
    images: &[&strata::Image],
    digest: &Digest,
) -> Result<Option<content::Served>, ApiError> {
    for image in images {
        let served = content::served(store, image)?;
        if &served.digest == digest {
            return Ok(Some(served));
        }
    }
    Ok(None)
}

/// A blob, whole or in ranges.
fn blob(
    store: &Store,
    name: &RepoName,
    digest: &Digest,
    range: Option<&str>,
) -> Result<Reply, ApiError> {
    let repo = Catalog::load(store)?.repo(name)?;
    let blob = content::find_blob(store, &repo.images(), digest)?
        .ok_or_else(|| ApiError::blob_unknown(name.as_str(), digest.as_str()))?;
    let size = match &blob {
        Blob::Config(bytes) => bytes.len() as u64,
        Blob::Layer(layer) => layer.size,
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

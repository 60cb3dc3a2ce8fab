//! Pushes: upload sessions (`POST`, `PATCH` in order, `PUT` with the
//! digest, `GET` for the status, `DELETE` to cancel), monolithic uploads,
//! cross-repository mounts, and manifest `PUT`s that turn the pushed blobs
//! into an image of the store.
//!
//! Request bodies are read as they arrive and written to the upload in
//! batches on the runtime's blocking side, so memory stays flat whatever
//! the blob's size. Every name and digest is checked against its grammar
//! before the store is touched; no request text becomes a path.

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Incoming;
use strata::digest::Digest;

use crate::catalog::Catalog;
use crate::handler::Request;
use crate::names::{ManifestRef, RepoName, parse_digest};
use crate::reply::{ApiError, Reply};
use crate::route::{Route, query_param};
use crate::sessions::{Taken, Writes};
use crate::state::State;

/// Bytes gathered from a request body before they are written.
const BATCH: usize = 1 << 20;

/// The largest manifest taken (the reference registry's limit).
pub const MAX_MANIFEST: u64 = 4 << 20;

/// The reply to a push request (`route` is an upload or a manifest `PUT`).
pub async fn answer(
    state: &State,
    writes: &Arc<Writes>,
    request: &Request,
    route: Route<'_>,
    body: Incoming,
) -> Reply {
    let answered = match route {
        Route::Upload { name, session } => {
            upload(state, writes, request, name, session, body).await
        }
        Route::Manifest { name, reference } => {
            put_manifest(state, writes, name, reference, body).await
        }
        _ => Err(ApiError::not_found(&request.path)),
    };
    answered.unwrap_or_else(ApiError::into_reply)
}

/// An upload endpoint.
async fn upload(
    state: &State,
    writes: &Arc<Writes>,
    request: &Request,
    name: &str,
    session: Option<&str>,
    body: Incoming,
) -> Result<Reply, ApiError> {
    let repo = RepoName::parse(name)?;
    let query = request.query.as_deref();
    match (request.method.as_str(), session) {
        ("POST", None) => start(state, writes, &repo, query, body).await,
        ("PATCH", Some(id)) => {
            let mut taken = writes.take(repo.as_str(), id)?;
            if let Err(error) = check_offset(&repo, &mut taken, request.content_range.as_deref()) {
                // The upload is as it was: the client may go on from its end.
                taken.give_back();
                return Err(error);
            }
            append(state, &mut taken, body).await?;
            let reply = progress(&repo, &mut taken, StatusCode::ACCEPTED);
            taken.give_back();
            Ok(reply)
        }
        ("PUT", Some(id)) => {
            let digest = digest_param(query)?;
            let mut taken = writes.take(repo.as_str(), id)?;
            append(state, &mut taken, body).await?;
            finish(state, writes, &repo, taken.end(), &digest).await
        }
        ("GET", Some(id)) => {
            let mut taken = writes.take(repo.as_str(), id)?;
            let reply = progress(&repo, &mut taken, StatusCode::NO_CONTENT);
            taken.give_back();
            Ok(reply)
        }
        ("DELETE", Some(id)) => {
            let upload = writes.take(repo.as_str(), id)?.end();
            let store = Arc::clone(&state.store);
            blocking(move || store.cancel_upload(upload)).await?;
            Ok(Reply::new(StatusCode::NO_CONTENT).header("Content-Length", "0"))
        }
        (method, _) => Err(ApiError::unsupported(method, "these methods on uploads")),
    }
}

/// `POST .../blobs/uploads/`: a monolithic upload (`?digest=`), a mount
/// (`?mount=&from=`), or a new session.
async fn start(
    state: &State,
    writes: &Arc<Writes>,
    repo: &RepoName,
    query: Option<&str>,
    body: Incoming,
) -> Result<Reply, ApiError> {
    if let Some(mounted) = query_param(query, "mount") {
        let digest = parse_digest(&mounted)?;
        if let Some(from) = query_param(query, "from") {
            RepoName::parse(&from)?;
        }
        let store = Arc::clone(&state.store);
        let hold = Arc::clone(writes);
        let wanted = digest.clone();
        let held = blocking(move || store.hold_stored_blob(&wanted, hold.pending())).await?;
        if let Some(size) = held {
            writes.link(repo.as_str(), &digest, size);
            return Ok(created(repo, &digest));
        }
    }
    let store = Arc::clone(&state.store);
    let upload = blocking(move || store.start_upload()).await?;
    let id = writes.open(repo.as_str(), upload);
    let mut taken = writes.take(repo.as_str(), &id)?;
    match query_param(query, "digest") {
        Some(text) => {
            let digest = parse_digest(&text)?;
            append(state, &mut taken, body).await?;
            finish(state, writes, repo, taken.end(), &digest).await
        }
        None => {
            let reply = progress(repo, &mut taken, StatusCode::ACCEPTED);
            taken.give_back();
            Ok(reply)
        }
    }
}

/// Refuses a chunk that does not start where the upload ends.
fn check_offset(
    repo: &RepoName,
    taken: &mut Taken,
    content_range: Option<&str>,
) -> Result<(), ApiError> {
    let Some(range) = content_range else {
        return Ok(());
    };
    let text = range
        .trim()
        .trim_start_matches("bytes ")
        .trim_start_matches("bytes=");
    let start = text
        .split_once('-')
        .and_then(|(start, _)| start.trim().parse::<u64>().ok());
    let size = taken.upload().size();
    if start == Some(size) {
        return Ok(());
    }
    let mut error = ApiError::range_invalid(range, size);
    error.headers = vec![
        ("Location", location(repo, taken.id())),
        ("Range", range_header(size)),
        ("Docker-Upload-UUID", taken.id().to_string()),
    ];
    Err(error)
}

/// Writes the request body to the taken upload.
async fn append(state: &State, taken: &mut Taken, mut body: Incoming) -> Result<(), ApiError> {
    let limit = state.max_blob;
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH);
    loop {
        let frame = body.frame().await;
        let ended = match frame {
            None => true,
            Some(Err(error)) => {
                return Err(ApiError::upload_invalid(format!(
                    "the request body broke off: {error}"
                )));
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    batch.extend_from_slice(&data);
                }
                false
            }
        };
        if taken.upload().size() + batch.len() as u64 > limit {
            return Err(ApiError::too_large("the blob", limit));
        }
        if batch.len() >= BATCH || (ended && !batch.is_empty()) {
            let upload = taken.upload();
            tokio::task::block_in_place(|| upload.write(&batch))?;
            batch.clear();
        }
        if ended {
            return Ok(());
        }
    }
}

/// Checks the upload against `digest` and keeps the blob.
async fn finish(
    state: &State,
    writes: &Arc<Writes>,
    repo: &RepoName,
    upload: strata::Upload,
    digest: &Digest,
) -> Result<Reply, ApiError> {
    let store = Arc::clone(&state.store);
    let hold = Arc::clone(writes);
    let wanted = digest.clone();
    let finished =
        tokio::task::spawn_blocking(move || store.finish_upload(upload, &wanted, hold.pending()))
            .await
            .map_err(|e| ApiError::internal_message(format!("the upload failed: {e}")))?;
    match finished {
        Ok(size) => {
            writes.link(repo.as_str(), digest, size);
            Ok(created(repo, digest))
        }
        Err(strata::Error::ContentMismatch { actual, .. }) => {
            Err(ApiError::upload_digest_mismatch(digest.as_str(), &actual))
        }
        Err(other) => Err(other.into()),
    }
}

/// `PUT .../manifests/<reference>`: the pushed image lands in the store.
async fn put_manifest(
    state: &State,
    writes: &Arc<Writes>,
    name: &str,
    reference: &str,
    body: Incoming,
) -> Result<Reply, ApiError> {
    let repo = RepoName::parse(name)?;
    let reference = ManifestRef::parse(reference)?;
    let manifest = read_manifest(body).await?;
    let digest = Digest::of(&manifest);
    let store = Arc::clone(&state.store);
    let hold = Arc::clone(writes);
    let (landed_repo, landed_digest) = (repo.clone(), digest.clone());
    let index = is_index(&manifest);
    blocking_api(move || match &reference {
        ManifestRef::Digest(named) if named != &landed_digest => Err(ApiError::digest_invalid(
            named.as_str(),
            &format!("the manifest's bytes are {landed_digest}"),
        )),
        ManifestRef::Digest(_) if serves(&store, &landed_repo, &landed_digest)? => Ok(()),
        ManifestRef::Digest(_) if index => Err(index_by_digest(&landed_repo, &landed_digest)),
        ManifestRef::Digest(_) => {
            // One platform's image of an index to come: an image without
            // a name, served here by digest until the index holds it.
            store
                .land_pushed_manifest(&manifest, None, hold.pending())
                .map_err(ApiError::of_landing)?;
            hold.link_manifest(landed_repo.as_str(), &landed_digest);
            Ok(())
        }
        ManifestRef::Tag(tag) => {
            let target = Catalog::load(&store)?.push_target(&landed_repo, tag)?;
            let landed = match index {
                true => store.land_pushed_index(&manifest, &target, hold.pending()),
                false => store.land_pushed_manifest(&manifest, Some(&target), hold.pending()),
            };
            landed.map_err(ApiError::of_landing)?;
            Ok(())
        }
    })
    .await?;
    Ok(Reply::new(StatusCode::CREATED)
        .header(
            "Location",
            format!("/v2/{}/manifests/{digest}", repo.as_str()),
        )
        .header("Docker-Content-Digest", digest.as_str())
        .header("Content-Length", "0"))
}

/// Whether repository `repo` serves manifest `digest` already.
fn serves(store: &strata::Store, repo: &RepoName, digest: &Digest) -> Result<bool, ApiError> {
    match Catalog::load(store)?.repo(repo) {
        Ok(found) => Ok(crate::content::served_by_reference(
            store,
            &found,
            &ManifestRef::Digest(digest.clone()),
        )?
        .is_some()),
        Err(_) => Ok(false),
    }
}

/// The refusal of an image index pushed by a digest the repository does
/// not serve: the store keeps an index by the name it was pushed under.
fn index_by_digest(repo: &RepoName, digest: &Digest) -> ApiError {
    ApiError::push_unsupported(&format!(
        "strata keeps image indexes by tag: push {}:TAG, not {}@{digest}",
        repo.as_str(),
        repo.as_str()
    ))
}

/// Whether pushed manifest `bytes` is an image index (by its media type,
/// else by its `manifests`); what does not parse is left to the landing
/// to refuse.
fn is_index(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Ok(head) => match head.media_type {
            Some(kind) => strata::image::media::is_index(&kind),
            None => head.manifests.is_some(),
        },
        Err(_) => false,
    }
}

/// The body of a manifest `PUT`, refused past [`MAX_MANIFEST`].
async fn read_manifest(mut body: Incoming) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::manifest_invalid(&format!("the request body broke off: {e}")))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(ApiError::too_large("the manifest", MAX_MANIFEST));
        }
    }
    Ok(bytes)
}

/// `201 Created` for blob `digest` of `repo`.
fn created(repo: &RepoName, digest: &Digest) -> Reply {
    Reply::new(StatusCode::CREATED)
        .header("Location", format!("/v2/{}/blobs/{digest}", repo.as_str()))
        .header("Docker-Content-Digest", digest.as_str())
        .header("Content-Length", "0")
}

/// Where a session is and how far it got, with `status`.
fn progress(repo: &RepoName, taken: &mut Taken, status: StatusCode) -> Reply {
    let size = taken.upload().size();
    Reply::new(status)
        .header("Location", location(repo, taken.id()))
        .header("Range", range_header(size))
        .header("Docker-Upload-UUID", taken.id().to_string())
        .header("Content-Length", "0")
}

/// The URL of session `id`.
fn location(repo: &RepoName, id: &str) -> String {
    format!("/v2/{}/blobs/uploads/{id}", repo.as_str())
}

/// The `Range` header of an upload of `size` bytes (`0-0` when empty, as
/// the reference registry says it).
fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

/// The `digest` parameter a finishing `PUT` must carry.
fn digest_param(query: Option<&str>) -> Result<Digest, ApiError> {
    let text = query_param(query, "digest")
        .ok_or_else(|| ApiError::digest_invalid("", "the digest parameter is missing"))?;
    parse_digest(&text)
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, strata::Error> + Send + 'static,
) -> Result<T, ApiError> {
    blocking_api(move || call().map_err(ApiError::from)).await
}

/// Runs a call that answers in API errors on a blocking thread.
async fn blocking_api<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ApiError::internal_message(format!("the request failed: {e}")))?
}

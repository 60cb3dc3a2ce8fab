//! The distribution API's errors of pushes: upload sessions, uploaded
//! blobs and pushed manifests.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::reply::ApiError;

impl ApiError {
    /// A push or delete to a server started with `--read-only`.
    pub fn read_only(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "pushes and deletes are refused: this strata serve is read-only (--read-only)".into(),
            json!({ "method": method }),
        )
    }

    /// An upload session this server does not know (never started, done,
    /// cancelled, or of another repository).
    pub fn upload_unknown(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry".into(),
            json!({ "session": id }),
        )
    }

    /// An upload session another request is writing to.
    pub fn upload_busy(id: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "BLOB_UPLOAD_INVALID",
            "blob upload invalid: another request is writing to this upload".into(),
            json!({ "session": id }),
        )
    }

    /// An upload request that cannot be followed, said in `why`.
    pub fn upload_invalid(why: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BLOB_UPLOAD_INVALID",
            format!("blob upload invalid: {}", why.into()),
            Value::Null,
        )
    }

    /// Uploaded bytes that do not hash to the digest the client named.
    pub fn upload_digest_mismatch(expected: &str, actual: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("provided digest did not match uploaded content: the bytes are {actual}"),
            json!({ "digest": expected, "actual": actual }),
        )
    }

    /// A chunk that does not start where the upload ends (chunks come in
    /// order).
    pub fn range_invalid(range: &str, size: u64) -> Self {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UPLOAD_INVALID",
            format!("chunk out of order: the upload has {size} bytes, the chunk starts elsewhere"),
            json!({ "contentRange": range, "size": size }),
        )
    }

    /// A body larger than the server takes.
    pub fn too_large(what: &str, limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SIZE_INVALID",
            format!("{what} is larger than the {limit} bytes this server takes"),
            json!({ "limit": limit }),
        )
    }

    /// A pushed manifest that does not parse or does not fit its blobs.
    pub fn manifest_invalid(why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            format!("manifest invalid: {why}"),
            Value::Null,
        )
    }

    /// A pushed manifest naming a blob that was not pushed.
    pub fn manifest_blob_unknown(digest: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MANIFEST_BLOB_UNKNOWN",
            format!("blob unknown to registry: {digest} was not pushed before the manifest"),
            json!({ "digest": digest }),
        )
    }

    /// A push strata understands but does not keep, said in `why`.
    pub fn push_unsupported(why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            why.to_string(),
            Value::Null,
        )
    }

    /// The error a failed landing of a pushed manifest answers with.
    pub fn of_landing(error: strata::Error) -> Self {
        match error {
            strata::Error::BlobNotFound(digest) => Self::manifest_blob_unknown(&digest),
            strata::Error::Unsupported(why) => Self::push_unsupported(&why),
            e @ (strata::Error::Malformed { .. }
            | strata::Error::ContentMismatch { .. }
            | strata::Error::Layer { .. }
            | strata::Error::InvalidName(_)
            | strata::Error::Reference(_)) => Self::manifest_invalid(&e.to_string()),
            other => Self::internal(&other),
        }
    }
}

//! Replies before they become HTTP: a status, headers and a body that is
//! empty, in memory, or produced by a blocking task; and the errors of
//! the distribution API with their codes and JSON bodies.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::blob::BlobBody;
use crate::splice::SplicedBody;

/// What a request gets back.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// Headers, as (name, value) pairs.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

/// A reply's body.
pub enum Body {
    /// None, with the headers' `Content-Length` kept (a `HEAD`).
    Empty,
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// Bytes streamed from the store, `len` of them.
    Stream(BlobBody),
    /// A stored blob's bytes sent from its file by the connection.
    Spliced(SplicedBody),
}

impl Reply {
    /// A reply with `status`, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A JSON body.
    pub fn json(self, value: &Value) -> Self {
        let bytes = value.to_string().into_bytes();
        self.header("Content-Type", "application/json").bytes(bytes)
    }

    /// A body of `bytes`, with its `Content-Length`.
    pub fn bytes(mut self, bytes: Vec<u8>) -> Self {
        self.headers
            .push(("Content-Length", bytes.len().to_string()));
        self.body = Body::Bytes(bytes);
        self
    }
}

/// An error of the distribution API: an HTTP status and one entry of the
/// `{"errors":[{"code","message","detail"}]}` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The spec's code (`NAME_UNKNOWN`, `BLOB_UNKNOWN`, ...).
    pub code: &'static str,
    /// What happened, for people.
    pub message: String,
    /// What the request named.
    pub detail: Value,
    /// Headers the reply carries besides the body's.
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: String,
        detail: Value,
    ) -> Self {
        Self {
            status,
            code,
            message,
            detail,
            headers: Vec::new(),
        }
    }

    /// A repository name outside the grammar.
    pub fn name_invalid(name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            format!("invalid repository name: {why}"),
            json!({ "name": name }),
        )
    }

    /// A repository the store has no image for.
    pub fn name_unknown(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry".into(),
            json!({ "name": name }),
        )
    }

    /// A short repository name that images under several registries have.
    pub fn name_ambiguous(name: &str, candidates: &[String]) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!(
                "repository name {name} is ambiguous: ask for one of {}",
                candidates.join(", ")
            ),
            json!({ "name": name, "candidates": candidates }),
        )
    }

    /// A tag outside the grammar: it cannot name a manifest.
    pub fn tag_invalid(tag: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown: the tag does not follow the tag grammar".into(),
            json!({ "tag": tag }),
        )
    }

    /// A digest outside the grammar or of another algorithm.
    pub fn digest_invalid(digest: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("provided digest is invalid: {why}"),
            json!({ "digest": digest }),
        )
    }

    /// A manifest the repository does not have.
    pub fn manifest_unknown(name: &str, reference: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown".into(),
            json!({ "name": name, "reference": reference }),
        )
    }

    /// A blob the repository does not have.
    pub fn blob_unknown(name: &str, digest: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry".into(),
            json!({ "name": name, "digest": digest }),
        )
    }

    /// A method this server does not serve on an endpoint it knows.
    pub fn unsupported(method: &str, what: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            format!("{what} are not served yet"),
            json!({ "method": method }),
        )
    }

    /// A path that is no endpoint of the API.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "no such endpoint".into(),
            json!({ "path": path }),
        )
    }

    /// A pagination count that is not a number.
    pub fn pagination_invalid(n: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PAGINATION_NUMBER_INVALID",
            "invalid number of results requested".into(),
            json!({ "n": n }),
        )
    }

    /// A request without credentials that let it in (`--htpasswd`).
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required".into(),
            Value::Null,
        )
    }

    /// The error with one more header on its reply.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A failure of the store.
    pub fn internal(error: &strata::Error) -> Self {
        Self::internal_message(error.to_string())
    }

    /// A failure of the server, said in `message`.
    pub fn internal_message(message: String) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            format!("unknown error: {message}"),
            Value::Null,
        )
    }

    /// The error as a reply.
    pub fn into_reply(self) -> Reply {
        let body = json!({
            "errors": [{ "code": self.code, "message": self.message, "detail": self.detail }]
        });
        let mut reply = Reply::new(self.status).json(&body);
        reply.headers.extend(self.headers);
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            reply.header("Allow", "GET, HEAD")
        } else {
            reply
        }
    }
}

impl From<strata::Error> for ApiError {
    fn from(error: strata::Error) -> Self {
        Self::internal(&error)
    }
}

//! The client's errors: one variant per failure a caller can act on,
//! each naming what was asked and what the registry did.

/// Result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered with an error status.
    #[error("{what}: the registry answered {status}{}", detail(.code, .message))]
    Status {
        /// What was asked (e.g. `manifest localhost:5000/x:1`).
        what: String,
        /// The HTTP status.
        status: u16,
        /// The first error code of the OCI error body, if any.
        code: Option<String>,
        /// Its message.
        message: Option<String>,
    },
    /// The registry refused the credentials, or wants some.
    #[error("{what}: authentication failed: {reason}")]
    Unauthorized {
        /// What was asked.
        what: String,
        /// Why.
        reason: String,
    },
    /// Manifest or blob not found.
    #[error("{what}: not found")]
    NotFound {
        /// What was asked.
        what: String,
    },
    /// Could not talk to the registry at all (after retries).
    #[error("{what}: {reason}")]
    Transport {
        /// What was asked.
        what: String,
        /// The last failure.
        reason: String,
    },
    /// No bytes arrived for the stall timeout.
    #[error("{what}: stalled: no data for {seconds} s")]
    Stalled {
        /// What was being read.
        what: String,
        /// The stall timeout.
        seconds: u64,
    },
    /// Bytes that do not hash to the digest they were asked by.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was read.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A reply that breaks the protocol: wrong sizes, bad headers,
    /// redirects to another scheme, a document too large.
    #[error("{what}: {reason}")]
    Protocol {
        /// What was asked.
        what: String,
        /// What was wrong with the reply.
        reason: String,
    },
    /// Bad client configuration: certificates, options.
    #[error("{0}")]
    Config(String),
    /// Credentials could not be read or written.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::Error),
}

fn detail(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" {code}: {message}"),
        (Some(code), None) => format!(" {code}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    }
}

impl Error {
    pub(crate) fn protocol(what: &str, reason: impl Into<String>) -> Self {
        Error::Protocol {
            what: what.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn transport(what: &str, error: &reqwest::Error) -> Self {
        Error::Transport {
            what: what.to_string(),
            reason: describe(error),
        }
    }
}

/// A reqwest error with its causes, on one line.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

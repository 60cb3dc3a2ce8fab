//! The credential module's errors: each names the file or helper at fault
//! and never includes a secret.

use std::io;
use std::path::PathBuf;

/// The result of credential operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can fail while reading or writing credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An auth file exists but could not be read.
    #[error("reading auth file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An auth file is not JSON of the expected shape.
    #[error("auth file {} is malformed: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// An `auth` field is not valid base64.
    #[error("auth file {}: the \"auth\" field of {key:?} is not valid base64: {source}", path.display())]
    Base64 {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        key: String,
        /// The decoding error.
        source: base64::DecodeError,
    },
    /// An `auth` field decodes to something that is not UTF-8 text.
    #[error("auth file {}: the \"auth\" field of {key:?} is not UTF-8 text", path.display())]
    AuthNotText {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        key: String,
    },
    /// An auth file could not be written.
    #[error("writing auth file {}: {source}", path.display())]
    Write {
        /// The file (or the directory being created or synced).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `XDG_RUNTIME_DIR` names a directory that does not exist.
    #[error("{} set by $XDG_RUNTIME_DIR does not exist; create it or unset XDG_RUNTIME_DIR", .0.display())]
    RuntimeDirMissing(PathBuf),
    /// No auth file to write: no explicit file, no `REGISTRY_AUTH_FILE`,
    /// no `XDG_RUNTIME_DIR` and an unknown uid.
    #[error("no auth file to write: set REGISTRY_AUTH_FILE or XDG_RUNTIME_DIR")]
    NoAuthFile,
    /// A registry or repository is not usable as an auth file key.
    #[error("invalid credentials key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A credential helper name that cannot name a program.
    #[error("invalid credential helper name {0:?}")]
    InvalidHelperName(String),
    /// A configured credential helper is not on `PATH`.
    #[error("credential helper {0} not found in PATH")]
    HelperNotFound(String),
    /// A credential helper could not be started or talked to.
    #[error("running credential helper {helper} {action}: {source}")]
    HelperRun {
        /// The program, `docker-credential-<name>`.
        helper: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// A credential helper reported a failure.
    #[error("credential helper {helper} {action} failed: {message}")]
    HelperFailed {
        /// The program, `docker-credential-<name>`.
        helper: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// Its message (stdout, or stderr when stdout is empty), or exit
        /// status.
        message: String,
    },
    /// A credential helper's `get` reply is not the expected JSON.
    #[error("credential helper {helper} get: malformed reply: {source}")]
    HelperReply {
        /// The program, `docker-credential-<name>`.
        helper: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Credential helpers keep one entry per registry, so a namespaced key
    /// (`registry/namespace`) cannot be stored in one.
    #[error("credential helper {helper} cannot store the namespaced key {key:?}")]
    NamespacedHelperKey {
        /// The helper's name.
        helper: String,
        /// The key.
        key: String,
    },
}

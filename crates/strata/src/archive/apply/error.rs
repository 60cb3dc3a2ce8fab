//! What can go wrong applying a layer: each variant that concerns an entry
//! names it and says in one line what is wrong.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Which of an entry's ids an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// The owner (user) id.
    Uid,
    /// The group id.
    Gid,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Uid => "uid",
            IdKind::Gid => "gid",
        })
    }
}

/// Everything that can fail while applying a layer tar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The layer directory or the aside directory cannot be opened.
    #[error("cannot open directory {}: {source}", path.display())]
    OpenDir {
        /// The directory.
        path: PathBuf,
        /// Why it cannot be opened.
        source: io::Error,
    },
    /// The entry's name leads outside the layer directory (`../x`).
    #[error("entry {entry:?} escapes the layer directory")]
    UnsafePath {
        /// The entry's name as recorded in the tar.
        entry: String,
    },
    /// A hard link's target leads outside the layer directory.
    #[error("entry {entry:?}: hard link target {target:?} escapes the layer directory")]
    UnsafeLinkTarget {
        /// The entry's name as recorded in the tar.
        entry: String,
        /// The link target as recorded in the tar.
        target: String,
    },
    /// A whiteout that names no file (`.wh.`, `.wh..`, `.wh...`).
    #[error("entry {entry:?} is an invalid whiteout: it names no file")]
    InvalidWhiteout {
        /// The entry's name as recorded in the tar.
        entry: String,
    },
    /// A header field cannot be applied (an id or device number out of range).
    #[error("entry {entry:?}: {reason}")]
    InvalidEntry {
        /// The entry's name as recorded in the tar.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// A container id has no host id in the configured mapping.
    #[error("entry {entry:?}: container {kind} {id} has no mapping to a host {kind}")]
    UnmappedId {
        /// The entry's name as recorded in the tar.
        entry: String,
        /// Whether the uid or the gid is unmapped.
        kind: IdKind,
        /// The container-side id.
        id: u32,
    },
    /// The entry's type cannot be created here (devices when not root).
    #[error("entry {entry:?}: {reason}")]
    Unsupported {
        /// The entry's name as recorded in the tar.
        entry: String,
        /// Why it cannot be created.
        reason: String,
    },
    /// A hard link's target cannot be linked to (missing, a directory, ...).
    #[error("entry {entry:?}: cannot link to {target:?}: {source}")]
    LinkTarget {
        /// The entry's name as recorded in the tar.
        entry: String,
        /// The link target as recorded in the tar.
        target: String,
        /// Why linking failed.
        source: io::Error,
    },
    /// An extended attribute cannot be set.
    #[error("entry {entry:?}: cannot set extended attribute {name:?}: {source}")]
    Xattr {
        /// The entry's name as recorded in the tar.
        entry: String,
        /// The attribute's name.
        name: String,
        /// Why it cannot be set.
        source: io::Error,
    },
    /// A filesystem operation on the entry failed.
    #[error("entry {entry:?}: {action}: {source}")]
    Io {
        /// The entry's name as recorded in the tar (for directory times
        /// restored at the end, the directory's path).
        entry: String,
        /// What was being done.
        action: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The layer applier was driven out of order (data without a
    /// member, a member left open, a payload shorter than announced).
    #[error("layer applier misused: {0}")]
    Misuse(String),
    /// The tar stream cannot be read or parsed.
    #[error(transparent)]
    Tar(#[from] crate::error::TarSplitError),
}

/// Renders raw name bytes for messages.
pub(super) fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// An [`ApplyError::Io`] for `entry`.
pub(super) fn io_error(entry: &[u8], action: impl Into<String>, source: io::Error) -> ApplyError {
    ApplyError::Io {
        entry: lossy(entry),
        action: action.into(),
        source,
    }
}

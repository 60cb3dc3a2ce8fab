//! The library's error type: one enum with a precise variant for each thing
//! a caller may want to act on.

use std::fmt;
use std::io;

/// Everything that can fail in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No layer has this id, id prefix or name.
    #[error("layer {0:?} not found")]
    LayerNotFound(String),
    /// An id prefix matches several layers.
    #[error("{reference:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// What was looked up.
        reference: String,
        /// The ids it matches.
        candidates: Vec<String>,
    },
    /// No container has this id, id prefix or name.
    #[error("container {0:?} not found")]
    ContainerNotFound(String),
    /// A container with this id exists already.
    #[error("container {0} already exists")]
    ContainerExists(String),
    /// Another container has this name (container names are unique and
    /// never taken from another container).
    #[error("the name {name:?} is in use by container {container}")]
    ContainerNameInUse {
        /// The name.
        name: String,
        /// The container that has it.
        container: String,
    },
    /// The container is mounted, so it cannot be deleted without force.
    #[error("container {id} is mounted ({count} times); unmount it first or force the deletion")]
    ContainerMounted {
        /// The container.
        id: String,
        /// How many mounts are outstanding.
        count: u64,
    },
    /// Unmount of a container that is not mounted.
    #[error("container {0} is not mounted")]
    ContainerNotMounted(String),
    /// A container uses the layer (as its base or as its read-write layer),
    /// so it cannot be deleted.
    #[error("layer {layer} is used by container {container}; delete the container first")]
    UsedByContainer {
        /// The layer.
        layer: String,
        /// The container using it.
        container: String,
    },
    /// An image name is not a valid reference.
    #[error(transparent)]
    Reference(#[from] crate::image::reference::ReferenceError),
    /// No image has this id, id prefix or name.
    #[error("image {0:?} not found")]
    ImageNotFound(String),
    /// An image uses the layer as its top layer, so it cannot be deleted.
    #[error("layer {layer} is used by image {image}; delete the image first")]
    UsedByImage {
        /// The layer.
        layer: String,
        /// The image using it.
        image: String,
    },
    /// An operation in progress (a load, a copy) holds the layer.
    #[error("layer {0} is held by an operation in progress")]
    LayerHeld(String),
    /// No lease has this id: it was released, or collected after it
    /// expired. Take a new lease.
    #[error("lease {0} not found")]
    LeaseNotFound(String),
    /// The lease is past its expiry time: it holds nothing any more, and
    /// garbage collection releases it.
    #[error("lease {0} has expired")]
    LeaseExpired(String),
    /// Containers use the image, so it cannot be deleted without force.
    #[error("image {image} is used by container {}; delete the container first or force the removal", containers.join(", "))]
    ImageInUse {
        /// The image.
        image: String,
        /// The containers using it.
        containers: Vec<String>,
    },
    /// Image indexes hold the image, so it cannot be deleted without force.
    #[error("image {image} is part of the image index {}; remove that name first or force the removal", indexes.join(", "))]
    ImageInIndex {
        /// The image.
        image: String,
        /// The names of the indexes holding it.
        indexes: Vec<String>,
    },
    /// A config change (`--change`, Dockerfile syntax) is unknown or
    /// malformed.
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange {
        /// The change as given.
        change: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Untrusted content (an archive member, a manifest, a config) is not
    /// what it must be.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What was read.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored config or manifest, which strata accepted and keeps as the
    /// exact bytes received, does not fit the typed view of the OCI image
    /// spec's types (stricter than docker and podman in a few places); its
    /// bytes are still readable.
    #[error("{what} does not fit the OCI image spec's types: {reason}")]
    TypedView {
        /// The document and the image it belongs to.
        what: String,
        /// What the types could not hold.
        reason: String,
    },
    /// A layer file of an archive or layout could not be imported.
    #[error("layer {file}: {source}")]
    Layer {
        /// The layer's file in the archive or layout.
        file: String,
        /// Why.
        source: Box<Error>,
    },
    /// Content does not hash to the digest that names it.
    #[error("{what}: content has digest {actual}, expected {expected}")]
    ContentMismatch {
        /// What was read.
        what: String,
        /// The digest it must have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// A layer with this id exists already.
    #[error("layer {0} already exists")]
    LayerExists(String),
    /// A layer extracted ahead of its parent needs the parent's files (a
    /// whiteout, a directory only the parent has): it is extracted again
    /// once the parent is made.
    #[error("layer {0} needs its parent's files, which are not made yet")]
    NeedsParent(String),
    /// A layer id is not 64 lowercase hex digits.
    #[error("invalid layer id {0:?}: want 64 lowercase hex digits")]
    InvalidId(String),
    /// A name is empty or has characters names may not have.
    #[error("invalid name {0:?}: names are non-empty and have no whitespace or control characters")]
    InvalidName(String),
    /// The layer has children, so it cannot be deleted.
    #[error("layer {id} has children ({}); delete them first", children.join(", "))]
    HasChildren {
        /// The layer.
        id: String,
        /// Its children.
        children: Vec<String>,
    },
    /// The layer is mounted, so it cannot be deleted.
    #[error("layer {id} is mounted ({count} times); unmount it first")]
    Mounted {
        /// The layer.
        id: String,
        /// How many mounts are outstanding.
        count: u64,
    },
    /// The kernel has a mount on the layer's directories that the store's
    /// mount count does not account for, so it cannot be deleted.
    #[error("layer {id} is mounted at {mount_point}; unmount it first")]
    KernelMounted {
        /// The layer.
        id: String,
        /// Where the kernel has it mounted.
        mount_point: String,
    },
    /// Unmount of a layer that is not mounted.
    #[error("layer {0} is not mounted")]
    NotMounted(String),
    /// Rebuilt layer bytes do not hash to the recorded diff digest.
    #[error("layer {id}: rebuilt tar has digest {actual}, expected {expected}")]
    DigestMismatch {
        /// The layer.
        id: String,
        /// The recorded diff digest.
        expected: String,
        /// What the rebuilt bytes hash to.
        actual: String,
    },
    /// A layer's data is missing or damaged.
    #[error("layer {id}: {reason}")]
    Damaged {
        /// The layer.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The store was created with another driver.
    #[error("the store at {root} uses the {existing} driver, not {requested}")]
    DriverMismatch {
        /// The store root.
        root: String,
        /// The driver the store was created with.
        existing: String,
        /// The driver asked for.
        requested: String,
    },
    /// The store's root is another tool's store (containers/storage,
    /// docker, containerd); strata writes nothing into it.
    #[error(
        "{root} is a {owner} directory ({marker} found), not a strata store; choose another root"
    )]
    ForeignStore {
        /// The root asked for.
        root: String,
        /// Whose it is: `containers/storage (podman, buildah, cri-o)`, ...
        owner: String,
        /// The entry that gave it away (`overlay-layers`, `image`, ...).
        marker: String,
    },
    /// The store's root is a directory that holds other things and no
    /// strata store; strata writes nothing into it.
    #[error(
        "{root} is not empty and is not a strata store (it holds {entry}); choose an empty or new directory as the root"
    )]
    NotAStore {
        /// The root asked for.
        root: String,
        /// One of the entries found there.
        entry: String,
    },
    /// The store, or the directory it would be made in, belongs to another
    /// user and this one may not write to it.
    #[error(
        "permission denied: the store at {root} belongs to {owner}; run as {owner} or pass --root"
    )]
    PermissionDenied {
        /// The store's root.
        root: String,
        /// The user who owns it (a name, else `uid N`).
        owner: String,
    },
    /// No store was named and there is no default one: neither
    /// `XDG_DATA_HOME` nor `HOME` is set (to an absolute path).
    #[error(
        "no store given and no default: HOME is not set; set HOME, or name the store with STRATA_ROOT or --root"
    )]
    NoDefaultRoot,
    /// No driver by this name.
    #[error("unknown driver {0:?} (known: overlay, vfs)")]
    UnknownDriver(String),
    /// The driver cannot work on this system or file system.
    #[error("the {driver} driver cannot work here: {reason}")]
    DriverUnsupported {
        /// The driver.
        driver: String,
        /// What the probe found.
        reason: String,
    },
    /// A request that makes no sense for this layer or store.
    #[error("{0}")]
    Invalid(String),
    /// A manifest names a blob the store does not have (a push whose
    /// manifest came before its blobs).
    #[error("blob {0} is not in the store")]
    BlobNotFound(String),
    /// Content strata understands but does not keep (an image index or an
    /// artifact pushed as an image); the message says what and why.
    #[error("{0}")]
    Unsupported(String),
    /// A path given to write an output to cannot take it (a directory, a
    /// socket, a path that changed while it was written).
    #[error("cannot write to {path}: {reason}")]
    UnusableOutput {
        /// The path as given (and where its symlinks lead).
        path: String,
        /// Why.
        reason: String,
    },
    /// The layer tar could not be applied.
    #[error("cannot apply the layer: {0}")]
    Apply(#[from] crate::archive::apply::ApplyError),
    /// Comparing two layer trees failed.
    #[error("cannot compare the layers: {0}")]
    Changes(#[from] crate::archive::changes::ChangesError),
    /// Writing a changeset tar failed.
    #[error("cannot write the changeset: {0}")]
    Changeset(#[from] crate::archive::changeset::ChangesetError),
    /// The tar stream or its tar-split metadata is malformed.
    #[error(transparent)]
    TarSplit(TarSplitError),
    /// Talking to a registry failed.
    #[error(transparent)]
    Registry(#[from] strata_registry::Error),
    /// A compressed stream needs more memory to decode than strata allows.
    #[error(transparent)]
    MemoryLimit(#[from] crate::compression::MemoryLimit),
    /// The metadata database failed.
    #[error("store database: {0}")]
    Database(DatabaseError),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        source: io::Error,
    },
}

/// A failure of the store's metadata database (SQLite). Opaque, and
/// transparent like [`TarSplitError`]: the message is the database's, and
/// [`std::error::Error::source`] gives what caused it; the database's
/// error type is not part of strata's API.
#[derive(Debug)]
pub struct DatabaseError(rusqlite::Error);

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A tar stream, or tar-split metadata, that cannot be read or parsed.
/// Opaque and transparent: the message says what is wrong, and
/// [`std::error::Error::source`] gives what caused it; tar-split's error
/// type is not part of strata's API.
#[derive(Debug)]
pub struct TarSplitError(tarsplit::Error);

impl fmt::Display for TarSplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TarSplitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

// The conversions below serve `?` inside the crate. They are hidden from
// the documentation: the dependency types they name are not strata's API.

#[doc(hidden)]
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Database(DatabaseError(e))
    }
}

#[doc(hidden)]
impl From<tarsplit::Error> for Error {
    fn from(e: tarsplit::Error) -> Self {
        Error::TarSplit(TarSplitError(e))
    }
}

#[doc(hidden)]
impl From<tarsplit::Error> for TarSplitError {
    fn from(e: tarsplit::Error) -> Self {
        TarSplitError(e)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to I/O errors. An I/O error that carries a decoder's
/// [`MemoryLimit`](crate::compression::MemoryLimit) becomes
/// [`Error::MemoryLimit`] instead, so callers can tell it apart.
pub(crate) trait IoContext<T> {
    /// Wraps the error with what was being done.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(
            |source| match crate::compression::MemoryLimit::of(&source) {
                Some(limit) => Error::MemoryLimit(limit.clone()),
                None => Error::Io {
                    context: what(),
                    source,
                },
            },
        )
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::Io {
            context: what(),
            source: errno.into(),
        })
    }
}

//! The ground floor: every primitive of strata that writes to the file
//! system, and the rules they keep.
//!
//! - `durable`: the store's own files. Nothing is written in place:
//!   metadata is written aside, fsync'd, renamed over, and its directory
//!   fsync'd; bulk data goes into a work directory and is flushed by one
//!   `syncfs` before the rename that publishes it.
//! - [`output`]: files at paths a user names; a device, FIFO or symlink is
//!   written into or followed, never replaced, and a killed writer leaves
//!   nothing.
//! - `aside`: the unnamed (`O_TMPFILE`) file both of them write, named
//!   only once complete.
//! - `workdir` and `lock`: work directories owned through a `flock`ed lock
//!   file, so a dead owner's work can be told from a live one's.
//! - [`copy`]: replicating a tree exactly (reflink, `copy_file_range`),
//!   how the vfs driver makes a child layer and overlay copies a file up.
//! - `tree`: reading a tree through open directories (`statx` without
//!   following symlinks, listings, xattrs), for the copier, the tree
//!   comparer and the changeset writer.
//! - `dir`, `random`: listing and removing, random names.
//!
//! Every other module of the crate that writes a file goes through here;
//! this module uses nothing of the crate but its error type. One writer is
//! not here yet: extraction of layer content (`archive::apply`), which
//! writes beneath a layer's root with its own `openat2` operations that
//! cannot leave the root.

mod aside;
pub mod copy;
mod dir;
pub(crate) mod durable;
mod lock;
pub mod output;
mod random;
pub(crate) mod tree;
pub(crate) mod workdir;

pub(crate) use aside::AsideFile;
pub use aside::is_temp_name;
pub(crate) use dir::entries;
pub use output::{Output, write_output};
pub(crate) use random::random_hex;

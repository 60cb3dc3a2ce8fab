//! Layer changesets as tar streams: applying one beneath a directory, and
//! computing one from two trees.

pub mod apply;
pub mod changes;
pub mod changeset;

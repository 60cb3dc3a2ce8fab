//! Layer changesets as tar streams: applying one beneath a directory, and
//! computing one from two trees; the one tar writer strata writes with.

pub mod apply;
pub mod changes;
pub mod changeset;
pub(crate) mod tarwrite;

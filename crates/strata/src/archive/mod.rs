//! Layer changesets as tar streams: applying one beneath a directory, and
//! computing one from two trees; the one tar writer strata writes with.

pub(crate) mod apply;
pub mod changes;
pub(crate) mod changeset;

pub use apply::{ApplyError, IdKind};
pub use changeset::ChangesetError;
pub(crate) mod tarwrite;

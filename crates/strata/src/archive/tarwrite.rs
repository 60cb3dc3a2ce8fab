//! The one deterministic tar writer of strata: header encoding with fixed
//! conventions (`header`), a tar stream that frames members, pads them and
//! ends the archive (`stream`), and the saved-archive writer on top of it
//! (`writer`).
//! Saved image archives and layer changesets both write through it; where
//! they differ in conventions, [`Conventions`] names the difference, so
//! each keeps its pinned bytes.

mod header;
mod stream;
mod writer;

pub(crate) use header::{Conventions, EncodeError, Header};
pub(crate) use stream::{Counting, HeaderError, TarStream};
pub(crate) use writer::TarWriter;

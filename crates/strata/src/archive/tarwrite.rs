//! The one deterministic tar writer of strata: header encoding with fixed
//! conventions (`header`) and streaming members to an output (`writer`).
//! Saved image archives and layer changesets both write through it; where
//! they differ in conventions, [`Conventions`] names the difference, so
//! each keeps its pinned bytes.

mod header;
mod writer;

pub(crate) use header::{BLOCK, Conventions, EncodeError, Header, encode, padding};
pub(crate) use writer::{Counting, TarWriter};

//! Remembering the paths an archive names, to find duplicates: the
//! [`SeenPaths`] trait the [`crate::Disassembler`] keeps the last
//! occurrence of each path in, the 128-bit [`path_key`] it stores them
//! under, and [`SeenInMemory`], the default, a hash map.
//!
//! The map grows with the number of distinct paths (about 50 bytes each).
//! A caller that must stay within a fixed amount of memory for any archive
//! passes an implementation that keeps the entries elsewhere (strata spills
//! them to a file in its staging area).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::disasm::Superseded;
use crate::error::Result;

/// A cleaned path, hashed to 128 bits: two SipHash runs over the path with
/// different leading tags. Finding two paths with the same key takes about
/// 2^64 attempts, so distinct paths are taken to have distinct keys.
pub type PathKey = u128;

/// The key of a cleaned path.
pub fn path_key(cleaned: &[u8]) -> PathKey {
    let half = |tag: u8| {
        let mut hasher = DefaultHasher::new();
        tag.hash(&mut hasher);
        cleaned.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// Where the last occurrence of each path is kept.
pub trait SeenPaths: Send {
    /// Records `occurrence` as the last one of `key`; returns the one it
    /// replaces.
    fn replace(&mut self, key: PathKey, occurrence: Superseded) -> Result<Option<Superseded>>;

    /// Forgets `key`; returns its last occurrence.
    fn take(&mut self, key: PathKey) -> Result<Option<Superseded>>;
}

/// Keeps the occurrences in memory.
#[derive(Debug, Default)]
pub struct SeenInMemory(HashMap<PathKey, Superseded>);

impl SeenPaths for SeenInMemory {
    fn replace(&mut self, key: PathKey, occurrence: Superseded) -> Result<Option<Superseded>> {
        Ok(self.0.insert(key, occurrence))
    }

    fn take(&mut self, key: PathKey) -> Result<Option<Superseded>> {
        Ok(self.0.remove(&key))
    }
}

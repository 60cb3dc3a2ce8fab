//! Bookkeeping that would grow with a layer, kept within a fixed amount of
//! memory: a map from 128-bit path keys ([`tarsplit::seen::path_key`]) to
//! three numbers, held in memory up to [`IN_MEMORY`] entries and past that
//! in a hash table in an unlinked file of a staging directory.
//!
//! The spilled table is made of page-sized buckets (102 slots of 40 bytes);
//! memory keeps how full each bucket is (a byte per 4 KiB of file) and a
//! Bloom filter of [`FILTER_BYTES`] over the keys. A key the filter has not
//! seen is new: it is written at the end of its bucket with one `pwrite`,
//! nothing read. Other lookups read the key's bucket (one `pread`; a full
//! bucket continues into the next). The table grows fourfold when 7/8
//! full: a full bucket costs nothing to skip when appending (memory knows
//! it is full) and one more read when looking up. Bucket and filter positions come from a per-process random hash
//! of the key, so no input can aim at one bucket.
//!
//! Import uses it for the last occurrence of each path of the tar
//! ([`SeenOnDisk`], for tarsplit's duplicate detection) and for the paths
//! the tar created ([`PathSet`], for opaque directories and superseded
//! files). A layer of a million entries costs files of at most a few
//! hundred MB in the staging area instead of memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tarsplit::Superseded;
use tarsplit::seen::{PathKey, SeenPaths, path_key};

use crate::fs::AsideFile;

/// Entries kept in memory before the map moves to a file (about 3 MiB).
pub const IN_MEMORY: usize = 1 << 16;
/// Size of the Bloom filter of a spilled map (4 MiB: under 0.1% false
/// positives at a million keys, about 20% at ten million, which only costs
/// reads).
pub const FILTER_BYTES: usize = 4 << 20;
/// Bytes per slot: the key, then three little-endian u64.
const SLOT: usize = 40;
/// Bytes per bucket: one page.
const BUCKET: u64 = 4096;
/// Slots per bucket.
const PER_BUCKET: usize = BUCKET as usize / SLOT;
/// Buckets of the first table.
const FIRST_BUCKETS: u64 = 64;
/// Key of a slot whose entry was removed.
const REMOVED: u128 = u128::MAX;

type Value = [u64; 3];

/// A map from path keys to three numbers that spills to a file.
pub(crate) struct SpillMap {
    dir: PathBuf,
    /// Entries held in memory before spilling ([`IN_MEMORY`]).
    limit: usize,
    memory: HashMap<u128, Value>,
    table: Option<Table>,
    /// Bloom filter of the spilled keys.
    filter: Vec<u64>,
    hasher: RandomState,
}

#[cfg(test)]
thread_local! {
    /// Tests spill small maps by lowering the limit on their thread.
    static TEST_LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(IN_MEMORY) };
}

fn in_memory_limit() -> usize {
    #[cfg(test)]
    return TEST_LIMIT.with(|limit| limit.get());
    #[cfg(not(test))]
    IN_MEMORY
}

impl SpillMap {
    /// An empty map whose file, if it needs one, goes in `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            limit: in_memory_limit(),
            memory: HashMap::new(),
            table: None,
            filter: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    /// Sets `key` to `value`; returns the value it had.
    pub(crate) fn insert(&mut self, key: PathKey, value: Value) -> io::Result<Option<Value>> {
        let key = stored(key);
        let hash = self.hasher.hash_one(key);
        let Some(table) = &mut self.table else {
            let old = self.memory.insert(key, value);
            if self.memory.len() > self.limit {
                self.spill()?;
            }
            return Ok(old);
        };
        if !filter_add(&mut self.filter, hash) {
            table.append(key, hash, value)?;
            return Ok(None);
        }
        match table.find(key, hash)? {
            Some((slot, old)) => {
                if old != value {
                    table.write(slot, key, value)?;
                }
                Ok(Some(old))
            }
            None => {
                table.append(key, hash, value)?;
                Ok(None)
            }
        }
    }

    /// Moves the entries from memory into a new table.
    fn spill(&mut self) -> io::Result<()> {
        let buckets = (self.limit as u64 * 4 / PER_BUCKET as u64)
            .next_power_of_two()
            .max(FIRST_BUCKETS);
        let mut table = Table::create(&self.dir, buckets, self.hasher.clone())?;
        self.filter = vec![0; FILTER_BYTES / 8];
        for (key, value) in std::mem::take(&mut self.memory) {
            let hash = self.hasher.hash_one(key);
            filter_add(&mut self.filter, hash);
            table.append(key, hash, value)?;
        }
        self.table = Some(table);
        Ok(())
    }

    /// The value of `key`.
    pub(crate) fn get(&mut self, key: PathKey) -> io::Result<Option<Value>> {
        let key = stored(key);
        let hash = self.hasher.hash_one(key);
        match &mut self.table {
            Some(_) if !filter_has(&self.filter, hash) => Ok(None),
            Some(table) => Ok(table.find(key, hash)?.map(|(_, value)| value)),
            None => Ok(self.memory.get(&key).copied()),
        }
    }

    /// Removes `key`; returns the value it had.
    pub(crate) fn remove(&mut self, key: PathKey) -> io::Result<Option<Value>> {
        let key = stored(key);
        let hash = self.hasher.hash_one(key);
        match &mut self.table {
            Some(_) if !filter_has(&self.filter, hash) => Ok(None),
            Some(table) => match table.find(key, hash)? {
                Some((slot, old)) => {
                    table.write(slot, REMOVED, [0; 3])?;
                    Ok(Some(old))
                }
                None => Ok(None),
            },
            None => Ok(self.memory.remove(&key)),
        }
    }
}

/// The three filter bits of a hash.
fn filter_bits(filter: &[u64], hash: u64) -> [usize; 3] {
    let bits = filter.len() * 64;
    let mixed = hash.rotate_left(32) ^ hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    [hash, hash >> 32, mixed].map(|h| (h as usize) % bits)
}

/// Sets a key's bits; returns whether all were set already.
fn filter_add(filter: &mut [u64], hash: u64) -> bool {
    let mut seen = true;
    for bit in filter_bits(filter, hash) {
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        seen &= filter[word] & mask != 0;
        filter[word] |= mask;
    }
    seen
}

/// Whether a key may be in the filter.
fn filter_has(filter: &[u64], hash: u64) -> bool {
    filter_bits(filter, hash)
        .iter()
        .all(|&bit| filter[bit / 64] & (1u64 << (bit % 64)) != 0)
}

/// Moves the key that marks removed slots out of the way (at a cost of
/// one in 2^128 of telling two paths apart).
fn stored(key: PathKey) -> u128 {
    match key {
        REMOVED => REMOVED - 1,
        key => key,
    }
}

/// The hash table in a file.
struct Table {
    dir: PathBuf,
    /// The map's hasher, for the entries' buckets when growing.
    hasher: RandomState,
    /// An unnamed file, never placed: it goes with the table.
    file: AsideFile,
    buckets: u64,
    /// Slots used (entries and removed ones) per bucket.
    fill: Vec<u8>,
    /// Slots used in all.
    used: u64,
    page: Vec<u8>,
}

impl Table {
    /// A table of `buckets` empty buckets (a power of two) in a new
    /// unlinked file in `dir`.
    fn create(dir: &Path, buckets: u64, hasher: RandomState) -> io::Result<Self> {
        let file = AsideFile::create_in(dir, 0o600).map_err(io::Error::other)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            hasher,
            file,
            buckets,
            fill: vec![0; buckets as usize],
            used: 0,
            page: vec![0; BUCKET as usize],
        })
    }

    fn home(&self, hash: u64) -> u64 {
        (hash >> 7) & (self.buckets - 1)
    }

    /// The slot holding `key` (a global slot number) and its value.
    fn find(&mut self, key: u128, hash: u64) -> io::Result<Option<(u64, Value)>> {
        let mut bucket = self.home(hash);
        loop {
            let filled = usize::from(self.fill[bucket as usize]);
            let bytes = &mut self.page[..filled * SLOT];
            self.file.file().read_exact_at(bytes, bucket * BUCKET)?;
            for (i, slot) in bytes.chunks_exact(SLOT).enumerate() {
                let (slot_key, value) = decode(slot);
                if slot_key == key {
                    return Ok(Some((bucket * PER_BUCKET as u64 + i as u64, value)));
                }
            }
            if filled < PER_BUCKET {
                return Ok(None);
            }
            // A full bucket continues in the next; at most 7/8 of the
            // slots are used, so one that is not full comes.
            bucket = (bucket + 1) & (self.buckets - 1);
        }
    }

    /// Adds `key`, known not to be in the table.
    fn append(&mut self, key: u128, hash: u64, value: Value) -> io::Result<()> {
        let mut bucket = self.home(hash);
        while usize::from(self.fill[bucket as usize]) == PER_BUCKET {
            bucket = (bucket + 1) & (self.buckets - 1);
        }
        let slot = bucket * PER_BUCKET as u64 + u64::from(self.fill[bucket as usize]);
        self.write(slot, key, value)?;
        self.fill[bucket as usize] += 1;
        self.used += 1;
        if self.used * 8 > self.buckets * PER_BUCKET as u64 * 7 {
            self.grow()?;
        }
        Ok(())
    }

    /// Writes slot number `slot`.
    fn write(&mut self, slot: u64, key: u128, value: Value) -> io::Result<()> {
        let mut bytes = [0u8; SLOT];
        bytes[..16].copy_from_slice(&key.to_le_bytes());
        for (i, n) in value.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&n.to_le_bytes());
        }
        let per = PER_BUCKET as u64;
        let offset = slot / per * BUCKET + slot % per * SLOT as u64;
        self.file.file().write_all_at(&bytes, offset)
    }

    /// Moves the entries into a table four times the size (removed ones
    /// go), reading this one bucket by bucket.
    fn grow(&mut self) -> io::Result<()> {
        let mut bigger = Table::create(&self.dir, self.buckets * 4, self.hasher.clone())?;
        for bucket in 0..self.buckets {
            let filled = usize::from(self.fill[bucket as usize]);
            let bytes = &mut self.page[..filled * SLOT];
            self.file.file().read_exact_at(bytes, bucket * BUCKET)?;
            for slot in bytes.chunks_exact(SLOT) {
                let (key, value) = decode(slot);
                if key != REMOVED {
                    bigger.append(key, self.hasher.hash_one(key), value)?;
                }
            }
        }
        *self = bigger;
        Ok(())
    }
}
fn decode(slot: &[u8]) -> (u128, Value) {
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&slot[16 + 8 * i..24 + 8 * i]);
        u64::from_le_bytes(bytes)
    };
    let mut key = [0u8; 16];
    key.copy_from_slice(&slot[..16]);
    (u128::from_le_bytes(key), [word(0), word(1), word(2)])
}

/// The last occurrence of each path of a tar, for tarsplit's duplicate
/// detection, within [`IN_MEMORY`] entries of memory.
pub(crate) struct SeenOnDisk(pub(crate) SpillMap);

impl SeenPaths for SeenOnDisk {
    fn replace(
        &mut self,
        key: PathKey,
        occurrence: Superseded,
    ) -> tarsplit::Result<Option<Superseded>> {
        let value = [
            occurrence.position,
            occurrence.data_offset,
            occurrence.data_len,
        ];
        Ok(self.0.insert(key, value)?.map(superseded))
    }

    fn take(&mut self, key: PathKey) -> tarsplit::Result<Option<Superseded>> {
        Ok(self.0.remove(key)?.map(superseded))
    }
}

fn superseded([position, data_offset, data_len]: Value) -> Superseded {
    Superseded {
        position,
        data_offset,
        data_len,
    }
}

/// A set of paths: in memory, or spilling to a file in a directory.
pub(crate) enum PathSet {
    /// Held in memory whatever its size.
    Memory(std::collections::HashSet<PathKey>),
    /// Spilling past [`IN_MEMORY`] paths.
    Spill(Box<SpillMap>),
}

impl PathSet {
    /// An empty set, spilling to `dir` when given.
    pub(crate) fn new(dir: Option<&Path>) -> Self {
        match dir {
            Some(dir) => PathSet::Spill(Box::new(SpillMap::new(dir))),
            None => PathSet::Memory(Default::default()),
        }
    }

    /// Adds `path`; returns whether it was new.
    pub(crate) fn insert(&mut self, path: &[u8]) -> io::Result<bool> {
        let key = path_key(path);
        match self {
            PathSet::Memory(set) => Ok(set.insert(key)),
            PathSet::Spill(map) => Ok(map.insert(key, [0; 3])?.is_none()),
        }
    }

    /// Whether `path` is in the set.
    pub(crate) fn contains(&mut self, path: &[u8]) -> io::Result<bool> {
        let key = path_key(path);
        match self {
            PathSet::Memory(set) => Ok(set.contains(&key)),
            PathSet::Spill(map) => Ok(map.get(key)?.is_some()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::apply::{ApplyOptions, ApplyReport, apply_tar};
    use tarsplit::Disassembler;
    use tarsplit::memory::MemorySink;
    use testkit::TarBuilder;

    /// A layer that repeats paths, whites out one it wrote and makes a
    /// directory of the lower tree opaque after writing into it: what the
    /// spilled records decide.
    fn tricky_tar() -> Vec<u8> {
        let mut tar = TarBuilder::default()
            .dir("opq/")
            .file("opq/new", b"new")
            .file("dup", b"first")
            .file("gone", b"written, then whited out");
        for i in 0..20 {
            tar = tar.file(&format!("many/f{i}"), b"x");
        }
        tar.file("dup", b"second")
            .file("keep/.wh.gone", b"")
            .file(".wh.gone", b"")
            .file("opq/.wh..wh..opq", b"")
            .file("dup", b"third")
            .finish()
    }

    fn lower(dir: &Path) {
        for (path, data) in [
            ("opq/old", &b"lower"[..]),
            ("opq/sub/deep", b"lower"),
            ("keep/gone", b"lower"),
            ("dup", b"lower"),
        ] {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, data).expect("write");
        }
    }

    /// Applies the tricky tar over the lower tree, its bookkeeping spilled
    /// (`spill`) or in memory: the tree, and the positions set aside.
    fn apply(spill: bool) -> (Vec<(String, Vec<u8>)>, Vec<u64>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (root, aside, work) = (
            dir.path().join("root"),
            dir.path().join("aside"),
            dir.path().join("work"),
        );
        for d in [&root, &aside, &work] {
            std::fs::create_dir(d).expect("mkdir");
        }
        lower(&root);
        let options = ApplyOptions {
            aside_dir: Some(aside),
            spill_dir: spill.then(|| work.clone()),
            ..ApplyOptions::default()
        };
        let report: ApplyReport = apply_tar(&root, &tricky_tar()[..], options).expect("apply");
        assert_eq!(std::fs::read_dir(&work).expect("work").count(), 0);
        let mut tree = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("dir") {
                let path = entry.expect("entry").path();
                let name = path
                    .strip_prefix(&root)
                    .expect("inside")
                    .display()
                    .to_string();
                if path.is_dir() {
                    stack.push(path);
                    tree.push((name, Vec::new()));
                } else {
                    tree.push((name, std::fs::read(&path).expect("read")));
                }
            }
        }
        tree.sort();
        (tree, report.aside.iter().map(|(p, _)| *p).collect())
    }

    #[test]
    fn spilled_bookkeeping_applies_like_memory() {
        TEST_LIMIT.with(|limit| limit.set(2));
        let spilled = apply(true);
        let in_memory = apply(false);
        assert_eq!(spilled, in_memory);
        // The opaque directory kept only what the layer wrote.
        let names: Vec<&str> = spilled.0.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"opq/new") && !names.contains(&"opq/old"),
            "{names:?}"
        );
        assert!(
            !names.contains(&"opq/sub") && !names.contains(&"gone"),
            "{names:?}"
        );
        assert_eq!(spilled.1.len(), 2, "two earlier copies of dup set aside");

        let disassemble = |seen: Option<SeenOnDisk>| {
            let mut disasm = Disassembler::default().whiteouts_supersede();
            if let Some(seen) = seen {
                disasm = disasm.seen_in(Box::new(seen));
            }
            let mut sink = MemorySink::new(0);
            disasm.feed(&tricky_tar(), &mut sink).expect("feed");
            disasm.finish(&mut sink).expect("finish").superseded
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let on_disk = disassemble(Some(SeenOnDisk(SpillMap::new(dir.path()))));
        assert_eq!(on_disk, disassemble(None));
        assert_eq!(on_disk.len(), 3, "{on_disk:?}");
        TEST_LIMIT.with(|limit| limit.set(IN_MEMORY));
    }

    /// The spilled table agrees with a HashMap through inserts, updates and
    /// removals, across growth.
    #[test]
    fn spilled_map_behaves_as_a_map() {
        TEST_LIMIT.with(|limit| limit.set(100));
        let dir = tempfile::tempdir().expect("temp dir");
        let mut map = SpillMap::new(dir.path());
        let mut want: HashMap<u128, Value> = HashMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let n = 20_000;
        for i in 0..n * 2 {
            let key = path_key(format!("p{}", next() % n).as_bytes());
            let value = [i, i + 1, i + 2];
            match next() % 4 {
                0 => assert_eq!(map.remove(key).expect("remove"), want.remove(&key)),
                1 => assert_eq!(map.get(key).expect("get"), want.get(&key).copied()),
                _ => assert_eq!(
                    map.insert(key, value).expect("insert"),
                    want.insert(key, value)
                ),
            }
        }
        let table = map.table.as_ref().expect("the map spilled");
        assert!(table.buckets > FIRST_BUCKETS, "the table grew");
        assert!(map.memory.is_empty());
        for (key, value) in &want {
            assert_eq!(map.get(*key).expect("get"), Some(*value));
        }
        // The file is unlinked: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn the_marker_key_is_stored_as_another() {
        TEST_LIMIT.with(|limit| limit.set(0));
        let dir = tempfile::tempdir().expect("temp dir");
        let mut map = SpillMap::new(dir.path());
        for key in [0, REMOVED, 7] {
            assert_eq!(map.insert(key, [1, 2, 3]).expect("insert"), None);
        }
        assert!(map.table.is_some());
        for key in [0, REMOVED, 7] {
            assert_eq!(map.get(key).expect("get"), Some([1, 2, 3]));
        }
        TEST_LIMIT.with(|limit| limit.set(IN_MEMORY));
    }

    #[test]
    fn a_full_bucket_continues_in_the_next() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut table = Table::create(dir.path(), 4, RandomState::new()).expect("table");
        // Every key claims bucket 0 (hash 0): 102 fit, the rest go on.
        let keys: Vec<u128> = (1..=150).collect();
        for &key in &keys {
            table.append(key, 0, [key as u64, 0, 0]).expect("append");
        }
        assert_eq!((table.fill[0], table.fill[1]), (PER_BUCKET as u8, 48));
        for &key in &keys {
            let (_, value) = table.find(key, 0).expect("find").expect("found");
            assert_eq!(value[0], key as u64);
        }
        assert_eq!(table.find(999, 0).expect("find"), None);
    }
}

//! Bookkeeping that would grow with a layer, kept within a fixed amount of
//! memory: a map from 128-bit path keys ([`tarsplit::seen::path_key`]) to
//! three numbers, held in memory up to [`IN_MEMORY`] entries and past that
//! in a hash table in an unlinked file of a staging directory (open
//! addressing, linear probing, at most half full; reads of a few KiB per
//! lookup from the page cache).
//!
//! Import uses it for the last occurrence of each path of the tar
//! ([`SeenOnDisk`], for tarsplit's duplicate detection) and for the paths
//! the tar created ([`PathSet`], for opaque directories and superseded
//! files). A layer of a million entries costs a file of about 80 MB in
//! the staging area instead of as much memory.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tarsplit::Superseded;
use tarsplit::seen::{PathKey, SeenPaths, path_key};

/// Entries kept in memory before the map moves to a file (about 3 MiB).
pub const IN_MEMORY: usize = 1 << 16;
/// Bytes per slot: the key, then three little-endian u64.
const SLOT: usize = 40;
/// Slots read at a time while probing (one page's worth).
const WINDOW: usize = 4096 / SLOT;
/// Fewest slots of a table.
const FIRST_SLOTS: u64 = 64;
/// Key of an empty slot.
const EMPTY: u128 = 0;
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
        }
    }

    /// Sets `key` to `value`; returns the value it had.
    pub(crate) fn insert(&mut self, key: PathKey, value: Value) -> io::Result<Option<Value>> {
        let key = stored(key);
        if let Some(table) = &mut self.table {
            return table.insert(key, value);
        }
        let old = self.memory.insert(key, value);
        if self.memory.len() > self.limit {
            let slots = (self.limit as u64 * 4).next_power_of_two().max(FIRST_SLOTS);
            let mut table = Table::create(&self.dir, slots)?;
            for (key, value) in self.memory.drain() {
                table.insert(key, value)?;
            }
            self.memory = HashMap::new();
            self.table = Some(table);
        }
        Ok(old)
    }

    /// The value of `key`.
    pub(crate) fn get(&mut self, key: PathKey) -> io::Result<Option<Value>> {
        let key = stored(key);
        match &mut self.table {
            Some(table) => Ok(table.find(key)?.1),
            None => Ok(self.memory.get(&key).copied()),
        }
    }

    /// Removes `key`; returns the value it had.
    pub(crate) fn remove(&mut self, key: PathKey) -> io::Result<Option<Value>> {
        let key = stored(key);
        match &mut self.table {
            Some(table) => table.remove(key),
            None => Ok(self.memory.remove(&key)),
        }
    }
}

/// Moves the two keys that mark slots out of the way (at a cost of one in
/// 2^127 of telling two paths apart).
fn stored(key: PathKey) -> u128 {
    match key {
        EMPTY => 1,
        REMOVED => REMOVED - 1,
        key => key,
    }
}

/// The hash table in a file.
struct Table {
    dir: PathBuf,
    file: File,
    slots: u64,
    /// Slots not empty: entries and removed ones.
    used: u64,
    window: Vec<u8>,
}

impl Table {
    /// A table of `slots` empty slots (a power of two) in a new unlinked
    /// file in `dir`.
    fn create(dir: &Path, slots: u64) -> io::Result<Self> {
        let file = anonymous_file(dir)?;
        file.set_len(slots * SLOT as u64)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            file,
            slots,
            used: 0,
            window: vec![0; WINDOW * SLOT],
        })
    }

    /// Probes for `key`: the slot holding it and its value, or the slot an
    /// insert would use (the first removed one on the way, else the empty
    /// one that ends the probe) and whether that one is empty.
    fn find(&mut self, key: u128) -> io::Result<(u64, Option<Value>, bool)> {
        let mask = self.slots - 1;
        let mut at = (key as u64) & mask;
        let mut reuse = None;
        loop {
            let count = WINDOW.min((self.slots - at) as usize);
            let bytes = &mut self.window[..count * SLOT];
            self.file.read_exact_at(bytes, at * SLOT as u64)?;
            for (i, slot) in bytes.chunks_exact(SLOT).enumerate() {
                let here = at + i as u64;
                let (slot_key, value) = decode(slot);
                if slot_key == key {
                    return Ok((here, Some(value), false));
                }
                if slot_key == EMPTY {
                    return Ok(match reuse {
                        Some(removed) => (removed, None, false),
                        None => (here, None, true),
                    });
                }
                if slot_key == REMOVED && reuse.is_none() {
                    reuse = Some(here);
                }
            }
            // At most half the slots are used, so an empty one comes.
            at = (at + count as u64) & mask;
        }
    }

    fn insert(&mut self, key: u128, value: Value) -> io::Result<Option<Value>> {
        let (at, old, empty) = self.find(key)?;
        if old == Some(value) {
            return Ok(old);
        }
        self.write(at, key, value)?;
        if empty {
            self.used += 1;
            if self.used * 2 > self.slots {
                self.grow()?;
            }
        }
        Ok(old)
    }

    fn remove(&mut self, key: u128) -> io::Result<Option<Value>> {
        let (at, old, _) = self.find(key)?;
        if old.is_some() {
            self.write(at, REMOVED, [0; 3])?;
        }
        Ok(old)
    }

    fn write(&self, at: u64, key: u128, value: Value) -> io::Result<()> {
        let mut slot = [0u8; SLOT];
        slot[..16].copy_from_slice(&key.to_le_bytes());
        for (i, n) in value.iter().enumerate() {
            slot[16 + 8 * i..24 + 8 * i].copy_from_slice(&n.to_le_bytes());
        }
        self.file.write_all_at(&slot, at * SLOT as u64)
    }

    /// Moves the entries into a table twice the size (removed ones go).
    fn grow(&mut self) -> io::Result<()> {
        let mut bigger = Table::create(&self.dir, self.slots * 2)?;
        let mut chunk = vec![0u8; 1024 * SLOT];
        let mut at = 0u64;
        while at < self.slots {
            let count = (self.slots - at).min(1024) as usize;
            let bytes = &mut chunk[..count * SLOT];
            self.file.read_exact_at(bytes, at * SLOT as u64)?;
            for slot in bytes.chunks_exact(SLOT) {
                let (key, value) = decode(slot);
                if key != EMPTY && key != REMOVED {
                    bigger.insert(key, value)?;
                }
            }
            at += count as u64;
        }
        *self = bigger;
        Ok(())
    }
}

/// A file in `dir` that no name leads to: `O_TMPFILE`, or where the file
/// system lacks it a new file unlinked at once.
fn anonymous_file(dir: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::open(dir, flags | OFlags::TMPFILE, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".spill-{}-{n}", std::process::id()));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
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
    Spill(SpillMap),
}

impl PathSet {
    /// An empty set, spilling to `dir` when given.
    pub(crate) fn new(dir: Option<&Path>) -> Self {
        match dir {
            Some(dir) => PathSet::Spill(SpillMap::new(dir)),
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
        TEST_LIMIT.with(|limit| limit.set(1000));
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
        let n = 3000;
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
        assert!(map.table.is_some(), "the map spilled");
        assert!(map.memory.is_empty());
        for (key, value) in &want {
            assert_eq!(map.get(*key).expect("get"), Some(*value));
        }
        // The file is unlinked: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn the_marker_keys_are_stored_as_others() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut table = Table::create(dir.path(), 16).expect("table");
        for key in [stored(EMPTY), stored(REMOVED)] {
            assert_eq!(table.insert(key, [1, 2, 3]).expect("insert"), None);
            assert_eq!(table.find(key).expect("find").1, Some([1, 2, 3]));
        }
    }
}

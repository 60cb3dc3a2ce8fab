//! Directories whose times (and, when not root, modes) are restored once
//! the layer is complete: kept in memory up to [`IN_MEMORY`] records, and
//! past that appended to an unnamed file in the spill directory
//! ([`super::ApplyOptions::spill_dir`]), so a layer of any number of
//! directories is applied in a fixed amount of memory.
//!
//! Order: as root only times are restored, and setting a directory's times
//! changes nothing about its parent, so records are replayed in archive
//! order (a directory listed twice gets its last times). Otherwise modes
//! are restored too, and a parent made unsearchable first would hide its
//! children, so records go deepest first (in archive order within a
//! depth): from memory after a stable sort, from the file in one read per
//! depth present.

use std::collections::BTreeSet;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use rustix::fs::{Mode, Timespec, Timestamps};

use super::PendingDir;
use crate::fs::AsideFile;

/// Records kept in memory before they go to the file (about 6 MiB).
pub(super) const IN_MEMORY: usize = 1 << 16;
/// Bytes of records buffered before a write to the file.
const BUFFER: usize = 1 << 16;

/// The directories to restore, in archive order.
#[derive(Default)]
pub(super) struct PendingDirs {
    /// Records kept in memory before spilling ([`IN_MEMORY`]).
    limit: usize,
    memory: Vec<PendingDir>,
    spill_dir: Option<PathBuf>,
    file: Option<AsideFile>,
    buffer: Vec<u8>,
    /// Depths of the records in the file.
    depths: BTreeSet<usize>,
}

fn depth(path: &[u8]) -> usize {
    path.iter().filter(|&&b| b == b'/').count()
}

impl PendingDirs {
    /// No records; past [`IN_MEMORY`] they go to a file in `spill_dir`
    /// when given.
    pub(super) fn new(spill_dir: Option<PathBuf>) -> Self {
        Self {
            spill_dir,
            limit: IN_MEMORY,
            ..Self::default()
        }
    }

    /// Adds a record.
    pub(super) fn push(&mut self, dir: PendingDir) -> io::Result<()> {
        if self.file.is_none() {
            self.memory.push(dir);
            if self.memory.len() > self.limit
                && let Some(spill_dir) = &self.spill_dir
            {
                let file = AsideFile::create_in(spill_dir, 0o600).map_err(io::Error::other)?;
                self.file = Some(file);
                for dir in std::mem::take(&mut self.memory) {
                    self.append(&dir)?;
                }
            }
            return Ok(());
        }
        self.append(&dir)
    }

    fn append(&mut self, dir: &PendingDir) -> io::Result<()> {
        self.depths.insert(depth(&dir.path));
        let b = &mut self.buffer;
        b.extend_from_slice(&(dir.path.len() as u64).to_le_bytes());
        b.extend_from_slice(&dir.path);
        for time in [dir.times.last_access, dir.times.last_modification] {
            b.extend_from_slice(&time.tv_sec.to_le_bytes());
            b.extend_from_slice(&time.tv_nsec.to_le_bytes());
        }
        let mode = dir.mode.map_or(u64::MAX, |m| u64::from(m.bits()));
        b.extend_from_slice(&mode.to_le_bytes());
        if self.buffer.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(file) = &mut self.file {
            file.file().write_all(&self.buffer)?;
        }
        self.buffer.clear();
        Ok(())
    }

    /// Calls `restore` with every record in the order of the module
    /// documentation (`modes`: whether modes are restored too).
    pub(super) fn replay<E: From<io::Error>>(
        mut self,
        modes: bool,
        mut restore: impl FnMut(&PendingDir) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.file.is_none() {
            if modes {
                self.memory
                    .sort_by_key(|d| std::cmp::Reverse(depth(&d.path)));
            }
            return self.memory.iter().try_for_each(restore);
        }
        self.flush()?;
        let depths: Vec<Option<usize>> = match modes {
            true => self.depths.iter().rev().map(|&d| Some(d)).collect(),
            false => vec![None],
        };
        let Some(aside) = &mut self.file else {
            return Ok(());
        };
        let file = aside.file();
        for only in depths {
            file.seek(SeekFrom::Start(0))?;
            let mut reader = BufReader::with_capacity(BUFFER, &mut *file);
            while let Some(dir) = read_record(&mut reader)? {
                if only.is_none_or(|d| d == depth(&dir.path)) {
                    restore(&dir)?;
                }
            }
        }
        Ok(())
    }
}

/// The next record, or `None` at the end of the file.
fn read_record(reader: &mut impl Read) -> io::Result<Option<PendingDir>> {
    let mut word = [0u8; 8];
    match reader.read_exact(&mut word) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::try_from(u64::from_le_bytes(word)).map_err(io::Error::other)?;
    let mut path = vec![0u8; len];
    reader.read_exact(&mut path)?;
    let mut next = || -> io::Result<i64> {
        reader.read_exact(&mut word)?;
        Ok(i64::from_le_bytes(word))
    };
    let mut time = || -> io::Result<Timespec> {
        Ok(Timespec {
            tv_sec: next()?,
            tv_nsec: next()? as _,
        })
    };
    let times = Timestamps {
        last_access: time()?,
        last_modification: time()?,
    };
    reader.read_exact(&mut word)?;
    let mode = match u64::from_le_bytes(word) {
        u64::MAX => None,
        bits => Some(Mode::from_bits_retain(bits as _)),
    };
    Ok(Some(PendingDir {
        path: path.into_boxed_slice(),
        times,
        mode,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str, second: i64, mode: Option<u32>) -> PendingDir {
        let time = Timespec {
            tv_sec: second,
            tv_nsec: 7,
        };
        PendingDir {
            path: path.as_bytes().into(),
            times: Timestamps {
                last_access: time,
                last_modification: time,
            },
            mode: mode.map(Mode::from_bits_retain),
        }
    }

    /// (path, second, mode) in the order `replay` gives them.
    fn replayed(dirs: PendingDirs, modes: bool) -> Vec<(String, i64, Option<u32>)> {
        let mut out = Vec::new();
        dirs.replay(modes, |dir| -> Result<(), io::Error> {
            assert_eq!(dir.times.last_access.tv_nsec, 7);
            let path = String::from_utf8(dir.path.to_vec()).expect("utf-8");
            out.push((
                path,
                dir.times.last_modification.tv_sec,
                dir.mode.map(|m| m.bits()),
            ));
            Ok(())
        })
        .expect("replay");
        out
    }

    #[test]
    fn spilled_records_replay_as_kept_ones() {
        let records = [
            ("a", 1, Some(0o755)),
            ("a/b/c", 2, None),
            ("a/b", 3, Some(0o500)),
            ("d", 4, None),
            ("a/b/c", 5, Some(0o700)),
            ("e/f", 6, None),
        ];
        let dir = tempfile::tempdir().expect("temp dir");
        for modes in [false, true] {
            let mut kept = PendingDirs::new(None);
            let mut spilled = PendingDirs::new(Some(dir.path().to_path_buf()));
            spilled.limit = 2;
            for (path, second, mode) in records {
                kept.push(record(path, second, mode)).expect("push");
                spilled.push(record(path, second, mode)).expect("push");
            }
            assert!(spilled.file.is_some() && kept.file.is_none());
            let want = replayed(kept, modes);
            assert_eq!(replayed(spilled, modes), want);
            let order: Vec<i64> = want.iter().map(|(_, s, _)| *s).collect();
            match modes {
                // Deepest first; archive order within a depth.
                true => assert_eq!(order, [2, 5, 3, 6, 1, 4]),
                false => assert_eq!(order, [1, 2, 3, 4, 5, 6]),
            }
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}

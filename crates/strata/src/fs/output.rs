//! Output files at paths a user names (`-o`, `--output`): archives saved,
//! layer diffs, tar-split metadata.
//!
//! What happens is decided by what the path is when the output is opened
//! (`lstat`, then act):
//!
//! | the path is | what is written |
//! |---|---|
//! | missing, or a regular file | a new file, written aside (an unnamed `O_TMPFILE` in the target's directory) and, once complete, fsync'd and linked into place under a temporary name that is at once renamed over the target. An existing file is replaced atomically (keeping its permission bits, and its owner where allowed); a failure or a killed process leaves nothing and the old file untouched |
//! | a character or block device, or a FIFO | the device or FIFO itself, opened for writing (never created, truncated or replaced). A FIFO with a reader gets the stream; with none, opening it waits for one, as `cat > fifo` does. What was written before a failure stays written |
//! | a symlink | followed (as shell redirection does): its final target is treated as above, and a missing target is created in its own directory; the symlink itself is never replaced |
//! | a descriptor's link in `/proc` (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`) | what the descriptor has open, written into as a device is: a pipe gets the stream, a regular file is appended to (never replaced, which would leave the descriptor's file behind), as `cmd > /dev/stdout` writes |
//! | a directory | an error: "… is a directory" |
//! | a socket, or a path ending in `/` | an error |
//!
//! A new or replaced file is made in the target's directory, so writing
//! one needs write permission there, and other hard links of a replaced
//! file keep its old content (as with any atomic replacement).
//!
//! Where the file system has no `O_TMPFILE`, the new file is written under
//! a hidden temporary name ([`super::is_temp_name`]) that is removed if
//! writing fails, but that a killed process leaves behind.
//!
//! A path that changes into something other than a regular file while it
//! is written is not replaced: the output fails, and the path keeps what
//! it became.

use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Gid, Mode, OFlags, Uid};

use super::aside::{AsideFile, Sync};
use super::durable::split;
use crate::error::{Error, IoContext, Result};

/// Symlinks followed before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Mode of a new output file, less the umask.
const NEW_MODE: u32 = 0o666;

/// An output being written; see the module documentation for what
/// happens at each kind of path. [`Output::finish`] completes it; dropped
/// unfinished, a new or replaced file leaves nothing behind.
pub struct Output {
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    /// A new file, named `name` in its directory once complete.
    Aside {
        aside: AsideFile,
        target: PathBuf,
        name: OsString,
    },
    /// An existing device or FIFO, written into; block devices are
    /// flushed at the end.
    Into { file: File, flush: bool },
}

/// What the path is now, after following symlinks.
enum Found {
    Missing(PathBuf),
    Regular(PathBuf, Metadata),
    Stream(PathBuf, StreamKind),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    CharDevice,
    BlockDevice,
    Fifo,
    /// A regular file reached through a descriptor's link in `/proc`.
    OpenFile,
}

impl Output {
    /// Opens the output `path` (see the module documentation). Opening an
    /// existing FIFO waits until it has a reader.
    pub fn create(path: &Path) -> Result<Self> {
        let sink = match resolve(path)? {
            Found::Missing(target) => aside_for(target, None)?,
            Found::Regular(target, meta) => aside_for(target, Some(&meta))?,
            Found::Stream(target, kind) => {
                let mut flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
                if kind == StreamKind::OpenFile {
                    flags |= OFlags::APPEND;
                }
                let fd = rustix::fs::open(&target, flags, Mode::empty())
                    .context(|| format!("cannot open {} for writing", target.display()))?;
                Sink::Into {
                    file: File::from(fd),
                    flush: kind == StreamKind::BlockDevice,
                }
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            sink,
        })
    }

    /// Completes the output: a new file is flushed and put in place; a
    /// block device is flushed.
    pub fn finish(self) -> Result<()> {
        match self.sink {
            Sink::Aside {
                aside,
                target,
                name,
            } => {
                still_replaceable(&self.path, &target)?;
                aside.place(&name, Sync::Durable).map(drop)
            }
            Sink::Into { file, flush: true } => file
                .sync_all()
                .context(|| format!("cannot write {}", self.path.display())),
            Sink::Into { flush: false, .. } => Ok(()),
        }
    }

    fn file(&mut self) -> &mut File {
        match &mut self.sink {
            Sink::Aside { aside, .. } => aside.file(),
            Sink::Into { file, .. } => file,
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

/// Writes the output `path` with `fill` (given a buffered writer) and
/// completes it if `fill` succeeds; see [`Output`].
pub fn write_output<T, E: From<Error>>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let mut output = Output::create(path)?;
    let mut buffered = BufWriter::with_capacity(1 << 20, &mut output);
    let value = match fill(&mut buffered) {
        Ok(value) => value,
        Err(e) => {
            // Nothing more goes out after a failure, not even what is
            // buffered (dropping a BufWriter would flush it into a device
            // or FIFO).
            let _ = buffered.into_parts();
            return Err(e);
        }
    };
    buffered
        .flush()
        .context(|| format!("cannot write {}", path.display()))?;
    drop(buffered);
    output.finish()?;
    Ok(value)
}

/// A new file in `target`'s directory that will become `target`, with the
/// permissions (and, where allowed, the owner) of the file it replaces.
fn aside_for(target: PathBuf, replaced: Option<&Metadata>) -> Result<Sink> {
    let (dir, name) = split(&target)?;
    let mut aside = AsideFile::create_in(dir, NEW_MODE)?;
    if let Some(old) = replaced {
        let file = aside.file();
        rustix::fs::fchmod(&*file, Mode::from_raw_mode(old.mode() & 0o777))
            .context(|| format!("cannot set the mode of a new {}", target.display()))?;
        let mine = file
            .metadata()
            .context(|| format!("cannot stat a new {}", target.display()))?;
        if (mine.uid(), mine.gid()) != (old.uid(), old.gid()) {
            // Giving a file away needs privilege; without it the new file
            // is the writer's, as with any tool that replaces by renaming.
            let _ = rustix::fs::fchown(
                &*file,
                Some(Uid::from_raw(old.uid())),
                Some(Gid::from_raw(old.gid())),
            );
        }
    }
    let name = name.to_os_string();
    Ok(Sink::Aside {
        aside,
        target,
        name,
    })
}

/// Follows `path` through symlinks to what it is now.
fn resolve(path: &Path) -> Result<Found> {
    let mut at = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        if at.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(unusable(
                path,
                &at,
                "it ends with '/', so it names a directory",
            ));
        }
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing(at)),
            Err(e) => return Err(e).context(|| format!("cannot look at {}", at.display())),
        };
        let kind = meta.file_type();
        if !kind.is_symlink() {
            return found(path, at, meta);
        }
        if is_descriptor_link(&at) {
            return descriptor(path, at);
        }
        let link = std::fs::read_link(&at)
            .context(|| format!("cannot read the symlink {}", at.display()))?;
        at = match at.parent() {
            Some(dir) if link.is_relative() => dir.join(link),
            _ => link,
        };
    }
    Err(unusable(path, &at, "too many levels of symbolic links"))
}

/// What `at` (not a symlink) is, for the output `path`.
fn found(path: &Path, at: PathBuf, meta: Metadata) -> Result<Found> {
    let kind = meta.file_type();
    let stream = |kind| Ok(Found::Stream(at.clone(), kind));
    if kind.is_file() {
        Ok(Found::Regular(at, meta))
    } else if kind.is_char_device() {
        stream(StreamKind::CharDevice)
    } else if kind.is_block_device() {
        stream(StreamKind::BlockDevice)
    } else if kind.is_fifo() {
        stream(StreamKind::Fifo)
    } else if kind.is_dir() {
        Err(unusable(path, &at, "it is a directory"))
    } else {
        Err(unusable(path, &at, "it is a socket"))
    }
}

/// Whether the symlink `at` lives in procfs: a descriptor's link
/// (`/proc/PID/fd/N`), which only the kernel can follow (its text may be
/// `pipe:[N]`, or the name of a file since replaced).
fn is_descriptor_link(at: &Path) -> bool {
    let dir = match at.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    rustix::fs::statfs(dir).is_ok_and(|fs| fs.f_type as u64 == PROC_SUPER_MAGIC)
}

/// `statfs` type of procfs.
const PROC_SUPER_MAGIC: u64 = 0x9fa0;

/// What the descriptor link `at` leads to, followed by the kernel: never
/// replaced or created, only written into.
fn descriptor(path: &Path, at: PathBuf) -> Result<Found> {
    let meta = std::fs::metadata(&at).context(|| format!("cannot look at {}", at.display()))?;
    match found(path, at, meta)? {
        Found::Regular(at, _) => Ok(Found::Stream(at, StreamKind::OpenFile)),
        other => Ok(other),
    }
}

/// Fails unless `target` is still missing or a regular file, so that
/// what it turned into meanwhile is not replaced.
fn still_replaceable(path: &Path, target: &Path) -> Result<()> {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if !meta.is_file() => Err(unusable(
            path,
            target,
            "it changed into something other than a file while it was written; left as it is",
        )),
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).context(|| format!("cannot look at {}", target.display()))
        }
        _ => Ok(()),
    }
}

fn unusable(path: &Path, target: &Path, reason: &str) -> Error {
    let path = match target == path {
        true => path.display().to_string(),
        false => format!("{} (→ {})", path.display(), target.display()),
    };
    Error::UnusableOutput {
        path,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests;

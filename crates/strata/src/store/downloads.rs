//! Partial downloads: compressed blobs being fetched from a registry, kept
//! in `<root>/downloads/<hex>` as they arrive so that a pull that fails or
//! is killed leaves them for the next pull to resume instead of starting
//! over. A process downloading a blob holds an exclusive `flock` on its
//! file (a second process wanting the same blob waits for it). A file
//! nobody holds and nobody touched for [`DOWNLOAD_EXPIRY`] is collected
//! by `gc`; one whose layer made it into the store is removed at once.
//!
//! The files are not made durable: after a machine crash one may end in
//! garbage, which the digest check at the end of the download catches
//! (the file is then started over).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Store;
use crate::digest::Digest;
use crate::error::{IoContext, Result};

/// How long an untouched partial download is kept.
pub const DOWNLOAD_EXPIRY: Duration = Duration::from_secs(24 * 60 * 60);

/// A partial download this process holds.
#[derive(Debug)]
pub(crate) struct Download {
    /// The file, opened read-write and locked.
    pub file: File,
    /// Bytes already in it.
    pub have: u64,
    path: PathBuf,
}

impl Download {
    /// Throws away what the file holds (it did not hash right).
    pub fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .context(|| format!("cannot truncate {}", self.path.display()))?;
        self.have = 0;
        Ok(())
    }
}

/// Partial downloads in a store, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Downloads {
    /// How many.
    pub count: usize,
    /// Their bytes.
    pub bytes: u64,
}

impl Store {
    fn downloads_dir(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// Opens (or starts) the partial download of `digest`, waiting while
    /// another process holds it.
    pub(crate) fn start_download(&self, digest: &Digest) -> Result<Download> {
        let dir = self.downloads_dir();
        std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(digest.hex());
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .context(|| format!("cannot open {}", path.display()))?;
            file.lock()
                .context(|| format!("cannot lock {}", path.display()))?;
            let meta = file
                .metadata()
                .context(|| format!("cannot stat {}", path.display()))?;
            // The holder we waited for may have removed the file (its
            // layer is in, or its bytes were wrong): open the path again.
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == meta.ino() && now.dev() == meta.dev() => {
                    let have = meta.len();
                    return Ok(Download { file, have, path });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context(|| format!("cannot stat {}", path.display())),
            }
        }
    }

    /// Removes the partial download of `digest`: its layer is in.
    pub(crate) fn finish_download(&self, digest: &Digest) -> Result<()> {
        let path = self.downloads_dir().join(digest.hex());
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(e).context(|| format!("cannot remove {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Makes the whole, checked download of `digest` a blob of the store,
    /// held by `lease` until an image names it: the file is made durable
    /// and renamed into `blobs/` (the store's blob already there wins, and
    /// the download goes). A download another process took meanwhile is
    /// simply not kept.
    pub(crate) fn keep_download(&self, digest: &Digest, lease: &super::Lease) -> Result<()> {
        let path = self.downloads_dir().join(digest.hex());
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).context(|| format!("cannot open {}", path.display())),
        };
        match self.adopt_blob(&path, &file, digest, lease)? {
            true => Ok(()),
            false => self.finish_download(digest),
        }
    }

    /// The partial downloads in the store.
    pub fn downloads(&self) -> Result<Downloads> {
        let mut found = Downloads::default();
        for (_, size, _) in self.download_files()? {
            found.count += 1;
            found.bytes += size;
        }
        Ok(found)
    }

    /// Removes partial downloads nobody holds and nobody touched for
    /// `expiry`; returns their digests.
    pub(crate) fn expire_downloads(&self, expiry: Duration) -> Result<Vec<String>> {
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for (path, _, modified) in self.download_files()? {
            let old = now.duration_since(modified).is_ok_and(|age| age >= expiry);
            if !old {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue;
            }
            std::fs::remove_file(&path).context(|| format!("cannot remove {}", path.display()))?;
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                removed.push(format!("sha256:{name}"));
            }
        }
        Ok(removed)
    }

    /// Every regular file of `downloads/` with a digest's name: path,
    /// size and modification time.
    fn download_files(&self) -> Result<Vec<(PathBuf, u64, SystemTime)>> {
        let dir = self.downloads_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).context(|| format!("cannot read {}", dir.display())),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.context(|| format!("cannot read {}", dir.display()))?;
            let name = entry.file_name();
            let is_digest = name
                .to_str()
                .is_some_and(|n| Digest::parse(&format!("sha256:{n}")).is_ok());
            let Ok(meta) = entry.metadata() else { continue };
            if !is_digest || !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.push((entry.path(), meta.len(), modified));
        }
        files.sort();
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc;

    use super::*;
    use crate::StoreOptions;

    /// A process waiting for a download removed by its holder (the bytes
    /// were wrong) starts a new file rather than fill the removed one.
    #[test]
    fn a_waiter_gets_a_new_file_when_the_holder_removed_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&StoreOptions {
            root: Some(dir.path().join("root")),
            runroot: Some(dir.path().join("run")),
            driver: Some("vfs".into()),
        })
        .expect("open");
        let digest = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).expect("digest");
        let mut held = store.start_download(&digest).expect("start");
        held.file.write_all(b"wrong bytes").expect("write");
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut waiter = store.start_download(&digest).expect("start again");
                waiter.file.write_all(b"new").expect("write");
                tx.send(waiter.have).expect("send");
            });
            // The waiter is blocked on the lock whether or not it opened
            // the old file yet; either way it must end on a new one.
            std::thread::sleep(std::time::Duration::from_millis(100));
            store.finish_download(&digest).expect("remove");
            drop(held);
        });
        assert_eq!(rx.recv().expect("have"), 0);
        let path = store.downloads_dir().join(digest.hex());
        assert_eq!(std::fs::read(path).expect("read"), b"new");
    }
}

//! Overlay mode with a recording double for the overlay calls: the exact
//! whiteouts and opaque marks a tar asks for, checked without mounting.
//! The lower view here is a plain directory standing in for the merged
//! parents (the driver passes a detached overlay mount).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustix::fs::{Mode, OFlags};

use super::testtar::{Entry, build};
use super::*;

/// Records each call as `whiteout <dir>/<name>` or `opaque <dir>`, naming
/// directories by their path relative to the upper root; makes nothing.
#[derive(Debug, Default)]
struct Recording {
    root: std::path::PathBuf,
    calls: Mutex<Vec<String>>,
}

impl Recording {
    fn dir_name(&self, dir: BorrowedFd<'_>) -> String {
        let path = fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).unwrap();
        let root = fs::canonicalize(&self.root).unwrap();
        path.strip_prefix(&root).unwrap().display().to_string()
    }
}

impl OverlayCalls for Recording {
    fn whiteout(&self, dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
        let call = format!(
            "whiteout {}/{}",
            self.dir_name(dir),
            String::from_utf8_lossy(name)
        );
        self.calls.lock().unwrap().push(call);
        Ok(())
    }

    fn opaque(&self, dir: BorrowedFd<'_>) -> Result<(), Errno> {
        let call = format!("opaque {}", self.dir_name(dir));
        self.calls.lock().unwrap().push(call);
        Ok(())
    }
}

fn open_dir(path: &Path) -> OwnedFd {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
}

/// Applies `entries` into `upper` over `lower`; returns the recorded calls.
fn apply_over(upper: &Path, lower: &Path, entries: &[Entry]) -> Vec<String> {
    let calls = Arc::new(Recording {
        root: upper.to_path_buf(),
        ..Recording::default()
    });
    let options = ApplyOptions {
        whiteouts: WhiteoutMode::Overlay,
        lower: Some(Arc::new(open_dir(lower))),
        overlay_calls: Some(calls.clone()),
        ..ApplyOptions::default()
    };
    apply_tar(upper, &build(entries)[..], options).unwrap();
    calls.calls.lock().unwrap().clone()
}

fn lower_tree(dir: &Path) {
    fs::create_dir_all(dir.join("etc/conf.d")).unwrap();
    fs::write(dir.join("etc/passwd"), b"root").unwrap();
    fs::write(dir.join("etc/conf.d/a"), b"a").unwrap();
    fs::create_dir_all(dir.join("usr/lib")).unwrap();
    fs::write(dir.join("usr/lib/libc.so"), b"libc").unwrap();
    std::os::unix::fs::symlink("usr/lib", dir.join("lib")).unwrap();
}

#[test]
fn whiteouts_only_for_what_exists_below() {
    let tmp = tempfile::tempdir().unwrap();
    let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
    fs::create_dir(&upper).unwrap();
    lower_tree(&lower);
    let calls = apply_over(
        &upper,
        &lower,
        &[
            Entry::file("etc/.wh.passwd", b""),
            Entry::file("etc/.wh.never-existed", b""),
            Entry::file("missing/.wh.x", b""),
            Entry::file("new", b"n"),
            Entry::file(".wh.new", b""),
        ],
    );
    assert_eq!(calls, ["whiteout etc/passwd"]);
    assert!(
        upper.join("etc").is_dir(),
        "etc copied up to hold the whiteout"
    );
    assert!(
        !upper.join("missing").exists(),
        "no directory made for nothing"
    );
    assert!(
        !upper.join("new").exists(),
        "a file this tar made is simply removed"
    );
}

#[test]
fn opaque_marks_and_replaced_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
    fs::create_dir(&upper).unwrap();
    lower_tree(&lower);
    let calls = apply_over(
        &upper,
        &lower,
        &[
            Entry::file("etc/conf.d/.wh..wh..opq", b""),
            Entry::file("nowhere/.wh..wh..opq", b""),
            // A file over the lower directory usr, then usr again.
            Entry::file("usr", b"file"),
            Entry::dir("usr/"),
            Entry::dir("fresh/"),
        ],
    );
    assert_eq!(calls, ["opaque etc/conf.d", "opaque usr"]);
}

#[test]
fn parents_and_link_targets_come_from_below() {
    let tmp = tempfile::tempdir().unwrap();
    let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
    fs::create_dir(&upper).unwrap();
    lower_tree(&lower);
    let calls = apply_over(
        &upper,
        &lower,
        &[
            Entry::file("lib/libm.so", b"libm"),
            Entry::hardlink("passwd-link", "etc/passwd"),
        ],
    );
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(fs::read(upper.join("usr/lib/libm.so")).unwrap(), b"libm");
    assert!(
        !upper.join("lib").exists(),
        "the lower symlink is followed, not masked"
    );
    assert!(
        !upper.join("usr/lib/libc.so").exists(),
        "only the directory is copied up"
    );
    assert_eq!(fs::read(upper.join("etc/passwd")).unwrap(), b"root");
    let link = fs::metadata(upper.join("passwd-link")).unwrap();
    let target = fs::metadata(upper.join("etc/passwd")).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&link),
        std::os::unix::fs::MetadataExt::ino(&target)
    );
}

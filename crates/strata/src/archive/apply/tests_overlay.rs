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

/// Feeds a tar's members to an applier it keeps, so the applier can be
/// asked afterwards why it stopped.
struct Feeding {
    applier: Applier,
}

impl tarsplit::DisasmSink for Feeding {
    fn entry(&mut self, _entry: tarsplit::metadata::EntryRef<'_>) -> tarsplit::Result<()> {
        Ok(())
    }

    fn member(
        &mut self,
        member: &tarsplit::member::Member,
        supersedes: Option<tarsplit::Superseded>,
    ) -> tarsplit::Result<()> {
        self.applier
            .begin(member, supersedes.map(|s| s.position))
            .map_err(|e| tarsplit::Error::Io(std::io::Error::other(e.to_string())))
    }

    fn data(&mut self, bytes: &[u8]) -> tarsplit::Result<()> {
        self.applier
            .data(bytes)
            .map_err(|e| tarsplit::Error::Io(std::io::Error::other(e.to_string())))
    }

    fn member_end(&mut self) -> tarsplit::Result<()> {
        self.applier
            .end()
            .map_err(|e| tarsplit::Error::Io(std::io::Error::other(e.to_string())))
    }
}

/// Applies `entries` into `upper` with parents that cannot be read yet:
/// the recorded calls when it needed nothing from them, `None` when it
/// stopped for them.
fn apply_ahead(upper: &Path, entries: &[Entry]) -> Option<Vec<String>> {
    let calls = Arc::new(Recording {
        root: upper.to_path_buf(),
        ..Recording::default()
    });
    let options = ApplyOptions {
        whiteouts: WhiteoutMode::Overlay,
        lower_later: true,
        overlay_calls: Some(calls.clone()),
        ..ApplyOptions::default()
    };
    let mut feeding = Feeding {
        applier: Applier::new(upper, options).unwrap(),
    };
    let parsed = tarsplit::io::disassemble(&build(entries)[..], &mut feeding, None);
    if feeding.applier.needs_lower() {
        assert!(parsed.is_err(), "it stops when it needs the parents");
        return None;
    }
    parsed.unwrap();
    feeding.applier.finish().unwrap();
    Some(calls.calls.lock().unwrap().clone())
}

/// Every path under `dir` with its contents (a file's) or link target.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let contents = if meta.is_file() {
                fs::read(&path).unwrap()
            } else if meta.file_type().is_symlink() {
                fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                Vec::new()
            };
            let relative = path.strip_prefix(dir).unwrap().display().to_string();
            out.push((relative, contents));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_tar_that_carries_its_directories_applies_ahead_of_its_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let (ahead, over, lower) = (
        tmp.path().join("ahead"),
        tmp.path().join("over"),
        tmp.path().join("lower"),
    );
    fs::create_dir(&ahead).unwrap();
    fs::create_dir(&over).unwrap();
    lower_tree(&lower);
    let entries = [
        Entry::dir("etc/"),
        Entry::file("etc/passwd", b"replaced"),
        Entry::dir("etc/conf.d/"),
        Entry::file("etc/conf.d/.wh..wh..opq", b""),
        Entry::file("etc/conf.d/b", b"b"),
        Entry::dir("srv/"),
        Entry::file("srv/x", b"x"),
        Entry::hardlink("srv/y", "srv/x"),
        Entry::symlink("srv/z", "x"),
    ];
    let calls = apply_ahead(&ahead, &entries).expect("nothing from below is needed");
    assert_eq!(calls, apply_over(&over, &lower, &entries));
    assert_eq!(tree(&ahead), tree(&over), "the same upper tree");
}

#[test]
fn a_tar_that_needs_its_parents_stops_ahead_of_them() {
    for (what, entries) in [
        (
            "a whiteout of a name below",
            vec![Entry::dir("etc/"), Entry::file("etc/.wh.passwd", b"")],
        ),
        (
            "a directory only the parents have",
            vec![Entry::file("usr/lib/libm.so", b"libm")],
        ),
        (
            "a hard link to a parent's file",
            vec![Entry::hardlink("passwd-link", "etc/passwd")],
        ),
        (
            // Whether a whiteout device is made depends on what is below.
            "a whiteout of a name this tar made",
            vec![
                Entry::dir("srv/"),
                Entry::file("srv/y", b"y"),
                Entry::file("srv/.wh.y", b""),
            ],
        ),
        (
            "a directory replacing what this tar put there",
            vec![Entry::file("etc", b"a file"), Entry::dir("etc/")],
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let upper = tmp.path().join("upper");
        fs::create_dir(&upper).unwrap();
        assert_eq!(apply_ahead(&upper, &entries), None, "{what}");
    }
}

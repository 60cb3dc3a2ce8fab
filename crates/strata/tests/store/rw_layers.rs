//! Read-write layers: mount, change files, unmount, diff. The generated
//! changeset, imported on top of the same parent, must reproduce the
//! changed tree exactly (modes, owners, times, xattrs, symlinks, hard
//! links, devices, FIFOs, contents) and be deterministic. A property test
//! mutates random trees on both drivers.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use proptest::prelude::*;
use strata::{CreateOptions, DiffFormat, Store};
use testkit::{TarBuilder, sha256};

use crate::common::TestStore;

/// One change made to a mounted read-write layer.
#[derive(Debug, Clone)]
enum Op {
    Write(String, Vec<u8>),
    Remove(String),
    Chmod(String, u32),
    Chown(String, u32, u32),
    Symlink(String, String),
    HardLink(String, String),
    Fifo(String),
    Xattr(String, Vec<u8>),
    Device(String, u32),
}

fn paths() -> impl Strategy<Value = String> {
    let dirs = prop::sample::select(vec!["", "etc/", "usr/lib/", "var/", "new/", "etc/deep/"]);
    let names = prop::sample::select(vec!["a", "b", "passwd", "lib", "deep", "x.conf"]);
    (dirs, names).prop_map(|(d, n)| format!("{d}{n}"))
}

fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (paths(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(p, d)| Op::Write(p, d)),
        2 => paths().prop_map(Op::Remove),
        1 => (paths(), prop::sample::select(vec![0o600u32, 0o755, 0o4755, 0o1777, 0o640]))
            .prop_map(|(p, m)| Op::Chmod(p, m)),
        1 => (paths(), 0u32..3, 0u32..3).prop_map(|(p, u, g)| Op::Chown(p, u * 1000, g * 100)),
        1 => (paths(), paths()).prop_map(|(p, t)| Op::Symlink(p, t)),
        1 => (paths(), paths()).prop_map(|(p, t)| Op::HardLink(p, t)),
        1 => paths().prop_map(Op::Fifo),
        1 => (paths(), prop::collection::vec(any::<u8>(), 1..20)).prop_map(|(p, v)| Op::Xattr(p, v)),
        1 => (paths(), 1u32..9).prop_map(|(p, minor)| Op::Device(p, minor)),
    ]
}

/// Applies one change; changes that make no sense on the current tree
/// (a missing path, a file where a directory is needed) do nothing.
fn apply(root: &Path, op: &Op) {
    let at = |p: &str| root.join(p);
    let parent = |p: &str| {
        let parent = at(p).parent().map(Path::to_path_buf);
        parent.is_some_and(|dir| std::fs::create_dir_all(dir).is_ok())
    };
    let clear = |p: &str| {
        let path = at(p);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path).is_ok(),
            Ok(_) => std::fs::remove_file(&path).is_ok(),
            Err(_) => true,
        }
    };
    let _ = match op {
        Op::Write(p, data) => parent(p) && clear(p) && std::fs::write(at(p), data).is_ok(),
        Op::Remove(p) => clear(p),
        Op::Chmod(p, mode) => {
            std::fs::symlink_metadata(at(p)).is_ok_and(|m| !m.is_symlink())
                && std::fs::set_permissions(at(p), std::fs::Permissions::from_mode(*mode)).is_ok()
        }
        Op::Chown(p, uid, gid) => std::os::unix::fs::lchown(at(p), Some(*uid), Some(*gid)).is_ok(),
        Op::Symlink(p, target) => {
            parent(p) && clear(p) && std::os::unix::fs::symlink(target, at(p)).is_ok()
        }
        Op::HardLink(p, target) => {
            std::fs::symlink_metadata(at(target)).is_ok_and(|m| m.is_file())
                && p != target
                && parent(p)
                && clear(p)
                && std::fs::hard_link(at(target), at(p)).is_ok()
        }
        Op::Fifo(p) => {
            parent(p)
                && clear(p)
                && rustix::fs::mknodat(
                    rustix::fs::CWD,
                    at(p).as_path(),
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    0,
                )
                .is_ok()
        }
        Op::Xattr(p, value) => {
            std::fs::symlink_metadata(at(p)).is_ok_and(|m| !m.is_symlink())
                && rustix::fs::setxattr(
                    at(p).as_path(),
                    "user.test",
                    value,
                    rustix::fs::XattrFlags::empty(),
                )
                .is_ok()
        }
        Op::Device(p, minor) => {
            parent(p)
                && clear(p)
                && rustix::fs::mknodat(
                    rustix::fs::CWD,
                    at(p).as_path(),
                    rustix::fs::FileType::CharacterDevice,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(1, *minor),
                )
                .is_ok()
        }
    };
}

fn base_tar() -> Vec<u8> {
    TarBuilder::default()
        .dir("etc/")
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .file("etc/a", b"a")
        .dir("etc/deep/")
        .file("etc/deep/b", b"b")
        .dir("usr/")
        .dir("usr/lib/")
        .file("usr/lib/lib", b"\x7fELF")
        .hardlink("usr/lib/a", "usr/lib/lib")
        .file("usr/lib/x.conf", b"ELF!")
        .symlink("lib", "usr/lib")
        .dir("var/")
        .finish()
}

/// File contents by path, to compare with `changes()` (which never reads
/// contents).
fn contents(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let rel = path
                .strip_prefix(root)
                .expect("inside")
                .display()
                .to_string();
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() {
                out.push((rel, sha256(&std::fs::read(&path).expect("read"))));
            }
        }
    }
    out.sort();
    out
}

fn diff_of(store: &Store, id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    store
        .diff(id, None, DiffFormat::None, &mut out)
        .expect("diff of the read-write layer");
    out
}

/// Makes a read-write layer on a base, changes it with `ops`, and checks
/// that its diff, imported on the same base, gives the same tree.
fn round_trip(t: &TestStore, ops: &[Op]) -> Result<(), TestCaseError> {
    let base = t.import(&base_tar(), None, &[]).expect("base");
    let rw = t
        .store
        .create_layer(&CreateOptions {
            parent: Some(base.id.clone()),
            read_write: true,
            ..CreateOptions::default()
        })
        .expect("read-write layer");
    let mounted = t.store.mount_layer(&rw.id).expect("mount rw");
    for op in ops {
        apply(&mounted, op);
    }
    t.store.unmount_layer(&rw.id).expect("unmount rw");
    let tar = diff_of(&t.store, &rw.id);
    prop_assert_eq!(
        sha256(&tar),
        sha256(&diff_of(&t.store, &rw.id)),
        "deterministic"
    );
    let copy = t
        .import(&tar, Some(&base.id), &[])
        .expect("import the diff");
    let left = t.store.mount_layer(&rw.id).expect("mount rw");
    let right = t.store.mount_layer(&copy.id).expect("mount copy");
    let changed = strata::archive::changes::changes(Some(&left), &right).expect("changes");
    let same_contents = contents(&left) == contents(&right);
    t.store.unmount_layer(&rw.id).expect("unmount");
    t.store.unmount_layer(&copy.id).expect("unmount");
    prop_assert!(
        changed.is_empty(),
        "the imported diff differs: {}",
        strata::archive::changes::format_changes(&changed)
    );
    prop_assert!(same_contents, "file contents differ");
    Ok(())
}

fn drivers() -> Vec<&'static str> {
    if rustix::process::geteuid().is_root() {
        vec!["vfs", "overlay"]
    } else {
        eprintln!("SKIPPED: read-write layer tests need root (overlay, chown, devices)");
        Vec::new()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_read_write_layer_diff_reproduces_the_tree(ops in prop::collection::vec(ops(), 1..25)) {
        for driver in drivers() {
            let t = TestStore::with_driver(driver);
            round_trip(&t, &ops).map_err(|e| TestCaseError::fail(format!("{driver}: {e}")))?;
        }
    }
}

#[test]
fn every_kind_of_change_round_trips() {
    let ops = vec![
        Op::Write("etc/passwd".into(), b"changed".to_vec()),
        Op::Write("new/file".into(), b"added".to_vec()),
        Op::Remove("etc/a".into()),
        Op::Remove("etc/deep/b".into()),
        Op::Write("etc/deep/c".into(), b"replaced contents".to_vec()),
        Op::Remove("usr/lib".into()),
        Op::Write("usr/lib".into(), b"a file where a directory was".to_vec()),
        Op::Chmod("var".into(), 0o1777),
        Op::Chown("etc/passwd".into(), 1000, 100),
        Op::Symlink("new/link".into(), "../etc/passwd".into()),
        Op::HardLink("new/hard".into(), "new/file".into()),
        Op::Fifo("new/fifo".into()),
        Op::Xattr("new/file".into(), b"v".to_vec()),
        Op::Device("new/null".into(), 3),
    ];
    for driver in drivers() {
        let t = TestStore::with_driver(driver);
        round_trip(&t, &ops).unwrap_or_else(|e| panic!("{driver}: {e}"));
        let modes: Vec<u32> = ["var"]
            .iter()
            .map(|p| {
                let layers = t.store.layers().expect("layers");
                let copy = layers.last().expect("copy");
                let mounted = t.store.mount_layer(&copy.id).expect("mount");
                let mode = std::fs::metadata(mounted.join(p)).expect("stat").mode() & 0o7777;
                t.store.unmount_layer(&copy.id).expect("unmount");
                mode
            })
            .collect();
        assert_eq!(modes, [0o1777], "{driver}");
    }
}

/// A file swapped for a hard link to another file of the same size and
/// time keeps every field the metadata comparison looks at; its diff must
/// still carry the new contents. Each case once on each driver: a file
/// linked to its neighbour (vfs), a new name linked to a lower file that
/// overlay copies up (overlay), and one of two linked files re-linked to a
/// third so that its link count stays the same.
#[test]
fn files_swapped_for_same_sized_hard_links_round_trip() {
    let cases = [
        Op::HardLink("etc/a".into(), "etc/deep/b".into()),
        Op::HardLink("etc/deep/b".into(), "etc/a".into()),
        Op::HardLink("a".into(), "usr/lib/lib".into()),
        Op::HardLink("usr/lib/a".into(), "usr/lib/x.conf".into()),
        Op::HardLink("usr/lib/x.conf".into(), "usr/lib/lib".into()),
    ];
    for driver in drivers() {
        for op in &cases {
            let t = TestStore::with_driver(driver);
            round_trip(&t, std::slice::from_ref(op))
                .unwrap_or_else(|e| panic!("{driver}, {op:?}: {e}"));
        }
    }
}

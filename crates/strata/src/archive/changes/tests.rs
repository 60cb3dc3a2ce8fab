//! Tests of the tree comparison, on real trees in temporary directories.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::archive::changeset::testtree::{self, chmod, chown, set_times, set_xattr, write};
use crate::fs::copy::copy_tree;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;

fn listing(changes: &[Change]) -> Vec<String> {
    format_changes(changes).lines().map(str::to_owned).collect()
}

/// An old tree and a copy of it to modify.
fn old_and_new(tmp: &Path) -> (PathBuf, PathBuf) {
    let old = tmp.join("old");
    for (rel, data) in [
        ("etc/passwd", "root:x:0:0\n"),
        ("etc/owned", "o"),
        ("etc/xfile", "x"),
        ("etc/same", "s"),
        ("bin/tool", "t"),
        ("tmp/x", "x"),
        ("var/cache/a/b", "b"),
        ("var/keep", "k"),
        ("opt/thing", "file"),
        ("srv/d/child", "c"),
        ("ns", "nanos"),
    ] {
        write(&old.join(rel), data.as_bytes());
    }
    std::os::unix::fs::symlink("aaaa", old.join("lnk")).unwrap();
    testtree::set_all_times(&old);
    let new = tmp.join("new");
    copy_tree(&old, &new).unwrap();
    (old, new)
}

#[test]
fn identical_trees_have_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    testtree::build_rich(&src);
    // The copier skips sockets (only the root's mtime changes, and the
    // root is never reported).
    fs::remove_file(src.join("sock")).unwrap();
    copy_tree(&src, &tmp.path().join("copy")).unwrap();
    assert_eq!(
        changes(Some(&src), &tmp.path().join("copy")).unwrap(),
        vec![]
    );
}

#[test]
fn adds_modifies_deletes_and_type_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = old_and_new(tmp.path());
    let p = |rel: &str| new.join(rel);
    // Content and mtime.
    write(&p("etc/passwd"), b"root:x:0:0:changed\n");
    chmod(&p("bin/tool"), 0o700);
    chown(&p("etc/owned"), 1, 1);
    set_xattr(&p("etc/xfile"), "user.new", b"v");
    // Labels are not compared (when this kernel lets us set one).
    let _ = rustix::fs::lsetxattr(
        p("etc/same"),
        "security.selinux",
        b"x\0",
        rustix::fs::XattrFlags::empty(),
    );
    fs::remove_file(p("tmp/x")).unwrap();
    fs::remove_dir_all(p("var/cache")).unwrap();
    // File to directory, directory to file.
    fs::remove_file(p("opt/thing")).unwrap();
    write(&p("opt/thing/inner"), b"i");
    fs::remove_dir_all(p("srv/d")).unwrap();
    write(&p("srv/d"), b"now a file");
    // Same size, same mtime, other target.
    let lnk = fs::symlink_metadata(old.join("lnk")).unwrap();
    fs::remove_file(p("lnk")).unwrap();
    std::os::unix::fs::symlink("bbbb", p("lnk")).unwrap();
    use std::os::unix::fs::MetadataExt;
    set_times(&p("lnk"), (lnk.atime(), 0), (lnk.mtime(), lnk.mtime_nsec()));
    // Same second, nanoseconds dropped (as tar does): not a change.
    let ns = fs::symlink_metadata(old.join("ns")).unwrap();
    set_times(&p("ns"), (ns.atime(), 0), (ns.mtime(), 0));
    write(&p("added.txt"), b"new");
    write(&p("newdir/sub/f"), b"new");

    let got = changes(Some(&old), &new).unwrap();
    let want = [
        "A /added.txt",
        "C /bin",
        "C /bin/tool",
        "C /etc",
        "C /etc/owned",
        "C /etc/passwd",
        "C /etc/xfile",
        "C /lnk",
        "A /newdir",
        "A /newdir/sub",
        "A /newdir/sub/f",
        "C /opt",
        "C /opt/thing",
        "A /opt/thing/inner",
        "C /srv",
        "C /srv/d",
        "C /tmp",
        "D /tmp/x",
        "C /var",
        "D /var/cache",
    ];
    assert_eq!(listing(&got), want);
    assert_eq!(
        got[17],
        Change {
            path: b"tmp/x".to_vec(),
            kind: ChangeKind::Deleted
        }
    );
}

#[test]
fn no_old_tree_means_everything_added_in_component_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write(&root.join("a/b"), b"");
    write(&root.join("a-c"), b"");
    write(&root.join("a.txt"), b"");
    write(&root.join(OsStr::from_bytes(b"z\xff")), b"");
    let got = changes(None, &root).unwrap();
    let paths: Vec<&[u8]> = got.iter().map(|c| c.path.as_slice()).collect();
    assert_eq!(paths, [&b"a"[..], b"a/b", b"a-c", b"a.txt", b"z\xff"]);
    assert!(got.iter().all(|c| c.kind == ChangeKind::Added));
    assert_eq!(format_changes(&got[..2]), "A /a\nA /a/b\n");
    assert_eq!(listing(&got)[4], "A /z\u{fffd}");
}

#[test]
fn rich_tree_against_nothing_lists_every_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    testtree::build_rich(&root);
    let got = changes(None, &root).unwrap();
    assert_eq!(got.len(), testtree::walk_paths(&root).len());
}

#[test]
fn missing_tree_names_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let err = changes(Some(&missing), tmp.path()).unwrap_err();
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );
}

//! Hostile archives. Each case is applied in its own temporary directory
//! `T` holding the layer root `T/root` next to a sentinel tree
//! (`T/sentinel/...`, `T/outside`); the case asserts that the error names
//! the entry, or says in a comment how the entry was contained, and that
//! nothing outside the root changed (the whole of `T` except `root` is
//! snapshotted before and after: types, modes, owners, link counts, sizes,
//! times, contents, symlink targets, xattrs).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::testtar::{Entry, build};
use super::*;

#[derive(Debug, PartialEq)]
struct Node {
    path: PathBuf,
    mode: u32,
    owner: (u32, u32),
    nlink: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    content: Option<Vec<u8>>,
    link: Option<PathBuf>,
    xattrs: Vec<u8>,
}

fn snapshot(top: &Path, skip: &Path) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut pending = vec![top.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        let mut xattrs = vec![0u8; 4096];
        let n = rustix::fs::llistxattr(&path, &mut xattrs[..]).unwrap_or(0);
        xattrs.truncate(n);
        let file_type = meta.file_type();
        nodes.push(Node {
            mode: meta.mode(),
            owner: (meta.uid(), meta.gid()),
            nlink: meta.nlink(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            content: file_type.is_file().then(|| fs::read(&path).unwrap()),
            link: file_type
                .is_symlink()
                .then(|| fs::read_link(&path).unwrap()),
            xattrs,
            path: path.clone(),
        });
        if file_type.is_dir() {
            let mut children: Vec<_> = fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            pending.extend(children);
        }
    }
    nodes
}

/// A fresh `T`: the sentinel tree and an empty root.
fn scene() -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    fs::create_dir_all(t.join("sentinel/sub")).unwrap();
    fs::write(t.join("sentinel/secret"), "top secret").unwrap();
    fs::write(t.join("sentinel/sub/inner"), "inner").unwrap();
    fs::write(t.join("outside"), "outside").unwrap();
    std::os::unix::fs::symlink(t.join("sentinel"), t.join("sentinel-link")).unwrap();
    let root = t.join("root");
    fs::create_dir(&root).unwrap();
    (top, root)
}

/// What a case must do besides leaving `T` alone.
enum Expect {
    /// Fails with an error that names this entry.
    Names(String),
    /// Succeeds; the closure checks where things landed inside the root.
    Contained(fn(&Path, &Path)),
}

/// Applies the entries `make(T)` and checks the expectation and `T`.
fn case(label: &str, make: impl Fn(&str) -> Vec<Entry>, expect: Expect) {
    let (top, root) = scene();
    let t = top.path().to_str().unwrap().to_string();
    let before = snapshot(top.path(), &root);
    let result = apply_tar(&root, &build(&make(&t))[..], ApplyOptions::default());
    match (&expect, result) {
        (Expect::Names(entry), Err(err)) => {
            let message = err.to_string();
            assert!(
                message.contains(&format!("{entry:?}")),
                "{label}: error does not name {entry:?}: {message}"
            );
            assert!(!message.contains('\n'), "{label}: {message}");
        }
        (Expect::Names(entry), Ok(_)) => panic!("{label}: expected an error naming {entry:?}"),
        (Expect::Contained(check), Ok(_)) => check(top.path(), &root),
        (Expect::Contained(_), Err(err)) => panic!("{label}: expected success, got: {err}"),
    }
    let after = snapshot(top.path(), &root);
    assert_eq!(before, after, "{label}: something outside the root changed");
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(entry: &str) -> Expect {
    Expect::Names(entry.to_string())
}

fn inside(t: &str, rest: &str) -> String {
    format!("{t}{rest}")
}

#[test]
fn names_leading_out_are_refused() {
    case("../x", |_| vec![Entry::file("../x", b"pwn")], names("../x"));
    case(
        "a/../../x",
        |_| vec![Entry::dir("a/"), Entry::file("a/../../x", b"pwn")],
        names("a/../../x"),
    );
    case(
        "../outside",
        |_| vec![Entry::file("../outside", b"pwn")],
        names("../outside"),
    );
    case("../ dir", |_| vec![Entry::dir("../")], names("../"));
    case(
        "non-UTF-8",
        |_| vec![Entry::file("x", b"pwn").raw_name(b"../\xff")],
        names("../\u{fffd}"),
    );
    case(
        "PAX path with ..",
        |_| vec![Entry::file("innocent", b"pwn").pax("path", b"../pax-escape")],
        names("../pax-escape"),
    );
    case(
        "a/b/../../../sentinel/secret",
        |_| vec![Entry::file("a/b/../../../sentinel/secret", b"pwn")],
        names("a/b/../../../sentinel/secret"),
    );
}

#[test]
fn absolute_names_are_taken_inside_the_root() {
    // Contained: leading slashes are stripped, `/../x` is `/x`.
    case(
        "absolute",
        |t| {
            vec![
                Entry::file("/outside", b"pwn"),
                Entry::file("/sentinel/secret", b"pwn"),
                Entry::file("/../../dotdot-at-root", b"pwn"),
                Entry::file(&inside(t, "/sentinel/sub/inner"), b"pwn"),
            ]
        },
        Expect::Contained(|t, root| {
            assert_eq!(read(&root.join("outside")), b"pwn");
            assert_eq!(read(&root.join("sentinel/secret")), b"pwn");
            assert_eq!(read(&root.join("dotdot-at-root")), b"pwn");
            let rel = t.strip_prefix("/").unwrap();
            assert_eq!(read(&root.join(rel).join("sentinel/sub/inner")), b"pwn");
        }),
    );
}

#[test]
fn symlinked_parents_stay_inside_the_root() {
    // Contained: `l -> /` resolves to the root itself.
    case(
        "symlink to /",
        |_| {
            vec![
                Entry::symlink("l", "/"),
                Entry::file("l/x", b"pwn"),
                Entry::file("l/sentinel/secret", b"pwn"),
            ]
        },
        Expect::Contained(|_, root| {
            assert_eq!(read(&root.join("x")), b"pwn");
            assert_eq!(read(&root.join("sentinel/secret")), b"pwn");
            assert_eq!(fs::read_link(root.join("l")).unwrap(), Path::new("/"));
        }),
    );
    // Contained: `..` at the root stays at the root.
    case(
        "symlink to ../../..",
        |_| {
            vec![
                Entry::symlink("l", "../../.."),
                Entry::file("l/x", b"pwn"),
                Entry::symlink("up", "../.."),
                Entry::dir("up/sentinel/"),
                Entry::file("up/sentinel/secret", b"pwn"),
            ]
        },
        Expect::Contained(|_, root| {
            assert_eq!(read(&root.join("x")), b"pwn");
            assert_eq!(read(&root.join("sentinel/secret")), b"pwn");
        }),
    );
    // The symlink's target, taken inside the root, does not exist and the
    // symlink cannot be made a directory: an error naming the entry.
    case(
        "symlink to the real sentinel",
        |t| {
            vec![
                Entry::symlink("l", &inside(t, "/sentinel")),
                Entry::file("l/secret", b"pwn"),
            ]
        },
        names("l/secret"),
    );
    case(
        "symlink to ../sentinel",
        |_| {
            vec![
                Entry::symlink("l", "../sentinel"),
                Entry::file("l/secret", b"pwn"),
            ]
        },
        names("l/secret"),
    );
    // Contained: the name goes through `l -> /`, the link lands in the root.
    case(
        "hard link named through a symlink",
        |_| {
            vec![
                Entry::file("f", b"f"),
                Entry::symlink("l", "/"),
                Entry::hardlink("l/h", "f"),
                Entry::device("l/fifo", b'6', 0, 0),
            ]
        },
        Expect::Contained(|_, root| {
            let f = fs::metadata(root.join("f")).unwrap();
            assert_eq!(fs::metadata(root.join("h")).unwrap().ino(), f.ino());
            assert!(fs::symlink_metadata(root.join("fifo")).is_ok());
        }),
    );
    case(
        "fifo through a dangling symlink",
        |t| {
            vec![
                Entry::symlink("l", &inside(t, "/sentinel")),
                Entry::device("l/fifo", b'6', 0, 0),
            ]
        },
        names("l/fifo"),
    );
}

#[test]
fn a_directory_replaced_by_a_symlink_is_not_written_through() {
    case(
        "dir replaced by a symlink to the sentinel",
        |t| {
            vec![
                Entry::dir("d/"),
                Entry::file("d/a", b"a"),
                Entry::symlink("d", &inside(t, "/sentinel")),
                Entry::file("d/secret", b"pwn"),
            ]
        },
        names("d/secret"),
    );
    case(
        "dir replaced by a symlink to /tmp",
        |_| {
            vec![
                Entry::dir("d/"),
                Entry::symlink("d", "/tmp"),
                Entry::file("d/x", b"pwn"),
            ]
        },
        names("d/x"),
    );
    // Contained: `/tmp` resolves to the root's own `tmp`.
    case(
        "dir replaced by a symlink to /tmp, which exists in the root",
        |_| {
            vec![
                Entry::dir("tmp/"),
                Entry::dir("d/"),
                Entry::symlink("d", "/tmp"),
                Entry::file("d/x", b"in the root's tmp"),
            ]
        },
        Expect::Contained(|_, root| {
            assert_eq!(read(&root.join("tmp/x")), b"in the root's tmp");
        }),
    );
    // Contained: a directory entry over a symlink replaces the symlink.
    case(
        "dir over a symlink to the sentinel",
        |t| {
            vec![
                Entry::symlink("d", &inside(t, "/sentinel")),
                Entry::dir("d/").mode(0o777).mtime(1),
                Entry::file("d/secret", b"pwn"),
            ]
        },
        Expect::Contained(|_, root| {
            assert!(fs::symlink_metadata(root.join("d")).unwrap().is_dir());
            assert_eq!(read(&root.join("d/secret")), b"pwn");
        }),
    );
}

#[test]
fn final_symlinks_are_never_followed() {
    // Contained: the file replaces the symlink; metadata of a symlink entry
    // goes to the symlink itself.
    case(
        "file over a symlink to the sentinel",
        |t| {
            vec![
                Entry::symlink("s", &inside(t, "/sentinel/secret"))
                    .owner(1234, 1234)
                    .mtime(5)
                    .xattr("trusted.pwn", b"1"),
                Entry::symlink("s2", &inside(t, "/outside")),
                Entry::file("s2", b"pwn").mode(0o777),
            ]
        },
        Expect::Contained(|t, root| {
            let s = fs::symlink_metadata(root.join("s")).unwrap();
            assert!(s.file_type().is_symlink());
            assert_eq!((s.uid(), s.mtime()), (1234, 5));
            assert_eq!(
                fs::read_link(root.join("s")).unwrap(),
                t.join("sentinel/secret")
            );
            assert_eq!(read(&root.join("s2")), b"pwn");
        }),
    );
    // Contained: the hard link is to the symlink itself, not its target.
    case(
        "hard link to a symlink to the sentinel",
        |t| {
            vec![
                Entry::symlink("s", &inside(t, "/sentinel/secret")),
                Entry::hardlink("h", "s"),
            ]
        },
        Expect::Contained(|_, root| {
            let h = fs::symlink_metadata(root.join("h")).unwrap();
            assert!(h.file_type().is_symlink());
        }),
    );
}

#[test]
fn hard_link_targets_stay_inside() {
    case(
        "hard link to ../outside",
        |_| vec![Entry::hardlink("h", "../outside")],
        names("h"),
    );
    case(
        "hard link to ..",
        |_| vec![Entry::hardlink("h", "..")],
        names("h"),
    );
    // The absolute target is taken inside the root, where it does not
    // exist: an error naming the entry.
    case(
        "hard link to the absolute sentinel",
        |t| vec![Entry::hardlink("h", &inside(t, "/sentinel/secret"))],
        names("h"),
    );
    case(
        "hard link to the root",
        |_| vec![Entry::hardlink("h", "/")],
        names("h"),
    );
    case(
        "hard link through a symlink to the outside",
        |t| {
            vec![
                Entry::symlink("l", &inside(t, "/sentinel")),
                Entry::hardlink("h", "l/secret"),
            ]
        },
        names("h"),
    );
    case(
        "hard link through a symlink to ..",
        |_| vec![Entry::symlink("l", ".."), Entry::hardlink("h", "l/outside")],
        names("h"),
    );
}

#[test]
fn symlink_loops_are_errors() {
    case(
        "a -> b, b -> a",
        |_| {
            vec![
                Entry::symlink("a", "b"),
                Entry::symlink("b", "a"),
                Entry::file("a/x", b"pwn"),
            ]
        },
        names("a/x"),
    );
    case(
        "self loop",
        |_| vec![Entry::symlink("a", "a"), Entry::dir("a/b/")],
        names("a/b/"),
    );
}

#[test]
fn whiteouts_stay_inside() {
    case(".wh.", |_| vec![Entry::file(".wh.", b"")], names(".wh."));
    case(
        "../.wh.x",
        |_| vec![Entry::file("../.wh.outside", b"")],
        names("../.wh.outside"),
    );
    case(
        "../.wh..wh..opq",
        |_| vec![Entry::file("../.wh..wh..opq", b"")],
        names("../.wh..wh..opq"),
    );
    // Contained: `l -> ..` is the root itself; there is no `sentinel` in
    // it to delete. `/../.wh.outside` is `.wh.outside` in the root.
    case(
        "whiteouts through symlinks",
        |t| {
            vec![
                Entry::symlink("l", ".."),
                Entry::file("l/.wh.sentinel", b""),
                Entry::symlink("m", &inside(t, "")),
                Entry::file("m/.wh.outside", b""),
                Entry::file("/../.wh.outside", b""),
                Entry::symlink("n", "/"),
                Entry::file("n/sentinel-link/.wh.secret", b""),
            ]
        },
        Expect::Contained(|_, root| {
            assert!(fs::symlink_metadata(root.join("l")).is_ok());
        }),
    );
    // Contained: an opaque marker in a symlinked directory hides nothing
    // (the final component is not followed).
    case(
        "opaque through symlinks",
        |t| {
            vec![
                Entry::symlink("l", &inside(t, "/sentinel")),
                Entry::file("l/.wh..wh..opq", b""),
                Entry::symlink("up", ".."),
                Entry::file("up/.wh..wh..opq", b""),
                Entry::symlink("abs", "/"),
                Entry::file("abs/.wh..wh..opq", b""),
            ]
        },
        Expect::Contained(|_, root| {
            // `up/` is the root: its contents this tar did not create are
            // none; the three symlinks survive.
            for name in ["l", "up", "abs"] {
                assert!(fs::symlink_metadata(root.join(name)).is_ok(), "{name}");
            }
        }),
    );
}

#[test]
fn the_snapshot_sees_changes() {
    let (top, root) = scene();
    let before = snapshot(top.path(), &root);
    fs::write(root.join("inside"), "ignored").unwrap();
    assert_eq!(before, snapshot(top.path(), &root));
    let link = top.path().join("sentinel/link");
    fs::hard_link(top.path().join("sentinel/secret"), &link).unwrap();
    fs::remove_file(&link).unwrap();
    assert_ne!(before, snapshot(top.path(), &root));
}

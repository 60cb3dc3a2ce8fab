//! Tests of the applier: trees built from tars, asserted exactly.
//! They run as root, each in its own temporary directory.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::testtar::{Entry, build, global};
use super::*;

fn apply(root: &Path, entries: &[Entry]) -> Result<ApplyReport, ApplyError> {
    apply_tar(root, &build(entries)[..], ApplyOptions::default())
}

fn lmeta(path: &Path) -> fs::Metadata {
    fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn perm(path: &Path) -> u32 {
    lmeta(path).mode() & 0o7777
}

fn owner(path: &Path) -> (u32, u32) {
    let m = lmeta(path);
    (m.uid(), m.gid())
}

fn mtime(path: &Path) -> (i64, i64) {
    let m = lmeta(path);
    (m.mtime(), m.mtime_nsec())
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

#[test]
fn builds_a_tree_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let report = apply(
        root,
        &[
            Entry::dir("./").mode(0o755),
            Entry::dir("etc/").mtime(1000),
            Entry::file("etc/hosts", b"127.0.0.1 localhost\n").mtime(2000),
            Entry::file("etc/secret", b"s3cret")
                .mode(0o600)
                .owner(1000, 1001)
                .xattr("user.foo", b"bar")
                .xattr("trusted.t", b"\x00\x01binary")
                .pax("mtime", b"1700000000.123456789")
                .pax("atime", b"1700000001.5"),
            Entry::file("usr/bin/su", b"#!/bin/true\n").mode(0o4755),
            Entry::file("usr/bin/wall", b"").mode(0o2755).owner(0, 5),
            Entry::dir("shared/").mode(0o2775).owner(1000, 1000),
            Entry::dir("tmp/").mode(0o1777).mtime(3000),
            Entry::file("tmp/f", b"in tmp"),
            Entry::symlink("etc/localtime", "/usr/share/zoneinfo/UTC")
                .mtime(4000)
                .owner(7, 8),
            Entry::hardlink("etc/hosts.bak", "etc/hosts"),
            Entry::hardlink("etc/hosts.abs", "/etc/hosts"),
            Entry::device("dev/null", b'3', 1, 3).mode(0o666),
            Entry::device("dev/sda", b'4', 8, 1).mode(0o660).owner(0, 6),
            Entry::device("run/fifo", b'6', 0, 0)
                .mode(0o620)
                .mtime(5000),
            Entry::dir("a/").mtime(10),
            Entry::dir("a/b/").mtime(20),
            Entry::file("a/b/c", b"deep").mtime(30),
            Entry::file("etc/zzz", b"after the symlink"),
        ],
    )
    .unwrap();

    // Before anything reads it (relatime would update it).
    let secret = lmeta(&root.join("etc/secret"));
    assert_eq!(
        (secret.atime(), secret.atime_nsec()),
        (1_700_000_001, 500_000_000)
    );
    // The root entry `./` is skipped: the root keeps its mode.
    assert_eq!(perm(root), 0o700);
    assert_eq!(read(&root.join("etc/hosts")), b"127.0.0.1 localhost\n");
    assert_eq!(perm(&root.join("etc/hosts")), 0o644);
    assert_eq!(read(&root.join("etc/secret")), b"s3cret");
    assert_eq!(perm(&root.join("etc/secret")), 0o600);
    assert_eq!(owner(&root.join("etc/secret")), (1000, 1001));
    assert_eq!(xattr(&root.join("etc/secret"), "user.foo").unwrap(), b"bar");
    assert_eq!(
        xattr(&root.join("etc/secret"), "trusted.t").unwrap(),
        b"\x00\x01binary"
    );
    assert_eq!(
        mtime(&root.join("etc/secret")),
        (1_700_000_000, 123_456_789)
    );
    assert_eq!(perm(&root.join("usr/bin/su")), 0o4755);
    assert_eq!(perm(&root.join("usr/bin/wall")), 0o2755);
    assert_eq!(owner(&root.join("usr/bin/wall")), (0, 5));
    // Implicit parents: 0755, root-owned.
    assert_eq!(perm(&root.join("usr")), 0o755);
    assert_eq!(perm(&root.join("usr/bin")), 0o755);
    assert!(lmeta(&root.join("usr/bin")).is_dir());
    assert_eq!(perm(&root.join("shared")), 0o2775);
    assert_eq!(owner(&root.join("shared")), (1000, 1000));
    assert_eq!(perm(&root.join("tmp")), 0o1777);
    assert_eq!(read(&root.join("tmp/f")), b"in tmp");

    let link = root.join("etc/localtime");
    assert!(lmeta(&link).file_type().is_symlink());
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("/usr/share/zoneinfo/UTC")
    );
    assert_eq!(mtime(&link), (4000, 0));
    assert_eq!(owner(&link), (7, 8));

    let hosts = lmeta(&root.join("etc/hosts"));
    for name in ["etc/hosts.bak", "etc/hosts.abs"] {
        assert_eq!(lmeta(&root.join(name)).ino(), hosts.ino(), "{name}");
    }
    assert_eq!(hosts.nlink(), 3);

    let null = lmeta(&root.join("dev/null"));
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let sda = lmeta(&root.join("dev/sda"));
    assert!(sda.file_type().is_block_device());
    assert_eq!(sda.rdev(), rustix::fs::makedev(8, 1));
    assert_eq!((sda.mode() & 0o7777, sda.gid()), (0o660, 6));
    let fifo = root.join("run/fifo");
    assert!(lmeta(&fifo).file_type().is_fifo());
    assert_eq!((perm(&fifo), mtime(&fifo)), (0o620, (5000, 0)));

    // Directory times are restored after their contents were created.
    assert_eq!(mtime(&root.join("etc")), (1000, 0));
    assert_eq!(mtime(&root.join("tmp")), (3000, 0));
    assert_eq!(mtime(&root.join("a")), (10, 0));
    assert_eq!(mtime(&root.join("a/b")), (20, 0));
    assert_eq!(mtime(&root.join("a/b/c")), (30, 0));

    assert_eq!(report.uids, BTreeSet::from([0, 7, 1000]));
    assert_eq!(report.gids, BTreeSet::from([0, 5, 6, 8, 1000, 1001]));
    assert!(report.aside.is_empty());
}

#[test]
fn maps_ids_to_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let options = ApplyOptions {
        uid_map: IdMap::parse("0:100000:65536").unwrap(),
        gid_map: IdMap::parse("0:200000:1000").unwrap(),
        ..ApplyOptions::default()
    };
    let tar = build(&[
        Entry::dir("d/"),
        Entry::file("d/f", b"x").owner(5, 7).mode(0o4750),
        Entry::symlink("d/l", "f").owner(3, 4),
        Entry::file("implicit/g", b"y").owner(1, 1),
    ]);
    let report = apply_tar(root, &tar[..], options.clone()).unwrap();
    assert_eq!(owner(&root.join("d")), (100_000, 200_000));
    assert_eq!(owner(&root.join("d/f")), (100_005, 200_007));
    // chown came before chmod: setuid survives.
    assert_eq!(perm(&root.join("d/f")), 0o4750);
    assert_eq!(owner(&root.join("d/l")), (100_003, 200_004));
    assert_eq!(owner(&root.join("implicit")), (100_000, 200_000));
    assert_eq!(report.uids, BTreeSet::from([0, 1, 3, 5]));
    assert_eq!(report.gids, BTreeSet::from([0, 1, 4, 7]));

    let tmp = tempfile::tempdir().unwrap();
    let tar = build(&[Entry::file("big-gid", b"").owner(0, 5000)]);
    let err = apply_tar(tmp.path(), &tar[..], options).unwrap_err();
    assert!(
        matches!(&err, ApplyError::UnmappedId { entry, kind: IdKind::Gid, id: 5000 } if entry == "big-gid"),
        "{err}"
    );
    assert!(err.to_string().contains("\"big-gid\""), "{err}");
    assert!(!exists(&tmp.path().join("big-gid")));
}

#[test]
fn writes_sparse_files() {
    let mut contents = vec![0u8; 1 << 20];
    contents[..10].copy_from_slice(b"0123456789");
    contents[500_000..500_100].fill(b'x');
    contents[700_000..700_003].copy_from_slice(b"end");
    let regions = [(0, 10), (500_000, 100), (700_000, 3), (1 << 20, 0)];
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::pax_sparse("pax", &contents, &regions).mode(0o640),
            Entry::gnu_sparse("gnu", &contents, &regions[..3]),
        ],
    )
    .unwrap();
    for name in ["pax", "gnu"] {
        let path = root.join(name);
        assert_eq!(lmeta(&path).len(), 1 << 20, "{name}");
        assert!(read(&path) == contents, "{name}: contents differ");
        // Holes stay holes.
        assert!(lmeta(&path).blocks() * 512 < 64 << 10, "{name}");
    }
    assert_eq!(perm(&root.join("pax")), 0o640);
    assert!(!exists(&root.join("GNUSparseFile.0")));
}

#[test]
fn reads_what_the_tar_crate_writes() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o750);
    header.set_mtime(42);
    header.set_size(0);
    builder.append_data(&mut header, "dir/", &[][..]).unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_mode(0o644);
    header.set_uid(12);
    header.set_gid(34);
    header.set_mtime(43);
    header.set_size(5);
    builder
        .append_data(&mut header, "dir/file", &b"hello"[..])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(&mut header, "dir/link", "file")
        .unwrap();
    let long = format!("dir/{}", "n".repeat(150));
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o600);
    header.set_size(4);
    builder
        .append_data(&mut header, &long, &b"long"[..])
        .unwrap();
    let tar = builder.into_inner().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let report = apply_tar(root, &tar[..], ApplyOptions::default()).unwrap();
    assert_eq!(
        (perm(&root.join("dir")), mtime(&root.join("dir"))),
        (0o750, (42, 0))
    );
    assert_eq!(read(&root.join("dir/file")), b"hello");
    assert_eq!(owner(&root.join("dir/file")), (12, 34));
    assert_eq!(
        fs::read_link(root.join("dir/link")).unwrap(),
        Path::new("file")
    );
    assert_eq!(read(&root.join(&long)), b"long");
    assert!(report.uids.contains(&12) && report.gids.contains(&34));
}

/// A lower layer's tree, as the vfs driver copies it before applying.
fn lower(root: &Path) {
    for dir in ["d/b", "keep", "o/sub", "o/sub2/x", "p", "m"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    for file in [
        "x",
        "d/a",
        "d/b/c",
        "keep/k",
        "o/old1",
        "o/old2",
        "o/sub/lowerfile",
        "p/pold",
        "m/old",
    ] {
        fs::write(root.join(file), file).unwrap();
    }
    std::os::unix::fs::symlink("o", root.join("o-link")).unwrap();
}

#[test]
fn whiteouts_delete_from_the_lower_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    lower(root);
    let report = apply(
        root,
        &[
            Entry::file(".wh.x", b"").owner(99, 99),
            Entry::file(".wh.d", b""),
            Entry::file("p/.wh..wh..opq", b""),
            Entry::file("p/pnew", b"new in p"),
            Entry::dir("o/"),
            Entry::file("o/new", b"new in o"),
            Entry::file("o/sub/deep", b"new under a lower dir"),
            Entry::file("o/.wh..wh..opq", b""),
            Entry::file("o/after", b"after the marker"),
            Entry::file("missing/.wh.y", b""),
            Entry::file("keep/.wh.nothing", b""),
            Entry::file(".wh.o-link", b""),
        ],
    )
    .unwrap();
    assert!(!exists(&root.join("x")));
    assert!(!exists(&root.join("d")));
    assert!(!exists(&root.join("o-link")));
    assert_eq!(read(&root.join("keep/k")), b"keep/k");
    assert_eq!(read(&root.join("p/pnew")), b"new in p");
    assert!(!exists(&root.join("p/pold")));
    // The opaque marker came after o/new and o/sub/deep: they survive, the
    // lower contents of o (also beneath o/sub) go.
    let mut names: Vec<_> = fs::read_dir(root.join("o"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["after", "new", "sub"]);
    assert_eq!(read(&root.join("o/new")), b"new in o");
    let sub: Vec<_> = fs::read_dir(root.join("o/sub")).unwrap().collect();
    assert_eq!(sub.len(), 1);
    assert_eq!(read(&root.join("o/sub/deep")), b"new under a lower dir");
    // A whiteout in a missing directory does not create it; no whiteout
    // files are created.
    assert!(!exists(&root.join("missing")));
    assert!(!exists(&root.join("keep/.wh.nothing")));
    assert!(!exists(&root.join(".wh.x")));
    // Whiteouts' ids are not reported.
    assert!(!report.uids.contains(&99));
}

#[test]
fn invalid_whiteouts_are_errors() {
    for name in [".wh.", "a/.wh.", ".wh..", ".wh...", "a/b/.wh..."] {
        let tmp = tempfile::tempdir().unwrap();
        let err = apply(tmp.path(), &[Entry::file(name, b"")]).unwrap_err();
        assert!(
            matches!(&err, ApplyError::InvalidWhiteout { entry } if entry == name),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(&format!("{name:?}")), "{err}");
    }
}

#[test]
fn aufs_metadata_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::dir(".wh..wh.plnk/"),
            Entry::file(".wh..wh.plnk/1234.5678", b"aufs"),
            Entry::file("a/.wh..wh.aufs", b""),
            Entry::file("a/f", b"f"),
        ],
    )
    .unwrap();
    assert!(!exists(&root.join(".wh..wh.plnk")));
    assert!(!exists(&root.join("a/.wh..wh.aufs")));
    assert_eq!(read(&root.join("a/f")), b"f");
}

#[test]
fn replaces_existing_paths_and_merges_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::write(root.join("f1"), "file").unwrap();
    fs::create_dir_all(root.join("d1/sub")).unwrap();
    fs::write(root.join("d1/sub/x"), "x").unwrap();
    fs::create_dir(root.join("merge")).unwrap();
    fs::write(root.join("merge/old"), "old").unwrap();
    fs::write(root.join("target"), "orig").unwrap();
    std::os::unix::fs::symlink("target", root.join("s")).unwrap();
    std::os::unix::fs::symlink("target", root.join("s2")).unwrap();
    apply(
        root,
        &[
            Entry::dir("f1/").mode(0o711),
            Entry::file("d1", b"now a file"),
            Entry::dir("merge/").mode(0o750).owner(3, 3).mtime(77),
            Entry::file("merge/new", b"new"),
            Entry::file("s", b"replaces the symlink"),
            Entry::symlink("s2", "elsewhere"),
        ],
    )
    .unwrap();
    assert!(lmeta(&root.join("f1")).is_dir());
    assert_eq!(perm(&root.join("f1")), 0o711);
    assert_eq!(read(&root.join("d1")), b"now a file");
    assert_eq!(read(&root.join("merge/old")), b"old");
    assert_eq!(read(&root.join("merge/new")), b"new");
    assert_eq!(perm(&root.join("merge")), 0o750);
    assert_eq!(owner(&root.join("merge")), (3, 3));
    assert_eq!(mtime(&root.join("merge")), (77, 0));
    assert!(lmeta(&root.join("s")).is_file());
    assert_eq!(read(&root.join("s")), b"replaces the symlink");
    assert_eq!(read(&root.join("target")), b"orig");
    assert_eq!(
        fs::read_link(root.join("s2")).unwrap(),
        Path::new("elsewhere")
    );
}

#[test]
fn superseded_files_move_aside() {
    let tar = build(&[
        Entry::file("f", b"one"),
        Entry::file("g", b"g"),
        Entry::dir("d/"),
        Entry::file("f", b"two"),
        Entry::file("d", b"file over a dir"),
        Entry::file("./f", b"three"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let aside = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let options = ApplyOptions {
        aside_dir: Some(aside.path().to_path_buf()),
        ..ApplyOptions::default()
    };
    let report = apply_tar(root, &tar[..], options).unwrap();
    assert_eq!(read(&root.join("f")), b"three");
    assert_eq!(read(&root.join("d")), b"file over a dir");
    // Members: f (segment 0, file 1), g (2, 3), d (4, 5), f (6, 7), d (8,
    // 9), ./f (10, 11).
    let expected = vec![(1, aside.path().join("1")), (7, aside.path().join("7"))];
    assert_eq!(report.aside, expected);
    assert_eq!(read(&aside.path().join("1")), b"one");
    assert_eq!(read(&aside.path().join("7")), b"two");
    assert_eq!(fs::read_dir(aside.path()).unwrap().count(), 2);

    let tmp = tempfile::tempdir().unwrap();
    let report = apply_tar(tmp.path(), &tar[..], ApplyOptions::default()).unwrap();
    assert_eq!(read(&tmp.path().join("f")), b"three");
    assert!(report.aside.is_empty());
}

fn member(name: &str, kind: u8, data_len: u64) -> Member {
    Member {
        name: name.as_bytes().to_vec(),
        kind,
        mode: 0o644,
        size: data_len,
        data_len,
        ..Member::default()
    }
}

#[test]
fn event_api_and_lower_files_are_not_moved_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let aside = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::write(root.join("lower"), "from the parent layer").unwrap();
    let options = ApplyOptions {
        aside_dir: Some(aside.path().to_path_buf()),
        ..ApplyOptions::default()
    };
    let mut applier = Applier::new(root, options).unwrap();
    applier.begin(&member("lower", b'0', 6), Some(7)).unwrap();
    applier.data(b"new").unwrap();
    applier.data(b"er!").unwrap();
    applier.end().unwrap();
    let report = applier.finish().unwrap();
    assert_eq!(read(&root.join("lower")), b"newer!");
    assert!(report.aside.is_empty());
    assert_eq!(fs::read_dir(aside.path()).unwrap().count(), 0);
}

#[test]
fn misuse_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut applier = Applier::new(tmp.path(), ApplyOptions::default()).unwrap();
    assert!(matches!(applier.data(b"x"), Err(ApplyError::Misuse(_))));
    assert!(matches!(applier.end(), Err(ApplyError::Misuse(_))));
    applier.begin(&member("f", b'0', 4), None).unwrap();
    assert!(matches!(
        applier.begin(&member("g", b'0', 0), None),
        Err(ApplyError::Misuse(_))
    ));
    applier.data(b"ab").unwrap();
    assert!(matches!(applier.data(b"cde"), Err(ApplyError::Misuse(_))));
    assert!(matches!(applier.finish(), Err(ApplyError::Misuse(_))));

    let mut applier = Applier::new(tmp.path(), ApplyOptions::default()).unwrap();
    applier.begin(&member("short", b'0', 4), None).unwrap();
    applier.data(b"ab").unwrap();
    let err = applier.end().unwrap_err();
    assert!(err.to_string().contains("2 of 4"), "{err}");

    let missing = tmp.path().join("missing");
    let err = Applier::new(&missing, ApplyOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, ApplyError::OpenDir { .. }), "{err}");
}

#[test]
fn other_types_are_skipped_or_taken_as_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut tar = global(&[("comment", b"git archive")]);
    tar.extend(build(&[
        Entry::other("label", b'V', b""),
        Entry::other("dumpdir", b'D', b"Ya\0Nb\0\0"),
        Entry::other("multi", b'M', b"rest of a file"),
        Entry::other("contiguous", b'7', b"contiguous data"),
        Entry::other("unknown", b'8', b"unknown type with data"),
        Entry::other("unknown-empty", b'9', b""),
    ]));
    let report = apply_tar(root, &tar[..], ApplyOptions::default()).unwrap();
    let mut names: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["contiguous", "unknown"]);
    assert_eq!(read(&root.join("contiguous")), b"contiguous data");
    assert_eq!(read(&root.join("unknown")), b"unknown type with data");
    assert_eq!(report.uids, BTreeSet::from([0]));
}

#[test]
fn hard_links() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::file("f", b"data").mode(0o640),
            Entry::symlink("s", "nowhere"),
            Entry::hardlink("to-symlink", "s"),
            Entry::hardlink("f", "f"),
            Entry::dir("d/"),
            Entry::hardlink("d/link", "./f").mode(0o777).mtime(1),
        ],
    )
    .unwrap();
    assert_eq!(read(&root.join("f")), b"data");
    // No metadata from the link header: the inode keeps the file's.
    assert_eq!(perm(&root.join("d/link")), 0o640);
    assert_eq!(
        lmeta(&root.join("d/link")).ino(),
        lmeta(&root.join("f")).ino()
    );
    let to_symlink = lmeta(&root.join("to-symlink"));
    assert!(to_symlink.file_type().is_symlink());
    assert_eq!(to_symlink.ino(), lmeta(&root.join("s")).ino());

    for (target, what) in [("missing", "missing target"), ("d", "directory target")] {
        let tmp = tempfile::tempdir().unwrap();
        let err = apply(
            tmp.path(),
            &[Entry::dir("d/"), Entry::hardlink("h", target)],
        )
        .unwrap_err();
        assert!(
            matches!(&err, ApplyError::LinkTarget { entry, .. } if entry == "h"),
            "{what}: {err}"
        );
    }
}

#[test]
fn xattrs_on_every_kind_and_their_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::dir("d/").xattr("user.dir", b"1"),
            Entry::symlink("l", "d").xattr("trusted.link", b"2"),
            Entry::device("fifo", b'6', 0, 0).xattr("trusted.fifo", b"3"),
            Entry::file("f", b"").xattr("security.selinux", b"system_u:object_r:etc_t:s0"),
        ],
    )
    .unwrap();
    assert_eq!(xattr(&root.join("d"), "user.dir").unwrap(), b"1");
    assert_eq!(xattr(&root.join("l"), "trusted.link").unwrap(), b"2");
    assert_eq!(xattr(&root.join("d"), "trusted.link"), None);
    assert_eq!(xattr(&root.join("fifo"), "trusted.fifo").unwrap(), b"3");

    let tmp = tempfile::tempdir().unwrap();
    let err = apply(
        tmp.path(),
        &[Entry::file("f", b"x").xattr("bogus.name", b"v")],
    )
    .unwrap_err();
    assert!(
        matches!(&err, ApplyError::Xattr { entry, name, .. } if entry == "f" && name == "bogus.name"),
        "{err}"
    );
}

/// The kernel refuses `user.*` attributes on symlinks (EPERM); like Docker
/// and containers/storage, the import goes on without them.
#[test]
fn xattrs_the_system_refuses_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::file("f", b"x").xattr("user.kept", b"1"),
            Entry::symlink("l", "f").xattr("user.refused", b"2"),
        ],
    )
    .unwrap();
    assert_eq!(xattr(&root.join("f"), "user.kept").unwrap(), b"1");
    assert_eq!(xattr(&root.join("l"), "user.refused"), None);
}

#[test]
fn read_only_directories_are_filled() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::dir("ro/").mode(0o555).mtime(9),
            Entry::dir("ro/sub/").mode(0o500),
            Entry::file("ro/sub/f", b"f").mode(0o400),
        ],
    )
    .unwrap();
    assert_eq!(perm(&root.join("ro")), 0o555);
    assert_eq!(perm(&root.join("ro/sub")), 0o500);
    assert_eq!(mtime(&root.join("ro")), (9, 0));
    assert_eq!(read(&root.join("ro/sub/f")), b"f");
}

#[test]
fn a_directory_replaced_by_a_symlink_is_not_used_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(
        root,
        &[
            Entry::dir("e/"),
            Entry::dir("d/"),
            Entry::file("d/x", b"x"),
            Entry::symlink("d", "e"),
            Entry::file("d/y", b"through the symlink"),
        ],
    )
    .unwrap();
    assert!(lmeta(&root.join("d")).file_type().is_symlink());
    assert_eq!(read(&root.join("e/y")), b"through the symlink");
    assert!(!exists(&root.join("e/x")));
}

#[test]
fn deep_trees_are_removed_without_recursion_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut deep = root.join("deep");
    for _ in 0..1500 {
        deep.push("d");
    }
    // Longer than PATH_MAX: build it one level at a time.
    let mut dir = fs::File::open(root).unwrap();
    for name in std::iter::once("deep").chain(std::iter::repeat_n("d", 1500)) {
        rustix::fs::mkdirat(&dir, name, Mode::RWXU).unwrap();
        let fd = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        rustix::fs::openat(&fd, "file", OFlags::CREATE | OFlags::WRONLY, Mode::RUSR).unwrap();
        dir = fs::File::from(fd);
    }
    drop(dir);
    apply(root, &[Entry::file(".wh.deep", b"")]).unwrap();
    assert!(!exists(&root.join("deep")));
}

#[test]
fn the_applier_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<Applier>();
}

/// Set in the child process that runs [`unprivileged_body`] as `nobody`.
const UNPRIVILEGED: &str = "STRATA_APPLY_TEST_UNPRIVILEGED";

#[test]
fn as_an_unprivileged_user() {
    if std::env::var_os(UNPRIVILEGED).is_some() {
        return unprivileged_body();
    }
    if !rustix::process::geteuid().is_root() || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to drop to nobody");
        return;
    }
    let output = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "archive::apply::tests::as_an_unprivileged_user"])
        .env(UNPRIVILEGED, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// Ownership is not applied, ids are still reported, read-only
/// directories get their mode at the end, devices are refused.
fn unprivileged_body() {
    assert!(!rustix::process::geteuid().is_root());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let report = apply(
        root,
        &[
            Entry::dir("ro/").mode(0o555).mtime(9).owner(1000, 1000),
            Entry::dir("ro/sub/").mode(0o500),
            Entry::file("ro/sub/f", b"f").mode(0o4755).owner(1000, 1000),
            Entry::device("fifo", b'6', 0, 0).mode(0o600),
        ],
    )
    .unwrap();
    assert_eq!(report.uids, BTreeSet::from([0, 1000]));
    assert_eq!(owner(&root.join("ro")), (65534, 65534));
    assert_eq!(owner(&root.join("ro/sub/f")), (65534, 65534));
    assert_eq!(perm(&root.join("ro/sub/f")), 0o4755);
    assert_eq!(
        (perm(&root.join("ro")), mtime(&root.join("ro"))),
        (0o555, (9, 0))
    );
    assert_eq!(perm(&root.join("ro/sub")), 0o500);
    assert!(lmeta(&root.join("fifo")).file_type().is_fifo());

    let err = apply(root, &[Entry::device("null", b'3', 1, 3)]).unwrap_err();
    assert!(
        matches!(&err, ApplyError::Unsupported { entry, .. } if entry == "null"),
        "{err}"
    );
    // Let the temporary directory be removed.
    for dir in ["ro", "ro/sub"] {
        fs::set_permissions(
            root.join(dir),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
}

//! Tests of the changeset writer: exact members and headers, determinism,
//! and the tars applied back or read by GNU tar, bsdtar and tar-split.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::fs::copy::copy_tree;
use sha2::{Digest, Sha256};
use std::process::Command;
use tarsplit::{Event, Member, Parser};
use testtree::write;

/// The tar block size.
const BLOCK: usize = 512;

fn changeset(old: Option<&Path>, new: &Path) -> (Vec<u8>, ChangesetStats) {
    let mut out = Vec::new();
    let stats = write_changeset(old, new, &mut out).unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    (out, stats)
}

/// Every member with its payload, parsed (and checksum-verified) by
/// tarsplit's parser.
fn members(tar: &[u8]) -> Vec<(Member, Vec<u8>)> {
    let mut parser = Parser::default();
    let mut out: Vec<(Member, Vec<u8>)> = Vec::new();
    let mut pos = 0;
    loop {
        match parser.step(&tar[pos..]).unwrap() {
            Event::NeedInput => break,
            Event::Raw(n) => pos += n,
            Event::Data(n) => {
                out.last_mut()
                    .unwrap()
                    .1
                    .extend_from_slice(&tar[pos..pos + n]);
                pos += n;
            }
            Event::Member => out.push((parser.member().clone(), Vec::new())),
            Event::MemberEnd | Event::End => {}
        }
    }
    parser.finish().unwrap();
    assert!(parser.ended());
    out
}

fn find<'a>(members: &'a [(Member, Vec<u8>)], name: &[u8]) -> &'a (Member, Vec<u8>) {
    members
        .iter()
        .find(|(m, _)| m.name == name)
        .unwrap_or_else(|| panic!("no member {}", String::from_utf8_lossy(name)))
}

fn rich(tmp: &Path) -> PathBuf {
    let root = tmp.join("rich");
    testtree::build_rich(&root);
    root
}

fn save(tmp: &Path, tar: &[u8]) -> PathBuf {
    let path = tmp.join("layer.tar");
    std::fs::write(&path, tar).unwrap();
    path
}

#[test]
fn same_trees_give_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rich(tmp.path());
    let (first, _) = changeset(None, &root);
    let (second, _) = changeset(None, &root);
    let copy = tmp.path().join("copy");
    copy_tree(&root, &copy).unwrap();
    let (third, _) = changeset(None, &copy);
    let digest = |b: &[u8]| hex::encode(Sha256::digest(b));
    assert_eq!(digest(&first), digest(&second));
    assert_eq!(digest(&first), digest(&third));
}

#[test]
fn tarsplit_reproduces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, _) = changeset(None, &rich(tmp.path()));
    let rebuilt = tarsplit::memory::round_trip(&tar, 4096, 1 << 30).unwrap();
    assert!(rebuilt.as_deref() == Some(tar.as_slice()));
}

#[test]
fn gnu_tar_and_bsdtar_list_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, stats) = changeset(None, &rich(tmp.path()));
    let path = save(tmp.path(), &tar);
    for tool in ["tar", "bsdtar"] {
        let out = Command::new(tool).arg("-tvf").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // GNU tar 1.34 does not know POSIX hdrcharset (on the non-UTF-8
        // name) and says so; anything else is a failure.
        let known = "tar: Ignoring unknown extended header keyword 'hdrcharset'";
        let unexpected: Vec<_> = stderr.lines().filter(|l| *l != known).collect();
        assert!(
            out.status.success() && unexpected.is_empty(),
            "{tool}: {stderr}"
        );
        let lines = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
        assert_eq!(lines, stats.entries, "{tool}");
    }
}

#[test]
fn members_carry_the_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, stats) = changeset(None, &rich(tmp.path()));
    let all = members(&tar);
    assert_eq!(all.len() as u64, stats.entries);
    assert_eq!(stats.skipped_sockets, 1);
    assert_eq!(stats.hardlinks, 2);
    assert!(
        all.iter()
            .all(|(m, _)| !m.name.starts_with(b"./") && m.name != b"sock")
    );
    // Directory names end in a slash; order is the walk's.
    let (d, _) = find(&all, b"d/");
    assert_eq!((d.kind, d.mode, d.uid, d.gid), (b'5', 0o755, 1234, 5678));
    assert_eq!(d.xattrs, vec![(b"user.dir".to_vec(), b"on a dir".to_vec())]);
    let (file, data) = find(&all, b"d/file");
    assert_eq!(
        (file.kind, file.mode, file.uid, file.gid),
        (b'0', 0o4755, 1234, 5678)
    );
    assert_eq!(data, b"hello\n");
    let names: Vec<&[u8]> = file.xattrs.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(
        names,
        [&b"security.capability"[..], b"trusted.test", b"user.test"]
    );
    assert_eq!(file.xattrs[0].1, testtree::CAPABILITY);
    assert_eq!(file.xattrs[1].1, b"trusted\0binary\xff");
    for link in [&b"d/hard"[..], b"other/hard2"] {
        let (m, _) = find(&all, link);
        assert_eq!(
            (m.kind, m.link_name.as_slice(), m.size),
            (b'1', &b"d/file"[..], 0)
        );
    }
    let (symlink, _) = find(&all, b"d/link");
    assert_eq!(
        (symlink.kind, symlink.link_name.as_slice()),
        (b'2', &b"file"[..])
    );
    assert_eq!(find(&all, b"d/longtarget").0.link_name, b"t".repeat(150));
    let (null, _) = find(&all, b"dev/null");
    assert_eq!((null.kind, null.dev_major, null.dev_minor), (b'3', 1, 3));
    let (block, _) = find(&all, b"dev/loop");
    assert_eq!((block.kind, block.dev_major, block.dev_minor), (b'4', 7, 0));
    let (fifo, _) = find(&all, b"dev/fifo");
    assert_eq!((fifo.kind, fifo.mode, fifo.uid), (b'6', 0o620, 1234));
    assert_eq!(find(&all, b"d/sticky/").0.mode, 0o1777);
    assert_eq!(find(&all, b"d/setgid").0.mode, 0o2750);
    assert_eq!(find(&all, b"big.bin").1.len(), (1 << 20) + 7);
    assert_eq!(find(&all, b"raw\xff\xfe").1, b"not utf8");
    // Whole seconds only.
    assert!(
        all.iter()
            .all(|(m, _)| m.mtime.nanos == 0 && m.mtime.secs >= 1_500_000_000)
    );
}

#[test]
fn headers_follow_the_fixed_conventions() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, _) = changeset(None, &rich(tmp.path()));
    assert_eq!(tar.len() % BLOCK, 0);
    assert!(tar[tar.len() - 2 * BLOCK..].iter().all(|&b| b == 0));
    assert!(
        tar[tar.len() - 3 * BLOCK..tar.len() - 2 * BLOCK]
            .iter()
            .any(|&b| b != 0)
    );
    let all = members(&tar);
    for (member, _) in &all {
        let h = &tar[member.header_offset as usize..][..BLOCK];
        let name = String::from_utf8_lossy(&member.name);
        assert_eq!(&h[257..265], b"ustar\x0000", "{name}");
        assert_eq!(&h[148 + 6..156], b"\0 ", "{name}");
        assert!(h[148..154].iter().all(u8::is_ascii_digit), "{name}");
        assert_eq!((h[107], h[123], h[135], h[147]), (0, 0, 0, 0), "{name}");
        assert!(h[265..329].iter().all(|&b| b == 0), "uname/gname of {name}");
        let device = matches!(h[156], b'3' | b'4');
        assert_eq!(
            h[329..345].iter().all(|&b| b == 0),
            !device,
            "devices of {name}"
        );
    }
    let (file, _) = find(&all, b"d/file");
    let h = &tar[file.header_offset as usize..][..BLOCK];
    assert_eq!(h[156], b'x');
    assert_eq!(&h[..22], b"d/PaxHeaders.0/file\0\0\0");
    let main = &tar[file.header_offset as usize + 2 * BLOCK..][..BLOCK];
    assert_eq!(&main[100..108], b"0004755\0");
    assert_eq!(&main[108..116], b"0002322\0");
    assert_eq!(&main[124..136], b"00000000006\0");
    // A plain entry has no PAX header at all.
    let (plain, _) = find(&all, b"other/x");
    assert_eq!(tar[plain.header_offset as usize + 156], b'0');
}

#[test]
fn gnu_tar_extracts_long_names_and_xattrs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rich(tmp.path());
    let (tar, _) = changeset(None, &root);
    let path = save(tmp.path(), &tar);
    let out_dir = tmp.path().join("extracted");
    std::fs::create_dir(&out_dir).unwrap();
    let out = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf"])
        .arg(&path)
        .arg("-C")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = testtree::snapshot(&root);
    let got = testtree::snapshot(&out_dir);
    for (rel, w) in want
        .iter()
        .filter(|(rel, w)| w.kind != 's' && !rel.is_empty())
    {
        let shown = String::from_utf8_lossy(rel);
        let g = got
            .get(rel)
            .unwrap_or_else(|| panic!("{shown} not extracted"));
        assert_eq!(
            (g.kind, g.mode, g.uid, g.gid),
            (w.kind, w.mode, w.uid, w.gid),
            "{shown}"
        );
        assert_eq!(
            (&g.hash, &g.target, g.rdev),
            (&w.hash, &w.target, w.rdev),
            "{shown}"
        );
        assert_eq!(g.xattrs, w.xattrs, "{shown}");
        assert_eq!(g.mtime.0, w.mtime.0, "{shown}");
        assert_eq!(g.link_group, w.link_group, "{shown}");
    }
    let long = format!("d/{}", testtree::long_name());
    assert_eq!(got[long.as_bytes()].size, 9);
}

#[test]
fn deletions_become_whiteouts() {
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    write(&old.join("etc/passwd"), b"root");
    write(&old.join("etc/group"), b"root");
    write(&old.join("tmp/x/y"), b"y");
    // tmp keeps an entry, so it is not replaced (no opaque marker).
    write(&old.join("tmp/z"), b"z");
    write(&old.join("keep"), b"k");
    testtree::set_all_times(&old);
    let new = tmp.path().join("new");
    copy_tree(&old, &new).unwrap();
    std::fs::remove_file(new.join("etc/group")).unwrap();
    std::fs::remove_dir_all(new.join("tmp/x")).unwrap();
    write(&new.join("etc/passwd"), b"root:x");
    let (tar, stats) = changeset(Some(&old), &new);
    assert_eq!(stats.whiteouts, 2);
    let all = members(&tar);
    let names: Vec<&[u8]> = all.iter().map(|(m, _)| m.name.as_slice()).collect();
    assert_eq!(
        names,
        [
            &b"etc/"[..],
            b"etc/.wh.group",
            b"etc/passwd",
            b"tmp/",
            b"tmp/.wh.x"
        ]
    );
    for (m, data) in all
        .iter()
        .filter(|(m, _)| m.name.windows(4).any(|w| w == b".wh."))
    {
        assert_eq!((m.kind, m.mode, m.uid, m.gid, m.size), (b'0', 0, 0, 0, 0));
        assert_eq!((m.mtime.secs, data.len()), (0, 0));
    }
    let path = save(tmp.path(), &tar);
    let out = Command::new("bsdtar")
        .arg("-tvf")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    let line = listing
        .lines()
        .find(|l| l.ends_with("etc/.wh.group"))
        .unwrap();
    assert!(
        line.starts_with("----------  0 0      0           0 Jan  1  1970"),
        "{line}"
    );
}

/// The member names of a changeset, as strings.
fn names(tar: &[u8]) -> Vec<String> {
    members(tar)
        .iter()
        .map(|(m, _)| String::from_utf8_lossy(&m.name).into_owned())
        .collect()
}

/// Applies `tar` onto a copy of `old` and checks the result has no
/// changes from `new`.
fn assert_applies(tmp: &Path, old: &Path, new: &Path, tar: &[u8]) {
    let applied = tmp.join("applied");
    copy_tree(old, &applied).unwrap();
    let options = crate::archive::apply::ApplyOptions::default();
    crate::archive::apply::apply_tar(&applied, tar, options).unwrap();
    let left = changes::changes(Some(new), &applied).unwrap();
    assert_eq!(changes::format_changes(&left), "");
}

/// An old tree with a directory `opt/app` to replace, and a copy of it
/// to modify.
fn app_trees(tmp: &Path) -> (PathBuf, PathBuf) {
    let old = tmp.join("old");
    for rel in [
        "etc/passwd",
        "opt/app/README",
        "opt/app/bin/tool",
        "opt/app/lib/x.so",
        "var/cache/a",
        "var/cache/b/c",
        "var/keep",
    ] {
        write(&old.join(rel), rel.as_bytes());
    }
    std::fs::create_dir(old.join("srv")).unwrap();
    testtree::set_all_times(&old);
    let new = tmp.join("new");
    copy_tree(&old, &new).unwrap();
    (old, new)
}

/// Empties `dir` (keeping the directory itself).
fn empty(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
fn replaced_directories_get_one_opaque_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = app_trees(tmp.path());
    // Everything in opt/app goes, new entries come (one a directory
    // with a name the old tree had nowhere in opt/app).
    empty(&new.join("opt/app"));
    write(&new.join("opt/app/VERSION"), b"2");
    write(&new.join("opt/app/new/file"), b"f");
    // Emptied, nothing new.
    empty(&new.join("var/cache"));
    // Empty before: nothing to hide, no marker.
    write(&new.join("srv/f"), b"f");
    let (tar, stats) = changeset(Some(&old), &new);
    assert_eq!(
        names(&tar),
        [
            "opt/",
            "opt/app/",
            "opt/app/.wh..wh..opq",
            "opt/app/VERSION",
            "opt/app/new/",
            "opt/app/new/file",
            "srv/",
            "srv/f",
            "var/",
            "var/cache/",
            "var/cache/.wh..wh..opq",
        ]
    );
    assert_eq!(stats.whiteouts, 2);
    let all = members(&tar);
    for name in [&b"opt/app/.wh..wh..opq"[..], b"var/cache/.wh..wh..opq"] {
        let (m, data) = find(&all, name);
        assert_eq!((m.kind, m.mode, m.uid, m.gid, m.size), (b'0', 0, 0, 0, 0));
        assert_eq!((m.mtime.secs, data.len()), (0, 0));
    }
    assert_applies(tmp.path(), &old, &new, &tar);
}

#[test]
fn a_surviving_entry_keeps_per_entry_whiteouts() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = app_trees(tmp.path());
    std::fs::remove_file(new.join("opt/app/README")).unwrap();
    std::fs::remove_dir_all(new.join("opt/app/lib")).unwrap();
    write(&new.join("opt/app/VERSION"), b"2");
    // bin survives, with other contents (bin itself is replaced).
    std::fs::remove_file(new.join("opt/app/bin/tool")).unwrap();
    write(&new.join("opt/app/bin/tool2"), b"t");
    let (tar, stats) = changeset(Some(&old), &new);
    assert_eq!(
        names(&tar),
        [
            "opt/",
            "opt/app/",
            "opt/app/.wh.README",
            "opt/app/VERSION",
            "opt/app/bin/",
            "opt/app/bin/.wh..wh..opq",
            "opt/app/bin/tool2",
            "opt/app/.wh.lib",
        ]
    );
    assert_eq!(stats.whiteouts, 3);
    assert_applies(tmp.path(), &old, &new, &tar);
}

#[test]
fn an_emptied_root_gets_per_entry_whiteouts() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = app_trees(tmp.path());
    empty(&new);
    write(&new.join("fresh"), b"f");
    let (tar, stats) = changeset(Some(&old), &new);
    assert_eq!(
        names(&tar),
        [".wh.etc", "fresh", ".wh.opt", ".wh.srv", ".wh.var"]
    );
    assert_eq!(stats.whiteouts, 4);
    assert_applies(tmp.path(), &old, &new, &tar);
}

#[test]
fn changes_still_list_each_deleted_entry_of_a_replaced_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = app_trees(tmp.path());
    empty(&new.join("opt/app"));
    write(&new.join("opt/app/VERSION"), b"2");
    empty(&new.join("var/cache"));
    let listed = changes::format_changes(&changes::changes(Some(&old), &new).unwrap());
    assert_eq!(
        listed,
        "C /opt\n\
         C /opt/app\n\
         D /opt/app/README\n\
         A /opt/app/VERSION\n\
         D /opt/app/bin\n\
         D /opt/app/lib\n\
         C /var\n\
         C /var/cache\n\
         D /var/cache/a\n\
         D /var/cache/b\n"
    );
}

#[test]
fn file_shrinking_under_the_writer_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write(&root.join("f"), b"12345");
    let mut writer = ChangesetWriter {
        out: TarStream::new(BufWriter::new(Vec::new()), Conventions::CHANGESET),
        new_root: &root,
        links: HashMap::new(),
        buf: vec![0; 4],
        stats: ChangesetStats::default(),
    };
    let dir = changes::open_dir_at(rustix::fs::CWD, &root).unwrap();
    let meta = changes::stat_at(std::os::fd::AsFd::as_fd(&dir), c"f").unwrap();
    let entry = Entry::for_test(std::os::fd::AsFd::as_fd(&dir), c"f", b"f", meta);
    let file = writer.open_checked(&entry).unwrap();
    let err = writer.put_content(file, b"f", 10).unwrap_err();
    assert!(matches!(err, ChangesetError::FileChanged { .. }), "{err}");
    assert!(err.to_string().contains(&*root.join("f").to_string_lossy()));
}

/// The bytes of a changeset are pinned: long names (USTAR prefix and PAX),
/// long link targets, xattrs, devices, hard links, non-UTF-8 names. A
/// change here changes the digest of every committed layer.
#[test]
fn rich_tree_bytes_are_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, _) = changeset(None, &rich(tmp.path()));
    assert_eq!(
        hex::encode(Sha256::digest(&tar)),
        "ba07812f34e2d3f48dbb29ecc61586d7993abe5e33d4006629dfd27112492d9e"
    );
}

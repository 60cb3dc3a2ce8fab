//! Test support shared by the copier, changes and changeset tests: a
//! builder for trees with every file type, and an independent metadata
//! walker (std and plain path syscalls, not the primitives under test).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps, XattrFlags};
use sha2::{Digest, Sha256};

/// A valid VFS_CAP_REVISION_2 `security.capability` (cap_net_bind_service+ep).
pub(crate) const CAPABILITY: [u8; 20] =
    [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// A 255-byte file name.
pub(crate) fn long_name() -> String {
    "L".repeat(255)
}

pub(crate) fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", path.display()));
}

pub(crate) fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: atime.0,
            tv_nsec: atime.1,
        },
        last_modification: Timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

pub(crate) fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

pub(crate) fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn write(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, data).unwrap();
}

pub(crate) fn mknod(path: &Path, file_type: FileType, major: u32, minor: u32) {
    let dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(CWD, path, file_type, Mode::from_raw_mode(0o644), dev).unwrap();
}

/// Builds a tree with every file type and the metadata that must survive:
/// setuid/setgid/sticky modes, owner 1234:5678, user.*, trusted.* and
/// security.capability xattrs, hard links, nanosecond times, long and
/// non-ASCII names, a socket, a read-only directory.
pub(crate) fn build_rich(root: &Path) {
    fs::create_dir_all(root).unwrap();
    let p = |rel: &str| root.join(rel);
    write(&p("d/file"), b"hello\n");
    chown(&p("d/file"), 1234, 5678);
    chmod(&p("d/file"), 0o4755);
    set_xattr(&p("d/file"), "user.test", b"user value");
    set_xattr(&p("d/file"), "trusted.test", b"trusted\0binary\xff");
    set_xattr(&p("d/file"), "security.capability", &CAPABILITY);
    fs::hard_link(p("d/file"), p("d/hard")).unwrap();
    write(&p("other/x"), b"x");
    fs::hard_link(p("d/file"), p("other/hard2")).unwrap();
    write(&p("d/setgid"), b"");
    chmod(&p("d/setgid"), 0o2750);
    fs::create_dir(p("d/sticky")).unwrap();
    chmod(&p("d/sticky"), 0o1777);
    std::os::unix::fs::symlink("file", p("d/link")).unwrap();
    chown(&p("d/link"), 1234, 5678);
    set_xattr(&p("d/link"), "trusted.onlink", b"v");
    std::os::unix::fs::symlink("/etc/passwd", p("abs")).unwrap();
    std::os::unix::fs::symlink("/etc", p("d/etcdir")).unwrap();
    std::os::unix::fs::symlink("t".repeat(150), p("d/longtarget")).unwrap();
    fs::create_dir(p("dev")).unwrap();
    mknod(&p("dev/null"), FileType::CharacterDevice, 1, 3);
    mknod(&p("dev/loop"), FileType::BlockDevice, 7, 0);
    mknod(&p("dev/fifo"), FileType::Fifo, 0, 0);
    chmod(&p("dev/fifo"), 0o620);
    chown(&p("dev/fifo"), 1234, 5678);
    set_xattr(&p("dev/null"), "trusted.dev", b"1");
    std::os::unix::net::UnixListener::bind(p("sock")).unwrap();
    let big: Vec<u8> = (0..(1 << 20) + 7)
        .map(|i: u32| (i * 7 % 251) as u8)
        .collect();
    write(&p("big.bin"), &big);
    write(&p(&format!("d/{}", long_name())), b"long name");
    let deep = format!("{}/{}/{}", "a".repeat(90), "b".repeat(90), "c".repeat(90));
    write(&p(&format!("{deep}/deepfile")), b"deep");
    write(&p("caf\u{e9}"), b"utf8");
    write(&root.join(OsStr::from_bytes(b"raw\xff\xfe")), b"not utf8");
    write(&p("ro/inner"), b"inside a read-only dir");
    chmod(&p("ro"), 0o555);
    chown(&p("d"), 1234, 5678);
    set_xattr(&p("d"), "user.dir", b"on a dir");
    set_all_times(root);
}

/// Gives every entry distinct nanosecond times, children before parents.
pub(crate) fn set_all_times(root: &Path) {
    let mut paths = walk_paths(root);
    paths.reverse();
    for (i, path) in paths.iter().enumerate() {
        let i = i as i64;
        set_times(
            path,
            (1_600_000_000 + i, 111_111_111 + i),
            (1_500_000_000 + i, 123_456_789 - i),
        );
    }
    set_times(root, (1_600_000_000, 5), (1_500_000_000, 7));
}

/// Every path below `root` (not `root`), parents before children.
pub(crate) fn walk_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        out.push(path.clone());
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk_paths(&path));
        }
    }
    out
}

/// What the test walker records for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) kind: char,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Size (0 for directories, whose size is not meaningful).
    pub(crate) size: u64,
    /// sha256 of a regular file's content.
    pub(crate) hash: String,
    pub(crate) rdev: u64,
    pub(crate) target: Vec<u8>,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) atime: (i64, i64),
    pub(crate) mtime: (i64, i64),
    /// For an inode with several links, the first of its paths (sorted).
    pub(crate) link_group: Option<Vec<u8>>,
}

/// Records every entry below `root`, the root itself as `""`. Each
/// entry is looked at before anything reads it, so atimes are as found.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Record> {
    let mut out = BTreeMap::new();
    let mut groups = BTreeMap::new();
    record(root, root, &mut out, &mut groups);
    out
}

type Groups = BTreeMap<(u64, u64), Vec<u8>>;

fn record(root: &Path, path: &Path, out: &mut BTreeMap<Vec<u8>, Record>, groups: &mut Groups) {
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec();
    let md = fs::symlink_metadata(path).unwrap();
    let ft = md.file_type();
    let kind = match () {
        _ if ft.is_dir() => 'd',
        _ if ft.is_file() => 'f',
        _ if ft.is_symlink() => 'l',
        _ if ft.is_char_device() => 'c',
        _ if ft.is_block_device() => 'b',
        _ if ft.is_fifo() => 'p',
        _ => 's',
    };
    let link_group = (kind != 'd' && md.nlink() > 1).then(|| {
        groups
            .entry((md.dev(), md.ino()))
            .or_insert_with(|| rel.clone())
            .clone()
    });
    let entry = Record {
        kind,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        size: if kind == 'd' { 0 } else { md.size() },
        hash: if kind == 'f' {
            hash(path)
        } else {
            String::new()
        },
        rdev: md.rdev(),
        target: if kind == 'l' {
            fs::read_link(path).unwrap().as_os_str().as_bytes().to_vec()
        } else {
            Vec::new()
        },
        xattrs: xattrs(path),
        // Reading a symlink updates its atime (there is no O_NOATIME for
        // readlink), so a copier cannot leave the source's untouched.
        atime: if kind == 'l' {
            (0, 0)
        } else {
            (md.atime(), md.atime_nsec())
        },
        mtime: (md.mtime(), md.mtime_nsec()),
        link_group,
    };
    out.insert(rel, entry);
    if kind == 'd' {
        let mut children: Vec<_> = fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        children.sort();
        for child in children {
            record(root, &child, out, groups);
        }
    }
}

/// sha256 of a file's content, read without touching its atime (which a
/// later path of the same inode would show).
fn hash(path: &Path) -> String {
    use std::io::Read;
    let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOATIME;
    let fd = rustix::fs::open(path, flags, Mode::empty()).unwrap();
    let mut data = Vec::new();
    fs::File::from(fd).read_to_end(&mut data).unwrap();
    hex::encode(Sha256::digest(&data))
}

/// All xattrs of `path` (not following a symlink), sorted.
pub(crate) fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap();
    let mut out: Vec<_> = names[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let mut value = vec![0u8; 65536];
            let len = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap();
            value.truncate(len);
            (name.to_vec(), value)
        })
        .collect();
    out.sort();
    out
}

/// Asserts two snapshots are equal, naming the first differing paths.
pub(crate) fn assert_same(a: &BTreeMap<Vec<u8>, Record>, b: &BTreeMap<Vec<u8>, Record>) {
    let only_a: Vec<_> = a
        .keys()
        .filter(|k| !b.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k))
        .collect();
    let only_b: Vec<_> = b
        .keys()
        .filter(|k| !a.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k))
        .collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "only in first: {only_a:?}; only in second: {only_b:?}"
    );
    for (path, record) in a {
        assert_eq!(
            Some(record),
            b.get(path),
            "{}",
            String::from_utf8_lossy(path)
        );
    }
}

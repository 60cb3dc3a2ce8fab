//! The driver conformance suite: the same layer chains imported into a
//! vfs store and an overlay store must give identical trees at every layer
//! (types, modes, owners, times, xattrs, symlink targets, devices, file
//! contents), identical original diffs, and identical generated diffs and
//! change lists between any two layers.
//!
//! Overlay needs root; without it the overlay half is skipped loudly.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use strata::{DiffFormat, Error};
use testkit::{TarBuilder, sha256};

use crate::common::TestStore;

/// The two stores, or `None` when overlay cannot run here.
fn stores() -> Option<(TestStore, TestStore)> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: the overlay driver needs root");
        return None;
    }
    Some((
        TestStore::with_driver("vfs"),
        TestStore::with_driver("overlay"),
    ))
}

/// Everything a tree holds, path → description. Directory times are left
/// out when `dir_times` is false (directories a tar does not list get the
/// time of the extraction).
fn snapshot(root: &Path, dir_times: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let kind = meta.file_type();
            let rel = path
                .strip_prefix(root)
                .expect("inside")
                .display()
                .to_string();
            let mut text = format!("mode {:o} owner {}:{}", meta.mode(), meta.uid(), meta.gid());
            if !kind.is_dir() || dir_times {
                text.push_str(&format!(" mtime {}.{}", meta.mtime(), meta.mtime_nsec()));
            }
            if kind.is_file() {
                let data = std::fs::read(&path).expect("read");
                text.push_str(&format!(" size {} sha256 {}", data.len(), sha256(&data)));
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                text.push_str(&format!(" -> {}", target.display()));
            } else if kind.is_char_device() || kind.is_block_device() {
                text.push_str(&format!(" rdev {}", meta.rdev()));
            }
            text.push_str(&xattrs(&path));
            out.insert(rel, text);
            if kind.is_dir() {
                pending.push(path);
            }
        }
    }
    out
}

fn xattrs(path: &Path) -> String {
    let mut names = vec![0u8; 64 << 10];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap_or(0);
    let mut list: Vec<&[u8]> = names[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .collect();
    list.sort();
    let mut out = String::new();
    for name in list {
        if name == b"security.selinux" {
            continue;
        }
        let mut value = vec![0u8; 64 << 10];
        let len = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap_or(0);
        out.push_str(&format!(
            " {}={}",
            String::from_utf8_lossy(name),
            hex_of(&value[..len])
        ));
    }
    out
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Imports `layers` as a chain into both stores and checks every layer.
fn conform(layers: &[Vec<u8>], dir_times: bool) {
    let Some((vfs, overlay)) = stores() else {
        return;
    };
    let mut ids = Vec::new();
    for (i, tar) in layers.iter().enumerate() {
        let parent = ids
            .last()
            .map(|(a, b): &(String, String)| (a.clone(), b.clone()));
        let a = vfs
            .import(tar, parent.as_ref().map(|p| p.0.as_str()), &[])
            .unwrap_or_else(|e| panic!("vfs layer {i}: {e}"));
        let b = overlay
            .import(tar, parent.as_ref().map(|p| p.1.as_str()), &[])
            .unwrap_or_else(|e| panic!("overlay layer {i}: {e}"));
        assert_eq!(a.diff_digest, b.diff_digest, "layer {i}");
        ids.push((a.id, b.id));
    }
    for (i, (a, b)) in ids.iter().enumerate() {
        let left = snapshot(&vfs.store.mount_layer(a).expect("mount vfs"), dir_times);
        let right = snapshot(
            &overlay.store.mount_layer(b).expect("mount overlay"),
            dir_times,
        );
        vfs.store.unmount_layer(a).expect("unmount");
        overlay.store.unmount_layer(b).expect("unmount");
        for (path, want) in &left {
            assert_eq!(Some(want), right.get(path), "layer {i}: {path}");
        }
        assert_eq!(left, right, "layer {i}: trees differ");
        let original = |t: &TestStore, id: &str| crate::common::diff(&t.store, id);
        assert_eq!(original(&vfs, a), layers[i], "layer {i}: vfs diff");
        assert_eq!(original(&overlay, b), layers[i], "layer {i}: overlay diff");
    }
    let ((base_a, base_b), (top_a, top_b)) = (&ids[0], &ids[ids.len() - 1]);
    let generated = |t: &TestStore, top: &str, base: &str| {
        let mut out = Vec::new();
        t.store
            .diff(top, Some(base), DiffFormat::None, &mut out)
            .expect("generated diff");
        out
    };
    let (left, right) = (
        generated(&vfs, top_a, base_a),
        generated(&overlay, top_b, base_b),
    );
    if dir_times {
        assert_eq!(sha256(&left), sha256(&right), "generated diffs differ");
    }
    let listed = |t: &TestStore, top: &str, base: &str| {
        strata::archive::changes::format_changes(
            &t.store.changes(top, Some(base)).expect("changes"),
        )
    };
    assert_eq!(listed(&vfs, top_a, base_a), listed(&overlay, top_b, base_b));
    assert_eq!(
        vfs.store.diff_size(top_a, Some(base_a)).expect("size"),
        overlay.store.diff_size(top_b, Some(base_b)).expect("size")
    );
}

/// A directory member with a fixed time, mode 0755.
fn dirs(builder: TarBuilder, names: &[&str]) -> TarBuilder {
    names.iter().fold(builder, |b, name| b.dir(name))
}

#[test]
fn whiteouts_and_opaque_directories_across_layers() {
    let base = dirs(TarBuilder::default(), &["a/", "b/", "b/sub/"])
        .file("a/x", b"x")
        .file("a/y", b"y")
        .file("b/z", b"z")
        .file("b/sub/deep", b"deep")
        .file("c", b"c")
        .file("d", b"d")
        .finish();
    let second = dirs(TarBuilder::default(), &["a/", "b/"])
        .file(".wh.c", b"")
        .file("a/.wh.x", b"")
        .file("b/.wh..wh..opq", b"")
        .file("b/new", b"new")
        .file(".wh.nothing-here", b"")
        .finish();
    let third = dirs(TarBuilder::default(), &["a/", "c/"])
        .file("a/x", b"x again")
        .file("c/inside", b"c is a directory now")
        .file(".wh.d", b"")
        .finish();
    let fourth = dirs(TarBuilder::default(), &["b/"])
        .file("b/.wh.new", b"")
        .file(".wh.a", b"")
        .finish();
    conform(&[base, second, third, fourth], true);
}

#[test]
fn hard_links_within_and_across_layers() {
    let base = dirs(TarBuilder::default(), &["bin/", "etc/"])
        .file("bin/tool", b"#!/bin/sh\necho tool\n")
        .hardlink("bin/alias", "bin/tool")
        .file("etc/conf", b"conf")
        .finish();
    let second = dirs(TarBuilder::default(), &["bin/", "etc/", "sbin/"])
        .hardlink("sbin/tool", "bin/tool")
        .hardlink("etc/conf-link", "etc/conf")
        .file("etc/own", b"own")
        .hardlink("etc/own-link", "etc/own")
        .finish();
    let third = dirs(TarBuilder::default(), &["bin/"])
        .file("bin/.wh.alias", b"")
        .hardlink("bin/again", "sbin/tool")
        .finish();
    conform(&[base, second, third], true);
}

#[test]
fn parents_reached_through_symlinks_only_below() {
    let base = dirs(TarBuilder::default(), &["usr/", "usr/lib/"])
        .file("usr/lib/libc.so", b"libc")
        .symlink("lib", "usr/lib")
        .symlink("abs", "/usr")
        .finish();
    // No `lib/` member: the file must land in usr/lib on both drivers.
    let second = TarBuilder::default()
        .file("lib/libm.so", b"libm")
        .file("abs/lib/libz.so", b"libz")
        .file("lib/.wh.libc.so", b"")
        .file("fresh/dir/file", b"implicit parents")
        .finish();
    conform(&[base, second], false);
}

#[test]
fn xattrs_devices_and_fifos() {
    let capability = [
        1u8, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let base = dirs(TarBuilder::default(), &["dev/", "bin/"])
        .pax(&[("SCHILY.xattr.user.note", b"hello")])
        .file("bin/noted", b"noted")
        .pax(&[("SCHILY.xattr.security.capability", &capability)])
        .file("bin/ping", b"ping")
        .node("dev/null", b'3', 1, 3)
        .node("dev/loop0", b'4', 7, 0)
        .node("dev/pipe", b'6', 0, 0)
        .finish();
    let second = dirs(TarBuilder::default(), &["dev/", "bin/"])
        .pax(&[("SCHILY.xattr.user.note", b"changed")])
        .file("bin/noted", b"noted")
        .file("dev/.wh.loop0", b"")
        .node("dev/zero", b'3', 1, 5)
        .finish();
    conform(&[base, second], true);
}

#[test]
fn entries_replaced_within_one_tar() {
    let base = dirs(TarBuilder::default(), &["d/", "e/", "f/"])
        .file("d/old", b"old")
        .file("e/old", b"old")
        .file("f/old", b"old")
        .finish();
    let second = TarBuilder::default()
        // A file over a lower directory, then a directory again: the
        // lower contents must not come back.
        .file("d", b"file")
        .dir("d/")
        .file("d/new", b"new")
        // A whiteout, then the directory recreated.
        .file(".wh.e", b"")
        .dir("e/")
        .file("e/new", b"new")
        // A whiteout, then a hard link to a lower file that is gone.
        .dir("f/")
        .file("f/kept", b"kept")
        .finish();
    conform(&[base, second], true);
}

#[test]
fn a_long_chain() {
    let layers: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            let layer = dirs(TarBuilder::default(), &["data/"])
                .file("data/shared", format!("layer {i}").as_bytes())
                .file(&format!("data/only-{i}"), b"x");
            // Layer 0 whites out the file it just wrote: its payload must
            // still come back in the layer's diff.
            layer
                .file(&format!("data/.wh.only-{}", i.max(1) - 1), b"")
                .finish()
        })
        .collect();
    conform(&layers, true);
}

#[test]
fn parents_cannot_be_deleted_and_mounts_are_counted() {
    let Some((vfs, overlay)) = stores() else {
        return;
    };
    for t in [&vfs, &overlay] {
        let base = t
            .import(&TarBuilder::default().file("a", b"a").finish(), None, &[])
            .expect("base");
        let top = t
            .import(
                &TarBuilder::default().file("b", b"b").finish(),
                Some(&base.id),
                &[],
            )
            .expect("top");
        assert!(matches!(
            t.store.delete_layer(&base.id),
            Err(Error::HasChildren { .. })
        ));
        let first = t.store.mount_layer(&top.id).expect("mount");
        let second = t.store.mount_layer(&top.id).expect("mount again");
        assert_eq!(first, second);
        assert_eq!(t.store.mount_count(&top.id).expect("count"), 2);
        assert!(first.join("a").is_file() && first.join("b").is_file());
        assert_eq!(t.store.unmount_layer(&top.id).expect("unmount"), 1);
        assert!(first.join("a").is_file(), "still mounted once");
        assert_eq!(t.store.unmount_layer(&top.id).expect("unmount"), 0);
        assert!(matches!(
            t.store.unmount_layer(&top.id),
            Err(Error::NotMounted(_))
        ));
        t.store.delete_layer(&top.id).expect("delete top");
        t.store.delete_layer(&base.id).expect("delete base");
        t.assert_only(&[]);
    }
}

/// Overlay: a 300-deep chain imports (each import looks below through a
/// view of all its parents), mounts with the uppermost version of each
/// file, and rebuilds its tars from `diff/` alone.
#[test]
fn a_three_hundred_deep_overlay_chain() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: the overlay driver needs root");
        return;
    }
    let t = TestStore::with_driver("overlay");
    let mut parent: Option<String> = None;
    let mut tars = Vec::new();
    for i in 0..300 {
        let tar = TarBuilder::default()
            .file("shared", format!("{i}").as_bytes())
            .file(&format!("only-{i}"), b"x")
            .finish();
        let layer = t.import(&tar, parent.as_deref(), &[]).expect("import");
        tars.push((layer.id.clone(), tar));
        parent = Some(layer.id);
    }
    let top = parent.expect("top");
    let mounted = t.store.mount_layer(&top).expect("mount 300 deep");
    let shared = std::fs::read_to_string(mounted.join("shared")).expect("read");
    let all = (0..300).all(|i| mounted.join(format!("only-{i}")).exists());
    t.store.unmount_layer(&top).expect("unmount");
    assert_eq!(shared, "299");
    assert!(all, "every layer shows through");
    for (id, tar) in [&tars[0], &tars[150], &tars[299]] {
        assert_eq!(&crate::common::diff(&t.store, id), tar);
    }
}

/// A hard link to a file the same tar whited out has no target on either
/// driver: both refuse the layer, naming the entry.
#[test]
fn a_link_to_a_whited_out_file_is_refused_alike() {
    let Some((vfs, overlay)) = stores() else {
        return;
    };
    let base = TarBuilder::default().file("f", b"f").finish();
    let top = TarBuilder::default()
        .file(".wh.f", b"")
        .hardlink("g", "f")
        .finish();
    for t in [&vfs, &overlay] {
        let driver = t.store.driver_name();
        let base = t.import(&base, None, &[]).expect("base");
        let err = t
            .import(&top, Some(&base.id), &[])
            .map(|l| l.id)
            .expect_err(driver);
        assert!(err.to_string().contains("\"g\""), "{driver}: {err}");
        t.assert_only(&[&base.id]);
    }
}

/// Importing `tar` on `parent` fails with an error naming the entry `name`
/// and saying `why`.
fn refused(t: &TestStore, tar: &[u8], parent: Option<&str>, name: &str, why: &str) {
    let driver = t.store.driver_name();
    let err = t
        .import(tar, parent, &[])
        .map(|l| l.id)
        .expect_err(&format!("{driver}: {name}"));
    let message = err.to_string();
    assert!(
        message.contains(&format!("{name:?}")),
        "{driver}: {message}"
    );
    assert!(message.contains(why), "{driver}: {message}");
}

/// A child layer writing beneath a parent's symlink whose target does not
/// exist (inside the root, absolute, or part-way): neither driver creates
/// the target; both refuse the layer, naming the entry, and keep only the
/// parent. (Overlay used to create the target through the merged view.)
#[test]
fn writing_beneath_a_dangling_symlink_is_refused_alike() {
    let Some((vfs, overlay)) = stores() else {
        return;
    };
    let base = dirs(TarBuilder::default(), &["some/"])
        .symlink("dangling", "missing")
        .symlink("absolute", "/nowhere/dir")
        .symlink("partway", "some/missing")
        .symlink("chained", "dangling")
        .finish();
    let children = ["dangling/f", "absolute/f", "partway/deep/f", "chained/f"];
    for t in [&vfs, &overlay] {
        let base = t.import(&base, None, &[]).expect("base");
        for name in children {
            let top = TarBuilder::default().file(name, b"x").finish();
            refused(t, &top, Some(&base.id), name, "symlink");
            t.assert_only(&[&base.id]);
        }
    }
}

/// Beneath a symlink whose target exists, missing directories are created
/// in the target on both drivers.
#[test]
fn missing_directories_beneath_a_symlink_are_created_in_its_target() {
    let base = dirs(TarBuilder::default(), &["usr/", "usr/lib/"])
        .file("usr/lib/libc.so", b"libc")
        .symlink("lib", "usr/lib")
        .finish();
    let second = TarBuilder::default()
        .file("lib/new/deeper/file", b"created in usr/lib")
        .finish();
    conform(&[base, second], false);
}

/// A 0:0 character device not named `.wh.*` is a device to the OCI spec
/// and a deletion to overlay: no driver can keep what it means, so both
/// refuse it, naming the entry, whether it would hide a parent's file or
/// not. (vfs used to keep a device, overlay to delete the parent's file.)
#[test]
fn a_zero_zero_character_device_is_refused_alike() {
    let Some((vfs, overlay)) = stores() else {
        return;
    };
    let base = dirs(TarBuilder::default(), &["dev/"])
        .file("dev/hidden", b"the parent's file")
        .finish();
    let over_a_file = dirs(TarBuilder::default(), &["dev/"])
        .node("dev/hidden", b'3', 0, 0)
        .finish();
    let alone = dirs(TarBuilder::default(), &["dev/"])
        .node("dev/nothing", b'3', 0, 0)
        .finish();
    for t in [&vfs, &overlay] {
        let driver = t.store.driver_name();
        let base = t.import(&base, None, &[]).expect("base");
        for (tar, name, parent) in [
            (&over_a_file, "dev/hidden", Some(base.id.as_str())),
            (&alone, "dev/nothing", Some(base.id.as_str())),
            (&alone, "dev/nothing", None),
        ] {
            refused(t, tar, parent, name, "0:0 character device");
            t.assert_only(&[&base.id]);
        }
        let mounted = t.store.mount_layer(&base.id).expect("mount");
        let kept = std::fs::read(mounted.join("dev/hidden")).expect("read");
        t.store.unmount_layer(&base.id).expect("unmount");
        assert_eq!(kept, b"the parent's file", "{driver}");
    }
}

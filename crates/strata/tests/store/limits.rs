//! Memory bounded by the input: compressed layers whose decoder would need
//! more memory than strata allows are refused with an error naming the
//! limit, leaving the store as it was; real layers made with the largest
//! presets still import; an archive of many entries loads with
//! bookkeeping linear in it.

use std::io::Write;
use std::process::{Command, Stdio};

use strata::ArchiveInput;
use strata::compression::{Compression, MemoryLimit, XZ_MEMORY_LIMIT, ZSTD_WINDOW_LOG_MAX};
use testkit::compressed::{xz_declaring_dictionary, zstd_with_window};
use testkit::image_archive as ia;

use crate::common::{TestStore, diff};

/// A small layer: a few files, one of them a megabyte of zeros.
fn layer_tar() -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    testkit::tar_of(&[
        ("etc/motd", b"hello\n"),
        ("var/zeros", &zeros),
        ("bin/tool", b"\x7fELF tool"),
    ])
}

fn refused(t: &TestStore, packed: &[u8]) -> MemoryLimit {
    match t.import(packed, None, &["refused"]) {
        Err(strata::Error::MemoryLimit(limit)) => limit,
        other => panic!("want a memory limit error, got {other:?}"),
    }
}

#[test]
fn xz_bomb_is_refused_and_leaves_nothing() {
    let t = TestStore::new();
    // Declares a 1 GiB dictionary: a decoder without a limit allocates
    // (and, as the zeros come out, fills) that much.
    let bomb = xz_declaring_dictionary(&layer_tar(), 30);
    assert!(bomb.len() < 4096, "bomb is {} bytes", bomb.len());
    let limit = refused(&t, &bomb);
    assert_eq!(limit.format, Compression::Xz);
    assert_eq!(limit.limit, XZ_MEMORY_LIMIT);
    assert!(limit.needed.is_some_and(|n| n > 1 << 30), "{limit:?}");
    assert!(limit.to_string().contains("more than the limit of 66 MiB"));
    t.assert_only(&[]);
}

#[test]
fn xz_9_layer_imports() {
    let t = TestStore::new();
    let tar = layer_tar();
    let mut xz = Command::new("xz")
        .args(["-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run xz (xz-utils)");
    let mut stdin = xz.stdin.take().expect("stdin");
    let input = tar.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = xz.wait_with_output().expect("xz");
    writer.join().expect("writer").expect("write to xz");
    assert!(out.status.success());
    let layer = t.import(&out.stdout, None, &["nine"]).expect("xz -9 layer");
    assert_eq!(layer.compression, Compression::Xz);
    assert_eq!(diff(&t.store, "nine"), tar);
    // The same layer declaring the largest dictionary the limit allows.
    let at_limit = xz_declaring_dictionary(&tar, 26);
    let t2 = TestStore::new();
    t2.import(&at_limit, None, &["at-limit"])
        .expect("64 MiB dictionary");
    assert_eq!(diff(&t2.store, "at-limit"), tar);
}

#[test]
fn zstd_window_above_the_limit_is_refused_and_leaves_nothing() {
    let t = TestStore::new();
    let tar = layer_tar();
    let over = zstd_with_window(&tar, ZSTD_WINDOW_LOG_MAX + 1);
    let limit = refused(&t, &over);
    assert_eq!(limit.format, Compression::Zstd);
    assert_eq!(limit.limit, 1 << ZSTD_WINDOW_LOG_MAX);
    t.assert_only(&[]);

    let at_limit = zstd_with_window(&tar, ZSTD_WINDOW_LOG_MAX);
    let layer = t
        .import(&at_limit, None, &["at-limit"])
        .expect("64 MiB window");
    let normal = zstd::encode_all(&tar[..], 19).expect("zstd -19");
    let again = t.import(&normal, None, &["normal"]).expect("zstd -19");
    assert_eq!(layer.compression, Compression::Zstd);
    assert_eq!(layer.diff_digest, again.diff_digest);
    assert_eq!(diff(&t.store, "normal"), tar);
}

/// `manifest.json` entries for `image`, one per tag.
fn entries_for(image: &ia::Image, tags: impl Iterator<Item = String>) -> Vec<serde_json::Value> {
    let layers: Vec<String> = image
        .layers
        .iter()
        .map(|l| format!("blobs/sha256/{}", testkit::sha256(&l.blob)))
        .collect();
    tags.map(|tag| {
        serde_json::json!({
            "Config": format!("blobs/sha256/{}", image.id()),
            "RepoTags": [tag],
            "Layers": layers,
        })
    })
    .collect()
}

#[test]
fn manifest_with_ten_thousand_entries_loads() {
    const ENTRIES: usize = 10_000;
    let t = TestStore::new();
    let base = ia::Layer::plain(testkit::tar_of(&[("etc/motd", b"hello\n")]));
    let top = ia::Layer::plain(testkit::tar_of(&[("app/run", b"#!/bin/sh\n")]));
    let a = ia::Image::new("a", &[], vec![base.clone()]);
    let b = ia::Image::new("b", &[], vec![base, top]);
    let mut archive = ia::docker_modern(&[a.clone(), b.clone()]);
    // Entries alternate between the two images, each with its own tag; one
    // tag is claimed by an entry of b, then by a later entry of a.
    let mut items = Vec::new();
    for i in 0..ENTRIES {
        let image = if i % 2 == 0 { &a } else { &b };
        let tag = match i {
            1 | 9998 => "localhost/contested:latest".to_string(),
            _ => format!("localhost/many:{i}"),
        };
        items.extend(entries_for(image, std::iter::once(tag)));
    }
    archive.set_file(
        "manifest.json",
        &serde_json::to_vec(&items).expect("manifest.json"),
    );
    let path = t.dir.path().join("many.tar");
    std::fs::write(&path, archive.to_tar()).expect("write archive");
    let file = std::fs::File::open(&path).expect("open");
    let report = t.store.load(ArchiveInput::File(file)).expect("load");

    // One image per config, each with the names its entries gave it.
    assert_eq!(report.images.len(), 2);
    assert_eq!((report.imported, report.reused), (2, 1));
    let (got_a, got_b) = (&report.images[0], &report.images[1]);
    assert_eq!(
        (got_a.id.as_str(), got_b.id.as_str()),
        (a.id().as_str(), b.id().as_str())
    );
    assert_eq!(got_a.names.len(), ENTRIES / 2);
    assert_eq!(got_b.names.len(), ENTRIES / 2 - 1);
    let contested = t
        .store
        .image("localhost/contested:latest")
        .expect("contested");
    assert_eq!(contested.id, a.id());
    assert_eq!(t.store.image("localhost/many:9999").expect("b").id, b.id());
    assert_eq!(t.store.images().expect("images").len(), 2);
    assert_eq!(t.store.layers().expect("layers").len(), 2);
}

//! Pushes through the library, as a registry built on a store makes them:
//! blobs uploaded with `Store::start_upload`, checked by
//! `Store::finish_upload`, then `Store::land_pushed_manifest`; the image
//! is served with the pushed manifest and keeps its blobs, and `fsck`
//! finds a kept blob gone bad and forgets it on repair.

use std::io::Write;

use strata::compression::{Compression, Encoder};
use strata::digest::Digest;
use strata::{Error, ServedBlob, Store};
use testkit::TarBuilder;

use crate::common::TestStore;

/// A one-layer image: the layer blob (gzip), the config, the manifest.
struct Pushable {
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
}

fn pushable() -> Pushable {
    let tar = TarBuilder::default()
        .dir("etc/")
        .file("etc/hello", b"pushed through the library\n")
        .finish();
    let mut gzip = Encoder::new(Compression::Gzip, Vec::new()).expect("gzip");
    gzip.write_all(&tar).expect("gzip");
    let layer = gzip.finish().expect("gzip");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&tar).to_string()]},
    }))
    .expect("config");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": Digest::of(&config).to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": Digest::of(&layer).to_string(),
            "size": layer.len(),
        }],
    }))
    .expect("manifest");
    Pushable {
        layer,
        config,
        manifest,
    }
}

/// Uploads `bytes` in two pieces and keeps them under `hold`.
fn upload(store: &Store, bytes: &[u8], hold: &strata::Lease) -> Result<u64, Error> {
    let mut upload = store.start_upload()?;
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    upload.write(first)?;
    upload.write(rest)?;
    assert_eq!(upload.size(), bytes.len() as u64);
    store.finish_upload(upload, &Digest::of(bytes), hold)
}

/// Pushes `image` as `localhost/pushed:1`, as a registry would.
fn push(store: &Store, image: &Pushable) -> strata::Image {
    let hold = store.lease().expect("lease");
    upload(store, &image.layer, &hold).expect("layer");
    upload(store, &image.config, &hold).expect("config");
    let landed = store
        .land_pushed_manifest(&image.manifest, Some("localhost/pushed:1"), &hold)
        .expect("land");
    store.release(hold).expect("release");
    landed
}

#[test]
fn a_pushed_image_is_served_with_its_manifest_and_keeps_its_blobs() {
    let t = TestStore::new();
    let image = pushable();
    let landed = push(&t.store, &image);
    assert_eq!(landed.id, Digest::of(&image.config).hex());
    assert_eq!(landed.names, ["localhost/pushed:1"]);

    let served = t.store.served_manifest(&landed).expect("served");
    assert_eq!(served.bytes, image.manifest, "the pushed bytes");
    assert_eq!(served.digest, Digest::of(&image.manifest));
    let layer = Digest::of(&image.layer);
    assert_eq!(
        t.store.served_blob(&landed, &layer).expect("blob"),
        Some(ServedBlob::Stored {
            size: image.layer.len() as u64
        })
    );
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
}

#[test]
fn bytes_that_are_not_their_digest_are_refused_and_nothing_is_kept() {
    let t = TestStore::new();
    let hold = t.store.lease().expect("lease");
    let mut upload = t.store.start_upload().expect("upload");
    upload.write(b"some bytes").expect("write");
    let wrong = Digest::of(b"other bytes");
    match t.store.finish_upload(upload, &wrong, &hold) {
        Err(Error::ContentMismatch { actual, .. }) => {
            assert_eq!(actual, Digest::of(b"some bytes").to_string());
        }
        other => panic!("expected a content mismatch, got {other:?}"),
    }
    // A manifest naming blobs that never arrived is refused by name.
    let image = pushable();
    match t
        .store
        .land_pushed_manifest(&image.manifest, Some("x:1"), &hold)
    {
        Err(Error::BlobNotFound(digest)) => {
            assert_eq!(digest, Digest::of(&image.config).to_string())
        }
        other => panic!("expected a missing blob, got {other:?}"),
    }
    t.store.release(hold).expect("release");
    assert!(t.entries("blobs/sha256").is_empty(), "no blob kept");
    assert!(t.store.images().expect("images").is_empty());
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
}

#[test]
fn fsck_finds_a_kept_blob_gone_bad_and_repair_forgets_it() {
    let t = TestStore::new();
    let image = pushable();
    let landed = push(&t.store, &image);

    let layer = Digest::of(&image.layer);
    let path = t.root().join("blobs/sha256").join(layer.hex());
    std::fs::write(&path, b"not the blob").expect("damage the blob");
    let report = t.store.fsck(false).expect("fsck");
    assert!(!report.clean);
    let found: Vec<_> = report
        .issues
        .iter()
        .map(|i| (i.kind.as_str(), i.id.as_str(), i.repaired))
        .collect();
    assert_eq!(found, [("damaged-kept-blob", landed.id.as_str(), false)]);

    let repaired = t.store.fsck(true).expect("fsck --repair");
    assert!(repaired.clean, "{:?}", repaired.issues);
    assert!(!path.exists(), "the bad file is gone");
    let served = t.store.served_manifest(&landed).expect("served");
    assert_ne!(served.bytes, image.manifest, "a generated manifest now");
    assert!(t.store.fsck(false).expect("fsck").clean);
}

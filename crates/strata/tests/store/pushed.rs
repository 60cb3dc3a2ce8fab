//! Pushes through the library, as a registry built on a store makes them:
//! blobs uploaded with `Store::start_upload`, checked by
//! `Store::finish_upload`, then `Store::land_pushed_manifest`; the image
//! is served with the pushed manifest and keeps its blobs, and `fsck`
//! finds a kept blob gone bad and forgets it on repair. An image index
//! (`Store::land_pushed_index`) holds its images while its name stays.

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
    pushable_of(b"pushed through the library\n")
}

/// A one-layer image whose file `etc/hello` holds `contents`.
fn pushable_of(contents: &[u8]) -> Pushable {
    let tar = TarBuilder::default()
        .dir("etc/")
        .file("etc/hello", contents)
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

#[test]
fn a_pushed_index_holds_its_images_while_its_name_stays() {
    let t = TestStore::new();
    let store = &t.store;
    let (here, other) = (pushable_of(b"this host\n"), pushable_of(b"another\n"));
    let hold = store.lease().expect("lease");
    let mut ids = Vec::new();
    for image in [&here, &other] {
        upload(store, &image.layer, &hold).expect("layer");
        upload(store, &image.config, &hold).expect("config");
        let landed = store
            .land_pushed_manifest(&image.manifest, None, &hold)
            .expect("land");
        assert!(landed.names.is_empty());
        ids.push(landed.id);
    }
    let entry = |image: &Pushable, arch: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": Digest::of(&image.manifest).to_string(),
            "size": image.manifest.len(),
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    // The other platform first: the name still goes to this host's.
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            entry(&other, "other-arch"),
            entry(&here, testkit::image_archive::host_arch()),
        ],
    }))
    .expect("index");
    let named = store
        .land_pushed_index(&index, "localhost/multi:1", &hold)
        .expect("index lands");
    store.release(hold).expect("release");
    assert_eq!(named.id, ids[0]);
    assert_eq!(named.names, ["localhost/multi:1"]);

    let indexes = store.image_indexes().expect("indexes");
    assert_eq!(indexes.len(), 1);
    assert_eq!(indexes[0].digest, Digest::of(&index));
    assert_eq!(indexes[0].image, ids[0]);
    let mut held = indexes[0].images.clone();
    held.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(held, want);
    let served = store.served_index(&indexes[0]).expect("served");
    assert_eq!(
        (served.bytes, served.media_type.as_str()),
        (index.clone(), "application/vnd.oci.image.index.v1+json")
    );
    let child = store.image(&ids[1]).expect("the other image");
    let by_digest = store
        .served_manifest_by_digest(&child, &Digest::of(&other.manifest))
        .expect("served")
        .expect("by its digest");
    assert_eq!(by_digest.bytes, other.manifest);

    // Held: rmi refuses it, gc keeps the index's bytes.
    let refused = store.delete_image(&ids[1], false);
    assert!(
        matches!(&refused, Err(Error::ImageInIndex { indexes, .. }) if indexes == &["localhost/multi:1"]),
        "{refused:?}"
    );
    store.gc(&strata::GcOptions::default()).expect("gc");
    assert_eq!(store.blob(&Digest::of(&index)).expect("kept"), index);

    // Its bytes damaged: fsck says so, and repair forgets the index.
    let blob = t.root().join("blobs/sha256").join(Digest::of(&index).hex());
    std::fs::write(&blob, b"{}").expect("damage the index");
    let report = store.fsck(false).expect("fsck");
    assert!(
        report
            .issues
            .iter()
            .any(|i| i.kind == "damaged-image-index" && i.id == "localhost/multi:1"),
        "{:?}",
        report.issues
    );
    let report = store.fsck(true).expect("fsck --repair");
    assert!(report.clean, "{:?}", report.issues);
    assert!(store.image_indexes().expect("indexes").is_empty());
    push_index_again(store, &index);
    assert_eq!(store.image_indexes().expect("indexes").len(), 1);
    assert!(store.fsck(false).expect("fsck").clean, "written afresh");

    // The name given to the other image: the index is forgotten, and
    // its bytes are garbage.
    store.tag_image(&ids[1], "localhost/multi:1").expect("tag");
    assert!(store.image_indexes().expect("indexes").is_empty());

    // Pushed again, then one of its images removed by force: the index
    // goes with it, the name stays on its image, its bytes are garbage.
    push_index_again(store, &index);
    store.delete_image(&ids[1], true).expect("removed by force");
    assert!(store.image_indexes().expect("indexes").is_empty());
    assert_eq!(
        store.image(&ids[0]).expect("its image").names,
        ["localhost/multi:1"]
    );
    store.delete_image(&ids[0], false).expect("no longer held");
    store.gc(&strata::GcOptions::default()).expect("gc");
    assert!(store.blob(&Digest::of(&index)).is_err());

    // An index whose entry was never pushed is refused.
    let hold = store.lease().expect("lease");
    let unknown = pushable_of(b"never pushed\n");
    let lonely = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [entry(&unknown, "amd64")],
    }))
    .expect("index");
    let refused = store.land_pushed_index(&lonely, "localhost/lonely:1", &hold);
    assert!(
        matches!(refused, Err(Error::BlobNotFound(_))),
        "{refused:?}"
    );
    store.release(hold).expect("release");
    let report = store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
}

/// Lands `index` under `localhost/multi:1` again, under a lease of its own.
fn push_index_again(store: &Store, index: &[u8]) {
    let hold = store.lease().expect("lease");
    store
        .land_pushed_index(index, "localhost/multi:1", &hold)
        .expect("pushed again");
    store.release(hold).expect("release");
}

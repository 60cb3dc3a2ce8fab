//! Loading image archives (`docker save` in its layouts, podman/skopeo
//! archives, OCI archives and directories), plain or compressed, from files
//! and streams: the images, names and layers that come out, layers given
//! back byte for byte, and layers shared or loaded twice stored once.

use std::io::Write;
use std::path::PathBuf;

use strata::digest::Digest;
use strata::{ArchiveInput, Copied, LoadReport, Location};
use testkit::TarBuilder;
use testkit::image_archive::{self as ia, Member};

use crate::common::{TestStore, diff};

/// A base layer: directories, files, a symlink.
fn base_tar() -> Vec<u8> {
    TarBuilder::default()
        .dir("etc/")
        .file("etc/motd", b"welcome\n")
        .file("etc/os-release", b"ID=strata-test\n")
        .dir("bin/")
        .file("bin/sh", &[0x7f, b'E', b'L', b'F', 0, 1, 2, 3])
        .symlink("bin/bash", "sh")
        .finish()
}

/// A layer over the base: a new file, a changed one, a whiteout.
fn app_tar(tag: &str) -> Vec<u8> {
    TarBuilder::default()
        .dir("app/")
        .file("app/run", format!("#!/bin/sh\necho {tag}\n").as_bytes())
        .dir("etc/")
        .file("etc/os-release", format!("ID={tag}\n").as_bytes())
        .file("etc/.wh.motd", b"")
        .finish()
}

fn two_layer_image(label: &str, tags: &[&str]) -> ia::Image {
    ia::Image::new(
        label,
        tags,
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::plain(app_tar(label)),
        ],
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("zstd")
}

/// Writes `bytes` to a file beside the store.
fn archive_file(t: &TestStore, bytes: &[u8]) -> PathBuf {
    let path = t
        .dir
        .path()
        .join(format!("archive-{}.tar", testkit::sha256(bytes)));
    std::fs::write(&path, bytes).expect("write archive");
    path
}

/// Loads `bytes` from a file.
fn load_file(t: &TestStore, bytes: &[u8]) -> strata::Result<LoadReport> {
    let file = std::fs::File::open(archive_file(t, bytes)).expect("open archive");
    t.store.load(ArchiveInput::File(file))
}

/// Loads `bytes` from a stream that cannot seek (a pipe, as standard input
/// would be), fed by another thread.
fn load_pipe(t: &TestStore, bytes: Vec<u8>) -> strata::Result<LoadReport> {
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    let feeder = std::thread::spawn(move || {
        // The load may stop reading early on error: a broken pipe is fine.
        let _ = writer.write_all(&bytes);
    });
    let loaded = t.store.load(ArchiveInput::Stream(Box::new(reader)));
    feeder.join().expect("feeder");
    loaded
}

fn chain(image: &ia::Image) -> Vec<String> {
    let diff_ids: Vec<Digest> = image
        .diff_ids()
        .iter()
        .map(|d| Digest::parse(d).expect("digest"))
        .collect();
    strata::image::chain_ids(&diff_ids)
        .iter()
        .map(|d| d.hex().to_string())
        .collect()
}

/// Nothing of the load is left in `staging/`.
fn assert_staging_empty(t: &TestStore) {
    assert!(
        t.entries("staging").is_empty(),
        "staging: {:?}",
        t.entries("staging")
    );
}

/// The store has `want` as `got` says: id, names, layers (ChainIDs, each
/// giving back its exact tar), config bytes.
fn assert_image(t: &TestStore, got: &strata::Image, want: &ia::Image, names: &[&str]) {
    assert_eq!(got.id, want.id(), "image id is the config digest");
    let mut got_names = got.names.clone();
    got_names.sort();
    let mut want_names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    want_names.sort();
    assert_eq!(got_names, want_names, "names");
    let stored = t.store.image(&want.id()).expect("image by id");
    assert_eq!(stored.id, got.id);
    for name in names {
        assert_eq!(
            t.store.image(name).expect("image by name").id,
            got.id,
            "{name}"
        );
    }
    let ids = chain(want);
    assert_eq!(stored.layers, ids, "layer ids are ChainIDs");
    assert_eq!(stored.top_layer.as_ref(), ids.last());
    assert_eq!(
        t.store.image_config_bytes(&stored).expect("config"),
        want.config
    );
    for (i, (id, layer)) in ids.iter().zip(&want.layers).enumerate() {
        let record = t.store.layer(id).expect("layer record");
        assert_eq!(
            record.parent.as_ref(),
            i.checked_sub(1).map(|p| &ids[p]),
            "parent of {i}"
        );
        assert_eq!(
            record.diff_digest.as_ref().map(Digest::to_string),
            Some(layer.diff_id()),
            "diff digest of layer {i}"
        );
        let tar = diff(&t.store, id);
        assert_eq!(
            testkit::sha256(&tar),
            testkit::sha256(&layer.tar),
            "layer {i} digest"
        );
        assert_eq!(tar, layer.tar, "layer {i} bytes");
    }
    assert_staging_empty(t);
}

/// The top layer's own files hold what its tar put there.
fn assert_app_files(t: &TestStore, image: &ia::Image, label: &str) {
    let top = chain(image).pop().expect("top layer");
    let dir = t.files_dir(&top);
    assert_eq!(
        std::fs::read(dir.join("app/run")).expect("app/run"),
        format!("#!/bin/sh\necho {label}\n").as_bytes()
    );
    assert_eq!(
        std::fs::read(dir.join("etc/os-release")).expect("os-release"),
        format!("ID={label}\n").as_bytes()
    );
}

fn layer_count(t: &TestStore) -> usize {
    t.store.layers().expect("layers").len()
}

#[test]
fn docker_25_layout() {
    let t = TestStore::new();
    let image = two_layer_image("modern", &["busybox:latest"]);
    let archive = ia::docker_modern(std::slice::from_ref(&image));
    let report = load_file(&t, &archive.to_tar()).expect("load");
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_eq!(report.images.len(), 1);
    assert_image(
        &t,
        &report.images[0],
        &image,
        &["docker.io/library/busybox:latest"],
    );
    assert_app_files(&t, &image, "modern");
    // The OCI manifest that came with the image is kept, as received.
    let manifest = Digest::of(&image.oci_manifest());
    assert_eq!(report.images[0].manifests, vec![manifest]);
    assert_eq!(layer_count(&t), 2);
}

#[test]
fn docker_legacy_layout_with_symlinked_duplicate() {
    let t = TestStore::new();
    // The base tar twice in one image: same diff id, different ChainIDs;
    // `docker save` writes the second `layer.tar` as a symlink to the first.
    let image = ia::Image::new(
        "legacy",
        &["legacy:1.0"],
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::plain(app_tar("legacy")),
            ia::Layer::plain(base_tar()),
        ],
    );
    let archive = ia::docker_legacy(std::slice::from_ref(&image));
    let links = archive
        .members
        .iter()
        .filter(|m| matches!(m, Member::Symlink(p, t) if p.ends_with("/layer.tar") && t.starts_with("../")))
        .count();
    assert_eq!(links, 1, "the archive has one symlinked layer.tar");
    assert!(archive.file("repositories").is_some());
    let report = load_file(&t, &archive.to_tar()).expect("load");
    assert_eq!((report.imported, report.reused), (3, 0));
    assert_image(
        &t,
        &report.images[0],
        &image,
        &["docker.io/library/legacy:1.0"],
    );
    assert_eq!(layer_count(&t), 3);
}

#[test]
fn docker_legacy_layout_with_two_images_sharing_a_layer_file() {
    let t = TestStore::new();
    let one = two_layer_image("one", &["localhost/one:1"]);
    let two = two_layer_image("two", &["localhost/two:2"]);
    let archive = ia::docker_legacy(&[one.clone(), two.clone()]);
    // The second image's base is a symlink into the first image's v1 dir.
    assert!(
        archive
            .members
            .iter()
            .any(|m| matches!(m, Member::Symlink(p, _) if p.ends_with("/layer.tar")))
    );
    let report = load_file(&t, &archive.to_tar()).expect("load");
    assert_eq!((report.imported, report.reused), (3, 1));
    assert_eq!(report.images.len(), 2);
    assert_image(&t, &report.images[0], &one, &["localhost/one:1"]);
    assert_image(&t, &report.images[1], &two, &["localhost/two:2"]);
    assert_eq!(layer_count(&t), 3, "the shared base is stored once");
}

#[test]
fn podman_layout() {
    let t = TestStore::new();
    let image = two_layer_image("podman", &["localhost/test:v1"]);
    let archive = ia::podman(std::slice::from_ref(&image));
    assert!(!archive.members.iter().any(|m| matches!(m, Member::Dir(_))));
    let report = load_file(&t, &archive.to_tar()).expect("load");
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_image(&t, &report.images[0], &image, &["localhost/test:v1"]);
    assert_app_files(&t, &image, "podman");
}

#[test]
fn untagged_image_has_no_name() {
    let t = TestStore::new();
    let image = two_layer_image("untagged", &[]);
    let report = load_file(
        &t,
        &ia::docker_modern(std::slice::from_ref(&image)).to_tar(),
    )
    .expect("load");
    assert_image(&t, &report.images[0], &image, &[]);
}

#[test]
fn oci_archive_without_manifest_json() {
    let t = TestStore::new();
    let named = two_layer_image("oci", &["localhost/app:1"]);
    // skopeo writes just the tag as the ref name: that names no image.
    let bare = ia::Image::new("bare", &["v1"], vec![ia::Layer::plain(base_tar())]);
    let archive = ia::oci_layout(&[named.clone(), bare.clone()]);
    assert!(archive.file("manifest.json").is_none());
    let report = load_file(&t, &archive.to_tar()).expect("load");
    assert_eq!((report.imported, report.reused), (2, 1));
    assert_eq!(report.images.len(), 2);
    assert_image(&t, &report.images[0], &named, &["localhost/app:1"]);
    assert_image(&t, &report.images[1], &bare, &[]);
    assert_eq!(
        report.images[0].manifests,
        vec![Digest::of(&named.oci_manifest())]
    );
    assert_eq!(layer_count(&t), 2);
}

#[test]
fn oci_directory_via_copy() {
    let t = TestStore::new();
    let image = ia::Image::new(
        "dir",
        &["v1"],
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::compressed(app_tar("dir"), gzip(&app_tar("dir")), ia::media::LAYER_GZIP),
        ],
    );
    let other = ia::Image::new("other", &["v2"], vec![ia::Layer::plain(app_tar("other"))]);
    let dir = t.dir.path().join("layout");
    std::fs::create_dir(&dir).expect("mkdir");
    ia::oci_layout(&[other, image.clone()]).write_dir(&dir);
    let from: Location = format!("oci:{}:v1", dir.display())
        .parse()
        .expect("location");
    let to: Location = "strata:localhost/app:v1".parse().expect("location");
    let Copied::Loaded(report) = t.store.copy(&from, &to).expect("copy") else {
        panic!("a copy into the store loads");
    };
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_eq!(report.images.len(), 1, "only the image v1 names");
    assert_image(&t, &report.images[0], &image, &["localhost/app:v1"]);
    let top = t.store.layer(&chain(&image)[1]).expect("top");
    assert_eq!(
        top.compressed_digest.as_ref().map(Digest::to_string),
        Some(image.layers[1].blob_digest())
    );
    assert_eq!(layer_count(&t), 2);
    // The layout is left as it was.
    assert!(dir.join("index.json").is_file());
}

#[test]
fn gzip_compressed_archive() {
    let t = TestStore::new();
    let image = two_layer_image("gz", &["gz:1"]);
    let tar = ia::docker_modern(std::slice::from_ref(&image)).to_tar();
    let report = load_file(&t, &gzip(&tar)).expect("load");
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_image(&t, &report.images[0], &image, &["docker.io/library/gz:1"]);
}

#[test]
fn zstd_compressed_archive() {
    let t = TestStore::new();
    let image = two_layer_image("zst", &["zst:1"]);
    let tar = ia::docker_legacy(std::slice::from_ref(&image)).to_tar();
    let report = load_file(&t, &zstd(&tar)).expect("load");
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_image(&t, &report.images[0], &image, &["docker.io/library/zst:1"]);
}

#[test]
fn compressed_layers_inside() {
    let t = TestStore::new();
    let base = base_tar();
    let app = app_tar("inner");
    let image = ia::Image::new(
        "inner",
        &["localhost/inner:1"],
        vec![
            ia::Layer::compressed(base.clone(), gzip(&base), ia::media::LAYER_GZIP),
            ia::Layer::compressed(app.clone(), zstd(&app), ia::media::LAYER_ZSTD),
        ],
    );
    // Docker (containerd store) names the compressed blobs; a legacy
    // archive may hold gzip'd layer.tar files too.
    let report = load_file(
        &t,
        &ia::docker_modern(std::slice::from_ref(&image)).to_tar(),
    )
    .expect("load");
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_image(&t, &report.images[0], &image, &["localhost/inner:1"]);
    for (id, layer) in chain(&image).iter().zip(&image.layers) {
        let record = t.store.layer(id).expect("layer");
        assert_eq!(
            record.compressed_digest.as_ref().map(Digest::to_string),
            Some(layer.blob_digest())
        );
    }

    let t = TestStore::new();
    let report = load_file(
        &t,
        &ia::docker_legacy(std::slice::from_ref(&image)).to_tar(),
    )
    .expect("load legacy");
    assert_image(&t, &report.images[0], &image, &["localhost/inner:1"]);

    let t = TestStore::new();
    let report =
        load_file(&t, &ia::oci_layout(std::slice::from_ref(&image)).to_tar()).expect("load oci");
    assert_image(&t, &report.images[0], &image, &["localhost/inner:1"]);
}

#[test]
fn stream_input() {
    let t = TestStore::new();
    let image = two_layer_image("stream", &["stream:1"]);
    let tar = ia::podman(std::slice::from_ref(&image)).to_tar();
    let report = load_pipe(&t, tar).expect("load from a pipe");
    assert_eq!((report.imported, report.reused), (2, 0));
    assert_image(
        &t,
        &report.images[0],
        &image,
        &["docker.io/library/stream:1"],
    );
}

#[test]
fn compressed_stream_input() {
    let t = TestStore::new();
    let image = two_layer_image("gzstream", &["gzstream:1"]);
    let tar = ia::docker_modern(std::slice::from_ref(&image)).to_tar();
    let report = load_pipe(&t, gzip(&tar)).expect("load gzip from a pipe");
    assert_image(
        &t,
        &report.images[0],
        &image,
        &["docker.io/library/gzstream:1"],
    );

    let t = TestStore::new();
    let report = t
        .store
        .load(ArchiveInput::Stream(Box::new(std::io::Cursor::new(zstd(
            &tar,
        )))))
        .expect("load zstd from memory");
    assert_image(
        &t,
        &report.images[0],
        &image,
        &["docker.io/library/gzstream:1"],
    );
}

#[test]
fn file_that_is_a_pipe() {
    let t = TestStore::new();
    let image = two_layer_image("fifo", &["fifo:1"]);
    let tar = ia::docker_modern(std::slice::from_ref(&image)).to_tar();
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    let feeder = std::thread::spawn(move || {
        let _ = writer.write_all(&tar);
    });
    let file = std::fs::File::from(std::os::fd::OwnedFd::from(reader));
    let loaded = t.store.load(ArchiveInput::File(file));
    feeder.join().expect("feeder");
    let report = loaded.expect("load a pipe given as a file");
    assert_image(&t, &report.images[0], &image, &["docker.io/library/fifo:1"]);
}

#[test]
fn images_sharing_a_base_layer() {
    let t = TestStore::new();
    let one = two_layer_image("one", &["localhost/one:1"]);
    let two = two_layer_image("two", &["localhost/two:1"]);
    assert_eq!(one.layers[0], two.layers[0]);
    let first =
        load_file(&t, &ia::docker_modern(std::slice::from_ref(&one)).to_tar()).expect("first");
    assert_eq!((first.imported, first.reused), (2, 0));
    let second = load_file(&t, &ia::podman(std::slice::from_ref(&two)).to_tar()).expect("second");
    assert_eq!(
        (second.imported, second.reused),
        (1, 1),
        "the base is reused"
    );
    assert_image(&t, &first.images[0], &one, &["localhost/one:1"]);
    assert_image(&t, &second.images[0], &two, &["localhost/two:1"]);
    assert_eq!(layer_count(&t), 3, "the base is stored once");
    assert_eq!(t.store.images().expect("images").len(), 2);

    // Both in one archive: the second image reuses what the first brought.
    let t = TestStore::new();
    let report =
        load_file(&t, &ia::docker_modern(&[one.clone(), two.clone()]).to_tar()).expect("both");
    assert_eq!((report.imported, report.reused), (3, 1));
    assert_image(&t, &report.images[0], &one, &["localhost/one:1"]);
    assert_image(&t, &report.images[1], &two, &["localhost/two:1"]);
    assert_eq!(layer_count(&t), 3);
}

#[test]
fn loading_the_same_archive_twice() {
    let t = TestStore::new();
    let image = two_layer_image("twice", &["twice:1"]);
    let tar = ia::docker_modern(std::slice::from_ref(&image)).to_tar();
    let first = load_file(&t, &tar).expect("first");
    assert_eq!((first.imported, first.reused), (2, 0));
    let layers_before = t.store.layers().expect("layers");
    let second = load_file(&t, &tar).expect("second");
    assert_eq!((second.imported, second.reused), (0, 2), "all reused");
    assert_eq!(second.images[0].id, first.images[0].id);
    assert_image(
        &t,
        &second.images[0],
        &image,
        &["docker.io/library/twice:1"],
    );
    let images = t.store.images().expect("images");
    assert_eq!(images.len(), 1);
    let ids = |layers: Vec<strata::Layer>| {
        let mut ids: Vec<(String, String)> =
            layers.into_iter().map(|l| (l.id, l.created)).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(t.store.layers().expect("layers")),
        ids(layers_before),
        "the layers were not made again"
    );

    // Once more through another layout of the same image: still all reused.
    let third =
        load_pipe(&t, ia::oci_layout(std::slice::from_ref(&image)).to_tar()).expect("third");
    assert_eq!((third.imported, third.reused), (0, 2));
    assert_eq!(third.images[0].id, first.images[0].id);
    assert_eq!(t.store.images().expect("images").len(), 1);
}

#[test]
fn image_with_no_layers() {
    let t = TestStore::new();
    let image = ia::Image::new("empty", &["localhost/empty:1"], Vec::new());
    let report = load_file(
        &t,
        &ia::docker_modern(std::slice::from_ref(&image)).to_tar(),
    )
    .expect("load");
    assert_eq!((report.imported, report.reused), (0, 0));
    assert_eq!(report.images[0].id, image.id());
    assert!(report.images[0].layers.is_empty());
    assert_eq!(report.images[0].top_layer, None);
    assert_staging_empty(&t);
}

/// Two loads at once (as two processes would) of images sharing a base
/// layer big enough for the imports to overlap: both succeed, the base is
/// made once and the other load waits for it and reuses it.
#[test]
fn concurrent_loads_sharing_a_base() {
    let t = TestStore::new();
    let big: Vec<u8> = (0..(16u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let base = TarBuilder::default().file("big", &big).finish();
    let images: Vec<ia::Image> = ["a", "b"]
        .iter()
        .map(|l| {
            ia::Image::new(
                l,
                &[&format!("localhost/{l}:1")],
                vec![ia::Layer::plain(base.clone()), ia::Layer::plain(app_tar(l))],
            )
        })
        .collect();
    let paths: Vec<PathBuf> = images
        .iter()
        .map(|i| archive_file(&t, &ia::docker_modern(std::slice::from_ref(i)).to_tar()))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = paths
        .into_iter()
        .map(|path| {
            let store = crate::common::open(t.dir.path());
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let file = std::fs::File::open(&path).expect("open");
                barrier.wait();
                store.load(ArchiveInput::File(file))
            })
        })
        .collect();
    let reports: Vec<LoadReport> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("both loads succeed"))
        .collect();
    let imported: usize = reports.iter().map(|r| r.imported).sum();
    let reused: usize = reports.iter().map(|r| r.reused).sum();
    assert_eq!((imported, reused), (3, 1), "the base is made once");
    for (report, image) in reports.iter().zip(&images) {
        let label = if image == &images[0] { "a" } else { "b" };
        assert_image(
            &t,
            &report.images[0],
            image,
            &[&format!("localhost/{label}:1")],
        );
    }
    assert_eq!(layer_count(&t), 3);
}

/// A file handed over not at its start is read from where it is, as the
/// stream and compressed-file paths read it.
///
/// Library bug: `ArchiveIn::open` (transport/archive_in.rs) indexes an
/// uncompressed seekable file from its current position but then reads
/// members at those (relative) offsets as absolute ones, and the tar
/// crate's `entries_with_seek` mixes the two: in a debug build this panics
/// with "attempt to subtract with overflow" (tar-0.4.46 archive.rs:293).
#[test]
fn file_not_at_its_start() {
    use std::io::{Seek, SeekFrom};
    let t = TestStore::new();
    let image = two_layer_image("pos", &["pos:1"]);
    let mut bytes = vec![b'x'; 4096];
    bytes.extend(ia::docker_modern(std::slice::from_ref(&image)).to_tar());
    let mut file = std::fs::File::open(archive_file(&t, &bytes)).expect("open");
    file.seek(SeekFrom::Start(4096)).expect("seek");
    let report = t.store.load(ArchiveInput::File(file)).expect("load");
    assert_image(&t, &report.images[0], &image, &["docker.io/library/pos:1"]);
}

/// podman/skopeo name layer files `<diffid>.tar`; containers/image reads
/// such a file even when it is compressed (it only checks the decompressed
/// stream against the diff id).
///
/// Library deviation: `plan::digest_in_path` takes the hex of `<hex>.tar`
/// as the digest of the stored (compressed) bytes, so `load::check_blob_digest`
/// refuses the layer although its content matches the config's diff id.
#[test]
fn podman_layout_with_a_compressed_layer_file() {
    let t = TestStore::new();
    let base = base_tar();
    let image = ia::Image::new(
        "pgz",
        &["localhost/pgz:1"],
        vec![ia::Layer::compressed(
            base.clone(),
            gzip(&base),
            ia::media::LAYER_GZIP,
        )],
    );
    let report = load_file(&t, &ia::podman(std::slice::from_ref(&image)).to_tar()).expect("load");
    assert_image(&t, &report.images[0], &image, &["localhost/pgz:1"]);
}

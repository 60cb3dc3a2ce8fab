//! Hostile image archives: each load is refused with an error naming what
//! is wrong, and leaves the store as it was: no image, no layer (not even
//! those of an earlier image of the same archive that was fine), no blob,
//! nothing in `staging/`, and nothing written outside the store.

use std::io::Write;
use std::path::Path;

use strata::Error;
use strata::{ArchiveInput, Location};
use testkit::TarBuilder;
use testkit::image_archive::{self as ia, Archive, Member};

use crate::common::{TestStore, snapshot};

fn base_tar() -> Vec<u8> {
    TarBuilder::default()
        .dir("etc/")
        .file("etc/motd", b"hello\n")
        .file("etc/hostname", b"strata\n")
        .finish()
}

fn top_tar(label: &str) -> Vec<u8> {
    TarBuilder::default()
        .dir("app/")
        .file("app/run", label.as_bytes())
        .finish()
}

fn image(label: &str) -> ia::Image {
    ia::Image::new(
        label,
        &[&format!("localhost/{label}:1")],
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::plain(top_tar(label)),
        ],
    )
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("sha256 digest")
}

/// The store holds nothing at all.
fn assert_empty(t: &TestStore) {
    t.assert_only(&[]);
    assert!(
        t.store.images().expect("images").is_empty(),
        "an image was left"
    );
    assert!(
        t.entries("blobs/sha256").is_empty(),
        "blobs: {:?}",
        t.entries("blobs/sha256")
    );
}

/// How a hostile archive reaches `Store::load`.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// A regular file, read in place.
    File,
    /// A pipe (spilled to a temporary file first).
    Pipe,
}

fn load(t: &TestStore, bytes: &[u8], via: Via) -> strata::Result<strata::LoadReport> {
    match via {
        Via::File => {
            let path = t.dir.path().join("hostile.tar");
            std::fs::write(&path, bytes).expect("write");
            let file = std::fs::File::open(&path).expect("open");
            let loaded = t.store.load(ArchiveInput::File(file));
            std::fs::remove_file(&path).expect("remove");
            loaded
        }
        Via::Pipe => {
            let (reader, mut writer) = std::io::pipe().expect("pipe");
            let bytes = bytes.to_vec();
            let feeder = std::thread::spawn(move || {
                let _ = writer.write_all(&bytes);
            });
            let loaded = t.store.load(ArchiveInput::Stream(Box::new(reader)));
            feeder.join().expect("feeder");
            loaded
        }
    }
}

/// Loads `bytes` into a fresh store, from a file and from a pipe; each must
/// fail with a message containing every one of `needles`, leave the store
/// empty and change nothing around it. Returns the error (of the file load).
fn refused(case: &str, bytes: &[u8], needles: &[&str]) -> Error {
    let mut first = None;
    for via in [Via::File, Via::Pipe] {
        let t = TestStore::new();
        let sentinel = t.dir.path().join("sentinel");
        std::fs::create_dir_all(sentinel.join("sub")).expect("mkdir");
        std::fs::write(sentinel.join("sub/keep"), b"keep").expect("write");
        let before = snapshot(&sentinel);
        let err = match load(&t, bytes, via) {
            Ok(report) => panic!("{case} ({via:?}): the load succeeded: {report:?}"),
            Err(e) => e,
        };
        let message = err.to_string();
        eprintln!("{case} ({via:?}): {message}");
        for needle in needles {
            assert!(
                message.contains(needle),
                "{case} ({via:?}): error {message:?} does not mention {needle:?}"
            );
        }
        assert_eq!(
            snapshot(&sentinel),
            before,
            "{case}: something outside changed"
        );
        assert!(
            !t.dir.path().join("escaped").exists() && !t.dir.path().join("root/escaped").exists(),
            "{case}: a file escaped"
        );
        assert_empty(&t);
        // A store opened afterwards finds nothing to recover either.
        let again = t.reopen();
        assert!(
            again.layers().expect("layers").is_empty(),
            "{case}: layers after reopen"
        );
        assert!(
            again.images().expect("images").is_empty(),
            "{case}: images after reopen"
        );
        first.get_or_insert(err);
    }
    first.expect("an error")
}

/// The `manifest.json` of `archive`, parsed.
fn manifest_json(archive: &Archive) -> serde_json::Value {
    serde_json::from_slice(archive.file("manifest.json").expect("manifest.json")).expect("json")
}

fn set_manifest_json(archive: &mut Archive, value: &serde_json::Value) {
    archive.set_file("manifest.json", &serde_json::to_vec(value).expect("json"));
}

/// The path of layer `i` of the first image, as manifest.json names it.
fn layer_path(archive: &Archive, i: usize) -> String {
    manifest_json(archive)[0]["Layers"][i]
        .as_str()
        .expect("layer path")
        .to_string()
}

fn config_path(archive: &Archive) -> String {
    manifest_json(archive)[0]["Config"]
        .as_str()
        .expect("config path")
        .to_string()
}

#[test]
fn member_paths_escaping_with_dotdot() {
    for name in ["../escaped", "blobs/../../escaped", "a/b/../../../escaped"] {
        let mut archive = ia::docker_modern(&[image("dotdot")]);
        archive.add_file(name, b"x");
        let err = refused(name, &archive.to_tar(), &[name, "outside"]);
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
    // Through a PAX `path` record overriding an innocent header name.
    let mut tar = ia::docker_modern(&[image("dotdot")]).to_tar();
    tar.truncate(tar.len() - 1024);
    let mut tail = TarBuilder::default()
        .pax(&[("path", b"../escaped")])
        .file("innocent", b"x")
        .finish();
    tar.append(&mut tail);
    refused("pax path", &tar, &["../escaped"]);
    // As a hard link target.
    let mut archive = ia::docker_modern(&[image("dotdot")]);
    archive
        .members
        .push(Member::Hardlink("innocent".into(), "../escaped".into()));
    refused("hard link", &archive.to_tar(), &["../escaped"]);
    // As a path manifest.json names.
    let mut archive = ia::docker_modern(&[image("dotdot")]);
    let mut manifest = manifest_json(&archive);
    manifest[0]["Layers"][1] = "../outside/layer.tar".into();
    set_manifest_json(&mut archive, &manifest);
    refused(
        "named by manifest.json",
        &archive.to_tar(),
        &["../outside/layer.tar"],
    );
}

#[test]
fn absolute_member_paths() {
    let mut archive = ia::docker_legacy(&[image("absolute")]);
    archive.add_file("/etc/escaped", b"x");
    let err = refused(
        "absolute member",
        &archive.to_tar(),
        &["/etc/escaped", "absolute"],
    );
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");

    let mut archive = ia::docker_legacy(&[image("absolute")]);
    let mut manifest = manifest_json(&archive);
    manifest[0]["Config"] = "/etc/passwd".into();
    set_manifest_json(&mut archive, &manifest);
    refused("absolute config path", &archive.to_tar(), &["/etc/passwd"]);
}

#[test]
fn symlinked_layer_pointing_outside() {
    for target in [
        "../../etc/passwd",
        "/etc/passwd",
        "../../../../../../etc/shadow",
    ] {
        let mut archive = ia::docker_legacy(&[image("outside")]);
        let path = layer_path(&archive, 1);
        archive.replace(&path, Member::Symlink(path.clone(), target.into()));
        let err = refused(target, &archive.to_tar(), &[&path, target]);
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
    // podman's layout: every <v1id>/layer.tar is a link; one leads out.
    let mut archive = ia::podman(&[image("outside")]);
    let link = archive
        .paths()
        .into_iter()
        .find(|p| p.ends_with("/layer.tar"))
        .expect("a link")
        .to_string();
    archive.replace(
        &link,
        Member::Symlink(link.clone(), "../../etc/passwd".into()),
    );
    refused(
        "podman link",
        &archive.to_tar(),
        &[&link, "../../etc/passwd"],
    );
}

#[test]
fn symlink_loops() {
    let mut archive = ia::docker_legacy(&[image("loop")]);
    let base = layer_path(&archive, 0);
    let top = layer_path(&archive, 1);
    let base_dir = base.trim_end_matches("/layer.tar");
    let top_dir = top.trim_end_matches("/layer.tar");
    archive.replace(
        &base,
        Member::Symlink(base.clone(), format!("../{top_dir}/layer.tar")),
    );
    archive.replace(
        &top,
        Member::Symlink(top.clone(), format!("../{base_dir}/layer.tar")),
    );
    refused("two links", &archive.to_tar(), &[&base]);

    let mut archive = ia::docker_legacy(&[image("loop")]);
    let top = layer_path(&archive, 1);
    archive.replace(&top, Member::Symlink(top.clone(), "layer.tar".into()));
    refused("self link", &archive.to_tar(), &[&top]);
}

#[test]
fn manifest_names_a_missing_config() {
    for mut archive in [
        ia::docker_legacy(&[image("noconfig")]),
        ia::docker_modern(&[image("noconfig")]),
    ] {
        let config = config_path(&archive);
        archive.remove(&config);
        let err = refused(
            "missing config",
            &archive.to_tar(),
            &[&config, "not in the archive"],
        );
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
    // A directory where the config should be.
    let mut archive = ia::docker_modern(&[image("noconfig")]);
    let mut manifest = manifest_json(&archive);
    manifest[0]["Config"] = "blobs/sha256/".into();
    set_manifest_json(&mut archive, &manifest);
    refused(
        "config is a directory",
        &archive.to_tar(),
        &["blobs/sha256/"],
    );
}

#[test]
fn manifest_names_a_missing_layer() {
    for mut archive in [
        ia::docker_legacy(&[image("nolayer")]),
        ia::docker_modern(&[image("nolayer")]),
        ia::podman(&[image("nolayer")]),
    ] {
        let layer = layer_path(&archive, 1);
        archive.remove(&layer);
        let err = refused(
            "missing layer",
            &archive.to_tar(),
            &[&layer, "not in the archive"],
        );
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
}

#[test]
fn config_digest_mismatch() {
    for mut archive in [
        ia::docker_legacy(&[image("cfg")]),
        ia::docker_modern(&[image("cfg")]),
    ] {
        let path = config_path(&archive);
        let mut config = archive.file(&path).expect("config").to_vec();
        config.push(b'\n');
        archive.set_file(&path, &config);
        let err = refused("config digest", &archive.to_tar(), &[&path]);
        match err {
            Error::ContentMismatch {
                what,
                expected,
                actual,
            } => {
                assert!(what.contains(&path), "{what}");
                assert_eq!(expected, format!("sha256:{}", image("cfg").id()));
                assert_eq!(actual, ia::digest(&config));
            }
            other => panic!("expected a content mismatch, got {other:?}"),
        }
    }
}

#[test]
fn layer_diff_id_mismatch() {
    let image = image("diffid");
    let wrong = top_tar("something else");
    for mut archive in [
        ia::docker_legacy(std::slice::from_ref(&image)),
        ia::podman(std::slice::from_ref(&image)),
        ia::docker_modern(std::slice::from_ref(&image)),
    ] {
        let path = layer_path(&archive, 1);
        let path = match archive.members.iter().find(|m| m.path() == path) {
            // podman's manifest names <diffid>.tar directly.
            Some(Member::File(..)) => path,
            _ => panic!("layer {path} is not a file"),
        };
        archive.set_file(&path, &wrong);
        let err = refused("diff id", &archive.to_tar(), &[&image.diff_ids()[1]]);
        match &err {
            Error::Layer { file, source } => {
                assert_eq!(file, &path, "the error names the layer file");
                assert!(matches!(**source, Error::ContentMismatch { .. }), "{err:?}");
            }
            other => panic!("expected a layer error, got {other:?}"),
        }
        assert!(err.to_string().contains(&ia::digest(&wrong)), "{err}");
    }
    // A gzip'd layer.tar whose content is wrong.
    let mut archive = ia::docker_legacy(std::slice::from_ref(&image));
    let path = layer_path(&archive, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&wrong).expect("gzip");
    archive.set_file(&path, &gz.finish().expect("gzip"));
    refused("gzip diff id", &archive.to_tar(), &[&image.diff_ids()[0]]);
}

#[test]
fn layer_count_differs_from_diff_ids() {
    let mut archive = ia::docker_legacy(&[image("count")]);
    let mut manifest = manifest_json(&archive);
    manifest[0]["Layers"].as_array_mut().expect("layers").pop();
    set_manifest_json(&mut archive, &manifest);
    let err = refused("fewer", &archive.to_tar(), &["1 layers", "2 diff_ids"]);
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");

    let mut archive = ia::docker_modern(&[image("count")]);
    let mut manifest = manifest_json(&archive);
    let first = manifest[0]["Layers"][0].clone();
    manifest[0]["Layers"]
        .as_array_mut()
        .expect("layers")
        .push(first);
    set_manifest_json(&mut archive, &manifest);
    refused("more", &archive.to_tar(), &["3 layers", "2 diff_ids"]);

    // The same in an OCI layout: the manifest lists fewer layers.
    let mut archive = ia::oci_layout(&[image("count")]);
    let img = image("count");
    let manifest_bytes = img.oci_manifest();
    let mut manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).expect("json");
    manifest["layers"].as_array_mut().expect("layers").pop();
    let spoiled = serde_json::to_vec(&manifest).expect("json");
    archive.remove(&format!(
        "blobs/sha256/{}",
        testkit::sha256(&manifest_bytes)
    ));
    archive.add_file(
        &format!("blobs/sha256/{}", testkit::sha256(&spoiled)),
        &spoiled,
    );
    let mut index: serde_json::Value =
        serde_json::from_slice(archive.file("index.json").expect("index")).expect("json");
    index["manifests"][0]["digest"] = ia::digest(&spoiled).into();
    index["manifests"][0]["size"] = spoiled.len().into();
    archive.set_file("index.json", &serde_json::to_vec(&index).expect("json"));
    refused("oci fewer", &archive.to_tar(), &["1 layers", "2 diff_ids"]);
}

#[test]
fn manifest_json_that_is_not_a_manifest() {
    let cases: [(&str, &[u8], &[&str]); 5] = [
        ("null", b"null", &["manifest.json", "null"]),
        ("not json", b"this is not JSON {", &["manifest.json"]),
        (
            "an object",
            b"{\"Config\":\"x.json\",\"Layers\":[]}",
            &["manifest.json"],
        ),
        (
            "no layers key",
            b"[{\"Config\":\"x.json\"}]",
            &["manifest.json", "Layers"],
        ),
        ("empty", b"", &["manifest.json"]),
    ];
    for (case, bytes, needles) in cases {
        let mut archive = ia::docker_modern(&[image("notjson")]);
        archive.set_file("manifest.json", bytes);
        let err = refused(case, &archive.to_tar(), needles);
        assert!(matches!(err, Error::Malformed { .. }), "{case}: {err:?}");
    }
    // `[]` is a valid manifest.json that names no image: nothing to load.
    let mut archive = ia::docker_modern(&[image("notjson")]);
    archive.set_file("manifest.json", b"[]");
    refused("empty list", &archive.to_tar(), &["no image"]);
}

#[test]
fn oversized_json() {
    let limit = 8 << 20;
    let mut archive = ia::docker_modern(&[image("big")]);
    let mut manifest = archive.file("manifest.json").expect("manifest").to_vec();
    manifest.resize(limit + 1, b' ');
    archive.set_file("manifest.json", &manifest);
    let err = refused(
        "manifest.json",
        &archive.to_tar(),
        &["manifest.json", "more than"],
    );
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");

    // An oversized config, correctly named by its digest.
    let img = image("big");
    let mut config = img.config.clone();
    config.resize(limit + 10, b' ');
    let big = ia::Image { config, ..img };
    let archive = ia::docker_legacy(std::slice::from_ref(&big));
    refused(
        "config",
        &archive.to_tar(),
        &[&format!("{}.json", big.id()), "more than"],
    );
}

#[test]
fn archive_that_is_not_an_archive() {
    refused("empty tar", &[0u8; 1024], &["empty"]);
    refused(
        "text",
        b"hello, this is not a tar archive at all",
        &["archive"],
    );
    let no_manifest = TarBuilder::default().file("hello", b"world").finish();
    refused("no manifest", &no_manifest, &["manifest.json"]);
    // Docker before 1.10: repositories and v1 dirs only.
    let mut archive = ia::docker_legacy(&[image("old")]);
    archive.remove("manifest.json");
    refused("pre-1.10", &archive.to_tar(), &["manifest.json"]);
}

#[test]
fn truncated_archive() {
    // Layers after the metadata, the top one last (its size is a whole
    // number of blocks, so every cut before the end blocks loses data).
    let img = image("cut");
    let mut archive = ia::podman(std::slice::from_ref(&img));
    let top = format!("{}.tar", hex(&img.diff_ids()[1]));
    archive.move_last(&top);
    let tar = archive.to_tar();
    let end = tar.len() - 1024;
    let t = TestStore::new();
    let mut cuts: Vec<usize> = (0..end / 512)
        .flat_map(|b| [b * 512, b * 512 + 1, b * 512 + 300])
        .collect();
    cuts.push(end - 1);
    let mut messages = std::collections::BTreeSet::new();
    for cut in cuts {
        if cut == 0 {
            continue;
        }
        match load(&t, &tar[..cut], Via::File) {
            Ok(report) => panic!("cut at {cut} of {}: loaded {report:?}", tar.len()),
            Err(e) => {
                messages.insert(e.to_string());
            }
        }
        assert_empty(&t);
    }
    // A cut inside the last layer names it, and what went wrong.
    let cut = end - 700;
    let err = load(&t, &tar[..cut], Via::File).expect_err("cut in the top layer");
    let message = err.to_string();
    assert!(
        message.contains("end") || message.contains("truncated") || message.contains("EOF"),
        "{message}"
    );
    assert_empty(&t);
    eprintln!("truncation errors: {messages:#?}");
}

#[test]
fn truncated_compressed_stream() {
    let img = image("cutgz");
    let tar = ia::docker_modern(std::slice::from_ref(&img)).to_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let zst = zstd::encode_all(&tar[..], 3).expect("zstd");
    let t = TestStore::new();
    for compressed in [&gz, &zst] {
        for cut in [
            10,
            compressed.len() / 3,
            compressed.len() / 2,
            compressed.len() - 9,
        ] {
            for via in [Via::File, Via::Pipe] {
                let err = load(&t, &compressed[..cut], via).expect_err("truncated");
                eprintln!("compressed cut at {cut} ({via:?}): {err}");
                assert!(err.to_string().contains("archive"), "{err}");
                assert_empty(&t);
            }
        }
    }
}

#[test]
fn layer_that_is_not_a_tar() {
    let junk: Vec<u8> = b"this is no tar, just text that goes on\n".repeat(40);
    let img = ia::Image::new(
        "junk",
        &["localhost/junk:1"],
        vec![ia::Layer::plain(base_tar()), ia::Layer::plain(junk.clone())],
    );
    for archive in [
        ia::docker_modern(std::slice::from_ref(&img)),
        ia::docker_legacy(std::slice::from_ref(&img)),
    ] {
        let err = refused("junk layer", &archive.to_tar(), &["tar"]);
        eprintln!("junk layer: {err}");
        let message = err.to_string().to_lowercase();
        assert!(
            message.contains("tar") || message.contains("header"),
            "{message}"
        );
    }
    // gzip magic followed by garbage.
    let mut fake_gzip = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0];
    fake_gzip.extend_from_slice(&junk);
    let img = ia::Image::new(
        "fakegz",
        &[],
        vec![ia::Layer::compressed(
            base_tar(),
            fake_gzip,
            ia::media::LAYER_GZIP,
        )],
    );
    let archive = ia::docker_legacy(std::slice::from_ref(&img));
    refused("fake gzip layer", &archive.to_tar(), &["gzip"]);
}

#[test]
fn second_image_with_a_bad_layer() {
    // The first image is fine and shares nothing with the second.
    let good = image("good");
    let other_base = TarBuilder::default().file("other", b"base").finish();
    let bad = ia::Image::new(
        "bad",
        &["localhost/bad:1"],
        vec![
            ia::Layer::plain(other_base),
            ia::Layer::plain(top_tar("bad")),
        ],
    );
    let wrong = top_tar("not what the config says");
    for mut archive in [
        ia::docker_modern(&[good.clone(), bad.clone()]),
        ia::docker_legacy(&[good.clone(), bad.clone()]),
        ia::podman(&[good.clone(), bad.clone()]),
    ] {
        let manifest = manifest_json(&archive);
        let path = manifest[1]["Layers"][1].as_str().expect("path").to_string();
        archive.set_file(&path, &wrong);
        refused("second image", &archive.to_tar(), &[&bad.diff_ids()[1]]);
    }
    // The second image on top of the first one's layers.
    let over = ia::Image::new(
        "over",
        &["localhost/over:1"],
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::plain(top_tar("good")),
            ia::Layer::plain(top_tar("over")),
        ],
    );
    let mut archive = ia::docker_legacy(&[good.clone(), over.clone()]);
    let manifest = manifest_json(&archive);
    let path = manifest[1]["Layers"][2].as_str().expect("path").to_string();
    archive.set_file(&path, &wrong);
    refused(
        "stacked second image",
        &archive.to_tar(),
        &[&over.diff_ids()[2]],
    );
    // An OCI archive with the same problem.
    let mut archive = ia::oci_layout(&[good, bad.clone()]);
    let path = format!("blobs/sha256/{}", hex(&bad.diff_ids()[1]));
    archive.set_file(&path, &wrong);
    refused(
        "oci second image",
        &archive.to_tar(),
        &[hex(&bad.diff_ids()[1])],
    );
}

#[test]
fn failed_load_keeps_what_was_there() {
    let t = TestStore::new();
    let first = image("kept");
    let loaded = load(
        &t,
        &ia::docker_modern(std::slice::from_ref(&first)).to_tar(),
        Via::File,
    )
    .expect("first load");
    let layers_before = t.store.layers().expect("layers");
    // A second image over the same base whose top layer is wrong: the
    // base is reused, then the load fails; the base must stay.
    let second = ia::Image::new(
        "broken",
        &["localhost/broken:1"],
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::plain(top_tar("broken")),
        ],
    );
    let mut archive = ia::docker_legacy(std::slice::from_ref(&second));
    let path = layer_path(&archive, 1);
    archive.set_file(&path, &top_tar("other"));
    let err = load(&t, &archive.to_tar(), Via::File).expect_err("refused");
    assert!(err.to_string().contains(&second.diff_ids()[1]), "{err}");
    let ids: Vec<&str> = loaded.images[0].layers.iter().map(String::as_str).collect();
    t.assert_only(&ids);
    assert_eq!(t.store.layers().expect("layers").len(), layers_before.len());
    let images = t.store.images().expect("images");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].id, first.id());
    assert_eq!(crate::common::diff(&t.store, ids[1]), first.layers[1].tar);
}

#[test]
fn bad_names() {
    for tag in [
        "UPPER/case:1",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "bad name:1",
    ] {
        let mut img = image("names");
        img.tags = vec![tag.to_string()];
        let archive = ia::docker_modern(std::slice::from_ref(&img));
        refused(tag, &archive.to_tar(), &[tag]);
    }
}

/// The OCI layout archive with the blob named `old_hex` holding `new`.
fn oci_with(mut archive: Archive, old_hex: &str, new: &[u8]) -> Archive {
    archive.set_file(&format!("blobs/sha256/{old_hex}"), new);
    archive
}

#[test]
fn oci_index_pointing_to_a_missing_manifest() {
    let img = image("oci");
    let manifest = ia::digest(&img.oci_manifest());
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    archive.remove(&format!("blobs/sha256/{}", hex(&manifest)));
    let err = refused(
        "missing manifest",
        &archive.to_tar(),
        &[&manifest, "not in the layout"],
    );
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    // Or to a missing config, or a missing layer.
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    archive.remove(&format!("blobs/sha256/{}", img.id()));
    refused("missing config", &archive.to_tar(), &[&img.id()]);
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    archive.remove(&format!("blobs/sha256/{}", hex(&img.diff_ids()[0])));
    refused(
        "missing layer",
        &archive.to_tar(),
        &[hex(&img.diff_ids()[0])],
    );
}

#[test]
fn oci_blobs_that_do_not_match_their_descriptors() {
    let img = image("oci");
    let manifest_bytes = img.oci_manifest();
    let manifest = ia::digest(&manifest_bytes);
    // The manifest's bytes are not what its digest says.
    let mut spoiled = manifest_bytes.clone();
    spoiled.push(b' ');
    let archive = oci_with(
        ia::oci_layout(std::slice::from_ref(&img)),
        hex(&manifest),
        &spoiled,
    );
    let err = refused("manifest digest", &archive.to_tar(), &[&manifest]);
    assert!(matches!(err, Error::ContentMismatch { .. }), "{err:?}");

    // The config's.
    let mut config = img.config.clone();
    config.push(b' ');
    let archive = oci_with(
        ia::oci_layout(std::slice::from_ref(&img)),
        &img.id(),
        &config,
    );
    let err = refused("config digest", &archive.to_tar(), &[&img.id()]);
    assert!(matches!(err, Error::ContentMismatch { .. }), "{err:?}");

    // A manifest whose size in the index is wrong.
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    let mut index: serde_json::Value =
        serde_json::from_slice(archive.file("index.json").expect("index")).expect("json");
    index["manifests"][0]["size"] = (manifest_bytes.len() + 1).into();
    archive.set_file("index.json", &serde_json::to_vec(&index).expect("json"));
    refused("manifest size", &archive.to_tar(), &[&manifest, "bytes"]);

    // A gzip layer whose bytes decompress to the right tar but are not the
    // bytes the descriptor names (another compression level).
    let app = top_tar("gz");
    let gz = |level| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(&app).expect("gzip");
        e.finish().expect("gzip")
    };
    let (named, actual) = (gz(9), gz(0));
    assert_ne!(named, actual);
    let img = ia::Image::new(
        "gzlayer",
        &["localhost/gzlayer:1"],
        vec![
            ia::Layer::plain(base_tar()),
            ia::Layer::compressed(app.clone(), named.clone(), ia::media::LAYER_GZIP),
        ],
    );
    let archive = oci_with(
        ia::oci_layout(std::slice::from_ref(&img)),
        &testkit::sha256(&named),
        &actual,
    );
    let err = refused(
        "layer blob digest",
        &archive.to_tar(),
        &[&ia::digest(&named)],
    );
    assert!(matches!(err, Error::ContentMismatch { .. }), "{err:?}");
}

#[test]
fn config_that_is_not_a_config() {
    for (case, config, needle) in [
        (
            "rootfs type",
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"tarballs","diff_ids":[]}}"#
                .as_slice(),
            "rootfs.type",
        ),
        (
            "no rootfs",
            br#"{"architecture":"amd64","os":"linux"}"#.as_slice(),
            "rootfs",
        ),
        (
            "bad diff id",
            br#"{"rootfs":{"type":"layers","diff_ids":["md5:00"]}}"#.as_slice(),
            "md5:00",
        ),
        ("null", b"null".as_slice(), "config"),
    ] {
        let img = ia::Image {
            config: config.to_vec(),
            layers: Vec::new(),
            tags: vec!["localhost/cfg:1".into()],
        };
        let err = refused(
            case,
            &ia::docker_legacy(std::slice::from_ref(&img)).to_tar(),
            &[needle, &img.id()],
        );
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
}

#[test]
fn oci_indexes_nested_too_deep_or_naming_no_manifest() {
    let img = image("nested");
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    // index.json -> index -> index -> ... -> the manifest.
    let manifest = img.oci_manifest();
    let mut child = serde_json::json!({
        "mediaType": ia::media::MANIFEST,
        "digest": ia::digest(&manifest),
        "size": manifest.len(),
    });
    for _ in 0..8 {
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": ia::media::INDEX,
            "manifests": [child],
        }))
        .expect("json");
        archive.add_file(&format!("blobs/sha256/{}", testkit::sha256(&index)), &index);
        child = serde_json::json!({
            "mediaType": ia::media::INDEX,
            "digest": ia::digest(&index),
            "size": index.len(),
        });
    }
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [child]});
    archive.set_file("index.json", &serde_json::to_vec(&top).expect("json"));
    refused("nested", &archive.to_tar(), &["nest"]);

    // An index entry that names the config as if it were a manifest.
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": ia::media::CONFIG,
        "digest": ia::digest(&img.config),
        "size": img.config.len(),
    }]});
    archive.set_file("index.json", &serde_json::to_vec(&top).expect("json"));
    refused(
        "config as manifest",
        &archive.to_tar(),
        &[ia::media::CONFIG],
    );
}

#[test]
fn oci_layout_marker() {
    let img = image("marker");
    for (case, marker) in [
        ("2.0.0", br#"{"imageLayoutVersion": "2.0.0"}"#.as_slice()),
        ("no version", b"{}".as_slice()),
        ("not json", b"1.0.0".as_slice()),
    ] {
        let mut archive = ia::oci_layout(std::slice::from_ref(&img));
        archive.set_file("oci-layout", marker);
        let err = refused(case, &archive.to_tar(), &["oci-layout"]);
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    archive.set_file("oci-layout", br#"{"imageLayoutVersion": "2.0.0"}"#);
    refused("version named", &archive.to_tar(), &["2.0.0"]);
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    archive.remove("oci-layout");
    refused("no marker", &archive.to_tar(), &["oci-layout"]);
}

#[test]
fn oci_index_that_is_not_an_index() {
    let img = image("index");
    let cases: [(&str, &[u8], &[&str]); 4] = [
        ("null", b"null", &["index.json", "null"]),
        ("schema 1", br#"{"schemaVersion":1,"manifests":[]}"#, &["index.json", "schemaVersion is 1"]),
        (
            "bad digest",
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc/passwd","size":1}]}"#,
            &["index.json", "sha256:../../etc/passwd"],
        ),
        ("no entries", br#"{"schemaVersion":2,"manifests":[]}"#, &["no image"]),
    ];
    for (case, index, needles) in cases {
        let mut archive = ia::oci_layout(std::slice::from_ref(&img));
        archive.set_file("index.json", index);
        refused(case, &archive.to_tar(), needles);
    }
}

#[test]
fn oci_directory_with_hostile_contents() {
    let img = image("ocidir");
    let t = TestStore::new();
    let layout = t.dir.path().join("layout");
    std::fs::create_dir(&layout).expect("mkdir");
    let secret = t.dir.path().join("secret");
    std::fs::write(&secret, b"not yours").expect("write");
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    // A blob that is a symlink out of the layout.
    let config = format!("blobs/sha256/{}", img.id());
    archive.replace(
        &config,
        Member::Symlink(config.clone(), "../../../secret".into()),
    );
    archive.write_dir(&layout);
    let from: Location = format!("oci:{}", layout.display())
        .parse()
        .expect("location");
    let to: Location = "strata:localhost/ocidir:1".parse().expect("location");
    let err = t.store.copy(&from, &to).expect_err("refused");
    assert!(err.to_string().contains(&img.id()), "{err}");
    assert_empty(&t);

    // A layer with the wrong content.
    let t = TestStore::new();
    let layout = t.dir.path().join("layout");
    std::fs::create_dir(&layout).expect("mkdir");
    let mut archive = ia::oci_layout(std::slice::from_ref(&img));
    archive.set_file(
        &format!("blobs/sha256/{}", hex(&img.diff_ids()[1])),
        &top_tar("wrong"),
    );
    archive.write_dir(&layout);
    let from: Location = format!("oci:{}", layout.display())
        .parse()
        .expect("location");
    let err = t.store.copy(&from, &to).expect_err("refused");
    assert!(err.to_string().contains(&img.diff_ids()[1]), "{err}");
    assert_empty(&t);
}

#[test]
fn layer_tar_with_dotdot_entry() {
    let marker = format!("strata-load-escape-{}", std::process::id());
    for name in [format!("../{marker}"), format!("a/../../{marker}")] {
        let evil = TarBuilder::default()
            .dir("a/")
            .file(&name, b"escaped")
            .finish();
        let img = ia::Image::new(
            "evil",
            &["localhost/evil:1"],
            vec![ia::Layer::plain(base_tar()), ia::Layer::plain(evil)],
        );
        for archive in [
            ia::docker_modern(std::slice::from_ref(&img)),
            ia::oci_layout(std::slice::from_ref(&img)),
        ] {
            let err = refused(&name, &archive.to_tar(), &[&name]);
            assert!(
                matches!(&err, Error::Layer { source, .. } if matches!(**source, Error::Apply(_))),
                "{err:?}"
            );
        }
    }
}

/// Absolute names and writes through a symlink to `/` stay inside the
/// layer (as in `hostile.rs`): the load succeeds and nothing lands on the host.
#[test]
fn layer_tar_with_absolute_entries_is_contained() {
    let marker = format!("strata-load-contained-{}", std::process::id());
    let cases = [
        TarBuilder::default()
            .file(&format!("/tmp/{marker}"), b"inside")
            .finish(),
        TarBuilder::default()
            .symlink("s", "/")
            .file(&format!("s/tmp/{marker}"), b"inside")
            .finish(),
    ];
    for tar in cases {
        let t = TestStore::new();
        let img = ia::Image::new("contained", &[], vec![ia::Layer::plain(tar.clone())]);
        let report = load(
            &t,
            &ia::docker_modern(std::slice::from_ref(&img)).to_tar(),
            Via::File,
        )
        .expect("contained layer loads");
        assert!(!Path::new("/tmp").join(&marker).exists(), "escaped to /tmp");
        let id = report.images[0].layers[0].clone();
        let inside = t.files_dir(&id).join("tmp").join(&marker);
        assert_eq!(std::fs::read(&inside).expect("inside the layer"), b"inside");
        assert_eq!(crate::common::diff(&t.store, &id), tar);
        assert!(t.entries("staging").is_empty());
    }
}

/// ChainIDs of an image's layers (hex), base first.
fn chain(img: &ia::Image) -> Vec<String> {
    let diff_ids: Vec<strata::digest::Digest> = img
        .diff_ids()
        .iter()
        .map(|d| strata::digest::Digest::parse(d).expect("digest"))
        .collect();
    strata::image::chain_ids(&diff_ids)
        .iter()
        .map(|d| d.hex().to_string())
        .collect()
}

/// A layer made beforehand under an image layer's ChainID but with other
/// content is not taken for that layer: the load fails naming the diff id,
/// and leaves that layer alone.
#[test]
fn layer_in_the_store_with_other_content_is_not_trusted() {
    let t = TestStore::new();
    let img = image("planted");
    let ids = chain(&img);
    let planted = strata::CreateOptions {
        id: Some(ids[0].clone()),
        ..strata::CreateOptions::default()
    };
    t.store
        .import_layer(&planted, &mut &top_tar("impostor")[..], None)
        .expect("plant");
    let err = load(
        &t,
        &ia::docker_modern(std::slice::from_ref(&img)).to_tar(),
        Via::File,
    )
    .expect_err("refused");
    assert!(err.to_string().contains(&img.diff_ids()[0]), "{err}");
    t.assert_only(&[&ids[0]]);
    assert!(t.store.images().expect("images").is_empty());
}

/// A layer made beforehand under the top layer's ChainID, with the right
/// content but no parent, is not taken for the top of a two-layer image.
///
/// Library bug: `load::import_or_hold` (transport/load.rs) reuses any ready
/// layer with the ChainID, and `images::check_layers` (store/images.rs)
/// only compares diff digests, not parents: the image is recorded with
/// `layers = [base, top]` while `top`'s parent is `None`, so its root
/// filesystem lacks the base layer.
#[test]
fn layer_in_the_store_with_another_parent_is_not_trusted() {
    let t = TestStore::new();
    let img = image("orphan");
    let ids = chain(&img);
    let planted = strata::CreateOptions {
        id: Some(ids[1].clone()),
        ..strata::CreateOptions::default()
    };
    t.store
        .import_layer(&planted, &mut &img.layers[1].tar[..], None)
        .expect("plant");
    let loaded = load(
        &t,
        &ia::docker_modern(std::slice::from_ref(&img)).to_tar(),
        Via::File,
    );
    let top = t.store.layer(&ids[1]).expect("top");
    assert!(
        loaded.is_err() || top.parent.as_deref() == Some(ids[0].as_str()),
        "image {loaded:?} recorded on top layer {} whose parent is {:?}",
        ids[1],
        top.parent
    );
}

//! Typed views of stored configs and manifests (`Store::image_config`,
//! `Store::image_manifest`, through `oci_spec`) and history matched to
//! layers (`Store::image_history`), on images real tools made: `docker
//! import` / `docker commit` saved by `docker save`, `podman import` saved
//! as OCI and Docker archives, skopeo's Docker schema2 manifests in an OCI
//! layout, and testkit's archives of every layout strata loads. The exact
//! bytes stay what was received; the typed view is checked against them.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use serde_json::Value;
use strata::digest::Digest;
use strata::oci_spec::image::{Arch, ImageConfiguration, MediaType, Os};
use strata::{ArchiveInput, Copied, Image, Location};
use strata::{Error, HistoryStep};
use testkit::TarBuilder;
use testkit::image_archive::{self as ia};
use testkit::peers::{Dockerd, Podman, sample_image, skopeo_ok};

use crate::common::TestStore;

/// The root file system `docker import` and `podman import` get.
fn rootfs_tar() -> Vec<u8> {
    TarBuilder::default()
        .dir("bin/")
        .file("bin/app", b"#!/bin/sh\necho app\n")
        .dir("srv/")
        .finish()
}

/// The `--change` instructions both importers get (docker 20.10's import
/// refuses `STOPSIGNAL`; podman gets it as well).
const CHANGES: [&str; 8] = [
    r#"ENTRYPOINT ["/bin/app"]"#,
    r#"CMD ["--serve"]"#,
    "ENV GREETING=hello",
    "WORKDIR /srv",
    "USER 1000:1000",
    "LABEL org.example.kind=typed",
    "EXPOSE 8080/tcp",
    "VOLUME /data",
];

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Loads the archive at `path`; its one image.
fn load_one(t: &TestStore, path: &Path) -> Image {
    let file = File::open(path).expect("open archive");
    let report = t.store.load(ArchiveInput::File(file)).expect("load");
    assert_eq!(report.images.len(), 1, "{path:?}");
    report.images.into_iter().next().expect("an image")
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

/// The config has what [`CHANGES`] set.
fn assert_changes_applied(config: &ImageConfiguration) {
    assert_eq!(config.os(), &Os::Linux);
    let run = config.config().as_ref().expect("config.config");
    assert_eq!(run.entrypoint(), &strings(&["/bin/app"]));
    assert_eq!(run.cmd(), &strings(&["--serve"]));
    let env = run.env().clone().unwrap_or_default();
    assert!(env.contains(&"GREETING=hello".to_string()), "{env:?}");
    assert_eq!(run.working_dir().as_deref(), Some("/srv"));
    assert_eq!(run.user().as_deref(), Some("1000:1000"));
    assert_eq!(
        run.labels()
            .as_ref()
            .and_then(|l| l.get("org.example.kind"))
            .map(String::as_str),
        Some("typed")
    );
    assert_eq!(run.exposed_ports(), &strings(&["8080/tcp"]));
    assert_eq!(run.volumes(), &strings(&["/data"]));
}

/// The typed config is a view of the stored bytes: the same diff ids, and
/// the image id is the digest of the bytes.
fn assert_view_of_bytes(t: &TestStore, image: &Image, config: &ImageConfiguration) {
    let bytes = t.store.image_config_bytes(image).expect("config bytes");
    assert_eq!(Digest::of(&bytes).hex(), image.id);
    let raw: Value = serde_json::from_slice(&bytes).expect("config JSON");
    assert_eq!(
        &Value::from(config.rootfs().diff_ids().clone()),
        &raw["rootfs"]["diff_ids"]
    );
}

/// The history steps with a layer have the image's layers in order, each
/// with that layer's size.
fn assert_history_matches_layers(t: &TestStore, image: &Image, steps: &[HistoryStep]) {
    let layered: Vec<&HistoryStep> = steps.iter().filter(|s| !s.empty_layer).collect();
    assert_eq!(layered.len(), image.layers.len(), "{steps:?}");
    for (step, id) in layered.iter().zip(&image.layers) {
        assert_eq!(step.layer.as_ref(), Some(id));
        let size = t.store.layer(id).expect("layer").diff_size;
        assert_eq!(Some(step.size), size);
    }
    for step in steps.iter().filter(|s| s.empty_layer) {
        assert_eq!((step.layer.as_ref(), step.size), (None, 0));
    }
}

/// Docker 20.10's configs carry `container_config`, `docker_version`,
/// `container` and Docker-only `config` fields (`"OnBuild": null`,
/// `Hostname`), and a commit adds a history step with an author and
/// comment; its archives carry no manifest.
#[test]
fn docker_import_and_commit_read_typed() {
    let t = TestStore::new();
    let docker = Dockerd::start();
    let rootfs = t.dir.path().join("rootfs.tar");
    std::fs::write(&rootfs, rootfs_tar()).expect("write rootfs");
    let mut args = vec!["import".to_string()];
    for change in CHANGES {
        args.extend(["--change".to_string(), change.to_string()]);
    }
    args.extend([arg(&rootfs).to_string(), "localhost/typed-docker:1".into()]);
    docker.docker_ok(&args);
    let container = docker.docker_ok(["create", "--network", "none", "localhost/typed-docker:1"]);
    let container = container.trim();
    let added = t.dir.path().join("added");
    std::fs::write(&added, "added by a commit\n").expect("write");
    docker.docker_ok(["cp", arg(&added), &format!("{container}:/srv/added")]);
    docker.docker_ok([
        "commit",
        "--author",
        "Strata Tester <tester@example.com>",
        "--message",
        "add a file",
        "--change",
        "ENV MORE=1",
        container,
        "localhost/typed-docker:2",
    ]);
    docker.docker_ok(["rm", container]);
    let saved = t.dir.path().join("docker.tar");
    docker.docker_ok(["save", "-o", arg(&saved), "localhost/typed-docker:2"]);
    drop(docker);

    let image = load_one(&t, &saved);
    let bytes = t.store.image_config_bytes(&image).expect("config bytes");
    let raw: Value = serde_json::from_slice(&bytes).expect("config JSON");
    // What docker writes beyond the OCI spec, which the typed view skips.
    assert!(raw.get("container_config").is_some(), "{raw}");
    assert!(
        raw["config"].get("OnBuild").is_some_and(Value::is_null),
        "{raw}"
    );
    let config = t
        .store
        .image_config(&image)
        .expect("docker's config is typed");
    assert_changes_applied(&config);
    let env = config.config().as_ref().and_then(|c| c.env().clone());
    assert!(env.unwrap_or_default().contains(&"MORE=1".to_string()));
    assert_view_of_bytes(&t, &image, &config);
    assert!(image.manifests.is_empty(), "docker 20.10 saves no manifest");
    assert!(t.store.image_manifest(&image).expect("manifest").is_none());
    assert!(
        t.store
            .image_manifest_bytes(&image)
            .expect("manifest")
            .is_none()
    );

    let steps = t.store.image_history(&image).expect("history");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_history_matches_layers(&t, &image, &steps);
    assert_eq!(
        steps[1].author.as_deref(),
        Some("Strata Tester <tester@example.com>")
    );
    assert_eq!(steps[1].comment.as_deref(), Some("add a file"));
    assert_eq!(steps[0].comment.as_deref(), Some("Imported from -"));
}

/// podman writes OCI configs and manifests in an OCI archive, and Docker
/// format ones in a Docker archive; both read typed.
#[test]
fn podman_import_reads_typed_from_both_formats() {
    let podman = Podman::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let rootfs = dir.path().join("rootfs.tar");
    std::fs::write(&rootfs, rootfs_tar()).expect("write rootfs");
    let mut args = vec!["import".to_string(), "-q".to_string()];
    for change in CHANGES.iter().chain(&["STOPSIGNAL SIGTERM"]) {
        args.extend(["--change".to_string(), change.to_string()]);
    }
    args.extend([arg(&rootfs).to_string(), "localhost/typed-podman:1".into()]);
    podman.run_ok(&args);
    for format in ["oci-archive", "docker-archive"] {
        let saved = dir.path().join(format!("{format}.tar"));
        podman.run_ok([
            "save",
            "--format",
            format,
            "-o",
            arg(&saved),
            "localhost/typed-podman:1",
        ]);
        let t = TestStore::new();
        let image = load_one(&t, &saved);
        let config = t
            .store
            .image_config(&image)
            .expect("podman's config is typed");
        assert_changes_applied(&config);
        // podman records the signal by number.
        let stop_signal = config
            .config()
            .as_ref()
            .and_then(|c| c.stop_signal().clone());
        assert_eq!(stop_signal.as_deref(), Some("15"), "{format}");
        assert_view_of_bytes(&t, &image, &config);
        let steps = t.store.image_history(&image).expect("history");
        assert_history_matches_layers(&t, &image, &steps);
        if format == "oci-archive" {
            let manifest = t
                .store
                .image_manifest(&image)
                .expect("manifest")
                .expect("an OCI archive has a manifest");
            // podman 4.3 leaves out the optional top-level mediaType.
            assert_eq!(manifest.schema_version(), 2);
            assert_eq!(manifest.config().media_type(), &MediaType::ImageConfig);
            assert_eq!(
                manifest.config().digest().to_string(),
                format!("sha256:{}", image.id)
            );
            assert_eq!(manifest.layers().len(), image.layers.len());
            let bytes = t
                .store
                .image_manifest_bytes(&image)
                .expect("manifest")
                .expect("bytes");
            assert_eq!(Some(&Digest::of(&bytes)), image.manifests.first());
        }
    }
}

/// `skopeo copy --format v2s2` into an OCI layout keeps a Docker schema2
/// manifest: the typed view has its Docker media types as `Other`.
#[test]
fn docker_schema2_manifests_read_typed() {
    let t = TestStore::new();
    let sample = sample_image(&t.dir.path().join("sample.tar"), &["--layers", "2"]);
    let layout = t.dir.path().join("layout");
    skopeo_ok([
        "copy",
        "--format",
        "v2s2",
        &format!("docker-archive:{}", arg(&sample.path)),
        &format!("oci:{}:v2s2", arg(&layout)),
    ]);
    let from: Location = format!("oci:{}:v2s2", arg(&layout))
        .parse()
        .expect("location");
    let to: Location = "strata:localhost/v2s2:1".parse().expect("location");
    let Copied::Loaded(report) = t.store.copy(&from, &to).expect("copy") else {
        panic!("a copy into the store loads");
    };
    let image = &report.images[0];
    let manifest = t
        .store
        .image_manifest(image)
        .expect("manifest")
        .expect("the layout's manifest is kept");
    let docker = |kind: &str| MediaType::Other(format!("application/vnd.docker.{kind}"));
    assert_eq!(
        manifest.media_type(),
        &Some(docker("distribution.manifest.v2+json"))
    );
    assert_eq!(
        manifest.config().media_type(),
        &docker("container.image.v1+json")
    );
    assert_eq!(manifest.config().digest().to_string(), sample.config);
    assert_eq!(manifest.layers().len(), 2);
    for layer in manifest.layers() {
        assert_eq!(layer.media_type(), &docker("image.rootfs.diff.tar.gzip"));
    }
    let digest = image.manifests.first().expect("a manifest");
    let on_disk = std::fs::read(layout.join("blobs/sha256").join(digest.hex())).expect("blob");
    assert_eq!(
        t.store.image_manifest_bytes(image).expect("bytes"),
        Some(on_disk)
    );
    let config = t.store.image_config(image).expect("typed config");
    assert_eq!(config.architecture(), &Arch::Amd64);
    assert_eq!(
        config.config().as_ref().and_then(|c| c.cmd().clone()),
        strings(&["/bin/sh"])
    );
    let steps = t.store.image_history(image).expect("history");
    assert_eq!(steps.len(), 3, "two layers and an empty CMD step");
    assert_history_matches_layers(&t, image, &steps);
}

/// Writes an archive of one layout.
type Writer = fn(&[ia::Image]) -> ia::Archive;

/// testkit's archives of every layout: the labels read typed, a manifest
/// where the layout has one, none where it has not.
#[test]
fn every_archive_layout_reads_typed() {
    let layouts: [(&str, Writer, bool); 4] = [
        ("docker-modern", ia::docker_modern, true),
        ("docker-legacy", ia::docker_legacy, false),
        ("podman", ia::podman, false),
        ("oci-layout", ia::oci_layout, true),
    ];
    for (label, archive, has_manifest) in layouts {
        let t = TestStore::new();
        let want = ia::Image::new(
            label,
            &["localhost/typed:1"],
            vec![ia::Layer::plain(rootfs_tar())],
        );
        let path = t.dir.path().join("archive.tar");
        std::fs::write(&path, archive(std::slice::from_ref(&want)).to_tar()).expect("write");
        let image = load_one(&t, &path);
        let config = t.store.image_config(&image).expect("typed config");
        let labels: HashMap<String, String> =
            config.labels_of_config().cloned().unwrap_or_default();
        assert_eq!(labels.get("test").map(String::as_str), Some(label));
        assert_eq!(config.os(), &Os::Linux, "{label}");
        let manifest = t.store.image_manifest(&image).expect("manifest");
        assert_eq!(manifest.is_some(), has_manifest, "{label}");
        if has_manifest {
            assert_eq!(
                t.store.image_manifest_bytes(&image).expect("bytes"),
                Some(want.oci_manifest()),
                "{label}"
            );
        }
        let steps = t.store.image_history(&image).expect("history");
        assert_eq!(steps.len(), 1, "no history: one blank step per layer");
        assert_history_matches_layers(&t, &image, &steps);
        assert_eq!(steps[0].created_by, None);
    }
}

/// A config without `architecture` and `os`: strata loads, saves and
/// inspects it as docker's and podman's readers would (they default the
/// platform), but the OCI spec's types require both, so the typed view
/// fails with `TypedView` naming the image while the bytes and the history
/// still read.
#[test]
fn a_config_the_types_cannot_hold_stays_readable_as_bytes() {
    let t = TestStore::new();
    let mut want = ia::Image::new("bare", &["v1"], vec![ia::Layer::plain(rootfs_tar())]);
    want.config = serde_json::to_vec(&serde_json::json!({
        "rootfs": {"type": "layers", "diff_ids": want.diff_ids()},
        "history": [{"created_by": "ADD rootfs /"}],
    }))
    .expect("config");
    let path = t.dir.path().join("layout.tar");
    std::fs::write(&path, ia::oci_layout(std::slice::from_ref(&want)).to_tar()).expect("write");
    let image = load_one(&t, &path);

    let error = t.store.image_config(&image).expect_err("no platform");
    assert!(matches!(error, Error::TypedView { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(&image.id) && text.contains("architecture"),
        "{text}"
    );
    assert_eq!(
        t.store.image_config_bytes(&image).expect("bytes"),
        want.config
    );
    assert!(t.store.image_manifest(&image).expect("manifest").is_some());
    let steps = t.store.image_history(&image).expect("history");
    assert_eq!(steps[0].created_by.as_deref(), Some("ADD rootfs /"));
    assert_history_matches_layers(&t, &image, &steps);
}

/// An image read from a listing and removed (and its blobs collected)
/// before its config is read gives `ImageNotFound`, as a lookup by name
/// would, not a missing file: a listing taken while another process
/// removes images can leave the gone ones out.
#[test]
fn the_config_of_an_image_removed_meanwhile_is_not_found() {
    let t = TestStore::new();
    let want = ia::Image::new(
        "gone",
        &["localhost/gone:1"],
        vec![ia::Layer::plain(rootfs_tar())],
    );
    let path = t.dir.path().join("archive.tar");
    std::fs::write(&path, ia::oci_layout(std::slice::from_ref(&want)).to_tar()).expect("write");
    let image = load_one(&t, &path);
    t.store.delete_image(&image.id, false).expect("delete");
    t.store.gc(&strata::GcOptions::default()).expect("gc");
    let error = t.store.image_config_bytes(&image).expect_err("gone");
    assert!(
        matches!(&error, Error::ImageNotFound(id) if *id == image.id),
        "{error:?}"
    );
}

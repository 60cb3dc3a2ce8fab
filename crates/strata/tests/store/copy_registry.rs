//! Copies with a registry on either side (`docker://`), against the
//! reference registry (Debian's `docker-registry`) on 127.0.0.1, with
//! skopeo as the oracle: registry → OCI layout gives what `skopeo copy
//! docker://… oci:` gives; archives and layouts pushed read back with
//! skopeo and pull to the same image; registry → registry keeps the
//! manifest digest (mounting within one registry); registry → docker
//! archive loads to the same image; a bad blob fails the copy leaving no
//! archive and no manifest behind.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use strata::digest::Digest;
use strata::{Copied, CopyOptions, Location, PullOptions, RegistryOptions, Store, TransferEvent};
use testkit::image_archive::{add_layout_index, layout_entry};
use testkit::peers::{SampleImage, sample_image, skopeo_ok};
use testkit::registry::{Registry, Target};

use crate::common::{TestStore, open};

fn sample(t: &TestStore) -> SampleImage {
    sample_image(
        &t.dir.path().join("sample.tar"),
        &["--layers", "3", "--size-mib", "2"],
    )
}

fn at(text: &str) -> Location {
    text.parse().expect("location")
}

fn quick() -> RegistryOptions {
    RegistryOptions {
        stall_timeout: Duration::from_secs(20),
        ..RegistryOptions::default()
    }
}

fn options() -> CopyOptions<'static> {
    CopyOptions {
        source: quick(),
        destination: quick(),
        ..CopyOptions::default()
    }
}

fn copy(store: &Store, from: &str, to: &str) -> Copied {
    store
        .copy_with(&at(from), &at(to), &options())
        .unwrap_or_else(|e| panic!("copy {from} to {to}: {e}"))
}

fn digest_of(raw: &[u8]) -> String {
    format!("sha256:{}", Digest::of(raw).hex())
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("json")
}

/// `skopeo copy --format oci docker-archive:ARCHIVE docker://…`: the
/// image in the registry under an OCI manifest.
fn push_oci(target: &Target, archive: &Path, reference: &str) {
    let mut args: Vec<std::ffi::OsString> = vec!["copy".into(), "--format".into(), "oci".into()];
    args.extend(target.dest_flags());
    args.push(format!("docker-archive:{}", archive.display()).into());
    args.push(target.docker_ref(reference).into());
    skopeo_ok(args);
}

/// The manifest digest the only entry of `dir/index.json` names.
fn index_manifest(dir: &Path) -> String {
    let index = json(&std::fs::read(dir.join("index.json")).expect("index.json"));
    let entries = index["manifests"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{index}");
    entries[0]["digest"].as_str().expect("digest").to_string()
}

/// The config digest of the only image of layout `dir`, as skopeo reads it.
fn layout_config(dir: &Path) -> String {
    let raw = skopeo_ok([
        "inspect".to_string(),
        "--raw".to_string(),
        format!("oci:{}", dir.display()),
    ]);
    json(raw.as_bytes())["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string()
}

fn blob_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
        .expect("blobs")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The store is untouched: no image, nothing left by the copy.
fn assert_store_untouched(t: &TestStore) {
    assert!(t.store.images().expect("images").is_empty());
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{report:?}");
    assert_eq!(t.store.downloads().expect("downloads").count, 0);
}

/// Loads `path` into a new store; the image id, diff ids and names.
fn load_elsewhere(path: &Path) -> (String, Vec<String>, Vec<String>) {
    let (image, diff_ids) = crate::common::load_elsewhere(path);
    (image.id, diff_ids, image.names)
}

/// Pulls `reference` into a new store; the image id.
fn pull_elsewhere(reference: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let options = PullOptions {
        registry: quick(),
        ..PullOptions::default()
    };
    store.pull(reference, &options).expect("pull").image.id
}

#[test]
fn registry_to_oci_layout_is_what_skopeo_copies() {
    let t = TestStore::new();
    let image = sample(&t);
    let registry = Registry::plain();
    let target = registry.target();
    push_oci(&target, &image.path, "sample/app:oci");
    target.push(&image.path, "sample/app:v2s2");
    let host = registry.host();
    let d = t.dir.path();

    // An OCI manifest: the same manifest and blobs as skopeo's copy.
    let ours = d.join("ours");
    let copied = copy(
        &t.store,
        &format!("docker://{host}/sample/app:oci"),
        &format!("oci:{}", ours.display()),
    );
    let raw = target.inspect_raw("sample/app:oci");
    // skopeo's conversion to OCI rewrote the config: the registry's is the
    // image's.
    let config = json(&raw)["config"]["digest"]
        .as_str()
        .expect("config")
        .to_string();
    assert!(
        matches!(&copied, Copied::Saved { image: id } if format!("sha256:{id}") == config),
        "{copied:?}"
    );
    let theirs = d.join("theirs");
    target.pull_oci("sample/app:oci", &theirs);
    assert_eq!(index_manifest(&ours), digest_of(&raw));
    assert_eq!(index_manifest(&ours), index_manifest(&theirs));
    assert_eq!(blob_names(&ours), blob_names(&theirs));
    // Into an OCI archive too, and skopeo reads it.
    let archive = d.join("oci.tar");
    copy(
        &t.store,
        &format!("docker://{host}/sample/app:oci"),
        &format!("oci-archive:{}:v1", archive.display()),
    );
    let read = skopeo_ok([
        "inspect".to_string(),
        "--raw".to_string(),
        format!("oci-archive:{}:v1", archive.display()),
    ]);
    assert_eq!(digest_of(read.as_bytes()), digest_of(&raw));

    // A Docker schema 2 manifest becomes an OCI one over the same blobs,
    // as skopeo converts it, but with the config kept (so the image id);
    // skopeo reads the layout.
    let kept = d.join("kept");
    copy(
        &t.store,
        &format!("docker://{host}/sample/app:v2s2"),
        &format!("oci:{}:v1", kept.display()),
    );
    let raw = json(&target.inspect_raw("sample/app:v2s2"));
    let read = json(
        skopeo_ok([
            "inspect".to_string(),
            "--raw".to_string(),
            format!("oci:{}:v1", kept.display()),
        ])
        .as_bytes(),
    );
    assert_eq!(
        read["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(read["config"]["digest"], image.config.as_str());
    let digests = |m: &Value| -> Vec<Value> {
        m["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["digest"].clone())
            .collect()
    };
    assert_eq!(digests(&read), digests(&raw));
    let mut expected: Vec<String> = digests(&raw)
        .iter()
        .chain([&raw["config"]["digest"]])
        .map(|d| {
            d.as_str()
                .expect("digest")
                .trim_start_matches("sha256:")
                .to_string()
        })
        .collect();
    expected.push(
        index_manifest(&kept)
            .trim_start_matches("sha256:")
            .to_string(),
    );
    expected.sort();
    assert_eq!(blob_names(&kept), expected);
    assert_store_untouched(&t);
}

#[test]
fn registry_to_docker_archive_loads_to_the_same_image() {
    let t = TestStore::new();
    let image = sample(&t);
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let out = t.dir.path().join("out.tar");
    copy(
        &t.store,
        &format!("docker://{}/sample/app:1", registry.host()),
        &format!("docker-archive:{}:localhost/copied:1", out.display()),
    );
    assert_store_untouched(&t);
    // Layers are uncompressed tars named by diff id.
    let members = tar_members(&out);
    for diff_id in &image.diff_ids {
        let hex = diff_id.trim_start_matches("sha256:");
        assert!(
            members.iter().any(|m| m == &format!("blobs/sha256/{hex}")),
            "{members:?}"
        );
    }
    let (id, diff_ids, names) = load_elsewhere(&out);
    assert_eq!(
        (id, diff_ids),
        (image.image_id.clone(), image.diff_ids.clone())
    );
    assert_eq!(names, vec!["localhost/copied:1".to_string()]);
}

fn tar_members(path: &Path) -> Vec<String> {
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(path)
        .output()
        .expect("tar");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn archives_and_layouts_pushed_read_back_with_skopeo() {
    let t = TestStore::new();
    let image = sample(&t);
    let registry = Registry::plain();
    let target = registry.target();
    let host = registry.host();
    let d = t.dir.path();

    // A Docker 25+ archive has an OCI manifest over its tars: kept.
    let events = Mutex::new(Vec::new());
    let record = |e: &TransferEvent| events.lock().expect("lock").push(e.clone());
    let with_progress = CopyOptions {
        progress: Some(&record),
        ..options()
    };
    let copied = t
        .store
        .copy_with(
            &at(&format!("docker-archive:{}", image.path.display())),
            &at(&format!("docker://{host}/pushed/docker:1")),
            &with_progress,
        )
        .expect("push the archive");
    match &copied {
        Copied::Pushed {
            image: id,
            manifest_digest,
        } => {
            assert_eq!(id.as_deref(), Some(image.image_id.as_str()));
            assert_eq!(manifest_digest.to_string(), image.manifest);
        }
        other => panic!("{other:?}"),
    }
    let raw = target.inspect_raw("pushed/docker:1");
    assert_eq!(digest_of(&raw), image.manifest);
    assert_eq!(json(&raw)["config"]["digest"], image.config.as_str());
    let uploaded = |events: &[TransferEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, TransferEvent::Done { .. }))
            .count()
    };
    assert_eq!(
        uploaded(&events.lock().expect("lock")),
        4,
        "config and 3 layers"
    );
    // skopeo reads it back (compressing the layers for its layout).
    target.pull_oci("pushed/docker:1", &d.join("back"));
    assert_eq!(layout_config(&d.join("back")), image.config);
    assert_eq!(
        pull_elsewhere(&format!("{host}/pushed/docker:1")),
        image.image_id
    );

    // Again under another tag: every blob is there already.
    events.lock().expect("lock").clear();
    t.store
        .copy_with(
            &at(&format!("docker-archive:{}", image.path.display())),
            &at(&format!("docker://{host}/pushed/docker:2")),
            &with_progress,
        )
        .expect("push again");
    let seen = events.lock().expect("lock").clone();
    assert_eq!(uploaded(&seen), 0, "{seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, TransferEvent::Skipped { .. }))
            .count(),
        4
    );

    // An OCI layout: its manifest and blobs as they are.
    let layout = d.join("layout");
    copy(
        &t.store,
        &format!("docker-archive:{}", image.path.display()),
        &format!("oci:{}:v1", layout.display()),
    );
    copy(
        &t.store,
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/pushed/layout:1"),
    );
    let raw = target.inspect_raw("pushed/layout:1");
    assert_eq!(digest_of(&raw), index_manifest(&layout));

    // A legacy docker archive has no manifest: skopeo's choice, a schema 2
    // manifest over gzip layers; the layers decompress to the diff ids.
    let legacy = d.join("legacy.tar");
    skopeo_ok([
        "copy".to_string(),
        format!("docker-archive:{}", image.path.display()),
        format!("docker-archive:{}:localhost/legacy:1", legacy.display()),
    ]);
    copy(
        &t.store,
        &format!("docker-archive:{}", legacy.display()),
        &format!("docker://{host}/pushed/legacy:1"),
    );
    let raw = json(&target.inspect_raw("pushed/legacy:1"));
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(raw["config"]["digest"], image.config.as_str());
    for layer in raw["layers"].as_array().expect("layers") {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
    }
    // skopeo reads it back (converting it to OCI, config included).
    target.pull_oci("pushed/legacy:1", &d.join("legacy-back"));
    assert_eq!(
        pull_elsewhere(&format!("{host}/pushed/legacy:1")),
        image.image_id
    );
    assert_store_untouched(&t);
}

#[test]
fn registry_to_registry_keeps_the_manifest_digest() {
    let t = TestStore::new();
    let image = sample(&t);
    let first = Registry::plain();
    let second = Registry::plain();
    first.target().push(&image.path, "sample/app:1");
    let raw = first.target().inspect_raw("sample/app:1");

    let copied = copy(
        &t.store,
        &format!("docker://{}/sample/app:1", first.host()),
        &format!("docker://{}/mirror/app:2", second.host()),
    );
    assert!(
        matches!(&copied, Copied::Pushed { manifest_digest, .. }
            if manifest_digest.to_string() == digest_of(&raw)),
        "{copied:?}"
    );
    assert_eq!(second.target().inspect_raw("mirror/app:2"), raw);
    assert_eq!(
        pull_elsewhere(&format!("{}/mirror/app:2", second.host())),
        image.image_id
    );

    // Within one registry, layers are mounted, not uploaded.
    copy(
        &t.store,
        &format!("docker://{}/sample/app:1", first.host()),
        &format!("docker://{}/other/app:1", first.host()),
    );
    assert_eq!(first.target().inspect_raw("other/app:1"), raw);
    let requests = first.requests();
    let mounts = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("mount=") && r.status == 201)
        .count();
    assert_eq!(mounts, 4, "config and 3 layers mounted: {requests:?}");
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "PUT" && r.path.starts_with("/v2/other/app/blobs/")),
        "nothing uploaded: {requests:?}"
    );
    assert_store_untouched(&t);
}

#[test]
fn registry_to_the_store_is_a_pull_under_the_destination_name() {
    let t = TestStore::new();
    let image = sample(&t);
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let copied = copy(
        &t.store,
        &format!("docker://{}/sample/app:1", registry.host()),
        "strata:localhost/mine:2",
    );
    let Copied::Pulled(pulled) = copied else {
        panic!("{copied:?}");
    };
    assert_eq!(pulled.image.id, image.image_id);
    assert_eq!(pulled.image.names, vec!["localhost/mine:2".to_string()]);
    assert_eq!(pulled.fetched, 3);

    // The store to a registry is a push.
    let copied = copy(
        &t.store,
        "strata:localhost/mine:2",
        &format!("docker://{}/sample/app:2", registry.host()),
    );
    assert!(matches!(copied, Copied::Pushed { .. }), "{copied:?}");
}

/// The file the registry keeps blob `digest` in.
fn stored_blob(registry: &Registry, digest: &str) -> std::path::PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    registry
        .dir()
        .join("storage/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

/// Flips the last byte of `path`.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_bad_blob_fails_the_copy_leaving_nothing_behind() {
    let t = TestStore::new();
    let image = sample(&t);
    let registry = Registry::plain();
    let target = registry.target();
    target.push(&image.path, "sample/app:1");
    let host = registry.host();
    let d = t.dir.path();

    // A damaged layer in the registry: no archive, no layout.
    let raw = json(&target.inspect_raw("sample/app:1"));
    let layer = raw["layers"][1]["digest"].as_str().expect("digest");
    damage(&stored_blob(&registry, layer));
    for to in [
        format!("docker-archive:{}", d.join("out.tar").display()),
        format!("oci-archive:{}", d.join("oci.tar").display()),
        format!("oci:{}", d.join("layout").display()),
    ] {
        let error = t
            .store
            .copy_with(
                &at(&format!("docker://{host}/sample/app:1")),
                &at(&to),
                &options(),
            )
            .expect_err("a damaged blob");
        assert!(error.to_string().contains(layer), "{to}: {error}");
    }
    assert!(std::fs::read_dir(d).expect("dir").all(|e| {
        let name = e.expect("entry").file_name();
        name != "out.tar" && name != "oci.tar" && name != "layout"
    }));
    // Nor a manifest in another registry.
    let other = Registry::plain();
    let error = t
        .store
        .copy_with(
            &at(&format!("docker://{host}/sample/app:1")),
            &at(&format!("docker://{}/mirror/app:1", other.host())),
            &options(),
        )
        .expect_err("a damaged blob");
    assert!(error.to_string().contains(layer), "{error}");
    assert!(
        !other
            .target()
            .try_inspect_raw("mirror/app:1")
            .status
            .success()
    );
    assert!(
        !other
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/")),
        "no manifest was sent"
    );

    // A damaged layer in a layout: no manifest in the registry.
    let layout = d.join("good");
    copy(
        &t.store,
        &format!("docker-archive:{}", image.path.display()),
        &format!("oci:{}:v1", layout.display()),
    );
    let hex = image.diff_ids[2].trim_start_matches("sha256:");
    damage(&layout.join("blobs/sha256").join(hex));
    let error = t
        .store
        .copy_with(
            &at(&format!("oci:{}:v1", layout.display())),
            &at(&format!("docker://{host}/pushed/bad:1")),
            &options(),
        )
        .expect_err("a damaged layer");
    assert!(error.to_string().contains(hex), "{error}");
    assert!(!target.try_inspect_raw("pushed/bad:1").status.success());
    assert_store_untouched(&t);
}

#[test]
fn an_index_is_copied_whole_with_all_and_one_platform_without() {
    let t = TestStore::new();
    let amd = sample(&t);
    let arm = sample_image(
        &t.dir.path().join("other.tar"),
        &["--layers", "2", "--size-mib", "1"],
    );
    let first = Registry::plain();
    let second = Registry::plain();
    let layout = t.dir.path().join("layout");
    for (archive, name) in [(&amd.path, "amd"), (&arm.path, "arm")] {
        copy(
            &t.store,
            &format!("docker-archive:{}", archive.display()),
            &format!("oci:{}:{name}", layout.display()),
        );
    }
    let (amd_digest, amd_size) = layout_entry(&layout, "amd");
    let (arm_digest, arm_size) = layout_entry(&layout, "arm");
    add_layout_index(
        &layout,
        &[
            (amd_digest, amd_size, "amd64"),
            (arm_digest, arm_size, "arm64"),
        ],
        "multi",
    );
    let mut args: Vec<std::ffi::OsString> = vec!["copy".into(), "--all".into()];
    args.extend(first.target().dest_flags());
    args.push(format!("oci:{}:multi", layout.display()).into());
    args.push(first.target().docker_ref("multi/app:1").into());
    skopeo_ok(args);
    let raw = first.target().inspect_raw("multi/app:1");
    let index = json(&raw);

    let all = CopyOptions {
        all: true,
        ..options()
    };
    let copied = t
        .store
        .copy_with(
            &at(&format!("docker://{}/multi/app:1", first.host())),
            &at(&format!("docker://{}/multi/app:1", second.host())),
            &all,
        )
        .expect("copy --all");
    assert!(
        matches!(&copied, Copied::Pushed { image: None, manifest_digest }
            if manifest_digest.to_string() == digest_of(&raw)),
        "{copied:?}"
    );
    assert_eq!(second.target().inspect_raw("multi/app:1"), raw);
    let mut arm64 = None;
    for child in index["manifests"].as_array().expect("manifests") {
        let reference = format!("multi/app@{}", child["digest"].as_str().expect("digest"));
        let bytes = second.target().inspect_raw(&reference);
        assert_eq!(bytes, first.target().inspect_raw(&reference));
        if child["platform"]["architecture"] == "arm64" {
            arm64 = Some(bytes);
        }
    }

    // Without --all: the platform's image only, its manifest kept.
    let one = CopyOptions {
        platform: Some("linux/arm64".parse().expect("platform")),
        ..options()
    };
    let copied = t
        .store
        .copy_with(
            &at(&format!("docker://{}/multi/app:1", first.host())),
            &at(&format!("docker://{}/single/app:1", second.host())),
            &one,
        )
        .expect("copy one platform");
    assert!(
        matches!(&copied, Copied::Pushed { image: Some(id), .. } if *id == arm.image_id),
        "{copied:?}"
    );
    assert_eq!(
        Some(second.target().inspect_raw("single/app:1")),
        arm64,
        "the arm64 manifest's bytes"
    );
    assert_store_untouched(&t);
}

#[test]
fn store_to_registry_is_a_push() {
    let t = TestStore::new();
    let image = sample(&t);
    t.store.load_path(&image.path).expect("load");
    let registry = Registry::plain();
    let destination = format!("{}/from-store/app:1", registry.host());
    let copied = copy(
        &t.store,
        &format!("strata:{}", image.name),
        &format!("docker://{destination}"),
    );
    let Copied::Pushed {
        image: pushed,
        manifest_digest,
    } = copied
    else {
        panic!("a push: {copied:?}");
    };
    assert_eq!(pushed.as_deref(), Some(image.image_id.as_str()));
    let raw = registry.target().inspect_raw("from-store/app:1");
    assert_eq!(manifest_digest.to_string(), digest_of(&raw));
    assert_eq!(pull_elsewhere(&destination), image.image_id);
}

//! Copying between archives and layouts without the store: configs and
//! manifests kept where the format allows (digests compared), layers
//! decompressed only for docker archives, skopeo reading the results, and
//! bad sources refused without leaving output behind.

use std::path::Path;

use serde_json::Value;
use strata::digest::Digest;
use strata::{Location, SaveFormat, Store};
use testkit::peers::skopeo_ok;

use crate::common::{TestStore, open};
use crate::save::{app_tar, base_tar, item, json, make_image, save};

fn at(text: String) -> Location {
    text.parse().expect("location")
}

fn copy(store: &Store, from: String, to: String) {
    store
        .copy(&at(from.clone()), &at(to.clone()))
        .unwrap_or_else(|e| panic!("copy {from} to {to}: {e}"));
}

/// The digests of the manifest of the only image of a layout and of its
/// config, as skopeo reads them.
fn skopeo_digests(location: &str) -> (String, String) {
    let raw = skopeo_ok(["inspect", "--raw", location]);
    let manifest: Value = serde_json::from_str(&raw).expect("manifest json");
    let digest = format!("sha256:{}", Digest::of(raw.as_bytes()).hex());
    (
        digest,
        manifest["config"]["digest"]
            .as_str()
            .expect("config")
            .to_string(),
    )
}

/// The manifest digest the only entry of `dir/index.json` names.
fn index_manifest(dir: &Path) -> String {
    let index = json(&std::fs::read(dir.join("index.json")).expect("index.json"));
    assert_eq!(
        index["manifests"].as_array().expect("entries").len(),
        1,
        "{index}"
    );
    index["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_string()
}

/// Loads `path` into a new store and returns the image id and diff ids.
fn load_elsewhere(path: &Path) -> (String, Vec<Digest>) {
    let (image, diff_ids) = crate::common::load_elsewhere(path);
    let diff_ids = diff_ids
        .iter()
        .map(|d| Digest::parse(d).expect("digest"))
        .collect();
    (image.id, diff_ids)
}

#[test]
fn archives_and_layouts_copy_into_each_other_keeping_digests() {
    let t = TestStore::new();
    let layers = [base_tar(), app_tar()];
    let image = make_image(&t.store, &layers, "copy", vec![], &["localhost/copy:1"]);
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let (original, _) = save(
        &t.store,
        &[item(&image, Some("localhost/copy:1"))],
        SaveFormat::DockerArchive,
    );
    let d = t.dir.path();
    let docker = d.join("docker.tar");
    std::fs::write(&docker, &original).expect("write");

    // docker-archive → oci dir → oci-archive → docker-archive.
    copy(
        &t.store,
        format!("docker-archive:{}", docker.display()),
        format!("oci:{}:v1", d.join("layout").display()),
    );
    copy(
        &t.store,
        format!("oci:{}:v1", d.join("layout").display()),
        format!("oci-archive:{}", d.join("oci.tar").display()),
    );
    copy(
        &t.store,
        format!("oci-archive:{}", d.join("oci.tar").display()),
        format!("docker-archive:{}", d.join("back.tar").display()),
    );

    let layout_manifest = index_manifest(&d.join("layout"));
    let (skopeo_manifest, config) =
        skopeo_digests(&format!("oci:{}:v1", d.join("layout").display()));
    assert_eq!(skopeo_manifest, layout_manifest);
    assert_eq!(config, format!("sha256:{}", image.id), "the config is kept");
    let (oci_manifest, oci_config) =
        skopeo_digests(&format!("oci-archive:{}", d.join("oci.tar").display()));
    assert_eq!(
        oci_manifest, layout_manifest,
        "an OCI → OCI copy keeps the manifest"
    );
    assert_eq!(oci_config, config);
    // The Docker 25+ archive's manifest fits, so the round trip gives back
    // the very archive strata saved.
    let back = std::fs::read(d.join("back.tar")).expect("back");
    assert!(
        back == original,
        "docker → oci → oci-archive → docker gives the same bytes"
    );
    for path in [d.join("oci.tar"), d.join("back.tar")] {
        assert_eq!(
            load_elsewhere(&path),
            (image.id.clone(), diff_ids.clone()),
            "{}",
            path.display()
        );
    }

    // The legacy layout has no manifest: one is generated.
    let (v1, _) = save(
        &t.store,
        &[item(&image, Some("localhost/copy:1"))],
        SaveFormat::DockerArchiveV1,
    );
    let legacy = d.join("v1.tar");
    std::fs::write(&legacy, v1).expect("write");
    copy(
        &t.store,
        format!("docker-archive:{}", legacy.display()),
        format!("oci:{}", d.join("from-v1").display()),
    );
    assert_eq!(
        index_manifest(&d.join("from-v1")),
        layout_manifest,
        "the generated manifest is a save's"
    );
}

#[test]
fn compressed_layers_stay_compressed_in_oci_and_are_unpacked_for_docker() {
    let t = TestStore::new();
    let layers = [base_tar(), app_tar()];
    let image = make_image(&t.store, &layers, "gz", vec![], &["localhost/gz:1"]);
    let blobs = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
            .expect("blobs")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let d = t.dir.path();
    let docker = d.join("docker.tar");
    let (bytes, _) = save(
        &t.store,
        &[item(&image, Some("localhost/gz:1"))],
        SaveFormat::DockerArchive,
    );
    std::fs::write(&docker, bytes).expect("write");
    let gz = format!("oci:{}:gz", d.join("gz").display());
    skopeo_ok([
        "copy",
        "--dest-compress",
        &format!("docker-archive:{}", docker.display()),
        &gz,
    ]);
    // skopeo may rewrite the config on the way; the layout's is the one
    // the copies must keep.
    let (gz_manifest, gz_config) = skopeo_digests(&gz);

    let oci_archive = d.join("gz.tar");
    copy(
        &t.store,
        gz.clone(),
        format!("oci-archive:{}:gz", oci_archive.display()),
    );
    let (copied_manifest, _) = skopeo_digests(&format!("oci-archive:{}:gz", oci_archive.display()));
    assert_eq!(
        copied_manifest, gz_manifest,
        "gzip layers and their manifest are kept"
    );
    let relaid = d.join("relaid");
    copy(
        &t.store,
        format!("oci-archive:{}:gz", oci_archive.display()),
        format!("oci:{}", relaid.display()),
    );
    assert_eq!(
        blobs(&relaid),
        blobs(&d.join("gz")),
        "the same blobs, none unpacked"
    );

    let unpacked = d.join("unpacked.tar");
    copy(
        &t.store,
        gz,
        format!("docker-archive:{}:localhost/gz:2", unpacked.display()),
    );
    let gz_id = gz_config
        .strip_prefix("sha256:")
        .expect("sha256")
        .to_string();
    assert_eq!(load_elsewhere(&unpacked), (gz_id, diff_ids.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let loaded = open(dir.path()).load_path(&unpacked).expect("load");
    assert_eq!(loaded.images[0].names, ["localhost/gz:2"]);
    let inspect =
        json(skopeo_ok(["inspect", &format!("docker-archive:{}", unpacked.display())]).as_bytes());
    let diff_ids_text: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        inspect["Layers"],
        serde_json::json!(diff_ids_text),
        "{inspect}"
    );
}

#[test]
fn a_bad_source_leaves_no_output() {
    let t = TestStore::new();
    let image = make_image(&t.store, &[base_tar(), app_tar()], "bad", vec![], &[]);
    let d = t.dir.path();
    let layout = d.join("layout");
    t.store
        .save_layout(&[item(&image, Some("localhost/bad:1"))], &layout)
        .expect("save layout");
    // Damage the app layer's blob, keeping its length.
    let blob = layout
        .join("blobs/sha256")
        .join(Digest::of(&app_tar()).hex());
    let mut data = std::fs::read(&blob).expect("blob");
    data[600] ^= 1;
    std::fs::write(&blob, data).expect("damage");

    let source = format!("oci:{}", layout.display());
    for to in [
        format!("oci-archive:{}", d.join("out.tar").display()),
        format!("docker-archive:{}", d.join("out-docker.tar").display()),
        format!("oci:{}", d.join("out-dir").display()),
    ] {
        let error = t
            .store
            .copy(&at(source.clone()), &at(to.clone()))
            .expect_err(&to);
        assert!(
            error
                .to_string()
                .contains(&Digest::of(&app_tar()).hex()[..12]),
            "{to}: {error}"
        );
    }
    for name in ["out.tar", "out-docker.tar", "out-dir"] {
        assert!(!d.join(name).exists(), "{name} was left behind");
    }
    let missing = t.store.copy(
        &at(format!(
            "docker-archive:{}",
            d.join("nothing.tar").display()
        )),
        &at(format!("oci-archive:{}", d.join("out2.tar").display())),
    );
    assert!(missing.is_err());
    assert!(!d.join("out2.tar").exists());
}

//! Saving images: docker-archive and oci-archive bytes (member order,
//! headers, metadata files, manifests), determinism, shared layers written
//! once, stored manifests reused, OCI directories merged, damaged layers
//! refused; and skopeo, umoci and GNU tar reading what strata writes.

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use strata::digest::Digest;
use strata::image::reference::{self, Reference};
use strata::image::{chain_ids, media};
use strata::{CreateOptions, Error, Store};
use strata::{Image, NewImage};
use strata::{SaveFormat, SaveItem, SaveReport};
use testkit::TarBuilder;
use testkit::peers::{Dockerd, Podman, skopeo_ok, umoci_ok};

use crate::common::TestStore;

pub(crate) fn base_tar() -> Vec<u8> {
    TarBuilder::default()
        .dir("etc")
        .file("etc/os-release", b"ID=strata\n")
        .finish()
}

pub(crate) fn app_tar() -> Vec<u8> {
    TarBuilder::default()
        .dir("app")
        .file("app/run", &[b'x'; 1000])
        .finish()
}

pub(crate) fn other_tar() -> Vec<u8> {
    TarBuilder::default().file("other", b"other layer").finish()
}

fn config_for(diff_ids: &[Digest], label: &str) -> Vec<u8> {
    let ids: Vec<&str> = diff_ids.iter().map(Digest::as_str).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", // fixed: the pinned archive digest depends on it
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Labels": {"test": label}},
        "rootfs": {"type": "layers", "diff_ids": ids},
    }))
    .expect("config json")
}

/// Imports `layers` (reusing those already there) and commits an image of
/// them with `manifests` and `names`.
pub(crate) fn make_image(
    store: &Store,
    layers: &[Vec<u8>],
    label: &str,
    manifests: Vec<Vec<u8>>,
    names: &[&str],
) -> Image {
    let diff_ids: Vec<Digest> = layers.iter().map(|tar| Digest::of(tar)).collect();
    let chain = chain_ids(&diff_ids);
    let lease = store.lease().expect("lease");
    for (i, tar) in layers.iter().enumerate() {
        let options = CreateOptions {
            id: Some(chain[i].hex().to_string()),
            parent: i.checked_sub(1).map(|p| chain[p].hex().to_string()),
            lease: Some(lease.id().into()),
            expect_diff_digest: Some(diff_ids[i].clone()),
            ..CreateOptions::default()
        };
        match store.import_layer(&options, &mut &tar[..], None) {
            Ok(_) => {}
            Err(Error::LayerExists(id)) => assert!(store.hold_layer(&lease, &id).expect("hold")),
            Err(e) => panic!("import layer {i}: {e}"),
        }
    }
    let new = NewImage {
        config: config_for(&diff_ids, label),
        manifests,
        names: names.iter().map(|n| n.to_string()).collect(),
        blobs: Vec::new(),
    };
    let image = store.commit_image(&lease, &new).expect("commit image");
    store.release(lease).expect("release");
    image
}

pub(crate) fn item(image: &Image, name: Option<&str>) -> SaveItem {
    SaveItem {
        image: image.clone(),
        name: name.map(|n| reference::parse(n).expect("name")),
        ref_name: None,
    }
}

pub(crate) fn save(store: &Store, items: &[SaveItem], format: SaveFormat) -> (Vec<u8>, SaveReport) {
    let mut out = Vec::new();
    let report = store.save(items, format, &mut out).expect("save");
    assert_eq!(report.bytes, out.len() as u64, "report counts the bytes");
    (out, report)
}

/// One archive member: name, mode, type, contents; headers checked here.
struct Member {
    name: String,
    mode: u32,
    data: Vec<u8>,
}

fn read_members(archive: &[u8]) -> Vec<Member> {
    assert!(archive.len().is_multiple_of(512) && archive.ends_with(&[0; 1024]));
    let mut out = Vec::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let header = entry.header().clone();
        let name = String::from_utf8(entry.path_bytes().into_owned()).expect("utf-8 name");
        assert!(header.as_ustar().is_some(), "{name}: USTAR header");
        assert_eq!(header.mtime().expect("mtime"), 0, "{name}: mtime");
        assert_eq!(header.uid().expect("uid"), 0, "{name}: uid");
        assert_eq!(header.gid().expect("gid"), 0, "{name}: gid");
        assert_eq!(header.username_bytes(), Some(&b""[..]), "{name}: uname");
        assert_eq!(header.groupname_bytes(), Some(&b""[..]), "{name}: gname");
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read member");
        let mode = header.mode().expect("mode");
        let dir = header.entry_type().is_dir();
        assert_eq!(name.ends_with('/'), dir, "{name}: directories end with /");
        out.push(Member { name, mode, data });
    }
    out
}

fn member<'a>(members: &'a [Member], name: &str) -> &'a [u8] {
    &members
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .data
}

fn blob_name(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8")
}

pub(crate) fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("json")
}

/// The manifest docker generates for `config` over `layers`.
fn docker_manifest(config: &[u8], layers: &[Vec<u8>]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|tar| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}"#,
                Digest::of(tar),
                tar.len()
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}}"#,
        Digest::of(config),
        config.len(),
        layers.join(",")
    )
}

#[test]
fn docker_archive_is_the_docker_25_layout_in_fixed_order() {
    let t = TestStore::new();
    let layers = vec![base_tar(), app_tar()];
    let image = make_image(&t.store, &layers, "a", vec![], &["localhost/x:1"]);
    let (archive, report) = save(
        &t.store,
        &[item(&image, Some("localhost/x:1"))],
        SaveFormat::DockerArchive,
    );
    assert_eq!((report.images, report.layers), (1, 2));
    let members = read_members(&archive);
    let config = t.store.image_config_bytes(&image).expect("config");
    let manifest = docker_manifest(&config, &layers);
    let manifest_digest = Digest::of(manifest.as_bytes());
    let config_digest = Digest::of(&config);
    let (base, app) = (Digest::of(&layers[0]), Digest::of(&layers[1]));

    let mut json_blobs = [config_digest.clone(), manifest_digest.clone()];
    json_blobs.sort();
    let mut expected = vec![
        "oci-layout".to_string(),
        "index.json".into(),
        "manifest.json".into(),
        "repositories".into(),
        "blobs/".into(),
        "blobs/sha256/".into(),
    ];
    expected.extend(json_blobs.iter().map(blob_name));
    expected.extend([blob_name(&base), blob_name(&app)]);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, expected);
    for m in &members {
        let want = if m.name.ends_with('/') { 0o755 } else { 0o644 };
        assert_eq!(m.mode, want, "{}", m.name);
    }

    assert_eq!(
        text(member(&members, "oci-layout")),
        r#"{"imageLayoutVersion": "1.0.0"}"#
    );
    assert_eq!(
        text(member(&members, "index.json")),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"io.containerd.image.name":"localhost/x:1","org.opencontainers.image.ref.name":"1"}}}}]}}"#,
            manifest.len()
        )
    );
    let source = |tar: &Vec<u8>| {
        format!(
            r#""{d}":{{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":{},"digest":"{d}"}}"#,
            tar.len(),
            d = Digest::of(tar)
        )
    };
    let mut sources = [source(&layers[0]), source(&layers[1])];
    sources.sort();
    assert_eq!(
        text(member(&members, "manifest.json")),
        format!(
            "[{{\"Config\":\"{}\",\"RepoTags\":[\"localhost/x:1\"],\"Layers\":[\"{}\",\"{}\"],\"LayerSources\":{{{}}}}}]\n",
            blob_name(&config_digest),
            blob_name(&base),
            blob_name(&app),
            sources.join(",")
        )
    );
    assert_eq!(
        text(member(&members, "repositories")),
        format!("{{\"localhost/x\":{{\"1\":\"{}\"}}}}\n", app.hex())
    );
    assert_eq!(member(&members, &blob_name(&config_digest)), &config[..]);
    assert_eq!(
        text(member(&members, &blob_name(&manifest_digest))),
        manifest
    );
    assert_eq!(member(&members, &blob_name(&base)), &layers[0][..]);
    assert_eq!(member(&members, &blob_name(&app)), &layers[1][..]);
}

#[test]
fn saves_are_byte_identical_across_runs_and_stores() {
    let one = TestStore::new();
    let two = TestStore::new();
    let layers = vec![base_tar(), app_tar()];
    let a = make_image(&one.store, &layers, "a", vec![], &["alpine:3"]);
    let b = make_image(&two.store, &layers, "a", vec![], &["alpine:3"]);
    for format in [SaveFormat::DockerArchive, SaveFormat::OciArchive] {
        let first = save(&one.store, &[item(&a, Some("alpine:3"))], format).0;
        let again = save(&one.store, &[item(&a, Some("alpine:3"))], format).0;
        let other = save(&two.store, &[item(&b, Some("alpine:3"))], format).0;
        assert!(first == again, "{format:?}: two saves differ");
        assert!(first == other, "{format:?}: two stores differ");
    }
    // Pinned: any change to these bytes changes every archive strata writes.
    let archive = save(
        &one.store,
        &[item(&a, Some("alpine:3"))],
        SaveFormat::DockerArchive,
    )
    .0;
    assert_eq!(
        testkit::sha256(&archive),
        "f531bf097cb43d127e2f4f172968603338f26f84c791b06a55e81dc9918eec86",
        "docker-archive bytes changed"
    );
}

#[test]
fn shared_layers_are_written_once_in_first_use_order() {
    let t = TestStore::new();
    let one = make_image(
        &t.store,
        &[base_tar(), app_tar()],
        "one",
        vec![],
        &["localhost/one:1"],
    );
    let two = make_image(
        &t.store,
        &[base_tar(), other_tar()],
        "two",
        vec![],
        &["localhost/two:1"],
    );
    let items = [
        item(&two, Some("localhost/two:1")),
        item(&one, Some("localhost/one:1")),
    ];
    let (archive, report) = save(&t.store, &items, SaveFormat::DockerArchive);
    assert_eq!((report.images, report.layers), (2, 3));
    let members = read_members(&archive);
    let layer_names: Vec<&str> = members
        .iter()
        .filter(|m| m.data.len() >= 1024 && m.data.ends_with(&[0; 1024]))
        .map(|m| m.name.as_str())
        .collect();
    let order = [base_tar(), other_tar(), app_tar()].map(|tar| blob_name(&Digest::of(&tar)));
    assert_eq!(layer_names, order, "layers once each, first use first");
    let manifest = json(member(&members, "manifest.json"));
    let tags: Vec<&Value> = manifest
        .as_array()
        .expect("array")
        .iter()
        .map(|m| &m["RepoTags"])
        .collect();
    assert_eq!(
        tags,
        [
            &serde_json::json!(["localhost/two:1"]),
            &serde_json::json!(["localhost/one:1"])
        ]
    );
    assert_eq!(
        manifest[1]["Layers"][0], manifest[0]["Layers"][0],
        "shared base"
    );
}

#[test]
fn names_of_one_image_share_its_manifest_entry() {
    let t = TestStore::new();
    let image = make_image(
        &t.store,
        &[base_tar()],
        "n",
        vec![],
        &["alpine:3", "user/app:v1"],
    );
    let items = [
        item(&image, Some("alpine:3")),
        item(&image, None),
        item(&image, Some("user/app:v1")),
        item(&image, Some("docker.io/library/alpine:3")),
    ];
    let (archive, report) = save(&t.store, &items, SaveFormat::DockerArchive);
    assert_eq!(report.images, 1);
    let members = read_members(&archive);
    let manifest = json(member(&members, "manifest.json"));
    assert_eq!(manifest.as_array().map(Vec::len), Some(1));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["alpine:3", "user/app:v1"])
    );
    let index = json(member(&members, "index.json"));
    let annotations: Vec<&Value> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| &m["annotations"])
        .collect();
    assert_eq!(
        annotations,
        [
            &serde_json::json!({"io.containerd.image.name": "docker.io/library/alpine:3", "org.opencontainers.image.ref.name": "3"}),
            &serde_json::json!({"io.containerd.image.name": "docker.io/user/app:v1", "org.opencontainers.image.ref.name": "v1"}),
        ]
    );
    let top = Digest::of(&base_tar());
    assert_eq!(
        json(member(&members, "repositories")),
        serde_json::json!({"alpine": {"3": top.hex()}, "user/app": {"v1": top.hex()}})
    );
}

#[test]
fn untagged_images_have_null_repo_tags_and_no_repositories() {
    let t = TestStore::new();
    let image = make_image(&t.store, &[base_tar()], "u", vec![], &[]);
    let (archive, _) = save(&t.store, &[item(&image, None)], SaveFormat::DockerArchive);
    let members = read_members(&archive);
    assert!(members.iter().all(|m| m.name != "repositories"));
    let manifest = json(member(&members, "manifest.json"));
    assert_eq!(manifest[0]["RepoTags"], Value::Null);
    assert!(text(member(&members, "manifest.json")).contains(r#""RepoTags":null"#));
    let index = json(member(&members, "index.json"));
    assert!(index["manifests"][0].get("annotations").is_none());
}

#[test]
fn a_fitting_stored_manifest_is_kept_byte_for_byte() {
    let t = TestStore::new();
    let layers = vec![base_tar(), app_tar()];
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let config = config_for(&diff_ids, "kept");
    // Spaced and annotated: not what strata would generate.
    let stored = format!(
        "{{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"{}\",\n  \"config\": {{\"mediaType\": \"{}\", \"digest\": \"{}\", \"size\": {}}},\n  \"layers\": [{}],\n  \"annotations\": {{\"a\": \"b\"}}\n}}\n",
        media::OCI_MANIFEST,
        media::OCI_CONFIG,
        Digest::of(&config),
        config.len(),
        layers
            .iter()
            .map(|l| format!(
                r#"{{"mediaType": "{}", "digest": "{}", "size": {}}}"#,
                media::OCI_LAYER_TAR,
                Digest::of(l),
                l.len()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let gzip = stored.replace(media::OCI_LAYER_TAR, media::OCI_LAYER_GZIP);
    let image = make_image(
        &t.store,
        &layers,
        "kept",
        vec![gzip.into_bytes(), stored.clone().into_bytes()],
        &[],
    );
    let (archive, _) = save(&t.store, &[item(&image, None)], SaveFormat::OciArchive);
    let members = read_members(&archive);
    let index = json(member(&members, "index.json"));
    let digest = Digest::of(stored.as_bytes());
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(text(member(&members, &blob_name(&digest))), stored);

    // Only a manifest of gzip layers: a docker-style one is generated instead.
    let config = config_for(&[Digest::of(&other_tar())], "generated");
    let gzip = docker_manifest(&config, &[other_tar()])
        .replace(media::OCI_LAYER_TAR, media::OCI_LAYER_GZIP);
    let other = make_image(
        &t.store,
        &[other_tar()],
        "generated",
        vec![gzip.into_bytes()],
        &[],
    );
    let (archive, _) = save(&t.store, &[item(&other, None)], SaveFormat::OciArchive);
    let members = read_members(&archive);
    let config = t.store.image_config_bytes(&other).expect("config");
    let generated = docker_manifest(&config, &[other_tar()]);
    let index = json(member(&members, "index.json"));
    assert_eq!(
        index["manifests"][0]["digest"],
        Digest::of(generated.as_bytes()).as_str()
    );
    assert_eq!(
        text(member(
            &members,
            &blob_name(&Digest::of(generated.as_bytes()))
        )),
        generated
    );
}

#[test]
fn oci_archive_names_images_in_full_and_has_no_docker_files() {
    let t = TestStore::new();
    let image = make_image(&t.store, &[base_tar()], "o", vec![], &["alpine:3"]);
    let (archive, _) = save(
        &t.store,
        &[item(&image, Some("alpine:3"))],
        SaveFormat::OciArchive,
    );
    let members = read_members(&archive);
    let names: Vec<&str> = members.iter().take(3).map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["oci-layout", "index.json", "blobs/"]);
    let index = json(member(&members, "index.json"));
    assert_eq!(
        index["manifests"][0]["annotations"],
        serde_json::json!({
            "io.containerd.image.name": "docker.io/library/alpine:3",
            "org.opencontainers.image.ref.name": "docker.io/library/alpine:3",
        })
    );
}

#[test]
fn bad_requests_fail_before_writing() {
    let t = TestStore::new();
    let a = make_image(&t.store, &[base_tar()], "a", vec![], &[]);
    let b = make_image(&t.store, &[app_tar()], "b", vec![], &[]);
    let digest_only = format!("alpine@{}", Digest::of(b"x"));
    let cases: Vec<(Vec<SaveItem>, SaveFormat, &str)> = vec![
        (vec![], SaveFormat::DockerArchive, "nothing to save"),
        (
            vec![item(&a, Some("x:1")), item(&b, Some("x:1"))],
            SaveFormat::OciArchive,
            "given to two images",
        ),
        (
            vec![item(&a, Some(&digest_only))],
            SaveFormat::DockerArchive,
            "has none",
        ),
    ];
    for (items, format, message) in cases {
        let mut out = Vec::new();
        let error = t.store.save(&items, format, &mut out).expect_err(message);
        assert!(error.to_string().contains(message), "{error}");
        assert!(out.is_empty(), "{message}: nothing written");
    }
    let mut out = Vec::new();
    t.store
        .save(
            &[item(&a, Some(&digest_only))],
            SaveFormat::OciArchive,
            &mut out,
        )
        .expect("an OCI ref name may be a digest reference");
}

/// Overwrites a file the layer's own tar holds, keeping or changing its length.
fn damage(t: &TestStore, image: &Image, path: &str, data: &[u8]) {
    let top = image.top_layer.as_deref().expect("top layer");
    std::fs::write(t.files_dir(top).join(path), data).expect("damage the layer");
}

#[test]
fn a_damaged_layer_fails_the_save_naming_it() {
    for data in [&[b'y'; 1000][..], b"short"] {
        let t = TestStore::new();
        let image = make_image(
            &t.store,
            &[base_tar(), app_tar()],
            "d",
            vec![],
            &["localhost/d:1"],
        );
        damage(&t, &image, "app/run", data);
        let top = image.top_layer.clone().expect("top");
        for format in [SaveFormat::DockerArchive, SaveFormat::OciArchive] {
            let mut out = Vec::new();
            let error = t
                .store
                .save(&[item(&image, None)], format, &mut out)
                .expect_err("damaged layer");
            assert!(error.to_string().contains(&top), "names the layer: {error}");
        }
        let dir = t.dir.path().join("layout");
        let error = t
            .store
            .save_layout(&[item(&image, None)], &dir)
            .expect_err("damaged");
        assert!(error.to_string().contains(&top), "{error}");
        assert!(
            !dir.join("index.json").exists(),
            "no index names a missing blob"
        );
        let left: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            left.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{left:?}"
        );
        assert!(!dir.join(blob_name(&Digest::of(&app_tar()))).exists());
    }
}

fn index_refs(dir: &Path) -> Vec<(String, String)> {
    let index = json(&std::fs::read(dir.join("index.json")).expect("index.json"));
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            (
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                m["digest"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn oci_dir_merges_refs_and_reuses_blobs() {
    let t = TestStore::new();
    let a = make_image(&t.store, &[base_tar(), app_tar()], "a", vec![], &[]);
    let b = make_image(&t.store, &[base_tar(), other_tar()], "b", vec![], &[]);
    let dir = t.dir.path().join("out/layout");
    let first = t
        .store
        .save_layout(&[item(&a, Some("x:1"))], &dir)
        .expect("save a");
    t.store
        .save_layout(&[item(&b, Some("y:1"))], &dir)
        .expect("save b");
    let digest_of = |image: &Image| {
        let (archive, _) = save(&t.store, &[item(image, None)], SaveFormat::OciArchive);
        json(member(&read_members(&archive), "index.json"))["manifests"][0]["digest"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let (ma, mb) = (digest_of(&a), digest_of(&b));
    let full = |n: &str| Reference::to_string(&reference::parse(n).expect("ref"));
    assert_eq!(
        index_refs(&dir),
        [(full("x:1"), ma.clone()), (full("y:1"), mb.clone())]
    );

    // x:1 moves to b in place; y:1 stays; blobs already there are not rewritten.
    let again = t
        .store
        .save_layout(&[item(&b, Some("x:1"))], &dir)
        .expect("retag");
    assert_eq!(
        index_refs(&dir),
        [(full("x:1"), mb.clone()), (full("y:1"), mb)]
    );
    let index_len = std::fs::metadata(dir.join("index.json"))
        .expect("index")
        .len();
    assert_eq!(again.bytes, index_len, "only index.json written");
    assert!(first.bytes > again.bytes);

    // A damaged blob is rewritten.
    let base = dir.join(blob_name(&Digest::of(&base_tar())));
    std::fs::write(&base, b"junk").expect("damage blob");
    t.store
        .save_layout(&[item(&a, Some("z:1"))], &dir)
        .expect("save a again");
    assert_eq!(std::fs::read(&base).expect("base"), base_tar());
    assert_eq!(
        std::fs::read(dir.join("oci-layout")).expect("layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#
    );

    let listed = umoci_ok(["ls", "--layout", dir.to_str().expect("utf-8")]);
    let mut refs: Vec<&str> = listed.lines().collect();
    refs.sort();
    assert_eq!(refs, [full("x:1"), full("y:1"), full("z:1")]);
}

#[test]
fn real_tools_read_what_strata_writes() {
    let t = TestStore::new();
    let layers = vec![base_tar(), app_tar()];
    let image = make_image(&t.store, &layers, "tools", vec![], &["localhost/tools:1"]);
    let items = [item(&image, Some("localhost/tools:1"))];
    let docker = t.dir.path().join("docker.tar");
    let oci = t.dir.path().join("oci.tar");
    std::fs::write(&docker, save(&t.store, &items, SaveFormat::DockerArchive).0).expect("write");
    std::fs::write(&oci, save(&t.store, &items, SaveFormat::OciArchive).0).expect("write");
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();

    let listing = std::process::Command::new("tar")
        .arg("-tvf")
        .arg(&docker)
        .output()
        .expect("run tar");
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let listing = String::from_utf8_lossy(&listing.stdout);
    let first: Vec<&str> = listing.lines().take(2).collect();
    assert!(
        first[0].starts_with("-rw-r--r-- 0/0") && first[0].ends_with(" oci-layout"),
        "{listing}"
    );
    assert!(
        first[1].contains("1970-01-01 00:00") && first[1].ends_with(" index.json"),
        "{listing}"
    );

    for reference in [
        format!("docker-archive:{}", docker.display()),
        format!("oci-archive:{}", oci.display()),
    ] {
        let inspected = json(skopeo_ok(["inspect", &reference]).as_bytes());
        assert_eq!(
            inspected["Layers"],
            serde_json::json!(diff_ids),
            "{reference}"
        );
        assert_eq!(inspected["Labels"]["test"], "tools", "{reference}");
        let config = json(skopeo_ok(["inspect", "--config", &reference]).as_bytes());
        assert_eq!(
            config["rootfs"]["diff_ids"],
            serde_json::json!(diff_ids),
            "{reference}"
        );
    }
    // skopeo copy checks every blob's digest on the way.
    let copied = t.dir.path().join("copied");
    skopeo_ok([
        "copy",
        &format!("docker-archive:{}", docker.display()),
        &format!("oci:{}:copied", copied.display()),
    ]);
    assert_eq!(
        umoci_ok(["ls", "--layout", copied.to_str().expect("utf-8")]).trim(),
        "copied"
    );
}

/// One dockerd and one podman for the checks: each takes seconds to start.
#[test]
fn docker_and_podman_load_what_strata_saves() {
    let t = TestStore::new();
    let one = make_image(&t.store, &[base_tar(), app_tar()], "one", vec![], &[]);
    let two = make_image(&t.store, &[base_tar(), other_tar()], "two", vec![], &[]);
    let items = [
        item(&one, Some("localhost/one:1")),
        item(&two, Some("localhost/two:1")),
        item(&two, Some("localhost/two:2")),
    ];
    let docker_archive = t.dir.path().join("docker.tar");
    let oci_archive = t.dir.path().join("oci.tar");
    let (bytes, _) = save(&t.store, &items, SaveFormat::DockerArchive);
    std::fs::write(&docker_archive, bytes).expect("write");
    let (bytes, _) = save(&t.store, &items[..1], SaveFormat::OciArchive);
    std::fs::write(&oci_archive, bytes).expect("write");
    let expected = [
        ("localhost/one:1", &one, [base_tar(), app_tar()]),
        ("localhost/two:1", &two, [base_tar(), other_tar()]),
        ("localhost/two:2", &two, [base_tar(), other_tar()]),
    ];

    let docker = Dockerd::start();
    let loaded = docker.docker_ok(["load", "-i", docker_archive.to_str().expect("utf-8")]);
    for (name, image, layers) in &expected {
        assert!(
            loaded.contains(&format!("Loaded image: {name}")),
            "{loaded}"
        );
        let inspect = json(docker.docker_ok(["image", "inspect", name]).as_bytes());
        assert_eq!(inspect[0]["Id"], format!("sha256:{}", image.id), "{name}");
        let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
        assert_eq!(
            inspect[0]["RootFS"]["Layers"],
            serde_json::json!(diff_ids),
            "{name}"
        );
    }
    drop(docker);

    let podman = Podman::new();
    podman.run_ok(["load", "-i", docker_archive.to_str().expect("utf-8")]);
    podman.run_ok(["load", "-i", oci_archive.to_str().expect("utf-8")]);
    let listed = json(podman.run_ok(["images", "--format", "json"]).as_bytes());
    let mut seen: Vec<(String, String)> = listed
        .as_array()
        .expect("images")
        .iter()
        .flat_map(|image| {
            let id = image["Id"].as_str().unwrap_or("").to_string();
            image["Names"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |n| (n.as_str().unwrap_or("").to_string(), id.clone()))
        })
        .collect();
    seen.sort();
    seen.dedup(); // podman lists an image once per tag
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(name, image, _)| (name.to_string(), image.id.clone()))
        .collect();
    assert_eq!(seen, want);
}

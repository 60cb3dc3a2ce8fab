//! Image indexes (multi-platform images) pushed into `strata serve`:
//! skopeo's `copy --all` lands each platform's image and keeps the index
//! under its tag, served back as Debian's docker-registry serves the same
//! push; the index holds its images against `image prune` and `rmi` until
//! its name goes; pushes of indexes are checked (entries pushed before,
//! image manifests only, sizes) and leave nothing when refused; a name
//! given again forgets its index.

use std::ffi::OsString;
use std::path::Path;

use testkit::image_archive::{add_layout_index, layout_entry};
use testkit::peers::{Podman, sample_image, skopeo_ok};
use testkit::registry::{Registry, Target};

use crate::serve_push_protocol::{pushable, put_manifest, upload};
use crate::serve_support::{Served, expect_error, expect_status, sha};
use crate::store_support::CliStore;

/// An OCI layout at `dir` with two sample images (`amd` and `arm`, the
/// second bigger) and an index of both under `multi`; returns the ids of
/// the two images.
fn multi_platform_layout(s: &CliStore, dir: &Path) -> (String, String) {
    let amd = sample_image(&s.dir.path().join("amd.tar"), &["--layers", "2"]);
    let arm = sample_image(
        &s.dir.path().join("arm.tar"),
        &[
            "--layers",
            "2",
            "--size-mib",
            "1",
            "--name",
            "localhost/arm:1",
        ],
    );
    for (image, name) in [(&amd, "amd"), (&arm, "arm")] {
        s.ok(&[
            "copy",
            "-q",
            &format!("docker-archive:{}", image.path.display()),
            &format!("oci:{}:{name}", dir.display()),
        ]);
    }
    let (amd_digest, amd_size) = layout_entry(dir, "amd");
    let (arm_digest, arm_size) = layout_entry(dir, "arm");
    add_layout_index(
        dir,
        &[
            (amd_digest, amd_size, "amd64"),
            (arm_digest, arm_size, "arm64"),
        ],
        "multi",
    );
    (amd.image_id, arm.image_id)
}

/// `skopeo copy --all oci:LAYOUT:multi docker://TARGET/REFERENCE`.
fn push_all(target: &Target, layout: &Path, reference: &str) {
    let mut args: Vec<OsString> = vec!["copy".into(), "--all".into()];
    args.extend(target.dest_flags());
    args.push(format!("oci:{}:multi", layout.display()).into());
    args.push(target.docker_ref(reference).into());
    skopeo_ok(args);
}

/// The digests of the entries of index `bytes`.
fn entries(bytes: &[u8]) -> Vec<String> {
    let index: serde_json::Value = serde_json::from_slice(bytes).expect("index json");
    index["manifests"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["digest"].as_str().expect("digest").to_string())
        .collect()
}

#[test]
fn skopeo_pushes_a_multi_platform_image_and_gets_back_what_the_reference_registry_serves() {
    let s = CliStore::new();
    let layout = s.dir.path().join("layout");
    let (amd, arm) = multi_platform_layout(&s, &layout);
    let mut served = Served::start(&s);
    let ours = Target::new(served.addr.clone(), None, None);
    push_all(&ours, &layout, "multi/app:1");
    let registry = Registry::plain();
    let reference = registry.target();
    push_all(&reference, &layout, "multi/app:1");

    let index = ours.inspect_raw("multi/app:1");
    assert_eq!(
        index,
        reference.inspect_raw("multi/app:1"),
        "the index skopeo pushed, byte for byte"
    );
    for digest in entries(&index) {
        let child = format!("multi/app@{digest}");
        assert_eq!(ours.inspect_raw(&child), reference.inspect_raw(&child));
    }
    let head = served.request("HEAD", "/v2/multi/app/manifests/1", &[]);
    assert_eq!(
        (
            head.header("content-type"),
            head.header("docker-content-digest")
        ),
        ("application/vnd.oci.image.index.v1+json", &*sha(&index))
    );

    // The tag is on this host's platform's image; the other has no name
    // and is not dangling.
    let listed: serde_json::Value =
        serde_json::from_str(&s.ok(&["images", "--json"])).expect("images json");
    let shown: Vec<(String, serde_json::Value, serde_json::Value)> = listed
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            let id = i["Id"].as_str().expect("Id").to_string();
            (id, i["Names"].clone(), i["Dangling"].clone())
        })
        .collect();
    assert!(
        shown.contains(&(
            amd.clone(),
            serde_json::json!(["localhost/multi/app:1"]),
            false.into()
        )),
        "{shown:?}"
    );
    assert!(
        shown.contains(&(arm.clone(), serde_json::json!([]), false.into())),
        "{shown:?}"
    );

    // strata pulls either platform back.
    let other = CliStore::new();
    let from = format!("{}/multi/app:1", served.addr);
    let pulled = other.ok(&["pull", "-q", "--tls-verify=false", &from]);
    assert_eq!(pulled.trim(), amd);
    let pulled = other.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--platform",
        "linux/arm64",
        &from,
    ]);
    assert_eq!(pulled.trim(), arm);

    // The index holds its other image against prune and rmi, and its
    // bytes through gc and a restart.
    assert!(served.stop(), "{}", served.log());
    s.ok(&["image", "prune", "-f"]);
    let out = s.output(&["rmi", &arm]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("localhost/multi/app:1"), "{said}");
    s.ok(&["gc"]);
    let served = Served::start(&s);
    let ours = Target::new(served.addr.clone(), None, None);
    assert_eq!(ours.inspect_raw("multi/app:1"), index);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<OsString> = vec!["copy".into(), "--all".into()];
    args.extend(ours.src_flags());
    args.push(ours.docker_ref("multi/app:1").into());
    args.push(format!("oci:{}:x", dir.path().display()).into());
    skopeo_ok(args);
    drop(served);

    // Its name goes with its image, and the other image is then unnamed
    // and unheld: prune takes it.
    s.ok(&["rmi", "localhost/multi/app:1"]);
    s.ok(&["image", "prune", "-f"]);
    assert_eq!(s.ok(&["images", "-q"]), "");
    collected_clean(&s, &index);
}

/// Runs `gc` in `s`, checks the bytes of `index` went and the store is
/// clean.
fn collected_clean(s: &CliStore, index: &[u8]) {
    s.ok(&["gc"]);
    assert!(
        !s.root()
            .join("blobs/sha256")
            .join(sha(index).trim_start_matches("sha256:"))
            .exists(),
        "a forgotten index's bytes are garbage"
    );
    s.assert_clean();
}

#[test]
fn strata_copy_all_and_podman_manifest_push_land_indexes() {
    let s = CliStore::new();
    let layout = s.dir.path().join("layout");
    multi_platform_layout(&s, &layout);
    let served = Served::start(&s);
    let ours = Target::new(served.addr.clone(), None, None);
    push_all(&ours, &layout, "multi/app:1");
    let index = ours.inspect_raw("multi/app:1");

    // strata copy --all, registry to registry: the same index.
    s.ok(&[
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/multi/app:1", served.addr),
        &format!("docker://{}/copied/app:1", served.addr),
    ]);
    assert_eq!(ours.inspect_raw("copied/app:1"), index);

    // podman builds its own list of the two images and pushes it.
    let podman = crate::push::with_auth_file(Podman::new());
    podman.run_ok(["manifest", "create", "localhost/list:1"]);
    for digest in entries(&index) {
        podman.run_ok([
            "manifest",
            "add",
            "--tls-verify=false",
            "localhost/list:1",
            &format!("docker://{}/multi/app@{digest}", served.addr),
        ]);
    }
    podman.run_ok([
        "manifest",
        "push",
        "--all",
        "--tls-verify=false",
        "localhost/list:1",
        &format!("docker://{}/podman/list:1", served.addr),
    ]);
    let listed = ours.inspect_raw("podman/list:1");
    let mut pushed = entries(&listed);
    let mut expected = entries(&index);
    pushed.sort();
    expected.sort();
    assert_eq!(pushed, expected, "{}", String::from_utf8_lossy(&listed));
    let tags = served.request("GET", "/v2/podman/list/tags/list", &[]);
    assert_eq!(tags.json()["tags"], serde_json::json!(["1"]));
}

/// An index of `entries` (manifest bytes, architecture) as pushed.
fn index_of(entries: &[(&[u8], &str)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(manifest, arch)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha(manifest),
                "size": manifest.len(),
                "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .expect("index json")
}

#[test]
fn index_pushes_are_checked_and_a_name_given_again_forgets_its_index() {
    let s = CliStore::new();
    let served = Served::start(&s);
    let (one, two) = (pushable(b"one\n"), pushable(b"two\n"));
    for image in [&one, &two] {
        upload(&served, "multi", &image.layer);
        upload(&served, "multi", &image.config);
    }

    // An entry that was never pushed; one that is an index; a wrong size;
    // an index by digest.
    let missing = index_of(&[(&one.manifest, "amd64")]);
    let reply = put_manifest(&served, "multi", "1", &missing);
    expect_error(&reply, 400, "MANIFEST_BLOB_UNKNOWN");
    assert!(
        reply.json()["errors"][0]["message"]
            .to_string()
            .contains(&sha(&one.manifest))
    );
    expect_status(
        &put_manifest(&served, "multi", &sha(&one.manifest), &one.manifest),
        201,
    );
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": sha(&missing),
            "size": missing.len(),
        }],
    }))
    .expect("json");
    expect_error(
        &put_manifest(&served, "multi", "1", &nested),
        400,
        "UNSUPPORTED",
    );
    let mut wrong: serde_json::Value = serde_json::from_slice(&missing).expect("json");
    wrong["manifests"][0]["size"] = serde_json::json!(one.manifest.len() + 1);
    let wrong = serde_json::to_vec(&wrong).expect("json");
    expect_error(
        &put_manifest(&served, "multi", "1", &wrong),
        400,
        "MANIFEST_INVALID",
    );
    expect_error(
        &put_manifest(&served, "multi", &sha(&missing), &missing),
        400,
        "UNSUPPORTED",
    );
    let tags = served.request("GET", "/v2/multi/tags/list", &[]);
    expect_error(&tags, 404, "NAME_UNKNOWN");

    // An image pushed by digest is served there at once, before any
    // index names it.
    let by_digest = served.request(
        "GET",
        &format!("/v2/multi/manifests/{}", sha(&one.manifest)),
        &[],
    );
    assert_eq!(
        (by_digest.status, by_digest.body.clone()),
        (200, one.manifest.clone())
    );

    // The index lands; its tag and digest serve it, its entries by digest.
    expect_status(
        &put_manifest(&served, "multi", &sha(&two.manifest), &two.manifest),
        201,
    );
    let index = index_of(&[(&one.manifest, "amd64"), (&two.manifest, "arm64")]);
    let reply = put_manifest(&served, "multi", "1", &index);
    expect_status(&reply, 201);
    assert_eq!(reply.header("docker-content-digest"), sha(&index));
    for path in [
        "/v2/multi/manifests/1".to_string(),
        format!("/v2/multi/manifests/{}", sha(&index)),
    ] {
        let got = served.request("GET", &path, &[]);
        assert_eq!(
            (got.status, got.body.clone()),
            (200, index.clone()),
            "{path}"
        );
        assert_eq!(
            got.header("content-type"),
            "application/vnd.oci.image.index.v1+json"
        );
    }
    for image in [&one, &two] {
        let got = served.request(
            "GET",
            &format!("/v2/multi/manifests/{}", sha(&image.manifest)),
            &[],
        );
        assert_eq!(got.body, image.manifest);
    }

    // Deleted by its digest, the tag goes (with the image it was on).
    expect_status(
        &served.request(
            "DELETE",
            &format!("/v2/multi/manifests/{}", sha(&index)),
            &[],
        ),
        202,
    );
    expect_error(
        &served.request("GET", "/v2/multi/manifests/1", &[]),
        404,
        "NAME_UNKNOWN",
    );

    // Pushed again, then the tag pushed as a single image: the tag now
    // serves that image's manifest, and the index is forgotten.
    expect_status(
        &put_manifest(&served, "multi", &sha(&one.manifest), &one.manifest),
        201,
    );
    expect_status(&put_manifest(&served, "multi", "1", &index), 201);
    expect_status(&put_manifest(&served, "multi", "1", &one.manifest), 201);
    let got = served.request("GET", "/v2/multi/manifests/1", &[]);
    assert_eq!(got.body, one.manifest);
    expect_error(
        &served.request("GET", &format!("/v2/multi/manifests/{}", sha(&index)), &[]),
        404,
        "MANIFEST_UNKNOWN",
    );
    drop(served);
    s.ok(&["image", "prune", "-f"]);
    collected_clean(&s, &index);
}

#[test]
fn an_attestation_manifest_is_refused_and_leaves_nothing() {
    // What buildx pushes beside each platform's image: an image manifest
    // whose one layer is an in-toto statement, not a tar.
    let s = CliStore::new();
    let served = Served::start(&s);
    let statement = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[]}"#;
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha(statement)]},
    }))
    .expect("config");
    upload(&served, "built", statement);
    upload(&served, "built", &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha(&config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.in-toto+json",
            "digest": sha(statement),
            "size": statement.len(),
            "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
        }],
    }))
    .expect("manifest");
    let reply = put_manifest(&served, "built", &sha(&manifest), &manifest);
    expect_error(&reply, 400, "UNSUPPORTED");
    let message = reply.json()["errors"][0]["message"].to_string();
    assert!(
        message.contains("application/vnd.in-toto+json") && message.contains("--provenance=false"),
        "{message}"
    );
    assert_eq!(s.ok(&["images", "-q"]), "");
    assert_eq!(s.ok(&["layers", "-q"]), "", "no layer is left");
}

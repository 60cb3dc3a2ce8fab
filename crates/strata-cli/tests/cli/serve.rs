//! `strata serve` with real clients: skopeo copies served images into an
//! OCI layout and a docker archive, `strata pull` copies them into a
//! second store, for an image served with its stored manifest and for a
//! pulled one served with a generated manifest; each gives back the
//! store's config and diff ids. podman and docker pull them too, and skopeo gets
//! from `strata serve` what it gets from the reference registry holding
//! the same image.

use std::io::Read;

use testkit::peers::{Dockerd, Podman, sample_image, skopeo_ok};
use testkit::registry::{Registry, Target};

use crate::serve_support::{Served, files};
use crate::store_support::CliStore;

/// The image `name`'s `image inspect` JSON in store `s`.
fn inspect(s: &CliStore, name: &str) -> serde_json::Value {
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["image", "inspect", name])).expect("inspect json");
    json[0].clone()
}

/// The diff ids of image `name` in `s`.
fn diff_ids(s: &CliStore, name: &str) -> serde_json::Value {
    inspect(s, name)["RootFS"]["Layers"].clone()
}

/// skopeo copies `reference` (on `served`) into an uncompressed OCI
/// layout and a docker archive; returns the layout's manifest and checks
/// the archive loads into a new store as image `id` with `diffs`.
fn skopeo_copies(
    served: &Served,
    reference: &str,
    id: &str,
    diffs: &serde_json::Value,
) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = format!("docker://{}/{reference}", served.addr);
    let layout = dir.path().join("oci");
    skopeo_ok([
        "copy",
        "--src-tls-verify=false",
        &source,
        &format!("oci:{}:x", layout.display()),
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("index json");
    let digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let blob = |digest: &str| {
        std::fs::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..])).expect("blob")
    };
    let manifest: serde_json::Value = serde_json::from_slice(&blob(digest)).expect("manifest json");
    assert_eq!(manifest["config"]["digest"], format!("sha256:{id}"));
    // skopeo compresses what goes into a layout; uncompressed, each layer
    // is its diff id.
    let layers: Vec<serde_json::Value> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(&blob(layer["digest"].as_str().expect("digest"))[..])
                .read_to_end(&mut tar)
                .expect("gunzip");
            serde_json::json!(format!("sha256:{}", testkit::sha256(&tar)))
        })
        .collect();
    assert_eq!(
        &serde_json::json!(layers),
        diffs,
        "the layers are the diff ids"
    );

    let archive = dir.path().join("image.tar");
    skopeo_ok([
        "copy",
        "--src-tls-verify=false",
        &source,
        &format!("docker-archive:{}:served/copy:1", archive.display()),
    ]);
    let other = CliStore::new();
    other.ok(&["load", "-q", "-i", archive.to_str().expect("utf-8")]);
    let loaded = inspect(&other, "docker.io/served/copy:1");
    assert_eq!(loaded["Id"], format!("sha256:{id}"));
    assert_eq!(&loaded["RootFS"]["Layers"], diffs);
    manifest
}

/// `strata pull` of `reference` from `served` into a new store gives
/// image `id`.
fn strata_pulls(served: &Served, reference: &str, id: &str) {
    let other = CliStore::new();
    let pulled = other.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &format!("{}/{reference}", served.addr),
    ]);
    assert_eq!(pulled.trim(), id);
    other.assert_clean();
}

#[test]
fn a_loaded_image_is_served_with_its_stored_manifest() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "3"]);
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let diffs = diff_ids(&s, &image.name);
    let mut served = Served::start(&s);

    let head = served.request("HEAD", "/v2/sample/manifests/1", &[]);
    assert_eq!(head.status, 200, "{}", served.log());
    assert_eq!(head.header("docker-content-digest"), image.manifest);
    for reference in ["sample:1", "localhost/sample:1"] {
        skopeo_copies(&served, reference, &image.image_id, &diffs);
    }
    strata_pulls(&served, "sample:1", &image.image_id);
    let by_digest = format!("sample@{}", image.manifest);
    strata_pulls(&served, &by_digest, &image.image_id);

    assert!(served.stop(), "SIGTERM stops it cleanly");
    let log = served.log_when(|log| log.contains("stopping"));
    assert!(
        log.lines()
            .any(|l| l.contains("\"HEAD /v2/sample/manifests/1\" 200")),
        "{log}"
    );
}

#[test]
fn a_pulled_image_is_served_with_its_registrys_manifest_and_blobs() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "2"]);
    let registry = Registry::plain();
    let reference = registry.target();
    reference.push(&image.path, "team/app:2");
    let upstream = format!("{}/team/app:2", registry.host());
    s.ok(&["pull", "-q", "--tls-verify=false", &upstream]);
    let served = Served::start(&s);
    let ours = Target::new(served.addr.clone(), None, None);

    let manifest = ours.inspect_raw("team/app:2");
    assert_eq!(
        manifest,
        reference.inspect_raw("team/app:2"),
        "the registry's manifest, byte for byte"
    );
    assert_eq!(
        serde_json::json!(format!("sha256:{}", testkit::sha256(&manifest))),
        inspect(&s, &upstream)["Digest"]
    );
    let dir = tempfile::tempdir().expect("temp dir");
    ours.pull_oci("team/app:2", &dir.path().join("ours"));
    reference.pull_oci("team/app:2", &dir.path().join("reference"));
    assert_eq!(
        files(&dir.path().join("ours")),
        files(&dir.path().join("reference")),
        "the same layout, compressed blob for blob"
    );
    // (skopeo_copies does not apply: skopeo converts the registry's Docker
    // manifest, and with it the config, when it writes an OCI layout.)
    strata_pulls(&served, "team/app:2", &image.image_id);
    drop(served);

    // The kept blobs live and go with the image.
    let blobs = s.root().join("blobs/sha256");
    let layer_blobs: Vec<_> = serde_json::from_slice::<serde_json::Value>(&manifest)
        .expect("manifest json")["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| blobs.join(&l["digest"].as_str().expect("digest")["sha256:".len()..]))
        .collect();
    s.ok(&["gc"]);
    assert!(layer_blobs.iter().all(|b| b.is_file()), "kept through gc");
    let kept = |s: &CliStore| {
        let status: serde_json::Value =
            serde_json::from_str(&s.ok(&["status", "--json"])).expect("status json");
        status["kept_blobs"].clone()
    };
    let bytes: u64 = layer_blobs
        .iter()
        .map(|b| std::fs::metadata(b).expect("blob").len())
        .sum();
    assert_eq!(
        kept(&s),
        serde_json::json!({"count": layer_blobs.len(), "bytes": bytes})
    );
    s.ok(&["rmi", &upstream]);
    assert!(
        layer_blobs.iter().all(|b| !b.exists()),
        "gone with the image"
    );
    assert_eq!(kept(&s), serde_json::json!({"count": 0, "bytes": 0}));
    s.assert_clean();
}

#[test]
fn an_imported_image_is_served_with_a_generated_manifest() {
    let s = CliStore::new();
    let tar = crate::store_support::write_tar(s.dir.path(), "rootfs.tar", 3, 100);
    s.ok(&["import", tar.to_str().expect("utf-8"), "team/app:2"]);
    let id = inspect(&s, "team/app:2")["Id"]
        .as_str()
        .expect("id")
        .trim_start_matches("sha256:")
        .to_string();
    let diffs = diff_ids(&s, "team/app:2");
    let served = Served::start(&s);

    let first = served.request("GET", "/v2/team/app/manifests/2", &[]);
    assert_eq!(first.status, 200, "{}", served.log());
    let digest = first.header("docker-content-digest").to_string();
    assert_eq!(digest, format!("sha256:{}", testkit::sha256(&first.body)));
    let again = served.request("GET", &format!("/v2/team/app/manifests/{digest}"), &[]);
    assert_eq!(again.body, first.body, "the same bytes every time");
    let manifest = first.json();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    for layer in manifest["layers"].as_array().expect("layers") {
        assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar");
    }
    let copied = skopeo_copies(&served, "team/app:2", &id, &diffs);
    assert_eq!(copied["config"]["digest"], format!("sha256:{id}"));
    strata_pulls(&served, "team/app:2", &id);
    let mut served = served;
    assert!(served.stop(), "SIGTERM stops it cleanly");
}

#[test]
fn podman_pulls_a_served_image() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "2"]);
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let served = Served::start(&s);
    let podman = Podman::new();
    // podman's pull fails when the auth file its environment names is missing.
    let config = podman.dir().join("config");
    std::fs::create_dir_all(&config).expect("podman config dir");
    std::fs::write(config.join("auth.json"), "{}").expect("auth file");
    let reference = format!("{}/sample:1", served.addr);
    podman.run_ok(["pull", "-q", "--tls-verify=false", &reference]);
    let id = podman.run_ok(["image", "inspect", "--format", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), image.image_id);
    let digest = podman.run_ok(["image", "inspect", "--format", "{{.Digest}}", &reference]);
    assert_eq!(
        digest.trim(),
        image.manifest,
        "the stored manifest's digest"
    );
}

#[test]
fn a_big_layer_streams_in_flat_memory_and_sigterm_lets_it_finish() {
    let s = CliStore::new();
    let image = sample_image(
        &s.dir.path().join("big.tar"),
        &["--layers", "1", "--size-mib", "64"],
    );
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let mut served = Served::start(&s);
    let mut stream = std::net::TcpStream::connect(&served.addr).expect("connect");
    let request = format!(
        "GET /v2/sample/blobs/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        image.diff_ids[0]
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).expect("send");
    let mut reply = Vec::new();
    let mut buf = vec![0; 1 << 20];
    while reply.len() < 4 << 20 {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "the reply ended early");
        reply.extend_from_slice(&buf[..n]);
    }
    // The server now waits for this slow client; what it holds is a few
    // chunks, not the layer.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let peak = served.peak_rss_kib();
    assert!(
        peak < 40 << 10,
        "peak RSS {peak} KiB while sending a 64 MiB layer"
    );

    served.terminate();
    stream.read_to_end(&mut reply).expect("read the rest");
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let body = &reply[end + 4..];
    assert_eq!(
        format!("sha256:{}", testkit::sha256(body)),
        image.diff_ids[0],
        "the reply in flight finished after SIGTERM"
    );
    assert!(served.stop(), "then it exits cleanly");
}

#[test]
fn skopeo_gets_what_the_reference_registry_serves_for_the_same_image() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "2"]);
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let served = Served::start(&s);
    let ours = Target::new(served.addr.clone(), None, None);
    let registry = Registry::plain();
    let reference = registry.target();
    // Without --preserve-digests skopeo would gzip the uncompressed layers.
    let mut args: Vec<std::ffi::OsString> = vec!["copy".into(), "--preserve-digests".into()];
    args.extend(ours.src_flags());
    args.extend(reference.dest_flags());
    args.push(ours.docker_ref("sample:1").into());
    args.push(reference.docker_ref("mirror/sample:1").into());
    skopeo_ok(args);

    let manifest = ours.inspect_raw("sample:1");
    assert_eq!(manifest, reference.inspect_raw("mirror/sample:1"));
    assert_eq!(
        format!("sha256:{}", testkit::sha256(&manifest)),
        image.manifest
    );
    let dir = tempfile::tempdir().expect("temp dir");
    ours.pull_oci("sample:1", &dir.path().join("ours"));
    reference.pull_oci("mirror/sample:1", &dir.path().join("reference"));
    assert_eq!(
        files(&dir.path().join("ours")),
        files(&dir.path().join("reference")),
        "the same layout, blob for blob"
    );
}

#[test]
fn docker_pulls_a_served_image() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "2"]);
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let served = Served::start(&s);
    // A private dockerd; registries on 127.0.0.1 are insecure to docker by
    // default, so plain HTTP is fine.
    let docker = Dockerd::start();
    let reference = format!("{}/sample:1", served.addr);
    docker.docker_ok(["pull", "-q", &reference]);
    let id = docker.docker_ok(["image", "inspect", "--format", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), format!("sha256:{}", image.image_id));
    let layers = docker.docker_ok([
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        &reference,
    ]);
    let layers: Vec<String> = serde_json::from_str(layers.trim()).expect("layers json");
    assert_eq!(layers, image.diff_ids);
}

//! Checks of the interop harness itself, against the real tools: the
//! archives `scripts/sample-image` writes are deterministic, have Docker 25+'s
//! `docker save` layout, and are accepted by podman, skopeo, umoci and
//! dockerd, which see the name, the layers and the whiteouts as intended;
//! and `testkit::peers` leaves nothing running or mounted behind.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::Value;
use testkit::peers::{self, Dockerd, Podman, SampleImage};
use testkit::sha256;

/// A sample archive in a fresh temp dir (kept alive by the returned guard).
fn sample(args: &[&str]) -> (tempfile::TempDir, SampleImage) {
    let dir = tempfile::tempdir().expect("temp dir");
    let image = peers::sample_image(&dir.path().join("sample.tar"), args);
    (dir, image)
}

/// One tar member, as far as these tests care.
#[derive(Debug)]
struct Member {
    name: String,
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: String,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(field);
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(digits, 8).unwrap_or_else(|e| panic!("octal field {text:?}: {e}"))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).expect("UTF-8 name")
}

/// The members of a plain ustar archive, and the number of bytes after the
/// last member (the end-of-archive zeros and any padding).
fn members(bytes: &[u8]) -> (Vec<Member>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= bytes.len() && bytes[at..at + 512].iter().any(|&b| b != 0) {
        let h = &bytes[at..at + 512];
        assert_eq!(&h[257..263], b"ustar\0", "member at {at} is not ustar");
        let prefix = cstr(&h[345..500]);
        let name = cstr(&h[..100]);
        let size = usize::try_from(octal(&h[124..136])).expect("size fits");
        out.push(Member {
            name: if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            },
            typeflag: h[156],
            mode: u32::try_from(octal(&h[100..108])).expect("mode fits"),
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            mtime: octal(&h[136..148]),
            link: cstr(&h[157..257]),
            data: bytes[at + 512..at + 512 + size].to_vec(),
        });
        at += 512 + size.div_ceil(512) * 512;
    }
    (out, bytes.len() - at)
}

fn by_name(members: Vec<Member>) -> BTreeMap<String, Member> {
    members.into_iter().map(|m| (m.name.clone(), m)).collect()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("sha256 digest")
}

#[test]
fn sample_image_is_deterministic() {
    let args = [
        "--name",
        "example.com/det/sample:v2",
        "--layers",
        "4",
        "--size-mib",
        "1",
    ];
    let (_a, first) = sample(&args);
    let (_b, second) = sample(&args);
    let (_c, other) = sample(&["--name", "example.com/det/sample:v2", "--layers", "5"]);
    let digest = |image: &SampleImage| testkit::sha256_file(&image.path);
    assert_eq!(digest(&first), digest(&second));
    assert_eq!(first.image_id, second.image_id);
    assert_ne!(digest(&first), digest(&other));
    assert_eq!(first.diff_ids.len(), 4);
    assert_eq!(other.diff_ids.len(), 5);
}

#[test]
fn sample_image_has_the_docker_25_save_layout() {
    let (_dir, image) = sample(&["--layers", "3"]);
    let bytes = fs::read(&image.path).expect("read archive");
    let (list, trailer) = members(&bytes);
    assert_eq!(
        trailer, 1024,
        "exactly two zero blocks after the last member"
    );

    let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "members in lexical order");
    let blob_count = 3 + 2; // layers, config, OCI manifest
    assert_eq!(names[..2], ["blobs/", "blobs/sha256/"]);
    assert_eq!(
        names[2 + blob_count..],
        ["index.json", "manifest.json", "oci-layout", "repositories"]
    );
    for m in &list {
        let (want_type, want_mode) = if m.name.ends_with('/') {
            (b'5', 0o755)
        } else {
            (b'0', 0o644)
        };
        assert_eq!((m.typeflag, m.mode), (want_type, want_mode), "{}", m.name);
        assert_eq!((m.uid, m.gid, m.mtime), (0, 0, 0), "{}", m.name);
        if let Some(hex) = m
            .name
            .strip_prefix("blobs/sha256/")
            .filter(|h| !h.is_empty())
        {
            assert_eq!(sha256(&m.data), hex, "blob content matches its name");
        }
    }

    let files = by_name(list);
    let manifest = json(&files["manifest.json"].data);
    let item = &manifest[0];
    assert_eq!(item["Config"], format!("blobs/sha256/{}", image.image_id));
    assert_eq!(item["RepoTags"], serde_json::json!(["localhost/sample:1"]));
    let layer_paths: Vec<String> = image
        .diff_ids
        .iter()
        .map(|d| format!("blobs/sha256/{}", hex(d)))
        .collect();
    assert_eq!(item["Layers"], serde_json::json!(layer_paths));
    assert_eq!(item["LayerSources"].as_object().map(|o| o.len()), Some(3));
    assert_eq!(
        files["oci-layout"].data,
        br#"{"imageLayoutVersion": "1.0.0"}"#
    );
    let repositories = json(&files["repositories"].data);
    assert_eq!(
        repositories["localhost/sample"]["1"],
        hex(&image.diff_ids[2])
    );
    let index = json(&files["index.json"].data);
    let desc = &index["manifests"][0];
    assert_eq!(desc["digest"], image.manifest);
    assert_eq!(
        desc["annotations"]["io.containerd.image.name"],
        "localhost/sample:1"
    );
    assert_eq!(
        desc["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    let oci_manifest = json(&files[&format!("blobs/sha256/{}", hex(&image.manifest))].data);
    assert_eq!(oci_manifest["config"]["digest"], image.config);
    assert_eq!(oci_manifest["layers"].as_array().map(Vec::len), Some(3));

    let config = json(&files[&format!("blobs/sha256/{}", image.image_id)].data);
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert!(
        config["config"]["Env"][0]
            .as_str()
            .is_some_and(|e| e.starts_with("PATH="))
    );
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!(image.diff_ids)
    );
    let history = config["history"].as_array().expect("history");
    assert_eq!(history.len(), 4, "one entry per layer plus one empty_layer");
    let empty = history.iter().filter(|h| h["empty_layer"] == true).count();
    assert_eq!(empty, 1);
    assert!(history.iter().all(|h| h["created"].is_string()));

    let layer = |i: usize| by_name(members(&files[&layer_paths[i]].data).0);
    let base = layer(0);
    assert_eq!(base["bin/busybox"].mode, 0o755);
    assert_eq!(
        (base["bin/sh"].typeflag, base["bin/sh"].link.as_str()),
        (b'2', "busybox")
    );
    assert_eq!(
        (base["bin/true"].typeflag, base["bin/true"].link.as_str()),
        (b'1', "bin/busybox")
    );
    assert!(base.contains_key("usr/share/doc/sample/OLD-NOTES"));
    assert!(base.contains_key("etc/conf.d/hostname"));
    let top = layer(2);
    assert!(top.contains_key("usr/share/doc/sample/.wh.OLD-NOTES"));
    assert!(top.contains_key("etc/conf.d/.wh..wh..opq"));
    assert!(
        layer(1).contains_key("etc/motd"),
        "middle layers modify files"
    );
}

#[test]
fn sample_image_size_mib_fills_the_base_layer() {
    let (_dir, image) = sample(&["--size-mib", "3", "--layers", "2"]);
    let size = fs::metadata(&image.path).expect("stat archive").len();
    assert!(
        (3 << 20..(3 << 20) + (256 << 10)).contains(&size),
        "archive is {size} bytes"
    );
}

#[test]
fn podman_loads_sample_image() {
    let (_dir, image) = sample(&["--layers", "3"]);
    let podman = Podman::new();
    let path = image.path.to_str().expect("UTF-8 path");
    let loaded = podman.run_ok(["load", "-i", path]);
    assert!(
        loaded.contains("localhost/sample:1"),
        "podman load said: {loaded}"
    );

    let images = json(podman.run_ok(["images", "--format", "json"]).as_bytes());
    let listed = images.as_array().expect("image list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["Id"], image.image_id);
    assert_eq!(
        listed[0]["Names"],
        serde_json::json!(["localhost/sample:1"])
    );
    let layers = podman.run_ok([
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        "localhost/sample:1",
    ]);
    assert_eq!(json(layers.as_bytes()), serde_json::json!(image.diff_ids));

    // The whiteout and the opaque directory of the top layer take effect.
    let id = podman.run_ok(["create", "--network", "none", "localhost/sample:1"]);
    let export = podman
        .command()
        .args(["export", id.trim()])
        .output()
        .expect("podman export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let rootfs = by_name(members(&export.stdout).0);
    assert!(!rootfs.contains_key("usr/share/doc/sample/OLD-NOTES"));
    assert!(rootfs.contains_key("usr/share/doc/sample/README"));
    assert!(!rootfs.contains_key("etc/conf.d/hostname"));
    assert!(rootfs.contains_key("etc/conf.d/network"));
    assert_eq!(
        rootfs["etc/motd"].data,
        b"Welcome to the strata sample image (layer 3).\n"
    );

    let dir = podman.dir().to_owned();
    drop(podman);
    assert!(!dir.exists(), "{} removed on drop", dir.display());
    assert_eq!(peers::mounts_under(&dir), Vec::<std::path::PathBuf>::new());
}

#[test]
fn skopeo_and_umoci_read_sample_image() {
    let (dir, image) = sample(&["--layers", "3"]);
    let archive = format!("docker-archive:{}", image.path.display());
    let inspect = json(peers::skopeo_ok(["inspect", &archive]).as_bytes());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Layers"], serde_json::json!(image.diff_ids));
    let config = json(peers::skopeo_ok(["inspect", "--config", &archive]).as_bytes());
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!(image.diff_ids)
    );

    let layout = dir.path().join("oci");
    let oci = format!("oci:{}:1", layout.display());
    peers::skopeo_ok(["copy", &archive, &oci]);
    let layout = layout.to_str().expect("UTF-8 path");
    assert_eq!(peers::umoci_ok(["ls", "--layout", layout]).trim(), "1");
    let bundle = dir.path().join("bundle");
    let image_ref = format!("{layout}:1");
    peers::umoci_ok([
        "unpack",
        "--image",
        &image_ref,
        bundle.to_str().expect("UTF-8 path"),
    ]);
    check_unpacked_rootfs(&bundle.join("rootfs"));
}

/// The sample's top layer applied over the others, as an extracting tool
/// should see it.
fn check_unpacked_rootfs(root: &Path) {
    use std::os::unix::fs::MetadataExt;
    let meta = |p: &str| fs::symlink_metadata(root.join(p));
    assert!(
        meta("usr/share/doc/sample/OLD-NOTES").is_err(),
        "whiteout removes OLD-NOTES"
    );
    assert!(
        meta("usr/share/doc/sample/.wh.OLD-NOTES").is_err(),
        "no whiteout file left"
    );
    let conf_d: Vec<String> = fs::read_dir(root.join("etc/conf.d"))
        .expect("etc/conf.d")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        conf_d,
        ["network"],
        "opaque etc/conf.d keeps only the new file"
    );
    let busybox = meta("bin/busybox").expect("bin/busybox");
    assert_eq!(busybox.mode() & 0o7777, 0o755);
    assert_eq!(
        meta("bin/true").expect("bin/true").ino(),
        busybox.ino(),
        "hard link"
    );
    assert_eq!(
        fs::read_link(root.join("bin/sh")).expect("bin/sh"),
        Path::new("busybox")
    );
    assert_eq!(meta("tmp").expect("tmp").mode() & 0o7777, 0o1777);
    let motd = fs::read_to_string(root.join("etc/motd")).expect("etc/motd");
    assert_eq!(motd, "Welcome to the strata sample image (layer 3).\n");
    for k in [2, 3] {
        assert!(meta(&format!("var/lib/sample/layer-{k}.txt")).is_ok());
    }
}

/// One dockerd for all docker checks: it takes a few seconds to start.
#[test]
fn dockerd_loads_sample_image() {
    let (dir, image) = sample(&["--layers", "3"]);
    let docker = Dockerd::start();
    assert!(
        ["overlay2", "vfs"].contains(&docker.driver()),
        "driver {}",
        docker.driver()
    );
    let info = docker.docker_ok(["info", "--format", "{{.Driver}}"]);
    assert_eq!(info.trim(), docker.driver());

    let loaded = docker.docker_ok(["load", "-i", image.path.to_str().expect("UTF-8 path")]);
    assert_eq!(loaded.trim(), "Loaded image: localhost/sample:1");
    let inspect = json(
        docker
            .docker_ok(["image", "inspect", "localhost/sample:1"])
            .as_bytes(),
    );
    let inspect = &inspect[0];
    assert_eq!(inspect["Id"], image.config);
    assert_eq!(
        inspect["RepoTags"],
        serde_json::json!(["localhost/sample:1"])
    );
    assert_eq!(
        inspect["RootFS"]["Layers"],
        serde_json::json!(image.diff_ids)
    );
    assert_eq!(inspect["Architecture"], "amd64");

    // dockerd gives back every layer byte for byte (tar-split reassembly).
    let saved = dir.path().join("saved.tar");
    docker.docker_ok([
        "save",
        "-o",
        saved.to_str().expect("UTF-8 path"),
        "localhost/sample:1",
    ]);
    let saved = by_name(members(&fs::read(&saved).expect("read saved")).0);
    let manifest = json(&saved["manifest.json"].data);
    let layers = manifest[0]["Layers"].as_array().expect("Layers");
    let digests: Vec<String> = layers
        .iter()
        .map(|p| format!("sha256:{}", sha256(&saved[p.as_str().expect("path")].data)))
        .collect();
    assert_eq!(digests, image.diff_ids);

    let instance = docker.dir().to_owned();
    drop(docker);
    assert!(!instance.exists(), "{} removed on drop", instance.display());
    assert_eq!(
        peers::mounts_under(&instance),
        Vec::<std::path::PathBuf>::new()
    );
    let marker = instance.to_string_lossy().into_owned();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(!cmdline.contains(&marker), "left running: {cmdline}");
    }
}

//! skopeo, umoci and strata: OCI layouts and archives strata writes,
//! skopeo and umoci read; what skopeo and umoci write, strata reads.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use testkit::peers::{skopeo_ok, umoci_ok};

use super::{
    Expected, NAME, arg, assert_holds, chain_ids, layer_count, loaded, parse, sample_in, tree,
};
use crate::corpus::sha256;
use crate::store_support::CliStore;

#[test]
fn skopeo_and_umoci_read_what_strata_writes() {
    let (store, sample) = loaded();
    let dir = store.dir.path();

    // docker-archive: skopeo synthesizes a manifest, so compare the config
    // bytes and the layers.
    let docker = dir.join("docker.tar");
    store.ok(&["save", "-o", arg(&docker), NAME]);
    let at = format!("docker-archive:{}", arg(&docker));
    let inspect = parse("skopeo inspect", &skopeo_ok(["inspect", &at]));
    assert_eq!(inspect["Layers"], serde_json::json!(sample.diff_ids));
    assert_eq!(inspect["Architecture"], "amd64");
    let config = skopeo_ok(["inspect", "--config", "--raw", &at]);
    assert_eq!(sha256(config.as_bytes()), sample.image_id);
    let converted = dir.join("skopeo-oci");
    skopeo_ok(["copy", &at, &format!("oci:{}:x", arg(&converted))]);
    let config = skopeo_ok([
        "inspect",
        "--config",
        "--raw",
        &format!("oci:{}:x", arg(&converted)),
    ]);
    let config = parse("skopeo's converted config", &config);
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!(sample.diff_ids)
    );

    // oci-archive: the manifest is the sample's, byte for byte.
    let oci = dir.join("oci.tar");
    store.ok(&["save", "--format", "oci-archive", "-o", arg(&oci), NAME]);
    let at = format!("oci-archive:{}", arg(&oci));
    let manifest = skopeo_ok(["inspect", "--raw", &at]);
    assert_eq!(
        format!("sha256:{}", sha256(manifest.as_bytes())),
        sample.manifest
    );
    let manifest = parse("the manifest", &manifest);
    assert_eq!(manifest["config"]["digest"], sample.config.as_str());
    let config = skopeo_ok(["inspect", "--config", "--raw", &at]);
    assert_eq!(sha256(config.as_bytes()), sample.image_id);
    // By the name strata recorded as the ref name.
    let named = skopeo_ok(["inspect", "--raw", &format!("{at}:{NAME}")]);
    assert_eq!(
        format!("sha256:{}", sha256(named.as_bytes())),
        sample.manifest
    );

    // oci layout directory, named by a full name.
    let layout = dir.join("layout");
    let to = format!("oci:{}:{NAME}", arg(&layout));
    store.ok(&["copy", &format!("strata:{NAME}"), &to]);
    let inspect = parse("skopeo inspect", &skopeo_ok(["inspect", &to]));
    assert_eq!(inspect["Digest"], sample.manifest.as_str());
    assert_eq!(inspect["Layers"], serde_json::json!(sample.diff_ids));
    let tags = umoci_ok(["ls", "--layout", arg(&layout)]);
    assert_eq!(tags.lines().collect::<Vec<_>>(), [NAME], "{tags}");
    assert_unpacks(&layout, NAME);
}

/// `umoci unpack`s `layout:tag` and checks the sample's merged tree: base
/// files, the last layer's files, the whiteout and the opaque directory.
fn assert_unpacks(layout: &Path, tag: &str) {
    let bundle = layout.with_extension("bundle");
    umoci_ok([
        "unpack",
        "--image",
        &format!("{}:{tag}", arg(layout)),
        arg(&bundle),
    ]);
    let root = bundle.join("rootfs");
    let read = |path: &str| {
        fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("rootfs/{path}: {e}"))
    };
    assert_eq!(read("etc/hostname"), "sample\n");
    assert_eq!(read("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    assert_eq!(
        read("etc/motd"),
        "Welcome to the strata sample image (layer 3).\n"
    );
    assert_eq!(read("var/lib/sample/layer-2.txt"), "added by layer 2\n");
    assert_eq!(read("var/lib/sample/layer-3.txt"), "added by layer 3\n");
    assert_eq!(
        fs::read_link(root.join("bin/sh")).expect("bin/sh is a symlink"),
        Path::new("busybox")
    );
    assert!(root.join("usr/share/doc/sample/README").is_file());
    assert!(
        !root.join("usr/share/doc/sample/OLD-NOTES").exists(),
        "the whiteout removed OLD-NOTES"
    );
    let conf: Vec<String> = fs::read_dir(root.join("etc/conf.d"))
        .expect("etc/conf.d")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(conf, ["network"], "etc/conf.d is opaque in the last layer");
}

/// `oci:DIR:REF` names an index entry by its ref name, which skopeo and
/// umoci write and look up verbatim (`v1`, not a normalized image name).
#[test]
fn an_oci_tag_is_the_ref_name_skopeo_and_umoci_use() {
    let (store, sample) = loaded();
    let dir = store.dir.path();
    let layout = dir.join("layout");
    store.ok(&[
        "copy",
        &format!("strata:{NAME}"),
        &format!("oci:{}:v1", arg(&layout)),
    ]);
    let index = parse(
        "index.json",
        &fs::read_to_string(layout.join("index.json")).expect("index.json"),
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "v1",
        "{index:#}"
    );
    let tags = umoci_ok(["ls", "--layout", arg(&layout)]);
    assert_eq!(tags.lines().collect::<Vec<_>>(), ["v1"], "{tags}");
    let inspect = parse(
        "skopeo inspect",
        &skopeo_ok(["inspect", &format!("oci:{}:v1", arg(&layout))]),
    );
    assert_eq!(inspect["Digest"], sample.manifest.as_str());
    assert_unpacks(&layout, "v1");

    let archive = dir.join("tagged.tar");
    store.ok(&[
        "copy",
        &format!("strata:{NAME}"),
        &format!("oci-archive:{}:v1", arg(&archive)),
    ]);
    let manifest = skopeo_ok([
        "inspect",
        "--raw",
        &format!("oci-archive:{}:v1", arg(&archive)),
    ]);
    assert_eq!(
        format!("sha256:{}", sha256(manifest.as_bytes())),
        sample.manifest
    );
}

/// The image id (hex sha256 of the config) at the skopeo location `at`:
/// skopeo rewrites the config when it converts a docker-archive to OCI, so
/// its copy has an id of its own.
fn skopeo_config_id(at: &str) -> String {
    sha256(skopeo_ok(["inspect", "--config", "--raw", at]).as_bytes())
}

#[test]
fn strata_loads_what_skopeo_writes() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    let sample = sample_in(dir, "sample.tar", NAME, 3);
    let from = format!("docker-archive:{}", arg(&sample.path));

    let docker = dir.join("skopeo-docker.tar");
    skopeo_ok([
        "copy",
        &from,
        &format!("docker-archive:{}:{NAME}", arg(&docker)),
    ]);
    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&docker)]);
    assert_holds(&store, &Expected::sample(&sample, &[NAME]));

    let oci = dir.join("skopeo-oci.tar");
    let at = format!("oci-archive:{}:{NAME}", arg(&oci));
    skopeo_ok(["copy", &from, &at]);
    let id = skopeo_config_id(&at);
    let store = CliStore::new();
    let told = store.ok(&["load", "-i", arg(&oci)]);
    assert_eq!(told, format!("Loaded image: {NAME}\n"));
    assert_holds(
        &store,
        &Expected {
            id: &id,
            diff_ids: &sample.diff_ids,
            names: &[NAME],
        },
    );

    // An OCI layout tagged `v1`, copied in under another name.
    let layout = dir.join("skopeo-layout");
    let at = format!("oci:{}:v1", arg(&layout));
    skopeo_ok(["copy", &from, &at]);
    let id = skopeo_config_id(&at);
    let store = CliStore::new();
    let told = store.ok(&["copy", &at, "strata:localhost/y:2"]);
    assert_eq!(told, "Loaded image: localhost/y:2\n");
    assert_holds(
        &store,
        &Expected {
            id: &id,
            diff_ids: &sample.diff_ids,
            names: &["localhost/y:2"],
        },
    );
    store.assert_clean();
}

/// An archive of several images: skopeo picks one out of a strata save by
/// name or position, and `strata copy` picks one out of an archive.
#[test]
fn one_image_out_of_several() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let three = sample_in(dir, "three.tar", NAME, 3);
    let two = sample_in(dir, "two.tar", "localhost/interop-two:1", 2);
    for sample in [&three, &two] {
        store.ok(&["load", "-q", "-i", arg(&sample.path)]);
    }
    let alias = "localhost/interop-two:alias";
    store.ok(&["image", "tag", &two.name, alias]);
    let both = dir.join("both.tar");
    store.ok(&["save", "-o", arg(&both), NAME, &two.name, alias]);

    let config_of = |at: &str| sha256(skopeo_ok(["inspect", "--config", "--raw", at]).as_bytes());
    let at = |reference: &str| format!("docker-archive:{}:{reference}", arg(&both));
    assert_eq!(config_of(&at(NAME)), three.image_id);
    assert_eq!(config_of(&at(alias)), two.image_id);
    assert_eq!(config_of(&at(&two.name)), two.image_id);
    assert_eq!(config_of(&at("@0")), three.image_id);
    assert_eq!(config_of(&at("@1")), two.image_id);

    let other = CliStore::new();
    let told = other.ok(&["copy", &at(alias), "strata:localhost/picked:1"]);
    assert_eq!(told, "Loaded image: localhost/picked:1\n");
    assert_holds(&other, &Expected::sample(&two, &["localhost/picked:1"]));
    other.ok(&["copy", &at("@0"), "strata:localhost/first:1"]);
    assert_holds(&other, &Expected::sample(&three, &["localhost/first:1"]));
    // The two images share the base layer.
    assert_eq!(layer_count(&other), 4);
    other.assert_clean();
}

/// An image umoci builds (two layers, the second with whiteouts) goes
/// into strata and back out; umoci unpacks strata's copy to the same tree
/// as its own image.
#[test]
fn umoci_built_images_go_through_strata() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    let layout = dir.join("umoci");
    umoci_ok(["init", "--layout", arg(&layout)]);
    let image = |tag: &str| format!("{}:{tag}", arg(&layout));
    umoci_ok(["new", "--image", &image("base")]);

    let first = dir.join("first");
    umoci_ok(["unpack", "--image", &image("base"), arg(&first)]);
    let root = first.join("rootfs");
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(&path, text).expect("write");
    };
    write("etc/greeting", "hello\n");
    write("etc/old", "to be removed\n");
    write("opt/app/one", "1\n");
    write("opt/app/two", "2\n");
    std::os::unix::fs::symlink("greeting", root.join("etc/link")).expect("symlink");
    fs::hard_link(root.join("etc/greeting"), root.join("opt/hard")).expect("hard link");
    let status = Command::new("mkfifo")
        .arg(root.join("opt/fifo"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    umoci_ok(["repack", "--image", &image("v1"), arg(&first)]);

    let second = dir.join("second");
    umoci_ok(["unpack", "--image", &image("v1"), arg(&second)]);
    let root = second.join("rootfs");
    fs::remove_file(root.join("etc/old")).expect("rm etc/old");
    fs::remove_dir_all(root.join("opt/app")).expect("rm opt/app");
    fs::create_dir(root.join("opt/app")).expect("mkdir opt/app");
    fs::write(root.join("opt/app/three"), "3\n").expect("write");
    umoci_ok(["repack", "--image", &image("v2"), arg(&second)]);

    let at = format!("oci:{}", image("v2"));
    let config = skopeo_ok(["inspect", "--config", "--raw", &at]);
    let diff_ids: Vec<String> =
        serde_json::from_value(parse("umoci's config", &config)["rootfs"]["diff_ids"].clone())
            .expect("diff_ids");
    assert_eq!(diff_ids.len(), 2, "{config}");
    let id = sha256(config.as_bytes());
    let store = CliStore::new();
    store.ok(&["copy", &at, "strata:localhost/umoci:2"]);
    assert_holds(
        &store,
        &Expected {
            id: &id,
            diff_ids: &diff_ids,
            names: &["localhost/umoci:2"],
        },
    );
    store.assert_clean();

    let out = dir.join("from-strata");
    store.ok(&[
        "copy",
        "strata:localhost/umoci:2",
        &format!("oci:{}:v2", arg(&out)),
    ]);
    let theirs = dir.join("theirs");
    let ours = dir.join("ours");
    umoci_ok(["unpack", "--image", &image("v2"), arg(&theirs)]);
    umoci_ok([
        "unpack",
        "--image",
        &format!("{}:v2", arg(&out)),
        arg(&ours),
    ]);
    let tree_ours = tree(&ours.join("rootfs"));
    assert_eq!(tree_ours, tree(&theirs.join("rootfs")));
    assert!(!ours.join("rootfs/etc/old").exists(), "{tree_ours}");
    assert!(!ours.join("rootfs/opt/app/one").exists(), "{tree_ours}");
    assert!(ours.join("rootfs/opt/app/three").is_file(), "{tree_ours}");
}

/// OCI layouts skopeo writes in other shapes: Docker schema2 manifests
/// (`--format v2s2`) and zstd layers. strata records each layer's
/// compressed digest as the blob's, and its save reads back in skopeo.
#[test]
fn strata_reads_skopeo_layouts_of_other_shapes() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    let sample = sample_in(dir, "sample.tar", NAME, 3);
    let from = format!("docker-archive:{}", arg(&sample.path));
    for (shape, flags, compression) in [
        ("v2s2", &["--format", "v2s2"][..], "gzip"),
        ("zstd", &["--dest-compress-format", "zstd"][..], "zstd"),
    ] {
        let at = format!("oci:{}:v1", arg(&dir.join(shape)));
        let mut args = vec!["copy"];
        args.extend_from_slice(flags);
        args.extend([from.as_str(), at.as_str()]);
        skopeo_ok(&args);
        // skopeo 1.9 cannot read back a schema2 manifest from a layout
        // (`no descriptor found`), so read the layout's files.
        let manifest = layout_manifest(&dir.join(shape));
        let blobs: Vec<&str> = manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|layer| layer["digest"].as_str().expect("digest"))
            .collect();
        let config = manifest["config"]["digest"]
            .as_str()
            .expect("config digest");
        let id = config.strip_prefix("sha256:").expect("sha256").to_string();
        let store = CliStore::new();
        let name = format!("localhost/interop-{shape}:1");
        store.ok(&["copy", &at, &format!("strata:{name}")]);
        assert_holds(
            &store,
            &Expected {
                id: &id,
                diff_ids: &sample.diff_ids,
                names: &[name.as_str()],
            },
        );
        let layers = parse("strata layers --json", &store.ok(&["layers", "--json"]));
        for (layer, blob) in chain_ids(&sample.diff_ids).iter().zip(&blobs) {
            let layer = layers
                .as_array()
                .expect("an array")
                .iter()
                .find(|l| l["id"] == layer.as_str())
                .expect("the layer");
            assert_eq!(layer["compressed_digest"], *blob, "{shape}: {layer:#}");
            assert_eq!(layer["compression"], compression, "{shape}: {layer:#}");
        }
        store.assert_clean();
        let out = format!("oci:{}:v1", arg(&dir.join(format!("{shape}-out"))));
        store.ok(&["copy", &format!("strata:{name}"), &out]);
        let inspect = parse("skopeo inspect", &skopeo_ok(["inspect", &out]));
        assert_eq!(inspect["Layers"], serde_json::json!(sample.diff_ids));
        assert_eq!(skopeo_config_id(&out), id);
    }
}

/// The manifest of the first entry of the OCI layout `dir`.
fn layout_manifest(dir: &Path) -> Value {
    let index = fs::read_to_string(dir.join("index.json")).expect("index.json");
    let index = parse("index.json", &index);
    let digest = index["manifests"][0]["digest"].as_str().expect("a digest");
    let hex = digest.strip_prefix("sha256:").expect("sha256");
    let manifest = fs::read_to_string(dir.join("blobs/sha256").join(hex)).expect("the manifest");
    parse("the manifest", &manifest)
}

/// `strata copy` into an OCI layout skopeo made adds entries next to
/// skopeo's and replaces the entry of a tag it writes again, as skopeo
/// does; umoci and skopeo read every entry, also after `umoci gc`.
#[test]
fn strata_adds_to_a_layout_skopeo_made() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let small = sample_in(dir, "small.tar", "localhost/interop-small:1", 2);
    let big = sample_in(dir, "big.tar", NAME, 3);
    for sample in [&small, &big] {
        store.ok(&["load", "-q", "-i", arg(&sample.path)]);
    }
    let layout = dir.join("layout");
    let at = |tag: &str| format!("oci:{}:{tag}", arg(&layout));
    skopeo_ok([
        "copy",
        &format!("docker-archive:{}", arg(&small.path)),
        &at("sk"),
    ]);
    let skopeo_digest = layout_digest(&at("sk"));
    store.ok(&["copy", &format!("strata:{}", small.name), &at("v1")]);
    store.ok(&["copy", &format!("strata:{NAME}"), &at("v2")]);
    store.ok(&["copy", &format!("strata:{NAME}"), &at("v1")]);

    let mut tags: Vec<String> = umoci_ok(["ls", "--layout", arg(&layout)])
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    assert_eq!(tags, ["sk", "v1", "v2"]);
    assert_eq!(layout_digest(&at("v1")), big.manifest);
    assert_eq!(layout_digest(&at("v2")), big.manifest);
    assert_eq!(layout_digest(&at("sk")), skopeo_digest);
    umoci_ok(["gc", "--layout", arg(&layout)]);
    for tag in ["sk", "v1", "v2"] {
        let bundle = dir.join(format!("bundle-{tag}"));
        umoci_ok([
            "unpack",
            "--image",
            &format!("{}:{tag}", arg(&layout)),
            arg(&bundle),
        ]);
        assert!(bundle.join("rootfs/etc/motd").is_file(), "{tag}");
    }
    assert_unpacks(&layout, "v1");

    // skopeo's entry, with its gzip layers, read by strata.
    let other = CliStore::new();
    other.ok(&["copy", &at("sk"), "strata:localhost/from-skopeo:1"]);
    let id = skopeo_config_id(&at("sk"));
    assert_holds(
        &other,
        &Expected {
            id: &id,
            diff_ids: &small.diff_ids,
            names: &["localhost/from-skopeo:1"],
        },
    );
}

/// The manifest digest skopeo finds at `at`.
fn layout_digest(at: &str) -> String {
    let inspect = parse("skopeo inspect", &skopeo_ok(["inspect", at]));
    inspect["Digest"].as_str().expect("Digest").to_string()
}

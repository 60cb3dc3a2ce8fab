//! Images moved between strata and the real container tools, both ways:
//! what `strata save` and `strata copy` write, podman, skopeo, umoci and
//! docker must read as the same image (same config digest, same layer
//! DiffIDs, same name); what they write, `strata load` and `strata copy`
//! must read back as the same image. The images come from
//! `scripts/sample-image` (a Docker 25+ `docker save` archive whose last
//! layer has a whiteout and an opaque directory). The tests per tool are
//! in `interop_images/`; here are the shared helpers and strata's own
//! save → load round trips.

mod direct_copy;
mod docker;
mod oci_tools;
mod podman;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use testkit::peers::{SampleImage, sample_image};

use crate::corpus::{run, sha256, sha256_file, stderr};
use crate::store_support::CliStore;

/// The sample's name; `localhost/` names are kept as they are everywhere.
const NAME: &str = "localhost/interop:1";

/// A path as an argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `text` as JSON; `what` names it in the panic.
fn parse(what: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{text}"))
}

/// The sample image written to `dir/file`.
fn sample_in(dir: &Path, file: &str, name: &str, layers: usize) -> SampleImage {
    sample_image(
        &dir.join(file),
        &["--name", name, "--layers", &layers.to_string()],
    )
}

/// A store holding the three-layer sample image named [`NAME`].
fn loaded() -> (CliStore, SampleImage) {
    let store = CliStore::new();
    let sample = sample_in(store.dir.path(), "sample.tar", NAME, 3);
    store.ok(&["load", "-q", "-i", arg(&sample.path)]);
    (store, sample)
}

/// The ChainIDs (strata's layer ids) of a stack of DiffIDs, hex.
fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id
                .strip_prefix("sha256:")
                .expect("sha256 DiffID")
                .to_string(),
            Some(parent) => sha256(format!("sha256:{parent} {diff_id}").as_bytes()),
        };
        chain.push(next);
    }
    chain
}

/// What a store should hold for one image.
struct Expected<'a> {
    /// The config digest, hex.
    id: &'a str,
    /// Its DiffIDs, `sha256:…`, base first.
    diff_ids: &'a [String],
    /// All its names, normalized, sorted.
    names: &'a [&'a str],
}

impl<'a> Expected<'a> {
    fn sample(sample: &'a SampleImage, names: &'a [&'a str]) -> Self {
        Expected {
            id: &sample.image_id,
            diff_ids: &sample.diff_ids,
            names,
        }
    }
}

/// Asserts `store` holds the image `want` describes: `images --json`
/// lists it by id with exactly its names and its ChainIDs as layers,
/// `image inspect` gives the same id and RootFS, every layer records its
/// DiffID, and `layer diff` hands back a tar with that digest.
fn assert_holds(store: &CliStore, want: &Expected) {
    let list = parse("strata images --json", &store.ok(&["images", "--json"]));
    let image = list
        .as_array()
        .expect("images --json is an array")
        .iter()
        .find(|image| image["Id"] == want.id)
        .unwrap_or_else(|| panic!("no image {} in the store:\n{list:#}", want.id));
    let mut names: Vec<String> =
        serde_json::from_value(image["Names"].clone()).expect("names are strings");
    names.sort();
    assert_eq!(names, want.names, "names of {}:\n{image:#}", want.id);
    let chain = chain_ids(want.diff_ids);
    let inspect = parse(
        "strata image inspect",
        &store.ok(&["image", "inspect", want.id]),
    );
    let layers: Vec<String> =
        serde_json::from_value(inspect[0]["Layers"].clone()).expect("layers are strings");
    assert_eq!(layers, chain, "layer ids are the ChainIDs:\n{inspect:#}");
    assert_eq!(inspect[0]["TopLayer"], chain[chain.len() - 1]);

    assert_eq!(inspect[0]["Id"], format!("sha256:{}", want.id));
    let rootfs: Vec<String> =
        serde_json::from_value(inspect[0]["RootFS"]["Layers"].clone()).expect("RootFS.Layers");
    assert_eq!(rootfs, want.diff_ids, "RootFS of {}", want.id);

    let all = parse("strata layers --json", &store.ok(&["layers", "--json"]));
    for (id, diff_id) in chain.iter().zip(want.diff_ids) {
        let layer = all
            .as_array()
            .expect("layers --json is an array")
            .iter()
            .find(|layer| layer["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no layer {id}:\n{all:#}"));
        assert_eq!(layer["diff_digest"], diff_id.as_str(), "{layer:#}");
        let tar = store.dir.path().join(format!("diff-{id}.tar"));
        store.ok(&["layer", "diff", id, "-o", arg(&tar)]);
        assert_eq!(format!("sha256:{}", sha256_file(&tar)), *diff_id);
        fs::remove_file(&tar).expect("remove the diff");
    }
}

/// The number of layers in `store`.
fn layer_count(store: &CliStore) -> usize {
    let all = parse("strata layers --json", &store.ok(&["layers", "--json"]));
    all.as_array().expect("layers --json is an array").len()
}

/// Extracts `archive` with GNU tar into a new directory `dir`.
fn extract(archive: &Path, dir: &Path) {
    fs::create_dir_all(dir).expect("create the extraction dir");
    let out = run(Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(dir));
    assert!(
        out.status.success(),
        "tar -xf {}: {}",
        archive.display(),
        stderr(&out)
    );
}

/// `blobs/sha256/<name>` → sha256 of its contents, for an archive
/// extracted to `dir`.
fn blob_digests(dir: &Path) -> BTreeMap<String, String> {
    let blobs = dir.join("blobs/sha256");
    let mut digests = BTreeMap::new();
    for entry in fs::read_dir(&blobs).unwrap_or_else(|e| panic!("{}: {e}", blobs.display())) {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        digests.insert(name, sha256_file(&entry.path()));
    }
    digests
}

/// `tar -tvf` of `archive`, one line per member.
fn listing(archive: &Path) -> String {
    let out = run(Command::new("tar").arg("-tvf").arg(archive));
    assert!(out.status.success(), "tar -tvf: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf-8 listing")
}

/// `strata load` then `strata save` hands back the sample's blobs byte for
/// byte, and its metadata files as Docker 25+ writes them; saving again
/// gives the same archive.
#[test]
fn save_after_load_is_byte_exact() {
    let (store, sample) = loaded();
    let dir = store.dir.path();
    let first = dir.join("first.tar");
    let second = dir.join("second.tar");
    store.ok(&["save", "-o", arg(&first), NAME]);
    store.ok(&["save", "-o", arg(&second), sample.image_id.as_str()]);

    extract(&sample.path, &dir.join("x-sample"));
    extract(&first, &dir.join("x-first"));
    let want = blob_digests(&dir.join("x-sample"));
    let got = blob_digests(&dir.join("x-first"));
    assert_eq!(got, want, "the blobs of the save are the sample's");
    for (name, digest) in &got {
        assert_eq!(name, digest, "blob {name} hashes to its name");
    }
    assert!(want.contains_key(&sample.image_id));
    for file in ["manifest.json", "index.json", "repositories", "oci-layout"] {
        let read = |at: &str| fs::read(dir.join(at).join(file)).expect("metadata file");
        assert_eq!(
            String::from_utf8_lossy(&read("x-first")),
            String::from_utf8_lossy(&read("x-sample")),
            "{file}"
        );
    }
    // Saved by id: the same blobs, no names.
    extract(&second, &dir.join("x-second"));
    assert_eq!(blob_digests(&dir.join("x-second")), want);

    let again = dir.join("again.tar");
    store.ok(&["save", "-o", arg(&again), NAME]);
    assert_eq!(
        sha256_file(&again),
        sha256_file(&first),
        "saves are deterministic"
    );
    let oci = [dir.join("oci1.tar"), dir.join("oci2.tar")];
    for out in &oci {
        store.ok(&["save", "--format", "oci-archive", "-o", arg(out), NAME]);
    }
    assert_eq!(sha256_file(&oci[0]), sha256_file(&oci[1]));
    extract(&oci[0], &dir.join("x-oci"));
    assert_eq!(blob_digests(&dir.join("x-oci")), want);
}

/// `strata save NAME | strata load` into another store, both formats.
#[test]
fn save_pipes_into_load() {
    let (store, sample) = loaded();
    for format in ["docker-archive", "oci-archive"] {
        let other = CliStore::new();
        let mut save = store
            .command(&["save", "--format", format, NAME])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata save");
        let pipe = save.stdout.take().expect("save's stdout");
        let load = other
            .command(&["load"])
            .stdin(Stdio::from(pipe))
            .output()
            .expect("run strata load");
        let saved = save.wait_with_output().expect("wait for strata save");
        assert!(saved.status.success(), "save: {}", stderr(&saved));
        assert!(load.status.success(), "{format} load: {}", stderr(&load));
        assert_eq!(
            String::from_utf8_lossy(&load.stdout),
            format!("Loaded image: {NAME}\n")
        );
        assert_holds(&other, &Expected::sample(&sample, &[NAME]));
        other.assert_clean();
    }
}

/// Feeds `archive` to `strata load` on stdin (a pipe, not a file).
fn load_from_pipe(store: &CliStore, archive: &Path) -> String {
    let mut cat = Command::new("cat")
        .arg(archive)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let pipe = cat.stdout.take().expect("cat's stdout");
    let load = store
        .command(&["load"])
        .stdin(Stdio::from(pipe))
        .output()
        .expect("run strata load");
    assert!(cat.wait().expect("wait for cat").success());
    assert!(
        load.status.success(),
        "load {} from a pipe: {}",
        archive.display(),
        stderr(&load)
    );
    String::from_utf8(load.stdout).expect("utf-8")
}

/// `find`'s view of a tree: path, type, mode, size, link target, link
/// count, owner; and a hash of every regular file.
fn tree(root: &Path) -> String {
    let out = run(Command::new("find")
        .arg(".")
        .args(["-printf", "%P|%y|%m|%s|%l|%n|%U:%G\n"])
        .current_dir(root));
    assert!(out.status.success(), "find: {}", stderr(&out));
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .expect("utf-8 find output")
        .lines()
        .map(|line| {
            let path = line.split('|').next().expect("a path");
            let full = root.join(path);
            match full.symlink_metadata() {
                Ok(meta) if meta.is_file() => format!("{line}|{}", sha256_file(&full)),
                _ => line.to_string(),
            }
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

//! What must hold after any `kill -9`: the store opens, `fsck --repair`
//! then `fsck` is clean, every layer rebuilds to its recorded digest, and
//! nothing is left that no root reaches — no unreferenced layer, blob,
//! tar-split, driver directory, work directory, temporary file or kernel
//! mount. The checks read the store's files and the kernel's mount table
//! directly, so they do not trust strata's own accounting.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::store_support::CliStore;

/// The store after a killed operation, repaired, as the checks see it.
pub struct Snapshot {
    pub layers: Vec<Value>,
    pub images: Vec<Value>,
    pub containers: Vec<Value>,
}

impl Snapshot {
    pub fn layer_named(&self, name: &str) -> Option<&Value> {
        self.layers.iter().find(|l| {
            l["names"]
                .as_array()
                .is_some_and(|n| n.contains(&name.into()))
        })
    }

    pub fn has_image(&self, name: &str) -> bool {
        self.images.iter().any(|i| {
            i["RepoTags"]
                .as_array()
                .is_some_and(|n| n.contains(&name.into()))
        })
    }
}

fn listing(s: &CliStore, what: &str) -> Vec<Value> {
    let out = s.ok(&[what, "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap_or_else(|e| panic!("{what} --json: {e}: {out}"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Every image as `image inspect` shows it (its layers and manifests,
/// which the listing leaves out).
fn images(s: &CliStore) -> Vec<Value> {
    let ids = s.ok(&["images", "-q", "--no-trunc"]);
    let mut args = vec!["image", "inspect"];
    args.extend(ids.split_whitespace());
    if args.len() == 2 {
        return Vec::new();
    }
    let out = s.ok(&args);
    serde_json::from_str::<Value>(&out)
        .unwrap_or_else(|e| panic!("image inspect: {e}: {out}"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Repairs the store after a kill, checks it, and returns what it holds.
pub fn repaired_and_whole(s: &CliStore, outputs: &Path, trial: &str) -> Snapshot {
    let repair = s.output(&["fsck", "--repair", "--json"]);
    assert!(
        repair.status.success(),
        "{trial}: fsck --repair: {}{}",
        String::from_utf8_lossy(&repair.stdout),
        String::from_utf8_lossy(&repair.stderr)
    );
    s.assert_clean();
    let snapshot = Snapshot {
        layers: listing(s, "layers"),
        images: images(s),
        containers: listing(s, "containers"),
    };
    every_layer_rebuilds(s, &snapshot, trial);
    nothing_unreachable(s, &snapshot, trial);
    no_leftover_files(s, outputs, trial);
    snapshot
}

/// `layer diff` verifies the rebuilt tar against the layer's diff digest
/// and fails loudly on a mismatch.
fn every_layer_rebuilds(s: &CliStore, snapshot: &Snapshot, trial: &str) {
    for layer in &snapshot.layers {
        let id = layer["id"].as_str().expect("layer id");
        let out = s
            .command(&["layer", "diff", id])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("layer diff");
        assert!(
            out.status.success(),
            "{trial}: layer {id} does not rebuild: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every layer is reached from an image, a container or a name; every
/// blob is an image's config or manifest; every directory the store keeps
/// per layer belongs to a layer.
fn nothing_unreachable(s: &CliStore, snapshot: &Snapshot, trial: &str) {
    let parents: HashMap<&str, Option<&str>> = snapshot
        .layers
        .iter()
        .map(|l| (l["id"].as_str().expect("id"), l["parent"].as_str()))
        .collect();
    let mut roots: Vec<&str> = Vec::new();
    for image in &snapshot.images {
        roots.extend(strings(&image["Layers"]));
    }
    for container in &snapshot.containers {
        roots.extend(container["layer"].as_str());
        roots.extend(container["base"].as_str());
    }
    for layer in &snapshot.layers {
        if layer["names"].as_array().is_some_and(|n| !n.is_empty()) {
            roots.extend(layer["id"].as_str());
        }
    }
    let mut reached = BTreeSet::new();
    for root in roots {
        let mut next = Some(root);
        while let Some(id) = next.filter(|id| reached.insert(id.to_string())) {
            next = parents.get(id).copied().flatten();
        }
    }
    let ids: BTreeSet<String> = parents.keys().map(|id| id.to_string()).collect();
    let unreached: Vec<&String> = ids.difference(&reached).collect();
    assert!(
        unreached.is_empty(),
        "{trial}: unreferenced layers {unreached:?}"
    );

    let mut named_blobs: BTreeSet<String> = BTreeSet::new();
    for image in &snapshot.images {
        named_blobs.extend(
            image["Id"]
                .as_str()
                .map(|id| id.trim_start_matches("sha256:").to_string()),
        );
        for manifest in strings(&image["Manifests"]) {
            named_blobs.insert(manifest.trim_start_matches("sha256:").to_string());
        }
    }
    let blobs = names_in(&s.root().join("blobs/sha256"));
    let stray: Vec<&String> = blobs.difference(&named_blobs).collect();
    assert!(stray.is_empty(), "{trial}: blobs no image names {stray:?}");

    let tar_splits = names_in(&s.root().join("layers"));
    let stray: Vec<&String> = tar_splits.difference(&ids).collect();
    assert!(
        stray.is_empty(),
        "{trial}: tar-split without a layer {stray:?}"
    );
    for driver in ["vfs", "overlay"] {
        let dirs: BTreeSet<String> = names_in(&s.root().join(driver))
            .into_iter()
            .filter(|n| n.len() == 64)
            .collect();
        let stray: Vec<&String> = dirs.difference(&ids).collect();
        assert!(
            stray.is_empty(),
            "{trial}: {driver} data without a layer {stray:?}"
        );
    }
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// No work directory, lock file or temporary file in the store, and
/// nothing but finished outputs beside the paths strata wrote to.
fn no_leftover_files(s: &CliStore, outputs: &Path, trial: &str) {
    for dir in ["staging", "trash"] {
        let left = names_in(&s.root().join(dir));
        assert!(left.is_empty(), "{trial}: {dir}/ holds {left:?}");
    }
    for dir in ["blobs/sha256", "layers"] {
        let hidden: Vec<String> = names_in(&s.root().join(dir))
            .into_iter()
            .filter(|n| n.starts_with('.') || n.ends_with(".tmp"))
            .collect();
        assert!(
            hidden.is_empty(),
            "{trial}: temporary files in {dir}: {hidden:?}"
        );
    }
    let hidden: Vec<String> = names_in(outputs)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        hidden.is_empty(),
        "{trial}: left beside the outputs: {hidden:?}"
    );
}

/// No kernel mount under the store's directories: called once every
/// mount a trial made on purpose has been undone, so any mount left is
/// one a killed process made and the store lost track of.
pub fn assert_no_mounts(s: &CliStore, trial: &str) {
    let mounted = mounts_under(s.dir.path());
    assert!(
        mounted.is_empty(),
        "{trial}: kernel mounts left {mounted:?}"
    );
}

/// Mount points under `dir`, from /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&dir))
        .map(str::to_string)
        .collect()
}

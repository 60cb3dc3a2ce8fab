//! `strata gc` and `strata system prune`: what they print, SIGKILL at
//! random points of a collection (`STRATA_TORTURE_TRIALS` trials, default
//! 20; `STRATA_TEST_SEED` replays a run), and collections racing loads,
//! image removals and imports in other processes. Afterwards nothing any
//! root reaches is lost and nothing unreferenced is left.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::peers::sample_image;
use testkit::sha256;

use crate::corpus::stderr;
use crate::store_support::{self, CliStore, Random, write_tar};

fn json(s: &CliStore, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&s.ok(args)).expect("JSON output")
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

/// Ids of every layer.
fn layer_ids(s: &CliStore) -> BTreeSet<String> {
    json(s, &["layers", "--json"])
        .as_array()
        .expect("array")
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_string())
        .collect()
}

fn sample_archive(dir: &Path, name: &str, layers: u32) -> PathBuf {
    let file = dir.join(format!("{}.tar", name.replace(['/', ':'], "_")));
    sample_image(&file, &["--name", name, "--layers", &layers.to_string()]).path
}

/// Every image's layers are in the store and rebuild to their diff ids;
/// returns the ids of all of them.
fn assert_images_whole(s: &CliStore, context: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for image in json(s, &["images", "--json"]).as_array().expect("array") {
        let id = image["Id"].as_str().expect("an image id");
        let inspect = json(s, &["image", "inspect", id]);
        for id in strings(&inspect[0]["Layers"]) {
            let layer = json(s, &["layer", "inspect", &id])[0].clone();
            let out = s.output(&["layer", "diff", &id]);
            assert!(
                out.status.success(),
                "{context}: diff {id}: {}",
                stderr(&out)
            );
            assert_eq!(
                layer["diff_digest"].as_str(),
                Some(format!("sha256:{}", sha256(&out.stdout)).as_str()),
                "{context}: layer {id} does not rebuild"
            );
            ids.insert(id);
        }
    }
    ids
}

/// A dry run finds nothing to collect.
fn assert_nothing_unreferenced(s: &CliStore, context: &str) {
    let report = json(s, &["gc", "--dry-run", "--json"]);
    for key in ["layers", "blobs", "dirs"] {
        assert_eq!(report[key], serde_json::json!([]), "{context}: {report:#}");
    }
}

#[test]
fn gc_prints_one_line_and_json() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "layer.tar", 20, 100);
    let kept = s.import(&tar, &["--name", "kept"]);
    let junk = s.import(&tar, &[]);
    let child = s.import(&tar, &["--parent", &junk]);
    let preview = s.ok(&["gc", "--dry-run"]);
    assert_eq!(preview.lines().count(), 1, "{preview}");
    assert!(
        preview.starts_with("would remove 2 layers, 0 blobs"),
        "{preview}"
    );
    assert_eq!(layer_ids(&s).len(), 3);
    let report = json(&s, &["gc", "--json"]);
    assert_eq!(report["dry_run"], false);
    assert_eq!(strings(&report["layers"]), vec![child, junk]);
    assert!(report["bytes_freed"].as_u64().expect("bytes") > 0);
    assert_eq!(layer_ids(&s), BTreeSet::from([kept]));
    let again = s.ok(&["gc"]);
    assert!(again.starts_with("removed 0 layers, 0 blobs"), "{again}");
    s.assert_clean();
}

#[test]
fn fsck_reports_what_recovery_did_after_a_killed_import() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "layer.tar", 300, 3000);
    let path = tar.to_str().expect("path");
    let mut random = Random::new();
    // Kill imports until one dies with its work under way.
    for _ in 0..50 {
        let mut child = s
            .command(&["layer", "import", "--name", "victim", path])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let staging = s.root().join("staging");
        let start = Instant::now();
        while std::fs::read_dir(&staging).map_or(0, |d| d.count()) == 0
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(random.below(3000)));
        let _ = child.kill();
        let _ = child.wait();
        if std::fs::read_dir(&staging).map_or(0, |d| d.count()) == 0 {
            // Either the import finished, or it died between the driver
            // probe's work dir (made and removed at open) and its own.
            let removed = s.output(&["layer", "rm", "victim"]);
            assert!(
                removed.status.success() || stderr(&removed).contains("not found"),
                "layer rm victim: {}",
                stderr(&removed)
            );
            continue;
        }
        let report = json(&s, &["fsck", "--json"]);
        let kinds: Vec<&str> = report["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .map(|i| i["kind"].as_str().expect("kind"))
            .collect();
        assert!(
            kinds.contains(&"unfinished-layer") || kinds.contains(&"orphan-work-dir"),
            "{report:#}"
        );
        assert_eq!(report["clean"], true, "{report:#}");
        let again = json(&s, &["fsck", "--json"]);
        assert_eq!(again["issues"], serde_json::json!([]), "reported twice");
        return;
    }
    panic!("no import was ever killed with its work under way");
}

/// How many SIGKILL trials the gc torture runs: `STRATA_TORTURE_TRIALS`,
/// default 20.
fn torture_trials() -> u64 {
    std::env::var("STRATA_TORTURE_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

/// Leaves garbage: an unnamed chain of two layers, and a layer whose
/// name was taken away.
fn make_garbage(s: &CliStore, tar: &Path, trial: u64) {
    let base = s.import(tar, &[]);
    s.import(tar, &["--parent", &base]);
    let tag = format!("trial-{trial}");
    s.import(tar, &["--name", &tag]);
    s.ok(&["layer", "names", "rm", &tag, &tag]);
}

#[test]
fn killed_gc_loses_nothing_and_leaves_nothing() {
    let s = CliStore::new();
    let archive = sample_archive(s.dir.path(), "localhost/kept:1", 3);
    s.ok(&["load", "-q", "-i", archive.to_str().expect("path")]);
    let tar = write_tar(s.dir.path(), "layer.tar", 300, 3000);
    s.import(&tar, &["--name", "named"]);
    let kept = {
        let mut ids = assert_images_whole(&s, "before");
        ids.extend(layer_ids(&s));
        ids
    };
    make_garbage(&s, &tar, 0);
    let start = Instant::now();
    s.ok(&["gc"]);
    let full = start.elapsed();
    assert_eq!(layer_ids(&s), kept);
    let mut random = Random::new();
    let mut interrupted = 0;
    for trial in 1..=torture_trials() {
        make_garbage(&s, &tar, trial);
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        store_support::kill_after(s.command(&["gc"]), delay);
        let context = format!("trial {trial}");
        // Three layers of garbage: some gone, some not, means the kill
        // landed in the middle of the sweep.
        let remaining = layer_ids(&s).len();
        if remaining > kept.len() && remaining < kept.len() + 3 {
            interrupted += 1;
        }
        // Opening the store finishes the collection's deletions; fsck
        // verifies that every layer rebuilds to its diff digest and that
        // every image has its layers, and with --repair collects the rest.
        s.ok(&["fsck", "--repair"]);
        s.assert_clean();
        assert_nothing_unreferenced(&s, &context);
        assert_eq!(layer_ids(&s), kept, "{context}");
        if trial % 5 == 0 {
            assert_eq!(assert_images_whole(&s, &context).len(), 3, "{context}");
        }
        for dir in ["staging", "trash"] {
            let left: Vec<_> = std::fs::read_dir(s.root().join(dir))
                .expect("dir")
                .collect();
            assert!(left.is_empty(), "{context}: {dir} holds {left:?}");
        }
    }
    eprintln!("{interrupted} collections were killed with part of the garbage gone");
}

#[test]
fn gc_racing_loads_removals_and_imports_sweeps_only_the_unreachable() {
    let s = CliStore::new();
    // Two images, the second one layer taller: they share a chain.
    let archives: Vec<(String, PathBuf)> = (0..2)
        .map(|i| {
            let name = format!("localhost/race{i}:1");
            let path = sample_archive(s.dir.path(), &name, 2 + i);
            (name, path)
        })
        .collect();
    let tar = write_tar(s.dir.path(), "layer.tar", 100, 2000);
    let deadline = Instant::now() + Duration::from_secs(8);
    std::thread::scope(|scope| {
        // Loaders: load an image, remove it, load it again, over and over;
        // each ends with its image loaded.
        for (name, archive) in &archives {
            let s = &s;
            scope.spawn(move || {
                let path = archive.to_str().expect("path");
                let mut round = 0;
                while round < 2 || Instant::now() < deadline {
                    s.ok(&["load", "-q", "-i", path]);
                    let images = json(s, &["images", "--json"]);
                    assert!(!images.as_array().expect("array").is_empty());
                    if Instant::now() < deadline {
                        s.ok(&["image", "rm", name]);
                    }
                    round += 1;
                }
                s.ok(&["load", "-q", "-i", path]);
            });
        }
        // Importers: named layers (kept) and unnamed chains (garbage).
        for worker in 0..2 {
            let (s, tar) = (&s, &tar);
            scope.spawn(move || {
                let mut i = 0;
                while Instant::now() < deadline {
                    let name = format!("w{worker}-{i}");
                    let named = s.import(tar, &["--name", &name]);
                    // An unnamed child of a named layer: garbage.
                    s.import(tar, &["--parent", &named]);
                    i += 1;
                }
            });
        }
        // Collectors.
        for _ in 0..2 {
            let s = &s;
            scope.spawn(move || {
                while Instant::now() < deadline {
                    s.ok(&["gc"]);
                }
            });
        }
    });
    s.ok(&["gc"]);
    s.assert_clean();
    assert_nothing_unreferenced(&s, "after the race");
    let image_layers = assert_images_whole(&s, "after the race");
    assert_eq!(
        json(&s, &["images", "--json"]).as_array().map(Vec::len),
        Some(archives.len())
    );
    // What is left is exactly what the roots reach.
    let mut want = image_layers;
    for layer in json(&s, &["layers", "--json"]).as_array().expect("array") {
        if !layer["names"].as_array().expect("names").is_empty() {
            want.insert(layer["id"].as_str().expect("id").to_string());
        }
    }
    assert_eq!(layer_ids(&s), want);
}

#[test]
fn a_killed_mount_never_leaves_a_mount_the_store_did_not_count() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "layer.tar", 20, 100);
    s.import(&tar, &["--name", "m"]);
    let start = Instant::now();
    s.ok(&["layer", "mount", "m"]);
    let full = start.elapsed();
    s.ok(&["layer", "unmount", "m"]);
    let mut random = Random::new();
    let (mut stale, mut mounted) = (0, 0);
    for trial in 0..store_support::kill_trials() {
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        store_support::kill_after(s.command(&["layer", "mount", "m"]), delay);
        // Not clean with a stale count: the exit status says so.
        let out = s.output(&["fsck", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fsck json");
        // A stale count may be left (killed between counting and
        // mounting), and recovery may have cleaned up a work directory;
        // never a mount the store does not know of.
        let bad: Vec<&serde_json::Value> = report["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .filter(|i| i["repaired"] != true && i["kind"] != "stale-mount-count")
            .collect();
        assert!(bad.is_empty(), "trial {trial}: {report:#}");
        let issues = report["issues"].as_array().expect("issues");
        stale += usize::from(issues.iter().any(|i| i["kind"] == "stale-mount-count"));
        s.ok(&["fsck", "--repair"]);
        if s.output(&["layer", "unmount", "m"]).status.success() {
            mounted += 1;
            while s.output(&["layer", "unmount", "m"]).status.success() {}
        }
        s.assert_clean();
        s.ok(&["layer", "rm", "m"]);
        s.import(&tar, &["--name", "m"]);
    }
    eprintln!("{mounted} killed mounts were counted, {stale} left a stale count");
}

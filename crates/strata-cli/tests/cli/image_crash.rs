//! Loads under SIGKILL and several processes: afterwards the store opens,
//! fsck finds it clean, and there is either the whole image or no trace of
//! it (no image, no layer, nothing in staging).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::peers::sample_image;

use crate::store_support::{self, CliStore, Random, kill_trials};

/// Writes a sample image archive with `scripts/sample-image`.
fn sample_archive(dir: &Path, name: &str, layers: u32, size_mib: u32) -> PathBuf {
    let file = dir.join(format!("{}.tar", name.replace(['/', ':'], "_")));
    let (layers, size_mib) = (layers.to_string(), size_mib.to_string());
    sample_image(
        &file,
        &["--name", name, "--layers", &layers, "--size-mib", &size_mib],
    )
    .path
}

fn count(s: &CliStore, what: &str) -> usize {
    let listing: serde_json::Value =
        serde_json::from_str(&s.ok(&[what, "--json"])).expect("json listing");
    listing.as_array().map_or(0, Vec::len)
}

fn staging_is_empty(s: &CliStore) -> bool {
    std::fs::read_dir(s.root().join("staging"))
        .expect("staging")
        .next()
        .is_none()
}

#[test]
fn killed_loads_leave_the_whole_image_or_nothing() {
    let s = CliStore::new();
    let archive = sample_archive(s.dir.path(), "localhost/crash:1", 4, 6);
    let path = archive.to_str().expect("path");
    let start = Instant::now();
    s.ok(&["load", "-i", path]);
    let full = start.elapsed();
    s.ok(&["image", "rm", "localhost/crash:1"]);
    assert_eq!(count(&s, "layers"), 0);
    let mut random = Random::new();
    let (mut whole, mut none) = (0, 0);
    for trial in 0..kill_trials() {
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        store_support::kill_after(s.command(&["load", "-i", path]), delay);
        s.assert_clean();
        match count(&s, "images") {
            1 => {
                whole += 1;
                assert_eq!(count(&s, "layers"), 4, "trial {trial}");
                s.ok(&["image", "rm", "localhost/crash:1"]);
            }
            0 => none += 1,
            n => panic!("trial {trial}: {n} images"),
        }
        assert_eq!(count(&s, "layers"), 0, "trial {trial}: layers left behind");
        assert!(staging_is_empty(&s), "trial {trial}: staging not empty");
    }
    eprintln!("{whole} trials ended with the image, {none} without");
}

#[test]
fn concurrent_loads_of_one_image_store_it_once() {
    let s = CliStore::new();
    let archive = sample_archive(s.dir.path(), "localhost/race:1", 3, 2);
    let path = archive.to_str().expect("path");
    let children: Vec<_> = (0..3)
        .map(|_| {
            s.command(&["load", "-q", "-i", path])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(count(&s, "images"), 1);
    assert_eq!(count(&s, "layers"), 3);
    s.assert_clean();
    assert!(staging_is_empty(&s));
}

/// Pulls under SIGKILL, on overlay several layers extracted at once (each
/// ahead of the layer below): the store is clean after each, with the
/// whole image or none, and a last pull completes it.
#[test]
fn killed_pulls_leave_the_whole_image_or_nothing() {
    let s = CliStore::new();
    // A big base layer: the layers above it are extracted while it is.
    let archive = sample_archive(s.dir.path(), "localhost/crash:1", 4, 24);
    let registry = testkit::registry::Registry::plain();
    registry.target().push(&archive, "crash/app:1");
    let reference = format!("{}/crash/app:1", registry.host());
    let pull = ["pull", "-q", "--max-parallel", "4", reference.as_str()];
    let start = Instant::now();
    s.ok(&pull);
    let full = start.elapsed();
    s.ok(&["image", "rm", &reference]);
    s.ok(&["gc"]);
    let mut random = Random::new();
    let (mut whole, mut none) = (0, 0);
    for trial in 0..kill_trials() {
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        store_support::kill_after(s.command(&pull), delay);
        s.assert_clean();
        match count(&s, "images") {
            1 => {
                whole += 1;
                assert_eq!(count(&s, "layers"), 4, "trial {trial}");
                s.ok(&["image", "rm", &reference]);
            }
            0 => none += 1,
            n => panic!("trial {trial}: {n} images"),
        }
        assert_eq!(count(&s, "layers"), 0, "trial {trial}: layers left behind");
        assert!(staging_is_empty(&s), "trial {trial}: staging not empty");
    }
    eprintln!("{whole} trials ended with the image, {none} without");
    s.ok(&pull);
    assert_eq!(count(&s, "layers"), 4);
    s.assert_clean();
}

//! SIGKILL at random points of imports and deletions: afterwards the store
//! opens, fsck finds it clean, and every surviving layer verifies.
//! `STRATA_KILL_TRIALS` sets the number of trials of each kind (default 30,
//! so 60 in all); `STRATA_TEST_SEED` replays a run.

use std::time::{Duration, Instant};

use crate::store_support::{self, CliStore, Random, kill_trials, write_tar};

/// Runs `args` to completion and returns how long it took.
fn timed(s: &CliStore, args: &[&str]) -> Duration {
    let start = Instant::now();
    s.ok(args);
    start.elapsed()
}

/// Starts `args`, kills it with SIGKILL after `delay`, reaps it.
fn kill_after(s: &CliStore, args: &[&str], delay: Duration) {
    store_support::kill_after(s.command(args), delay);
}

#[test]
fn killed_imports_leave_a_clean_store() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "layer.tar", 300, 3000);
    let path = tar.to_str().expect("path");
    let full = timed(&s, &["layer", "import", "--name", "probe", path]);
    s.ok(&["layer", "rm", "probe"]);
    let mut random = Random::new();
    for trial in 0..kill_trials() {
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        let name = format!("trial-{trial}");
        kill_after(&s, &["layer", "import", "--name", &name, path], delay);
        s.assert_clean();
        let layers: serde_json::Value =
            serde_json::from_str(&s.ok(&["layers", "--json"])).expect("json");
        if let Some(layer) = layers.as_array().and_then(|l| l.first()) {
            assert_eq!(layer["names"][0], name.as_str(), "trial {trial}");
            s.ok(&["layer", "rm", &name]);
        }
        assert_eq!(
            std::fs::read_dir(s.root().join("staging"))
                .expect("staging")
                .count(),
            0,
            "trial {trial}"
        );
    }
}

#[test]
fn killed_deletes_leave_a_clean_store() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "layer.tar", 300, 3000);
    let path = tar.to_str().expect("path");
    s.import(&tar, &["--name", "probe"]);
    let full = timed(&s, &["layer", "rm", "probe"]);
    let mut random = Random::new();
    for trial in 0..kill_trials() {
        // Named: an unnamed layer nothing uses is garbage, which fsck reports.
        let id = s.import(&tar, &["--name", "victim"]);
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 3 / 2));
        kill_after(&s, &["layer", "rm", &id], delay);
        s.assert_clean();
        let left = s.ok(&["layers", "--json"]);
        if left.contains(&id) {
            s.ok(&["layer", "rm", &id]);
        }
        assert_eq!(
            s.ok(&["layers", "--json"]).trim(),
            "[]",
            "trial {trial}: {path}"
        );
        assert_eq!(
            std::fs::read_dir(s.root().join("trash"))
                .expect("trash")
                .count(),
            0,
            "trial {trial}"
        );
        let layer_dirs = ["vfs", "overlay"]
            .iter()
            .filter_map(|driver| std::fs::read_dir(s.root().join(driver)).ok())
            .flatten()
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().len() == 64))
            .count();
        assert_eq!(layer_dirs, 0, "trial {trial}");
    }
}

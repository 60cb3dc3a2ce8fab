//! `kill -9` torture: each operation that changes the store — import,
//! delete, load, save, image rm, container commit, mount, gc — is killed at
//! random points, again and again, in a store that also holds an image, a
//! container and a named layer that must survive every trial. After each
//! kill the checks of `torture_check` run: the store opens, repairs to a
//! clean fsck, every layer rebuilds to its digest, and nothing is left.
//!
//! `STRATA_TORTURE_TRIALS` sets the trials per operation (default 6, so 48
//! in all; 63 gives the long run of 504); `STRATA_TEST_SEED` replays one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::peers::sample_image;

use crate::corpus::sha256_file;
use crate::store_support::{self, CliStore, Random, write_tar};
use crate::torture_check::{Snapshot, assert_no_mounts, repaired_and_whole};

const BASE: &str = "localhost/base:1";
const LOADED: &str = "localhost/loaded:1";

/// A store with what must survive (an image, a container on it, a named
/// layer) and the inputs the operations use.
struct Fixture {
    s: CliStore,
    outputs: PathBuf,
    archive: PathBuf,
    tar: PathBuf,
    saved_digest: String,
}

impl Fixture {
    fn new() -> Self {
        let s = CliStore::new();
        let dir = s.dir.path().to_path_buf();
        let outputs = dir.join("out");
        std::fs::create_dir(&outputs).expect("outputs dir");
        let base = archive(&dir, BASE, 3, 2);
        s.ok(&["load", "-q", "-i", path(&base)]);
        s.ok(&["container", "create", BASE, "--name", "keeper"]);
        let tar = write_tar(&dir, "layer.tar", 300, 3000);
        s.ok(&["layer", "import", "--name", "kept", path(&tar)]);
        let reference = dir.join("reference.tar");
        s.ok(&["save", "-o", path(&reference), BASE]);
        Self {
            archive: archive(&dir, LOADED, 3, 4),
            saved_digest: sha256_file(&reference),
            s,
            outputs,
            tar,
        }
    }

    fn output(&self) -> PathBuf {
        self.outputs.join("image.tar")
    }

    /// Checks the store after a kill; the survivors must all be there.
    fn check(&self, trial: &str) -> Snapshot {
        let snapshot = repaired_and_whole(&self.s, &self.outputs, trial);
        assert!(snapshot.has_image(BASE), "{trial}: the base image is gone");
        assert!(
            snapshot.layer_named("kept").is_some(),
            "{trial}: named layer gone"
        );
        let keeper = snapshot.containers.iter().any(|c| {
            c["names"]
                .as_array()
                .is_some_and(|n| n.contains(&"keeper".into()))
        });
        assert!(keeper, "{trial}: the container is gone");
        snapshot
    }
}

/// A failed trial must not leave its mounts on the machine.
impl Drop for Fixture {
    fn drop(&mut self) {
        for point in crate::torture_check::mounts_under(self.s.dir.path())
            .iter()
            .rev()
        {
            let _ = std::process::Command::new("umount")
                .args(["-l", point])
                .status();
        }
    }
}

fn archive(dir: &Path, name: &str, layers: u32, size_mib: u32) -> PathBuf {
    let file = dir.join(format!("{}.tar", name.replace(['/', ':'], "_")));
    let (layers, size_mib) = (layers.to_string(), size_mib.to_string());
    sample_image(
        &file,
        &["--name", name, "--layers", &layers, "--size-mib", &size_mib],
    )
    .path
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn trials() -> u64 {
    std::env::var("STRATA_TORTURE_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

/// One operation under torture: what to set up before each trial, the
/// command to kill, and how to put things back afterwards.
trait Operation {
    fn name(&self) -> &'static str;
    fn prepare(&self, _f: &Fixture, _trial: u64) {}
    fn args(&self, f: &Fixture, trial: u64) -> Vec<String>;
    fn settle(&self, f: &Fixture, snapshot: &Snapshot, trial: &str);
}

/// Times one full run, then kills the operation at random points up to
/// 1.2 times that long, checking the store after each.
fn torture(op: &dyn Operation) {
    let f = Fixture::new();
    let run = |trial| {
        let args = op.args(&f, trial);
        f.s.command(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    op.prepare(&f, 0);
    let start = Instant::now();
    let out = run(0).output().expect("run");
    assert!(
        out.status.success(),
        "{}: {}",
        op.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    let full = start.elapsed();
    let label = format!("{} (full run)", op.name());
    op.settle(&f, &f.check(&label), &label);
    let mut random = Random::new();
    for trial in 1..=trials() {
        op.prepare(&f, trial);
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        store_support::kill_after(run(trial), delay);
        let label = format!("{} trial {trial} (killed after {delay:?})", op.name());
        let snapshot = f.check(&label);
        op.settle(&f, &snapshot, &label);
        assert_no_mounts(&f.s, &label);
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn remove_layer_named(f: &Fixture, snapshot: &Snapshot, name: &str) {
    if snapshot.layer_named(name).is_some() {
        f.s.ok(&["layer", "rm", name]);
    }
}

struct Import;
impl Operation for Import {
    fn name(&self) -> &'static str {
        "layer import"
    }
    fn args(&self, f: &Fixture, _: u64) -> Vec<String> {
        strings(&["layer", "import", "--name", "imported", path(&f.tar)])
    }
    fn settle(&self, f: &Fixture, snapshot: &Snapshot, _: &str) {
        remove_layer_named(f, snapshot, "imported");
    }
}

struct Delete;
impl Operation for Delete {
    fn name(&self) -> &'static str {
        "layer rm"
    }
    fn prepare(&self, f: &Fixture, _: u64) {
        f.s.ok(&["layer", "import", "--name", "doomed", path(&f.tar)]);
    }
    fn args(&self, _: &Fixture, _: u64) -> Vec<String> {
        strings(&["layer", "rm", "doomed"])
    }
    fn settle(&self, f: &Fixture, snapshot: &Snapshot, _: &str) {
        remove_layer_named(f, snapshot, "doomed");
    }
}

struct Load;
impl Operation for Load {
    fn name(&self) -> &'static str {
        "load"
    }
    fn args(&self, f: &Fixture, _: u64) -> Vec<String> {
        strings(&["load", "-q", "-i", path(&f.archive)])
    }
    fn settle(&self, f: &Fixture, snapshot: &Snapshot, _: &str) {
        if snapshot.has_image(LOADED) {
            f.s.ok(&["image", "rm", LOADED]);
        }
    }
}

struct Save;
impl Operation for Save {
    fn name(&self) -> &'static str {
        "save"
    }
    fn args(&self, f: &Fixture, _: u64) -> Vec<String> {
        strings(&["save", "-o", path(&f.output()), BASE])
    }
    /// A save is there whole, byte for byte the reference, or not at all.
    fn settle(&self, f: &Fixture, _: &Snapshot, trial: &str) {
        let out = f.output();
        if out.exists() {
            assert_eq!(sha256_file(&out), f.saved_digest, "{trial}: a partial save");
            std::fs::remove_file(&out).expect("remove the save");
        }
    }
}

struct ImageRm;
impl Operation for ImageRm {
    fn name(&self) -> &'static str {
        "image rm"
    }
    fn prepare(&self, f: &Fixture, _: u64) {
        f.s.ok(&["load", "-q", "-i", path(&f.archive)]);
    }
    fn args(&self, _: &Fixture, _: u64) -> Vec<String> {
        strings(&["image", "rm", LOADED])
    }
    fn settle(&self, f: &Fixture, snapshot: &Snapshot, _: &str) {
        Load.settle(f, snapshot, "");
    }
}

/// The image `container commit` makes.
const COMMITTED: &str = "localhost/committed:1";

struct Commit;
impl Operation for Commit {
    fn name(&self) -> &'static str {
        "container commit"
    }
    fn prepare(&self, f: &Fixture, trial: u64) {
        if trial == 0 {
            f.s.ok(&["container", "create", BASE, "--name", "work"]);
            let tree = PathBuf::from(f.s.ok(&["container", "mount", "work"]).trim());
            for i in 0..200 {
                let data = vec![i as u8; 4096];
                std::fs::write(tree.join(format!("written-{i}")), data).expect("write");
            }
            f.s.ok(&["container", "unmount", "work"]);
        }
    }
    fn args(&self, _: &Fixture, _: u64) -> Vec<String> {
        strings(&["container", "commit", "work", COMMITTED])
    }
    fn settle(&self, f: &Fixture, snapshot: &Snapshot, _: &str) {
        if snapshot.has_image(COMMITTED) {
            f.s.ok(&["image", "rm", COMMITTED]);
        }
    }
}

/// Mounts the named layer on even trials and the container on odd ones,
/// then drops every mount the store counts.
struct Mount;
impl Operation for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }
    fn args(&self, _: &Fixture, trial: u64) -> Vec<String> {
        match trial % 2 {
            0 => strings(&["layer", "mount", "kept"]),
            _ => strings(&["container", "mount", "keeper"]),
        }
    }
    fn settle(&self, f: &Fixture, _: &Snapshot, _: &str) {
        for (noun, what) in [("layer", "kept"), ("container", "keeper")] {
            while f.s.output(&[noun, "unmount", what]).status.success() {}
        }
    }
}

/// Collects layers nothing reaches (imported without a name) while the
/// survivors must stay.
struct Gc;
impl Operation for Gc {
    fn name(&self) -> &'static str {
        "gc"
    }
    fn prepare(&self, f: &Fixture, _: u64) {
        for _ in 0..3 {
            f.s.ok(&["layer", "import", path(&f.tar)]);
        }
    }
    fn args(&self, _: &Fixture, _: u64) -> Vec<String> {
        strings(&["gc"])
    }
    fn settle(&self, _: &Fixture, _: &Snapshot, _: &str) {}
}

#[test]
fn killed_imports_leave_nothing() {
    torture(&Import);
}

#[test]
fn killed_layer_deletes_leave_nothing() {
    torture(&Delete);
}

#[test]
fn killed_loads_leave_nothing() {
    torture(&Load);
}

#[test]
fn killed_saves_leave_nothing_beside_the_output() {
    torture(&Save);
}

#[test]
fn killed_image_removals_leave_nothing() {
    torture(&ImageRm);
}

#[test]
fn killed_commits_leave_nothing() {
    torture(&Commit);
}

#[test]
fn killed_mounts_leave_no_uncounted_mount() {
    torture(&Mount);
}

#[test]
fn killed_gcs_lose_nothing_a_root_reaches() {
    torture(&Gc);
}

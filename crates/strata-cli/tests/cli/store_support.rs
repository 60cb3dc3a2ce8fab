//! Helpers for tests of the store commands: a store in a temporary
//! directory and strata invocations against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::corpus::{run, stderr, strata};

/// A store in a temporary directory.
pub struct CliStore {
    pub dir: tempfile::TempDir,
}

impl CliStore {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `strata --root R --runroot RR ARGS...`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = strata();
        cmd.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"));
        cmd.args(args);
        cmd
    }

    /// Runs strata and returns its output, whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// Runs strata, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "strata {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs strata, asserts failure with one line on stderr, returns it.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(!out.status.success(), "strata {args:?} should fail");
        let err = stderr(&out);
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line expected: {err}"
        );
        err
    }

    /// Imports `tar` (a file path) and returns the new id.
    pub fn import(&self, tar: &Path, extra: &[&str]) -> String {
        let mut args = vec!["layer", "import"];
        args.extend_from_slice(extra);
        let path = tar.to_str().expect("utf-8 path");
        args.push(path);
        self.ok(&args).trim().to_string()
    }

    /// The names in directory `rel` of the store's root, sorted (none
    /// when it does not exist): `staging`, `blobs/sha256`, ...
    pub fn entries(&self, rel: &str) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = std::fs::read_dir(self.root().join(rel))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Asserts `strata fsck` reports a clean store.
    pub fn assert_clean(&self) {
        let out = self.output(&["fsck", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fsck json");
        assert!(
            out.status.success() && report["clean"] == true,
            "fsck: {report:#}\n{}",
            stderr(&out)
        );
    }
}

/// Writes a tar of `files` files of `size` bytes each into `dir`.
/// How many SIGKILL trials each crash test runs: `STRATA_KILL_TRIALS`,
/// default 30.
pub fn kill_trials() -> u64 {
    std::env::var("STRATA_KILL_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(30)
}

/// Starts `command`, kills it with SIGKILL after `delay`, reaps it.
pub fn kill_after(mut command: Command, delay: std::time::Duration) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

pub fn write_tar(dir: &Path, name: &str, files: usize, size: usize) -> PathBuf {
    let mut builder = testkit::TarBuilder::default();
    for i in 0..files {
        let data: Vec<u8> = (0..size).map(|j| (i * 31 + j) as u8).collect();
        builder = builder.file(&format!("d{}/f{i}", i % 10), &data);
    }
    let path = dir.join(name);
    std::fs::write(&path, builder.finish()).expect("write tar");
    path
}

/// A small deterministic pseudo-random sequence (xorshift), seeded from
/// the clock; the seed is printed so a failure can be replayed.
pub struct Random(u64);

impl Random {
    pub fn new() -> Self {
        let seed = std::env::var("STRATA_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    | 1
            });
        eprintln!("random seed: {seed} (set STRATA_TEST_SEED to replay)");
        Self(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A human table with its relative times ("Less than a second ago",
/// "About a minute ago", "3 seconds ago") taken out and its columns
/// joined by single spaces, so two runs a second apart compare equal.
pub fn untimed(table: &str) -> String {
    table
        .lines()
        .map(|line| {
            let mut words: Vec<&str> = line.split_whitespace().collect();
            while let Some(ago) = words.iter().position(|w| *w == "ago") {
                let starts_at = |n: usize, word: &str| ago >= n && words[ago - n] == word;
                let phrase = if starts_at(4, "Less") {
                    4
                } else if starts_at(3, "About") {
                    3
                } else {
                    2
                };
                words.drain(ago.saturating_sub(phrase)..=ago);
            }
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn untimed_takes_out_every_kind_of_relative_time() {
    let a = "ID  CREATED                 SIZE\nab  Less than a second ago  4 kB\n";
    let b = "ID  CREATED       SIZE\nab  1 second ago  4 kB\n";
    let c = "ID  CREATED             SIZE\nab  About a minute ago  4 kB\n";
    assert_eq!(untimed(a), "ID CREATED SIZE\nab 4 kB");
    assert_eq!(untimed(a), untimed(b));
    assert_eq!(untimed(b), untimed(c));
    assert_ne!(untimed(a), untimed("ID CREATED SIZE\nab 5 kB"));
}

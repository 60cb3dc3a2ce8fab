//! The container commands as users type them (`strata container
//! create|ls|inspect|mount|unmount|rm|commit`, `strata containers`) and
//! `strata layer create --rw`: output formats, one-line errors, and
//! container creation killed at random points. Runs on the store's default
//! driver, or on `STRATA_TEST_DRIVER` when set.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::corpus::sha256;
use crate::store_support::{self, CliStore, Random, write_tar};

/// A store in a temporary directory whose every command names the test
/// driver, if one is asked for.
struct Store {
    cli: CliStore,
    driver: Option<String>,
}

impl Store {
    fn new() -> Self {
        Self {
            cli: CliStore::new(),
            driver: std::env::var("STRATA_TEST_DRIVER")
                .ok()
                .filter(|d| !d.is_empty()),
        }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        if let Some(driver) = &self.driver {
            all.extend(["--driver", driver.as_str()]);
        }
        all
    }

    fn ok(&self, args: &[&str]) -> String {
        self.cli.ok(&self.args(args))
    }

    fn fails(&self, args: &[&str]) -> String {
        self.cli.fails(&self.args(args))
    }

    fn output(&self, args: &[&str]) -> Output {
        self.cli.output(&self.args(args))
    }

    fn dir(&self) -> &Path {
        self.cli.dir.path()
    }

    fn import(&self, tar: &Path, extra: &[&str]) -> String {
        let mut args = vec!["layer", "import"];
        args.extend_from_slice(extra);
        args.push(tar.to_str().expect("utf-8 path"));
        self.ok(&args).trim().to_string()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    fn assert_clean(&self) {
        let out = self.output(&["fsck", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fsck json");
        assert!(
            out.status.success() && report["clean"] == true,
            "fsck: {report:#}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Bytes of `strata layer diff LAYER`.
    fn diff(&self, layer: &str) -> Vec<u8> {
        let out = self.output(&["layer", "diff", layer]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

#[test]
fn a_container_from_creation_to_commit() {
    let s = Store::new();
    let tar = write_tar(s.dir(), "base.tar", 20, 300);
    let base = s.import(&tar, &["--name", "base"]);
    let id = s.ok(&[
        "container",
        "create",
        "base",
        "--name",
        "web",
        "--name",
        "www",
        "--metadata",
        "hello",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");

    let list = s.json(&["containers", "--json"]);
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 1);
    for key in [
        "id", "names", "layer", "base", "image", "created", "metadata",
    ] {
        assert!(list[0].get(key).is_some(), "{key} missing in {}", list[0]);
    }
    assert_eq!(list[0]["names"], serde_json::json!(["web", "www"]));
    assert_eq!(list[0]["base"], base.as_str());
    assert_eq!(list[0]["metadata"], "hello");
    assert_eq!(list[0]["image"], serde_json::Value::Null, "made on a layer");
    assert_eq!(
        s.json(&["container", "ls", "--json"]),
        list[0].clone().into_array()
    );
    let table = s.ok(&["container", "ls"]);
    assert!(
        table.starts_with("CONTAINER ID") && table.contains(&id[..12]) && table.contains("web,www"),
        "{table}"
    );
    assert!(
        table.lines().next().is_some_and(|h| h.contains(" IMAGE ")),
        "{table}"
    );
    assert!(!table.contains(id), "ids are cut short: {table}");
    assert!(s.ok(&["containers", "--no-trunc"]).contains(id));

    let inspect = s.json(&["container", "inspect", "web"])[0].clone();
    assert_eq!(inspect["id"], id);
    assert_eq!(
        s.json(&["container", "inspect", &id[..10], "--json"]),
        inspect.clone().into_array()
    );
    let rw = inspect["layer"].as_str().expect("layer").to_string();
    let rw_layer = s.json(&["layer", "inspect", &rw])[0].clone();
    assert_eq!(rw_layer["read_write"], true);
    assert_eq!(rw_layer["parent"], base.as_str());

    let mounted = PathBuf::from(s.ok(&["container", "mount", "web"]).trim());
    assert!(mounted.join("d0/f0").is_file(), "the base shows through");
    std::fs::write(mounted.join("added"), b"added").expect("write");
    std::fs::remove_file(mounted.join("d1/f1")).expect("delete");
    std::fs::write(mounted.join("d2/f2"), b"changed").expect("modify");
    assert_eq!(
        s.ok(&["container", "mount", "www"]).trim(),
        mounted.to_str().expect("path")
    );
    assert!(s.fails(&["container", "rm", "web"]).contains("mounted"));
    s.ok(&["container", "unmount", "web"]);
    s.ok(&["container", "umount", "web"]);
    assert!(
        s.fails(&["container", "unmount", "web"])
            .contains("not mounted")
    );

    let before = s.diff(&rw);
    let committed = s.ok(&["container", "commit", "web", "localhost/snap:1"]);
    let committed = committed.trim();
    assert_eq!(committed.len(), 64, "{committed}");
    let layers = s.json(&["layers", "--json"]);
    let snap = layers
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| l["diff_digest"] == format!("sha256:{}", sha256(&before)))
        .expect("a layer of the committed changes")
        .clone();
    let snap_id = snap["id"].as_str().expect("id").to_string();
    assert_eq!(snap["read_write"], false);
    assert_eq!(
        sha256(&s.diff(&snap_id)),
        sha256(&before),
        "the committed layer gives back the bytes of the commit"
    );
    let changes = s.ok(&["layer", "changes", &snap_id]);
    for line in ["A /added", "D /d1/f1", "C /d2/f2"] {
        assert!(changes.contains(line), "{line} missing in {changes}");
    }

    let err = s.fails(&["layer", "rm", "base"]);
    assert!(
        err.contains("used by container") && err.contains(id),
        "{err}"
    );
    assert!(s.fails(&["layer", "rm", &rw]).contains("used by container"));
    // As podman prints it: the container as it was named.
    assert_eq!(s.ok(&["container", "rm", "web"]).trim(), "web");
    assert_eq!(s.ok(&["containers", "--json"]).trim(), "[]");
    assert!(s.fails(&["layer", "inspect", &rw]).contains("not found"));
    s.ok(&["rmi", "localhost/snap:1"]);
    s.ok(&["layer", "rm", "base"]);
    s.assert_clean();
}

/// A value wrapped in a one-element JSON array.
trait IntoArray {
    fn into_array(self) -> serde_json::Value;
}

impl IntoArray for serde_json::Value {
    fn into_array(self) -> serde_json::Value {
        serde_json::Value::Array(vec![self])
    }
}

#[test]
fn container_errors_are_one_line() {
    let s = Store::new();
    let tar = write_tar(s.dir(), "base.tar", 3, 10);
    s.import(&tar, &["--name", "base"]);
    assert!(
        s.fails(&["container", "inspect", "nothing"])
            .contains("container \"nothing\" not found")
    );
    assert!(
        s.fails(&["container", "create", "nothing"])
            .contains("layer \"nothing\" not found")
    );
    let first = s.ok(&["container", "create", "base", "--name", "web"]);
    let err = s.fails(&["container", "create", "base", "--name", "web"]);
    assert!(
        err.contains("\"web\" is in use by container") && err.contains(first.trim()),
        "{err}"
    );
    assert!(
        s.fails(&["container", "create", "base", "--name", "bad name"])
            .contains("invalid name")
    );
    let one = format!("abc{}", "1".repeat(61));
    let two = format!("abc{}", "2".repeat(61));
    s.ok(&["container", "create", "base", "--id", &one]);
    s.ok(&["container", "create", "base", "--id", &two]);
    let err = s.fails(&["container", "inspect", "abc"]);
    assert!(
        err.contains("ambiguous") && err.contains(&one) && err.contains(&two),
        "{err}"
    );
    assert!(
        s.fails(&["container", "create", "base", "--id", &one])
            .contains("already exists")
    );
    assert!(
        s.fails(&["container", "commit", "nothing"])
            .contains("not found")
    );
    assert!(
        s.fails(&["container", "mount", "nothing"])
            .contains("not found")
    );
    assert!(
        s.fails(&["container", "unmount", "web"])
            .contains("is not mounted")
    );
    assert!(
        s.fails(&["container", "rm", "nothing"])
            .contains("not found")
    );

    s.ok(&["container", "mount", "web"]);
    let err = s.fails(&["container", "rm", "web"]);
    assert!(
        err.starts_with("strata: cannot delete container web:") && err.contains("is mounted"),
        "{err}"
    );
    assert_eq!(
        s.ok(&["container", "rm", "--force", "web", &one, &two])
            .lines()
            .count(),
        3
    );
    assert_eq!(s.ok(&["containers", "--json"]).trim(), "[]");
    s.ok(&["layer", "rm", "base"]);
    s.assert_clean();
}

#[test]
fn layer_create_rw_makes_a_writable_layer() {
    let s = Store::new();
    let tar = write_tar(s.dir(), "base.tar", 3, 10);
    let base = s.import(&tar, &["--name", "base"]);
    let rw = s.ok(&[
        "layer", "create", "--rw", "--parent", "base", "--name", "scratch",
    ]);
    let rw = rw.trim();
    let layer = s.json(&["layer", "inspect", "scratch"])[0].clone();
    assert_eq!(layer["id"], rw);
    assert_eq!(layer["read_write"], true);
    assert_eq!(layer["parent"], base.as_str());
    let plain = s.ok(&["layer", "create", "--parent", "base"]);
    assert_eq!(
        s.json(&["layer", "inspect", plain.trim()])[0]["read_write"],
        false
    );

    let mounted = PathBuf::from(s.ok(&["layer", "mount", "scratch"]).trim());
    std::fs::write(mounted.join("written"), b"rw").expect("a read-write layer is writable");
    s.ok(&["layer", "unmount", "scratch"]);
    assert!(
        s.ok(&["layer", "changes", "scratch"])
            .contains("A /written")
    );
    let tar = s.diff("scratch");
    assert!(
        tar.windows(7).any(|w| w == b"written"),
        "the diff holds the new file"
    );
    s.ok(&["layer", "rm", "scratch", plain.trim(), "base"]);
    s.assert_clean();
}

/// Starts `args`, kills it with SIGKILL after `delay`, reaps it.
fn kill_after(s: &Store, args: &[&str], delay: Duration) {
    store_support::kill_after(s.cli.command(&s.args(args)), delay);
}

#[test]
fn killed_container_creation_leaves_no_half_container() {
    let s = Store::new();
    let tar = write_tar(s.dir(), "base.tar", 50, 1000);
    let base = s.import(&tar, &["--name", "base"]);
    let start = Instant::now();
    let probe = s.ok(&["container", "create", "base"]);
    let full = start.elapsed();
    s.ok(&["container", "rm", probe.trim()]);
    let trials = store_support::kill_trials();
    let mut random = Random::new();
    for trial in 0..trials {
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        let name = format!("trial-{trial}");
        kill_after(&s, &["container", "create", "base", "--name", &name], delay);
        s.assert_clean();
        let containers = s.json(&["containers", "--json"]);
        let owned: Vec<&str> = containers
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|c| c["layer"].as_str())
            .collect();
        let layers = s.json(&["layers", "--json"]);
        for layer in layers.as_array().expect("array") {
            let id = layer["id"].as_str().expect("id");
            if id != base {
                assert!(
                    layer["read_write"] == true && owned.contains(&id),
                    "trial {trial}: layer {id} is not a container's: {containers:#}"
                );
            }
        }
        if let Some(container) = containers.as_array().and_then(|c| c.first()) {
            assert_eq!(container["names"][0], name.as_str(), "trial {trial}");
            s.ok(&["container", "rm", &name]);
        }
        assert_eq!(
            s.json(&["layers", "--json"]).as_array().map(Vec::len),
            Some(1),
            "trial {trial}"
        );
        assert_eq!(
            std::fs::read_dir(s.cli.root().join("staging"))
                .expect("staging")
                .count(),
            0,
            "trial {trial}"
        );
    }
}

//! Which directories strata takes as a store: another tool's store (a real
//! podman one; docker's and containerd's layouts) and a directory of other
//! things are refused with one line naming them, before anything is
//! written; a user without `HOME` gets no store in the current directory
//! but an error that says what to set.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::{run, stderr, strata};
use testkit::peers::Podman;

/// Every path under `dir` with its size, sorted: what a refused command
/// must leave as it was.
fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        out.push((path.clone(), if meta.is_dir() { 0 } else { meta.len() }));
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list") {
                stack.push(entry.expect("entry").path());
            }
        }
    }
    out.sort();
    out
}

/// `strata --root ROOT --runroot RUN ARGS`: asserts it fails with one
/// line, returns the line.
fn refused(root: &Path, run_dir: &Path, args: &[&str]) -> String {
    let out = run(strata()
        .arg("--root")
        .arg(root)
        .arg("--runroot")
        .arg(run_dir)
        .args(args));
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

#[test]
fn a_podman_store_is_refused_and_left_alone() {
    let podman = Podman::new();
    podman.run_ok(["images"]);
    let root = podman.root();
    assert!(root.join("storage.lock").exists(), "podman made its store");
    let before = tree(&root);
    let run_dir = tempfile::tempdir().expect("temp dir");
    for args in [&["images"][..], &["layer", "create"], &["status"]] {
        let err = refused(&root, &run_dir.path().join("run"), args);
        assert!(
            err.contains("containers/storage") && err.contains("not a strata store"),
            "{err}"
        );
        assert!(err.contains(&root.display().to_string()), "{err}");
    }
    assert_eq!(tree(&root), before, "nothing written into podman's store");
    podman.run_ok(["images"]);
}

#[test]
fn docker_and_containerd_roots_are_refused_by_name() {
    for (entries, owner) in [
        (
            &["containers", "image", "overlay2", "volumes"][..],
            "docker",
        ),
        (
            &[
                "io.containerd.content.v1.content",
                "io.containerd.metadata.v1.bolt",
            ],
            "containerd",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        for entry in entries {
            std::fs::create_dir_all(root.join(entry)).expect("mkdir");
        }
        let before = tree(dir.path());
        let err = refused(&root, &dir.path().join("run"), &["images"]);
        assert!(err.contains(&format!("is a {owner} directory")), "{err}");
        assert_eq!(tree(dir.path()), before, "nothing written");
    }
}

#[test]
fn a_directory_of_other_things_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("home");
    std::fs::create_dir_all(root.join("Documents")).expect("mkdir");
    std::fs::write(root.join("notes.txt"), b"mine").expect("write");
    let before = tree(dir.path());
    let err = refused(&root, &dir.path().join("run"), &["images"]);
    assert!(
        err.contains("is not empty and is not a strata store") && err.contains("Documents"),
        "{err}"
    );
    assert_eq!(tree(dir.path()), before);
    // An empty directory, and a store strata made, are taken.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    for _ in 0..2 {
        let out = run(strata()
            .arg("--root")
            .arg(&empty)
            .arg("--runroot")
            .arg(dir.path().join("run"))
            .args(["--driver", "vfs", "images", "-q"]));
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Sets `path`'s permission bits.
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The uid and gid of `nobody`, which tests run commands as.
const NOBODY: &str = "65534";

/// `strata ARGS` as `nobody`, without `HOME`, `XDG_DATA_HOME` or
/// `STRATA_ROOT`, in `cwd`.
fn as_nobody_without_home(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
    ])
    .arg(env!("CARGO_BIN_EXE_strata"))
    .args(args)
    .current_dir(cwd)
    .env_remove("HOME")
    .env_remove("XDG_DATA_HOME")
    .env_remove("STRATA_ROOT")
    .env_remove("XDG_RUNTIME_DIR");
    cmd
}

#[test]
fn without_home_no_store_is_made_where_the_command_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).expect("mkdir");
    chmod(dir.path(), 0o755);
    chmod(&cwd, 0o777);
    for args in [&["images"][..], &["layer", "create"]] {
        let out = run(&mut as_nobody_without_home(&cwd, args));
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("HOME is not set")
                && err.contains("set HOME")
                && err.contains("STRATA_ROOT"),
            "{err}"
        );
    }
    // `version` still tells the version (and that there is no store), as
    // podman's does without HOME.
    let out = run(&mut as_nobody_without_home(&cwd, &["version"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("HOME is not set"), "{text}");
    let out = run(&mut as_nobody_without_home(&cwd, &["version", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("version JSON");
    assert_eq!(json["store"], serde_json::Value::Null);
    assert_eq!(json["client"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        std::fs::read_dir(&cwd).expect("list").count(),
        0,
        "nothing made in the current directory"
    );
    // Naming the store is enough.
    let root = cwd.join("store");
    let mut cmd = as_nobody_without_home(&cwd, &["--driver", "vfs", "images", "-q"]);
    cmd.env("STRATA_ROOT", &root)
        .env("STRATA_RUNROOT", cwd.join("run"));
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(root.join("strata.db").exists());
}

/// `strata --root ROOT --runroot RUN ARGS` as `nobody`.
fn as_nobody(root: &Path, run_dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
    ])
    .arg(env!("CARGO_BIN_EXE_strata"))
    .arg("--root")
    .arg(root)
    .arg("--runroot")
    .arg(run_dir)
    .args(args)
    .env("HOME", "/nonexistent")
    // The store names its own driver; the suite's STRATA_DRIVER (set for
    // its vfs rerun) would ask for another.
    .env_remove("STRATA_DRIVER");
    run(&mut cmd)
}

/// `strata ARGS` as root on `s`, the store's own driver in charge (see
/// `as_nobody`).
fn as_root(s: &crate::store_support::CliStore, args: &[&str]) -> String {
    let mut cmd = s.command(args);
    cmd.env_remove("STRATA_DRIVER");
    let out = run(&mut cmd);
    assert!(out.status.success(), "strata {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_root_store_reads_for_others_and_refuses_their_changes_plainly() {
    read_as_nobody("vfs");
}

/// The same on overlay, whose driver is opened without its probe (which
/// would mount) when the store is only read.
#[test]
fn a_root_overlay_store_reads_for_others() {
    read_as_nobody("overlay");
}

fn read_as_nobody(driver: &str) {
    let s = crate::store_support::CliStore::new();
    chmod(s.dir.path(), 0o755);
    let tar = crate::store_support::write_tar(s.dir.path(), "rootfs.tar", 3, 100);
    as_root(
        &s,
        &[
            "--driver",
            driver,
            "import",
            tar.to_str().expect("utf-8"),
            "sample:1",
        ],
    );
    as_root(&s, &["container", "create", "sample:1", "--name", "box"]);
    let layers: serde_json::Value =
        serde_json::from_str(&as_root(&s, &["layers", "--json"])).expect("JSON");
    let layer = layers[0]["id"].as_str().expect("a layer id").to_string();
    let root = s.root();
    let run_dir = s.dir.path().join("run");
    let before = tree(&root);

    let reads: Vec<Vec<&str>> = vec![
        vec!["images"],
        vec!["image", "ls", "--json"],
        vec!["image", "inspect", "sample:1"],
        vec!["image", "history", "sample:1"],
        vec!["image", "exists", "sample:1"],
        vec!["layers"],
        vec!["layer", "ls", "--json"],
        vec!["layer", "inspect", &layer],
        vec!["containers"],
        vec!["container", "ls", "--json"],
        vec!["container", "inspect", "box"],
        vec!["status"],
        vec!["status", "--json"],
    ];
    for args in &reads {
        let theirs = as_nobody(&root, &run_dir, args);
        assert!(theirs.status.success(), "{args:?}: {}", stderr(&theirs));
        // Tables say "Less than a second ago" or "1 second ago" as the
        // clock ticks between the two runs; the rest must match.
        use crate::store_support::untimed;
        assert_eq!(
            untimed(&String::from_utf8_lossy(&theirs.stdout)),
            untimed(&as_root(&s, args)),
            "{args:?}: nobody reads what root reads"
        );
    }
    let denied = format!(
        "strata: permission denied: the store at {} belongs to root; run as root or pass --root\n",
        root.display()
    );
    for args in [
        &["image", "tag", "sample:1", "other"][..],
        &["rmi", "sample:1"],
        &["layer", "create"],
        &["container", "create", "sample:1"],
        &["import", tar.to_str().expect("utf-8")],
        &["gc"],
    ] {
        let out = as_nobody(&root, &run_dir, args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert_eq!(stderr(&out), denied, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = as_nobody(&root, &run_dir, &["image", "exists", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(tree(&root), before, "nobody changed nothing");
}

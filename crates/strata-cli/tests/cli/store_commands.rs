//! The store commands as users type them: output formats, errors, the
//! environment, the whole life of a layer.

use crate::corpus::{run, sha256, sha256_file, stderr, strata};
use crate::store_support::{CliStore, write_tar};

#[test]
fn a_layer_from_import_to_removal() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "base.tar", 20, 3000);
    let base = s.import(&tar, &["--name", "base"]);
    assert_eq!(base.len(), 64);
    let top_tar = write_tar(s.dir.path(), "top.tar", 5, 100);
    let top = s.import(&top_tar, &["--parent", "base", "--name", "top"]);

    let list: serde_json::Value = serde_json::from_str(&s.ok(&["layers", "--json"])).expect("json");
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2);
    for layer in list {
        for key in [
            "id",
            "names",
            "parent",
            "diff_digest",
            "diff_size",
            "compressed_digest",
            "compressed_size",
        ] {
            assert!(layer.get(key).is_some(), "{key} missing in {layer}");
        }
    }
    let table = s.ok(&["layer", "ls"]);
    assert!(
        table.starts_with("ID") && table.contains(&base[..12]) && table.contains("top"),
        "{table}"
    );

    let inspect: serde_json::Value =
        serde_json::from_str(&s.ok(&["layer", "inspect", "top"])).expect("json");
    let inspect = &inspect[0];
    assert_eq!(inspect["id"], top.as_str());
    assert_eq!(inspect["parent"], base.as_str());
    assert_eq!(
        inspect["diff_digest"],
        format!("sha256:{}", sha256_file(&top_tar))
    );

    let out = s.dir.path().join("rebuilt.tar");
    s.ok(&["layer", "diff", "top", "-o", out.to_str().expect("path")]);
    assert_eq!(sha256_file(&out), sha256_file(&top_tar));
    let piped = run(&mut s.command(&["layer", "diff", &top[..8]]));
    assert_eq!(sha256(&piped.stdout), sha256_file(&top_tar));
    assert_eq!(
        s.ok(&["layer", "diff-size", "top"]).trim(),
        std::fs::metadata(&top_tar).expect("stat").len().to_string()
    );
    assert!(
        s.ok(&["layer", "changes", "top"])
            .lines()
            .all(|l| l.starts_with("A /") || l.starts_with("C /"))
    );

    s.ok(&["layer", "names", "add", "top", "latest"]);
    s.ok(&["layer", "names", "set", "base", "latest"]);
    assert!(s.ok(&["layer", "inspect", "latest"]).contains(&base));
    s.ok(&["layer", "metadata", "top", "hello"]);
    assert_eq!(s.ok(&["layer", "metadata", "top"]).trim(), "hello");

    let mounted = s.ok(&["layer", "mount", "top"]);
    assert!(std::path::Path::new(mounted.trim()).join("d0/f0").is_file());
    assert!(s.fails(&["layer", "rm", "top"]).contains("mounted"));
    s.ok(&["layer", "unmount", "top"]);
    assert!(s.fails(&["layer", "rm", &base]).contains("has children"));
    s.ok(&["layer", "rm", &top, &base]);
    assert_eq!(s.ok(&["layers", "--json"]).trim(), "[]");
    s.assert_clean();
}

#[test]
fn errors_are_one_line() {
    let s = CliStore::new();
    assert!(
        s.fails(&["layer", "inspect", "nothing"])
            .contains("not found")
    );
    let one = format!("abc{}", "1".repeat(61));
    let two = format!("abc{}", "2".repeat(61));
    s.ok(&["layer", "create", "--id", &one]);
    s.ok(&["layer", "create", "--id", &two]);
    let err = s.fails(&["layer", "inspect", "abc"]);
    assert!(
        err.contains("ambiguous") && err.contains(&one) && err.contains(&two),
        "{err}"
    );
    assert!(
        s.fails(&["layer", "import", "/nonexistent.tar"])
            .contains("/nonexistent.tar")
    );
    let garbage = s.dir.path().join("garbage.tar");
    std::fs::write(&garbage, vec![0x42u8; 4096]).expect("write");
    assert!(
        s.fails(&["layer", "import", garbage.to_str().expect("path")])
            .contains("checksum")
    );
    assert!(
        s.fails(&["--driver", "zfs", "layers"])
            .contains("unknown driver")
    );
}

#[test]
fn the_environment_chooses_the_store() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "a.tar", 3, 10);
    let out = run(strata()
        .env("STRATA_ROOT", s.root())
        .env("STRATA_RUNROOT", s.dir.path().join("run"))
        .args(["layer", "import", "--name", "from-env"])
        .arg(&tar));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        s.ok(&["layers"]).contains("from-env"),
        "the layer went elsewhere"
    );
    let status: serde_json::Value =
        serde_json::from_str(&s.ok(&["status", "--json"])).expect("json");
    let root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("proc")) == 0;
    let default = match std::env::var("STRATA_DRIVER") {
        Ok(asked) if !asked.is_empty() => asked,
        _ if root => "overlay".to_string(),
        _ => "vfs".to_string(),
    };
    assert_eq!(status["driver"], default.as_str());
    assert_eq!(status["layers"], 1);
    assert_eq!(status["containers"], 0);
}

#[test]
fn import_from_stdin() {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "a.tar", 3, 10);
    let out = s
        .command(&["layer", "import", "-"])
        .stdin(std::fs::File::open(&tar).expect("open"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let id = String::from_utf8(out.stdout).expect("utf-8");
    let inspect: serde_json::Value =
        serde_json::from_str(&s.ok(&["layer", "inspect", id.trim()])).expect("json");
    let inspect = &inspect[0];
    assert_eq!(
        inspect["diff_digest"],
        format!("sha256:{}", sha256_file(&tar))
    );
}

#[test]
fn the_driver_is_remembered_and_checked() {
    let s = CliStore::new();
    let out = s.output(&["--driver", "vfs", "layers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = s.fails(&["--driver", "overlay", "layers"]);
    assert!(
        err.contains("uses the vfs driver, not overlay"),
        "mismatch: {err}"
    );
    let err = s.fails(&["--driver", "zfs", "layers"]);
    assert!(err.contains("unknown driver \"zfs\""), "{err}");
    let status: serde_json::Value =
        serde_json::from_str(&s.ok(&["status", "--json"])).expect("json");
    assert_eq!(status["driver"], "vfs", "no --driver: the recorded one");
}

/// The overlay probe refuses clearly where overlay cannot work: here, a
/// user without root (run through `setpriv`, as nobody).
#[test]
fn overlay_where_it_cannot_work_is_a_clear_error() {
    let root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("proc")) == 0;
    if !root || !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("SKIPPED: needs root and setpriv to run strata as nobody");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let as_nobody = |driver: Option<&str>| {
        let mut cmd = std::process::Command::new("/usr/bin/setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_strata"))
            .arg("--root")
            .arg(
                dir.path()
                    .join(format!("{}-root", driver.unwrap_or("default"))),
            )
            .arg("--runroot")
            .arg(
                dir.path()
                    .join(format!("{}-run", driver.unwrap_or("default"))),
            )
            .env_remove("STRATA_DRIVER");
        if let Some(driver) = driver {
            cmd.args(["--driver", driver]);
        }
        cmd.args(["status", "--json"]);
        crate::corpus::run(&mut cmd)
    };
    let refused = as_nobody(Some("overlay"));
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("the overlay driver cannot work here: it needs root"),
        "{err}"
    );
    let fallback = as_nobody(None);
    assert!(fallback.status.success(), "{}", stderr(&fallback));
    let status: serde_json::Value = serde_json::from_slice(&fallback.stdout).expect("json");
    assert_eq!(status["driver"], "vfs", "a new store falls back to vfs");
}

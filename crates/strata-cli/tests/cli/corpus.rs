//! The tar corpus (from testkit) and helpers to run strata, GNU tar and
//! Go's tar-split.

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub use testkit::{Case, cases, sha256, sha256_file};

pub fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

/// Go's tar-split; the test suite needs it (scripts/test installs it).
pub fn go_tar_split() -> Command {
    let path = Path::new("/usr/bin/tar-split");
    assert!(
        path.exists(),
        "Go's tar-split is missing: apt-get install tar-split"
    );
    Command::new(path)
}

/// Runs `cmd`, returning its output; panics if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Extracts `tar` into a new directory `dir` with GNU tar, keeping owners,
/// modes and xattrs; returns whether tar succeeded.
pub fn gnu_extract(tar: &Path, dir: &Path) -> bool {
    std::fs::create_dir_all(dir).expect("mkdir");
    let out = run(Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=*",
            "--numeric-owner",
            "--same-permissions",
            "-xf",
        ])
        .arg(tar)
        .arg("-C")
        .arg(dir));
    out.status.success()
}

/// `strata tar-split disasm --no-stdout --output META TAR`, asserted to succeed.
pub fn strata_disasm(tar: &Path, meta: &Path) {
    let out = run(strata()
        .args(["tar-split", "disasm", "--no-stdout", "--output"])
        .arg(meta)
        .arg(tar));
    assert!(
        out.status.success(),
        "strata disasm {}: {}",
        tar.display(),
        stderr(&out)
    );
}

/// `strata tar-split asm`, returning the command's output.
pub fn strata_asm(meta: &Path, dir: &Path, tar_out: &Path) -> Output {
    run(strata()
        .args(["tar-split", "asm", "--input"])
        .arg(meta)
        .arg("--path")
        .arg(dir)
        .arg("--output")
        .arg(tar_out))
}

/// Runs `strata tar-split asm` and asserts it rebuilds `case` exactly.
pub fn assert_strata_rebuilds(case: &Case, meta: &Path, tree: &Path, what: &str) {
    let rebuilt = tree.with_extension("rebuilt.tar");
    let out = strata_asm(meta, tree, &rebuilt);
    assert!(
        out.status.success(),
        "{} ({}): {what}: strata asm failed: {}",
        case.name,
        case.about,
        stderr(&out)
    );
    assert_eq!(
        sha256_file(&rebuilt),
        sha256_file(&case.path()),
        "{}: {what}: rebuilt tar differs",
        case.name
    );
}

//! Broken inputs give one clear line naming what is wrong, a non-zero exit,
//! and no half-written metadata file.

use std::path::Path;

use crate::corpus::{cases, gnu_extract, run, stderr, strata, strata_asm, strata_disasm};

fn prepared(name: &str) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let case = cases()
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    let work = tempfile::tempdir().expect("temp dir");
    let meta = work.path().join("m.gz");
    strata_disasm(&case.path(), &meta);
    let tree = work.path().join("tree");
    assert!(gnu_extract(&case.path(), &tree));
    (work, meta, tree)
}

fn expect_asm_error(meta: &Path, tree: &Path, work: &Path, needles: &[&str]) {
    let out = strata_asm(meta, tree, &work.join("out.tar"));
    assert!(!out.status.success(), "asm should fail");
    let err = stderr(&out);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}

/// Finds the largest regular file under `dir`.
fn biggest_file(dir: &Path) -> std::path::PathBuf {
    let mut best: Option<(u64, std::path::PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let meta = std::fs::symlink_metadata(entry.path()).expect("stat");
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() && best.as_ref().is_none_or(|(n, _)| meta.len() > *n) {
                best = Some((meta.len(), entry.path()));
            }
        }
    }
    best.expect("a regular file").1
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn changed_file_is_named() {
    let (work, meta, tree) = prepared("gnutar-gnu.tar");
    let victim = biggest_file(&tree);
    let mut bytes = std::fs::read(&victim).expect("read");
    bytes[0] ^= 0xff;
    std::fs::write(&victim, bytes).expect("write");
    expect_asm_error(
        &meta,
        &tree,
        work.path(),
        &[&file_name(&victim), "CRC-64 mismatch"],
    );
}

#[test]
fn missing_file_is_named() {
    let (work, meta, tree) = prepared("gnutar-gnu.tar");
    let victim = biggest_file(&tree);
    std::fs::remove_file(&victim).expect("rm");
    expect_asm_error(
        &meta,
        &tree,
        work.path(),
        &[&file_name(&victim), "cannot open"],
    );
}

#[test]
fn truncated_file_is_named() {
    let (work, meta, tree) = prepared("gnutar-gnu.tar");
    let victim = biggest_file(&tree);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .expect("open");
    let len = file.metadata().expect("stat").len();
    file.set_len(len / 2).expect("truncate");
    expect_asm_error(
        &meta,
        &tree,
        work.path(),
        &[&file_name(&victim), "expected"],
    );
}

#[test]
fn replaced_by_a_directory_is_named() {
    let (work, meta, tree) = prepared("gnutar-gnu.tar");
    let victim = biggest_file(&tree);
    std::fs::remove_file(&victim).expect("rm");
    std::fs::create_dir(&victim).expect("mkdir");
    expect_asm_error(
        &meta,
        &tree,
        work.path(),
        &[&file_name(&victim), "not a regular file"],
    );
}

fn expect_disasm_error(tar: &[u8], needle: &str) {
    let work = tempfile::tempdir().expect("temp dir");
    let input = work.path().join("in.tar");
    std::fs::write(&input, tar).expect("write");
    let meta = work.path().join("m.gz");
    let out = run(strata()
        .args(["tar-split", "disasm", "--no-stdout", "--output"])
        .arg(&meta)
        .arg(&input));
    assert!(!out.status.success(), "disasm should fail on {needle}");
    let err = stderr(&out);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("in.tar")],
        "metadata left behind"
    );
}

fn corpus_bytes(name: &str) -> Vec<u8> {
    let case = cases()
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    std::fs::read(case.path()).expect("read")
}

#[test]
fn truncated_tar_is_rejected() {
    let tar = corpus_bytes("gnutar-gnu.tar");
    expect_disasm_error(&tar[..512 + 100], "truncated");
    expect_disasm_error(&tar[..300], "truncated");
}

#[test]
fn garbage_tar_is_rejected() {
    expect_disasm_error(&[0x42; 4096], "checksum");
    let mut tar = corpus_bytes("gnutar-gnu.tar");
    tar[124] = b'9';
    expect_disasm_error(&tar, "tar header at byte 0");
}

#[test]
fn garbage_metadata_is_rejected() {
    let (work, meta, tree) = prepared("gnutar-gnu.tar");
    std::fs::write(&meta, b"{\"type\":2,\"payload\":\"not base64!\"}\n").expect("write");
    expect_asm_error(&meta, &tree, work.path(), &["metadata entry 0", "base64"]);
    std::fs::write(&meta, b"\x1f\x8b\x08\x00garbage").expect("write");
    let out = strata_asm(&meta, &tree, &work.path().join("o.tar"));
    assert!(!out.status.success());
}

//! strata disasm → GNU tar extract → strata asm gives back every corpus
//! archive byte for byte, from a file and through a pipe.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::corpus::{
    Case, assert_strata_rebuilds, cases, gnu_extract, sha256, sha256_file, stderr, strata,
    strata_disasm,
};

fn round_trip(case: &Case, work: &std::path::Path, meta: &std::path::Path) {
    let tree = work.join("tree");
    let extracted = gnu_extract(&case.path(), &tree);
    assert_eq!(
        extracted, case.gnu_extract,
        "{}: GNU tar extraction status",
        case.name
    );
    assert_strata_rebuilds(case, meta, &tree, "round trip");
}

#[test]
fn every_corpus_tar_round_trips_from_a_file() {
    for case in cases() {
        let work = tempfile::tempdir().expect("temp dir");
        let meta = work.path().join("tar-data.json.gz");
        strata_disasm(&case.path(), &meta);
        round_trip(case, work.path(), &meta);
    }
}

/// Through a pipe the archive passes to stdout unchanged, and duplicated
/// paths are recovered from the spooled copy.
#[test]
fn every_corpus_tar_round_trips_through_a_pipe() {
    for case in cases() {
        let work = tempfile::tempdir().expect("temp dir");
        let meta = work.path().join("m.json.gz");
        let original = std::fs::read(case.path()).expect("read corpus tar");
        let mut child = strata()
            .args(["tar-split", "disasm", "--output"])
            .arg(&meta)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata");
        let mut stdin = child.stdin.take().expect("stdin");
        let feeder = std::thread::spawn(move || stdin.write_all(&original).map(|()| original));
        let out = child.wait_with_output().expect("wait strata");
        let original = feeder
            .join()
            .expect("feeder thread")
            .expect("write to strata");
        assert!(
            out.status.success(),
            "{}: disasm from a pipe: {}",
            case.name,
            stderr(&out)
        );
        assert_eq!(
            sha256(&out.stdout),
            sha256(&original),
            "{}: passthrough changed the tar",
            case.name
        );
        round_trip(case, work.path(), &meta);
    }
}

/// The Go-compatible `asm --compress` gzips the rebuilt tar.
#[test]
fn asm_compress_writes_gzip_of_the_same_tar() {
    let case = cases()
        .iter()
        .find(|c| c.name.starts_with("gnutar-gnu"))
        .expect("gnutar-gnu case");
    let work = tempfile::tempdir().expect("temp dir");
    let meta = work.path().join("m.gz");
    strata_disasm(&case.path(), &meta);
    let tree = work.path().join("tree");
    assert!(gnu_extract(&case.path(), &tree));
    let gz = work.path().join("out.tar.gz");
    let out = crate::corpus::run(
        strata()
            .args(["tar-split", "asm", "--compress", "--input"])
            .arg(&meta)
            .arg("--path")
            .arg(&tree)
            .arg("--output")
            .arg(&gz),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let plain = crate::corpus::run(Command::new("gzip").arg("-dc").arg(&gz));
    assert!(plain.status.success());
    assert_eq!(sha256(&plain.stdout), sha256_file(&case.path()));
}

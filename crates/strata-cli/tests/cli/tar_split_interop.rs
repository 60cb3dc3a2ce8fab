//! strata and Go's tar-split stand in for each other: Go reassembles what
//! strata disassembles, strata reassembles what Go disassembles.

use std::path::Path;
use std::process::Command;

use crate::corpus::{
    Case, assert_strata_rebuilds, cases, gnu_extract, go_tar_split, run, sha256_file, stderr,
    strata_asm, strata_disasm,
};

/// Go's reader reassembles strata's metadata exactly; for sparse members,
/// which Go's format cannot express, Go must fail loudly rather than write
/// different bytes.
#[test]
fn go_asm_reads_strata_metadata() {
    for case in cases() {
        let work = tempfile::tempdir().expect("temp dir");
        let meta = work.path().join("m.gz");
        strata_disasm(&case.path(), &meta);
        let tree = work.path().join("tree");
        gnu_extract(&case.path(), &tree);
        let rebuilt = work.path().join("go.tar");
        let out = run(go_tar_split()
            .args(["asm", "--input"])
            .arg(&meta)
            .arg("--path")
            .arg(&tree)
            .arg("--output")
            .arg(&rebuilt));
        if case.sparse {
            assert!(
                !out.status.success(),
                "{}: Go must reject sparse members it cannot rebuild",
                case.name
            );
            continue;
        }
        assert!(
            out.status.success(),
            "{}: Go asm failed: {}",
            case.name,
            stderr(&out)
        );
        assert_eq!(
            sha256_file(&rebuilt),
            sha256_file(&case.path()),
            "{}: Go rebuilt different bytes",
            case.name
        );
    }
}

/// Go's tar-split loses PAX 1.0 sparse maps; those are the only archives it
/// disassembles that strata cannot rebuild from Go's metadata.
fn go_drops_the_sparse_map(name: &str) -> bool {
    name.contains("pax-1.0") || name.contains("pax-sparse-1.0")
}

#[test]
fn strata_asm_reads_go_metadata() {
    for case in cases() {
        let work = tempfile::tempdir().expect("temp dir");
        let meta = work.path().join("go.gz");
        let out = run(go_tar_split()
            .args(["disasm", "--no-stdout", "--output"])
            .arg(&meta)
            .arg(case.path()));
        assert_eq!(
            out.status.success(),
            !case.duplicates,
            "{}: Go disasm status: {}",
            case.name,
            stderr(&out)
        );
        if case.duplicates {
            continue;
        }
        let tree = work.path().join("tree");
        gnu_extract(&case.path(), &tree);
        assert_eq!(
            go_round_trips(&meta, &tree, case),
            case.go_disasm,
            "{}: Go's own round trip",
            case.name
        );
        if go_drops_the_sparse_map(&case.name) {
            let out = strata_asm(&meta, &tree, &work.path().join("strata.tar"));
            assert!(
                !out.status.success(),
                "{}: expected a loud failure",
                case.name
            );
            assert!(
                stderr(&out).contains("sparse map"),
                "{}: {}",
                case.name,
                stderr(&out)
            );
            continue;
        }
        assert_strata_rebuilds(case, &meta, &tree, "Go metadata");
    }
}

/// Whether Go's asm rebuilds the archive exactly from Go's own metadata. Go
/// opens whatever the extracted path is, so a FIFO blocks it: hence the
/// time limit.
fn go_round_trips(meta: &Path, tree: &Path, case: &Case) -> bool {
    let rebuilt = tree.with_extension("go.tar");
    let out = run(Command::new("timeout")
        .arg("5")
        .arg("/usr/bin/tar-split")
        .args(["asm", "--input"])
        .arg(meta)
        .arg("--path")
        .arg(tree)
        .arg("--output")
        .arg(&rebuilt));
    out.status.success() && sha256_file(&rebuilt) == sha256_file(&case.path())
}

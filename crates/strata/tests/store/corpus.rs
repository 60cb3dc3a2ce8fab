//! Every corpus archive imports as a layer and comes back bit for bit; the
//! compression it arrived in is detected and can be reproduced.

use std::io::{Read, Write};

use strata::compression::{Compression, Encoder, decompress};
use strata::{CreateOptions, DiffFormat};
use testkit::{cases, sha256};

use crate::common::{TestStore, diff};

#[test]
fn every_corpus_tar_round_trips_through_the_store() {
    let t = TestStore::new();
    for case in cases() {
        let tar = std::fs::read(case.path()).expect("read");
        // Named: an unnamed layer nothing uses is garbage, which fsck reports.
        let layer = match t.import(&tar, None, &[&case.name]) {
            Ok(layer) => layer,
            Err(e) => panic!("{} ({}): import failed: {e}", case.name, case.about),
        };
        assert_eq!(
            layer.diff_digest.as_ref().map(|d| d.hex().to_string()),
            Some(sha256(&tar)),
            "{}",
            case.name
        );
        assert_eq!(layer.diff_size, Some(tar.len() as u64), "{}", case.name);
        assert_eq!(
            sha256(&diff(&t.store, &layer.id)),
            sha256(&tar),
            "{}: rebuilt tar differs",
            case.name
        );
        t.store
            .verify_layer(&layer)
            .unwrap_or_else(|e| panic!("{}: verify: {e}", case.name));
    }
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
}

#[test]
fn compressed_imports_record_both_digests_and_recompress() {
    let t = TestStore::new();
    let tar = std::fs::read(testkit::case("gnutar-gnu.tar").path()).expect("read");
    for format in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
        Compression::Bzip2,
    ] {
        let mut encoder = Encoder::new(format, Vec::new()).expect("encoder");
        encoder.write_all(&tar).expect("compress");
        let packed = encoder.finish().expect("finish");
        let layer = t
            .store
            .import_layer(&CreateOptions::default(), &mut &packed[..], None)
            .expect("import");
        assert_eq!(layer.compression, format);
        assert_eq!(
            layer
                .compressed_digest
                .as_ref()
                .map(|d| d.hex().to_string()),
            Some(sha256(&packed))
        );
        assert_eq!(layer.compressed_size, Some(packed.len() as u64));
        assert_eq!(
            layer.diff_digest.as_ref().map(|d| d.hex().to_string()),
            Some(sha256(&tar))
        );
        let mut out = Vec::new();
        t.store
            .diff(&layer.id, None, DiffFormat::Original, &mut out)
            .expect("diff");
        let (found, mut reader) = decompress(&out[..]).expect("decoder");
        assert_eq!(found, format);
        let mut plain = Vec::new();
        reader.read_to_end(&mut plain).expect("decompress");
        assert_eq!(sha256(&plain), sha256(&tar), "{format:?}");
    }
}

#[test]
fn damaged_layer_fails_loudly_on_diff_and_fsck() {
    let t = TestStore::new();
    let tar = std::fs::read(testkit::case("gnutar-gnu.tar").path()).expect("read");
    let layer = t.import(&tar, None, &[]).expect("import");
    let tree = t.files_dir(&layer.id);
    let victim = walk_files(&tree)
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a file");
    let mut bytes = std::fs::read(&victim).expect("read");
    bytes[0] ^= 1;
    std::fs::write(&victim, bytes).expect("write");
    let mut out = Vec::new();
    let err = t
        .store
        .diff(&layer.id, None, DiffFormat::None, &mut out)
        .expect_err("damage must be reported");
    assert!(
        err.to_string().contains(
            &victim
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string()
        ),
        "{err}"
    );
    let report = t.store.fsck(false).expect("fsck");
    assert!(!report.clean);
    assert_eq!(report.issues[0].kind, "damaged-layer");
    let repaired = t.store.fsck(true).expect("fsck --repair");
    assert!(repaired.clean, "{:?}", repaired.issues);
    t.assert_only(&[]);
}

#[test]
fn diff_from_another_layer_and_changes_come_from_the_trees() {
    let t = TestStore::new();
    let base = t
        .import(&testkit::tar_of(&[("a", b"1"), ("b", b"2")]), None, &[])
        .expect("base");
    let mut whiteout = testkit::tar_of(&[("c", b"3")]);
    whiteout.truncate(whiteout.len() - 1024);
    whiteout.extend_from_slice(&testkit::ustar_header(".wh.a", 0, b'0'));
    whiteout.extend_from_slice(&[0u8; 1024]);
    let top = t.import(&whiteout, Some(&base.id), &[]).expect("top");
    let listed =
        strata::archive::changes::format_changes(&t.store.changes(&top.id, None).expect("changes"));
    assert!(
        listed.contains("D /a") && listed.contains("A /c"),
        "{listed}"
    );
    assert!(!listed.contains("/b"), "{listed}");
    let mut out = Vec::new();
    let report = t
        .store
        .diff(&top.id, Some(&base.id), DiffFormat::None, &mut out)
        .expect("diff --from parent");
    assert!(
        report.verified,
        "against its parent a layer gives back its original tar"
    );
    assert_eq!(out, whiteout);
    let other = t
        .import(&testkit::tar_of(&[("b", b"2"), ("z", b"9")]), None, &[])
        .expect("other");
    out.clear();
    let report = t
        .store
        .diff(&top.id, Some(&other.id), DiffFormat::None, &mut out)
        .expect("diff --from other");
    assert!(
        !report.verified,
        "a diff against another layer is generated from the trees"
    );
    assert_eq!(tar_names(&out), vec!["c".to_string(), ".wh.z".to_string()]);
    assert_eq!(
        t.store.diff_size(&top.id, Some(&other.id)).expect("size"),
        out.len() as u64
    );
    assert_eq!(
        t.store.diff_size(&top.id, None).expect("size"),
        whiteout.len() as u64
    );
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut sink = tarsplit::memory::MemorySink::new(1 << 20);
    let mut disasm = tarsplit::Disassembler::default();
    disasm.feed(tar, &mut sink).expect("parse");
    disasm.finish(&mut sink).expect("parse");
    sink.entries
        .iter()
        .filter_map(|e| match e {
            tarsplit::metadata::Entry::File { name, .. } => {
                Some(String::from_utf8_lossy(name).into_owned())
            }
            _ => None,
        })
        .collect()
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push(path);
            }
        }
    }
    out
}

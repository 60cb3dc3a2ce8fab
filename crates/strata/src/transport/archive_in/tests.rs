//! The archive index over tarsplit's parser, on archives written by GNU
//! tar and by the `tar` crate (independent writers): long names in every
//! encoding, links, offsets of member data read in place.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::process::Command;

use super::*;

/// A name longer than USTAR's 100 bytes that no prefix split can hold.
fn long_name() -> String {
    format!("deep/{}/blob", "n".repeat(160))
}

/// Files for the GNU tar cases: a long name, a symlink, a hard link.
fn tree(root: &Path) {
    let long = root.join(long_name());
    std::fs::create_dir_all(long.parent().unwrap()).unwrap();
    std::fs::write(&long, b"long contents").unwrap();
    std::fs::write(root.join("plain"), vec![b'p'; 1500]).unwrap();
    std::os::unix::fs::symlink(format!("../{}", long_name()), root.join("deep/link")).unwrap();
    std::fs::hard_link(root.join("plain"), root.join("hard")).unwrap();
}

fn gnu_tar(format: &str) -> (tempfile::TempDir, File) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    tree(&src);
    let out = tmp.path().join("a.tar");
    let status = Command::new("tar")
        .arg(format!("--format={format}"))
        .arg("-cf")
        .arg(&out)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let file = File::open(&out).unwrap();
    (tmp, file)
}

fn read(archive: &ArchiveIn, path: &str) -> Vec<u8> {
    let mut data = Vec::new();
    Source::open(archive, path)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    assert_eq!(Source::size(archive, path).unwrap(), data.len() as u64);
    data
}

fn check_tree(archive: &ArchiveIn) {
    assert_eq!(read(archive, &long_name()), b"long contents");
    assert_eq!(read(archive, "deep/link"), b"long contents");
    assert_eq!(read(archive, "./plain"), vec![b'p'; 1500]);
    assert_eq!(read(archive, "hard"), vec![b'p'; 1500]);
    assert!(!archive.has("deep"), "a directory is not a file");
    assert!(!archive.has("missing"));
}

#[test]
fn reads_gnu_tar_pax_archives() {
    let (tmp, file) = gnu_tar("posix");
    let archive = ArchiveIn::open(Input::File(file), tmp.path()).unwrap();
    check_tree(&archive);
}

#[test]
fn reads_gnu_tar_gnu_archives() {
    let (tmp, file) = gnu_tar("gnu");
    let archive = ArchiveIn::open(Input::File(file), tmp.path()).unwrap();
    check_tree(&archive);
}

#[test]
fn reads_the_tar_crate_long_names_and_pax_records() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, long_name(), &b"gnu!"[..])
        .unwrap();
    let pax_name = format!("pax/{}", "p".repeat(200));
    builder
        .append_pax_extensions([("path", pax_name.as_bytes())])
        .unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_path("pax/short").unwrap();
    header.set_cksum();
    builder.append(&header, &b"pax"[..]).unwrap();
    let bytes = builder.into_inner().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("crate.tar");
    std::fs::write(&path, &bytes).unwrap();
    let archive = ArchiveIn::open(Input::File(File::open(&path).unwrap()), tmp.path()).unwrap();
    assert_eq!(read(&archive, &long_name()), b"gnu!");
    assert_eq!(read(&archive, &pax_name), b"pax");
    assert!(!archive.has("pax/short"), "the PAX path record wins");
}

#[test]
fn streams_are_spilled_and_truncation_is_an_error() {
    let (tmp, mut file) = gnu_tar("posix");
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    let stream = Input::Stream(Box::new(std::io::Cursor::new(bytes.clone())));
    let spill = tmp.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    check_tree(&ArchiveIn::open(stream, &spill).unwrap());
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0, "spill left");

    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    let Err(error) = ArchiveIn::open(Input::File(File::open(&cut).unwrap()), tmp.path()) else {
        panic!("a truncated archive was indexed");
    };
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn a_last_member_cut_short_is_truncation() {
    // One member of 1024 bytes (whole blocks, so no padding is missing),
    // cut inside its data with nothing after it.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(1024);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "layer.tar", &[7u8; 1024][..])
        .unwrap();
    let bytes = builder.into_inner().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..512 + 700]).unwrap();
    let Err(error) = ArchiveIn::open(Input::File(File::open(&cut).unwrap()), tmp.path()) else {
        panic!("a truncated archive was indexed");
    };
    let message = error.to_string();
    assert!(message.contains("truncated"), "{message}");
    assert!(message.contains("layer.tar"), "{message}");
}

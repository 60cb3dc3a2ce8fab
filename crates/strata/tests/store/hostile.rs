//! Hostile layer tars: each is refused with an error naming the entry, or
//! is safely contained inside the layer (said per case). Either way nothing
//! outside the layer changes and a refused import leaves no layer behind.

use std::path::Path;

use testkit::TarBuilder;

use crate::common::{TestStore, snapshot};

/// A unique name for files that must never appear on the host.
fn marker(what: &str) -> String {
    format!("strata-hostile-{what}-{}", std::process::id())
}

fn sentinel(t: &TestStore) -> std::path::PathBuf {
    let dir = t.dir.path().join("sentinel");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("sub/keep"), b"keep").expect("write");
    dir
}

/// Imports `tar`, expects a refusal naming `entry`, and checks that nothing
/// changed outside and no layer is left.
fn refused(tar: Vec<u8>, entry: &str) {
    let t = TestStore::new();
    let outside = sentinel(&t);
    let before = snapshot(&outside);
    let err = t
        .import(&tar, None, &[])
        .expect_err("hostile tar must be refused");
    assert!(
        err.to_string().contains(entry),
        "error {err:?} does not name {entry:?}"
    );
    assert_eq!(
        snapshot(&outside),
        before,
        "something outside the layer changed"
    );
    t.assert_only(&[]);
}

/// Imports `tar`, expects success, and checks that `host_path` (where an
/// escape would land) does not exist while `inside` does, in the layer.
fn contained(tar: Vec<u8>, host_path: &Path, inside: &str) {
    let t = TestStore::new();
    let outside = sentinel(&t);
    let before = snapshot(&outside);
    let layer = t.import(&tar, None, &[]).expect("contained tar imports");
    assert!(
        !host_path.exists(),
        "{} was written on the host",
        host_path.display()
    );
    let tree = t.files_dir(&layer.id);
    assert!(
        tree.join(inside).exists(),
        "{inside} is not inside the layer"
    );
    assert_eq!(
        snapshot(&outside),
        before,
        "something outside the layer changed"
    );
    t.assert_only(&[&layer.id]);
}

#[test]
fn dot_dot_names_are_refused() {
    refused(
        TarBuilder::default().file("../evil", b"x").finish(),
        "../evil",
    );
    refused(
        TarBuilder::default().file("a/../../evil", b"x").finish(),
        "a/../../evil",
    );
}

#[test]
fn absolute_names_are_contained() {
    // Contained: a leading `/` is stripped, as Docker and GNU tar do.
    let name = marker("abs");
    let tar = TarBuilder::default()
        .file(&format!("/tmp/{name}"), b"x")
        .finish();
    contained(tar, &Path::new("/tmp").join(&name), &format!("tmp/{name}"));
}

#[test]
fn writing_through_a_symlink_to_root_is_contained() {
    // Contained: symlinks in a path resolve inside the layer, never the host.
    let name = marker("through-root");
    let tar = TarBuilder::default()
        .symlink("s", "/")
        .file(&format!("s/tmp/{name}"), b"x")
        .finish();
    contained(tar, &Path::new("/tmp").join(&name), &format!("tmp/{name}"));
    let name = marker("through-up");
    let tar = TarBuilder::default()
        .dir("tmp/")
        .symlink("up", "../../../../../../tmp")
        .file(&format!("up/{name}"), b"x")
        .finish();
    contained(tar, &Path::new("/tmp").join(&name), &format!("tmp/{name}"));
}

#[test]
fn writing_through_a_symlink_to_a_missing_directory_is_refused() {
    // Refused: the symlink's target does not exist inside the layer.
    let name = marker("dangling");
    let tar = TarBuilder::default()
        .symlink("up", "../../../../../../tmp")
        .file(&format!("up/{name}"), b"x")
        .finish();
    refused(tar, &format!("up/{name}"));
    assert!(!Path::new("/tmp").join(&name).exists());
}

#[test]
fn directory_replaced_by_a_symlink_then_written_into() {
    // Refused when the symlink's target is missing in the layer; contained
    // (inside the layer's own tmp/) when it exists.
    let name = marker("dir-swap");
    let tar = TarBuilder::default()
        .dir("d/")
        .symlink("d", "/tmp")
        .file(&format!("d/{name}"), b"x")
        .finish();
    refused(tar, &format!("d/{name}"));
    let tar = TarBuilder::default()
        .dir("tmp/")
        .dir("d/")
        .symlink("d", "/tmp")
        .file(&format!("d/{name}"), b"x")
        .finish();
    contained(tar, &Path::new("/tmp").join(&name), &format!("tmp/{name}"));
}

#[test]
fn hardlinks_out_of_the_layer_are_refused() {
    refused(
        TarBuilder::default()
            .hardlink("h", "../../../../etc/passwd")
            .finish(),
        "h",
    );
    // An absolute target resolves inside the layer, where it does not exist.
    refused(
        TarBuilder::default().hardlink("h2", "/etc/passwd").finish(),
        "h2",
    );
}

#[test]
fn symlink_loops_are_refused() {
    let tar = TarBuilder::default()
        .symlink("l1", "l2")
        .symlink("l2", "l1")
        .file("l1/x", b"x")
        .finish();
    refused(tar, "l1/x");
}

#[test]
fn bare_whiteouts_are_refused() {
    refused(TarBuilder::default().file(".wh.", b"").finish(), ".wh.");
    refused(
        TarBuilder::default().file("dir/.wh.", b"").finish(),
        "dir/.wh.",
    );
}

#[test]
fn oversized_and_nul_pax_records_are_refused() {
    let huge = vec![b'a'; (1 << 20) + 10];
    let tar = TarBuilder::default()
        .pax(&[("comment", &huge)])
        .file("x", b"1")
        .finish();
    refused(tar, "exceeds the limit");
    let tar = TarBuilder::default()
        .pax(&[("path", b"a\0b")])
        .file("x", b"1")
        .finish();
    refused(tar, "contains NUL");
}

#[test]
fn truncated_and_garbage_streams_are_refused() {
    let tar = TarBuilder::default().file("x", &[7u8; 2000]).finish();
    refused(tar[..1000].to_vec(), "truncated");
    refused(vec![0x42; 4096], "checksum");
}

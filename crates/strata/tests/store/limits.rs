//! Memory bounded by the input: compressed layers whose decoder would need
//! more memory than strata allows are refused with an error naming the
//! limit, leaving the store as it was; real layers made with the largest
//! presets still import.

use std::io::Write;
use std::process::{Command, Stdio};

use strata::compression::{Compression, MemoryLimit, XZ_MEMORY_LIMIT, ZSTD_WINDOW_LOG_MAX};
use testkit::compressed::{xz_declaring_dictionary, zstd_with_window};

use crate::common::{TestStore, diff};

/// A small layer: a few files, one of them a megabyte of zeros.
fn layer_tar() -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    testkit::tar_of(&[
        ("etc/motd", b"hello\n"),
        ("var/zeros", &zeros),
        ("bin/tool", b"\x7fELF tool"),
    ])
}

fn refused(t: &TestStore, packed: &[u8]) -> MemoryLimit {
    match t.import(packed, None, &["refused"]) {
        Err(strata::Error::MemoryLimit(limit)) => limit,
        other => panic!("want a memory limit error, got {other:?}"),
    }
}

#[test]
fn xz_bomb_is_refused_and_leaves_nothing() {
    let t = TestStore::new();
    // Declares a 1 GiB dictionary: a decoder without a limit allocates
    // (and, as the zeros come out, fills) that much.
    let bomb = xz_declaring_dictionary(&layer_tar(), 30);
    assert!(bomb.len() < 4096, "bomb is {} bytes", bomb.len());
    let limit = refused(&t, &bomb);
    assert_eq!(limit.format, Compression::Xz);
    assert_eq!(limit.limit, XZ_MEMORY_LIMIT);
    assert!(limit.needed.is_some_and(|n| n > 1 << 30), "{limit:?}");
    assert!(limit.to_string().contains("more than the limit of 66 MiB"));
    t.assert_only(&[]);
}

#[test]
fn xz_9_layer_imports() {
    let t = TestStore::new();
    let tar = layer_tar();
    let mut xz = Command::new("xz")
        .args(["-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run xz (xz-utils)");
    let mut stdin = xz.stdin.take().expect("stdin");
    let input = tar.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = xz.wait_with_output().expect("xz");
    writer.join().expect("writer").expect("write to xz");
    assert!(out.status.success());
    let layer = t.import(&out.stdout, None, &["nine"]).expect("xz -9 layer");
    assert_eq!(layer.compression, Compression::Xz);
    assert_eq!(diff(&t.store, "nine"), tar);
    // The same layer declaring the largest dictionary the limit allows.
    let at_limit = xz_declaring_dictionary(&tar, 26);
    let t2 = TestStore::new();
    t2.import(&at_limit, None, &["at-limit"])
        .expect("64 MiB dictionary");
    assert_eq!(diff(&t2.store, "at-limit"), tar);
}

#[test]
fn zstd_window_above_the_limit_is_refused_and_leaves_nothing() {
    let t = TestStore::new();
    let tar = layer_tar();
    let over = zstd_with_window(&tar, ZSTD_WINDOW_LOG_MAX + 1);
    let limit = refused(&t, &over);
    assert_eq!(limit.format, Compression::Zstd);
    assert_eq!(limit.limit, 1 << ZSTD_WINDOW_LOG_MAX);
    t.assert_only(&[]);

    let at_limit = zstd_with_window(&tar, ZSTD_WINDOW_LOG_MAX);
    let layer = t
        .import(&at_limit, None, &["at-limit"])
        .expect("64 MiB window");
    let normal = zstd::encode_all(&tar[..], 19).expect("zstd -19");
    let again = t.import(&normal, None, &["normal"]).expect("zstd -19");
    assert_eq!(layer.compression, Compression::Zstd);
    assert_eq!(layer.diff_digest, again.diff_digest);
    assert_eq!(diff(&t.store, "normal"), tar);
}

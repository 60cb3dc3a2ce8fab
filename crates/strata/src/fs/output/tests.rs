//! Each kind of output path, for real, under a temporary directory (the
//! device nodes are made there with `mknod`; the system's `/dev` is never
//! touched).

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode};

use super::{Output, write_output};
use crate::error::{Error, Result};

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_output(path, |out| {
        out.write_all(bytes).map_err(|e| Error::Io {
            context: "test write".into(),
            source: e,
        })
    })
}

fn names(dir: &Path) -> Vec<String> {
    let mut names = crate::fs::entries(dir).expect("list");
    names.sort();
    names
}

/// A character device with the numbers of `/dev/null` (1, 3).
fn null_device(path: &Path) {
    rustix::fs::mknodat(
        CWD,
        path,
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .expect("mknod 1:3");
}

fn assert_null_device(path: &Path) {
    let meta = std::fs::symlink_metadata(path).expect("stat");
    assert!(meta.file_type().is_char_device(), "still a char device");
    let rdev = meta.rdev();
    assert_eq!(
        (rustix::fs::major(rdev), rustix::fs::minor(rdev)),
        (1, 3),
        "same device numbers"
    );
}

#[test]
fn a_missing_path_becomes_a_new_file_and_nothing_else_appears() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.tar");
    write(&out, b"archive").expect("write");
    assert_eq!(std::fs::read(&out).expect("read"), b"archive");
    assert_eq!(names(dir.path()), ["out.tar"]);
}

#[test]
fn a_regular_file_is_replaced_atomically_keeping_its_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.tar");
    std::fs::write(&out, b"old content").expect("old");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let old_inode = std::fs::metadata(&out).expect("stat").ino();

    let mut output = Output::create(&out).expect("create");
    output.write_all(b"new").expect("write");
    assert_eq!(std::fs::read(&out).expect("read"), b"old content");
    assert_eq!(
        names(dir.path()),
        ["out.tar"],
        "the new file has no name yet"
    );
    output.finish().expect("finish");

    assert_eq!(std::fs::read(&out).expect("read"), b"new");
    let meta = std::fs::metadata(&out).expect("stat");
    assert_ne!(meta.ino(), old_inode, "replaced, not rewritten in place");
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!(names(dir.path()), ["out.tar"]);
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_leftovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.tar");
    std::fs::write(&out, b"old content").expect("old");
    let failed = write_output(&out, |out| -> Result<()> {
        out.write_all(&[7u8; 3 << 20]).expect("write");
        Err(Error::Invalid("the save failed".into()))
    });
    assert!(matches!(failed, Err(Error::Invalid(_))));
    assert_eq!(std::fs::read(&out).expect("read"), b"old content");
    assert_eq!(names(dir.path()), ["out.tar"]);
}

#[test]
fn an_output_dropped_unfinished_leaves_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.tar");
    let mut output = Output::create(&out).expect("create");
    output.write_all(&[1u8; 1 << 20]).expect("write");
    drop(output);
    assert!(names(dir.path()).is_empty());
}

#[test]
fn a_character_device_is_written_into_never_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let null = dir.path().join("null-device");
    null_device(&null);
    write(&null, &[9u8; 2 << 20]).expect("write");
    assert_null_device(&null);
    assert_eq!(names(dir.path()), ["null-device"]);
}

/// A FIFO at `path` and a thread reading it to its end.
fn fifo_with_reader(path: &Path) -> std::thread::JoinHandle<Vec<u8>> {
    rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).expect("mkfifo");
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        std::fs::File::open(&path)
            .expect("open for reading")
            .read_to_end(&mut got)
            .expect("read");
        got
    })
}

#[test]
fn a_fifo_with_a_reader_gets_the_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("pipe");
    let reader = fifo_with_reader(&fifo);
    let sent: Vec<u8> = (0..3u32 << 18).map(|i| i as u8).collect();
    write(&fifo, &sent).expect("write");
    assert_eq!(reader.join().expect("reader"), sent);
    let meta = std::fs::symlink_metadata(&fifo).expect("stat");
    assert!(meta.file_type().is_fifo(), "still a FIFO");
    assert_eq!(names(dir.path()), ["pipe"]);
}

#[test]
fn a_symlink_to_a_file_is_followed_and_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let real = dir.path().join("real.tar");
    let link = dir.path().join("link.tar");
    std::fs::write(&real, b"old").expect("old");
    std::os::unix::fs::symlink("real.tar", &link).expect("symlink");
    write(&link, b"new").expect("write");
    assert_eq!(
        std::fs::read_link(&link).expect("readlink"),
        Path::new("real.tar")
    );
    assert_eq!(std::fs::read(&real).expect("read"), b"new");
    assert_eq!(names(dir.path()), ["link.tar", "real.tar"]);
}

#[test]
fn a_symlink_to_a_missing_path_creates_its_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let link = dir.path().join("link.tar");
    std::os::unix::fs::symlink("elsewhere/made.tar", &link).expect("symlink");
    write(&link, b"made").expect("write");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read(elsewhere.join("made.tar")).expect("read"),
        b"made"
    );
    assert_eq!(names(dir.path()), ["elsewhere", "link.tar"]);
    assert_eq!(names(&elsewhere), ["made.tar"]);
}

#[test]
fn a_symlink_to_a_device_writes_into_the_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let null = dir.path().join("null-device");
    null_device(&null);
    let link = dir.path().join("out");
    std::os::unix::fs::symlink(&null, &link).expect("symlink");
    write(&link, b"gone").expect("write");
    assert_null_device(&null);
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    assert_eq!(names(dir.path()), ["null-device", "out"]);
}

#[test]
fn a_directory_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let error = write(&sub, b"x").expect_err("a directory");
    assert!(matches!(error, Error::UnusableOutput { .. }), "{error:?}");
    assert!(error.to_string().contains("is a directory"), "{error}");
    assert!(names(&sub).is_empty());
    assert_eq!(names(dir.path()), ["sub"]);

    let link = dir.path().join("to-sub");
    std::os::unix::fs::symlink("sub", &link).expect("symlink");
    let error = write(&link, b"x").expect_err("a link to a directory");
    assert!(error.to_string().contains("is a directory"), "{error}");
    assert!(names(&sub).is_empty());
}

#[test]
fn a_trailing_slash_and_a_symlink_loop_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let slash = format!("{}/new/", dir.path().display());
    let error = write(Path::new(&slash), b"x").expect_err("trailing slash");
    assert!(error.to_string().contains("names a directory"), "{error}");

    let a = dir.path().join("a");
    std::os::unix::fs::symlink("b", &a).expect("symlink");
    std::os::unix::fs::symlink("a", dir.path().join("b")).expect("symlink");
    let error = write(&a, b"x").expect_err("loop");
    assert!(error.to_string().contains("symbolic links"), "{error}");
    assert_eq!(names(dir.path()), ["a", "b"]);
}

#[test]
fn a_path_that_turns_into_a_device_while_written_is_not_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let mut output = Output::create(&out).expect("create");
    output.write_all(b"data").expect("write");
    null_device(&out);
    let error = output.finish().expect_err("changed");
    assert!(matches!(error, Error::UnusableOutput { .. }), "{error:?}");
    assert_null_device(&out);
    assert_eq!(names(dir.path()), ["out"]);
}

#[test]
fn a_failed_write_sends_nothing_more_into_a_fifo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("pipe");
    let reader = fifo_with_reader(&fifo);
    let failed = write_output(&fifo, |out| -> Result<()> {
        out.write_all(b"still buffered").expect("write");
        Err(Error::Invalid("the save failed".into()))
    });
    assert!(matches!(failed, Err(Error::Invalid(_))));
    assert!(reader.join().expect("reader").is_empty());
}

/// `/proc/self/fd/N` of an unnamed pipe: its link text (`pipe:[N]`) names
/// no path, yet the stream reaches the pipe.
#[test]
fn a_descriptor_link_to_a_pipe_gets_the_stream() {
    use std::os::fd::AsRawFd;
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let link = std::path::PathBuf::from(format!("/proc/self/fd/{}", writer.as_raw_fd()));
    let reading = std::thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).expect("read");
        got
    });
    let sent: Vec<u8> = (0..3u32 << 18).map(|i| i as u8).collect();
    write(&link, &sent).expect("write");
    drop(writer);
    assert_eq!(reading.join().expect("reader"), sent);
}

/// `/proc/self/fd/N` of an open regular file: the file is written into
/// (appended to), not replaced by a new one that the descriptor would not
/// see.
#[test]
fn a_descriptor_link_to_a_file_appends_to_that_file() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("redirected");
    std::fs::write(&path, b"before ").expect("write");
    let open = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    let inode = open.metadata().expect("stat").ino();
    let link = std::path::PathBuf::from(format!("/proc/self/fd/{}", open.as_raw_fd()));
    write(&link, b"after").expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), b"before after");
    assert_eq!(std::fs::metadata(&path).expect("stat").ino(), inode);
    assert_eq!(names(dir.path()), ["redirected"]);
}

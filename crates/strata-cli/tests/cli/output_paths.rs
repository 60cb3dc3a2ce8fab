//! Output paths (`save -o`, `layer diff -o`, `tar-split --output`) of
//! every kind, made in a temporary directory: a character device with the
//! numbers of `/dev/null` (made with `mknod`; the system's `/dev` is never
//! touched), a FIFO with a reader, symlinks to a file and to a missing
//! path, a directory. Devices and FIFOs are written into and stay what
//! they are, symlinks are followed and kept, and nothing else appears
//! beside them. A save killed mid-write leaves nothing beside its output.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::peers::sample_image;

use crate::corpus::{run, stderr};
use crate::store_support::{self, CliStore, Random, kill_trials, write_tar};

const NAME: &str = "localhost/out:1";

/// A store with the sample image [`NAME`] loaded, and an empty directory
/// `out/` beside it for the outputs.
fn setup(layers: u32, size_mib: u32) -> (CliStore, PathBuf) {
    let s = CliStore::new();
    let archive = s.dir.path().join("sample.tar");
    let (layers, size_mib) = (layers.to_string(), size_mib.to_string());
    sample_image(
        &archive,
        &["--name", NAME, "--layers", &layers, "--size-mib", &size_mib],
    );
    s.ok(&["load", "-q", "-i", utf8(&archive)]);
    let out = s.dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir out");
    (s, out)
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `mknod PATH c 1 3`: a device that discards what is written to it.
fn null_device(path: &Path) {
    let out = run(Command::new("mknod").arg(path).args(["c", "1", "3"]));
    assert!(out.status.success(), "mknod: {}", stderr(&out));
}

fn assert_null_device(path: &Path) {
    let meta = std::fs::symlink_metadata(path).expect("stat");
    assert!(
        meta.file_type().is_char_device(),
        "{} is no longer a character device",
        path.display()
    );
    let rdev = meta.rdev();
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    assert_eq!((major, minor), (1, 3), "device numbers changed");
}

fn mkfifo(path: &Path) {
    let out = run(Command::new("mkfifo").arg(path));
    assert!(out.status.success(), "mkfifo: {}", stderr(&out));
}

/// The bytes `strata save NAME` writes to a regular file.
fn saved_bytes(s: &CliStore) -> Vec<u8> {
    let file = s.dir.path().join("reference.tar");
    s.ok(&["save", "-o", utf8(&file), NAME]);
    let bytes = std::fs::read(&file).expect("read");
    std::fs::remove_file(&file).expect("rm");
    bytes
}

#[test]
fn save_into_a_character_device_keeps_the_device() {
    let (s, out) = setup(2, 1);
    let null = out.join("null-device");
    null_device(&null);
    s.ok(&["save", "-o", utf8(&null), NAME]);
    s.ok(&["save", "--format", "oci-archive", "-o", utf8(&null), NAME]);
    assert_null_device(&null);
    assert_eq!(names(&out), ["null-device"]);
}

#[test]
fn save_into_a_fifo_streams_to_its_reader() {
    let (s, out) = setup(2, 1);
    let expected = saved_bytes(&s);
    let fifo = out.join("pipe");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            std::fs::File::open(&fifo)
                .expect("open the FIFO")
                .read_to_end(&mut got)
                .expect("read the FIFO");
            got
        })
    };
    s.ok(&["save", "-o", utf8(&fifo), NAME]);
    let got = reader.join().expect("reader");
    assert!(got == expected, "the FIFO's reader got other bytes");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("stat")
            .file_type()
            .is_fifo()
    );
    assert_eq!(names(&out), ["pipe"]);
}

#[test]
fn save_through_symlinks_writes_their_targets_and_keeps_them() {
    let (s, out) = setup(2, 1);
    let expected = saved_bytes(&s);
    std::fs::write(out.join("real.tar"), b"old").expect("old");
    std::os::unix::fs::symlink("real.tar", out.join("to-file")).expect("symlink");
    std::os::unix::fs::symlink("made.tar", out.join("to-missing")).expect("symlink");
    for link in ["to-file", "to-missing"] {
        s.ok(&["save", "-o", utf8(&out.join(link)), NAME]);
        assert!(
            std::fs::symlink_metadata(out.join(link))
                .expect("stat")
                .file_type()
                .is_symlink(),
            "{link} was replaced"
        );
    }
    for target in ["real.tar", "made.tar"] {
        let got = std::fs::read(out.join(target)).expect("read");
        assert!(got == expected, "{target} does not hold the archive");
    }
    assert_eq!(
        names(&out),
        ["made.tar", "real.tar", "to-file", "to-missing"]
    );
}

#[test]
fn save_to_a_directory_is_a_one_line_error() {
    let (s, out) = setup(1, 1);
    let dir = out.join("sub");
    std::fs::create_dir(&dir).expect("mkdir");
    let err = s.fails(&["save", "-o", utf8(&dir), NAME]);
    assert!(err.contains("is a directory"), "{err}");
    assert!(names(&dir).is_empty());
    assert_eq!(names(&out), ["sub"]);
}

#[test]
fn layer_diff_and_tar_split_outputs_keep_the_device() {
    let (s, out) = setup(1, 1);
    let work = s.dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let tar = write_tar(&work, "layer.tar", 20, 3000);
    let id = s.import(&tar, &[]);
    let null = out.join("null-device");
    null_device(&null);

    s.ok(&["layer", "diff", "-o", utf8(&null), &id]);
    s.ok(&[
        "layer",
        "diff",
        "--compress",
        "gzip",
        "-o",
        utf8(&null),
        &id,
    ]);

    let run_ok = |args: &[&str]| {
        let out = run(crate::corpus::strata().args(args));
        assert!(out.status.success(), "strata {args:?}: {}", stderr(&out));
    };
    run_ok(&[
        "tar-split",
        "disasm",
        "--no-stdout",
        "--output",
        utf8(&null),
        utf8(&tar),
    ]);
    let meta = work.join("layer.json.gz");
    run_ok(&[
        "tar-split",
        "disasm",
        "--no-stdout",
        "--output",
        utf8(&meta),
        utf8(&tar),
    ]);
    let tree = work.join("tree");
    assert!(crate::corpus::gnu_extract(&tar, &tree), "tar -x");
    run_ok(&[
        "tar-split",
        "asm",
        "--input",
        utf8(&meta),
        "--path",
        utf8(&tree),
        "--output",
        utf8(&null),
    ]);
    assert_null_device(&null);
    assert_eq!(names(&out), ["null-device"]);
}

/// Whether `name` is a temporary name of strata's aside files,
/// `.strata-tmp-` and 32 hex digits.
fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".strata-tmp-")
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn a_killed_save_leaves_its_output_whole_or_as_it_was() {
    let (s, out) = setup(4, 6);
    let expected = saved_bytes(&s);
    let target = out.join("image.tar");
    let start = Instant::now();
    s.ok(&["save", "-o", utf8(&target), NAME]);
    let full = start.elapsed();
    let mut random = Random::new();
    let (mut complete, mut untouched, mut interrupted) = (0, 0, 0);
    for trial in 0..kill_trials() {
        // Half the trials replace an existing file, half make a new one.
        let old: Option<&[u8]> = (trial % 2 == 0).then_some(b"old archive");
        match old {
            Some(old) => std::fs::write(&target, old).expect("old"),
            None => std::fs::remove_file(&target).expect("rm"),
        }
        let delay = Duration::from_micros(random.below(full.as_micros() as u64 * 6 / 5));
        store_support::kill_after(s.command(&["save", "-o", utf8(&target), NAME]), delay);
        let left = names(&out);
        match std::fs::read(&target) {
            Ok(bytes) if bytes == expected => complete += 1,
            Ok(bytes) if Some(bytes.as_slice()) == old => untouched += 1,
            Ok(bytes) => panic!("trial {trial}: a partial output of {} bytes", bytes.len()),
            Err(_) if old.is_none() => untouched += 1,
            Err(e) => panic!("trial {trial}: the old output is gone: {e}"),
        }
        // A replacement links the finished archive under a temporary name
        // and renames that over the output: a kill in the instant between
        // the two leaves the temporary name (docs/store.md), holding the
        // whole new archive. Nothing else may be left.
        for name in &left {
            if name == "image.tar" {
                continue;
            }
            assert!(
                old.is_some() && is_temp_name(name),
                "trial {trial}: left beside the output: {left:?}"
            );
            let stray = out.join(name);
            assert!(
                std::fs::read(&stray).expect("the temporary name") == expected,
                "trial {trial}: {name} is not the whole new archive"
            );
            std::fs::remove_file(&stray).expect("remove it");
            interrupted += 1;
        }
        std::fs::write(&target, b"").expect("reset");
    }
    eprintln!(
        "{complete} killed saves had finished, {untouched} left the output as it was, \
         {interrupted} were killed between the link and the rename"
    );
}

/// A reader that stops early (`strata save | head -c 10`) ends strata
/// quietly, through SIGPIPE, as it ends other tools: nothing on stderr, no
/// panic, and the store as it was.
#[test]
fn a_reader_that_stops_early_ends_the_writer_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let (s, _out) = setup(3, 4);
    for args in [&["save", NAME][..], &["image", "inspect", NAME]] {
        let mut child = s
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).expect("the first byte");
        drop(stdout);
        let output = child.wait_with_output().expect("wait for strata");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.is_empty(), "{args:?} printed {stderr:?}");
        if let Some(signal) = output.status.signal() {
            assert_eq!(signal, libc::SIGPIPE, "{args:?} died of signal {signal}");
        } else {
            // The whole output fitted in the pipe before the reader left.
            assert!(output.status.success(), "{args:?}: {}", output.status);
        }
    }
    s.ok(&["fsck"]);
}

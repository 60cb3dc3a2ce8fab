//! Progress on long transfers: `load`, `save`, `copy` and `layer diff`
//! draw one bar per blob and leave `Copying blob ID done` lines when stderr
//! is a terminal (run under a pseudo-terminal with util-linux `script`);
//! `-q` turns them off; on a pipe nothing but the results is printed. And
//! `load` prints podman's `Loaded image:` lines, with and without `-q`, as
//! podman itself does.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use testkit::TarBuilder;
use testkit::image_archive::{Image, Layer, docker_modern};
use testkit::peers::Podman;

use crate::corpus::stderr;
use crate::store_support::CliStore;

const NAME: &str = "localhost/progress:1";

/// A layer of 3 MB, so its bar moves more than once.
fn big_tar() -> Vec<u8> {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    TarBuilder::default()
        .dir("data")
        .file("data/big", &data)
        .finish()
}

/// A two-layer image archive.
struct Sample {
    path: std::path::PathBuf,
    /// The first 12 digits of each layer's diff id (how the bars name
    /// them).
    shorts: Vec<String>,
    /// The id strata gives the top layer (its ChainID).
    top: String,
    /// The line that ends the image's blobs.
    config_line: String,
}

/// A two-layer image archive at `dir/name`, tagged `tags`.
fn archive(dir: &Path, name: &str, tags: &[&str]) -> Sample {
    let layers = vec![
        Layer::plain(big_tar()),
        Layer::plain(TarBuilder::default().file("small", b"small").finish()),
    ];
    let diff_ids: Vec<String> = layers.iter().map(Layer::diff_id).collect();
    let shorts = diff_ids
        .iter()
        .map(|d| d["sha256:".len()..][..12].to_string())
        .collect();
    let mut top = diff_ids[0]["sha256:".len()..].to_string();
    for diff_id in &diff_ids[1..] {
        top = testkit::sha256(format!("sha256:{top} {diff_id}").as_bytes());
    }
    let image = Image::new("progress", tags, layers);
    let path = dir.join(name);
    let config_line = format!("Copying config {} done\n", &image.id()[..10]);
    std::fs::write(&path, docker_modern(&[image]).to_tar()).expect("write archive");
    Sample {
        path,
        shorts,
        top,
        config_line,
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `cmd` quoted for `sh`.
fn shell_line(cmd: &Command) -> String {
    let quote = |s: &std::ffi::OsStr| {
        let s = s.to_str().expect("utf-8 argument");
        format!("'{}'", s.replace('\'', r"'\''"))
    };
    std::iter::once(quote(cmd.get_program()))
        .chain(cmd.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` with stdout and stderr on a pseudo-terminal (stdout sent on
/// to `stdout_to` when given, as a shell redirect); returns what the
/// terminal showed, with the status of `cmd`.
fn in_terminal(cmd: &Command, stdout_to: Option<&Path>) -> (bool, String) {
    let mut line = shell_line(cmd);
    if let Some(path) = stdout_to {
        line.push_str(&format!(" > '{}'", arg(path)));
    }
    in_terminal_line(&line)
}

/// Runs the shell command `line` on a pseudo-terminal.
fn in_terminal_line(line: &str) -> (bool, String) {
    let out = Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    )
}

/// Asserts the terminal showed a bar and a `done` line for each blob.
fn assert_bars(shown: &str, shorts: &[String], config_line: &str) {
    assert!(
        shown.contains(config_line),
        "no {config_line:?} line:\n{shown}"
    );
    for short in shorts {
        let label = format!("Copying blob {short}");
        assert!(
            shown.contains(&format!("{label} [")),
            "no bar for {short}:\n{shown}"
        );
        assert!(
            shown.contains(&format!("{label} done\n")),
            "no done line for {short}:\n{shown}"
        );
    }
    assert!(
        shown.contains("MiB / 2.86 MiB"),
        "the big layer's bar counts its bytes:\n{shown}"
    );
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run strata")
}

#[test]
fn a_terminal_shows_a_bar_per_blob_and_q_none() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let Sample {
        path,
        shorts,
        top,
        config_line,
    } = archive(dir, "in.tar", &[NAME]);

    // load: bars, then the result on stdout.
    let (ok, shown) = in_terminal(&store.command(&["load", "-i", arg(&path)]), None);
    assert!(ok, "{shown}");
    assert_bars(&shown, &shorts, &config_line);
    assert!(
        shown.ends_with(&format!("Loaded image: {NAME}\n")),
        "{shown}"
    );

    // Again: the store has both layers.
    let (ok, shown) = in_terminal(&store.command(&["load", "-i", arg(&path)]), None);
    assert!(ok, "{shown}");
    for short in &shorts {
        assert!(
            shown.contains(&format!("Copying blob {short} skipped: already exists\n")),
            "{shown}"
        );
    }

    // From stdin: the archive is read aside first, with its own spinner.
    let line = format!(
        "{} < '{}'",
        shell_line(&store.command(&["load"])),
        arg(&path)
    );
    let (ok, shown) = in_terminal_line(&line);
    assert!(ok, "{shown}");
    assert!(shown.contains("Reading the archive"), "{shown}");
    assert!(
        shown.ends_with(&format!("Loaded image: {NAME}\n")),
        "{shown}"
    );

    // -q: the result alone.
    let (ok, shown) = in_terminal(&store.command(&["load", "-q", "-i", arg(&path)]), None);
    assert!(ok, "{shown}");
    assert_eq!(shown, format!("Loaded image: {NAME}\n"));

    // save, to a file and to stdout.
    let saved = dir.join("saved.tar");
    let (ok, shown) = in_terminal(&store.command(&["save", "-o", arg(&saved), NAME]), None);
    assert!(ok, "{shown}");
    assert_bars(&shown, &shorts, &config_line);
    let streamed = dir.join("streamed.tar");
    let (ok, shown) = in_terminal(&store.command(&["save", NAME]), Some(&streamed));
    assert!(ok, "{shown}");
    assert_bars(&shown, &shorts, &config_line);
    assert!(
        std::fs::read(&saved).expect("saved") == std::fs::read(&streamed).expect("streamed"),
        "bars change no byte of the archive"
    );
    let (ok, shown) = in_terminal(
        &store.command(&["save", "-q", "-o", arg(&saved), NAME]),
        None,
    );
    assert!(ok && shown.is_empty(), "{shown}");

    // copy between an archive and a layout.
    let layout = dir.join("layout");
    let to = format!("oci:{}:x", arg(&layout));
    let from = format!("docker-archive:{}", arg(&path));
    let (ok, shown) = in_terminal(&store.command(&["copy", &from, &to]), None);
    assert!(ok, "{shown}");
    assert_bars(&shown, &shorts, &config_line);
    let (ok, shown) = in_terminal(&store.command(&["copy", "-q", &from, &to]), None);
    assert!(ok && shown.is_empty(), "{shown}");

    // layer diff: the top layer's original tar.
    let diff = dir.join("diff.tar");
    let (ok, shown) = in_terminal(
        &store.command(&["layer", "diff", &top, "-o", arg(&diff)]),
        None,
    );
    assert!(ok, "{shown}");
    assert!(
        shown.contains(&format!("Copying blob {} done\n", shorts[1])),
        "{shown}"
    );
    let (ok, shown) = in_terminal(
        &store.command(&["layer", "diff", "-q", &top, "-o", arg(&diff)]),
        None,
    );
    assert!(ok && shown.is_empty(), "{shown}");

    // Against another layer the tar is computed: the bytes written so far,
    // then the digest it turned out to have.
    let other = dir.join("other.tar");
    std::fs::write(&other, TarBuilder::default().file("other", b"x").finish()).expect("write");
    let other = store.import(&other, &[]);
    let (ok, shown) = in_terminal(
        &store.command(&["layer", "diff", &top, "--from", &other, "-o", arg(&diff)]),
        None,
    );
    assert!(ok, "{shown}");
    let written = std::fs::read(&diff).expect("diff");
    let digest = testkit::sha256(&written);
    assert!(shown.contains("Writing "), "{shown}");
    assert!(
        shown.contains(&format!("Copying blob {} done\n", &digest[..12])),
        "{shown}"
    );
}

#[test]
fn a_pipe_gets_the_results_and_nothing_else() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let Sample { path, top, .. } = archive(dir, "in.tar", &[NAME]);

    let out = run(&mut store.command(&["load", "-i", arg(&path)]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Loaded image: {NAME}\n")
    );
    assert_eq!(stderr(&out), "");

    let out = run(&mut store.command(&["save", NAME]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(out.stdout.len() > 3_000_000, "the archive is on stdout");

    let layout = dir.join("layout");
    let from = format!("docker-archive:{}", arg(&path));
    let to = format!("oci:{}:x", arg(&layout));
    let out = run(&mut store.command(&["copy", &from, &to]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((out.stdout.len(), stderr(&out)), (0, String::new()));

    let out = run(&mut store.command(&["layer", "diff", &top]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(out.stdout.starts_with(b"small"), "the tar is on stdout");
}

#[test]
fn load_prints_what_podman_load_prints_with_and_without_q() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let path = archive(dir, "in.tar", &[NAME]).path;
    let id = store
        .ok(&["load", "-q", "-i", arg(&path)])
        .trim()
        .to_string();
    assert_eq!(id, format!("Loaded image: {NAME}"));
    store.ok(&["image", "tag", NAME, "localhost/progress:2"]);
    // Two names of one image, and the image by id (saved without a name).
    let tagged = dir.join("tagged.tar");
    store.ok(&["save", "-o", arg(&tagged), NAME, "localhost/progress:2"]);
    let image_id = store.ok(&["images", "-q", "--no-trunc"]);
    let image_id = image_id.trim().trim_start_matches("sha256:");
    let untagged = dir.join("untagged.tar");
    store.ok(&["save", "-o", arg(&untagged), image_id]);
    for path in [&tagged, &untagged] {
        for quiet in [false, true] {
            let mut args = vec!["load", "-i", arg(path)];
            if quiet {
                args.insert(1, "-q");
            }
            let podman = Podman::new();
            let want = podman.run_ok(&args);
            let ours = CliStore::new();
            let got = ours.ok(&args);
            let sorted = |text: &str| {
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                lines.sort();
                lines
            };
            assert_eq!(sorted(&got), sorted(&want), "strata {args:?}");
            assert!(got.starts_with("Loaded image: "), "{got}");
        }
    }
}

#[test]
fn push_and_pull_show_a_bar_per_blob_on_a_terminal_only() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let Sample {
        path,
        shorts,
        config_line,
        ..
    } = archive(dir, "in.tar", &[NAME]);
    store.ok(&["load", "-q", "-i", arg(&path)]);
    let registry = testkit::registry::Registry::plain();
    let destination = format!("{}/progress/app:1", registry.host());

    // push: a bar per layer (named by diff id while it is compressed and
    // sent), then the summary.
    let (ok, shown) = in_terminal(&store.command(&["push", NAME, &destination]), None);
    assert!(ok, "{shown}");
    for short in &shorts {
        assert!(
            shown.contains(&format!("Copying blob {short} done\n")),
            "{shown}"
        );
    }
    assert!(
        shown.contains(&format!("Pushed {destination}@sha256:")),
        "{shown}"
    );

    // pull into another store: a bar per blob, by the digest of its
    // compressed blob in the registry.
    let manifest: serde_json::Value =
        serde_json::from_slice(&registry.target().inspect_raw("progress/app:1")).expect("json");
    let blobs: Vec<String> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest")["sha256:".len()..][..12].to_string())
        .collect();
    let other = CliStore::new();
    let (ok, shown) = in_terminal(&other.command(&["pull", &destination]), None);
    assert!(ok, "{shown}");
    assert_bars_of(&shown, &blobs);
    assert!(shown.contains(&config_line), "{shown}");
    assert!(
        shown.starts_with(&format!("Trying to pull {destination}...\n")),
        "{shown}"
    );

    // -q on a terminal, and a pipe: the image id alone.
    let third = CliStore::new();
    let (ok, shown) = in_terminal(&third.command(&["pull", "-q", &destination]), None);
    assert!(ok, "{shown}");
    assert_eq!(shown.trim_end().lines().count(), 1, "{shown}");
    let fourth = CliStore::new();
    let out = run(&mut fourth.command(&["pull", &destination]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), shown);
    let out = run(&mut store.command(&["push", NAME, &destination]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((out.stdout.len(), stderr(&out)), (0, String::new()));
}

/// Asserts a `done` line for each blob, and a bar for at least the
/// biggest (a small one may end before a bar is drawn).
fn assert_bars_of(shown: &str, shorts: &[String]) {
    for short in shorts {
        assert!(
            shown.contains(&format!("Copying blob {short} done\n")),
            "no done line for {short}:\n{shown}"
        );
    }
    assert!(
        shorts
            .iter()
            .any(|short| shown.contains(&format!("Copying blob {short} ["))),
        "no bar:\n{shown}"
    );
}

//! The command line as users of podman, docker and skopeo expect it:
//! pipes that close early, `-o /dev/stdout`, exit codes, `version`,
//! `image exists`, completions and man pages. Pipes are real shell pipes
//! (bash, for `PIPESTATUS`).

use std::path::Path;
use std::process::{Command, Output};

use crate::corpus::{run, stderr};
use crate::store_support::{CliStore, write_tar};

const IMAGE: &str = "localhost/surface:1";

/// A store with one image, whose archive (about 2 MB) is larger than a
/// pipe's buffer, so a writer cannot finish before an early reader leaves.
fn store_with_image() -> CliStore {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "rootfs.tar", 40, 50_000);
    s.ok(&["import", utf8(&tar), IMAGE]);
    s
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Runs `script` in bash with `$S` set to strata's command line for the
/// store `s`.
fn bash(s: &CliStore, script: &str) -> Output {
    let strata = format!(
        "{} --root {} --runroot {}",
        env!("CARGO_BIN_EXE_strata"),
        utf8(&s.root()),
        utf8(&s.dir.path().join("run"))
    );
    run(Command::new("bash")
        .args(["-c", &format!("set -u; {script}")])
        .env("S", strata)
        .current_dir(s.dir.path()))
}

/// The exit statuses of a pipeline, as `echo ${PIPESTATUS[*]}` printed
/// them on the last line of stdout.
fn pipe_statuses(out: &Output) -> Vec<i32> {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    last.split_whitespace()
        .map(|n| n.parse().expect("a status"))
        .collect()
}

/// `strata save | head -c 10`, `strata layer diff L | head -c 1` and
/// `strata save -o /dev/stdout | head -c 1` end as `cat` or `podman save`
/// do in a pipe whose reader left: killed by SIGPIPE (status 141 in the
/// shell), printing nothing. A listing smaller than the pipe's buffer may
/// be written whole before `head` leaves (status 0); it prints nothing
/// either.
#[test]
fn writers_into_a_pipe_closed_early_end_quietly() {
    let s = store_with_image();
    let layer = s.ok(&["layers", "--json"]);
    let layers: serde_json::Value = serde_json::from_str(&layer).expect("layers json");
    let layer = layers[0]["id"].as_str().expect("a layer id").to_string();
    for (pipeline, allowed) in [
        (format!("$S save {IMAGE} | head -c 10"), &[141][..]),
        (format!("$S layer diff {layer} | head -c 1"), &[141]),
        (
            format!("$S save -o /dev/stdout {IMAGE} | head -c 1"),
            &[141],
        ),
        ("$S images | head -1".to_string(), &[0, 141]),
    ] {
        let out = bash(
            &s,
            &format!("{pipeline} >/dev/null; echo ${{PIPESTATUS[*]}}"),
        );
        assert!(out.status.success(), "{pipeline}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{pipeline} printed an error");
        let statuses = pipe_statuses(&out);
        assert!(
            allowed.contains(&statuses[0]) && statuses[1] == 0,
            "{pipeline}: statuses {statuses:?}"
        );
    }
    s.assert_clean();
}

/// `-o /dev/stdout` writes into whatever stdout is, as podman's does: a
/// pipe gets the archive, and a redirected file gets it in place (not a
/// new file under its name that the shell's descriptor would not see).
#[test]
fn output_to_dev_stdout_writes_into_stdout() {
    let s = store_with_image();
    let expected = s.dir.path().join("expected.tar");
    s.ok(&["save", "-o", utf8(&expected), IMAGE]);
    let expected = std::fs::read(&expected).expect("read the saved archive");
    for script in [
        format!("$S save -o /dev/stdout {IMAGE} | cat > piped.tar"),
        format!("$S save -o /dev/stdout {IMAGE} > redirected.tar"),
        format!("echo -n > appended.tar; $S save -o /dev/fd/1 {IMAGE} >> appended.tar"),
    ] {
        let out = bash(&s, &script);
        assert!(out.status.success(), "{script}: {}", stderr(&out));
    }
    for name in ["piped.tar", "redirected.tar", "appended.tar"] {
        let got = std::fs::read(s.dir.path().join(name)).expect("read the output");
        assert!(got == expected, "{name}: {} bytes differ", got.len());
    }
}

/// `strata version` on a store that does not exist says so and creates
/// nothing; on one that exists it gives the store's schema and driver, and
/// the kernel release `uname -r` prints.
#[test]
fn version_describes_the_store_without_creating_it() {
    let s = CliStore::new();
    let text = s.ok(&["version"]);
    assert!(
        text.contains(&format!("Version:     {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("(no store there yet)"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["version", "--format", "json"])).expect("version json");
    assert_eq!(json["store"]["exists"], false, "{json:#}");
    assert!(json["store"]["schema_version"].is_null(), "{json:#}");
    assert!(!s.root().exists(), "version created the store");
    assert!(
        !s.dir.path().join("run").exists(),
        "version created the runroot"
    );

    let store = store_with_image();
    let status: serde_json::Value =
        serde_json::from_str(&store.ok(&["status", "--json"])).expect("status json");
    let json: serde_json::Value =
        serde_json::from_str(&store.ok(&["version", "--json"])).expect("version json");
    assert_eq!(json["client"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["store"]["exists"], true);
    assert_eq!(json["store"]["schema_version"], status["schema_version"]);
    assert_eq!(
        json["store"]["supported_schema_version"],
        status["schema_version"]
    );
    assert_eq!(json["store"]["driver"], status["driver"]);
    let uname = run(Command::new("uname").arg("-r"));
    assert_eq!(
        json["host"]["kernel"],
        String::from_utf8_lossy(&uname.stdout).trim()
    );
    for field in ["root", "overlay", "mount_api", "lowerdir_plus"] {
        assert!(json["host"][field].is_boolean(), "host.{field}: {json:#}");
    }
    let text = store.ok(&["version"]);
    let driver = status["driver"].as_str().expect("driver");
    assert!(text.contains(&format!("Driver:    {driver}\n")), "{text}");

    let flag = s.ok(&["--version"]);
    assert_eq!(
        flag,
        format!("strata version {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// `strata image exists` answers with its status alone, as podman's does:
/// 0 for an image given by name, id or id prefix, 1 for one the store
/// does not have, 125 for text that names no image at all.
#[test]
fn image_exists_answers_with_its_exit_status() {
    let s = store_with_image();
    let id = s.ok(&["images", "-q", "--no-trunc"]).trim().to_string();
    for (reference, status) in [
        (IMAGE, 0),
        (id.as_str(), 0),
        (&id[..12], 0),
        (&format!("sha256:{id}"), 0),
        ("localhost/surface:2", 1),
        ("elsewhere.example/surface:1", 1),
        (&"0".repeat(64), 1),
        ("Not::A:Reference", 125),
        ("", 125),
    ] {
        let out = s.output(&["image", "exists", reference]);
        assert_eq!(
            out.status.code(),
            Some(status),
            "image exists {reference:?}"
        );
        assert!(out.stdout.is_empty(), "image exists {reference:?} printed");
        let err = stderr(&out);
        match status {
            125 => assert_eq!(err.lines().count(), 1, "{reference:?}: {err}"),
            _ => assert_eq!(err, "", "image exists {reference:?}"),
        }
    }
}

/// strata's own failures, and command lines it cannot parse, end with
/// podman's 125 and one line of error (clap's usage errors say more);
/// `--help` is a success.
#[test]
fn strata_errors_exit_125() {
    let s = CliStore::new();
    let out = s.output(&["image", "inspect", "localhost/none:1"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    for args in [&["no-such-command"][..], &["images", "--no-such-flag"]] {
        let out = s.output(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = s.output(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: strata"));
}

/// The bash completion script loads, registers itself for `strata` and
/// completes subcommands.
#[test]
fn bash_completion_loads_and_completes() {
    let s = CliStore::new();
    let out = bash(
        &s,
        "source <($S completion bash)
         complete -p strata
         COMP_WORDS=(strata image ex); COMP_CWORD=2; COMP_LINE='strata image ex'
         COMP_POINT=${#COMP_LINE}
         _strata strata ex image
         echo \"words: ${COMPREPLY[*]}\"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-F _strata strata"), "{text}");
    let words = text
        .lines()
        .find_map(|line| line.strip_prefix("words: "))
        .unwrap_or_default();
    assert_eq!(
        words.split_whitespace().collect::<Vec<_>>(),
        ["exists"],
        "{text}"
    );
}

/// `scripts/install`, with DESTDIR and the test's binary, puts the binary,
/// the completions of the three shells and one man page per command in
/// place; the man pages render (with `man -l` where man is installed).
#[test]
fn install_puts_completions_and_man_pages_in_place() {
    let s = CliStore::new();
    let dest = s.dir.path().join("dest");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install");
    let out = run(Command::new(&script)
        .arg("/usr")
        .env("DESTDIR", &dest)
        .env("STRATA", env!("CARGO_BIN_EXE_strata")));
    assert!(out.status.success(), "install: {}", stderr(&out));
    let usr = dest.join("usr");
    let read = |path: &str| std::fs::read_to_string(usr.join(path)).expect(path);
    assert!(usr.join("bin/strata").exists());
    assert!(read("share/bash-completion/completions/strata").contains("_strata()"));
    assert!(read("share/zsh/site-functions/_strata").starts_with("#compdef strata"));
    assert!(read("share/fish/vendor_completions.d/strata.fish").contains("complete -c strata"));
    let man1 = usr.join("share/man/man1");
    for page in [
        "strata.1",
        "strata-image-exists.1",
        "strata-version.1",
        "strata-layer-diff.1",
    ] {
        let roff = std::fs::read_to_string(man1.join(page)).expect(page);
        let name = page.trim_end_matches(".1");
        assert!(
            roff.contains(&format!(".TH {name} 1 ")),
            "{page}: no title line"
        );
        if Path::new("/usr/bin/man").exists() {
            let shown = run(Command::new("man")
                .arg("-l")
                .arg(man1.join(page))
                .env("MANWIDTH", "80"));
            let text = String::from_utf8_lossy(&shown.stdout);
            assert!(shown.status.success(), "man -l {page}: {}", stderr(&shown));
            assert!(
                text.contains("NAME") && text.contains("SYNOPSIS"),
                "{page}: {text}"
            );
            assert!(
                text.contains(&name.replace('-', " ")) || text.contains(name),
                "{page}: {text}"
            );
        }
    }
    assert!(
        !man1.join("strata-man.1").exists(),
        "the hidden man command has no page"
    );
}

//! The verbs as docker and podman users type them: top-level `inspect`,
//! `history`, `tag`, `rm`, `rmi`; removals of several things that go on
//! past a failure and end with podman's status for the worst one (run
//! beside a real podman); `--help` with global options apart.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use testkit::peers::Podman;

use crate::corpus::stderr;
use crate::store_support::{CliStore, write_tar};

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A store with `localhost/sample:1` (an imported root file system) and
/// the tar it was made from.
fn store_with_sample() -> (CliStore, String) {
    let s = CliStore::new();
    let tar = write_tar(s.dir.path(), "rootfs.tar", 5, 100);
    s.ok(&["import", utf8(&tar), "localhost/sample:1"]);
    let tar = utf8(&tar).to_string();
    (s, tar)
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Each line's first word (`Untagged:`, `Deleted:`), or the line.
fn kinds(out: &Output) -> Vec<String> {
    lines(out)
        .iter()
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The same removals, run against strata and against podman, end with the
/// same statuses (1 for a missing image, 2 for one in use, whichever
/// order; 0 with `-i`) and print the same kind of lines, each image
/// removed whatever failed around it.
#[test]
fn rmi_goes_on_past_failures_with_podmans_statuses() {
    let (s, tar) = store_with_sample();
    let podman = Podman::new();
    podman.run_ok(["import", "-q", tar.as_str(), "localhost/sample:1"]);
    // Each step: the arguments after `rmi`, the setup before it.
    type Setup = fn(&dyn Fn(&[&str]) -> Output);
    let steps: [(&[&str], Setup); 5] = [
        (&["nope1", "localhost/sample:1", "nope2"], |_| {}),
        (&["localhost/sample:2", "nope"], |run| {
            run(&["tag", "localhost/sample:1", "localhost/sample:2"]);
        }),
        (&["-i", "nope"], |_| {}),
        (&["localhost/sample:1", "nope"], |run| {
            run(&["container", "create", "--name", "c1", "localhost/sample:1"]);
        }),
        (&["nope", "localhost/sample:1"], |_| {}),
    ];
    for (args, setup) in steps {
        let strata_run = |a: &[&str]| s.output(a);
        let podman_run = |a: &[&str]| {
            // podman needs a command for a container; strata has none.
            let mut a = a.to_vec();
            if a.first() == Some(&"container") {
                a.push("/f");
            }
            podman.run(a)
        };
        // The first step removes the image: put it back in both.
        if args.contains(&"localhost/sample:2") {
            s.ok(&["import", &tar, "localhost/sample:1"]);
            podman.run_ok(["import", "-q", tar.as_str(), "localhost/sample:1"]);
        }
        setup(&strata_run);
        setup(&podman_run);
        let mut full = vec!["rmi"];
        full.extend_from_slice(args);
        let ours = s.output(&full);
        let theirs = podman.run(&full);
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "rmi {args:?}: strata {} / podman {}",
            stderr(&ours),
            stderr(&theirs)
        );
        assert_eq!(kinds(&ours), kinds(&theirs), "rmi {args:?}");
        let failures = stderr(&ours).lines().count();
        let missing = args.iter().filter(|a| a.starts_with("nope")).count();
        let expected = match args[0] {
            "-i" => 0,
            _ => {
                missing
                    + usize::from(
                        args.contains(&"localhost/sample:1") && ours.status.code() == Some(2),
                    )
            }
        };
        assert_eq!(failures, expected, "rmi {args:?}: {}", stderr(&ours));
    }
}

/// `rm` and `layer rm` go on past a missing container or layer too, print
/// what they removed (a container as it was named, as podman prints it),
/// and end with 1; `-i` says nothing of missing ones. A mounted container
/// is in use: 2.
#[test]
fn rm_and_layer_rm_go_on_past_missing_ones() {
    let (s, _) = store_with_sample();
    let id = s
        .ok(&["container", "create", "localhost/sample:1", "--name", "a"])
        .trim()
        .to_string();
    s.ok(&["container", "create", "localhost/sample:1", "--name", "b"]);
    let out = s.output(&["rm", "nope", &id[..10], "b", "nope2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(lines(&out), vec![id[..10].to_string(), "b".to_string()]);
    assert_eq!(stderr(&out).lines().count(), 2, "{}", stderr(&out));
    assert_eq!(s.ok(&["containers", "--json"]).trim(), "[]");

    s.ok(&["container", "create", "localhost/sample:1", "--name", "m"]);
    s.ok(&["container", "mount", "m"]);
    let out = s.output(&["rm", "nope", "m"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = s.output(&["rm", "-i", "nope", "--force", "m"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(lines(&out), vec!["m"]);

    let tar = write_tar(s.dir.path(), "layer.tar", 2, 10);
    let layer = s.import(&tar, &["--name", "spare"]);
    let out = s.output(&["layer", "rm", "nope", "spare"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(lines(&out), vec![layer]);
    let out = s.output(&["layer", "rm", "--ignore", "nope"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    s.assert_clean();
}

/// `strata inspect` finds containers, then images, then layers, prints
/// one array in the order asked, keeps to `--type`, and ends with 125
/// after printing what it found when a name is none of them (podman
/// prints `[]` and fails the same way).
#[test]
fn inspect_finds_containers_images_and_layers() {
    let (s, _) = store_with_sample();
    let container = s
        .ok(&["container", "create", "localhost/sample:1", "--name", "web"])
        .trim()
        .to_string();
    let image = json(&s.ok(&["image", "inspect", "localhost/sample:1"]));
    let top = image[0]["TopLayer"]
        .as_str()
        .expect("a top layer")
        .to_string();
    // What each family's own inspect prints (its first element, if it
    // prints an array).
    let own = |args: &[&str]| match json(&s.ok(args)) {
        Value::Array(mut items) => items.remove(0),
        object => object,
    };
    let all = json(&s.ok(&["inspect", "web", "localhost/sample:1", &top]));
    assert_eq!(all[0], own(&["container", "inspect", "web"]));
    assert!(all[0].to_string().contains(&container), "{:#}", all[0]);
    assert_eq!(all[1], image[0]);
    assert_eq!(all[2], own(&["layer", "inspect", &top]));
    assert!(all[2].to_string().contains(&top), "{:#}", all[2]);

    let typed = json(&s.ok(&["inspect", "--type", "layer", &top]));
    assert_eq!(typed[0], all[2]);
    let out = s.output(&["inspect", "-t", "container", "localhost/sample:1"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json(&String::from_utf8_lossy(&out.stdout)), json("[]"));
    assert!(stderr(&out).contains("no such object"), "{}", stderr(&out));

    let out = s.output(&["inspect", "web", "nope"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))[0]["id"],
        container.as_str()
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    let podman = Podman::new();
    let theirs = podman.run(["inspect", "nope"]);
    let ours = s.output(&["inspect", "nope"]);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        json(&String::from_utf8_lossy(&ours.stdout)),
        json(&String::from_utf8_lossy(&theirs.stdout))
    );
}

/// `strata inspect --format` applies a template to each object found, as
/// the family's own inspect does.
#[test]
fn inspect_takes_a_template() {
    let (s, _) = store_with_sample();
    let container = s
        .ok(&["container", "create", "localhost/sample:1", "--name", "web"])
        .trim()
        .to_string();
    let image = json(&s.ok(&["image", "inspect", "localhost/sample:1"]));
    let id = image[0]["Id"].as_str().expect("an id").to_string();
    let out = s.ok(&["inspect", "--format", "{{.ID}}", "web"]);
    assert_eq!(out, format!("{container}\n"));
    let out = s.ok(&["inspect", "-f", "{{.Id}}", "localhost/sample:1"]);
    assert_eq!(
        out,
        s.ok(&["image", "inspect", "-f", "{{.Id}}", "localhost/sample:1"])
    );
    assert!(out.contains(id.trim_start_matches("sha256:")), "{out}");
    let both = json(&s.ok(&["inspect", "--format", "json", "web"]));
    assert_eq!(both, json(&s.ok(&["inspect", "web"])));
}

/// `strata tag`, `strata history` and `strata rmi` are `image tag`,
/// `image history` and `image rm`; `rmi` prints podman's lines:
/// `Untagged:` for each name, `Deleted:` for the image only.
#[test]
fn top_level_tag_history_and_rmi() {
    let (s, _) = store_with_sample();
    s.ok(&["tag", "localhost/sample:1", "localhost/other:2"]);
    let names = json(&s.ok(&["image", "inspect", "localhost/other:2"]))[0]["RepoTags"].clone();
    assert_eq!(
        names,
        serde_json::json!(["localhost/other:2", "localhost/sample:1"])
    );
    // (Not the default table: its CREATED column may tick between runs.)
    let steps = "{{.ID}} {{.CreatedBy}} {{.Size}} {{.Comment}}";
    assert_eq!(
        s.ok(&["history", "--format", steps, "localhost/other:2"]),
        s.ok(&["image", "history", "--format", steps, "localhost/other:2"])
    );
    assert_eq!(
        s.ok(&["history", "--format", "json", "localhost/other:2"]),
        s.ok(&["image", "history", "--format", "json", "localhost/other:2"])
    );
    let id = json(&s.ok(&["image", "inspect", "localhost/other:2"]))[0]["Id"]
        .as_str()
        .expect("Id")
        .trim_start_matches("sha256:")
        .to_string();
    assert_eq!(
        s.ok(&["rmi", "localhost/other:2"]),
        "Untagged: localhost/other:2\n"
    );
    assert_eq!(
        s.ok(&["rmi", "localhost/sample:1"]),
        format!("Untagged: localhost/sample:1\nDeleted: {id}\n")
    );
    assert_eq!(s.ok(&["layers", "--json"]).trim(), "[]");
}

/// Each command's help lists its own options first and the store options
/// apart, under "Global Options".
#[test]
fn help_puts_global_options_apart() {
    let s = CliStore::new();
    for command in [
        &["image", "prune"][..],
        &["rmi"],
        &["system", "df"],
        &["inspect"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = s.ok(&args);
        let own = help
            .find("\nOptions:\n")
            .unwrap_or_else(|| panic!("{help}"));
        let global = help
            .find("\nGlobal Options:\n")
            .unwrap_or_else(|| panic!("{help}"));
        assert!(own < global, "{help}");
        let root = help.find("--root").expect("--root");
        assert!(root > global, "--root among the global options: {help}");
        assert!(!help[own..global].contains("--runroot"), "{help}");
    }
}

/// `rmi -a` removes every image it can and ends with 2 when a container
/// uses one; `rm -a` removes every container; then `rmi -a` ends with 0.
/// podman ends the same way with the same images and container.
#[test]
fn rmi_all_and_rm_all() {
    let (s, tar) = store_with_sample();
    let other = write_tar(s.dir.path(), "other.tar", 3, 50);
    s.ok(&["import", utf8(&other), "localhost/other:1"]);
    s.ok(&["container", "create", "localhost/sample:1", "--name", "c"]);
    let podman = Podman::new();
    podman.run_ok(["import", "-q", tar.as_str(), "localhost/sample:1"]);
    podman.run_ok(["import", "-q", utf8(&other), "localhost/other:1"]);
    podman.run_ok(["create", "--name", "c", "localhost/sample:1", "/f"]);
    for args in [&["rmi", "-a"][..], &["rm", "-a"], &["rmi", "--all"]] {
        let ours = s.output(args);
        let theirs = podman.run(args);
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{args:?}: {}",
            stderr(&ours)
        );
        match args[0] {
            "rmi" => assert_eq!(kinds(&ours), kinds(&theirs), "{args:?}"),
            _ => assert_eq!(lines(&ours).len(), lines(&theirs).len(), "{args:?}"),
        }
    }
    assert_eq!(s.ok(&["images", "-q"]), "");
    assert_eq!(s.ok(&["containers", "--json"]).trim(), "[]");
    s.assert_clean();
}

//! `image prune`, `container prune`, `system prune`, `system df`, `image
//! mount|unmount` and `diff CONTAINER`, as podman has them: what goes,
//! what stays, what is printed (podman beside strata where their output
//! can be compared).

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use testkit::peers::Podman;

use crate::corpus::stderr;
use crate::store_support::{CliStore, write_tar};

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Compares `actual` with `tests/cli/golden/NAME`, or with
/// `STRATA_BLESS=1` in the environment writes it there.
fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/golden")
        .join(name);
    if std::env::var_os("STRATA_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("golden dir");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (STRATA_BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from {}", path.display());
}

/// `text` with every 64-hex-digit id replaced by `<id>`.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        out.push_str(&rest[..start]);
        let run = rest[start..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .map_or(rest.len() - start, |n| n);
        let word = &rest[start..start + run];
        out.push_str(if run == 64 { "<id>" } else { word });
        rest = &rest[start + run..];
    }
    out.push_str(rest);
    out
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Image ids, full, sorted.
fn image_ids(s: &CliStore) -> Vec<String> {
    let mut ids: Vec<String> = s
        .ok(&["images", "-q", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Runs strata with `answer` on stdin.
fn answering(s: &CliStore, args: &[&str], answer: &str) -> Output {
    let mut child = s
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(answer.as_bytes()).expect("answer");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

/// Three images from three different trees: `localhost/named:1`, one
/// without a name, and `localhost/used:1` with a container on it.
/// Returns the unnamed image's id.
fn three_images(s: &CliStore) -> String {
    let tar = |name: &str, files: usize| write_tar(s.dir.path(), name, files, 2000);
    s.ok(&["import", utf8(&tar("a.tar", 3)), "localhost/named:1"]);
    let unnamed = s.ok(&["import", utf8(&tar("b.tar", 4))]).trim().to_string();
    s.ok(&["import", utf8(&tar("c.tar", 5)), "localhost/used:1"]);
    s.ok(&["container", "create", "localhost/used:1", "--name", "web"]);
    unnamed
}

/// `image prune` asks first (nothing goes without a yes), then removes
/// the dangling image and prints its id; `-a` removes every image no
/// container uses; the image a container uses stays. podman does the same
/// with the same images.
#[test]
fn image_prune_removes_dangling_then_unused_images() {
    let s = CliStore::new();
    let unnamed = three_images(&s);
    let before = image_ids(&s);
    let out = answering(&s, &["image", "prune"], "n\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("WARNING! This command removes all dangling images.\n"),
        "{text}"
    );
    assert!(text.ends_with("[y/N] "), "{text}");
    assert_eq!(image_ids(&s), before);

    let out = answering(&s, &["image", "prune"], "y\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(&format!("[y/N] {unnamed}\n")));
    assert_eq!(image_ids(&s).len(), 2);
    assert_eq!(s.ok(&["image", "prune", "-f"]), "");

    let out = s.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let left = json(&s.ok(&["image", "inspect", "localhost/used:1"]));
    assert_eq!(
        image_ids(&s),
        vec![left[0]["Id"].as_str().expect("Id")[7..].to_string()]
    );
    s.assert_clean();

    // podman, on the same trees, keeps and removes the same ones.
    let podman = Podman::new();
    let tar = |name: &str| s.dir.path().join(name);
    podman.run_ok(["import", "-q", utf8(&tar("a.tar")), "localhost/named:1"]);
    podman.run_ok(["import", "-q", utf8(&tar("b.tar"))]);
    podman.run_ok(["import", "-q", utf8(&tar("c.tar")), "localhost/used:1"]);
    podman.run_ok(["create", "--name", "web", "localhost/used:1", "/d0/f0"]);
    assert_eq!(podman.run_ok(["image", "prune", "-f"]).lines().count(), 1);
    assert_eq!(podman.run_ok(["image", "prune", "-f"]), "");
    assert_eq!(
        podman
            .run_ok(["image", "prune", "-a", "-f"])
            .lines()
            .count(),
        1
    );
    let names = podman.run_ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names.trim(), "localhost/used:1");
}

/// `container prune -f` removes the containers that are not mounted
/// (strata's stopped ones) and prints their ids; a mounted one stays.
#[test]
fn container_prune_keeps_mounted_containers() {
    let s = CliStore::new();
    three_images(&s);
    let idle = s
        .ok(&["container", "create", "localhost/named:1", "--name", "idle"])
        .trim()
        .to_string();
    s.ok(&["container", "mount", "web"]);
    let out = answering(&s, &["container", "prune"], "\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&s.ok(&["containers", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(s.ok(&["container", "prune", "-f"]), format!("{idle}\n"));
    let left = json(&s.ok(&["containers", "--json"]));
    assert_eq!(left[0]["names"], serde_json::json!(["web"]));
    s.ok(&["container", "unmount", "web"]);
    s.assert_clean();
}

/// `system prune`: a dry run removes nothing and says what would go; then
/// the dangling image and an unused layer go, as podman prints it
/// (`Deleted Images`, ids, `Total reclaimed space:`); `-a` takes the
/// unused named image too; containers and their images stay.
#[test]
fn system_prune_takes_dangling_images_and_unused_data() {
    let s = CliStore::new();
    let unnamed = three_images(&s);
    let spare = write_tar(s.dir.path(), "spare.tar", 2, 100);
    let layer = s.import(&spare, &[]);
    let before = image_ids(&s);

    let dry = s.ok(&["system", "prune", "--dry-run"]);
    assert!(
        dry.starts_with(&format!("Images to delete\n{unnamed}\n")),
        "{dry}"
    );
    assert!(dry.contains("Unused data to remove: 1 layer,"), "{dry}");
    assert!(
        dry.lines()
            .last()
            .unwrap_or_default()
            .starts_with("Total reclaimable space: ")
    );
    assert_eq!(image_ids(&s), before);

    // Blocks freed depend on the file system: only their presence is kept.
    let mut report = json(&s.ok(&["system", "prune", "--dry-run", "--json"]));
    assert!(report["gc"]["bytes_freed"].as_u64() > Some(0), "{report:#}");
    report["gc"]["bytes_freed"] = "<bytes>".into();
    let report = serde_json::to_string_pretty(&report).expect("JSON") + "\n";
    assert_golden("system-prune-dry-run.json", &without_ids(&report));
    assert_eq!(image_ids(&s), before);

    let out = s.ok(&["system", "prune", "-f"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["Deleted Images", unnamed.as_str()], "{out}");
    assert!(out.contains("Unused data removed: 1 layer,"), "{out}");
    let total = lines.last().expect("a total");
    assert!(
        total.starts_with("Total reclaimed space: ") && total.ends_with("kB"),
        "{out}"
    );
    assert!(!s.ok(&["layers", "--json"]).contains(&layer));
    assert_eq!(image_ids(&s).len(), 2);

    let report = json(&s.ok(&["system", "prune", "-a", "--json"]));
    assert_eq!(
        report["images"]["removed"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert_eq!(report["dry_run"], false);
    assert_eq!(image_ids(&s).len(), 1);
    assert_eq!(
        s.ok(&["system", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(
        json(&s.ok(&["containers", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    s.assert_clean();
}

/// `system df` prints podman's table (the same columns and row names as
/// podman's for images and containers, sizes in podman's style), `-v`
/// one row per image and container, `--format json` the summary.
#[test]
fn system_df_as_podman_prints_it() {
    let s = CliStore::new();
    three_images(&s);
    let table = s.ok(&["system", "df"]);
    let lines: Vec<&str> = table.lines().collect();
    let podman = Podman::new();
    let theirs = podman.run_ok(["system", "df"]);
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        theirs
            .lines()
            .next()
            .expect("a header")
            .split_whitespace()
            .collect::<Vec<_>>()
    );
    let cells = |line: &str| {
        line.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(cells(lines[1])[..3], ["Images", "3", "1"], "{table}");
    assert_eq!(cells(lines[2])[..3], ["Containers", "1", "0"], "{table}");
    assert!(theirs.contains("\nImages ") && theirs.contains("\nContainers "));

    let summary = json(&s.ok(&["system", "df", "--format", "json"]));
    let images = &summary[0];
    assert_eq!(images["Type"], "Images");
    let size = images["RawSize"].as_u64().expect("RawSize");
    let reclaimable = images["RawReclaimable"].as_u64().expect("RawReclaimable");
    assert!(
        size > 0 && reclaimable < size && reclaimable > 0,
        "{summary:#}"
    );
    assert!(
        lines[1].contains(images["Size"].as_str().expect("Size")),
        "{table}"
    );
    assert!(images["Size"].as_str().expect("Size").ends_with("kB"));

    assert_golden(
        "system-df.json",
        &s.ok(&["system", "df", "--format", "json"]),
    );

    let verbose = s.ok(&["system", "df", "-v"]);
    assert!(
        verbose.starts_with("Images space usage:\n\nREPOSITORY"),
        "{verbose}"
    );
    assert!(
        verbose.contains("\nContainers space usage:\n\nCONTAINER ID"),
        "{verbose}"
    );
    assert!(verbose.contains("localhost/used "), "{verbose}");
    assert!(verbose.lines().any(|l| l.ends_with(" web")), "{verbose}");
}

/// `image mount` mounts an image's tree by name and prints where it is;
/// with several images, `NAME  PATH` lines; with none, the mounted ones
/// (podman's forms). `image unmount` prints the image's id; unmounting
/// an image that is not mounted fails.
#[test]
fn image_mount_and_unmount_by_name() {
    let s = CliStore::new();
    three_images(&s);
    let path = s.ok(&["image", "mount", "localhost/named:1"]);
    let path = Path::new(path.trim());
    assert!(path.join("d0/f0").is_file(), "{}", path.display());
    let listed = s.ok(&["image", "mount"]);
    assert_eq!(listed, format!("localhost/named:1  {}\n", path.display()));
    let both = s.ok(&["image", "mount", "localhost/named:1", "localhost/used:1"]);
    assert!(
        both.starts_with(&format!("localhost/named:1  {}\n", path.display())),
        "{both}"
    );
    assert_eq!(s.ok(&["image", "mount"]).lines().count(), 2);
    let id = json(&s.ok(&["image", "inspect", "localhost/named:1"]))[0]["Id"]
        .as_str()
        .expect("Id")[7..]
        .to_string();
    for _ in 0..2 {
        assert_eq!(
            s.ok(&["image", "unmount", "localhost/named:1"]),
            format!("{id}\n")
        );
    }
    assert!(
        s.fails(&["image", "unmount", "localhost/named:1"])
            .contains("not mounted")
    );
    s.ok(&["image", "umount", "--all"]);
    assert_eq!(s.ok(&["image", "mount"]), "");
    s.assert_clean();

    // podman prints the same forms: a path; `NAME  PATH` lines; the id.
    let podman = Podman::new();
    let tar = s.dir.path().join("a.tar");
    podman.run_ok(["import", "-q", utf8(&tar), "localhost/named:1"]);
    let their_path = podman.run_ok(["image", "mount", "localhost/named:1"]);
    assert!(Path::new(their_path.trim()).join("d0/f0").is_file());
    assert_eq!(
        podman.run_ok(["image", "mount"]),
        format!("localhost/named:1  {}", their_path)
    );
    let their_id = podman.run_ok(["image", "unmount", "localhost/named:1"]);
    assert_eq!(their_id.trim().len(), 64, "{their_id}");
}

/// `strata diff CONTAINER` lists the container's changes as `podman diff`
/// does (`A`, `C`, `D` and the path); `--format json` as podman's groups.
#[test]
fn diff_lists_a_containers_changes() {
    let s = CliStore::new();
    three_images(&s);
    assert_eq!(s.ok(&["diff", "web"]), "");
    let tree = s.ok(&["container", "mount", "web"]);
    let tree = Path::new(tree.trim());
    std::fs::write(tree.join("new"), "x").expect("write");
    std::fs::remove_file(tree.join("d1/f1")).expect("remove");
    std::fs::write(tree.join("d2/f2"), "changed").expect("change");
    let text = s.ok(&["diff", "web"]);
    assert_eq!(text, "C /d1\nD /d1/f1\nC /d2\nC /d2/f2\nA /new\n");
    let groups = s.ok(&["diff", "--format", "json", "web"]);
    assert_golden("diff.json", &groups);
    let groups = json(&groups);
    assert_eq!(groups["added"], serde_json::json!(["/new"]));
    assert_eq!(groups["deleted"], serde_json::json!(["/d1/f1"]));
    assert_eq!(
        groups["changed"],
        serde_json::json!(["/d1", "/d2", "/d2/f2"])
    );
    s.ok(&["container", "unmount", "web"]);
    assert!(
        s.fails(&["diff", "nothing"])
            .contains("no container, image or layer")
    );

    // podman, with the same changes on the same image, says the same
    // (in the order its walk finds them).
    let podman = Podman::new();
    let tar = s.dir.path().join("c.tar");
    podman.run_ok(["import", "-q", utf8(&tar), "localhost/used:1"]);
    podman.run_ok(["create", "--name", "web", "localhost/used:1", "/d0/f0"]);
    let tree = podman.run_ok(["mount", "web"]);
    let tree = Path::new(tree.trim());
    std::fs::write(tree.join("new"), "x").expect("write");
    std::fs::remove_file(tree.join("d1/f1")).expect("remove");
    std::fs::write(tree.join("d2/f2"), "changed").expect("change");
    let mut theirs: Vec<String> = podman
        .run_ok(["diff", "web"])
        .lines()
        .map(str::to_string)
        .collect();
    theirs.sort_by(|a, b| a[2..].cmp(&b[2..]));
    assert_eq!(theirs.join("\n") + "\n", text);
    let mut their_groups = json(&podman.run_ok(["diff", "--format", "json", "web"]));
    for group in ["added", "changed", "deleted"] {
        if let Some(paths) = their_groups[group].as_array_mut() {
            paths.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    assert_eq!(their_groups, groups);
    podman.run_ok(["umount", "web"]);
}

/// `system prune -f` with one dangling image prints what podman prints
/// for it, but for the ids and sizes; with nothing to prune, both print
/// the same line.
#[test]
fn system_prune_prints_as_podman() {
    let s = CliStore::new();
    let podman = Podman::new();
    for (file, files, name) in [("a.tar", 3, Some("localhost/named:1")), ("b.tar", 4, None)] {
        let tar = write_tar(s.dir.path(), file, files, 2000);
        let mut args = vec!["import", utf8(&tar)];
        args.extend(name);
        s.ok(&args);
        let mut args = vec!["import", "-q", utf8(&tar)];
        args.extend(name);
        podman.run_ok(&args);
    }
    let shape = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| match line {
                _ if line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()) => "ID".into(),
                _ => match line.split_once(": ") {
                    Some((what, _)) => format!("{what}: SIZE"),
                    None => line.to_string(),
                },
            })
            .collect()
    };
    let ours = s.ok(&["system", "prune", "-f"]);
    let theirs = podman.run_ok(["system", "prune", "-f"]);
    assert_eq!(
        shape(&ours),
        shape(&theirs),
        "strata:\n{ours}podman:\n{theirs}"
    );
    assert_eq!(
        shape(&ours),
        ["Deleted Images", "ID", "Total reclaimed space: SIZE"]
    );
    assert_eq!(
        s.ok(&["system", "prune", "-f"]),
        podman.run_ok(["system", "prune", "-f"])
    );
}

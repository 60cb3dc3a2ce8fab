//! podman and strata: what `strata save` writes, `podman load` reads as
//! the same image; what podman saves and commits, strata loads.

use std::fs;
use std::path::PathBuf;

use testkit::peers::Podman;

use super::{
    Expected, NAME, arg, assert_holds, blob_digests, extract, layer_count, listing, loaded, parse,
    sample_in, tree,
};
use crate::store_support::CliStore;

/// Asserts podman holds the image `want` describes, under its names.
fn assert_podman_has(podman: &Podman, want: &Expected) {
    let inspect = parse(
        "podman image inspect",
        &podman.run_ok(["image", "inspect", want.id]),
    );
    let image = &inspect[0];
    assert_eq!(image["Id"], want.id, "{image:#}");
    let layers: Vec<String> =
        serde_json::from_value(image["RootFS"]["Layers"].clone()).expect("RootFS.Layers");
    assert_eq!(layers, want.diff_ids, "{image:#}");
    let mut tags: Vec<String> =
        serde_json::from_value(image["RepoTags"].clone()).expect("RepoTags");
    tags.sort();
    assert_eq!(tags, want.names, "{image:#}");
    let list = parse(
        "podman images",
        &podman.run_ok(["images", "--format", "json"]),
    );
    let listed = list
        .as_array()
        .expect("podman images is an array")
        .iter()
        .find(|image| image["Id"] == want.id)
        .unwrap_or_else(|| panic!("podman images does not list it:\n{list:#}"));
    let mut names: Vec<String> = serde_json::from_value(listed["Names"].clone()).expect("Names");
    names.sort();
    assert_eq!(names, want.names, "{listed:#}");
}

#[test]
fn podman_loads_what_strata_saves() {
    let (store, sample) = loaded();
    for format in ["docker-archive", "oci-archive"] {
        let out = store.dir.path().join(format!("{format}.tar"));
        store.ok(&["save", "--format", format, "-o", arg(&out), NAME]);
        let podman = Podman::new();
        let told = podman.run_ok(["load", "-i", arg(&out)]);
        assert!(told.contains(&format!("Loaded image: {NAME}")), "{told}");
        assert_podman_has(&podman, &Expected::sample(&sample, &[NAME]));
    }
    // A Docker Hub name: familiar in manifest.json, full in podman.
    store.ok(&["image", "tag", NAME, "docker.io/interop-hub:1"]);
    let hub = "docker.io/library/interop-hub:1";
    for format in ["docker-archive", "oci-archive"] {
        let out = store.dir.path().join(format!("hub-{format}.tar"));
        store.ok(&["save", "--format", format, "-o", arg(&out), "interop-hub:1"]);
        let podman = Podman::new();
        let told = podman.run_ok(["load", "-i", arg(&out)]);
        assert!(told.contains(&format!("Loaded image: {hub}")), "{told}");
        assert_podman_has(&podman, &Expected::sample(&sample, &[hub]));
    }
}

#[test]
fn podman_loads_a_multi_image_strata_save() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let small = sample_in(dir, "two.tar", "localhost/interop-two:1", 2);
    let big = sample_in(dir, "four.tar", "localhost/interop-four:1", 4);
    for sample in [&small, &big] {
        store.ok(&["load", "-q", "-i", arg(&sample.path)]);
    }
    let out = dir.join("both.tar");
    store.ok(&["save", "-o", arg(&out), &small.name, &big.name]);
    let podman = Podman::new();
    podman.run_ok(["load", "-i", arg(&out)]);
    assert_podman_has(&podman, &Expected::sample(&small, &[small.name.as_str()]));
    assert_podman_has(&podman, &Expected::sample(&big, &[big.name.as_str()]));
}

#[test]
fn strata_loads_what_podman_saves() {
    let work = tempfile::tempdir().expect("temp dir");
    let sample = sample_in(work.path(), "sample.tar", NAME, 3);
    let podman = Podman::new();
    podman.run_ok(["load", "-i", arg(&sample.path)]);
    let docker = work.path().join("podman-docker.tar");
    podman.run_ok(["save", "-o", arg(&docker), NAME]);
    assert!(
        listing(&docker).contains("/layer.tar -> ../"),
        "podman writes the legacy layout with symlinks:\n{}",
        listing(&docker)
    );
    let oci = work.path().join("podman-oci.tar");
    podman.run_ok(["save", "--format", "oci-archive", "-o", arg(&oci), NAME]);
    for archive in [&docker, &oci] {
        let store = CliStore::new();
        let told = store.ok(&["load", "-i", arg(archive)]);
        assert_eq!(
            told,
            format!("Loaded image: {NAME}\n"),
            "{}",
            archive.display()
        );
        assert_holds(&store, &Expected::sample(&sample, &[NAME]));
        store.assert_clean();
    }

    // Several images in one docker-archive (`podman save -m`).
    let two = sample_in(work.path(), "two.tar", "localhost/interop-two:1", 2);
    podman.run_ok(["load", "-i", arg(&two.path)]);
    let both = work.path().join("podman-both.tar");
    podman.run_ok(["save", "-m", "-o", arg(&both), NAME, &two.name]);
    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&both)]);
    assert_holds(&store, &Expected::sample(&sample, &[NAME]));
    assert_holds(&store, &Expected::sample(&two, &[two.name.as_str()]));
    // The two share their base layer: stored once.
    assert_eq!(two.diff_ids[0], sample.diff_ids[0]);
    assert_eq!(layer_count(&store), 4);
}

/// Layers podman makes itself (`podman commit` of a container changed
/// through `podman mount`: new, changed and deleted files; then two
/// commits without changes, two identical empty layers) → `podman save` →
/// strata → `strata save` → another podman, which sees the same tree.
#[test]
fn podman_commits_go_through_strata() {
    let work = tempfile::tempdir().expect("temp dir");
    let sample = sample_in(work.path(), "sample.tar", NAME, 3);
    let podman = Podman::new();
    podman.run_ok(["load", "-i", arg(&sample.path)]);
    let container = podman.run_ok(["create", "--network", "none", NAME, "/bin/sh"]);
    let container = container.trim();
    let mounted = PathBuf::from(podman.run_ok(["mount", container]).trim());
    fs::write(mounted.join("etc/added"), "added by a commit\n").expect("write etc/added");
    fs::write(mounted.join("etc/motd"), "changed by a commit\n").expect("write etc/motd");
    fs::remove_file(mounted.join("etc/hostname")).expect("rm etc/hostname");
    fs::remove_dir_all(mounted.join("var/lib/sample")).expect("rm var/lib/sample");
    podman.run_ok(["unmount", container]);
    let changed = "localhost/interop-commit:1";
    podman.run_ok(["commit", "-q", container, changed]);
    let mut last = changed.to_string();
    for n in 2..=3 {
        let container = podman.run_ok(["create", "--network", "none", &last, "/bin/sh"]);
        last = format!("localhost/interop-commit:{n}");
        podman.run_ok(["commit", "-q", container.trim(), &last]);
    }
    let inspect = parse(
        "podman image inspect",
        &podman.run_ok(["image", "inspect", &last]),
    );
    let id = inspect[0]["Id"].as_str().expect("Id").to_string();
    let diff_ids: Vec<String> =
        serde_json::from_value(inspect[0]["RootFS"]["Layers"].clone()).expect("RootFS.Layers");
    assert_eq!(diff_ids[..3], sample.diff_ids[..]);
    assert_eq!(diff_ids.len(), 6, "{diff_ids:?}");
    assert_eq!(diff_ids[4], diff_ids[5], "two empty layers: {diff_ids:?}");
    let saved = work.path().join("podman-commit.tar");
    podman.run_ok(["save", "-o", arg(&saved), &last]);

    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&saved)]);
    let want = Expected {
        id: &id,
        diff_ids: &diff_ids,
        names: &[last.as_str()],
    };
    assert_holds(&store, &want);
    store.assert_clean();

    let resaved = work.path().join("strata-commit.tar");
    store.ok(&["save", "-o", arg(&resaved), &last]);
    let blobs = work.path().join("resaved");
    extract(&resaved, &blobs);
    let digests = blob_digests(&blobs);
    let empty = diff_ids[5].strip_prefix("sha256:").expect("sha256");
    assert!(digests.contains_key(empty), "{digests:?}");
    let other = Podman::new();
    other.run_ok(["load", "-i", arg(&resaved)]);
    assert_podman_has(&other, &want);
    let theirs = PathBuf::from(podman.run_ok(["image", "mount", &last]).trim());
    let ours = PathBuf::from(other.run_ok(["image", "mount", &last]).trim());
    let tree_ours = tree(&ours);
    assert_eq!(tree_ours, tree(&theirs));
    assert!(!ours.join("etc/hostname").exists(), "{tree_ours}");
    assert!(!ours.join("var/lib/sample").exists(), "{tree_ours}");
    assert!(ours.join("etc/added").is_file(), "{tree_ours}");
    podman.run_ok(["image", "unmount", &last]);
    other.run_ok(["image", "unmount", &last]);
}

//! strata and a real dockerd (Debian's docker.io 20.10, graphdriver store)
//! exchange `docker save` archives both ways. Starting dockerd takes a
//! while, so one test does it all against one daemon, in steps.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use testkit::image_archive::{Image, Layer, docker_modern, media};
use testkit::peers::{Dockerd, SampleImage};

use super::{
    Expected, arg, assert_holds, extract, layer_count, listing, load_from_pipe, parse, sample_in,
};
use crate::corpus::{run, stderr};
use crate::store_support::CliStore;

#[test]
fn docker_and_strata_exchange_archives() {
    let docker = Dockerd::start();
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    strata_to_docker_and_back(&docker, dir);
    let samples = docker_legacy_to_strata(&docker, dir);
    several_names_and_none(&docker, dir, &samples);
    docker_commit_to_strata(&docker, dir, &samples[2]);
    repeated_and_compressed_layers(&docker, dir);
}

/// `docker image inspect NAME`, the one object.
fn inspect(docker: &Dockerd, name: &str) -> Value {
    let text = docker.docker_ok(["image", "inspect", name]);
    parse("docker image inspect", &text)[0].clone()
}

/// Asserts docker holds `sample` under exactly the tags `tags`.
fn assert_docker_has(docker: &Dockerd, sample: &SampleImage, tags: &[&str]) {
    let image = inspect(docker, &format!("sha256:{}", sample.image_id));
    assert_eq!(
        image["Id"],
        format!("sha256:{}", sample.image_id),
        "{image:#}"
    );
    assert_eq!(
        image["RootFS"]["Layers"],
        json!(sample.diff_ids),
        "{image:#}"
    );
    assert_eq!(image["RepoTags"], json!(tags), "{image:#}");
}

/// When each layer of `store` was created, by id.
fn layer_times(store: &CliStore) -> Vec<(String, String)> {
    let all = parse("strata layers --json", &store.ok(&["layers", "--json"]));
    let mut times: Vec<(String, String)> = all
        .as_array()
        .expect("layers --json is an array")
        .iter()
        .map(|layer| {
            let text = |key: &str| layer[key].as_str().expect(key).to_string();
            (text("id"), text("created"))
        })
        .collect();
    times.sort();
    times
}

/// `strata save` with a Docker Hub name (strata keeps it normalized,
/// docker shows it familiar) → `docker load`; then `docker save` of that
/// → `strata load` gives the same image again.
fn strata_to_docker_and_back(docker: &Dockerd, dir: &Path) {
    // Four layers: a different config from the three-layer samples below.
    let hub = sample_in(dir, "hub.tar", "interop-hub:1", 4);
    let full = "docker.io/library/interop-hub:1";
    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&hub.path)]);
    assert_holds(&store, &Expected::sample(&hub, &[full]));
    let saved = dir.join("strata-saved.tar");
    store.ok(&["save", "-o", arg(&saved), "interop-hub:1"]);
    let told = docker.docker_ok(["load", "-i", arg(&saved)]);
    assert!(told.contains("Loaded image: interop-hub:1"), "{told}");
    assert_docker_has(docker, &hub, &["interop-hub:1"]);

    // `strata copy` to a docker-archive under another name.
    let renamed = dir.join("strata-renamed.tar");
    store.ok(&[
        "copy",
        &format!("strata:{full}"),
        &format!("docker-archive:{}:interop-renamed:7", arg(&renamed)),
    ]);
    let told = docker.docker_ok(["load", "-i", arg(&renamed)]);
    assert!(told.contains("Loaded image: interop-renamed:7"), "{told}");
    assert_docker_has(docker, &hub, &["interop-hub:1", "interop-renamed:7"]);

    let back = dir.join("docker-back.tar");
    docker.docker_ok(["save", "-o", arg(&back), "interop-hub:1"]);
    let store = CliStore::new();
    assert_eq!(
        store.ok(&["load", "-i", arg(&back)]),
        format!("Loaded image: {full}\n")
    );
    assert_holds(&store, &Expected::sample(&hub, &[full]));
    store.assert_clean();
}

/// `docker save` (docker 20.10 writes the legacy `<v1id>/layer.tar`
/// layout; a layer shared by two images under different v1 ids is written
/// once and linked from the other directory) → `strata load`, from a file,
/// from a pipe, and with the members in reverse order (links before what
/// they point at). Returns the three samples, loaded in docker.
fn docker_legacy_to_strata(docker: &Dockerd, dir: &Path) -> Vec<SampleImage> {
    let samples: Vec<SampleImage> = (1..=3)
        .map(|layers| {
            let name = format!("localhost/interop-d{layers}:1");
            let sample = sample_in(dir, &format!("d{layers}.tar"), &name, layers);
            docker.docker_ok(["load", "-i", arg(&sample.path)]);
            sample
        })
        .collect();
    for sample in &samples[1..] {
        assert_eq!(sample.diff_ids[0], samples[0].diff_ids[0], "one base layer");
    }
    let one = dir.join("docker-one.tar");
    docker.docker_ok(["save", "-o", arg(&one), &samples[2].name]);
    let members = listing(&one);
    assert!(
        members.contains("/layer.tar") && members.contains("/VERSION"),
        "the legacy layout:\n{members}"
    );
    let store = CliStore::new();
    assert_eq!(
        store.ok(&["load", "-i", arg(&one)]),
        format!("Loaded image: {}\n", samples[2].name)
    );
    let d3 = [samples[2].name.as_str()];
    assert_holds(&store, &Expected::sample(&samples[2], &d3));
    let before = layer_times(&store);
    assert_eq!(before.len(), 3);

    let all = dir.join("docker-all.tar");
    let mut args = vec!["save", "-o", arg(&all)];
    args.extend(samples.iter().map(|s| s.name.as_str()));
    docker.docker_ok(&args);
    let members = listing(&all);
    assert!(
        members.contains("/layer.tar -> ../"),
        "a shared layer is a symlink:\n{members}"
    );
    let assert_all = |store: &CliStore, told: &str| {
        for sample in &samples {
            let line = format!("Loaded image: {}\n", sample.name);
            assert!(told.contains(&line), "{told}");
            assert_holds(store, &Expected::sample(sample, &[sample.name.as_str()]));
        }
        // The base shared by all three, d2's top, d3's two above the base.
        assert_eq!(layer_count(store), 4);
        store.assert_clean();
    };
    // Into the store that has d3 already: its layers are reused.
    let told = store.ok(&["load", "-i", arg(&all)]);
    assert_all(&store, &told);
    let after = layer_times(&store);
    for layer in &before {
        assert!(
            after.contains(layer),
            "layer {} was imported again",
            layer.0
        );
    }

    let store = CliStore::new();
    assert_all(&store, &load_from_pipe(&store, &all));
    let reversed = reversed(&all, &dir.join("docker-all-x"));
    let store = CliStore::new();
    assert_all(&store, &load_from_pipe(&store, &reversed));

    // A strata save of all three loads into docker as the same images.
    let resaved = dir.join("strata-all.tar");
    let mut args = vec!["save", "-o", arg(&resaved)];
    args.extend(samples.iter().map(|s| s.name.as_str()));
    store.ok(&args);
    for sample in &samples {
        docker.docker_ok(["rmi", sample.name.as_str()]);
    }
    docker.docker_ok(["load", "-i", arg(&resaved)]);
    for sample in &samples {
        assert_docker_has(docker, sample, &[sample.name.as_str()]);
    }
    samples
}

/// `archive` rewritten by GNU tar with its members in reverse order
/// (extracted under `scratch`).
fn reversed(archive: &Path, scratch: &Path) -> PathBuf {
    extract(archive, scratch);
    let names = run(Command::new("tar").arg("-tf").arg(archive));
    assert!(names.status.success(), "tar -tf: {}", stderr(&names));
    let names = String::from_utf8(names.stdout).expect("utf-8 names");
    let out = scratch.with_extension("reversed.tar");
    let made = run(Command::new("tar")
        .arg("-cf")
        .arg(&out)
        .arg("-C")
        .arg(scratch)
        .arg("--no-recursion")
        .args(names.lines().rev()));
    assert!(made.status.success(), "tar -cf: {}", stderr(&made));
    out
}

/// An image saved with two tags, and one saved by id (no tags), both ways.
fn several_names_and_none(docker: &Dockerd, dir: &Path, samples: &[SampleImage]) {
    let d2 = &samples[1];
    let alias = "localhost/interop-d2:alias";
    docker.docker_ok(["tag", d2.name.as_str(), alias]);
    let tagged = dir.join("docker-tagged.tar");
    docker.docker_ok(["save", "-o", arg(&tagged), d2.name.as_str(), alias]);
    let store = CliStore::new();
    let told = store.ok(&["load", "-i", arg(&tagged)]);
    for name in [d2.name.as_str(), alias] {
        assert!(told.contains(&format!("Loaded image: {name}\n")), "{told}");
    }
    let mut names = [d2.name.as_str(), alias];
    names.sort();
    assert_holds(&store, &Expected::sample(d2, &names));

    // strata saves both names of it; docker gets both back.
    let both = dir.join("strata-tagged.tar");
    store.ok(&["save", "-o", arg(&both), d2.name.as_str(), alias]);
    docker.docker_ok(["rmi", d2.name.as_str(), alias]);
    docker.docker_ok(["load", "-i", arg(&both)]);
    let image = inspect(docker, &d2.name);
    let mut got: Vec<String> = serde_json::from_value(image["RepoTags"].clone()).expect("RepoTags");
    got.sort();
    assert_eq!(got, names, "{image:#}");

    // By id: docker writes `"RepoTags":null`, strata loads it nameless.
    let d1 = &samples[0];
    let by_id = dir.join("docker-by-id.tar");
    docker.docker_ok(["save", "-o", arg(&by_id), &d1.image_id[..12]]);
    let store = CliStore::new();
    assert_eq!(
        store.ok(&["load", "-i", arg(&by_id)]),
        format!("Loaded image: sha256:{}\n", d1.image_id)
    );
    assert_holds(&store, &Expected::sample(d1, &[]));
    // And strata's save by id loads into docker as an untagged image.
    let strata_by_id = dir.join("strata-by-id.tar");
    store.ok(&["save", "-o", arg(&strata_by_id), &d1.image_id]);
    docker.docker_ok(["rmi", d1.name.as_str()]);
    let told = docker.docker_ok(["load", "-i", arg(&strata_by_id)]);
    assert!(
        told.contains(&format!("Loaded image ID: sha256:{}", d1.image_id)),
        "{told}"
    );
    assert_docker_has(docker, d1, &[]);
}

/// A layer docker itself made (`docker create`, `docker cp`, `docker
/// commit`) → `docker save` → `strata load`.
fn docker_commit_to_strata(docker: &Dockerd, dir: &Path, base: &SampleImage) {
    let container =
        docker.docker_ok(["create", "--network", "none", base.name.as_str(), "/bin/sh"]);
    let container = container.trim();
    let file = dir.join("hello.txt");
    fs::write(&file, "hello from docker cp\n").expect("write hello.txt");
    docker.docker_ok(["cp", arg(&file), &format!("{container}:/etc/hello.txt")]);
    docker.docker_ok([
        "cp",
        arg(&file),
        &format!("{container}:/usr/share/doc/sample/README"),
    ]);
    let committed = "localhost/interop-commit:1";
    docker.docker_ok(["commit", container, committed]);
    docker.docker_ok(["rm", container]);
    let image = inspect(docker, committed);
    let id = image["Id"]
        .as_str()
        .and_then(|id| id.strip_prefix("sha256:"))
        .expect("an image id")
        .to_string();
    let diff_ids: Vec<String> =
        serde_json::from_value(image["RootFS"]["Layers"].clone()).expect("RootFS.Layers");
    assert_eq!(diff_ids.len(), base.diff_ids.len() + 1);
    assert_eq!(diff_ids[..base.diff_ids.len()], base.diff_ids[..]);

    let saved = dir.join("docker-commit.tar");
    docker.docker_ok(["save", "-o", arg(&saved), committed]);
    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&saved)]);
    assert_holds(
        &store,
        &Expected {
            id: &id,
            diff_ids: &diff_ids,
            names: &[committed],
        },
    );
    store.assert_clean();
}

/// An image whose empty layer comes twice (docker 20.10's save links the
/// second `layer.tar` to the first) and whose archive holds one layer
/// gzip-compressed: strata and docker load it as the same image, and
/// docker's save of it loads into strata.
fn repeated_and_compressed_layers(docker: &Dockerd, dir: &Path) {
    use std::io::Write as _;

    let name = "localhost/interop-repeated:1";
    let top = testkit::tar_of(&[("top.txt", b"top\n"), ("etc/config", b"x=1\n")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&top).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let empty = Layer::plain(vec![0; 1024]);
    let image = Image::new(
        "repeated",
        &[name],
        vec![
            Layer::plain(testkit::tar_of(&[("base.txt", b"base\n")])),
            empty.clone(),
            Layer::compressed(top, gz, media::LAYER_GZIP),
            empty,
        ],
    );
    let id = image.id();
    let diff_ids = image.diff_ids();
    let want = Expected {
        id: &id,
        diff_ids: &diff_ids,
        names: &[name],
    };
    let archive = dir.join("repeated.tar");
    fs::write(
        &archive,
        docker_modern(std::slice::from_ref(&image)).to_tar(),
    )
    .expect("write the archive");
    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&archive)]);
    assert_holds(&store, &want);

    docker.docker_ok(["load", "-i", arg(&archive)]);
    let inspected = inspect(docker, name);
    assert_eq!(inspected["Id"], format!("sha256:{id}"), "{inspected:#}");
    assert_eq!(inspected["RootFS"]["Layers"], json!(diff_ids));
    let saved = dir.join("docker-repeated.tar");
    docker.docker_ok(["save", "-o", arg(&saved), name]);
    let members = listing(&saved);
    assert!(
        members.contains("/layer.tar -> ../"),
        "the repeated layer is a symlink:\n{members}"
    );
    let store = CliStore::new();
    store.ok(&["load", "-q", "-i", arg(&saved)]);
    assert_holds(&store, &want);
    store.assert_clean();
    let resaved = dir.join("strata-repeated.tar");
    store.ok(&["save", "-o", arg(&resaved), name]);
    docker.docker_ok(["rmi", name]);
    docker.docker_ok(["load", "-i", arg(&resaved)]);
    let inspected = inspect(docker, name);
    assert_eq!(inspected["Id"], format!("sha256:{id}"), "{inspected:#}");
    assert_eq!(inspected["RootFS"]["Layers"], json!(diff_ids));
}

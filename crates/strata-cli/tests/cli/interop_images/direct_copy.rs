//! `strata save --format docker-archive-v1` (the legacy `docker save`
//! layout) and `strata copy` between two places outside the store: what
//! they write, strata and skopeo read back as the sample image, with its
//! manifest kept where the format allows; a bad source leaves no output.

use std::fs;

use testkit::peers::skopeo_ok;

use super::{Expected, NAME, arg, assert_holds, listing, loaded, parse, sample_in};
use crate::corpus::sha256;
use crate::store_support::CliStore;

/// `skopeo inspect --raw LOCATION`: the manifest's digest and its config's.
fn skopeo_manifest(location: &str) -> (String, String) {
    let raw = skopeo_ok(["inspect", "--raw", location]);
    let manifest = parse("skopeo inspect --raw", &raw);
    let config = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string();
    (format!("sha256:{}", sha256(raw.as_bytes())), config)
}

#[test]
fn save_docker_archive_v1_loads_back() {
    let (store, sample) = loaded();
    let dir = store.dir.path();
    let v1 = dir.join("v1.tar");
    store.ok(&[
        "save",
        "--format",
        "docker-archive-v1",
        "-o",
        arg(&v1),
        NAME,
    ]);
    let members = listing(&v1);
    assert!(
        members.contains("/layer.tar") && members.contains("/VERSION"),
        "{members}"
    );
    assert!(
        !members.contains("blobs/"),
        "no OCI layout in a v1 archive:\n{members}"
    );
    assert!(
        members.contains(&format!("{}.json", sample.image_id)),
        "{members}"
    );

    let other = CliStore::new();
    other.ok(&["load", "-q", "-i", arg(&v1)]);
    assert_holds(&other, &Expected::sample(&sample, &[NAME]));
    let (_, config) = skopeo_manifest(&format!("docker-archive:{}", arg(&v1)));
    assert_eq!(config, sample.config, "skopeo reads the same config");

    // Streaming to stdout gives the same bytes.
    let out = store
        .command(&["save", "--format", "docker-archive-v1", NAME])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(
        out.stdout == fs::read(&v1).expect("read"),
        "stdout and -o agree"
    );
}

#[test]
fn copy_goes_between_archives_and_layouts_without_the_store() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let sample = sample_in(dir, "sample.tar", NAME, 3);
    let layout = format!("oci:{}:v1", arg(&dir.join("layout")));
    let oci_archive = format!("oci-archive:{}", arg(&dir.join("oci.tar")));
    let back = dir.join("back.tar");
    store.ok(&[
        "copy",
        &format!("docker-archive:{}", arg(&sample.path)),
        &layout,
    ]);
    store.ok(&["copy", &layout, &oci_archive]);
    store.ok(&[
        "copy",
        &oci_archive,
        &format!("docker-archive:{}", arg(&back)),
    ]);
    let images = parse("strata images --json", &store.ok(&["images", "--json"]));
    assert_eq!(images, serde_json::json!([]), "nothing entered the store");

    // The sample (a Docker 25+ archive) comes with an OCI manifest: every
    // copy keeps it, and the config.
    for at in [&layout, &oci_archive] {
        assert_eq!(
            skopeo_manifest(at),
            (sample.manifest.clone(), sample.config.clone()),
            "{at}"
        );
    }
    let other = CliStore::new();
    other.ok(&["load", "-q", "-i", arg(&back)]);
    assert_holds(&other, &Expected::sample(&sample, &[NAME]));

    // The legacy layout has no manifest; the copy makes one that skopeo reads.
    let v1 = dir.join("v1.tar");
    other.ok(&[
        "save",
        "--format",
        "docker-archive-v1",
        "-o",
        arg(&v1),
        NAME,
    ]);
    let from_v1 = format!("oci:{}", arg(&dir.join("from-v1")));
    store.ok(&["copy", &format!("docker-archive:{}", arg(&v1)), &from_v1]);
    let (_, config) = skopeo_manifest(&from_v1);
    assert_eq!(config, sample.config);
}

#[test]
fn a_bad_source_leaves_no_output_file() {
    let store = CliStore::new();
    let dir = store.dir.path();
    let sample = sample_in(dir, "sample.tar", NAME, 2);
    let bytes = fs::read(&sample.path).expect("read");
    let cut = dir.join("cut.tar");
    fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    for to in [
        "oci-archive:out.tar",
        "docker-archive:out.tar",
        "oci:out-dir",
    ] {
        let to = to.replacen(':', &format!(":{}/", arg(dir)), 1);
        let err = store.fails(&["copy", &format!("docker-archive:{}", arg(&cut)), &to]);
        assert!(!err.is_empty(), "{to}: an error is shown");
    }
    assert!(!dir.join("out.tar").exists() && !dir.join("out-dir").exists());
}

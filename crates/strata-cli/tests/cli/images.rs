//! The image commands as users type them (`strata image
//! ls|inspect|history|tag|untag|rm`, `strata images`, `strata rmi`) and
//! `strata container create` on an image, on images that `strata load`
//! put in the store from archives `scripts/sample-image` writes: output
//! formats, normalized names, what removal takes away, one-line errors.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::corpus::{run, sha256, stderr};
use crate::store_support::CliStore;
use testkit::peers::{SampleImage, sample_image};

/// The sample image's name.
const NAME: &str = "localhost/sample:1";
/// The sample's history steps: one per layer and a trailing empty CMD.
const LAYERS: usize = 3;

/// Runs `scripts/sample-image OUT --name NAME --layers N` in `dir`.
fn sample(dir: &Path, file: &str, name: &str, layers: usize) -> SampleImage {
    sample_image(
        &dir.join(file),
        &["--name", name, "--layers", &layers.to_string()],
    )
}

/// A store holding the sample image (three layers, named [`NAME`]).
fn loaded() -> (CliStore, SampleImage) {
    let store = CliStore::new();
    let sample = sample(store.dir.path(), "sample.tar", NAME, LAYERS);
    store.ok(&[
        "load",
        "-q",
        "-i",
        sample.path.to_str().expect("utf-8 path"),
    ]);
    (store, sample)
}

fn json(store: &CliStore, args: &[&str]) -> Value {
    serde_json::from_str(&store.ok(args)).expect("JSON output")
}

/// The image's layer ids, base first (from `image inspect`).
fn layer_ids(store: &CliStore, image: &str) -> Vec<String> {
    let inspect = json(store, &["image", "inspect", image]);
    serde_json::from_value(inspect[0]["Layers"].clone()).expect("Layers")
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn listing_has_a_row_per_name_json_and_ids() {
    let (s, sample) = loaded();
    let id = sample.image_id.as_str();
    s.ok(&["image", "tag", NAME, "docker.io/myimg"]);

    let table = s.ok(&["images"]);
    let rows = lines(&table);
    assert_eq!(rows.len(), 3, "{table}");
    let header: Vec<&str> = rows[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{table}"
    );
    for (row, (repository, tag)) in rows[1..].iter().zip([
        ("docker.io/library/myimg", "latest"),
        ("localhost/sample", "1"),
    ]) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[..3], [repository, tag, &id[..12]]);
        // Created 2024-01-01: years ago, as podman says it.
        assert_eq!(cells[4..6], ["years", "ago"], "{table}");
    }
    assert!(!table.contains(id), "ids are cut short: {table}");
    assert_eq!(s.ok(&["image", "ls"]), table);
    assert_eq!(s.ok(&["image", "list"]), table);
    assert!(s.ok(&["images", "--no-trunc"]).contains(id));

    assert_eq!(s.ok(&["images", "-q"]), format!("{}\n", &id[..12]));
    assert_eq!(
        s.ok(&["images", "--quiet", "--no-trunc"]),
        format!("{id}\n")
    );

    let list = json(&s, &["images", "--json"]);
    assert_eq!(list.as_array().expect("an array").len(), 1, "{list}");
    let image = &list[0];
    assert_eq!(image["Id"], id);
    assert_eq!(
        image["Names"],
        json!(["docker.io/library/myimg:latest", NAME])
    );
    assert_eq!(image["RepoTags"], image["Names"]);
    assert_eq!(image["CreatedAt"], "2024-01-01T00:03:00Z");
    assert_eq!(image["Created"], 1_704_067_380);
    assert_eq!(image["Digest"], json!(sample.manifest));
    assert_eq!(layer_ids(&s, NAME).len(), LAYERS);
    let sizes: u64 = json(&s, &["layers", "--json"])
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| layer["diff_size"].as_u64().expect("diff_size"))
        .sum();
    assert_eq!(image["Size"], sizes);
    assert_eq!(json(&s, &["image", "ls", "--json"]), list);
}

#[test]
fn an_image_without_names_lists_as_none() {
    let (s, sample) = loaded();
    assert_eq!(s.ok(&["image", "untag", NAME]), "");
    let table = s.ok(&["images"]);
    let cells: Vec<&str> = lines(&table)[1].split_whitespace().collect();
    assert_eq!(
        cells[..3],
        ["<none>", "<none>", &sample.image_id[..12]],
        "{table}"
    );
    assert_eq!(json(&s, &["images", "--json"])[0]["Names"], json!([]));
}

#[test]
fn listings_are_newest_first() {
    let (s, sample) = loaded();
    let older = sample.image_id;
    let newer = self::sample(s.dir.path(), "five.tar", "localhost/five:1", 5);
    s.ok(&["load", "-q", "-i", newer.path.to_str().expect("utf-8 path")]);
    let ids = s.ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(lines(&ids), [newer.image_id.as_str(), older.as_str()]);
    let list = json(&s, &["images", "--json"]);
    assert_eq!(list[0]["Id"], newer.image_id);
    assert_eq!(list[1]["Id"], older);
}

#[test]
fn inspect_shows_the_config() {
    let (s, sample) = loaded();
    let config = extract_member(&sample.path, &format!("blobs/sha256/{}", sample.image_id));

    let inspect = json(&s, &["image", "inspect", NAME]);
    assert_eq!(inspect.as_array().expect("an array").len(), 1);
    let image = &inspect[0];
    assert_eq!(image["Id"], format!("sha256:{}", sha256(&config)));
    assert_eq!(image["Id"], format!("sha256:{}", sample.image_id));
    assert_eq!(image["RepoTags"], json!([NAME]));
    assert_eq!(
        image["RepoDigests"],
        json!([format!("localhost/sample@{}", sample.manifest)])
    );
    assert_eq!(image["Digest"], sample.manifest.as_str());
    assert_eq!(image["Manifests"], json!([sample.manifest]));
    assert_eq!(image["Created"], "2024-01-01T00:03:00Z");
    assert_eq!(image["Architecture"], "amd64");
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["Config"]["Cmd"], json!(["/bin/sh"]));
    assert_eq!(image["Config"]["WorkingDir"], "/");
    assert_eq!(image["RootFS"]["Type"], "layers");
    assert_eq!(image["RootFS"]["Layers"], json!(sample.diff_ids));
    let layers = image["Layers"].as_array().expect("Layers");
    assert_eq!(layers.len(), LAYERS);
    assert_eq!(
        format!("sha256:{}", layers[0].as_str().expect("id")),
        sample.diff_ids[0],
        "the base layer's ChainID is its DiffID"
    );
    assert_eq!(image["TopLayer"], layers[LAYERS - 1]);
    assert!(image["Size"].as_u64().expect("Size") > 0);
    let history = image["History"].as_array().expect("History");
    assert_eq!(history.len(), LAYERS + 1);
    assert_eq!(history[LAYERS]["empty_layer"], true);

    let by_id = format!("sha256:{}", sample.image_id);
    let both = json(
        &s,
        &["image", "inspect", &sample.image_id[..8], &by_id, "--json"],
    );
    assert_eq!(both, json!([image, image]), "by prefix and by sha256: id");
}

#[test]
fn history_is_newest_first_with_layer_sizes() {
    let (s, sample) = loaded();
    let table = s.ok(&["image", "history", NAME]);
    let rows = lines(&table);
    assert_eq!(
        rows.len(),
        LAYERS + 2,
        "a header and a row per step: {table}"
    );
    assert!(
        rows[0].starts_with("ID ") && rows[0].contains("CREATED BY"),
        "{table}"
    );
    assert!(rows[1].starts_with(&sample.image_id[..12]), "{table}");
    assert!(rows[1].contains("CMD [\"/bin/sh\"]") && rows[1].contains(" 0 B"));
    for row in &rows[2..] {
        assert!(row.starts_with("<missing>"), "{table}");
    }
    assert!(rows[LAYERS + 1].contains("ADD rootfs / in /"), "{table}");
    assert!(
        s.ok(&["image", "history", NAME, "--no-trunc"])
            .contains(&sample.image_id)
    );

    let steps = json(&s, &["image", "history", NAME, "--json"]);
    let steps = steps.as_array().expect("an array");
    assert_eq!(steps.len(), LAYERS + 1);
    assert_eq!(steps[0]["id"], sample.image_id.as_str());
    assert_eq!(steps[0]["empty_layer"], true);
    assert_eq!(steps[0]["layer"], Value::Null);
    assert_eq!(steps[0]["size"], 0);
    let mut layers = layer_ids(&s, NAME);
    layers.reverse();
    for (step, layer) in steps[1..].iter().zip(&layers) {
        assert_eq!(step["id"], Value::Null);
        assert_eq!(step["layer"], layer.as_str());
        let diff_size = json(&s, &["layer", "inspect", layer])[0]["diff_size"].clone();
        assert_eq!(step["size"], diff_size);
    }
}

/// Short names are local names, as in podman: `tag X myimg` names the
/// image `localhost/myimg:latest`, and `untag` takes that name.
#[test]
fn tag_and_untag_take_normalized_names() {
    let (s, sample) = loaded();
    assert_eq!(s.ok(&["image", "tag", NAME, "myimg", "quay.io/x/y:2"]), "");
    let names =
        |s: &CliStore| json(s, &["image", "inspect", &sample.image_id])[0]["RepoTags"].clone();
    assert_eq!(
        names(&s),
        json!(["localhost/myimg:latest", NAME, "quay.io/x/y:2"])
    );
    for alias in ["myimg", "localhost/myimg", "myimg:latest", "y:2", "x/y:2"] {
        let found = json(&s, &["image", "inspect", alias]);
        assert_eq!(
            found[0]["Id"],
            format!("sha256:{}", sample.image_id),
            "{alias}"
        );
    }
    let err = s.fails(&["image", "inspect", "docker.io/library/myimg"]);
    assert!(err.contains("not found"), "{err}");

    assert_eq!(
        s.ok(&["image", "untag", "myimg", "myimg", "quay.io/x/y:2"]),
        ""
    );
    assert_eq!(names(&s), json!([NAME]));
    let err = s.fails(&["image", "untag", NAME, "other"]);
    assert!(err.contains("localhost/other:latest"), "{err}");
    let err = s.fails(&["image", "tag", NAME, "Upper"]);
    assert!(err.contains("lowercase"), "{err}");
    assert_eq!(names(&s), json!([NAME]));
}

#[test]
fn rm_by_one_of_two_names_only_untags() {
    let (s, sample) = loaded();
    s.ok(&["image", "tag", NAME, "docker.io/myimg"]);
    assert_eq!(
        s.ok(&["rmi", "myimg"]),
        "Untagged: docker.io/library/myimg:latest\n"
    );
    let list = json(&s, &["images", "--json"]);
    assert_eq!(list[0]["Id"], sample.image_id.as_str());
    assert_eq!(list[0]["Names"], json!([NAME]));
    assert_eq!(
        json(&s, &["layers", "--json"])
            .as_array()
            .expect("layers")
            .len(),
        LAYERS
    );
}

#[test]
fn rm_by_id_deletes_the_image_and_its_layers() {
    let (s, sample) = loaded();
    s.ok(&["image", "tag", NAME, "myimg"]);
    let out = s.ok(&["image", "rm", &sample.image_id[..12]]);
    // podman's lines: the names, then the image (its layers unnamed).
    let expected = [
        "Untagged: localhost/myimg:latest".to_string(),
        format!("Untagged: {NAME}"),
        format!("Deleted: {}", sample.image_id),
    ];
    assert_eq!(lines(&out), expected[..], "{out}");

    assert_eq!(s.ok(&["images", "-q"]), "");
    assert_eq!(s.ok(&["images", "--json"]).trim(), "[]");
    assert_eq!(s.ok(&["layers", "--json"]).trim(), "[]");
    let err = s.fails(&["image", "inspect", NAME]);
    assert!(err.contains("not found"), "{err}");
    s.assert_clean();
}

#[test]
fn rm_is_refused_while_a_container_uses_the_image_unless_forced() {
    let (s, sample) = loaded();
    let container = s.ok(&["container", "create", NAME, "--name", "web"]);
    let container = container.trim();
    let top = layer_ids(&s, NAME).pop().expect("a top layer");
    let inspect = json(&s, &["container", "inspect", "web"]);
    assert_eq!(inspect[0]["base"], top.as_str(), "the image's top layer");

    let err = s.fails(&["rmi", NAME]);
    assert!(
        err.contains("used by container") && err.contains(container),
        "{err}"
    );
    assert_eq!(
        s.ok(&["images", "-q", "--no-trunc"]).trim(),
        sample.image_id
    );

    let out = s.ok(&["image", "rm", "--force", NAME]);
    assert!(out.starts_with(&format!("Untagged: {NAME}\nDeleted: {}\n", sample.image_id)));
    assert_eq!(lines(&out).len(), 2, "{out}");
    assert_eq!(s.ok(&["containers", "--json"]).trim(), "[]");
    assert_eq!(s.ok(&["layers", "--json"]).trim(), "[]");
    s.assert_clean();
}

#[test]
fn a_container_on_a_layer_still_works() {
    let (s, _) = loaded();
    let top = layer_ids(&s, NAME).pop().expect("a top layer");
    s.ok(&["container", "create", &top, "--name", "on-layer"]);
    assert_eq!(
        json(&s, &["container", "inspect", "on-layer"])[0]["base"],
        top.as_str()
    );
}

#[test]
fn unknown_images_are_one_line_errors() {
    let (s, _) = loaded();
    for args in [
        &["image", "inspect", "nope"][..],
        &["image", "inspect", NAME, "nope"],
        &["image", "history", "nope"],
        &["image", "tag", "nope", "x"],
        &["image", "untag", "nope", "x"],
        &["image", "rm", "nope"],
        &["rmi", "nope"],
        &["image", "rm", "0123456789ab"],
    ] {
        let err = s.fails(args);
        assert!(err.contains("not found"), "{args:?}: {err}");
    }
    let out = s.output(&["image", "inspect", NAME, "nope"]);
    assert!(out.stdout.is_empty(), "nothing printed when one is unknown");
}

/// The bytes of member `name` of the tar at `path`.
fn extract_member(path: &Path, name: &str) -> Vec<u8> {
    let out = run(Command::new("tar").arg("-xOf").arg(path).arg(name));
    assert!(out.status.success(), "tar: {}", stderr(&out));
    out.stdout
}

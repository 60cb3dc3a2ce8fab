//! Listings and inspect as podman users script them: `--format json`,
//! Go templates, `table` templates, `--noheading`, `-q`, `--digests`,
//! `--sort`, `--filter`, relative times and sizes, compared with real
//! podman holding the same images; and the JSON schemas, kept as golden
//! files under `golden/` (`STRATA_BLESS=1` rewrites them).

use std::path::Path;

use serde_json::{Value, json};
use testkit::peers::{Podman, SampleImage, sample_image};

use crate::store_support::{CliStore, write_tar};

/// The sample image's name.
const NAME: &str = "localhost/sample:1";

fn sample(dir: &Path, file: &str, name: &str, layers: usize) -> SampleImage {
    sample_image(
        &dir.join(file),
        &["--name", name, "--layers", &layers.to_string()],
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// strata and podman, each holding the sample image (three layers, named
/// [`NAME`]) and a five-layer one, loaded from the same archives.
fn both() -> (CliStore, Podman, SampleImage, SampleImage) {
    let s = CliStore::new();
    let podman = Podman::new();
    let three = sample(s.dir.path(), "three.tar", NAME, 3);
    let five = sample(s.dir.path(), "five.tar", "localhost/five:1", 5);
    for image in [&three, &five] {
        s.ok(&["load", "-q", "-i", path(&image.path)]);
        podman.run_ok(["load", "-q", "-i", path(&image.path)]);
    }
    (s, podman, three, five)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn images_tables_and_templates_print_as_podman_prints_them() {
    let (s, podman, _, _) = both();
    for args in [
        &[
            "images",
            "--format",
            "table {{.Repository}} {{.Tag}} {{.ID}}",
        ][..],
        &[
            "images",
            "--format",
            "table {{.ID}}\t{{.Repository}}\t{{.Tag}}",
        ],
        &["images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
        &[
            "images",
            "--format",
            "{{upper .Repository}} {{json .Names}} {{join .Names \",\"}} {{len .Names}}",
        ],
        &[
            "images",
            "--format",
            "{{if eq .Tag \"1\"}}one{{else}}other{{end}} {{truncate .ID 4}} {{printf \"%s!\" .Tag}}",
        ],
        &[
            "images",
            "--format",
            "{{range .Names}}[{{.}}]{{end}} {{.Dangling}} {{.Labels}}",
        ],
        &[
            "images",
            "--noheading",
            "--format",
            "table {{.ID}} {{.Repository}}",
        ],
        &["images", "-n", "--format", "table {{.ID}}"],
        &["images", "-q"],
        &[
            "images",
            "--format",
            "{{.Created}}|{{.CreatedAt}}|{{.CreatedSince}}",
        ],
        &["images", "--sort", "id", "-q"],
        &["images", "sample", "-q"],
        &["images", "localhost/five:1", "-q"],
        &[
            "images",
            "--sort",
            "repository",
            "--format",
            "{{.Repository}}",
        ],
        &["images", "--filter", "reference=sample", "-q"],
        &["images", "--filter", "reference=localhost/five:*", "-q"],
        &["images", "--filter", "reference=*/sample:1", "-q"],
        &["images", "--filter", "reference=nothing", "-q"],
        &["images", "--filter", "dangling=false", "-q"],
        &["images", "--filter", "dangling=true", "-q"],
        &["images", "--filter", "since=localhost/sample:1", "-q"],
        &["images", "--filter", "before=localhost/five:1", "-q"],
    ] {
        let mine = s.ok(args);
        let theirs = podman.run_ok(args);
        assert_eq!(
            mine, theirs,
            "strata {args:?}\nstrata:\n{mine}\npodman:\n{theirs}"
        );
    }
    // The default table: same header and columns, the sizes aside
    // (podman counts the config and manifest in).
    let header = |table: &str| table.lines().next().unwrap_or_default().to_string();
    let cut = |table: &str| -> Vec<String> {
        table
            .lines()
            .map(|l| l[..l.find("ago").map_or(l.len(), |i| i + 3)].to_string())
            .collect()
    };
    for args in [&["images"][..], &["images", "--digests"]] {
        let (mine, theirs) = (s.ok(args), podman.run_ok(args));
        assert_eq!(header(&mine), header(&theirs), "{args:?}\n{mine}\n{theirs}");
        if args.len() == 1 {
            assert_eq!(cut(&mine), cut(&theirs), "{mine}\n{theirs}");
        }
    }
    // A pattern and filters together are refused, as podman refuses them.
    let both = ["images", "five", "--filter", "reference=sample"];
    assert_eq!(s.output(&both).status.code(), Some(125));
    assert_eq!(podman.run(both).status.code(), Some(125));
    // podman prints `<no value>` over a `CreatedSince` column of a
    // template; strata names it as the default table does.
    let created = s.ok(&["images", "--format", "table {{.ID}} {{.CreatedSince}}"]);
    assert!(created.starts_with("IMAGE ID      CREATED\n"), "{created}");
    // Sizes are three significant digits in SI units.
    let sizes = s.ok(&["images", "--format", "{{.Size}}"]);
    for size in sizes.lines() {
        let (number, unit) = size.split_once(' ').expect("NUMBER UNIT");
        assert!(["B", "kB", "MB"].contains(&unit), "{sizes}");
        let digits = number.chars().filter(char::is_ascii_digit).count();
        assert!(digits <= 3, "{sizes}");
    }
}

#[test]
fn image_filters_on_labels_match_podmans() {
    let s = CliStore::new();
    let podman = Podman::new();
    let tar = write_tar(s.dir.path(), "root.tar", 2, 100);
    for (name, change) in [
        ("localhost/a:1", "LABEL x=1"),
        ("localhost/b:1", "LABEL x=2"),
        ("localhost/d:1", "LABEL y=3"),
        ("localhost/c:1", "ENV Z=1"),
    ] {
        s.ok(&["import", "-c", change, path(&tar), name]);
        podman.run_ok(["import", "-q", "--change", change, path(&tar), name]);
    }
    for filter in [
        "label=x",
        "label=x=1",
        "label=y=3",
        "label=nothing",
        "reference=a",
        "reference=localhost/*",
    ] {
        let args = [
            "images",
            "--filter",
            filter,
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Labels}}",
        ];
        assert_eq!(
            sorted_lines(&s.ok(&args)),
            sorted_lines(&podman.run_ok(args)),
            "--filter {filter}"
        );
    }
    let two = [
        "images",
        "--filter",
        "label=x",
        "--filter",
        "reference=b",
        "--format",
        "{{.Repository}}",
    ];
    assert_eq!(s.ok(&two), podman.run_ok(two));
    let err = s.fails(&["images", "--filter", "colour=red"]);
    assert!(err.contains("invalid filter"), "{err}");
}

#[test]
fn history_prints_as_podman_prints_it() {
    let (s, podman, _, _) = both();
    for args in [
        &[
            "history",
            NAME,
            "--format",
            "table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        ][..],
        &[
            "history",
            NAME,
            "--format",
            "{{.ID}} {{.Size}} {{.CreatedBy}}",
        ],
        &[
            "history",
            NAME,
            "--no-trunc",
            "--format",
            "{{.ID}}|{{.CreatedBy}}",
        ],
        &["history", NAME, "-q"],
        &[
            "history",
            NAME,
            "--format",
            "{{.Created}}|{{.CreatedAt}}|{{.CreatedSince}}",
        ],
        &["history", NAME, "--format", "table {{.ID}} {{.Comment}}"],
    ] {
        let mine = s.ok(&[&["image"][..], args].concat());
        let theirs = podman.run_ok(args);
        assert_eq!(mine, theirs, "{args:?}\nstrata:\n{mine}\npodman:\n{theirs}");
    }
    let rows = s.ok(&["image", "history", NAME, "--noheading"]);
    assert!(
        rows.starts_with(&s.ok(&["image", "history", NAME, "-q"])[..12]),
        "{rows}"
    );
    let header = s.ok(&["image", "history", NAME]);
    let theirs = podman.run_ok(["history", NAME]);
    assert_eq!(header.lines().next(), theirs.lines().next());
}

#[test]
fn containers_list_with_an_image_column_and_filters_as_podman() {
    let (s, podman, three, _) = both();
    for (image, name) in [(NAME, "web"), ("localhost/five:1", "db"), (NAME, "web2")] {
        s.ok(&["container", "create", image, "--name", name]);
        podman.run_ok(["create", "-q", "--name", name, image, "true"]);
    }
    for filter in [
        &[][..],
        &["--filter", "name=web"],
        &["--filter", "name=^web$"],
        &["--filter", "ancestor=localhost/five:1"],
        &["--filter", &format!("ancestor={}", three.image_id)],
        &[
            "--filter",
            "name=web",
            "--filter",
            "ancestor=localhost/sample:1",
        ],
    ] {
        let args = [&["--format", "{{.Names}} {{.Image}}"][..], filter].concat();
        let mine = s.ok(&[&["containers"][..], &args].concat());
        let theirs = podman.run_ok([&["ps", "-a"][..], &args].concat());
        assert_eq!(sorted_lines(&mine), sorted_lines(&theirs), "{filter:?}");
    }
    // The order: oldest first, or as --sort says.
    for sort in [&[][..], &["--sort", "names"], &["--sort", "created"]] {
        let args = [&["--format", "{{.Names}}"][..], sort].concat();
        let mine = s.ok(&[&["containers"][..], &args].concat());
        let theirs = podman.run_ok([&["ps", "-a"][..], &args].concat());
        assert_eq!(mine, theirs, "{sort:?}");
    }
    let by_image = s.ok(&["containers", "--sort", "image", "--format", "{{.Image}}"]);
    assert_eq!(
        by_image,
        "localhost/five:1\nlocalhost/sample:1\nlocalhost/sample:1\n"
    );
    let json_by_name = json(&s.ok(&["containers", "--sort", "names", "--json"]));
    assert_eq!(json_by_name[0]["names"], json!(["db"]));
    let table = s.ok(&["containers"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("a header")
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        ["CONTAINER ID", "IMAGE", "LAYER", "CREATED", "NAMES"],
        "{table}"
    );
    assert!(
        table.contains("localhost/five:1") && table.contains(" ago "),
        "{table}"
    );
    assert_eq!(s.ok(&["containers", "-q"]).lines().count(), 3);
    assert_eq!(s.ok(&["containers", "-n"]).lines().count(), 3);
    let ids = s.ok(&["containers", "-q", "--filter", "name=db"]);
    let id = ids.trim();
    assert_eq!(id.len(), 12, "{ids}");
    assert_eq!(
        s.ok(&["containers", "-q", "--filter", &format!("id={id}")]),
        ids
    );
}

#[test]
fn inspect_takes_several_and_prints_an_array_or_a_template_per_item() {
    let (s, _podman, three, five) = both();
    let inspect = json(&s.ok(&["image", "inspect", NAME, "localhost/five:1"]));
    assert_eq!(inspect[0]["Id"], format!("sha256:{}", three.image_id));
    assert_eq!(inspect[1]["Id"], format!("sha256:{}", five.image_id));
    assert_eq!(
        s.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{len .Layers}}",
            NAME,
            "localhost/five:1"
        ]),
        format!("sha256:{} 3\nsha256:{} 5\n", three.image_id, five.image_id)
    );
    assert_eq!(
        json(&s.ok(&["image", "inspect", "--format", "json", NAME])),
        json(&s.ok(&["image", "inspect", NAME]))
    );

    let layers: Vec<String> = serde_json::from_value(inspect[0]["Layers"].clone()).expect("Layers");
    let mut args = vec!["layer", "inspect"];
    args.extend(layers.iter().map(String::as_str));
    let inspected = json(&s.ok(&args));
    assert_eq!(inspected.as_array().map(Vec::len), Some(3));
    assert_eq!(inspected[2]["id"], layers[2].as_str());
    args.extend(["--format", "{{.ID}} {{.Parent}} {{.DiffSize}}"]);
    let lines = s.ok(&args);
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(
        lines
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&format!("{} {} ", layers[1], layers[0]))),
        "{lines}"
    );
    let missing = s.fails(&["layer", "inspect", &layers[0], "nothing"]);
    assert!(missing.contains("nothing"), "{missing}");

    let a = s.ok(&["container", "create", NAME, "--name", "a"]);
    let b = s.ok(&["container", "create", NAME, "--name", "b"]);
    let both = json(&s.ok(&["container", "inspect", "a", "b"]));
    assert_eq!(both[0]["id"], a.trim());
    assert_eq!(both[1]["id"], b.trim());
    assert_eq!(
        s.ok(&["container", "inspect", "-f", "{{.ID}} {{.Names}}", "a", "b"]),
        format!("{} [a]\n{} [b]\n", a.trim(), b.trim())
    );
    assert_eq!(
        s.ok(&["status", "--format", "{{.Images}} {{.Containers}}"]),
        "2 2\n"
    );
    let status = json(&s.ok(&["status", "--format", "json"]));
    assert_eq!(json(&s.ok(&["status", "--json"])), status);
}

#[test]
fn listings_take_templates_and_json_alike() {
    let (s, _podman, three, _) = both();
    assert_eq!(
        s.ok(&["images", "--json"]),
        s.ok(&["images", "--format", "json"])
    );
    // --sort orders the JSON too: the smaller image first.
    let by_size = json(&s.ok(&["images", "--sort", "size", "--format", "json"]));
    assert_eq!(by_size[0]["Id"], three.image_id.as_str());
    let newest_first = json(&s.ok(&["images", "--format", "json"]));
    assert_ne!(newest_first[0]["Id"], three.image_id.as_str());
    assert_eq!(
        s.ok(&["layers", "--json"]),
        s.ok(&["layer", "ls", "--format", "json"])
    );
    let layers = s.ok(&["layers", "-q", "--no-trunc"]);
    assert_eq!(
        layers.lines().count(),
        3 + 5 - 2,
        "the two share their base layers: {layers}"
    );
    let table = s.ok(&["layers", "--format", "table {{.ID}} {{.DiffSize}}"]);
    assert!(
        table.starts_with("ID  ") && table.contains("DIFF SIZE"),
        "{table}"
    );
    assert_eq!(s.ok(&["layers", "--noheading"]).lines().count(), 6);
    let steps = s.ok(&["image", "history", NAME, "--format", "{{.ID}}"]);
    assert_eq!(steps.lines().next(), Some(&three.image_id[..12]));
    let both = s.output(&["images", "--json", "--format", "{{.ID}}"]);
    assert_eq!(both.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let err = s.fails(&["images", "--format", "{{.ID"]);
    assert!(err.contains("--format"), "{err}");
}

#[test]
fn without_all_intermediate_images_are_hidden() {
    let (s, podman, three, five) = both();
    // A child of the sample: a commit of a container made on it.
    s.ok(&["container", "create", NAME, "--name", "c"]);
    let child = s.ok(&["commit", "c", "localhost/child:1"]);
    podman.run_ok(["create", "-q", "--name", "c", NAME, "true"]);
    podman.run_ok(["commit", "-q", "c", "localhost/child:1"]);
    let layers = |image: &str| json(&s.ok(&["image", "inspect", image]))[0]["Layers"].clone();
    let (parent, child_layers) = (layers(NAME), layers(child.trim()));
    assert!(
        child_layers
            .as_array()
            .is_some_and(|c| c.starts_with(parent.as_array().expect("layers"))),
        "{child_layers}"
    );
    // Unnamed, the sample is the base of the child: an intermediate
    // image, hidden without -a, and not dangling.
    s.ok(&["image", "untag", NAME]);
    podman.run_ok(["untag", NAME]);
    for args in [
        &["images", "--format", "{{.Repository}}:{{.Tag}}"][..],
        &["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
        &[
            "images",
            "-a",
            "--filter",
            "dangling=true",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
        &[
            "images",
            "-a",
            "--filter",
            "dangling=false",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    ] {
        let (mine, theirs) = (s.ok(args), podman.run_ok(args));
        assert_eq!(sorted_lines(&mine), sorted_lines(&theirs), "{args:?}");
    }
    let shown = s.ok(&["images", "-q", "--no-trunc"]);
    assert!(!shown.contains(&three.image_id), "{shown}");
    assert!(shown.contains(&five.image_id), "{shown}");
    let all = s.ok(&["images", "-a", "-q", "--no-trunc"]);
    assert!(all.contains(&three.image_id), "{all}");
    // Without its child, the unnamed one is dangling (podman's rmi would
    // take the unnamed parent away with the child, so strata alone).
    s.ok(&["image", "rm", "localhost/child:1"]);
    let table = s.ok(&["images"]);
    assert!(table.contains("<none>"), "{table}");
    assert_eq!(
        s.ok(&["images", "--filter", "dangling=true", "-q", "--no-trunc"])
            .trim(),
        three.image_id
    );
}

/// The shape of a JSON value: objects keep their keys, arrays their
/// first element's shape, scalars become their type's name.
fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

/// Compares `value`'s shape with `golden/NAME.json`, or writes it there
/// when `STRATA_BLESS` is set.
fn golden(name: &str, value: &Value) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cli/golden/{name}.json"));
    let got = serde_json::to_string_pretty(&shape(value)).expect("JSON") + "\n";
    if std::env::var_os("STRATA_BLESS").is_some() {
        std::fs::write(&file, &got).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with STRATA_BLESS=1 to write it",
            file.display()
        )
    });
    assert_eq!(
        got, want,
        "the JSON of {name} changed shape; if on purpose, rerun with STRATA_BLESS=1 and document it in docs/cli.md"
    );
}

#[test]
fn json_schemas_are_the_documented_ones() {
    let (s, _podman, _, _) = both();
    let tar = write_tar(s.dir.path(), "root.tar", 1, 10);
    s.ok(&[
        "import",
        "-c",
        "LABEL a=b",
        path(&tar),
        "localhost/labelled:1",
    ]);
    s.ok(&["container", "create", NAME, "--name", "web"]);
    let labelled = json(&s.ok(&["images", "--format", "json", "--filter", "label=a"]));
    golden("images", &labelled);
    golden(
        "image-inspect",
        &json(&s.ok(&["image", "inspect", "localhost/labelled:1"])),
    );
    golden(
        "history",
        &json(&s.ok(&["image", "history", NAME, "--format", "json"])),
    );
    golden("layers", &json(&s.ok(&["layers", "--format", "json"])));
    let layer = s.ok(&["layers", "-q", "--no-trunc"]);
    let layer = layer.lines().next().expect("a layer");
    golden("layer-inspect", &json(&s.ok(&["layer", "inspect", layer])));
    golden(
        "containers",
        &json(&s.ok(&["containers", "--format", "json"])),
    );
    golden(
        "container-inspect",
        &json(&s.ok(&["container", "inspect", "web"])),
    );
    golden("status", &json(&s.ok(&["status", "--format", "json"])));
}

//! Image names as podman gives and finds them for local images: `image
//! tag`, `commit` and `import` put a short name under `localhost/`, and a
//! short name is looked up as `localhost/NAME`, then `docker.io/library/
//! NAME`, then as an id prefix, then as any `*/NAME`. Each case runs the
//! same commands in podman and in strata and compares what they found.
//! A name that finds nothing is an error that offers the closest names.

use std::path::Path;

use serde_json::Value;

use crate::store_support::{CliStore, write_tar};
use testkit::peers::{Podman, SampleImage, sample_image};

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Two sample images, loaded into a strata store and into a podman one.
struct Both {
    strata: CliStore,
    podman: Podman,
    one: SampleImage,
    two: SampleImage,
}

impl Both {
    fn new() -> Both {
        let strata = CliStore::new();
        let podman = Podman::new();
        let dir = strata.dir.path();
        let one = sample_image(
            &dir.join("one.tar"),
            &["--name", "localhost/sample:1", "--layers", "1"],
        );
        let two = sample_image(
            &dir.join("two.tar"),
            &["--name", "localhost/other:1", "--layers", "2"],
        );
        for image in [&one, &two] {
            strata.ok(&["load", "-q", "-i", arg(&image.path)]);
            podman.run_ok(["load", "-q", "-i", arg(&image.path)]);
        }
        Both {
            strata,
            podman,
            one,
            two,
        }
    }

    /// `tag IMAGE NAME...` in both.
    fn tag(&self, image: &str, names: &[&str]) {
        let mut args = vec!["image", "tag", image];
        args.extend_from_slice(names);
        self.strata.ok(&args);
        self.podman.run_ok(&args);
    }

    /// Every `name → id` both stores hold, sorted.
    fn names(&self) -> (Vec<String>, Vec<String>) {
        let strata: Value =
            serde_json::from_str(&self.strata.ok(&["images", "--json"])).expect("JSON");
        let mut ours: Vec<String> = strata
            .as_array()
            .expect("an array")
            .iter()
            .flat_map(|image| {
                let id = image["Id"].as_str().expect("id").to_string();
                image["Names"]
                    .as_array()
                    .expect("names")
                    .iter()
                    .map(move |name| format!("{} {id}", name.as_str().expect("a name")))
            })
            .collect();
        ours.sort();
        let listed = self.podman.run_ok([
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
        ]);
        let mut theirs: Vec<String> = listed
            .lines()
            .map(|line| line.replace("sha256:", ""))
            .collect();
        theirs.sort();
        (ours, theirs)
    }

    /// The image id `reference` finds in strata and in podman (`None`
    /// where it finds nothing).
    fn find(&self, reference: &str) -> (Option<String>, Option<String>) {
        let out = self.strata.output(&["image", "inspect", reference]);
        let ours = out.status.success().then(|| {
            let found: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            found[0]["Id"]
                .as_str()
                .expect("Id")
                .trim_start_matches("sha256:")
                .to_string()
        });
        let out = self
            .podman
            .run(["image", "inspect", "--format", "{{.Id}}", reference]);
        let theirs = out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string());
        (ours, theirs)
    }
}

#[test]
fn tag_names_short_names_as_podman_does() {
    let both = Both::new();
    both.tag(
        "sample:1",
        &[
            "sample:2",
            "team/app",
            "docker.io/library/sample:3",
            "quay.io/foo/sample:4",
            "localhost:5000/reg:1",
        ],
    );
    let (ours, theirs) = both.names();
    assert_eq!(ours, theirs);
    assert!(
        ours.iter().any(|n| n.starts_with("localhost/sample:2 ")),
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .any(|n| n.starts_with("localhost/team/app:latest ")),
        "{ours:?}"
    );
}

#[test]
fn lookups_find_what_podman_finds_in_its_order() {
    let both = Both::new();
    let (one, two) = (&both.one.image_id, &both.two.image_id);
    // `sample:1` is localhost/sample:1 (one) and docker.io/library/sample:1
    // (two): the local name wins. `sample:2` is only quay.io/z/sample:2
    // (two), found last, by its ending.
    both.tag(
        "other:1",
        &["docker.io/library/sample:1", "quay.io/z/sample:2"],
    );
    // A name that is also the start of the other image's id: the name
    // wins over the id prefix.
    let prefix = &two[..8];
    both.tag("sample:1", &[&format!("{prefix}:latest"), "team/deep:1"]);
    both.tag("sample:1", &["quay.io/foo/solo:4"]);
    let cases: Vec<(&str, Option<&String>)> = vec![
        ("sample:1", Some(one)),
        ("localhost/sample:1", Some(one)),
        ("docker.io/library/sample:1", Some(two)),
        ("docker.io/sample:1", Some(two)),
        ("sample:2", Some(two)),
        ("z/sample:2", Some(two)),
        ("solo:4", Some(one)),
        ("foo/solo:4", Some(one)),
        ("oo/solo:4", None),
        ("deep:1", Some(one)),
        ("other", None),
        ("other:1", Some(two)),
        (prefix, Some(one)),
        (&two[..12], Some(two)),
        ("sample:9", None),
        ("quay.io/sample:2", None),
    ];
    for (reference, want) in cases {
        let (ours, theirs) = both.find(reference);
        assert_eq!(ours, theirs, "{reference}: strata vs podman");
        assert_eq!(ours.as_ref(), want, "{reference}");
    }
}

#[test]
fn import_and_commit_name_short_names_under_localhost() {
    let both = Both::new();
    let tar = write_tar(both.strata.dir.path(), "rootfs.tar", 3, 100);
    let ours = both.strata.ok(&["import", arg(&tar), "imported"]);
    let theirs = both.podman.run_ok(["import", "-q", arg(&tar), "imported"]);
    assert_eq!(ours.trim().len(), 64, "{ours}");
    assert!(!theirs.trim().is_empty());
    let (ours, theirs) = both.names();
    let pick = |all: &[String]| -> Vec<String> {
        all.iter()
            .filter(|n| n.contains("imported"))
            .map(|n| n.split(' ').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(pick(&ours), pick(&theirs));
    assert_eq!(pick(&ours), ["localhost/imported:latest"]);

    both.strata
        .ok(&["container", "create", "imported", "--name", "box"]);
    both.strata.ok(&["commit", "box", "snap:1"]);
    let inspect: Value =
        serde_json::from_str(&both.strata.ok(&["image", "inspect", "snap:1"])).expect("JSON");
    assert_eq!(inspect[0]["RepoTags"][0], "localhost/snap:1");
}

#[test]
fn rmi_and_untag_take_the_name_a_short_name_finds() {
    let both = Both::new();
    both.tag("sample:1", &["docker.io/library/hub:1", "mine:1"]);
    // `untag` takes local names only, as podman's.
    let out = both.strata.output(&["image", "untag", "sample:1", "hub:1"]);
    assert!(!out.status.success());
    let theirs = both.podman.run(["untag", "sample:1", "hub:1"]);
    assert!(!theirs.status.success());
    both.strata.ok(&["image", "untag", "sample:1", "mine:1"]);
    both.podman.run_ok(["untag", "sample:1", "mine:1"]);
    // `rmi hub:1` of an image with other names takes only that name.
    let ours = both.strata.ok(&["rmi", "hub:1"]);
    let theirs = both.podman.run_ok(["rmi", "hub:1"]);
    assert_eq!(ours, "Untagged: docker.io/library/hub:1\n");
    assert_eq!(ours, theirs);
    let (ours, theirs) = both.names();
    assert_eq!(ours, theirs);
}

#[test]
fn not_found_errors_offer_the_closest_names() {
    let both = Both::new();
    let s = &both.strata;
    s.ok(&["image", "tag", "sample:1", "sample:2"]);
    let err = s.fails(&["image", "inspect", "sampel:2"]);
    assert!(
        err.contains(
            r#"image "sampel:2" not found; did you mean localhost/sample:2 or localhost/sample:1?"#
        ),
        "{err}"
    );
    let err = s.fails(&["image", "tag", "othr:1", "x"]);
    assert!(err.contains("did you mean localhost/other:1?"), "{err}");
    let err = s.fails(&["image", "inspect", "zzz"]);
    assert!(!err.contains("did you mean"), "nothing close: {err}");
    let out = s.output(&["image", "exists", "sampel:2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "exists prints nothing");
}

//! The `Store` methods that move images, used as a caller uses them:
//! `load_path` on archives and layout directories, `save_path`, `save` and
//! `save_layout` with plain images (saved under all their names) or with
//! the items `save_item` picks, and `copy` between locations.

use std::path::Path;

use strata::{Error, Image, Location, SaveFormat};
use testkit::TarBuilder;
use testkit::image_archive as ia;

use crate::common::TestStore;

fn image(label: &str, tags: &[&str]) -> ia::Image {
    let tar = TarBuilder::default()
        .dir("etc/")
        .file("etc/label", label.as_bytes())
        .finish();
    ia::Image::new(label, tags, vec![ia::Layer::plain(tar)])
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Loads one image with two names from an archive file.
fn loaded(t: &TestStore) -> Image {
    let archive = ia::docker_modern(&[image("app", &["app:1", "app:latest"])]).to_tar();
    let path = write(t.dir.path(), "in.tar", &archive);
    let report = t.store.load_path(&path).expect("load_path");
    assert_eq!(report.images.len(), 1);
    t.store.image("app:1").expect("loaded")
}

#[test]
fn plain_images_are_saved_under_all_their_names() {
    let t = TestStore::new();
    let app = loaded(&t);
    assert_eq!(app.names.len(), 2);
    for format in [SaveFormat::DockerArchive, SaveFormat::OciArchive] {
        let out = t.dir.path().join(format!("{format:?}.tar"));
        let report = t.store.save_path(&[&app], format, &out).expect("save_path");
        assert_eq!((report.images, report.layers), (1, 1));
        assert_eq!(report.bytes, std::fs::metadata(&out).expect("out").len());
        // `save` to a writer gives the same bytes.
        let mut bytes = Vec::new();
        t.store
            .save(std::slice::from_ref(&app), format, &mut bytes)
            .expect("save");
        assert_eq!(bytes, std::fs::read(&out).expect("read"), "{format:?}");

        let other = TestStore::new();
        let report = other.store.load_path(&out).expect("load back");
        assert_eq!(report.images.len(), 1);
        assert_eq!(report.images[0].id, app.id, "{format:?}");
        assert_eq!(
            sorted(report.images[0].names.clone()),
            sorted(app.names.clone()),
            "{format:?}"
        );
    }
}

#[test]
fn save_item_records_the_name_asked_for_and_none_for_an_id() {
    let t = TestStore::new();
    let app = loaded(&t);
    let by_name = t.store.save_item("app:latest").expect("by name");
    let by_id = t.store.save_item(&app.id[..12]).expect("by id");
    let out = t.dir.path().join("out.tar");
    t.store
        .save_path(&[by_name], SaveFormat::DockerArchive, &out)
        .expect("save by name");
    let other = TestStore::new();
    let report = other.store.load_path(&out).expect("load");
    assert_eq!(
        report.images[0].names,
        vec!["docker.io/library/app:latest".to_string()]
    );

    t.store
        .save_path(&[by_id], SaveFormat::DockerArchive, &out)
        .expect("save by id");
    let other = TestStore::new();
    let report = other.store.load_path(&out).expect("load");
    assert_eq!(report.images[0].id, app.id);
    assert!(report.images[0].names.is_empty(), "asked by id: untagged");

    assert!(matches!(
        t.store.save_item("missing:1"),
        Err(Error::ImageNotFound(_))
    ));
}

#[test]
fn load_path_reads_a_layout_directory() {
    let t = TestStore::new();
    let dir = t.dir.path().join("layout");
    std::fs::create_dir(&dir).expect("mkdir");
    ia::oci_layout(&[image("one", &["one:1"]), image("two", &["two:1"])]).write_dir(&dir);
    let report = t.store.load_path(&dir).expect("load layout");
    assert_eq!(report.images.len(), 2);
    assert_eq!(report.imported, 2);

    let missing = t.dir.path().join("missing.tar");
    assert!(matches!(t.store.load_path(&missing), Err(Error::Io { .. })));
}

#[test]
fn save_layout_and_copy_with_skopeo_names() {
    let t = TestStore::new();
    let app = loaded(&t);
    let dir = t.dir.path().join("layout");
    let report = t.store.save_layout(&[&app], &dir).expect("save_layout");
    assert_eq!(report.images, 1);
    let other = TestStore::new();
    let report = other.store.load_path(&dir).expect("load the layout");
    assert_eq!(
        sorted(report.images[0].names.clone()),
        sorted(app.names.clone())
    );

    // Out through copy, with the store named as skopeo names it.
    let copied = t.dir.path().join("copied");
    let from: Location = "containers-storage:app:1".parse().expect("from");
    let to: Location = format!("oci:{}:v1", copied.display()).parse().expect("to");
    t.store.copy(&from, &to).expect("copy out");
    let third = TestStore::new();
    let from: Location = format!("oci:{}:v1", copied.display())
        .parse()
        .expect("from");
    let to: Location = "strata:localhost/copied:1".parse().expect("to");
    third.store.copy(&from, &to).expect("copy in");
    assert_eq!(
        third.store.image("localhost/copied:1").expect("copied").id,
        app.id
    );
}

#[test]
fn save_path_refuses_a_directory_and_leaves_it_alone() {
    let t = TestStore::new();
    let app = loaded(&t);
    let dir = t.dir.path().join("a-directory");
    std::fs::create_dir(&dir).expect("mkdir");
    let error = t
        .store
        .save_path(&[app], SaveFormat::OciArchive, &dir)
        .expect_err("a directory is no archive");
    assert!(matches!(error, Error::UnusableOutput { .. }), "{error}");
    assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 0);
}

#[test]
fn saving_no_images_fails() {
    let t = TestStore::new();
    let none: [Image; 0] = [];
    let mut out = Vec::new();
    let error = t
        .store
        .save(&none, SaveFormat::DockerArchive, &mut out)
        .expect_err("nothing to save");
    assert!(matches!(error, Error::Invalid(_)), "{error}");
    assert!(out.is_empty());
}

/// docs/library.md tells callers to share one store between threads: the
/// store and what it hands out must be `Send + Sync` (a compile-time check).
#[test]
fn the_store_and_its_records_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<strata::Store>();
    shareable::<strata::Image>();
    shareable::<strata::Container>();
    shareable::<strata::Layer>();
    shareable::<strata::Error>();
}

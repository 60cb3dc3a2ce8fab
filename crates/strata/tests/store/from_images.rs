//! Containers made from images: the image reference resolves to its top
//! layer and the container records the image; image-or-layer fallback;
//! removing an image that containers were made from; the schema migration
//! that added the image column.

use strata::store::Image;
use strata::{ContainerOptions, Error};
use testkit::TarBuilder;
use testkit::image_archive as ia;

use crate::common::TestStore;

fn tar(tag: &str) -> Vec<u8> {
    TarBuilder::default()
        .dir("etc/")
        .file("etc/tag", tag.as_bytes())
        .file(&format!("{tag}.txt"), tag.as_bytes())
        .finish()
}

/// Loads an image of `layers` (tags of tiny layers) named `name`.
pub fn load_image(t: &TestStore, label: &str, name: &str, layers: &[&str]) -> Image {
    let layers = layers.iter().map(|l| ia::Layer::plain(tar(l))).collect();
    let image = ia::Image::new(label, &[name], layers);
    t.load(label, &image)
}

#[test]
fn a_container_from_an_image_records_it() {
    let t = TestStore::new();
    let image = load_image(&t, "app", "localhost/app:1", &["base", "app"]);
    let top = image.top_layer.clone().expect("top layer");
    for reference in [
        "localhost/app:1".to_string(),
        image.id.clone(),
        format!("sha256:{}", image.id),
        image.id[..12].to_string(),
    ] {
        let c = t
            .store
            .create_container(&ContainerOptions::from_image(&reference))
            .unwrap_or_else(|e| panic!("create from {reference}: {e}"));
        assert_eq!(c.image.as_deref(), Some(image.id.as_str()), "{reference}");
        assert_eq!(c.base.as_deref(), Some(top.as_str()), "{reference}");
        let root = t.store.mount_container(&c.id).expect("mount");
        assert_eq!(std::fs::read(root.join("etc/tag")).expect("read"), b"app");
        assert_eq!(std::fs::read(root.join("base.txt")).expect("read"), b"base");
        t.store.unmount_container(&c.id).expect("unmount");
        let listed = t.reopen().container(&c.id).expect("lookup");
        assert_eq!(listed, c, "the record survives a reopen");
        t.store.delete_container(&c.id, false).expect("rm");
    }
    // An image is not looked up as a layer, nor a layer as an image.
    assert!(matches!(
        t.store
            .create_container(&ContainerOptions::from_image(&top)),
        Err(Error::ImageNotFound(_))
    ));
    assert!(matches!(
        t.store
            .create_container(&ContainerOptions::on_layer("localhost/app:1")),
        Err(Error::LayerNotFound(_))
    ));
    let on_layer = t
        .store
        .create_container(&ContainerOptions::on_layer(&top))
        .expect("on the layer");
    assert_eq!(on_layer.image, None);
    assert_eq!(on_layer.base.as_deref(), Some(top.as_str()));
    assert!(t.store.containers().expect("list").len() == 1);
}

#[test]
fn image_or_layer_looks_for_an_image_first() {
    let t = TestStore::new();
    let image = load_image(&t, "app", "app:1", &["one"]);
    let layer = t.import(&tar("bare"), None, &["bare"]).expect("layer");
    let from_image = t
        .store
        .create_container(&ContainerOptions::from_image_or_layer("app:1"))
        .expect("image");
    assert_eq!(from_image.image.as_deref(), Some(image.id.as_str()));
    assert_eq!(from_image.base, image.top_layer);
    let from_layer = t
        .store
        .create_container(&ContainerOptions::from_image_or_layer("bare"))
        .expect("layer");
    assert_eq!(from_layer.image, None);
    assert_eq!(from_layer.base.as_deref(), Some(layer.id.as_str()));
    // A layer that is also named as an image resolves to the image.
    t.store
        .add_names(&layer.id, &["app:1".into()])
        .expect("name");
    let again = t
        .store
        .create_container(&ContainerOptions::from_image_or_layer("app:1"))
        .expect("image again");
    assert_eq!(again.image.as_deref(), Some(image.id.as_str()));
    assert!(matches!(
        t.store
            .create_container(&ContainerOptions::from_image_or_layer("nothing")),
        Err(Error::LayerNotFound(_))
    ));
    assert_eq!(t.store.containers().expect("list").len(), 3);
}

#[test]
fn an_image_without_layers_gives_an_empty_container() {
    let t = TestStore::new();
    let image = load_image(&t, "empty", "empty:1", &[]);
    assert_eq!(image.top_layer, None);
    let c = t
        .store
        .create_container(&ContainerOptions::from_image("empty:1"))
        .expect("create");
    assert_eq!((c.base, c.image), (None, Some(image.id)));
}

#[test]
fn removing_an_image_a_container_was_made_from_is_refused() {
    let t = TestStore::new();
    let image = load_image(&t, "app", "app:1", &["base", "app"]);
    let c = t
        .store
        .create_container(&ContainerOptions {
            names: vec!["web".into()],
            ..ContainerOptions::from_image("app:1")
        })
        .expect("create");
    match t.store.delete_image("app:1", false) {
        Err(e @ Error::ImageInUse { .. }) => {
            assert!(e.to_string().contains(&c.id), "{e}");
            let Error::ImageInUse {
                image: id,
                containers,
            } = e
            else {
                unreachable!()
            };
            assert_eq!((id, containers), (image.id.clone(), vec![c.id.clone()]));
        }
        other => panic!("expected ImageInUse, got {other:?}"),
    }
    assert!(t.store.image("app:1").is_ok() && t.store.container("web").is_ok());
    let removed = t.store.delete_image("app:1", true).expect("forced");
    assert_eq!(removed.containers, vec![c.id.clone()]);
    assert!(matches!(
        t.store.container("web"),
        Err(Error::ContainerNotFound(_))
    ));
    t.assert_only(&[]);
}

#[test]
fn a_store_of_schema_4_migrates() {
    let t = TestStore::new();
    let image = load_image(&t, "app", "app:1", &["base"]);
    let old = t
        .store
        .create_container(&ContainerOptions::on_layer(
            image.top_layer.clone().expect("top"),
        ))
        .expect("create");
    {
        let db = rusqlite::Connection::open(t.root().join("strata.db")).expect("db");
        db.execute_batch(
            "DROP INDEX containers_by_image; ALTER TABLE containers DROP COLUMN image_id; \
             PRAGMA user_version = 4;",
        )
        .expect("back to schema 4");
    }
    let store = t.reopen();
    assert_eq!(store.status().expect("status").schema_version, 5);
    let kept = store.container(&old.id).expect("kept");
    assert_eq!(kept.image, None);
    assert_eq!(kept.base, old.base);
    let new = store
        .create_container(&ContainerOptions::from_image("app:1"))
        .expect("create");
    assert_eq!(new.image.as_deref(), Some(image.id.as_str()));
    // The old container, on the image's top layer, still keeps the image.
    assert!(matches!(
        store.delete_image("app:1", false),
        Err(Error::ImageInUse { containers, .. }) if containers.len() == 2
    ));
}

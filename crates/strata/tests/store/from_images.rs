//! Containers made from images and images made from containers: the image
//! reference resolves to its top layer and the container records the
//! image; image-or-layer fallback; removing an image that containers were
//! made from; the schema migration that added the image column; commit
//! (ChainID layer, config changes, manifest) and its rejections.

use strata::Image;
use strata::digest::Digest;
use strata::{CommitOptions, ContainerOptions, Error};
use testkit::image_archive as ia;
use testkit::{TarBuilder, sha256};

use crate::common::{TestStore, diff};

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
            "DROP TABLE index_images; DROP TABLE image_indexes; DROP TABLE image_blobs; DROP TABLE blob_sources; \
             DROP INDEX containers_by_image; ALTER TABLE containers DROP COLUMN image_id; \
             PRAGMA user_version = 4;",
        )
        .expect("back to schema 4");
    }
    let store = t.reopen();
    assert_eq!(store.status().expect("status").schema_version, 8);
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

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("JSON")
}

fn layer_ids(t: &TestStore) -> Vec<String> {
    let mut ids: Vec<String> = t
        .store
        .layers()
        .expect("layers")
        .into_iter()
        .map(|l| l.id)
        .collect();
    ids.sort();
    ids
}

/// Checks what every committed image must be: layers stored under their
/// ChainIDs, each giving back the tar its diff id names, and one OCI
/// manifest naming the config and those tars.
fn assert_consistent(t: &TestStore, image: &Image) -> serde_json::Value {
    let bytes = t.store.image_config_bytes(image).expect("config");
    assert_eq!(sha256(&bytes), image.id);
    let config = json(&bytes);
    let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|d| Digest::parse(d.as_str().expect("text")).expect("digest"))
        .collect();
    let chain: Vec<String> = strata::image::chain_ids(&diff_ids)
        .iter()
        .map(|d| d.hex().to_string())
        .collect();
    assert_eq!(image.layers, chain);
    let top = image.layers.last().expect("a layer");
    assert_eq!(
        format!("sha256:{}", sha256(&diff(&t.store, top))),
        diff_ids.last().expect("diff id").to_string(),
        "the new layer's diff is its diff id"
    );
    assert_eq!(image.manifests.len(), 1);
    let manifest = json(&t.store.blob(&image.manifests[0]).expect("manifest"));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["config"]["digest"], format!("sha256:{}", image.id));
    assert_eq!(manifest["config"]["size"], bytes.len());
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest"))
        .collect();
    let want: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    assert_eq!(layers, want);
    config
}

#[test]
fn commit_makes_an_image_of_the_container() {
    let t = TestStore::new();
    let base = load_image(&t, "app", "app:1", &["base", "app"]);
    let c = t
        .store
        .create_container(&ContainerOptions {
            names: vec!["work".into()],
            ..ContainerOptions::from_image("app:1")
        })
        .expect("create");
    let root = t.store.mount_container("work").expect("mount");
    std::fs::write(root.join("hello"), b"hi").expect("write");
    std::fs::remove_file(root.join("base.txt")).expect("delete");
    t.store.unmount_container("work").expect("unmount");

    let options = CommitOptions {
        names: vec!["localhost/hello:1".into()],
        changes: vec![
            "ENV GREETING=hi".into(),
            r#"CMD ["/hello"]"#.into(),
            "LABEL x=y".into(),
        ],
        author: Some("Ann <ann@example.org>".into()),
        message: Some("say hi".into()),
        created_by: None,
    };
    let image = t.store.commit("work", &options).expect("commit");
    assert_eq!(image.names, vec!["localhost/hello:1".to_string()]);
    assert_eq!(image.layers[..2], base.layers[..]);
    assert_eq!(image.layers.len(), 3);
    let config = assert_consistent(&t, &image);
    assert_eq!(
        config["config"]["Labels"],
        serde_json::json!({"test": "app", "x": "y"})
    );
    assert_eq!(config["config"]["Env"], serde_json::json!(["GREETING=hi"]));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/hello"]));
    assert_eq!(config["author"], "Ann <ann@example.org>");
    assert_eq!(config["os"], "linux");
    assert_ne!(config["created"], "2024-01-02T03:04:05Z");
    let history = config["history"].as_array().expect("history");
    let last = history.last().expect("an entry");
    assert_eq!(last["comment"], "say hi");
    assert_eq!(last["created_by"], "strata commit");
    assert_eq!(last["author"], "Ann <ann@example.org>");
    assert_eq!(last["created"], config["created"]);
    assert_eq!(
        t.store.image("localhost/hello:1").expect("by name").id,
        image.id
    );

    // A container of the new image sees the changes.
    let next = t
        .store
        .create_container(&ContainerOptions::from_image("localhost/hello:1"))
        .expect("create from the commit");
    let root = t.store.mount_container(&next.id).expect("mount");
    assert_eq!(std::fs::read(root.join("hello")).expect("read"), b"hi");
    assert!(!root.join("base.txt").exists());
    assert_eq!(std::fs::read(root.join("app.txt")).expect("read"), b"app");
    t.store.unmount_container(&next.id).expect("unmount");

    // The same changes again are the same layer; the container stays.
    let again = t
        .store
        .commit(&c.id[..12], &CommitOptions::default())
        .expect("again");
    assert_eq!(again.layers, image.layers);
    assert_ne!(again.id, image.id, "a new creation time, a new config");
    assert!(t.store.container("work").is_ok());
    assert!(t.store.fsck(false).expect("fsck").clean);
}

#[test]
fn commit_of_containers_without_an_image() {
    let t = TestStore::new();
    let image = load_image(&t, "app", "app:1", &["base", "app"]);
    // On an image's layers, named as layers: a fresh config over them.
    let on_top = t
        .store
        .create_container(&ContainerOptions::on_layer(
            image.top_layer.clone().expect("top"),
        ))
        .expect("create");
    let committed = t
        .store
        .commit(&on_top.id, &CommitOptions::default())
        .expect("commit");
    let config = assert_consistent(&t, &committed);
    assert_eq!(committed.layers[..2], image.layers[..]);
    assert_eq!(config["architecture"], testkit::image_archive::host_arch());
    assert_eq!(config["history"].as_array().expect("history").len(), 1);
    assert!(committed.names.is_empty());

    // On nothing: a one-layer image.
    let empty = t
        .store
        .create_container(&ContainerOptions::default())
        .expect("create");
    let root = t.store.mount_container(&empty.id).expect("mount");
    std::fs::write(root.join("only"), b"1").expect("write");
    t.store.unmount_container(&empty.id).expect("unmount");
    let one = t
        .store
        .commit(&empty.id, &CommitOptions::default())
        .expect("commit");
    assert_eq!(one.layers.len(), 1);
    assert_consistent(&t, &one);

    // On a layer of its own (a random id): the stack is copied under its
    // ChainIDs, the layer itself stays.
    let bare = t.import(&tar("bare"), None, &["bare"]).expect("layer");
    let c = t
        .store
        .create_container(&ContainerOptions::on_layer(&bare.id))
        .expect("create");
    let root = t.store.mount_container(&c.id).expect("mount");
    std::fs::write(root.join("more"), b"more").expect("write");
    t.store.unmount_container(&c.id).expect("unmount");
    let copied = t
        .store
        .commit(&c.id, &CommitOptions::default())
        .expect("commit");
    assert_consistent(&t, &copied);
    let diff_id = bare.diff_digest.clone().expect("diff digest");
    assert_eq!(copied.layers[0], diff_id.hex());
    assert_ne!(copied.layers[0], bare.id);
    assert_eq!(t.store.layer("bare").expect("kept").id, bare.id);
    let next = t
        .store
        .create_container(&ContainerOptions::from_image(&copied.id))
        .expect("create from the commit");
    let root = t.store.mount_container(&next.id).expect("mount");
    assert_eq!(std::fs::read(root.join("bare.txt")).expect("read"), b"bare");
    assert_eq!(std::fs::read(root.join("more")).expect("read"), b"more");
    t.store.unmount_container(&next.id).expect("unmount");

    // On a layer not made from a tar: refused, nothing left behind.
    let empty_layer = t
        .store
        .create_layer(&strata::CreateOptions::default())
        .expect("empty layer");
    let c = t
        .store
        .create_container(&ContainerOptions::on_layer(&empty_layer.id))
        .expect("create");
    let before = (layer_ids(&t), t.store.images().expect("images").len());
    match t.store.commit(&c.id, &CommitOptions::default()) {
        Err(Error::Invalid(reason)) => assert!(reason.contains("diff digest"), "{reason}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        before,
        (layer_ids(&t), t.store.images().expect("images").len())
    );
    assert!(t.store.fsck(false).expect("fsck").clean);
}

#[test]
fn commit_rejections_leave_the_store_as_it_was() {
    let t = TestStore::new();
    load_image(&t, "app", "app:1", &["base"]);
    let c = t
        .store
        .create_container(&ContainerOptions::from_image("app:1"))
        .expect("create");
    let root = t.store.mount_container(&c.id).expect("mount");
    std::fs::write(root.join("new"), b"new").expect("write");
    t.store.unmount_container(&c.id).expect("unmount");
    let before = (layer_ids(&t), t.store.images().expect("images").len());
    let bad = CommitOptions {
        changes: vec!["RUN make".into()],
        ..CommitOptions::default()
    };
    match t.store.commit(&c.id, &bad) {
        Err(Error::InvalidChange { change, .. }) => assert_eq!(change, "RUN make"),
        other => panic!("expected InvalidChange, got {other:?}"),
    }
    assert!(matches!(
        t.store
            .commit("no-such-container", &CommitOptions::default()),
        Err(Error::ContainerNotFound(_))
    ));
    assert_eq!(
        before,
        (layer_ids(&t), t.store.images().expect("images").len())
    );
    assert!(t.entries("staging").is_empty());
}

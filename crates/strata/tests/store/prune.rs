//! Pruning, disk usage and image mounts: which images, containers and layers
//! `prune_images`, `prune_containers` and `prune_system` take, what they
//! report, what `disk_usage` counts, and image mounts by name.

use strata::{CommitOptions, ContainerOptions, PruneOptions, Store};
use testkit::TarBuilder;

use crate::common::TestStore;

/// An image of one layer holding `files` files of 1000 bytes.
fn image(store: &Store, files: usize, names: &[&str]) -> strata::Image {
    let mut builder = TarBuilder::default();
    for i in 0..files {
        builder = builder.file(&format!("f{i}"), &[i as u8; 1000]);
    }
    let tar = builder.finish();
    let options = CommitOptions {
        names: names.iter().map(|n| n.to_string()).collect(),
        ..CommitOptions::default()
    };
    store.import_image(&mut &tar[..], &options).expect("import")
}

fn ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .images()
        .expect("images")
        .into_iter()
        .map(|i| i.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn prune_images_takes_dangling_then_unused_images() {
    let t = TestStore::new();
    let s = &t.store;
    let named = image(s, 1, &["localhost/named:1"]);
    let dangling = image(s, 2, &[]);
    let used = image(s, 3, &[]);
    s.create_container(&ContainerOptions::from_image(used.id.clone()))
        .expect("container");

    let dry = s
        .prune_images(&PruneOptions {
            all: false,
            dry_run: true,
        })
        .expect("dry prune");
    assert_eq!(dry.removed, vec![dangling.id.clone()]);
    assert_eq!(dry.bytes, dangling.size);
    assert_eq!(ids(s).len(), 3);

    let report = s.prune_images(&PruneOptions::default()).expect("prune");
    assert_eq!(report.removed, vec![dangling.id.clone()]);
    assert_eq!(report.layers, dangling.layers);
    assert_eq!(report.bytes, dangling.size);
    let mut left = vec![named.id.clone(), used.id.clone()];
    left.sort();
    assert_eq!(ids(s), left);

    let all = s
        .prune_images(&PruneOptions {
            all: true,
            dry_run: false,
        })
        .expect("prune all");
    assert_eq!(all.removed, vec![named.id]);
    assert_eq!(ids(s), vec![used.id]);
}

#[test]
fn an_unnamed_image_with_a_child_is_not_dangling() {
    let t = TestStore::new();
    let s = &t.store;
    let base = image(s, 1, &[]);
    let container = s
        .create_container(&ContainerOptions::from_image(base.id.clone()))
        .expect("container");
    let child = s
        .commit(
            &container.id,
            &CommitOptions {
                names: vec!["localhost/child:1".into()],
                ..CommitOptions::default()
            },
        )
        .expect("commit");
    s.delete_container(&container.id, false).expect("rm");
    assert!(child.layers.starts_with(&base.layers));
    let report = s.prune_images(&PruneOptions::default()).expect("prune");
    assert!(report.removed.is_empty(), "{report:?}");
}

#[test]
fn prune_containers_keeps_mounted_ones_and_system_prune_collects() {
    let t = TestStore::new();
    let s = &t.store;
    let img = image(s, 1, &["localhost/a:1"]);
    let idle = s
        .create_container(&ContainerOptions::from_image(img.id.clone()))
        .expect("idle");
    let busy = s
        .create_container(&ContainerOptions::from_image(img.id.clone()))
        .expect("busy");
    let tree = s.mount_container(&busy.id).expect("mount");
    std::fs::write(tree.join("new"), [7u8; 3000]).expect("write");

    let usage = s.disk_usage().expect("usage");
    assert_eq!(usage.images.len(), 1);
    assert_eq!(usage.images[0].containers, 2);
    assert_eq!(usage.images_size, img.size);
    assert_eq!(usage.images_reclaimable, 0);
    let busy_usage = usage
        .containers
        .iter()
        .find(|c| c.id == busy.id)
        .expect("busy");
    assert!(
        busy_usage.mounted && busy_usage.size > 3000,
        "{busy_usage:?}"
    );
    let idle_usage = usage
        .containers
        .iter()
        .find(|c| c.id == idle.id)
        .expect("idle");
    assert_eq!((idle_usage.mounted, idle_usage.size), (false, 0));
    assert_eq!(usage.containers_reclaimable, 0);

    let pruned = s.prune_containers(false).expect("prune containers");
    assert_eq!(pruned.removed, vec![idle.id.clone()]);
    let left: Vec<String> = s
        .containers()
        .expect("containers")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, vec![busy.id.clone()]);
    s.unmount_container(&busy.id).expect("unmount");

    let spare = TarBuilder::default().file("x", b"spare").finish();
    let layer = t.import(&spare, None, &[]).expect("spare layer");
    let dangling = image(s, 2, &[]);
    let report = s
        .prune_system(&PruneOptions {
            all: true,
            dry_run: false,
        })
        .expect("system prune");
    assert_eq!(report.images.removed, vec![dangling.id]);
    assert_eq!(report.gc.layers, vec![layer.id]);
    assert_eq!(ids(s), vec![img.id], "the image the container uses stays");
    assert_eq!(s.containers().expect("containers").len(), 1);
}

#[test]
fn images_mount_by_name_with_their_top_layers_count() {
    let t = TestStore::new();
    let s = &t.store;
    let img = image(s, 2, &["localhost/m:1"]);
    let empty = s.mounted_images().expect("mounted");
    assert!(empty.is_empty());
    let path = s.mount_image("localhost/m:1").expect("mount");
    assert!(path.join("f1").is_file());
    assert_eq!(s.mount_image(&img.id[..12]).expect("again"), path);
    let mounted = s.mounted_images().expect("mounted");
    assert_eq!(mounted.len(), 1);
    assert_eq!(
        (mounted[0].0.id.as_str(), &mounted[0].1),
        (img.id.as_str(), &path)
    );
    let top = img.top_layer.clone().expect("a top layer");
    assert_eq!(s.mount_count(&top).expect("count"), 2);
    assert_eq!(s.unmount_image("localhost/m:1").expect("unmount"), 1);
    assert_eq!(s.unmount_layer(&top).expect("layer unmount"), 0);
    assert!(matches!(
        s.unmount_image("localhost/m:1"),
        Err(strata::Error::NotMounted(_))
    ));
    assert!(s.mounted_images().expect("mounted").is_empty());
}

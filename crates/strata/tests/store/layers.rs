//! Layer records: lookups, names, metadata, flags, deletion rules, mounts.

use strata::{CreateOptions, Error};
use testkit::tar_of;

use crate::common::{TestStore, diff};

fn with_id(id: &str) -> CreateOptions {
    CreateOptions {
        id: Some(id.to_string()),
        ..CreateOptions::default()
    }
}

#[test]
fn lookup_by_id_prefix_and_name() {
    let t = TestStore::new();
    let layer = t
        .import(&tar_of(&[("a", b"1")]), None, &["base"])
        .expect("import");
    assert_eq!(t.store.layer(&layer.id).expect("id").id, layer.id);
    assert_eq!(t.store.layer(&layer.id[..10]).expect("prefix").id, layer.id);
    assert_eq!(t.store.layer("base").expect("name").id, layer.id);
    assert!(matches!(
        t.store.layer("nothing"),
        Err(Error::LayerNotFound(_))
    ));
    assert_eq!(layer.names, vec!["base".to_string()]);
    assert_eq!(diff(&t.store, "base"), tar_of(&[("a", b"1")]));
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    let t = TestStore::new();
    let one = format!("abcdef{}", "1".repeat(58));
    let two = format!("abcdef{}", "2".repeat(58));
    t.store.create_layer(&with_id(&one)).expect("one");
    t.store.create_layer(&with_id(&two)).expect("two");
    match t.store.layer("abcd") {
        Err(Error::Ambiguous { candidates, .. }) => {
            assert_eq!(candidates, vec![one.clone(), two.clone()])
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    assert_eq!(t.store.layer("abcdef1").expect("unique").id, one);
    assert!(matches!(
        t.store.create_layer(&with_id(&one)),
        Err(Error::LayerExists(_))
    ));
    assert!(matches!(
        t.store.create_layer(&with_id("xyz")),
        Err(Error::InvalidId(_))
    ));
}

#[test]
fn names_move_between_layers() {
    let t = TestStore::new();
    let a = t
        .store
        .create_layer(&CreateOptions {
            names: vec!["x".into(), "y".into()],
            ..Default::default()
        })
        .expect("a");
    let b = t.store.create_layer(&CreateOptions::default()).expect("b");
    t.store.add_names(&b.id, &["x".into()]).expect("add");
    assert_eq!(
        t.store.layer(&a.id).expect("a").names,
        vec!["y".to_string()]
    );
    assert_eq!(t.store.layer("x").expect("x").id, b.id);
    t.store.set_names(&b.id, &["z".into()]).expect("set");
    assert!(t.store.layer("x").is_err());
    t.store.remove_names(&b.id, &["z".into()]).expect("rm");
    assert!(t.store.layer(&b.id).expect("b").names.is_empty());
    assert!(t.store.remove_names(&b.id, &["z".into()]).is_err());
    assert!(matches!(
        t.store.add_names(&b.id, &["has space".into()]),
        Err(Error::InvalidName(_))
    ));
}

#[test]
fn metadata_and_flags() {
    let t = TestStore::new();
    let a = t.store.create_layer(&CreateOptions::default()).expect("a");
    t.store.set_metadata(&a.id, "{\"k\":1}").expect("metadata");
    t.store
        .set_flag(&a.id, "incomplete", serde_json::json!(true))
        .expect("flag");
    let reopened = t.reopen();
    let layer = reopened.layer(&a.id).expect("layer");
    assert_eq!(layer.metadata, "{\"k\":1}");
    assert_eq!(
        layer.flags.get("incomplete"),
        Some(&serde_json::json!(true))
    );
    t.store.clear_flag(&a.id, "incomplete").expect("clear");
    assert!(t.store.layer(&a.id).expect("layer").flags.is_empty());
}

#[test]
fn delete_refused_with_children_or_mounts() {
    let t = TestStore::new();
    let base = t.import(&tar_of(&[("a", b"1")]), None, &[]).expect("base");
    let top = t
        .import(&tar_of(&[("b", b"2")]), Some(&base.id), &[])
        .expect("top");
    assert!(matches!(
        t.store.delete_layer(&base.id),
        Err(Error::HasChildren { .. })
    ));
    assert_eq!(t.store.children(&base.id).expect("children")[0].id, top.id);
    assert_eq!(t.store.heads().expect("heads")[0].id, top.id);
    let path = t.store.mount_layer(&top.id).expect("mount");
    assert!(
        path.join("a").is_file() && path.join("b").is_file(),
        "the mounted tree holds parent and own files"
    );
    assert!(matches!(
        t.store.delete_layer(&top.id),
        Err(Error::Mounted { count: 1, .. })
    ));
    assert_eq!(
        t.reopen().mount_count(&top.id).expect("count"),
        1,
        "mount counts outlive the process"
    );
    t.store.unmount_layer(&top.id).expect("unmount");
    assert!(matches!(
        t.store.unmount_layer(&top.id),
        Err(Error::NotMounted(_))
    ));
    t.store.delete_layer(&top.id).expect("delete top");
    t.store.delete_layer(&base.id).expect("delete base");
    t.assert_only(&[]);
}

#[test]
fn mount_counts_reset_on_reboot() {
    let t = TestStore::new();
    let a = t.store.create_layer(&CreateOptions::default()).expect("a");
    t.store.mount_layer(&a.id).expect("mount");
    let db = rusqlite::Connection::open(t.root().join("strata.db")).expect("db");
    db.execute("UPDATE mounts SET boot_id = 'a-previous-boot'", [])
        .expect("update");
    assert_eq!(t.store.mount_count(&a.id).expect("count"), 0);
    // A reboot also takes the kernel's mount, which deletion looks at too.
    if let Some(merged) = kernel_mount_of(&t, &a.id) {
        assert!(matches!(
            t.store.delete_layer(&a.id),
            Err(Error::KernelMounted { .. })
        ));
        let status = std::process::Command::new("umount")
            .arg(&merged)
            .status()
            .expect("umount");
        assert!(status.success());
    }
    t.store.delete_layer(&a.id).expect("delete after reboot");
}

/// Where the kernel has layer `id` mounted, for drivers that mount.
fn kernel_mount_of(t: &TestStore, id: &str) -> Option<std::path::PathBuf> {
    let merged = t.root().join("overlay").join(id).join("merged");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let merged_text = merged.to_str().expect("utf-8 path").to_string();
    mounts
        .lines()
        .any(|line| line.split(' ').nth(4) == Some(merged_text.as_str()))
        .then_some(merged)
}

#[test]
fn wipe_removes_everything() {
    let t = TestStore::new();
    let base = t.import(&tar_of(&[("a", b"1")]), None, &[]).expect("base");
    let top = t
        .import(&tar_of(&[("b", b"2")]), Some(&base.id), &[])
        .expect("top");
    t.store.mount_layer(&top.id).expect("mount");
    let mut wiped = t.store.wipe().expect("wipe");
    wiped.sort();
    let mut want = vec![base.id, top.id];
    want.sort();
    assert_eq!(wiped, want);
    t.assert_only(&[]);
}

#[test]
fn unknown_driver_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = strata::StoreOptions {
        root: Some(dir.path().join("root")),
        runroot: Some(dir.path().join("run")),
        driver: Some("zfs".into()),
    };
    assert!(matches!(
        strata::Store::open(&options),
        Err(Error::UnknownDriver(_))
    ));
}

//! Containers: a read-write layer on a base layer plus a record. Creation,
//! lookups, mounts, commit (whose layer must reproduce the container bit
//! for bit), deletion rules, recovery of half-made containers, and the
//! schema migration that brought containers in.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use strata::archive::changes::changes;
use strata::{ContainerOptions, CreateOptions, Error};
use testkit::{TarBuilder, sha256};

use crate::common::{TestStore, diff};

/// A base layer with something to modify, delete, replace and chmod.
fn base_tar() -> Vec<u8> {
    TarBuilder::default()
        .file("a", b"old a")
        .file("b", b"bye")
        .file("c", b"lower c")
        .dir("d/")
        .file("d/old1", b"one")
        .file("d/old2", b"two")
        .dir("etc/")
        .file("etc/conf", b"v1")
        .dir("keep/")
        .file("keep/x", b"x")
        .file("m", b"mode")
        .finish()
}

fn on(base: &str, names: &[&str]) -> ContainerOptions {
    ContainerOptions {
        base: Some(base.to_string()),
        names: names.iter().map(|n| n.to_string()).collect(),
        ..ContainerOptions::default()
    }
}

/// Changes every kind of thing a container can change.
fn change_everything(root: &Path) {
    let at = |p: &str| root.join(p);
    std::fs::write(at("new.txt"), b"new").expect("add");
    std::fs::write(at("a"), b"new a, longer").expect("modify");
    std::fs::remove_file(at("b")).expect("delete");
    std::fs::remove_dir_all(at("d")).expect("remove dir");
    std::fs::create_dir(at("d")).expect("recreate dir");
    std::fs::write(at("d/fresh"), b"fresh").expect("replace dir");
    std::fs::set_permissions(at("m"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::symlink("a", at("link")).expect("symlink");
    std::fs::hard_link(at("new.txt"), at("new-link")).expect("hardlink");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        at("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("fifo");
    std::fs::write(at("etc/conf"), b"v2").expect("modify in a directory");
    std::fs::write(at("keep/y"), b"y").expect("add in a directory");
}

/// Checks that `root` holds the result of [`change_everything`].
fn assert_changed(root: &Path) {
    let at = |p: &str| root.join(p);
    let read = |p: &str| std::fs::read(at(p)).unwrap_or_else(|e| panic!("read {p}: {e}"));
    assert_eq!(read("new.txt"), b"new");
    assert_eq!(read("a"), b"new a, longer");
    assert!(
        !at("b").exists() && at("b").symlink_metadata().is_err(),
        "b deleted"
    );
    assert_eq!(read("c"), b"lower c");
    let mut d: Vec<String> = std::fs::read_dir(at("d"))
        .expect("d")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    d.sort();
    assert_eq!(d, vec!["fresh".to_string()], "d replaced");
    assert_eq!(read("d/fresh"), b"fresh");
    let mode = |p: &str| at(p).symlink_metadata().expect("stat").mode();
    assert_eq!(mode("m") & 0o7777, 0o600);
    assert_eq!(
        std::fs::read_link(at("link")).expect("link"),
        Path::new("a")
    );
    let ino = |p: &str| at(p).symlink_metadata().expect("stat").ino();
    assert_eq!(ino("new.txt"), ino("new-link"), "hard link kept");
    assert!(
        at("pipe")
            .symlink_metadata()
            .expect("pipe")
            .file_type()
            .is_fifo()
    );
    assert_eq!(read("etc/conf"), b"v2");
    assert_eq!(read("keep/x"), b"x");
    assert_eq!(read("keep/y"), b"y");
}

#[test]
fn commit_reproduces_the_container() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &["base"]).expect("base");
    let c = t
        .store
        .create_container(&on("base", &["work"]))
        .expect("create");
    assert_eq!(c.base.as_deref(), Some(base.id.as_str()));
    assert_eq!(c.names, vec!["work".to_string()]);
    let rw = t.store.layer(&c.layer).expect("rw layer");
    assert!(rw.read_write && !rw.has_tar_split);
    assert_eq!(rw.parent.as_deref(), Some(base.id.as_str()));

    let root = t.store.mount_container("work").expect("mount");
    assert_eq!(
        std::fs::read(root.join("a")).expect("base file"),
        b"old a",
        "the container starts as its base"
    );
    change_everything(&root);
    assert_changed(&root);
    assert_eq!(t.store.unmount_container("work").expect("unmount"), 0);

    let before = diff(&t.store, &c.layer);
    assert!(!t.store.changes(&c.layer, None).expect("changes").is_empty());
    let committed = t
        .store
        .commit_container(&c.id[..12], &["snap".to_string()])
        .expect("commit");
    assert_eq!(committed.parent.as_deref(), Some(base.id.as_str()));
    assert_eq!(committed.names, vec!["snap".to_string()]);
    assert!(!committed.read_write && committed.has_tar_split);
    assert_eq!(
        committed.diff_digest.as_ref().map(|d| d.to_string()),
        Some(format!("sha256:{}", sha256(&before)))
    );
    assert_eq!(committed.diff_size, Some(before.len() as u64));
    let after = diff(&t.store, "snap");
    assert_eq!(
        sha256(&after),
        sha256(&before),
        "the committed layer gives back the bytes the commit produced"
    );

    let container_root = t.store.mount_container("work").expect("mount again");
    let layer_root = t.store.mount_layer("snap").expect("mount committed");
    let differences = changes(Some(&container_root), &layer_root).expect("compare");
    assert!(
        differences.is_empty(),
        "the committed layer differs from the container: {}",
        strata::archive::changes::format_changes(&differences)
    );
    assert_changed(&layer_root);
    t.store.unmount_layer("snap").expect("unmount committed");
    t.store.unmount_container("work").expect("unmount");

    // The container stays, and another commit gives the same bytes.
    let again = t.store.commit_container("work", &[]).expect("commit again");
    assert_eq!(again.diff_digest, committed.diff_digest);
    assert_ne!(again.id, committed.id);
    t.store.verify_layer(&committed).expect("verify");
    t.store.delete_container("work", false).expect("rm");
    t.store.delete_layer(&again.id).expect("rm again");
    t.store.delete_layer("snap").expect("rm snap");
    t.assert_only(&[&base.id]);
}

#[test]
fn commit_while_mounted_sees_the_changes() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &[]).expect("base");
    let c = t
        .store
        .create_container(&on(&base.id, &[]))
        .expect("create");
    let root = t.store.mount_container(&c.id).expect("mount");
    std::fs::write(root.join("live"), b"written while mounted").expect("write");
    let committed = t.store.commit_container(&c.id, &[]).expect("commit");
    let layer_root = t.store.mount_layer(&committed.id).expect("mount committed");
    assert_eq!(
        std::fs::read(layer_root.join("live")).expect("read"),
        b"written while mounted"
    );
    assert_eq!(
        std::fs::read(layer_root.join("a")).expect("read"),
        b"old a",
        "the base shows through"
    );
    t.store.unmount_layer(&committed.id).expect("unmount");
    t.store.unmount_container(&c.id).expect("unmount");
}

#[test]
fn a_container_without_a_base() {
    let t = TestStore::new();
    let c = t
        .store
        .create_container(&ContainerOptions::default())
        .expect("create");
    assert_eq!(c.base, None);
    let root = t.store.mount_container(&c.id).expect("mount");
    std::fs::write(root.join("only"), b"1").expect("write");
    t.store.unmount_container(&c.id).expect("unmount");
    let committed = t.store.commit_container(&c.id, &[]).expect("commit");
    assert_eq!(committed.parent, None);
    let tar = diff(&t.store, &committed.id);
    let mut archive = tar::Archive::new(&tar[..]);
    let paths: Vec<String> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect();
    assert!(paths.contains(&"only".to_string()), "{paths:?}");
}

#[test]
fn layers_a_container_uses_cannot_be_deleted() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &["base"]).expect("base");
    let c = t
        .store
        .create_container(&on("base", &["web"]))
        .expect("create");
    match t.store.delete_layer("base") {
        Err(Error::UsedByContainer { layer, container }) => {
            assert_eq!((layer, container), (base.id.clone(), c.id.clone()))
        }
        other => panic!("expected UsedByContainer, got {other:?}"),
    }
    match t.store.delete_layer(&c.layer) {
        Err(e @ Error::UsedByContainer { .. }) => {
            assert!(e.to_string().contains(&c.id), "{e}")
        }
        other => panic!("expected UsedByContainer, got {other:?}"),
    }
    assert!(t.store.layer("base").is_ok() && t.store.layer(&c.layer).is_ok());
    t.store.delete_container("web", false).expect("rm");
    assert!(matches!(
        t.store.layer(&c.layer),
        Err(Error::LayerNotFound(_))
    ));
    t.store
        .delete_layer("base")
        .expect("the base is free again");
    t.assert_only(&[]);
}

#[test]
fn a_mounted_container_is_deleted_only_by_force() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &[]).expect("base");
    let c = t
        .store
        .create_container(&on(&base.id, &["web"]))
        .expect("create");
    assert!(matches!(
        t.store.unmount_container("web"),
        Err(Error::ContainerNotMounted(id)) if id == c.id
    ));
    let path = t.store.mount_container("web").expect("mount");
    assert_eq!(t.store.mount_container("web").expect("again"), path);
    assert_eq!(t.store.container_mount_count("web").expect("count"), 2);
    match t.store.delete_container("web", false) {
        Err(Error::ContainerMounted { id, count }) => assert_eq!((id, count), (c.id.clone(), 2)),
        other => panic!("expected ContainerMounted, got {other:?}"),
    }
    assert_eq!(t.store.containers().expect("list").len(), 1);
    t.store.delete_container("web", true).expect("forced rm");
    assert!(t.store.containers().expect("list").is_empty());
    assert!(matches!(
        t.store.container("web"),
        Err(Error::ContainerNotFound(_))
    ));
    if t.store.driver_name() == "overlay" {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        assert!(
            !mounts.contains(&c.layer),
            "the forced deletion left a mount"
        );
    }
    t.assert_only(&[&base.id]);
}

#[test]
fn container_names_are_unique() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &["shared"]).expect("base");
    let first = t
        .store
        .create_container(&on(&base.id, &["web", "shared"]))
        .expect("create");
    assert_eq!(first.names, vec!["shared".to_string(), "web".to_string()]);
    match t.store.create_container(&on(&base.id, &["queue", "web"])) {
        Err(Error::ContainerNameInUse { name, container }) => {
            assert_eq!((name, container), ("web".to_string(), first.id.clone()))
        }
        other => panic!("expected ContainerNameInUse, got {other:?}"),
    }
    assert!(matches!(
        t.store.container("queue"),
        Err(Error::ContainerNotFound(_))
    ));
    assert_eq!(t.store.containers().expect("list").len(), 1);
    assert_eq!(
        t.store.layers().expect("layers").len(),
        2,
        "the refused container left no layer"
    );
    assert!(matches!(
        t.store.create_container(&on(&base.id, &["bad name"])),
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        t.store.create_container(&on("nothing", &[])),
        Err(Error::LayerNotFound(_))
    ));
    assert_eq!(t.store.container("web").expect("by name").id, first.id);
    assert_eq!(
        t.store.layer("shared").expect("layer names are apart").id,
        base.id
    );
    t.store.delete_container("web", false).expect("rm");
    t.store
        .create_container(&on(&base.id, &["web"]))
        .expect("the name is free again");
    assert!(t.entries("staging").is_empty() && t.entries("trash").is_empty());
}

#[test]
fn lookups_by_id_prefix_and_name() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &[]).expect("base");
    let one = format!("abcdef{}", "1".repeat(58));
    let two = format!("abcdef{}", "2".repeat(58));
    for id in [&one, &two] {
        t.store
            .create_container(&ContainerOptions {
                id: Some(id.clone()),
                metadata: format!("meta {id}"),
                ..on(&base.id, &[])
            })
            .expect("create");
    }
    match t.store.container("abcd") {
        Err(e @ Error::Ambiguous { .. }) => {
            let Error::Ambiguous { candidates, .. } = &e else {
                unreachable!()
            };
            assert_eq!(candidates, &vec![one.clone(), two.clone()]);
            assert!(e.to_string().contains(&one) && e.to_string().contains(&two));
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    assert_eq!(t.store.container("abcdef2").expect("prefix").id, two);
    assert_eq!(t.store.container(&one).expect("id").id, one);
    assert!(matches!(
        t.store.container("abcdef3"),
        Err(Error::ContainerNotFound(_))
    ));
    assert!(matches!(
        t.store.container(&base.id),
        Err(Error::ContainerNotFound(_))
    ));
    assert!(matches!(
        t.store.create_container(&ContainerOptions {
            id: Some(one.clone()),
            ..on(&base.id, &[])
        }),
        Err(Error::ContainerExists(_))
    ));
    assert!(matches!(
        t.store.create_container(&ContainerOptions {
            id: Some("xyz".into()),
            ..on(&base.id, &[])
        }),
        Err(Error::Invalid(_))
    ));
    let listed = t.reopen().containers().expect("list");
    assert_eq!(listed.len(), 2);
    let first = listed.iter().find(|c| c.id == one).expect("one");
    assert_eq!(first.metadata, format!("meta {one}"));
    assert!(first.created.ends_with('Z'));
    assert_eq!(t.store.layers().expect("layers").len(), 3);
}

/// Marks container `id` as still being created by the owner of work
/// directory `work_dir` (as a process killed between steps leaves it).
fn unfinish(t: &TestStore, id: &str, work_dir: &str) {
    let db = rusqlite::Connection::open(t.root().join("strata.db")).expect("db");
    db.execute(
        "UPDATE containers SET state = 'creating', work_dir = ?2 WHERE id = ?1",
        [id, work_dir],
    )
    .expect("update");
}

#[test]
fn a_half_made_container_is_undone_when_its_owner_is_gone() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &[]).expect("base");
    let c = t
        .store
        .create_container(&on(&base.id, &["half"]))
        .expect("create");

    // An owner that is alive (its lock held) is left alone.
    let lock_path = t
        .root()
        .join("staging/0123456789abcdef0123456789abcdef.lock");
    let lock = std::fs::File::create(&lock_path).expect("lock file");
    lock.lock().expect("lock");
    unfinish(&t, &c.id, "0123456789abcdef0123456789abcdef");
    let other = t.reopen();
    assert!(matches!(
        other.container("half"),
        Err(Error::ContainerNotFound(_))
    ));
    assert!(other.layer(&c.layer).is_ok(), "a live owner's layer stays");
    drop(other);

    // Once the owner is gone, the next open removes the container and its layer.
    drop(lock);
    let reopened = t.reopen();
    assert!(reopened.containers().expect("list").is_empty());
    assert!(matches!(
        reopened.layer(&c.layer),
        Err(Error::LayerNotFound(_))
    ));
    reopened
        .create_container(&on(&base.id, &["half"]))
        .expect("the name is free again");
    let report = reopened.fsck(false).expect("fsck");
    assert!(report.clean, "{report:?}");
    drop(reopened);
    let listed = t.store.containers().expect("list");
    assert_eq!(listed.len(), 1);
    t.store.delete_container(&listed[0].id, false).expect("rm");
    t.assert_only(&[&base.id]);
}

#[test]
fn a_store_of_schema_1_migrates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = crate::common::open(dir.path());
    let base = store
        .import_layer(&CreateOptions::default(), &mut &base_tar()[..], None)
        .expect("import");
    drop(store);
    {
        let db = rusqlite::Connection::open(dir.path().join("root/strata.db")).expect("db");
        db.execute_batch(
            "DROP TABLE index_images; DROP TABLE image_indexes; DROP TABLE image_blobs; DROP TABLE blob_sources; DROP TABLE container_names; DROP TABLE containers; \
             DROP TABLE image_names; DROP TABLE images; \
             DROP TABLE lease_layers; DROP TABLE leases; \
             DROP TABLE lease_blobs; DROP TABLE recovery_log; PRAGMA user_version = 1;",
        )
        .expect("back to schema 1");
    }
    let store = crate::common::open(dir.path());
    let version: i64 = rusqlite::Connection::open(dir.path().join("root/strata.db"))
        .expect("db")
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, 8);
    assert_eq!(store.status().expect("status").schema_version, 8);
    assert_eq!(store.layer(&base.id).expect("layer kept").id, base.id);
    let c = store.create_container(&on(&base.id, &[])).expect("create");
    store.delete_container(&c.id, false).expect("rm");
}

#[test]
fn wipe_removes_containers_too() {
    let t = TestStore::new();
    let base = t.import(&base_tar(), None, &[]).expect("base");
    let c = t
        .store
        .create_container(&on(&base.id, &[]))
        .expect("create");
    t.store.mount_container(&c.id).expect("mount");
    let mut wiped = t.store.wipe().expect("wipe");
    wiped.sort();
    let mut want = vec![base.id, c.layer];
    want.sort();
    assert_eq!(wiped, want);
    assert!(t.store.containers().expect("list").is_empty());
    t.assert_only(&[]);
}

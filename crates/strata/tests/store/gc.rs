//! Garbage collection and the fsck checks that go with it: exactly the
//! unreferenced goes (layers, blobs, orphans, old temporary files), roots
//! and what they reach stay (images, containers, named layers, leases and
//! the blobs they hold, mounted layers), expired leases are released, the
//! kernel's mounts are compared with the counts, and what recovery did at
//! open is reported once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use strata::{ContainerOptions, CreateOptions, Error, Store};
use strata::{GcOptions, GcReport, LeaseOptions, NewImage};
use testkit::TarBuilder;
use testkit::image_archive as ia;

use crate::common::TestStore;

fn tar(tag: &str) -> Vec<u8> {
    TarBuilder::default()
        .dir("etc/")
        .file("etc/tag", tag.as_bytes())
        .finish()
}

fn gc(store: &Store) -> GcReport {
    store.gc(&GcOptions::default()).expect("gc")
}

fn dry(store: &Store) -> GcReport {
    store
        .gc(&GcOptions { dry_run: true })
        .expect("gc --dry-run")
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

fn layer_ids(store: &Store) -> BTreeSet<String> {
    store
        .layers()
        .expect("layers")
        .into_iter()
        .map(|l| l.id)
        .collect()
}

/// Loads a two-layer image named `name` from a docker archive.
fn load_image(t: &TestStore, label: &str, name: &str) -> strata::Image {
    let image = ia::Image::new(
        label,
        &[name],
        vec![ia::Layer::plain(tar("base")), ia::Layer::plain(tar(label))],
    );
    t.load(label, &image)
}

fn blob_names(t: &TestStore) -> BTreeSet<String> {
    t.entries("blobs/sha256").into_iter().collect()
}

fn fsck_kinds(store: &Store, repair: bool) -> (Vec<(String, String, bool)>, bool) {
    let report = store.fsck(repair).expect("fsck");
    let issues = report
        .issues
        .into_iter()
        .map(|i| (i.kind, i.id, i.repaired))
        .collect();
    (issues, report.clean)
}

#[test]
fn gc_removes_exactly_what_no_root_reaches() {
    let t = TestStore::new();
    let image = load_image(&t, "kept", "kept:1");
    let gone = load_image(&t, "gone", "gone:1");
    let named = t.import(&tar("named"), None, &["mine"]).expect("named");
    let named_child = t
        .import(&tar("child"), Some(&named.id), &[])
        .expect("child");
    let base = t.import(&tar("base-of-c"), None, &[]).expect("base");
    let container = t
        .store
        .create_container(&ContainerOptions {
            base: Some(base.id.clone()),
            ..ContainerOptions::default()
        })
        .expect("container");
    let leased = t.import(&tar("leased"), None, &[]).expect("leased").id;
    let lease = t.store.lease().expect("lease");
    assert!(t.store.hold_layer(&lease, &leased).expect("hold"));
    let junk = t.import(&tar("junk"), None, &[]).expect("junk");
    let junk_child = t
        .import(&tar("junk2"), Some(&junk.id), &[])
        .expect("junk child");
    let orphan_blob = t.store.put_blob(b"no image names me").expect("blob");

    // Removing an image takes its own layers (walking down) and blobs.
    let removed = t.store.delete_image("gone:1", false).expect("rmi");
    assert_eq!(removed.layers, vec![gone.layers[1].clone()]);
    assert!(!blob_names(&t).contains(gone.id.as_str()));

    let want_layers = sorted(&[
        junk_child.id.clone(),
        junk.id.clone(),
        named_child.id.clone(),
    ]);
    let preview = dry(&t.store);
    assert!(preview.dry_run);
    assert_eq!(sorted(&preview.layers), want_layers);
    assert_eq!(preview.blobs, vec![orphan_blob.to_string()]);
    assert!(preview.bytes_freed > 0);
    assert_eq!(layer_ids(&t.store).len(), 9, "a dry run removes nothing");

    let report = gc(&t.store);
    assert_eq!(sorted(&report.layers), want_layers);
    assert_eq!(report.blobs, vec![orphan_blob.to_string()]);
    assert!(report.dirs.is_empty(), "{:?}", report.dirs);
    assert!(report.bytes_freed > 0);
    // Children go before their parents.
    let position = |id: &str| report.layers.iter().position(|l| l == id);
    assert!(position(&junk_child.id) < position(&junk.id));

    let mut want: BTreeSet<String> = image.layers.iter().cloned().collect();
    want.extend([
        named.id.clone(),
        base.id.clone(),
        container.layer.clone(),
        leased.clone(),
    ]);
    assert_eq!(layer_ids(&t.store), want);
    let mut blobs: BTreeSet<String> = [image.id.clone()].into_iter().collect();
    blobs.extend(image.manifests.iter().map(|d| d.hex().to_string()));
    assert_eq!(blob_names(&t), blobs);
    assert!(t.store.fsck(false).expect("fsck").clean);

    // Once the lease goes, its layer is garbage too.
    t.store.release(lease).expect("release");
    let report = gc(&t.store);
    assert_eq!(report.layers, vec![leased]);
    assert!(
        gc(&t.store).layers.is_empty(),
        "nothing left for a second run"
    );
}

#[test]
fn blobs_of_a_load_in_progress_are_kept() {
    let t = TestStore::new();
    let lease = t.store.lease().expect("lease");
    let image = ia::Image::new("pending", &[], vec![ia::Layer::plain(tar("pending"))]);
    // The commit fails (its layer is not in the store) after the config
    // and manifest are written: the lease holds them, no image names them.
    let committed = t.store.commit_image(
        &lease,
        &NewImage {
            config: image.config.clone(),
            manifests: vec![image.oci_manifest()],
            names: vec![],
            blobs: Vec::new(),
        },
    );
    assert!(committed.is_err());
    assert_eq!(blob_names(&t).len(), 2);
    let other = t.reopen();
    assert!(gc(&other).blobs.is_empty(), "held blobs were swept");
    assert_eq!(blob_names(&t).len(), 2);
    let (issues, clean) = fsck_kinds(&other, false);
    assert!(clean, "{issues:?}");
    // Releasing the lease takes the blobs no image names.
    t.store.release(lease).expect("release");
    assert!(blob_names(&t).is_empty(), "{:?}", blob_names(&t));
}

#[test]
fn an_expired_lease_is_released_by_gc_even_with_its_owner_alive() {
    let t = TestStore::new();
    let lease = t
        .store
        .lease_with(&LeaseOptions {
            expires_in: Some(Duration::from_secs(3600)),
        })
        .expect("lease");
    let made = t
        .store
        .import_layer(
            &CreateOptions {
                lease: Some(lease.id().to_string()),
                ..CreateOptions::default()
            },
            &mut &tar("leased")[..],
            None,
        )
        .expect("import under the lease");
    // Blobs it holds: a commit that fails after writing them.
    let image = ia::Image::new("held", &[], vec![ia::Layer::plain(tar("absent"))]);
    let new = NewImage {
        config: image.config.clone(),
        manifests: vec![image.oci_manifest()],
        names: vec![],
        blobs: Vec::new(),
    };
    assert!(t.store.commit_image(&lease, &new).is_err());
    assert_eq!(blob_names(&t).len(), 2);
    let report = gc(&t.store);
    assert!(
        report.layers.is_empty() && report.leases.is_empty() && report.blobs.is_empty(),
        "{report:?}"
    );

    // Expire it (an hour is long to wait).
    let db = rusqlite::Connection::open(t.root().join("strata.db")).expect("db");
    db.execute("UPDATE leases SET expires = 1 WHERE id = ?1", [lease.id()])
        .expect("expire");
    assert!(matches!(
        t.store.hold_layer(&lease, &made.id),
        Err(Error::LeaseExpired(id)) if id == lease.id()
    ));
    let report = gc(&t.store);
    assert_eq!(report.leases, vec![lease.id().to_string()]);
    assert_eq!(report.layers, vec![made.id.clone()]);
    assert_eq!(report.blobs.len(), 2, "{report:?}");
    assert!(blob_names(&t).is_empty());
    assert!(layer_ids(&t.store).is_empty());
    // Collected, it is gone: the owner learns so in a variant of its own,
    // and the layer it tried to make under it is not left behind.
    let under_gone_lease = CreateOptions {
        lease: Some(lease.id().to_string()),
        ..CreateOptions::default()
    };
    assert!(matches!(
        t.store.import_layer(&under_gone_lease, &mut &tar("late")[..], None),
        Err(Error::LeaseNotFound(id)) if id == lease.id()
    ));
    assert!(layer_ids(&t.store).is_empty());
    // The owner's work directory stays until the owner releases the lease.
    assert_eq!(t.entries("staging").len(), 2, "{:?}", t.entries("staging"));
    t.store.release(lease).expect("release after expiry");
    t.assert_only(&[]);
}

/// A bind mount of a directory onto itself, undone when dropped.
struct BindMount(PathBuf);

impl BindMount {
    fn new(dir: &Path) -> Self {
        let status = Command::new("mount")
            .arg("--bind")
            .arg(dir)
            .arg(dir)
            .status()
            .expect("mount");
        assert!(status.success(), "mount --bind {}", dir.display());
        Self(dir.to_path_buf())
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn layer_rm_is_refused_while_the_kernel_has_it_mounted() {
    let t = TestStore::new();
    let layer = t.import(&tar("mounted"), None, &["m"]).expect("import");
    let mount = BindMount::new(&t.files_dir(&layer.id));
    assert_eq!(t.store.mount_count(&layer.id).expect("count"), 0);
    match t.store.delete_layer(&layer.id) {
        Err(Error::KernelMounted { id, mount_point }) => {
            assert_eq!(id, layer.id);
            assert!(mount_point.contains(&layer.id), "{mount_point}");
        }
        other => panic!("deleted a mounted layer: {other:?}"),
    }
    // Unnamed, it is garbage, but gc leaves a mounted layer alone too.
    t.store
        .remove_names(&layer.id, &["m".into()])
        .expect("unname");
    assert!(gc(&t.store).layers.is_empty());
    let (issues, clean) = fsck_kinds(&t.store, false);
    assert!(!clean);
    assert!(
        issues
            .iter()
            .any(|(kind, id, _)| kind == "uncounted-mount" && id == &layer.id),
        "{issues:?}"
    );
    drop(mount);
    assert_eq!(gc(&t.store).layers, vec![layer.id]);
    t.assert_only(&[]);
}

#[test]
fn fsck_finds_and_repairs_mounts_the_counts_disagree_with() {
    let t = TestStore::new();
    let layer = t.import(&tar("x"), None, &["x"]).expect("import");
    t.store.mount_layer("x").expect("mount");
    // The count row goes, as if the mounting process died before counting.
    let db = rusqlite::Connection::open(t.root().join("strata.db")).expect("db");
    db.execute("DELETE FROM mounts", []).expect("drop count");
    let kernel_mounts = t.store.driver_name() == "overlay";
    let mount = (!kernel_mounts).then(|| BindMount::new(&t.files_dir(&layer.id)));
    assert!(matches!(
        t.store.delete_layer("x"),
        Err(Error::KernelMounted { .. })
    ));
    let (issues, clean) = fsck_kinds(&t.store, true);
    assert!(clean, "{issues:?}");
    assert_eq!(
        issues,
        vec![("uncounted-mount".to_string(), layer.id.clone(), true)]
    );
    drop(mount);
    assert!(t.store.fsck(false).expect("fsck").clean);

    if kernel_mounts {
        // A count without a mount (a process killed between counting and
        // mounting) is stale.
        db.execute(
            "INSERT INTO mounts (layer_id, count, boot_id) VALUES (?1, 1, ?2)",
            rusqlite::params![
                layer.id,
                std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                    .expect("boot id")
                    .trim()
            ],
        )
        .expect("stale count");
        assert!(matches!(
            t.store.delete_layer("x"),
            Err(Error::Mounted { .. })
        ));
        let (issues, clean) = fsck_kinds(&t.store, false);
        assert!(!clean);
        assert_eq!(
            issues,
            vec![("stale-mount-count".to_string(), layer.id.clone(), false)]
        );
        let (_, clean) = fsck_kinds(&t.store, true);
        assert!(clean);
        assert_eq!(t.store.mount_count("x").expect("count"), 0);
    }
    t.store.delete_layer("x").expect("rm after repair");
}

#[test]
fn fsck_reports_garbage_and_repair_collects_it() {
    let t = TestStore::new();
    let junk = t.import(&tar("junk"), None, &[]).expect("import");
    let blob = t.store.put_blob(b"orphan").expect("blob");
    let blobs = t.root().join("blobs/sha256");
    let old = blobs.join(".strata-tmp-0123456789abcdef0123456789abcdef");
    std::fs::write(&old, b"half a blob").expect("temp");
    std::fs::File::options()
        .write(true)
        .open(&old)
        .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(3600)))
        .expect("age it");
    let fresh = blobs.join(".strata-tmp-fedcba9876543210fedcba9876543210");
    std::fs::write(&fresh, b"a live writer's").expect("fresh temp");

    let (issues, clean) = fsck_kinds(&t.store, false);
    assert!(!clean);
    let want = vec![
        ("unreferenced-layer".to_string(), junk.id.clone(), false),
        ("orphan-blob".to_string(), blob.to_string(), false),
        (
            "stray-temp-file".to_string(),
            "blobs/sha256/.strata-tmp-0123456789abcdef0123456789abcdef".to_string(),
            false,
        ),
    ];
    assert_eq!(issues, want);
    let (issues, clean) = fsck_kinds(&t.store, true);
    assert!(clean, "{issues:?}");
    assert!(issues.iter().all(|(_, _, repaired)| *repaired));
    assert!(!old.exists());
    assert!(
        fresh.exists(),
        "a young temporary file may be a live writer's"
    );
    assert!(!blobs.join(blob.hex()).exists());
    std::fs::remove_file(fresh).expect("cleanup");
    assert!(blob_names(&t).is_empty());
    t.assert_only(&[]);
}

#[test]
fn what_recovery_did_at_open_is_reported_once() {
    let t = TestStore::new();
    // A work directory whose owner died (its lock file is gone).
    std::fs::create_dir(t.root().join("staging/0123456789abcdef0123456789abcdef"))
        .expect("dead work dir");
    let reopened = t.reopen();
    let (issues, clean) = fsck_kinds(&reopened, false);
    assert!(clean);
    assert_eq!(
        issues,
        vec![(
            "orphan-work-dir".to_string(),
            "staging/0123456789abcdef0123456789abcdef".to_string(),
            true
        )]
    );
    let (issues, _) = fsck_kinds(&reopened, false);
    assert!(issues.is_empty(), "reported twice: {issues:?}");
}

#[test]
fn orphan_directories_are_collected() {
    let t = TestStore::new();
    let id = "ab".repeat(32);
    let data = t.root().join(t.store.driver_name()).join(&id);
    std::fs::create_dir_all(data.join("diff")).expect("orphan data");
    std::fs::create_dir_all(t.root().join("layers").join(&id)).expect("orphan tar-split");
    let report = gc(&t.store);
    let mut dirs = report.dirs.clone();
    dirs.sort();
    assert_eq!(
        dirs,
        vec![
            format!("layers/{id}"),
            format!("{}/{id}", t.store.driver_name())
        ]
    );
    t.assert_only(&[]);
}

#[test]
fn a_store_root_that_is_a_mount_point_is_not_an_uncounted_mount() {
    let t = TestStore::new();
    t.import(&tar("kept"), None, &["kept"]).expect("import");
    let _root = BindMount::new(&t.root());
    let store = t.reopen();
    let (issues, clean) = fsck_kinds(&store, true);
    assert!(clean && issues.is_empty(), "{issues:?}");
    assert!(gc(&store).layers.is_empty());
    store.delete_layer("kept").expect("rm");
}

#[test]
fn container_rm_is_refused_while_the_kernel_has_its_layer_mounted() {
    let t = TestStore::new();
    let c = t
        .store
        .create_container(&ContainerOptions::default())
        .expect("container");
    let mount = BindMount::new(&t.files_dir(&c.layer));
    assert!(matches!(
        t.store.delete_container(&c.id, true),
        Err(Error::KernelMounted { .. })
    ));
    drop(mount);
    t.store.delete_container(&c.id, false).expect("rm");
    t.assert_only(&[]);
}

/// Mount points the kernel has at or under `dir`.
fn kernel_mounts_under(dir: &Path) -> usize {
    let dir = std::fs::canonicalize(dir).expect("resolve");
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| Path::new(point).starts_with(&dir))
        .count()
}

#[test]
fn concurrent_mounts_count_every_one_and_mount_once() {
    let t = TestStore::new();
    let layer = t.import(&tar("shared"), None, &["shared"]).expect("import");
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let store = t.reopen();
            scope.spawn(move || {
                for _ in 0..5 {
                    store.mount_layer("shared").expect("mount");
                }
            });
        }
    });
    assert_eq!(t.store.mount_count("shared").expect("count"), 20);
    let data = t.root().join(t.store.driver_name()).join(&layer.id);
    let kernel_mounts = usize::from(t.store.driver_name() == "overlay");
    assert_eq!(kernel_mounts_under(&data), kernel_mounts);
    assert!(t.store.fsck(false).expect("fsck").clean);
    for left in (0..20).rev() {
        assert_eq!(t.store.unmount_layer("shared").expect("unmount"), left);
    }
    assert_eq!(kernel_mounts_under(&data), 0);
    t.store.delete_layer("shared").expect("rm");
}

//! On overlay, a pull extracts a layer while the layers below it are
//! still being made, and publishes it once they are; a layer that needs
//! what the layers below hold (a whiteout, a directory it does not carry)
//! is extracted again once they are made. Either way each layer's tree is
//! exactly what a load of the same image makes, one layer after another.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use strata::{PullOptions, RegistryOptions, Store};
use testkit::TarBuilder;
use testkit::hostile_registry::HostileRegistry;
use testkit::image_archive::{self as ia, Image, Layer};
use testkit::registry::Registry;

use crate::common::TestStore;

/// Five layers: a base; one that carries every directory it writes into
/// (extracted ahead); one with a whiteout and one writing into a
/// directory only the base has (both need the layers below); and one
/// more that carries its directories.
fn layers() -> Vec<Layer> {
    let base = TarBuilder::default()
        .dir("etc/")
        .file("etc/motd", b"base\n")
        .file("etc/gone", b"deleted above\n")
        .dir("opt/")
        .dir("opt/tools/")
        .file("opt/tools/a", b"a\n")
        .finish();
    let own_dirs = TarBuilder::default()
        .dir("etc/")
        .file("etc/added", b"layer 1\n")
        .dir("srv/")
        .dir("srv/data/")
        .file("srv/data/x", &[7u8; 70_000])
        .symlink("srv/link", "data/x")
        .finish();
    let whiteout = TarBuilder::default()
        .dir("etc/")
        .file("etc/.wh.gone", b"")
        .finish();
    let implicit = TarBuilder::default()
        .file(
            "opt/tools/b",
            b"b, in a directory this tar does not carry\n",
        )
        .finish();
    let last = TarBuilder::default()
        .dir("var/")
        .dir("var/lib/")
        .file("var/lib/state", b"last\n")
        .hardlink("var/lib/again", "var/lib/state")
        .finish();
    [base, own_dirs, whiteout, implicit, last]
        .into_iter()
        .map(Layer::plain)
        .collect()
}

/// Every entry under `dir` with its type, mode, owner, size, times,
/// device, link target, contents and overlay attributes, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let relative = path.strip_prefix(dir).expect("under dir").display();
            let contents = if meta.is_file() {
                testkit::sha256(&std::fs::read(&path).expect("read"))
            } else if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .expect("link")
                    .display()
                    .to_string()
            } else {
                String::new()
            };
            // A whiteout is made when it is applied, and a directory the
            // layer wrote into without carrying it changes then: their
            // times are the apply's (the tars' are all 2001's).
            let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
            let mtime = match whiteout || meta.mtime() > 1_500_000_000 {
                true => "at the apply".to_string(),
                false => format!("{}.{}", meta.mtime(), meta.mtime_nsec()),
            };
            let mut opaque = [0u8; 4];
            let opaque = rustix::fs::lgetxattr(&path, "trusted.overlay.opaque", &mut opaque)
                .map(|n| String::from_utf8_lossy(&opaque[..n]).into_owned())
                .unwrap_or_default();
            out.push(format!(
                "{relative} mode={:o} uid={} gid={} size={} mtime={mtime} rdev={} nlink={} {contents} opaque={opaque}",
                meta.mode(),
                meta.uid(),
                meta.gid(),
                if meta.is_dir() { 0 } else { meta.size() },
                meta.rdev(),
                meta.nlink(),
            ));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn layers_extracted_ahead_are_what_a_load_makes() {
    let t = TestStore::new();
    let image = Image::new("ahead", &["ahead:1"], layers());
    let archive = t.dir.path().join("ahead.tar");
    std::fs::write(
        &archive,
        ia::docker_modern(std::slice::from_ref(&image)).to_tar(),
    )
    .expect("write the archive");
    let registry = Registry::plain();
    registry.target().push(&archive, "ahead/app:1");

    let pulled = t
        .store
        .pull(&format!("{}/ahead/app:1", registry.host()), &options())
        .expect("pull");
    assert_eq!(pulled.image.id, image.id());
    let overlay = t.store.driver_name() == "overlay";
    // On overlay, layers 1 and 4 need nothing from below; 2 and 3 do.
    assert_eq!(pulled.extracted_ahead, if overlay { 2 } else { 0 });

    let loaded_dir = tempfile::tempdir().expect("temp dir");
    let loaded: Store = crate::common::open(loaded_dir.path());
    loaded.load_path(&archive).expect("load");
    for id in &pulled.image.layers {
        let tar = |store: &Store| crate::common::diff(store, id);
        assert!(
            tar(&t.store) == tar(&loaded),
            "layer {id} rebuilds the same"
        );
        if overlay {
            let diff = |root: &Path| root.join("overlay").join(id).join("diff");
            assert_eq!(
                listing(&diff(&t.dir.path().join("root"))),
                listing(&diff(&loaded_dir.path().join("root"))),
                "layer {id}: the same tree as the load's"
            );
        }
    }
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
    assert_eq!(staging_entries(&t), 0, "nothing left in staging");
}

#[test]
fn a_layer_below_that_fails_takes_the_layers_made_ahead_with_it() {
    let t = TestStore::new();
    let layers = layers();
    // The config says layer 1 is something else (a registry skopeo would
    // not push to): its import fails once the layers above it were
    // extracted, or while they wait for it.
    let mut diff_ids: Vec<String> = layers.iter().map(Layer::diff_id).collect();
    diff_ids[1] = format!("sha256:{}", testkit::sha256(b"not layer 1"));
    let image = Image {
        config: ia::config_for(&diff_ids, "lying"),
        layers,
        tags: vec!["lying:1".into()],
    };
    let registry = HostileRegistry::start();
    let manifest = image.oci_manifest();
    registry.put_manifest("lying/app", "1", ia::media::MANIFEST, &manifest);
    registry.put_blob("lying/app", &ia::digest(&image.config), &image.config);
    for layer in &image.layers {
        registry.put_blob("lying/app", &layer.blob_digest(), &layer.blob);
    }

    let error = t
        .store
        .pull(&format!("{}/lying/app:1", registry.host()), &options())
        .expect_err("a layer is not its diff id");
    let said = error.to_string();
    assert!(
        said.contains(&diff_ids[1]),
        "the cause, not its echo: {said}"
    );
    assert!(t.store.images().expect("images").is_empty());
    assert!(
        t.store.layers().expect("layers").is_empty(),
        "no layer is left"
    );
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
    assert_eq!(staging_entries(&t), 0, "nothing left in staging");
}

/// A pull of up to five layers at once.
fn options() -> PullOptions<'static> {
    PullOptions {
        registry: RegistryOptions {
            max_parallel: 5,
            ..RegistryOptions::default()
        },
        ..PullOptions::default()
    }
}

/// How many entries the store's `staging/` holds.
fn staging_entries(t: &TestStore) -> usize {
    std::fs::read_dir(t.dir.path().join("root/staging"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

//! Helpers: a store in a temporary directory, layer imports from bytes.

use std::path::{Path, PathBuf};

use strata::{CreateOptions, Layer, Store, StoreOptions};

/// A store under a temporary directory that goes away with it.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path());
        Self { dir, store }
    }

    /// A store with this driver.
    pub fn with_driver(driver: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_with(dir.path(), Some(driver.to_string()));
        Self { dir, store }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Opens the same store again (as another process would).
    pub fn reopen(&self) -> Store {
        open(self.dir.path())
    }

    pub fn import(
        &self,
        tar: &[u8],
        parent: Option<&str>,
        names: &[&str],
    ) -> strata::Result<Layer> {
        let options = CreateOptions {
            parent: parent.map(str::to_string),
            names: names.iter().map(|n| n.to_string()).collect(),
            ..CreateOptions::default()
        };
        self.store.import_layer(&options, &mut &tar[..], None)
    }

    /// Loads `image` from a docker archive written to a file, as `label.tar`.
    pub fn load(&self, label: &str, image: &testkit::image_archive::Image) -> strata::Image {
        let archive = testkit::image_archive::docker_modern(std::slice::from_ref(image)).to_tar();
        let path = self.dir.path().join(format!("{label}.tar"));
        std::fs::write(&path, archive).expect("write archive");
        let mut report = self.store.load_path(&path).expect("load");
        report.images.remove(0)
    }

    /// Names of the entries of a store subdirectory.
    pub fn entries(&self, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join(sub))
            .map(|rd| {
                rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The directory holding a layer's own files, as the driver keeps them.
    pub fn files_dir(&self, id: &str) -> PathBuf {
        match self.store.driver_name() {
            "overlay" => self.root().join("overlay").join(id).join("diff"),
            name => self.root().join(name).join(id),
        }
    }

    /// Ids of the layers the driver has data for.
    pub fn driver_entries(&self) -> Vec<String> {
        let mut ids = self.entries(self.store.driver_name());
        ids.retain(|name| name.len() == 64);
        ids
    }

    /// Asserts that nothing of any layer but `layers` remains.
    pub fn assert_only(&self, layers: &[&str]) {
        let mut want: Vec<String> = layers.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(self.driver_entries(), want, "driver data");
        assert_eq!(self.entries("layers"), want, "tar-split metadata");
        assert!(
            self.entries("staging").is_empty(),
            "staging: {:?}",
            self.entries("staging")
        );
        assert!(
            self.entries("trash").is_empty(),
            "trash: {:?}",
            self.entries("trash")
        );
        let mut ids: Vec<String> = self
            .store
            .layers()
            .expect("list")
            .into_iter()
            .map(|l| l.id)
            .collect();
        ids.sort();
        assert_eq!(ids, want, "layer records");
    }
}

impl Drop for TestStore {
    /// Nothing stays mounted under the temporary directory.
    fn drop(&mut self) {
        if let Ok(layers) = self.store.layers() {
            for layer in layers {
                while self.store.mount_count(&layer.id).unwrap_or(0) > 0 {
                    if self.store.unmount_layer(&layer.id).is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// The driver the tests ask for: `STRATA_TEST_DRIVER`, else the store's
/// default (overlay where it works, vfs otherwise).
pub fn test_driver() -> Option<String> {
    std::env::var("STRATA_TEST_DRIVER")
        .ok()
        .filter(|d| !d.is_empty())
}

/// Loads `path` into a new store of its own; the (first) image loaded
/// and its config's diff ids.
pub fn load_elsewhere(path: &Path) -> (strata::Image, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let image = store.load_path(path).expect("load").images[0].clone();
    let diff_ids = store
        .image_config(&image)
        .expect("config")
        .rootfs()
        .diff_ids()
        .clone();
    (image, diff_ids)
}

pub fn open(dir: &Path) -> Store {
    open_with(dir, test_driver())
}

pub fn open_with(dir: &Path, driver: Option<String>) -> Store {
    let options = StoreOptions {
        root: Some(dir.join("root")),
        runroot: Some(dir.join("run")),
        driver,
    };
    Store::open(&options).expect("open store")
}

/// Rebuilds a layer's tar.
pub fn diff(store: &Store, reference: &str) -> Vec<u8> {
    let mut out = Vec::new();
    store
        .diff(reference, None, strata::DiffFormat::None, &mut out)
        .expect("diff");
    out
}

/// Everything under `dir`, with file contents, for before/after comparison.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let contents = if meta.is_file() {
                std::fs::read(&path).expect("read")
            } else {
                Vec::new()
            };
            out.push((path.display().to_string(), contents));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

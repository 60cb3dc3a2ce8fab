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

    /// Asserts that nothing of any layer but `layers` remains.
    pub fn assert_only(&self, layers: &[&str]) {
        let mut want: Vec<String> = layers.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(self.entries("vfs"), want, "driver data");
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

pub fn open(dir: &Path) -> Store {
    let options = StoreOptions {
        root: Some(dir.join("root")),
        runroot: Some(dir.join("run")),
        driver: None,
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

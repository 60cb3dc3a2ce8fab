//! Whose directory a store root is, looked at before anything is written
//! into it: a strata store (it has `strata.db`), nothing yet (missing, or
//! empty but for what a strata store being made by another process
//! holds), another tool's store, or a directory of other things.
//!
//! Another tool's store is told by the entries it keeps at its top:
//!
//! | tool | entries |
//! |---|---|
//! | containers/storage (podman, buildah, cri-o) | `storage.lock`, `overlay-layers`, `vfs-layers`, `overlay-images`, `vfs-images`, `libpod`, `db.sql` |
//! | docker | `image`, `overlay2`, `swarm`, `buildkit` |
//! | containerd | `io.containerd.*` |

use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// The database's file name, whose presence makes a root strata's.
const DATABASE: &str = "strata.db";

/// What a strata root holds, and may hold before its database exists
/// (another process is making the store), and what a file system's root
/// holds when the store is a mount point.
const OWN: &[&str] = &[
    "strata.db-journal",
    "strata.db-wal",
    "strata.db-shm",
    "layers",
    "staging",
    "trash",
    "blobs",
    "downloads",
    "vfs",
    "overlay",
    "lost+found",
];

const CONTAINERS_STORAGE: &str = "containers/storage (podman, buildah, cri-o)";
const DOCKER: &str = "docker";
const CONTAINERD: &str = "containerd";

/// Entries that only another tool's store has at its top.
const FOREIGN: &[(&str, &str)] = &[
    ("storage.lock", CONTAINERS_STORAGE),
    ("overlay-layers", CONTAINERS_STORAGE),
    ("overlay-images", CONTAINERS_STORAGE),
    ("overlay-containers", CONTAINERS_STORAGE),
    ("vfs-layers", CONTAINERS_STORAGE),
    ("vfs-images", CONTAINERS_STORAGE),
    ("vfs-containers", CONTAINERS_STORAGE),
    ("libpod", CONTAINERS_STORAGE),
    ("db.sql", CONTAINERS_STORAGE),
    ("image", DOCKER),
    ("overlay2", DOCKER),
    ("swarm", DOCKER),
    ("buildkit", DOCKER),
];

/// Prefix of containerd's plugin directories.
const CONTAINERD_PREFIX: &str = "io.containerd.";

/// Refuses a root that is another tool's store ([`Error::ForeignStore`])
/// or holds things a strata store does not ([`Error::NotAStore`]). A
/// root that does not exist, is empty, is a strata store, or cannot be
/// listed (the open that follows says why) passes.
pub(crate) fn check_root(root: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
            return Ok(());
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            return Ok(());
        }
        Err(e) => return Err(e).context(|| format!("cannot list {}", root.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("cannot list {}", root.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    if names.iter().any(|name| name == DATABASE) {
        return Ok(());
    }
    let root_text = || root.display().to_string();
    for name in &names {
        let owner = FOREIGN
            .iter()
            .find(|(marker, _)| marker == name)
            .map(|(_, owner)| *owner)
            .or_else(|| name.starts_with(CONTAINERD_PREFIX).then_some(CONTAINERD));
        if let Some(owner) = owner {
            return Err(Error::ForeignStore {
                root: root_text(),
                owner: owner.to_string(),
                marker: name.clone(),
            });
        }
    }
    match names.iter().find(|name| !OWN.contains(&name.as_str())) {
        Some(entry) => Err(Error::NotAStore {
            root: root_text(),
            entry: entry.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(entries: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for entry in entries {
            std::fs::create_dir(dir.path().join(entry)).expect("create");
        }
        dir
    }

    #[test]
    fn other_tools_stores_are_named() {
        for (entries, owner, marker) in [
            (
                &["overlay", "overlay-layers", "storage.lock"][..],
                CONTAINERS_STORAGE,
                "overlay-layers",
            ),
            (&["vfs-layers"], CONTAINERS_STORAGE, "vfs-layers"),
            (&["containers", "image", "overlay2"], DOCKER, "image"),
            (
                &["io.containerd.content.v1.content"],
                CONTAINERD,
                "io.containerd.content.v1.content",
            ),
        ] {
            let dir = root_with(entries);
            match check_root(dir.path()) {
                Err(Error::ForeignStore {
                    owner: found,
                    marker: by,
                    ..
                }) => {
                    assert_eq!(found, owner, "{entries:?}");
                    assert_eq!(by, marker, "{entries:?}");
                }
                other => panic!("{entries:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn strata_roots_and_empty_ones_pass_and_others_do_not() {
        for ok in [&[][..], &["layers", "staging"], &["lost+found"]] {
            check_root(root_with(ok).path()).expect("accepted");
        }
        let dir = root_with(&["overlay-layers", "layers"]);
        std::fs::write(dir.path().join(DATABASE), b"").expect("db");
        check_root(dir.path()).expect("a strata store is strata's");
        assert!(matches!(check_root(&dir.path().join("missing")), Ok(())));
        let dir = root_with(&["Documents", "layers"]);
        match check_root(dir.path()) {
            Err(Error::NotAStore { entry, .. }) => assert_eq!(entry, "Documents"),
            other => panic!("{other:?}"),
        }
    }
}

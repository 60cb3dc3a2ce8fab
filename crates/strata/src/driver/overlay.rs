//! The overlay driver: each layer keeps only its own changes, and kernel
//! overlayfs joins a layer with its parents when its tree is needed.
//!
//! ```text
//! overlay/<id>/diff/      the layer's own files (the upper directory of a
//!                         read-write layer); whiteouts are 0:0 character
//!                         devices, opaque directories carry
//!                         trusted.overlay.opaque=y
//! overlay/<id>/work/      overlayfs's work directory (read-write mounts)
//! overlay/<id>/merged/    where the layer is mounted
//! overlay/<id>/link       the layer's short name in overlay/l/
//! overlay/<id>/lower      its parents, uppermost first: l/<short>:l/<short>...
//! overlay/l/<short>       symlink to ../<id>/diff
//! overlay/empty/          an always-empty lower layer, for mounts that
//!                         would otherwise have only one
//! ```
//!
//! A layer tar is applied straight into `diff/` over a read-only view of
//! the parents (see [`WhiteoutMode::Overlay`]), and tar-split reassembly
//! reads the files from `diff/` without mounting anything. The driver
//! probes the kernel and file system when it opens, and refuses to work
//! where overlay cannot (not root, no overlayfs, a file system that cannot
//! be an upper layer).

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags};

use super::overlay_mount::{
    MountApi, MountCalls, OverlaySpec, build_detached, mount_overlay, view_overlay,
};
use super::{Driver, Prepared, View};
use crate::archive::apply::{KernelOverlayCalls, OverlayCalls, WhiteoutMode};
use crate::error::{Error, IoContext, Result};
use crate::fs::durable::{
    create_dir_all, rename_durable, rename_durable_if_present, symlink_durable, write_new,
};
use crate::fs::random_hex;

const DIFF: &str = "diff";
const WORK: &str = "work";
const MERGED: &str = "merged";
const LINK: &str = "link";
const LOWER: &str = "lower";
const LINKS: &str = "l";
const EMPTY: &str = "empty";
/// Name of the prepared layer directory inside a staging work directory.
const LAYER: &str = "layer";

/// The overlay driver.
pub struct Overlay<C: MountCalls> {
    home: PathBuf,
    /// Empty directories for legacy views come and go here.
    scratch: PathBuf,
    calls: C,
    api: MountApi,
}

impl<C: MountCalls> Overlay<C> {
    /// Opens the driver with its layers under `root/overlay`, after probing
    /// that overlay works in the scratch directory `probe_dir` (on the same
    /// file system as `root`).
    pub fn open(root: &Path, runroot: &Path, probe_dir: &Path, calls: C) -> Result<Self> {
        let home = root.join("overlay");
        let scratch = runroot.join("overlay-views");
        let api = probe(&calls, probe_dir, &scratch)?;
        for dir in [&home, &home.join(LINKS), &home.join(EMPTY), &scratch] {
            create_dir_all(dir)?;
        }
        Ok(Self {
            home,
            scratch,
            calls,
            api,
        })
    }

    /// The driver of a store that is only read: nothing is probed or
    /// made, and mounting is not expected (legacy mounts if it is tried).
    pub fn existing(root: &Path, runroot: &Path, calls: C) -> Self {
        Self {
            home: root.join("overlay"),
            scratch: runroot.join("overlay-views"),
            calls,
            api: MountApi::Legacy,
        }
    }

    fn layer_dir(&self, id: &str) -> PathBuf {
        self.home.join(id)
    }

    /// The diff directories of layer `id`'s parents, uppermost first.
    fn parents(&self, id: &str) -> Result<Vec<PathBuf>> {
        let path = self.layer_dir(id).join(LOWER);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).context(|| format!("cannot read {}", path.display())),
        };
        text.trim()
            .split(':')
            .filter(|entry| !entry.is_empty())
            .map(|entry| match entry.strip_prefix("l/") {
                Some(short) if is_short_name(short) => Ok(self.home.join(LINKS).join(short)),
                _ => Err(Error::Damaged {
                    id: id.to_string(),
                    reason: format!("{} names {entry:?}, not a short link", path.display()),
                }),
            })
            .collect()
    }

    /// The lower layers of a mount: `first` (if any) over the parents, and
    /// the empty layer when that makes only one.
    fn lowers(&self, id: &str, first: Option<PathBuf>) -> Result<Vec<PathBuf>> {
        let mut lower: Vec<PathBuf> = first.into_iter().collect();
        lower.extend(self.parents(id)?);
        if lower.len() < 2 {
            lower.push(self.home.join(EMPTY));
        }
        Ok(lower)
    }

    /// The directories of a new layer in `work` (its tree, overlay's
    /// work and mount directories) and its short link name; returns the
    /// tree.
    fn prepare_tree(&self, work: &Path) -> Result<PathBuf> {
        let layer = work.join(LAYER);
        for name in ["", DIFF, WORK, MERGED] {
            let dir = layer.join(name);
            std::fs::create_dir(&dir).context(|| format!("cannot create {}", dir.display()))?;
        }
        let diff = layer.join(DIFF);
        std::fs::set_permissions(&diff, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .context(|| format!("cannot set the mode of {}", diff.display()))?;
        let link = random_hex(13).to_uppercase();
        write_new(&layer.join(LINK), link.as_bytes())?;
        Ok(diff)
    }

    fn short_name(&self, layer: &Path) -> Result<String> {
        let path = layer.join(LINK);
        let name =
            std::fs::read_to_string(&path).context(|| format!("cannot read {}", path.display()))?;
        let name = name.trim().to_string();
        if !is_short_name(&name) {
            return Err(Error::Invalid(format!(
                "{} holds {name:?}, not a short link name",
                path.display()
            )));
        }
        Ok(name)
    }
}

/// Whether `name` could be a short link this driver made.
fn is_short_name(name: &str) -> bool {
    name.len() == 26
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Whether `path` is the root of a mount.
fn is_mount_root(path: &Path) -> bool {
    rustix::fs::statx(CWD, path, AtFlags::empty(), StatxFlags::BASIC_STATS).is_ok_and(|st| {
        let (mask, attributes) = (st.stx_attributes_mask, st.stx_attributes);
        mask.contains(StatxAttributes::MOUNT_ROOT)
            && attributes.contains(StatxAttributes::MOUNT_ROOT)
    })
}

/// Checks, in the empty directory `dir`, that overlay works here: root,
/// whiteout devices, trusted xattrs, and a writable overlay mount. Returns
/// the mount API the kernel has.
fn probe<C: MountCalls>(calls: &C, dir: &Path, scratch: &Path) -> Result<MountApi> {
    let unsupported = |reason: String| Error::DriverUnsupported {
        driver: "overlay".into(),
        reason,
    };
    if !rustix::process::geteuid().is_root() {
        return Err(unsupported(
            "it needs root (mounts, whiteout devices, trusted.* attributes)".into(),
        ));
    }
    let sub = |name: &str| dir.join(name);
    for name in ["lower1", "lower2", "upper", "work"] {
        create_dir_all(&sub(name))?;
    }
    let upper = rustix::fs::open(
        sub("upper"),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context(|| format!("cannot open {}", sub("upper").display()))?;
    KernelOverlayCalls
        .whiteout(upper.as_fd(), b"gone")
        .map_err(|e| unsupported(format!("cannot create whiteout devices: {e}")))?;
    KernelOverlayCalls
        .opaque(upper.as_fd())
        .map_err(|e| unsupported(format!("cannot set trusted.* attributes: {e}")))?;
    let spec = OverlaySpec {
        lower: vec![sub("lower1"), sub("lower2")],
        upper: Some((sub("upper"), sub("work"))),
    };
    let failed = |e: Error| unsupported(format!("a test mount failed: {e}"));
    match build_detached(calls, &spec).map_err(failed)? {
        Some(_mount) => Ok(MountApi::New),
        None => {
            create_dir_all(scratch)?;
            let target = scratch.join(format!("probe-{}", random_hex(8)));
            create_dir_all(&target)?;
            let view = view_overlay(calls, MountApi::Legacy, &spec, &target);
            let _ = std::fs::remove_dir(&target);
            view.map_err(failed)?;
            Ok(MountApi::Legacy)
        }
    }
}

impl<C: MountCalls> Driver for Overlay<C> {
    fn name(&self) -> &'static str {
        "overlay"
    }

    fn prepare(&self, work: &Path, parent: Option<&str>) -> Result<Prepared> {
        let diff = self.prepare_tree(work)?;
        self.attach_parent(work, parent)?;
        let lower = match parent {
            Some(parent) => Some(self.view(parent)?),
            None => None,
        };
        Ok(Prepared {
            tree: diff,
            whiteouts: WhiteoutMode::Overlay,
            lower,
            lower_later: false,
        })
    }

    fn extracts_ahead(&self) -> bool {
        true
    }

    fn prepare_ahead(&self, work: &Path) -> Result<Option<Prepared>> {
        Ok(Some(Prepared {
            tree: self.prepare_tree(work)?,
            whiteouts: WhiteoutMode::Overlay,
            lower: None,
            lower_later: true,
        }))
    }

    fn attach_parent(&self, work: &Path, parent: Option<&str>) -> Result<()> {
        let Some(parent) = parent else {
            return Ok(());
        };
        let parent_dir = self.layer_dir(parent);
        let mut chain = format!("l/{}", self.short_name(&parent_dir)?);
        match std::fs::read_to_string(parent_dir.join(LOWER)) {
            Ok(rest) if !rest.trim().is_empty() => {
                chain.push(':');
                chain.push_str(rest.trim());
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Damaged {
                    id: parent.to_string(),
                    reason: format!("cannot read its lower file: {e}"),
                });
            }
        }
        write_new(&work.join(LAYER).join(LOWER), chain.as_bytes())
    }

    fn commit(&self, work: &Path, id: &str) -> Result<()> {
        let layer = work.join(LAYER);
        let link = self.short_name(&layer)?;
        rename_durable(&layer, &self.layer_dir(id))?;
        let path = self.home.join(LINKS).join(&link);
        symlink_durable(&Path::new("..").join(id).join(DIFF), &path)
    }

    fn retire(&self, id: &str, work: &Path) -> Result<()> {
        let dir = self.layer_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        self.unmount(id)?;
        if let Ok(link) = self.short_name(&dir) {
            let path = self.home.join(LINKS).join(link);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context(|| format!("cannot remove {}", path.display())),
            }
        }
        rename_durable_if_present(&dir, &work.join(LAYER)).map(drop)
    }

    fn files_dir(&self, id: &str) -> PathBuf {
        self.layer_dir(id).join(DIFF)
    }

    fn data_dir(&self, id: &str) -> PathBuf {
        self.layer_dir(id)
    }

    fn mount_point(&self, id: &str) -> Option<PathBuf> {
        Some(self.layer_dir(id).join(MERGED))
    }

    fn view(&self, id: &str) -> Result<View> {
        let spec = OverlaySpec {
            lower: self.lowers(id, Some(self.files_dir(id)))?,
            upper: None,
        };
        let scratch = match self.api {
            MountApi::New => self.scratch.clone(),
            MountApi::Legacy => {
                let dir = self.scratch.join(random_hex(8));
                create_dir_all(&dir)?;
                dir
            }
        };
        let view = view_overlay(&self.calls, self.api, &spec, &scratch);
        if self.api == MountApi::Legacy {
            let _ = std::fs::remove_dir(&scratch);
        }
        Ok(View::mount(view?))
    }

    fn mount(&self, id: &str, read_write: bool) -> Result<PathBuf> {
        let dir = self.layer_dir(id);
        let target = dir.join(MERGED);
        if is_mount_root(&target) {
            return Ok(target);
        }
        let spec = match read_write {
            true => OverlaySpec {
                lower: self.lowers(id, None)?,
                upper: Some((dir.join(DIFF), dir.join(WORK))),
            },
            false => OverlaySpec {
                lower: self.lowers(id, Some(dir.join(DIFF)))?,
                upper: None,
            },
        };
        mount_overlay(&self.calls, self.api, &spec, &target)?;
        Ok(target)
    }

    fn unmount(&self, id: &str) -> Result<()> {
        let target = self.layer_dir(id).join(MERGED);
        if is_mount_root(&target) {
            self.calls.unmount(&target, false)?;
        }
        Ok(())
    }

    fn exists(&self, id: &str) -> bool {
        self.files_dir(id).is_dir()
    }

    fn list(&self) -> Result<Vec<String>> {
        let names = crate::fs::entries(&self.home)?;
        Ok(names
            .into_iter()
            .filter(|name| name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect())
    }
}

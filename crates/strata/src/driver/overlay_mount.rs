//! Kernel overlayfs mounts, through one seam.
//!
//! Every mount-related system call the overlay driver makes goes through
//! [`MountCalls`]: [`KernelCalls`] makes them for real, a recording double
//! in the tests lists them, so the exact sequence is checked without root
//! while a root-only test proves it against the kernel.
//!
//! Mounts use the new mount API (`fsopen` → `fsconfig` → `fsmount` →
//! `move_mount`). Each lower layer is added with its own `lowerdir+` key
//! (Linux ≥ 6.8), so a chain is limited only by the kernel's 500 lower
//! layers, not by the one page of options `mount(2)` takes.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags};

use crate::error::{IoContext, Result};

/// The most lower layers the kernel stacks (`OVL_MAX_STACK`).
pub const MAX_LOWER: usize = 500;

/// What an overlay mount is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlaySpec {
    /// Lower directories, uppermost first.
    pub lower: Vec<PathBuf>,
    /// Upper and work directory of a writable mount; none for read-only.
    pub upper: Option<(PathBuf, PathBuf)>,
    /// Where to mount it.
    pub target: PathBuf,
}

/// The system calls behind an overlay mount.
pub trait MountCalls {
    /// An open file system context.
    type Context;

    /// `fsopen(2)`.
    fn fsopen(&self, fs_type: &str) -> Result<Self::Context>;
    /// `fsconfig(2)` with `FSCONFIG_SET_STRING`.
    fn set_string(&self, context: &Self::Context, key: &str, value: &Path) -> Result<()>;
    /// `fsconfig(2)` with `FSCONFIG_CMD_CREATE`.
    fn create(&self, context: &Self::Context) -> Result<()>;
    /// `fsmount(2)` then `move_mount(2)` onto `target`.
    fn attach(&self, context: Self::Context, target: &Path) -> Result<()>;
    /// `umount2(2)`.
    fn unmount(&self, target: &Path) -> Result<()>;
}

/// Mounts `spec` with `calls`.
pub fn mount_overlay<C: MountCalls>(calls: &C, spec: &OverlaySpec) -> Result<()> {
    if spec.lower.is_empty() || spec.lower.len() > MAX_LOWER {
        return Err(crate::Error::Invalid(format!(
            "an overlay mount needs 1 to {MAX_LOWER} lower layers, not {}",
            spec.lower.len()
        )));
    }
    let context = calls.fsopen("overlay")?;
    for dir in &spec.lower {
        calls.set_string(&context, "lowerdir+", dir)?;
    }
    if let Some((upper, work)) = &spec.upper {
        calls.set_string(&context, "upperdir", upper)?;
        calls.set_string(&context, "workdir", work)?;
    }
    calls.create(&context)?;
    calls.attach(context, &spec.target)
}

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelCalls;

impl MountCalls for KernelCalls {
    type Context = OwnedFd;

    fn fsopen(&self, fs_type: &str) -> Result<OwnedFd> {
        rustix::mount::fsopen(fs_type, FsOpenFlags::FSOPEN_CLOEXEC)
            .context(|| format!("cannot open a {fs_type} file system context"))
    }

    fn set_string(&self, context: &OwnedFd, key: &str, value: &Path) -> Result<()> {
        rustix::mount::fsconfig_set_string(context, key, value)
            .context(|| format!("overlay option {key}={}", value.display()))
    }

    fn create(&self, context: &OwnedFd) -> Result<()> {
        rustix::mount::fsconfig_create(context).context(|| "cannot create the overlay".into())
    }

    fn attach(&self, context: OwnedFd, target: &Path) -> Result<()> {
        let mount = rustix::mount::fsmount(
            &context,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::empty(),
        )
        .context(|| "cannot make the overlay mount".into())?;
        rustix::mount::move_mount(
            &mount,
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .context(|| format!("cannot mount the overlay on {}", target.display()))
        // Both descriptors close here: a mount whose fd stays open cannot
        // be unmounted (EBUSY).
    }

    fn unmount(&self, target: &Path) -> Result<()> {
        rustix::mount::unmount(target, UnmountFlags::empty())
            .context(|| format!("cannot unmount {}", target.display()))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Lists the calls instead of making them.
    #[derive(Default)]
    struct Recording {
        calls: RefCell<Vec<String>>,
    }

    impl MountCalls for Recording {
        type Context = ();

        fn fsopen(&self, fs_type: &str) -> Result<()> {
            self.calls.borrow_mut().push(format!("fsopen {fs_type}"));
            Ok(())
        }
        fn set_string(&self, _: &(), key: &str, value: &Path) -> Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("fsconfig {key}={}", value.display()));
            Ok(())
        }
        fn create(&self, _: &()) -> Result<()> {
            self.calls.borrow_mut().push("fsconfig create".into());
            Ok(())
        }
        fn attach(&self, _: (), target: &Path) -> Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("fsmount+move_mount {}", target.display()));
            Ok(())
        }
        fn unmount(&self, target: &Path) -> Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("umount {}", target.display()));
            Ok(())
        }
    }

    #[test]
    fn writable_mount_sequence() {
        let calls = Recording::default();
        let spec = OverlaySpec {
            lower: vec!["/l/2".into(), "/l/1".into()],
            upper: Some(("/u".into(), "/w".into())),
            target: "/m".into(),
        };
        mount_overlay(&calls, &spec).expect("recorded");
        assert_eq!(
            calls.calls.into_inner(),
            [
                "fsopen overlay",
                "fsconfig lowerdir+=/l/2",
                "fsconfig lowerdir+=/l/1",
                "fsconfig upperdir=/u",
                "fsconfig workdir=/w",
                "fsconfig create",
                "fsmount+move_mount /m",
            ]
        );
    }

    #[test]
    fn lower_layer_count_is_bounded() {
        let calls = Recording::default();
        let spec = |n: usize| OverlaySpec {
            lower: (0..n).map(|i| PathBuf::from(format!("/l/{i}"))).collect(),
            upper: None,
            target: "/m".into(),
        };
        assert!(mount_overlay(&calls, &spec(0)).is_err());
        assert!(mount_overlay(&calls, &spec(MAX_LOWER + 1)).is_err());
        assert!(
            calls.calls.borrow().is_empty(),
            "nothing is called for a refused spec"
        );
        mount_overlay(&calls, &spec(MAX_LOWER)).expect("500 lower layers");
    }

    /// Root only: a real 300-deep read-only overlay, whose merged view
    /// shows the uppermost version of each file.
    #[test]
    fn three_hundred_lower_layers_mount_for_real() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to mount");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut lower = Vec::new();
        for i in 0..300 {
            let layer = dir.path().join(format!("{:0>64}", i));
            std::fs::create_dir(&layer).expect("mkdir");
            std::fs::write(layer.join(format!("only-{i}")), b"x").expect("write");
            std::fs::write(layer.join("shared"), i.to_string()).expect("write");
            lower.push(layer);
        }
        lower.reverse();
        let target = dir.path().join("merged");
        std::fs::create_dir(&target).expect("mkdir");
        let spec = OverlaySpec {
            lower,
            upper: None,
            target: target.clone(),
        };
        mount_overlay(&KernelCalls, &spec).expect("mount");
        let shared = std::fs::read_to_string(target.join("shared"));
        let first = target.join("only-0").exists();
        let last = target.join("only-299").exists();
        KernelCalls.unmount(&target).expect("unmount");
        assert_eq!(shared.expect("read"), "299");
        assert!(first && last);
        assert!(!target.join("shared").exists(), "unmounted");
    }
}

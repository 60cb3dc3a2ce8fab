//! Kernel overlayfs mounts, through one seam.
//!
//! Every mount-related system call the overlay driver makes goes through
//! [`MountCalls`]: [`KernelCalls`] makes them for real, a recording double
//! in the tests lists them, so the exact sequence is checked without root
//! while root-only tests prove it against the kernel.
//!
//! Mounts use the new mount API (`fsopen` → `fsconfig` → `fsmount` →
//! `move_mount`). Each lower layer is added with its own `lowerdir+` key
//! (Linux ≥ 6.8), so a chain is limited only by the kernel's 500 lower
//! layers, not by the one page of options `mount(2)` takes. Kernels without
//! `lowerdir+` get [`MountApi::Legacy`]: one `mount(2)` whose options name
//! the layers by their short links, as long as they fit in a page.
//!
//! Besides mounts at a path, the driver needs private read-only views of a
//! chain (to compare trees, or to look below a layer being written):
//! [`view_overlay`] returns the root of a mount attached nowhere, which
//! disappears when its descriptor closes, so a killed process leaves none
//! behind.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags,
};

use crate::error::{Error, IoContext, Result};

/// The most lower layers the kernel stacks (`OVL_MAX_STACK`).
pub const MAX_LOWER: usize = 500;
/// The most bytes of options `mount(2)` takes (one page).
pub const MAX_LEGACY_OPTIONS: usize = 4095;

/// Which kernel interface mounts go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountApi {
    /// `fsopen`/`fsconfig` with one `lowerdir+` per layer (Linux ≥ 6.8).
    New,
    /// `mount(2)` with all the options in one string.
    Legacy,
}

/// What an overlay mount is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlaySpec {
    /// Lower directories, uppermost first.
    pub lower: Vec<PathBuf>,
    /// Upper and work directory of a writable mount; none for read-only.
    pub upper: Option<(PathBuf, PathBuf)>,
}

/// The system calls behind an overlay mount.
pub trait MountCalls: Send + Sync {
    /// An open file system context.
    type Context;

    /// `fsopen(2)`.
    fn fsopen(&self, fs_type: &str) -> Result<Self::Context>;
    /// `fsconfig(2)` with `FSCONFIG_SET_STRING`; the raw error is kept so
    /// a key the kernel does not know can be told apart.
    fn set_string(
        &self,
        context: &Self::Context,
        key: &str,
        value: &Path,
    ) -> std::result::Result<(), Errno>;
    /// `fsconfig(2)` with `FSCONFIG_CMD_CREATE`.
    fn create(&self, context: &Self::Context) -> Result<()>;
    /// `fsmount(2)`: the new mount, attached nowhere yet.
    fn fsmount(&self, context: Self::Context) -> Result<OwnedFd>;
    /// `move_mount(2)` of a detached mount onto `target`.
    fn move_mount(&self, mount: OwnedFd, target: &Path) -> Result<()>;
    /// `mount(2)` of an overlay with these options.
    fn mount_legacy(&self, options: &str, target: &Path) -> Result<()>;
    /// Opens a directory (to hold on to a mount).
    fn open_dir(&self, path: &Path) -> Result<OwnedFd>;
    /// `umount2(2)`, lazily (`MNT_DETACH`) when `detach`.
    fn unmount(&self, target: &Path, detach: bool) -> Result<()>;
}

fn check(spec: &OverlaySpec) -> Result<()> {
    if spec.lower.is_empty() || spec.lower.len() > MAX_LOWER {
        return Err(Error::Invalid(format!(
            "an overlay mount needs 1 to {MAX_LOWER} lower layers, not {}",
            spec.lower.len()
        )));
    }
    Ok(())
}

/// Builds the mount with the new API, attached nowhere; `None` when the
/// kernel does not know `lowerdir+`.
pub fn build_detached<C: MountCalls>(calls: &C, spec: &OverlaySpec) -> Result<Option<OwnedFd>> {
    let context = calls.fsopen("overlay")?;
    for (i, dir) in spec.lower.iter().enumerate() {
        match calls.set_string(&context, "lowerdir+", dir) {
            Ok(()) => {}
            Err(Errno::INVAL) if i == 0 => return Ok(None),
            Err(e) => {
                return Err(e).context(|| format!("overlay option lowerdir+={}", dir.display()));
            }
        }
    }
    if let Some((upper, work)) = &spec.upper {
        for (key, value) in [("upperdir", upper), ("workdir", work)] {
            calls
                .set_string(&context, key, value)
                .context(|| format!("overlay option {key}={}", value.display()))?;
        }
    }
    calls.create(&context)?;
    calls.fsmount(context).map(Some)
}

/// The options string of a `mount(2)` call.
pub fn legacy_options(spec: &OverlaySpec) -> Result<String> {
    let text = |path: &Path| -> Result<String> {
        let text = path.to_str().filter(|t| !t.contains([',', ':']));
        text.map(str::to_string).ok_or_else(|| {
            Error::Invalid(format!(
                "{} cannot be named in mount(2) options",
                path.display()
            ))
        })
    };
    let lower: Vec<String> = spec.lower.iter().map(|p| text(p)).collect::<Result<_>>()?;
    let mut options = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = &spec.upper {
        options.push_str(&format!(
            ",upperdir={},workdir={}",
            text(upper)?,
            text(work)?
        ));
    }
    if options.len() > MAX_LEGACY_OPTIONS {
        return Err(Error::Invalid(format!(
            "a chain of {} layers does not fit in the options of mount(2) on this kernel \
             (Linux 6.8 or later mounts up to {MAX_LOWER})",
            spec.lower.len()
        )));
    }
    Ok(options)
}

/// Mounts `spec` on `target`.
pub fn mount_overlay<C: MountCalls>(
    calls: &C,
    api: MountApi,
    spec: &OverlaySpec,
    target: &Path,
) -> Result<()> {
    check(spec)?;
    if api == MountApi::New
        && let Some(mount) = build_detached(calls, spec)?
    {
        return calls.move_mount(mount, target);
    }
    calls.mount_legacy(&legacy_options(spec)?, target)
}

/// A read-only view of `spec` attached nowhere: the descriptor of its root.
/// With the legacy API it is mounted on the empty directory `scratch`,
/// opened, and lazily unmounted at once.
pub fn view_overlay<C: MountCalls>(
    calls: &C,
    api: MountApi,
    spec: &OverlaySpec,
    scratch: &Path,
) -> Result<OwnedFd> {
    check(spec)?;
    if api == MountApi::New
        && let Some(mount) = build_detached(calls, spec)?
    {
        return Ok(mount);
    }
    calls.mount_legacy(&legacy_options(spec)?, scratch)?;
    let opened = calls.open_dir(scratch);
    calls.unmount(scratch, true)?;
    opened
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

    fn set_string(
        &self,
        context: &OwnedFd,
        key: &str,
        value: &Path,
    ) -> std::result::Result<(), Errno> {
        rustix::mount::fsconfig_set_string(context, key, value)
    }

    fn create(&self, context: &OwnedFd) -> Result<()> {
        rustix::mount::fsconfig_create(context).context(|| "cannot create the overlay".into())
    }

    fn fsmount(&self, context: OwnedFd) -> Result<OwnedFd> {
        rustix::mount::fsmount(
            &context,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::empty(),
        )
        .context(|| "cannot make the overlay mount".into())
    }

    fn move_mount(&self, mount: OwnedFd, target: &Path) -> Result<()> {
        rustix::mount::move_mount(
            &mount,
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .context(|| format!("cannot mount the overlay on {}", target.display()))
        // The descriptor closes here: a mount whose fd stays open cannot
        // be unmounted (EBUSY).
    }

    fn mount_legacy(&self, options: &str, target: &Path) -> Result<()> {
        let data = std::ffi::CString::new(options)
            .map_err(|_| Error::Invalid("mount options hold a NUL byte".into()))?;
        rustix::mount::mount(
            "overlay",
            target,
            "overlay",
            MountFlags::empty(),
            Some(data.as_c_str()),
        )
        .context(|| format!("cannot mount the overlay on {}", target.display()))
    }

    fn open_dir(&self, path: &Path) -> Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::open(path, flags, Mode::empty())
            .context(|| format!("cannot open {}", path.display()))
    }

    fn unmount(&self, target: &Path, detach: bool) -> Result<()> {
        let flags = match detach {
            true => UnmountFlags::DETACH,
            false => UnmountFlags::empty(),
        };
        rustix::mount::unmount(target, flags)
            .context(|| format!("cannot unmount {}", target.display()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Lists the calls instead of making them; `lowerdir+` is refused when
    /// `old_kernel`.
    #[derive(Default)]
    struct Recording {
        calls: Mutex<Vec<String>>,
        old_kernel: bool,
    }

    impl Recording {
        fn push(&self, call: String) {
            self.calls.lock().expect("lock").push(call);
        }
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.calls.lock().expect("lock"))
        }
    }

    impl MountCalls for Recording {
        type Context = ();

        fn fsopen(&self, fs_type: &str) -> Result<()> {
            self.push(format!("fsopen {fs_type}"));
            Ok(())
        }
        fn set_string(&self, _: &(), key: &str, value: &Path) -> std::result::Result<(), Errno> {
            self.push(format!("fsconfig {key}={}", value.display()));
            match self.old_kernel && key == "lowerdir+" {
                true => Err(Errno::INVAL),
                false => Ok(()),
            }
        }
        fn create(&self, _: &()) -> Result<()> {
            self.push("fsconfig create".into());
            Ok(())
        }
        fn fsmount(&self, _: ()) -> Result<OwnedFd> {
            self.push("fsmount".into());
            KernelCalls.open_dir(Path::new("/"))
        }
        fn move_mount(&self, _: OwnedFd, target: &Path) -> Result<()> {
            self.push(format!("move_mount {}", target.display()));
            Ok(())
        }
        fn mount_legacy(&self, options: &str, target: &Path) -> Result<()> {
            self.push(format!("mount {options} {}", target.display()));
            Ok(())
        }
        fn open_dir(&self, path: &Path) -> Result<OwnedFd> {
            self.push(format!("open {}", path.display()));
            KernelCalls.open_dir(Path::new("/"))
        }
        fn unmount(&self, target: &Path, detach: bool) -> Result<()> {
            self.push(format!(
                "umount{} {}",
                if detach { " -l" } else { "" },
                target.display()
            ));
            Ok(())
        }
    }

    fn writable() -> OverlaySpec {
        OverlaySpec {
            lower: vec!["/l/2".into(), "/l/1".into()],
            upper: Some(("/u".into(), "/w".into())),
        }
    }

    #[test]
    fn writable_mount_sequence() {
        let calls = Recording::default();
        mount_overlay(&calls, MountApi::New, &writable(), Path::new("/m")).expect("recorded");
        assert_eq!(
            calls.take(),
            [
                "fsopen overlay",
                "fsconfig lowerdir+=/l/2",
                "fsconfig lowerdir+=/l/1",
                "fsconfig upperdir=/u",
                "fsconfig workdir=/w",
                "fsconfig create",
                "fsmount",
                "move_mount /m",
            ]
        );
    }

    #[test]
    fn kernels_without_lowerdir_plus_fall_back_to_mount() {
        let calls = Recording {
            old_kernel: true,
            ..Recording::default()
        };
        mount_overlay(&calls, MountApi::New, &writable(), Path::new("/m")).expect("recorded");
        assert_eq!(
            calls.take(),
            [
                "fsopen overlay",
                "fsconfig lowerdir+=/l/2",
                "mount lowerdir=/l/2:/l/1,upperdir=/u,workdir=/w /m",
            ]
        );
        let spec = OverlaySpec {
            lower: writable().lower,
            upper: None,
        };
        view_overlay(&calls, MountApi::Legacy, &spec, Path::new("/s")).expect("recorded");
        assert_eq!(
            calls.take(),
            ["mount lowerdir=/l/2:/l/1 /s", "open /s", "umount -l /s"]
        );
    }

    #[test]
    fn views_are_never_attached() {
        let calls = Recording::default();
        let spec = OverlaySpec {
            lower: writable().lower,
            upper: None,
        };
        view_overlay(&calls, MountApi::New, &spec, Path::new("/s")).expect("recorded");
        assert_eq!(
            calls.take(),
            [
                "fsopen overlay",
                "fsconfig lowerdir+=/l/2",
                "fsconfig lowerdir+=/l/1",
                "fsconfig create",
                "fsmount",
            ]
        );
    }

    #[test]
    fn legacy_options_are_bounded_and_plain() {
        let spec = |n: usize| OverlaySpec {
            lower: (0..n)
                .map(|i| PathBuf::from(format!("/var/lib/strata/overlay/l/{i:026}")))
                .collect(),
            upper: None,
        };
        assert!(legacy_options(&spec(50)).is_ok());
        let error = legacy_options(&spec(200)).expect_err("too long");
        assert!(error.to_string().contains("Linux 6.8"), "{error}");
        let odd = OverlaySpec {
            lower: vec!["/a:b".into()],
            upper: None,
        };
        assert!(legacy_options(&odd).is_err());
    }

    #[test]
    fn lower_layer_count_is_bounded() {
        let calls = Recording::default();
        let spec = |n: usize| OverlaySpec {
            lower: (0..n).map(|i| PathBuf::from(format!("/l/{i}"))).collect(),
            upper: None,
        };
        let target = Path::new("/m");
        assert!(mount_overlay(&calls, MountApi::New, &spec(0), target).is_err());
        assert!(mount_overlay(&calls, MountApi::New, &spec(MAX_LOWER + 1), target).is_err());
        assert!(
            calls.take().is_empty(),
            "nothing is called for a refused spec"
        );
        mount_overlay(&calls, MountApi::New, &spec(MAX_LOWER), target).expect("500 lower layers");
    }

    fn layers(dir: &Path, count: usize) -> Vec<PathBuf> {
        let mut lower = Vec::new();
        for i in 0..count {
            let layer = dir.join(format!("{:0>64}", i));
            std::fs::create_dir(&layer).expect("mkdir");
            std::fs::write(layer.join(format!("only-{i}")), b"x").expect("write");
            std::fs::write(layer.join("shared"), i.to_string()).expect("write");
            lower.push(layer);
        }
        lower.reverse();
        lower
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
        let spec = OverlaySpec {
            lower: layers(dir.path(), 300),
            upper: None,
        };
        let target = dir.path().join("merged");
        std::fs::create_dir(&target).expect("mkdir");
        mount_overlay(&KernelCalls, MountApi::New, &spec, &target).expect("mount");
        let shared = std::fs::read_to_string(target.join("shared"));
        let first = target.join("only-0").exists();
        let last = target.join("only-299").exists();
        KernelCalls.unmount(&target, false).expect("unmount");
        assert_eq!(shared.expect("read"), "299");
        assert!(first && last);
        assert!(!target.join("shared").exists(), "unmounted");
    }

    /// Root only: views through both APIs read like the mount and leave no
    /// mount behind.
    #[test]
    fn views_work_for_real_with_both_apis() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to mount");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = OverlaySpec {
            lower: layers(dir.path(), 3),
            upper: None,
        };
        let scratch = dir.path().join("scratch");
        std::fs::create_dir(&scratch).expect("mkdir");
        for api in [MountApi::New, MountApi::Legacy] {
            let view = view_overlay(&KernelCalls, api, &spec, &scratch).expect("view");
            let path = PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&view)
            ));
            assert_eq!(
                std::fs::read_to_string(path.join("shared")).expect("read"),
                "2"
            );
            assert!(path.join("only-0").exists(), "{api:?}");
            assert!(
                !scratch.join("shared").exists(),
                "{api:?}: nothing attached"
            );
        }
    }
}

//! What the running kernel offers the overlay driver, found without
//! mounting anything or touching a store: for `strata version` and bug
//! reports. The driver's own probe, when a store opens, goes further (a
//! test mount, whiteout devices and `trusted.*` attributes on the store's
//! file system); this one answers what the kernel knows.

use rustix::io::Errno;
use rustix::mount::{FsOpenFlags, fsconfig_set_string, fsopen};
use serde::Serialize;

/// What the kernel offers overlay mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSupport {
    /// The kernel's release (`uname -r`).
    pub kernel: String,
    /// Whether this process runs as root (the overlay driver needs it).
    pub root: bool,
    /// Whether the kernel has overlayfs: an overlay file system context
    /// could be opened (`fsopen`, which loads the module if needed), or
    /// `/proc/filesystems` lists it.
    pub overlay: bool,
    /// Whether the new mount API (`fsopen`/`fsconfig`/`fsmount`) opened an
    /// overlay context.
    pub mount_api: bool,
    /// Whether overlay takes lower layers one at a time (`lowerdir+`,
    /// Linux 6.8 and later); without it a mount names every lower layer in
    /// one `mount(2)` option string, which a page bounds.
    pub lowerdir_plus: bool,
    /// Why something is missing, when the kernel said more than "no".
    pub note: Option<String>,
}

/// Asks the kernel what it offers overlay mounts; opens an overlay file
/// system context and sets one `lowerdir+` option, never mounts.
pub fn probe_host() -> HostSupport {
    let mut support = HostSupport {
        kernel: rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned(),
        root: rustix::process::geteuid().is_root(),
        overlay: listed_in_proc_filesystems(),
        mount_api: false,
        lowerdir_plus: false,
        note: None,
    };
    let context = match fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(context) => context,
        Err(Errno::NODEV) => {
            support.overlay = false;
            support.note = Some("the kernel has no overlay file system".into());
            return support;
        }
        Err(Errno::NOSYS) => {
            support.note = Some("the kernel has no fsopen (before Linux 5.2)".into());
            return support;
        }
        Err(e) => {
            support.note = Some(format!("fsopen(\"overlay\"): {e}"));
            return support;
        }
    };
    support.overlay = true;
    support.mount_api = true;
    match fsconfig_set_string(&context, "lowerdir+", "/") {
        Ok(()) => support.lowerdir_plus = true,
        Err(Errno::INVAL) => {}
        Err(e) => support.note = Some(format!("fsconfig lowerdir+: {e}")),
    }
    support
}

/// Whether `/proc/filesystems` has a line for overlay.
fn listed_in_proc_filesystems() -> bool {
    std::fs::read_to_string("/proc/filesystems").is_ok_and(|text| {
        text.lines()
            .any(|line| line.split_whitespace().last() == Some("overlay"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel release is the one `uname -r` prints, and `lowerdir+`
    /// is never reported without the mount API that carries it.
    #[test]
    fn the_probe_agrees_with_uname_and_with_itself() {
        let support = probe_host();
        let uname = std::process::Command::new("uname")
            .arg("-r")
            .output()
            .expect("uname");
        assert_eq!(
            support.kernel,
            String::from_utf8_lossy(&uname.stdout).trim()
        );
        assert!(!support.lowerdir_plus || (support.mount_api && support.overlay));
    }
}

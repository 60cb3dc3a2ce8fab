//! Removing several things at once: `strata rmi` (`image rm`), `strata rm`
//! (`container rm`) and `strata layer rm`. Each named thing is removed in
//! turn; a failure is printed (`strata: cannot remove ...: why`) and the
//! next one is tried. At the end the status is podman's for the worst
//! failure: 1 when something was missing, 2 when something was in use,
//! 125 for anything else (125 beats 2 beats 1). `-i`/`--ignore` skips
//! missing things silently, as podman's does.

use anyhow::Result;
use strata::Error;

use crate::exit::{self, Reported};

/// Status of a removal that named something missing.
pub const MISSING: u8 = 1;
/// Status of a removal that named something in use.
pub const IN_USE: u8 = 2;

/// Runs `remove` on each of `items`, going on past failures; see the
/// module docs for the end status.
pub fn each(
    items: &[String],
    ignore: bool,
    mut remove: impl FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut worst = 0;
    for item in items {
        let Err(error) = remove(item) else {
            continue;
        };
        let status = status_of(&error);
        if ignore && status == MISSING {
            continue;
        }
        exit::report(&error);
        worst = worst.max(status);
    }
    match worst {
        0 => Ok(()),
        status => Err(Reported(status).into()),
    }
}

/// The status a failed removal ends with.
pub fn status_of(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<Error>() {
        Some(Error::ImageNotFound(_) | Error::ContainerNotFound(_) | Error::LayerNotFound(_)) => {
            MISSING
        }
        Some(
            Error::ImageInUse { .. }
            | Error::ImageInIndex { .. }
            | Error::UsedByImage { .. }
            | Error::UsedByContainer { .. }
            | Error::HasChildren { .. }
            | Error::Mounted { .. }
            | Error::ContainerMounted { .. }
            | Error::KernelMounted { .. }
            | Error::LayerHeld(_),
        ) => IN_USE,
        _ => exit::FAILED,
    }
}

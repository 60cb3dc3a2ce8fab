//! `strata image prune`, `strata container prune` and `strata system
//! prune`, printing what podman prints: the ids removed, one a line; for
//! `system prune`, `Deleted Images` before them and `Total reclaimed
//! space:` after. Without `-f` each asks first, on stdout, and reads the
//! answer from stdin; anything but `y` or `yes` removes nothing (status 0).

use std::io::{BufRead, Write};

use anyhow::{Context, Result};
use strata::{PruneOptions, Store};

use super::format::human;
use super::output;
use crate::cli::{ContainerPruneArgs, ImagePruneArgs, SystemPruneArgs};

/// `strata image prune [-a] [-f]`.
pub fn images(store: &Store, args: &ImagePruneArgs) -> Result<()> {
    let warning = match args.all {
        true => {
            "WARNING! This command removes all images without at least one container associated with them.\n"
        }
        false => "WARNING! This command removes all dangling images.\n",
    };
    if !args.force && !confirm(warning)? {
        return Ok(());
    }
    let report = store
        .prune_images(&PruneOptions {
            all: args.all,
            dry_run: false,
        })
        .context("cannot prune images")?;
    print_ids(&report.removed)
}

/// `strata container prune [-f]`.
pub fn containers(store: &Store, args: &ContainerPruneArgs) -> Result<()> {
    if !args.force && !confirm("WARNING! This will remove all containers that are not mounted.\n")?
    {
        return Ok(());
    }
    let report = store
        .prune_containers(false)
        .context("cannot prune containers")?;
    print_ids(&report.removed)
}

/// `strata system prune [-a] [-f] [--dry-run] [--json]`.
pub fn system(store: &Store, args: &SystemPruneArgs) -> Result<()> {
    let images = match args.all {
        true => "all images without at least one container associated with them",
        false => "all dangling images",
    };
    let warning = format!(
        "WARNING! This command removes:\n\t- {images}\n\t- all layers, blobs and \
         leftovers nothing uses\n\t- expired leases and partial downloads untouched for a day\n\n"
    );
    let asks = !(args.force || args.dry_run || args.json);
    if asks && !confirm(&warning)? {
        return Ok(());
    }
    let report = store
        .prune_system(&PruneOptions {
            all: args.all,
            dry_run: args.dry_run,
        })
        .context("cannot prune the store")?;
    if args.json {
        return output::json(&report);
    }
    let mut out = std::io::stdout().lock();
    if !report.images.removed.is_empty() {
        let heading = match args.dry_run {
            true => "Images to delete",
            false => "Deleted Images",
        };
        writeln!(out, "{heading}")?;
        for id in &report.images.removed {
            writeln!(out, "{id}")?;
        }
    }
    let gc = &report.gc;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if [
        gc.layers.len(),
        gc.blobs.len(),
        gc.dirs.len(),
        gc.leases.len(),
        gc.downloads.len(),
    ]
    .iter()
    .any(|n| *n > 0)
    {
        writeln!(
            out,
            "{} {}, {}, {}, {}, {}",
            match args.dry_run {
                true => "Unused data to remove:",
                false => "Unused data removed:",
            },
            count(gc.layers.len(), "layer"),
            count(gc.blobs.len(), "blob"),
            count(gc.dirs.len(), "leftover"),
            count(gc.leases.len(), "expired lease"),
            count(gc.downloads.len(), "stale download"),
        )?;
    }
    let total = match args.dry_run {
        true => "Total reclaimable space",
        false => "Total reclaimed space",
    };
    writeln!(out, "{total}: {}", human::compact_size(report.bytes()))?;
    out.flush()?;
    Ok(())
}

fn print_ids(ids: &[String]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for id in ids {
        writeln!(out, "{id}")?;
    }
    out.flush()?;
    Ok(())
}

/// Prints `warning` and podman's question on stdout; whether the line
/// read from stdin says yes.
fn confirm(warning: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    write!(out, "{warning}Are you sure you want to continue? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    let answer = answer.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

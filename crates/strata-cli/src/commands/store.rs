//! `strata fsck`, `strata gc` (and `system prune`) and `strata status`.

use anyhow::{Result, bail};
use strata::GcOptions;
use strata::Store;

use super::format::{self, Format};
use super::output;
use crate::cli::{FsckArgs, GcArgs, StatusArgs};

/// `strata fsck [--repair]`: exits non-zero unless the store is clean.
pub fn fsck(store: &Store, args: &FsckArgs) -> Result<()> {
    let report = store.fsck(args.repair)?;
    if args.json {
        output::json(&report)?;
    } else {
        for issue in &report.issues {
            let state = if issue.repaired { " (repaired)" } else { "" };
            println!("{} {}: {}{state}", issue.kind, issue.id, issue.detail);
        }
        println!(
            "{} layers checked, {} issues",
            report.layers_checked,
            report.issues.len()
        );
    }
    if !report.clean {
        bail!(
            "the store has problems{}",
            if args.repair {
                " that could not be repaired"
            } else {
                "; run with --repair"
            }
        );
    }
    Ok(())
}

/// `strata gc [--dry-run]`: one summary line, or the JSON report.
pub fn gc(store: &Store, args: &GcArgs) -> Result<()> {
    let report = store.gc(&GcOptions {
        dry_run: args.dry_run,
    })?;
    if args.json {
        return output::json(&report);
    }
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    println!(
        "{} {}, {}, {}, {}, {}; {} {}",
        if report.dry_run {
            "would remove"
        } else {
            "removed"
        },
        count(report.layers.len(), "layer"),
        count(report.blobs.len(), "blob"),
        count(report.dirs.len(), "leftover"),
        count(report.leases.len(), "expired lease"),
        count(report.downloads.len(), "stale download"),
        output::size(report.bytes_freed),
        if report.dry_run { "to free" } else { "freed" },
    );
    Ok(())
}

/// `strata status`: aligned lines, the library's `Status` as JSON, or
/// a template on it (`{{.Driver}}`, `{{.Downloads.Count}}`).
pub fn status(store: &Store, args: &StatusArgs) -> Result<()> {
    let status = store.status()?;
    match Format::new(args.json, args.format.as_deref()) {
        Format::Default => {}
        Format::Json => return output::json(&status),
        template => return format::inspect(&template, std::slice::from_ref(&status)),
    }
    println!("root:       {}", status.root);
    println!("runroot:    {}", status.runroot);
    println!("driver:     {}", status.driver);
    println!("schema:     {}", status.schema_version);
    println!(
        "layers:     {} ({})",
        status.layers,
        output::size(status.layers_diff_size)
    );
    println!("containers: {}", status.containers);
    println!("images:     {}", status.images);
    println!(
        "downloads:  {} partial ({})",
        status.downloads.count,
        output::size(status.downloads.bytes)
    );
    println!(
        "blobs:      {} kept ({})",
        status.kept_blobs.count,
        output::size(status.kept_blobs.bytes)
    );
    Ok(())
}

//! `strata fsck` and `strata status`.

use anyhow::{Result, bail};
use strata::Store;

use super::output;
use crate::cli::{FsckArgs, JsonArg};

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

/// `strata status`.
pub fn status(store: &Store, args: &JsonArg) -> Result<()> {
    let status = store.status()?;
    if args.json {
        return output::json(&status);
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
    Ok(())
}

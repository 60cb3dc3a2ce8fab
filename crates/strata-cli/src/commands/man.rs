//! `strata man DIR` (hidden): man pages in section 1, one per command
//! (`strata.1`, `strata-image.1`, `strata-image-exists.1`, ...),
//! generated from the argument definitions by clap_mangen. Packagers and
//! `scripts/install` call it.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory as _;

use crate::cli::{Cli, ManArgs};

/// What the pages' headers and footers name as their source.
const SOURCE: &str = concat!("strata ", env!("CARGO_PKG_VERSION"));

/// Writes every command's man page into `args.dir`.
pub fn man(args: &ManArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    // `--version` says `version X.Y.Z`; the VERSION section says `vX.Y.Z`.
    let mut command = Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    command.build();
    write_pages(command, &args.dir)
}

/// Writes the page of `command` and those of its visible subcommands.
fn write_pages(command: clap::Command, dir: &Path) -> Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir)?;
    }
    let page = clap_mangen::Man::new(command)
        .source(SOURCE)
        .manual("strata manual");
    page.generate_to(dir)
        .with_context(|| format!("cannot write {}", dir.join(page.get_filename()).display()))?;
    Ok(())
}

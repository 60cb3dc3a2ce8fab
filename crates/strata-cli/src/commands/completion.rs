//! `strata completion SHELL`: the shell completion script, generated from
//! the same argument definitions that parse the command line (by
//! clap_complete), so it never falls behind them.

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionArgs};

/// Writes the completion script for `args.shell` to stdout.
pub fn completion(args: &CompletionArgs) -> Result<()> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "strata", &mut out);
    Ok(())
}

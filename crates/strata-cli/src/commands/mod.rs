//! One module per command family; each parses nothing and prints little.

mod tar_split;

use crate::cli::{Cli, Command, TarSplitCommand};

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::TarSplit(TarSplitCommand::Disasm(args)) => tar_split::disasm(&args),
        Command::TarSplit(TarSplitCommand::Asm(args)) => tar_split::asm(&args),
    }
}

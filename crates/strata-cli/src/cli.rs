//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// strata: a container image and layer store.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Disassemble and reassemble tar archives bit-exactly (Go tar-split compatible).
    #[command(name = "tar-split", subcommand)]
    TarSplit(TarSplitCommand),
}

#[derive(Debug, Subcommand)]
pub enum TarSplitCommand {
    /// Record a tar's metadata; the tar passes through to stdout.
    #[command(visible_alias = "d")]
    Disasm(DisasmArgs),
    /// Rebuild the tar from metadata and the extracted files.
    #[command(visible_alias = "a")]
    Asm(AsmArgs),
}

#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// Where to write the gzip'd metadata.
    #[arg(long, default_value = "tar-data.json.gz")]
    pub output: PathBuf,
    /// Do not copy the tar to stdout.
    #[arg(long)]
    pub no_stdout: bool,
    /// The tar to read; `-` or nothing for stdin.
    pub input: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AsmArgs {
    /// The metadata to read (gzip'd or plain JSON lines).
    #[arg(long, default_value = "tar-data.json.gz")]
    pub input: PathBuf,
    /// Directory holding the extracted files.
    #[arg(long)]
    pub path: PathBuf,
    /// Where to write the tar; `-` for stdout.
    #[arg(long, default_value = "-")]
    pub output: PathBuf,
    /// Gzip the output.
    #[arg(long)]
    pub compress: bool,
}

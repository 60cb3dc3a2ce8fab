//! The `strata` command: argument parsing and output only; the work is done
//! by the `strata` and `tarsplit` libraries.

mod cli;
mod commands;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("strata: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

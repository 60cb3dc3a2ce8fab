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
            eprintln!("strata: {}", one_line(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: library errors
/// often repeat their cause in their own message.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

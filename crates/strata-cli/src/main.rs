//! The `strata` command: argument parsing and output only; the work is done
//! by the `strata` and `tarsplit` libraries.

mod cli;
mod commands;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    die_quietly_on_closed_pipes();
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

/// Writing into a pipe whose reader has gone (`strata save | head -c 10`)
/// ends the process quietly through SIGPIPE, as it ends `cat`, `tar` and
/// the Go tools: Rust programs start with SIGPIPE ignored, which would turn
/// it into an error message (or a panic inside `println!`). Sockets are
/// not affected: the standard library writes to them with MSG_NOSIGNAL.
/// The one `unsafe` in strata: no safe API sets a signal's disposition.
#[allow(unsafe_code)]
fn die_quietly_on_closed_pipes() {
    // SAFETY: called first thing in main, before any thread is started;
    // setting a signal's disposition to its default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

//! The `strata` command: argument parsing and output only; the work is done
//! by the `strata` and `tarsplit` libraries.

mod cli;
mod commands;
mod exit;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    die_quietly_on_closed_pipes();
    match cli::Cli::try_parse() {
        Ok(cli) => exit::status(commands::run(cli)),
        Err(error) => exit::usage(error),
    }
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

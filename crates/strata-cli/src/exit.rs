//! How strata ends: its exit statuses and the one line it prints on
//! failure. The statuses are podman's (docs/cli.md):
//!
//! | status | meaning |
//! |---|---|
//! | 0 | done; or for a question (`image exists`), yes |
//! | 1 | the answer to a question is no (`image exists`), nothing printed; or a removal named something missing |
//! | 2 | a removal named something in use (an image a container uses, a mounted container) |
//! | 125 | strata failed, or the command line was wrong; one line on stderr |
//! | 141 | the reader of stdout left early (killed by SIGPIPE, silently) |

use std::fmt;
use std::process::ExitCode;

/// strata failed (its own error, or a wrong command line), as podman's
/// 125: kept apart from 1, which a question's "no" uses.
pub const FAILED: u8 = 125;

/// A question's answer is no.
pub const NO: u8 = 1;

/// An end that is not a failure to report: the command answered a
/// question with "no". It prints nothing and ends with [`NO`].
#[derive(Debug)]
pub struct No;

impl fmt::Display for No {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no")
    }
}

impl std::error::Error for No {}

/// An end whose failures were printed already, one line each, by the
/// command (a removal of several things that goes on past each failure):
/// it prints nothing more and ends with the status it carries.
#[derive(Debug)]
pub struct Reported(pub u8);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed with status {}", self.0)
    }
}

impl std::error::Error for Reported {}

/// The exit status of a command's result, printing the failure if any.
pub fn status(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<No>() => ExitCode::from(NO),
        Err(error) if error.is::<Reported>() => {
            ExitCode::from(error.downcast_ref::<Reported>().map_or(FAILED, |r| r.0))
        }
        Err(error) => {
            eprintln!("strata: {}", one_line(&error));
            ExitCode::from(FAILED)
        }
    }
}

/// The exit status of a command line clap could not parse, after printing
/// clap's message: help and `--version` are successes, anything else a
/// failure with strata's status.
pub fn usage(error: clap::Error) -> ExitCode {
    let _ = error.print();
    match error.exit_code() {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(FAILED),
    }
}

/// Prints a failure as [`status`] would, `strata: what failed: why`,
/// for a command that goes on after it.
pub fn report(error: &anyhow::Error) {
    eprintln!("strata: {}", one_line(error));
}

/// The error and its causes on one line, each cause once: library errors
/// often repeat their cause in their own message.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
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

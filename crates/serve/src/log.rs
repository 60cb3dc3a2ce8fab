//! The server's log: one line per request and per event on stderr. A log
//! that cannot be written (its reader went away) is not worth stopping a
//! server for: lines that fail are dropped, and [`run`](crate::Server::run)
//! catches SIGPIPE so such a write fails instead of ending the process.

use std::io::Write;

/// Writes one line to stderr, dropping it if stderr is gone.
pub fn line(text: std::fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_fmt(text)
        .and_then(|()| stderr.write_all(b"\n"));
}

/// [`line`] with `format!` arguments.
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}

pub(crate) use log;

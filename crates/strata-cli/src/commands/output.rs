//! Printing: JSON for machines, aligned columns for people.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Streams what `write` writes (`what`: "an archive", "a tar") to stdout,
/// buffered and flushed at the end; refused when stdout is a terminal.
pub fn stream_to_stdout(
    what: &str,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        bail!("refusing to write {what} to a terminal; use -o FILE or redirect");
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    write(&mut out)?;
    out.flush().context("cannot write to stdout")
}

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Prints rows as columns under a header, aligned as podman aligns its
/// tables (`format::align`).
#[allow(dead_code)] // for commands with a fixed table and no --format
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let lines: Vec<String> = std::iter::once(header.join("\t"))
        .chain(rows.iter().map(|row| row.join("\t")))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in super::format::align(&lines) {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// An id as listings print it: its first 12 digits, or all of it when
/// `full` (`--no-trunc`).
pub fn short_id(id: &str, full: bool) -> String {
    match full {
        true => id.to_string(),
        false => id.chars().take(12).collect(),
    }
}

/// An RFC 3339 time as podman prints a time: `2026-12-06 08:33:03
/// +0000 UTC`.
#[allow(dead_code)] // for commands with a fixed table and no --format
pub fn created(rfc3339: &str) -> String {
    super::format::human::go_time(rfc3339)
}

/// Bytes in SI units with three significant digits, as podman prints
/// sizes (`11.3 kB`, `121 MB`).
pub fn size(bytes: u64) -> String {
    super::format::human::size(bytes)
}

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

/// Prints rows as left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
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

/// An RFC 3339 creation time as listings print it: `YYYY-MM-DD HH:MM:SS`.
pub fn created(rfc3339: &str) -> String {
    rfc3339
        .chars()
        .take(19)
        .collect::<String>()
        .replace('T', " ")
}

/// Bytes in human units (powers of 1000, as docker and podman print them).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.3} {}", UNITS[unit])
    }
}

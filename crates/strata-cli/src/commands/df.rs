//! `strata system df [-v] [--format json]`: podman's table of what images
//! and containers take, with podman's size style (`22.66kB`: four
//! significant digits, powers of 1000, no space) and relative times.

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;
use strata::{DiskUsage, Store};

use super::format::human;
use super::output;
use crate::cli::SystemDfArgs;

/// One row of the summary, as `--format json` prints it (podman's field
/// names).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    #[serde(rename = "Type")]
    kind: &'static str,
    total: usize,
    active: usize,
    raw_size: u64,
    raw_reclaimable: u64,
    size: String,
    reclaimable: String,
}

/// `strata system df`.
pub fn df(store: &Store, args: &SystemDfArgs) -> Result<()> {
    let usage = store.disk_usage().context("cannot measure the store")?;
    let rows = summary(&usage);
    if args.format.is_some() {
        return output::json(&rows);
    }
    let mut out = std::io::stdout().lock();
    if args.verbose {
        verbose(&mut out, &usage)?;
    } else {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                vec![
                    row.kind.to_string(),
                    row.total.to_string(),
                    row.active.to_string(),
                    row.size.clone(),
                    row.reclaimable.clone(),
                ]
            })
            .collect();
        write_table(
            &mut out,
            &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            &cells,
        )?;
    }
    out.flush()?;
    Ok(())
}

fn summary(usage: &DiskUsage) -> Vec<Summary> {
    let percent = |part: u64, whole: u64| match whole {
        0 => 0,
        _ => part * 100 / whole,
    };
    let row = |kind, total, active, size: u64, reclaimable: u64| Summary {
        kind,
        total,
        active,
        raw_size: size,
        raw_reclaimable: reclaimable,
        size: human::compact_size(size),
        reclaimable: format!(
            "{} ({}%)",
            human::compact_size(reclaimable),
            percent(reclaimable, size)
        ),
    };
    vec![
        row(
            "Images",
            usage.images.len(),
            usage.images.iter().filter(|i| i.containers > 0).count(),
            usage.images_size,
            usage.images_reclaimable,
        ),
        row(
            "Containers",
            usage.containers.len(),
            usage.containers.iter().filter(|c| c.mounted).count(),
            usage.containers_size,
            usage.containers_reclaimable,
        ),
    ]
}

fn verbose(out: &mut impl Write, usage: &DiskUsage) -> Result<()> {
    writeln!(out, "Images space usage:\n")?;
    let mut rows = Vec::new();
    for image in &usage.images {
        let names = match image.names.is_empty() {
            true => vec![String::new()],
            false => image.names.clone(),
        };
        for name in names {
            let (repository, tag) = split_name(&name);
            rows.push(vec![
                repository,
                tag,
                output::short_id(&image.id, false),
                since(&image.created),
                human::compact_size(image.size),
                human::compact_size(image.shared_size),
                human::compact_size(image.unique_size),
                image.containers.to_string(),
            ]);
        }
    }
    write_table(
        out,
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &rows,
    )?;
    writeln!(out, "\nContainers space usage:\n")?;
    let rows: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|c| {
            vec![
                output::short_id(&c.id, false),
                c.image
                    .as_deref()
                    .map(|i| output::short_id(i, false))
                    .unwrap_or_default(),
                human::compact_size(c.size),
                since(&c.created),
                if c.mounted { "mounted" } else { "unmounted" }.to_string(),
                c.names.join(","),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "CONTAINER ID",
            "IMAGE",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &rows,
    )
}

/// `docker.io/library/a:1` as `(docker.io/library/a, 1)`; `<none>` for
/// what is missing.
fn split_name(name: &str) -> (String, String) {
    const NONE: &str = "<none>";
    match strata::image::reference::parse(name) {
        Ok(parsed) => (
            parsed.repository(),
            parsed.tag().unwrap_or(NONE).to_string(),
        ),
        Err(_) => (NONE.to_string(), NONE.to_string()),
    }
}

/// Columns as podman's tables have them: left-aligned, padded to the
/// widest cell plus two spaces, or to 12 characters at least.
fn write_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len().max(10)).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// How long ago `rfc3339` was, without podman's " ago" (its `system df`
/// prints `3 days`).
fn since(rfc3339: &str) -> String {
    match human::unix_seconds(rfc3339) {
        Some(then) => human::duration((human::now() - then).max(0)),
        None => rfc3339.to_string(),
    }
}

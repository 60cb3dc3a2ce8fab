//! `strata layer diff`, `changes` and `diff-size`.

use std::path::Path;

use anyhow::{Context, Result};
use strata::write_output;
use strata::{DiffFormat, Store};

use super::{output, progress};
use crate::cli::{ChangesArgs, Compress, DiffArgs, FromArgs};

/// `strata layer diff`: to a file (see [`strata::write_output`]: a new file
/// appears only when complete; a device or FIFO is written into) or to
/// stdout (never a terminal).
pub fn diff(store: &Store, args: &DiffArgs) -> Result<()> {
    let format = match args.compress {
        Compress::None => DiffFormat::None,
        Compress::Gzip => DiffFormat::Gzip,
        Compress::Zstd => DiffFormat::Zstd,
        Compress::Original => DiffFormat::Original,
    };
    let layer = store.layer(&args.from.layer)?;
    let bar = progress::bar("writing", None);
    let from = args.from.from.as_deref();
    match &args.output {
        Some(path) => diff_to_file(store, &layer.id, from, format, path, bar),
        None => output::stream_to_stdout("a tar", |out| {
            let mut out = progress::Counting { inner: out, bar };
            store
                .diff(&layer.id, from, format, &mut out)
                .context("cannot write the diff")?;
            Ok(())
        }),
    }
}

fn diff_to_file(
    store: &Store,
    id: &str,
    from: Option<&str>,
    format: DiffFormat,
    path: &Path,
    bar: Option<indicatif::ProgressBar>,
) -> Result<()> {
    write_output(path, |out| -> Result<()> {
        let mut out = progress::Counting { inner: out, bar };
        store
            .diff(id, from, format, &mut out)
            .context("cannot write the diff")?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// `strata layer changes`.
pub fn changes(store: &Store, args: &ChangesArgs) -> Result<()> {
    let changes = store.changes(&args.from.layer, args.from.from.as_deref())?;
    if args.json {
        let list: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                serde_json::json!({
                    "path": format!("/{}", String::from_utf8_lossy(&c.path)),
                    "kind": format!("{:?}", c.kind).to_lowercase(),
                })
            })
            .collect();
        return output::json(&list);
    }
    print!("{}", strata::archive::changes::format_changes(&changes));
    Ok(())
}

/// `strata layer diff-size`.
pub fn diff_size(store: &Store, args: &FromArgs) -> Result<()> {
    println!("{}", store.diff_size(&args.layer, args.from.as_deref())?);
    Ok(())
}

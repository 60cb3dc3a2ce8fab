//! `strata layer diff`, `changes` and `diff-size`.

use std::io::Write;

use anyhow::{Context, Result};
use strata::write_output;
use strata::{DiffFormat, DiffOptions, Store};

use super::output;
use super::progress::Transfers;
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
    let from = args.from.from.as_deref();
    let transfers = Transfers::unless(args.quiet);
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = DiffOptions {
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
    };
    let write = |out: &mut dyn Write| -> Result<()> {
        store
            .diff_with(&layer.id, from, format, out, &options)
            .context("cannot write the diff")?;
        Ok(())
    };
    match &args.output {
        Some(path) => {
            write_output(path, write).with_context(|| format!("cannot write {}", path.display()))
        }
        None => output::stream_to_stdout("a tar", write),
    }
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

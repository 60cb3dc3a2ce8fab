//! `strata save`, `strata load` and `strata copy`: images out of and into
//! the store as docker-archive, OCI layout and OCI archive.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use strata::{ArchiveInput, Copied, LoadReport, Location, SaveFormat, Store};

use super::output;
use crate::cli::{CopyArgs, LoadArgs, SaveArgs, SaveFormatArg};

/// `strata save`.
pub fn save(store: &Store, args: &SaveArgs) -> Result<()> {
    let mut items = Vec::new();
    for asked in &args.images {
        let item = store
            .save_item(asked)
            .with_context(|| format!("cannot save {asked}"))?;
        items.push(item);
    }
    let format = match args.format {
        SaveFormatArg::DockerArchive => SaveFormat::DockerArchive,
        SaveFormatArg::OciArchive => SaveFormat::OciArchive,
        SaveFormatArg::DockerArchiveV1 => SaveFormat::DockerArchiveV1,
    };
    match &args.output {
        Some(path) => {
            store
                .save_path(&items, format, path)
                .with_context(|| format!("cannot save to {}", path.display()))?;
        }
        None => output::stream_to_stdout("an archive", |out| {
            store.save(&items, format, out).context("cannot save")?;
            Ok(())
        })?,
    }
    Ok(())
}

/// `strata load`.
pub fn load(store: &Store, args: &LoadArgs) -> Result<()> {
    let input = match &args.input {
        Some(path) => ArchiveInput::File(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("no archive: use -i FILE or pipe one to stdin");
            }
            ArchiveInput::Stream(Box::new(stdin))
        }
    };
    let report = store.load(input).context("cannot load")?;
    if !args.quiet {
        print_loaded(&report);
    }
    Ok(())
}

fn print_loaded(report: &LoadReport) {
    for image in &report.images {
        if image.names.is_empty() {
            println!("Loaded image ID: sha256:{}", image.id);
        }
        for name in &image.names {
            println!("Loaded image: {name}");
        }
    }
}

/// `strata copy`.
pub fn copy(store: &Store, args: &CopyArgs) -> Result<()> {
    let from: Location = args.source.parse()?;
    let to: Location = args.destination.parse()?;
    match store
        .copy(&from, &to)
        .with_context(|| format!("cannot copy {from} to {to}"))?
    {
        Copied::Loaded(report) => print_loaded(&report),
        Copied::Saved { .. } => {}
    }
    Ok(())
}

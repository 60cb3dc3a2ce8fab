//! `strata commit` (and `strata container commit`), `strata import` and
//! `strata export`: images from containers and root file system tars, and
//! a container's root file system as a tar. Commit and import print the
//! new image's full id (64 hex digits), as podman does.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use strata::write_output;
use strata::{CommitOptions, Store};

use super::output;
use crate::cli::{CommitArgs, ExportArgs, ImageChangeArgs, ImageImportArgs};

fn options(image: &Option<String>, change: &ImageChangeArgs) -> CommitOptions {
    CommitOptions {
        names: image.iter().cloned().collect(),
        changes: change.changes.clone(),
        message: change.message.clone(),
        ..CommitOptions::default()
    }
}

/// `strata commit CONTAINER [IMAGE]`.
pub fn commit(store: &Store, args: &CommitArgs) -> Result<()> {
    let options = CommitOptions {
        author: args.author.clone(),
        ..options(&args.image, &args.change)
    };
    let image = store
        .commit(&args.container, &options)
        .with_context(|| format!("cannot commit container {}", args.container))?;
    println!("{}", image.id);
    Ok(())
}

/// `strata import TARBALL|- [IMAGE]`.
pub fn import(store: &Store, args: &ImageImportArgs) -> Result<()> {
    let options = options(&args.image, &args.change);
    let what = args.input.display().to_string();
    let mut input: Box<dyn Read + Send> = if what == "-" {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            bail!("no tar: name a file or pipe one to stdin");
        }
        Box::new(stdin)
    } else {
        Box::new(std::fs::File::open(&args.input).with_context(|| format!("cannot open {what}"))?)
    };
    let image = store
        .import_image(&mut input, &options)
        .with_context(|| format!("cannot import {what}"))?;
    println!("{}", image.id);
    Ok(())
}

/// `strata export CONTAINER [-o FILE]`.
pub fn export(store: &Store, args: &ExportArgs) -> Result<()> {
    let container = store.container(&args.container)?.id;
    match &args.output {
        Some(path) => {
            write_output(path, |out| store.export_container(&container, out))
                .with_context(|| format!("cannot export to {}", path.display()))?;
        }
        None => output::stream_to_stdout("a tar", |out| {
            store
                .export_container(&container, out)
                .with_context(|| format!("cannot export container {}", args.container))?;
            Ok(())
        })?,
    }
    Ok(())
}

//! `strata layer import` and `strata layer create`.

use std::fs::File;
use std::io::Read;

use anyhow::{Context, Result};
use strata::idmap::IdMap;
use strata::{CreateOptions, Store};

use super::progress;
use crate::cli::{CreateArgs, ImportArgs, NewLayerArgs};

fn options(args: &NewLayerArgs) -> Result<CreateOptions> {
    let map = |text: &Option<String>| -> Result<IdMap> {
        Ok(text
            .as_deref()
            .map(IdMap::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?
            .unwrap_or_default())
    };
    Ok(CreateOptions {
        id: args.id.clone(),
        parent: args.parent.clone(),
        names: args.names.clone(),
        uid_map: map(&args.uidmap)?,
        gid_map: map(&args.gidmap)?,
        ..CreateOptions::default()
    })
}

/// `strata layer import`.
pub fn import(store: &Store, args: &ImportArgs) -> Result<()> {
    let options = options(&args.layer)?;
    let (mut input, total): (Box<dyn Read + Send>, Option<u64>) = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        }
        _ => (Box::new(std::io::stdin()), None),
    };
    let bar = progress::bar("importing", total);
    let report = |read: u64| {
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    };
    let layer = store
        .import_layer(&options, &mut input, Some(&report))
        .context("cannot import the layer")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("{}", layer.id);
    Ok(())
}

/// `strata layer create`.
pub fn create(store: &Store, args: &CreateArgs) -> Result<()> {
    let options = CreateOptions {
        read_write: args.rw,
        ..options(&args.layer)?
    };
    let layer = store
        .create_layer(&options)
        .context("cannot create the layer")?;
    println!("{}", layer.id);
    Ok(())
}

//! `strata layer mount|unmount|rm|names|metadata`.

use anyhow::{Context, Result};
use strata::Store;

use crate::cli::{LayerRef, MetadataArgs, NamesCommand, RmArgs};

/// `strata layer mount`.
pub fn mount(store: &Store, args: &LayerRef) -> Result<()> {
    println!("{}", store.mount_layer(&args.layer)?.display());
    Ok(())
}

/// `strata layer unmount`.
pub fn unmount(store: &Store, args: &LayerRef) -> Result<()> {
    store.unmount_layer(&args.layer)?;
    Ok(())
}

/// `strata layer rm`: each layer in turn, going on past failures (see
/// `remove` for the exit status); prints each deleted layer's id.
pub fn remove(store: &Store, args: &RmArgs) -> Result<()> {
    super::remove::each(&args.layers, args.ignore, |layer| {
        let id = store.layer(layer)?.id;
        store
            .delete_layer(&id)
            .with_context(|| format!("cannot delete layer {layer}"))?;
        println!("{id}");
        Ok(())
    })
}

/// `strata layer names set|add|rm`.
pub fn names(store: &Store, command: NamesCommand) -> Result<()> {
    match command {
        NamesCommand::Set(args) => store.set_names(&args.layer, &args.names)?,
        NamesCommand::Add(args) => store.add_names(&args.layer, &args.names)?,
        NamesCommand::Rm(args) => store.remove_names(&args.layer, &args.names)?,
    };
    Ok(())
}

/// `strata layer metadata`.
pub fn metadata(store: &Store, args: &MetadataArgs) -> Result<()> {
    match &args.value {
        Some(value) => {
            store.set_metadata(&args.layer, value)?;
        }
        None => println!("{}", store.layer(&args.layer)?.metadata),
    }
    Ok(())
}

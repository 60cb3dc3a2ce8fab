//! `strata container create|ls|inspect|mount|unmount|rm` and
//! `strata containers` (`container commit` is in `commit`).

use anyhow::{Context, Result};
use strata::{ContainerOptions, Store};

use super::output;
use crate::cli::{ContainerCreateArgs, ContainerRef, ContainerRmArgs, ListArgs};

/// `strata container create`.
pub fn create(store: &Store, args: &ContainerCreateArgs) -> Result<()> {
    let options = ContainerOptions {
        id: args.id.clone(),
        names: args.names.clone(),
        metadata: args.metadata.clone(),
        ..ContainerOptions::from_image_or_layer(&args.layer)
    };
    let container = store
        .create_container(&options)
        .context("cannot create the container")?;
    println!("{}", container.id);
    Ok(())
}

/// `strata container ls` and `strata containers`.
pub fn list(store: &Store, args: &ListArgs) -> Result<()> {
    let containers = store.containers()?;
    if args.json {
        return output::json(&containers);
    }
    let short = |id: &str| output::short_id(id, args.no_trunc);
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|container| {
            vec![
                short(&container.id),
                container.names.join(","),
                container.image.as_deref().map(short).unwrap_or_default(),
                container.base.as_deref().map(short).unwrap_or_default(),
                short(&container.layer),
                output::created(&container.created),
            ]
        })
        .collect();
    output::table(&["ID", "NAMES", "IMAGE", "BASE", "LAYER", "CREATED"], &rows)
}

/// `strata container inspect`.
pub fn inspect(store: &Store, args: &ContainerRef) -> Result<()> {
    output::json(&store.container(&args.container)?)
}

/// `strata container mount`.
pub fn mount(store: &Store, args: &ContainerRef) -> Result<()> {
    println!("{}", store.mount_container(&args.container)?.display());
    Ok(())
}

/// `strata container unmount`.
pub fn unmount(store: &Store, args: &ContainerRef) -> Result<()> {
    store.unmount_container(&args.container)?;
    Ok(())
}

/// `strata container rm` and `strata rm`: each container in turn, going
/// on past failures (see `remove` for the exit status); prints each
/// container as it was named, as podman does.
/// `--all` deletes every container, by id.
pub fn remove(store: &Store, args: &ContainerRmArgs) -> Result<()> {
    let containers = match args.all {
        true => store.containers()?.into_iter().map(|c| c.id).collect(),
        false => args.containers.clone(),
    };
    super::remove::each(&containers, args.ignore, |container| {
        store
            .delete_container(container, args.force)
            .with_context(|| format!("cannot delete container {container}"))?;
        println!("{container}");
        Ok(())
    })
}

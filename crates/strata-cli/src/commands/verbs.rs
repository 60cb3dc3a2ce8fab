//! The top-level verbs docker and podman have that strata's own command
//! families do not: `strata inspect` (containers, then images, then
//! layers) and `strata diff` (a container's changes).

use anyhow::{Context, Result};
use serde_json::{Value, json};
use strata::archive::changes::{Change, ChangeKind, format_changes};
use strata::{Error, Store};

use super::format::{self, Format};
use super::{image_show, output};
use crate::cli::{InspectArgs, InspectType, ObjectDiffArgs};
use crate::exit::{self, Reported};

/// `strata inspect [--type T] NAME...`: one JSON array of what each name
/// is, in the order asked: a container as `container inspect` shows it,
/// an image as `image inspect` does, a layer as `layer inspect` does. A
/// name that is none of these is reported on stderr after the array (as
/// podman prints it, `[]` when nothing was found) and ends with 125.
pub fn inspect(store: &Store, args: &InspectArgs) -> Result<()> {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match lookup(store, name, args.kind) {
            Ok(Some(value)) => found.push(value),
            Ok(None) => failures.push(anyhow::anyhow!("no such object: {name:?}")),
            Err(error) => failures.push(error.context(format!("cannot inspect {name}"))),
        }
    }
    format::inspect(&Format::new(args.json, args.format.as_deref()), &found)?;
    if failures.is_empty() {
        return Ok(());
    }
    for failure in &failures {
        exit::report(failure);
    }
    Err(Reported(exit::FAILED).into())
}

/// What `name` is, as JSON, among the kinds `kind` allows; `None` when it
/// is none of them.
fn lookup(store: &Store, name: &str, kind: InspectType) -> Result<Option<Value>> {
    let all = kind == InspectType::All;
    if all || kind == InspectType::Container {
        match store.container(name) {
            Ok(container) => return Ok(Some(serde_json::to_value(container)?)),
            Err(Error::ContainerNotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    if all || kind == InspectType::Image {
        match store.image(name) {
            Ok(image) => return Ok(Some(image_show::inspect_value(store, &image)?)),
            Err(Error::ImageNotFound(_)) => {}
            // Not an image name at all; it may still be a layer's.
            Err(Error::Reference(_)) if all => {}
            Err(error) => return Err(error.into()),
        }
    }
    if all || kind == InspectType::Layer {
        match store.layer(name) {
            Ok(layer) => return Ok(Some(serde_json::to_value(layer)?)),
            Err(Error::LayerNotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(None)
}

/// `strata diff NAME [--format json]`: the changes of a container's
/// read-write layer (or of an image's top layer, or of a layer) against
/// what it sits on, as `podman diff` prints them: `A /path`, `C /path`,
/// `D /path`, sorted by path.
pub fn diff(store: &Store, args: &ObjectDiffArgs) -> Result<()> {
    let layer = layer_of(store, &args.name)?;
    let changes = store
        .changes(&layer, None)
        .with_context(|| format!("cannot list the changes of {}", args.name))?;
    if args.format.is_none() {
        print!("{}", format_changes(&changes));
        return Ok(());
    }
    let paths = |kind: ChangeKind| -> Vec<String> {
        changes
            .iter()
            .filter(|c: &&Change| c.kind == kind)
            .map(|c| format!("/{}", String::from_utf8_lossy(&c.path)))
            .collect()
    };
    output::json(&json!({
        "added": paths(ChangeKind::Added),
        "changed": paths(ChangeKind::Modified),
        "deleted": paths(ChangeKind::Deleted),
    }))
}

/// The layer whose changes `diff NAME` lists: a container's read-write
/// layer, an image's top layer, or the layer itself.
fn layer_of(store: &Store, name: &str) -> Result<String> {
    match store.container(name) {
        Ok(container) => return Ok(container.layer),
        Err(Error::ContainerNotFound(_)) => {}
        Err(error) => return Err(error.into()),
    }
    match store.image(name) {
        Ok(image) => {
            return image
                .top_layer
                .with_context(|| format!("image {name} has no layers"));
        }
        Err(Error::ImageNotFound(_) | Error::Reference(_)) => {}
        Err(error) => return Err(error.into()),
    }
    match store.layer(name) {
        Ok(layer) => Ok(layer.id),
        Err(Error::LayerNotFound(_)) => Err(anyhow::anyhow!(
            "no container, image or layer {name:?} found"
        )),
        Err(error) => Err(error.into()),
    }
}

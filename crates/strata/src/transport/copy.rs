//! Copying images between the store and archives or layouts, and between
//! archives and layouts directly.

use std::fs::File;

use super::load::{ArchiveInput, LoadReport, load_archive_selected, load_layout};
use super::location::Location;
use super::save::{SaveFormat, SaveItem, save_archive, save_oci_dir};
use crate::error::{Error, IoContext, Result};
use crate::fs::write_output;
use crate::image::reference;
use crate::store::{Image, Store};

/// What a copy did.
#[derive(Debug, Clone, serde::Serialize)]
pub enum Copied {
    /// Images brought into the store.
    Loaded(LoadReport),
    /// An image written out.
    Saved {
        /// The image.
        image: String,
    },
}

/// Copies an image from `from` to `to`: into or out of the store, or
/// directly between two places outside it (see `direct`).
pub(crate) fn copy(store: &Store, from: &Location, to: &Location) -> Result<Copied> {
    match (from, to) {
        (Location::Strata { reference }, destination) => {
            let image = store.image(reference)?;
            let item = item_for(&image, reference, destination)?;
            write_out(store, vec![item], destination)?;
            Ok(Copied::Saved { image: image.id })
        }
        (source, Location::Strata { reference }) => {
            let names = vec![crate::store::normalize_name(reference)?];
            let report = match source {
                Location::DockerArchive { path, reference }
                | Location::OciArchive { path, reference } => {
                    let file =
                        File::open(path).context(|| format!("cannot open {}", path.display()))?;
                    load_archive_selected(
                        store,
                        ArchiveInput::File(file),
                        Some(reference.as_deref().unwrap_or("@0")),
                        Some(&names),
                    )?
                }
                Location::Oci { dir, reference } => load_layout(
                    store,
                    dir,
                    Some(reference.as_deref().unwrap_or("@0")),
                    Some(&names),
                )?,
                Location::Strata { .. } => return Err(store_to_itself()),
            };
            Ok(Copied::Loaded(report))
        }
        _ => Ok(Copied::Saved {
            image: super::direct::copy(store, from, to)?,
        }),
    }
}

fn store_to_itself() -> Error {
    Error::Invalid("cannot copy from the store to itself".into())
}

/// The item saving `image` (asked for as `asked`) to `destination`: named
/// by the destination's reference, else by the name it was asked for by
/// (none by id). In an OCI layout the reference is the index entry's ref
/// name as given (`v1` in `oci:DIR:v1`) and the image keeps its own name.
fn item_for(image: &Image, asked: &str, destination: &Location) -> Result<SaveItem> {
    let item = |name, ref_name| SaveItem {
        image: image.clone(),
        name,
        ref_name,
    };
    match destination {
        Location::DockerArchive {
            reference: Some(given),
            ..
        } => Ok(item(Some(reference::parse(given)?), None)),
        Location::Oci {
            reference: Some(given),
            ..
        }
        | Location::OciArchive {
            reference: Some(given),
            ..
        } => {
            let name = saved_name(image, asked)
                .or_else(|| image.names.first().and_then(|n| reference::parse(n).ok()))
                .or_else(|| reference::parse(given).ok());
            Ok(item(name, Some(given.clone())))
        }
        _ => Ok(item(saved_name(image, asked), None)),
    }
}

/// The name an image asked for as `asked` is saved with: that name if it
/// is one of the image's names, none if it was asked for by id.
pub(crate) fn saved_name(image: &Image, asked: &str) -> Option<reference::Reference> {
    let parsed = reference::parse(asked).ok()?;
    image.names.contains(&parsed.to_string()).then_some(parsed)
}

fn write_out(store: &Store, items: Vec<SaveItem>, destination: &Location) -> Result<()> {
    match destination {
        Location::DockerArchive { path, .. } => write_output(path, |out| {
            save_archive(store, &items, SaveFormat::DockerArchive, out)
        })
        .map(|_| ()),
        Location::OciArchive { path, .. } => write_output(path, |out| {
            save_archive(store, &items, SaveFormat::OciArchive, out)
        })
        .map(|_| ()),
        Location::Oci { dir, .. } => save_oci_dir(store, &items, dir).map(|_| ()),
        Location::Strata { .. } => Err(store_to_itself()),
    }
}

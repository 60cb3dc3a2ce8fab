//! Copying images between the store and archives, layouts or registries,
//! and between archives, layouts and registries directly.

use std::fs::File;

use super::load::{ArchiveInput, LoadOptions, LoadReport, load_archive_selected, load_layout};
use super::location::Location;
use super::registry::{
    Ends, PlatformSpec, PullOptions, Pulled, PushOptions, RegistryOptions, TransferProgress,
    mirror, pull_named, push,
};
use super::save::{SaveFormat, SaveItem, SaveOptions, save_archive, save_oci_dir};
use crate::compression::Compression;
use crate::digest::Digest;
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
    /// An image pulled from a registry into the store.
    Pulled(Pulled),
    /// An image sent to a registry.
    Pushed {
        /// The image (its config digest, hex); none when an index was
        /// copied whole.
        image: Option<String>,
        /// The digest of the manifest the registry now has.
        manifest_digest: Digest,
    },
}

/// How a copy reaches registries, per side, and what it reports.
#[derive(Clone, Default)]
pub struct CopyOptions<'a> {
    /// How to reach the source registry (`docker://` source).
    pub source: RegistryOptions,
    /// How to reach the destination registry (`docker://` destination).
    pub destination: RegistryOptions,
    /// The platform to pick from a multi-platform source image; this
    /// host's when absent.
    pub platform: Option<PlatformSpec>,
    /// From a registry to a registry, copy a multi-platform index whole
    /// (every manifest it lists, then the index, digests kept), as
    /// skopeo's `--all`. Other copies take one image.
    pub all: bool,
    /// Called as blobs move to or from a registry.
    pub progress: Option<TransferProgress<'a>>,
}

impl std::fmt::Debug for CopyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("source", &self.source)
            .field("destination", &self.destination)
            .field("platform", &self.platform)
            .field("all", &self.all)
            .finish_non_exhaustive()
    }
}

/// Copies an image from `from` to `to`: into or out of the store, from a
/// registry into the store (a pull), or directly between two places
/// outside it (see `direct`, and `registry::mirror` for two registries).
pub(crate) fn copy(
    store: &Store,
    from: &Location,
    to: &Location,
    options: &CopyOptions<'_>,
) -> Result<Copied> {
    match (from, to) {
        (Location::Strata { reference: image }, Location::Docker { reference }) => {
            let options = PushOptions {
                registry: options.destination.clone(),
                compression: Compression::Gzip,
                progress: options.progress,
            };
            let pushed = push(store, image, Some(reference), &options)?;
            Ok(Copied::Pushed {
                image: Some(pushed.image),
                manifest_digest: pushed.manifest_digest,
            })
        }
        (Location::Docker { reference: a }, Location::Docker { reference: b }) => {
            let ends = Ends {
                source: &options.source,
                destination: &options.destination,
                platform: options.platform.as_ref(),
                all: options.all,
                progress: options.progress,
            };
            let mirrored = mirror(a, b, &ends)?;
            Ok(Copied::Pushed {
                image: mirrored.image,
                manifest_digest: mirrored.manifest_digest,
            })
        }
        (Location::Strata { reference }, destination) => {
            let image = store.image(reference)?;
            let item = item_for(&image, reference, destination)?;
            let saving = SaveOptions {
                progress: options.progress,
            };
            write_out(store, vec![item], destination, &saving)?;
            Ok(Copied::Saved { image: image.id })
        }
        (source, Location::Strata { reference }) => {
            let names = vec![crate::store::normalize_name(reference)?];
            let loading = LoadOptions {
                progress: options.progress,
            };
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
                        &loading,
                    )?
                }
                Location::Oci { dir, reference } => load_layout(
                    store,
                    dir,
                    Some(reference.as_deref().unwrap_or("@0")),
                    Some(&names),
                    &loading,
                )?,
                Location::Strata { .. } => return Err(store_to_itself()),
                Location::Docker { reference } => {
                    let pull = PullOptions {
                        registry: options.source.clone(),
                        platform: options.platform.clone(),
                        progress: options.progress,
                        discard_blobs: false,
                    };
                    return Ok(Copied::Pulled(pull_named(
                        store,
                        reference,
                        Some(names),
                        &pull,
                    )?));
                }
            };
            Ok(Copied::Loaded(report))
        }
        _ => super::direct::copy(store, from, to, options),
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

fn write_out(
    store: &Store,
    items: Vec<SaveItem>,
    destination: &Location,
    options: &SaveOptions<'_>,
) -> Result<()> {
    match destination {
        Location::DockerArchive { path, .. } => write_output(path, |out| {
            save_archive(store, &items, SaveFormat::DockerArchive, out, options)
        })
        .map(|_| ()),
        Location::OciArchive { path, .. } => write_output(path, |out| {
            save_archive(store, &items, SaveFormat::OciArchive, out, options)
        })
        .map(|_| ()),
        Location::Oci { dir, .. } => save_oci_dir(store, &items, dir, options).map(|_| ()),
        Location::Strata { .. } => Err(store_to_itself()),
        Location::Docker { .. } => {
            Err(Error::Invalid("a save does not write to a registry".into()))
        }
    }
}

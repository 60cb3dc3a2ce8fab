//! The [`Store`] methods that move images in and out: load, save and copy.
//! They are the public face of the `transport` module, which does the work.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::{Image, Store};
use crate::error::{IoContext, Result};
use crate::fs::write_output;
use crate::image::reference;
use crate::transport::{
    ArchiveInput, Copied, CopyOptions, LoadOptions, LoadReport, Location, PullOptions, Pulled,
    PushOptions, PushReport,
};
use crate::transport::{SaveFormat, SaveItem, SaveOptions, SaveReport};
use crate::transport::{copy, load_archive, load_layout, save_archive, save_oci_dir, saved_name};

/// What [`Store::save`] and its siblings take: plain [`Image`]s, saved
/// under all their names (untagged when they have none), or [`SaveItem`]s,
/// which say which name to record.
pub trait ToSaveItems {
    /// The items that save `self`.
    fn to_save_items(&self) -> Vec<SaveItem>;
}

impl ToSaveItems for Image {
    fn to_save_items(&self) -> Vec<SaveItem> {
        let named: Vec<SaveItem> = self
            .names
            .iter()
            .filter_map(|name| reference::parse(name).ok())
            .map(|name| SaveItem::named(self.clone(), name))
            .collect();
        if named.is_empty() {
            vec![SaveItem::untagged(self.clone())]
        } else {
            named
        }
    }
}

impl ToSaveItems for SaveItem {
    fn to_save_items(&self) -> Vec<SaveItem> {
        vec![self.clone()]
    }
}

impl<T: ToSaveItems + ?Sized> ToSaveItems for &T {
    fn to_save_items(&self) -> Vec<SaveItem> {
        (**self).to_save_items()
    }
}

fn items_of<T: ToSaveItems>(images: &[T]) -> Vec<SaveItem> {
    images.iter().flat_map(ToSaveItems::to_save_items).collect()
}

impl Store {
    /// Loads every image of a docker-archive or oci-archive, all or
    /// nothing: on any failure the store is left as it was.
    pub fn load(&self, input: ArchiveInput) -> Result<LoadReport> {
        load_archive(self, input, &LoadOptions::default())
    }

    /// [`Store::load`], telling `options.progress` of each layer blob as
    /// it is read (see [`LoadOptions`]).
    pub fn load_with(&self, input: ArchiveInput, options: &LoadOptions<'_>) -> Result<LoadReport> {
        load_archive(self, input, options)
    }

    /// Loads every image at `path`: a file is read as a docker-archive or
    /// oci-archive (compressed or not), a directory as an OCI image
    /// layout. All or nothing, as [`Store::load`].
    pub fn load_path(&self, path: impl AsRef<Path>) -> Result<LoadReport> {
        self.load_path_with(path, &LoadOptions::default())
    }

    /// [`Store::load_path`], telling `options.progress` of each layer blob
    /// as it is read (see [`LoadOptions`]).
    pub fn load_path_with(
        &self,
        path: impl AsRef<Path>,
        options: &LoadOptions<'_>,
    ) -> Result<LoadReport> {
        let path = path.as_ref();
        let file = File::open(path).context(|| format!("cannot open {}", path.display()))?;
        let is_dir = file
            .metadata()
            .context(|| format!("cannot inspect {}", path.display()))?
            .is_dir();
        if is_dir {
            drop(file);
            return load_layout(self, path, None, None, options);
        }
        load_archive(self, ArchiveInput::File(file), options)
    }

    /// The item that saves the image `asked` names (an id, id prefix or
    /// name): under that name when it is one of the image's names,
    /// untagged when it is an id (as `docker save` records them).
    pub fn save_item(&self, asked: &str) -> Result<SaveItem> {
        let image = self.image(asked)?;
        Ok(match saved_name(&image, asked) {
            Some(name) => SaveItem::named(image, name),
            None => SaveItem::untagged(image),
        })
    }

    /// Writes `images` to `out` as one archive in `format`.
    ///
    /// An image given several times (or with several names) is saved once
    /// with all its names. Fails before writing anything if an image or
    /// layer cannot be saved (missing, no recorded diff id, a name given to
    /// two images, a docker-archive name without a tag), and part-way,
    /// naming the layer, if a layer's rebuilt tar is not its recorded tar;
    /// a failed save leaves a partial archive in `out`. The output is
    /// byte-for-byte the same for the same images and names.
    pub fn save<T: ToSaveItems>(
        &self,
        images: &[T],
        format: SaveFormat,
        out: &mut dyn Write,
    ) -> Result<SaveReport> {
        self.save_with(images, format, out, &SaveOptions::default())
    }

    /// [`Store::save`], telling `options.progress` of each layer as it is
    /// written (see [`SaveOptions`]).
    pub fn save_with<T: ToSaveItems>(
        &self,
        images: &[T],
        format: SaveFormat,
        out: &mut dyn Write,
        options: &SaveOptions<'_>,
    ) -> Result<SaveReport> {
        save_archive(self, &items_of(images), format, out, options)
    }

    /// Writes `images` as one archive in `format` to the file at `path`,
    /// as [`Store::save`] does. A regular file appears complete or not at
    /// all (it is written aside and named once complete); a FIFO or device
    /// is written into; symlinks are followed.
    pub fn save_path<T: ToSaveItems>(
        &self,
        images: &[T],
        format: SaveFormat,
        path: impl AsRef<Path>,
    ) -> Result<SaveReport> {
        self.save_path_with(images, format, path, &SaveOptions::default())
    }

    /// [`Store::save_path`], telling `options.progress` of each layer as it
    /// is written (see [`SaveOptions`]).
    pub fn save_path_with<T: ToSaveItems>(
        &self,
        images: &[T],
        format: SaveFormat,
        path: impl AsRef<Path>,
        options: &SaveOptions<'_>,
    ) -> Result<SaveReport> {
        let items = items_of(images);
        write_output(path.as_ref(), |out| {
            save_archive(self, &items, format, out, options)
        })
    }

    /// Writes `images` into the OCI image layout directory `dir` (created
    /// if missing). Blobs already there are kept; `index.json` is merged:
    /// entries naming a saved name are replaced, others kept.
    pub fn save_layout<T: ToSaveItems>(
        &self,
        images: &[T],
        dir: impl AsRef<Path>,
    ) -> Result<SaveReport> {
        self.save_layout_with(images, dir, &SaveOptions::default())
    }

    /// [`Store::save_layout`], telling `options.progress` of each layer as
    /// it is written (see [`SaveOptions`]).
    pub fn save_layout_with<T: ToSaveItems>(
        &self,
        images: &[T],
        dir: impl AsRef<Path>,
        options: &SaveOptions<'_>,
    ) -> Result<SaveReport> {
        save_oci_dir(self, &items_of(images), dir.as_ref(), options)
    }

    /// Copies an image from `from` to `to`, named as skopeo names places
    /// (`docker-archive:PATH[:REF]`, `oci:DIR[:REF]`,
    /// `oci-archive:PATH[:REF]`, and this store as `strata:REF` or
    /// `containers-storage:REF`). When neither side is this store, the
    /// image goes directly from one to the other without entering the
    /// store: configs and manifests kept byte for byte where the
    /// destination format allows, layers decompressed only for a docker
    /// archive; a failed copy leaves no output behind. Registries
    /// (`docker://REF`) are reached with the default options; see
    /// [`Store::copy_with`].
    pub fn copy(&self, from: &Location, to: &Location) -> Result<Copied> {
        copy(self, from, to, &CopyOptions::default())
    }

    /// [`Store::copy`], with a registry on either side (`docker://REF`)
    /// reached as `options` say, as skopeo copies:
    /// - registry to `strata:NAME` is a pull, the image named NAME;
    /// - registry to an archive or layout goes through a scratch
    ///   directory, not the store's images: into an OCI layout or archive
    ///   the manifest and compressed blobs are kept as served (the
    ///   manifest digest is kept), into a docker archive the layers are
    ///   decompressed to tars named by diff id and checked against them;
    /// - an archive or layout to a registry sends the config and blobs as
    ///   they are (those the registry has are skipped) and then the
    ///   source's manifest bytes; a docker archive without a manifest
    ///   gets a Docker schema 2 manifest over gzip-compressed layers, as
    ///   skopeo sends it;
    /// - registry to registry streams each blob from one to the other (or
    ///   mounts it, within one registry) and keeps the manifest bytes, so
    ///   its digest; the platform's image is copied from a
    ///   multi-platform index;
    /// - `strata:REF` to a registry is a push, as [`Store::push`] with
    ///   gzip for layers the registry lacks.
    ///
    /// Every blob is checked against its digest as it streams; a failed
    /// copy leaves no archive behind and no manifest in the destination
    /// registry (the manifest is sent once every blob is in).
    pub fn copy_with(
        &self,
        from: &Location,
        to: &Location,
        options: &CopyOptions<'_>,
    ) -> Result<Copied> {
        copy(self, from, to, options)
    }

    /// Pulls `reference` (`alpine`, `docker.io/library/alpine:3.20`,
    /// `localhost:5000/x@sha256:…`) from its registry, as `podman pull`
    /// does: the image for this host's platform (or the one asked for),
    /// its layers streamed into the store while they download, several
    /// at once. Layers the store has are not fetched; a blob whose
    /// download broke off is resumed, in this call or a later one (even
    /// in another process), from where it stopped.
    pub fn pull(&self, reference: &str, options: &PullOptions<'_>) -> Result<Pulled> {
        crate::transport::pull(self, reference, options)
    }

    /// Pushes `image` (an id, id prefix or name) to `destination`
    /// (`localhost:5000/app:1`; the name `image` was asked by, else its
    /// first name, when absent), as `podman push` does. Layers go out as
    /// blobs the registry has already wherever one is known — the ones
    /// the image was pulled as, or ones seen in another repository of the
    /// same registry, mounted from there — and are compressed and
    /// uploaded otherwise, several at once. The manifest the image came
    /// with is pushed as it is when it names exactly the blobs that went
    /// out, so an image pushed back unchanged keeps its digest.
    pub fn push(
        &self,
        image: &str,
        destination: Option<&str>,
        options: &PushOptions<'_>,
    ) -> Result<PushReport> {
        crate::transport::push(self, image, destination, options)
    }
}

//! Images from containers and containers as files: [`Store::commit`] turns
//! a container's changes into a new layer on its base, whose id is the
//! stack's ChainID, and records an image over it with a new config and
//! manifest; [`Store::import_image`] makes a one-layer image of a root file
//! system tar the same way; [`Store::export_container`] writes a
//! container's merged tree as one tar.
//!
//! Steps, all under one lease (so a collection or an image removal
//! running meanwhile leaves the layers alone until the image row exists):
//! 1. the base layers are held; their diff ids are the config's (for a
//!    container made from an image) or their recorded diff digests (for a
//!    container on a bare layer, whose stack is copied to layers stored
//!    under their ChainIDs where it is not, as layers of images are);
//! 2. the read-write layer's changeset is written once into the lease's
//!    directory, hashed as it goes, then imported under the ChainID with
//!    that digest expected (a layer with that ChainID in the store already
//!    is reused);
//! 3. the config: the base image's config bytes parsed as JSON (every field
//!    kept, unknown ones too), or a fresh one for a container without an
//!    image; `rootfs.diff_ids` gets the new diff id, `history` a new entry,
//!    `created` now, `author` when given, and the changes are applied to
//!    `config`. It is serialized once; those bytes are the image's config.
//! 4. an OCI manifest of the config and the layers as uncompressed tars
//!    (what `save` would generate, so a save keeps it), then
//!    [`Store::commit_image`].

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};

use serde_json::{Map, Value, json};

use super::diff::DiffFormat;
use super::import::CreateOptions;
use super::layer::now_rfc3339;
use super::{Image, Lease, NewImage, Store};
use crate::archive::changeset::write_changeset;
use crate::compression;
use crate::digest::{Digest, DigestReader};
use crate::error::{Error, IoContext, Result};
use crate::fs::AsideFile;
use crate::image::change::{apply_changes, array, object};
use crate::image::{Descriptor, Platform, chain_ids, media};
use crate::transport::{LayerBlob, generate_manifest};

/// How [`Store::commit`] makes the image.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Names for the new image (normalized as podman names local images,
    /// `sample` → `localhost/sample:latest`; taken from images that have
    /// them).
    pub names: Vec<String>,
    /// Config changes in `docker commit --change` syntax (`CMD`,
    /// `ENTRYPOINT`, `ENV`, `LABEL`, `WORKDIR`, `USER`, `EXPOSE`,
    /// `STOPSIGNAL`, `VOLUME`).
    pub changes: Vec<String>,
    /// The author, for the config and its history entry.
    pub author: Option<String>,
    /// The history entry's comment (a commit message).
    pub message: Option<String>,
    /// The history entry's `created_by`; "strata commit" when absent.
    pub created_by: Option<String>,
}

/// The base a commit builds on.
struct Base {
    /// The config to start from, as JSON.
    config: Map<String, Value>,
    /// The base layers' diff ids, base first.
    diff_ids: Vec<Digest>,
}

impl Store {
    /// Makes an image of container `container` (id, name or id prefix):
    /// its changes become a new layer on its base whose id is the ChainID,
    /// and the image's config is its image's config (every field kept) with
    /// the new layer, a history entry, the creation time, the author and
    /// `options.changes` applied. A container made on a bare layer gets a
    /// fresh config (the host's architecture, Linux) over its base layers;
    /// those not stored under their ChainIDs (made by `import_layer`) are
    /// copied to layers that are, so the image stands on its own.
    /// The container stays as it is.
    pub fn commit(&self, container: &str, options: &CommitOptions) -> Result<Image> {
        let container = self.container(container)?;
        self.under_lease(|lease| {
            let base = self.commit_base(lease, &container)?;
            let mut config = base.config;
            let inner = changed_config(&mut config, &options.changes)?;
            let (mut tar, diff_id) = spool(lease, |out| {
                let report = self.diff(&container.layer, None, DiffFormat::None, out)?;
                Ok(report.digest)
            })?;
            let base_ids = base.diff_ids;
            let mut diff_ids = base_ids.clone();
            diff_ids.push(diff_id);
            let parent = chain_ids(&base_ids).last().map(|d| d.hex().to_string());
            self.import_spooled(lease, &mut tar, &diff_ids, parent)?;
            config.insert("config".into(), Value::Object(inner));
            finish_config(&mut config, &diff_ids, options, "strata commit");
            self.record_image(lease, config, &diff_ids, options)
        })
    }

    /// Makes a one-layer image of a root file system tar (plain, gzip,
    /// zstd, xz or bzip2), as `docker import` and `podman import` do: a
    /// fresh config (the host's architecture, Linux) with `options.changes`
    /// applied and a history entry. The tar is written uncompressed into a
    /// work directory first (the layer's id, its ChainID, is its digest),
    /// then imported; anything that is not a tar is refused and leaves
    /// nothing behind.
    pub fn import_image(
        &self,
        input: &mut (dyn Read + Send),
        options: &CommitOptions,
    ) -> Result<Image> {
        self.under_lease(|lease| {
            let mut config = fresh_config();
            let inner = changed_config(&mut config, &options.changes)?;
            let (mut tar, diff_id) = spool(lease, |out| {
                let (_, decoder) =
                    compression::decompress(input).context(|| "cannot read the tar".into())?;
                let mut tar = DigestReader::new(decoder);
                io::copy(&mut tar, out).context(|| "cannot read the tar".into())?;
                Ok(tar.finish().0)
            })?;
            let diff_ids = vec![diff_id];
            self.import_spooled(lease, &mut tar, &diff_ids, None)?;
            config.insert("config".into(), Value::Object(inner));
            finish_config(&mut config, &diff_ids, options, "strata import");
            self.record_image(lease, config, &diff_ids, options)
        })
    }

    /// Writes the merged root file system of container `container` (its
    /// base layers and its changes) to `out` as one tar, generated from the
    /// tree as `diff` generates changesets (deterministic, no whiteouts);
    /// returns its length.
    pub fn export_container(&self, container: &str, out: &mut dyn Write) -> Result<u64> {
        let container = self.container(container)?;
        let tree = self.driver.view(&container.layer)?;
        let stats = write_changeset(None, tree.path(), out)?;
        Ok(stats.bytes)
    }

    /// Runs `f` under a new lease, released afterwards whatever happened
    /// (which deletes the layers `f` made if it failed).
    fn under_lease<T>(&self, f: impl FnOnce(&Lease) -> Result<T>) -> Result<T> {
        let lease = self.lease()?;
        let made = f(&lease);
        let released = self.release(lease);
        let value = made?;
        released?;
        Ok(value)
    }

    /// Serializes `config` once and records it as an image with an OCI
    /// manifest of the layers `diff_ids` name.
    fn record_image(
        &self,
        lease: &Lease,
        config: Map<String, Value>,
        diff_ids: &[Digest],
        options: &CommitOptions,
    ) -> Result<Image> {
        let bytes = serde_json::to_vec(&Value::Object(config))
            .map_err(|e| Error::Invalid(format!("cannot write the image config: {e}")))?;
        let manifest = self.commit_manifest(&bytes, diff_ids)?;
        self.commit_image(
            lease,
            &NewImage {
                config: bytes,
                manifests: vec![manifest],
                names: options
                    .names
                    .iter()
                    .map(|name| super::image_names::local_name(name))
                    .collect::<Result<_>>()?,
                blobs: Vec::new(),
            },
        )
    }

    /// The config and diff ids the commit starts from, with the layers
    /// they name (the new layer's parent and those below it) held by
    /// `lease`.
    fn commit_base(&self, lease: &Lease, container: &super::Container) -> Result<Base> {
        let Some(id) = &container.image else {
            let diff_ids = self.stack_as_chain(lease, container.base.as_deref())?;
            return Ok(Base {
                config: fresh_config(),
                diff_ids,
            });
        };
        let image = self.image(id)?;
        let bytes = self.image_config_bytes(&image)?;
        let config: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
                what: format!("the config of image {id}"),
                reason: e.to_string(),
            })?;
        let diff_ids = crate::image::ImageConfig::parse("the image config", &bytes)?
            .rootfs
            .diff_ids;
        let chain = chain_ids(&diff_ids);
        if chain.last().map(|d| d.hex()) != container.base.as_deref() {
            return Err(Error::Invalid(format!(
                "container {} is on layer {}, not on the top of its image's layers",
                container.id,
                container.base.as_deref().unwrap_or("nothing")
            )));
        }
        for id in &chain {
            if !self.hold_layer(lease, id.hex())? {
                return Err(Error::LayerNotFound(id.hex().to_string()));
            }
        }
        Ok(Base { config, diff_ids })
    }

    /// The recorded diff digests of layer `top` and the layers below it,
    /// base first, with the stack held by `lease` under its ChainIDs: a
    /// layer stored under another id (made by `layer import`, not by a
    /// load) is copied, its tar rebuilt and imported under its ChainID,
    /// unless the store has that ChainID already.
    fn stack_as_chain(&self, lease: &Lease, top: Option<&str>) -> Result<Vec<Digest>> {
        let mut stack = Vec::new();
        let mut next = top.map(str::to_string);
        while let Some(id) = next {
            let layer = self.layer(&id)?;
            if layer.diff_digest.is_none() {
                return Err(Error::Invalid(format!(
                    "layer {id} was not made from a tar (it has no diff digest), \
                     so no image can name it"
                )));
            }
            next = layer.parent.clone();
            stack.push(layer);
        }
        stack.reverse();
        let diff_ids: Vec<Digest> = stack.iter().filter_map(|l| l.diff_digest.clone()).collect();
        let chain = chain_ids(&diff_ids);
        for (at, (layer, id)) in stack.iter().zip(&chain).enumerate() {
            if self.hold_layer(lease, id.hex())? {
                continue;
            }
            let (mut tar, _) = spool(lease, |out| {
                self.diff(&layer.id, None, DiffFormat::None, out)
            })?;
            let parent = at
                .checked_sub(1)
                .map(|below| chain[below].hex().to_string());
            self.import_spooled(lease, &mut tar, &diff_ids[..=at], parent)?;
        }
        Ok(diff_ids)
    }

    /// Imports the tar `tar` (read from where it stands) as the top of
    /// `diff_ids` (its own diff id last), on `parent`, under its ChainID and
    /// held by `lease` (a layer with that ChainID in the store already is
    /// held instead).
    fn import_spooled(
        &self,
        lease: &Lease,
        tar: &mut File,
        diff_ids: &[Digest],
        parent: Option<String>,
    ) -> Result<()> {
        let chain = chain_ids(diff_ids);
        let (Some(id), Some(diff_id)) = (chain.last(), diff_ids.last()) else {
            return Err(Error::Invalid("no layer to import".into()));
        };
        if self.hold_layer(lease, id.hex())? {
            return Ok(());
        }
        let options = CreateOptions {
            id: Some(id.hex().to_string()),
            parent,
            lease: Some(lease.id().to_string()),
            expect_diff_digest: Some(diff_id.clone()),
            ..CreateOptions::default()
        };
        self.import_layer(&options, tar, None).map(|_| ())
    }

    /// An OCI manifest of config `config` and the layers `diff_ids` name,
    /// as uncompressed tars: the one `save` generates, so a save keeps it.
    fn commit_manifest(&self, config: &[u8], diff_ids: &[Digest]) -> Result<Vec<u8>> {
        let mut layers = Vec::with_capacity(diff_ids.len());
        for (diff_id, chain) in diff_ids.iter().zip(chain_ids(diff_ids)) {
            let layer = self.layer(chain.hex())?;
            layers.push(LayerBlob {
                size: layer.diff_size.unwrap_or(0),
                id: layer.id,
                diff_id: diff_id.clone(),
            });
        }
        generate_manifest(&Descriptor::of(media::OCI_CONFIG, config), &layers)
    }
}

/// A scratch file in `lease`'s directory (it never has a name, and goes
/// with its handle) filled by `f` and rewound, with what `f` returned.
fn spool<T>(lease: &Lease, f: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<(File, T)> {
    let what = || format!("cannot write a scratch file in {}", lease.dir().display());
    let mut file = AsideFile::scratch_in(lease.dir())?;
    let mut out = BufWriter::new(&mut file);
    let value = f(&mut out)?;
    out.flush().context(what)?;
    drop(out);
    file.rewind().context(what)?;
    Ok((file, value))
}

/// Takes the `config` object out of `config` and applies `changes` to it.
fn changed_config(
    config: &mut Map<String, Value>,
    changes: &[String],
) -> Result<Map<String, Value>> {
    let mut inner = match config.remove("config") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    apply_changes(&mut inner, changes)?;
    Ok(inner)
}

/// A config for an image made from no image: this host's platform.
fn fresh_config() -> Map<String, Value> {
    let config = json!({
        "architecture": Platform::host_architecture(),
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    });
    match config {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Sets the layers, creation time, author and a history entry.
fn finish_config(
    config: &mut Map<String, Value>,
    diff_ids: &[Digest],
    options: &CommitOptions,
    default_created_by: &str,
) {
    let created = now_rfc3339();
    let diff_ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    let rootfs = object(config, "rootfs");
    rootfs.insert("type".into(), json!("layers"));
    rootfs.insert("diff_ids".into(), json!(diff_ids));
    config.insert("created".into(), json!(created));
    if let Some(author) = &options.author {
        config.insert("author".into(), json!(author));
    }
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    let created_by = options.created_by.as_deref().unwrap_or(default_created_by);
    entry.insert("created_by".into(), json!(created_by));
    if let Some(author) = &options.author {
        entry.insert("author".into(), json!(author));
    }
    if let Some(message) = &options.message {
        entry.insert("comment".into(), json!(message));
    }
    array(config, "history").push(Value::Object(entry));
}

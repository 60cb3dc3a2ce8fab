//! Images from containers: [`Store::commit`] turns a container's changes
//! into a new layer on its base, whose id is the stack's ChainID, and
//! records an image over it with a new config and manifest.
//!
//! Steps, all under one lease (so a collection or an image removal
//! running meanwhile leaves the layers alone until the image row exists):
//! 1. the base layers are held; their diff ids are the config's (for a
//!    container made from an image) or their recorded diff digests (for a
//!    container on a bare layer, whose stack must then be stored under its
//!    ChainIDs, as layers of images are);
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
use std::io::{BufWriter, Write};

use serde_json::{Map, Value, json};

use super::diff::DiffFormat;
use super::import::CreateOptions;
use super::layer::now_rfc3339;
use super::{Image, Lease, NewImage, Store};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::image::change::apply_changes;
use crate::image::{Descriptor, Manifest, chain_ids, media};

/// How [`Store::commit`] makes the image.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Names for the new image (normalized; taken from images that have them).
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
    /// fresh config (the host's architecture, Linux) over its base layers,
    /// which must then be layers of images (stored under their ChainIDs).
    /// The container stays as it is.
    pub fn commit(&self, container: &str, options: &CommitOptions) -> Result<Image> {
        let container = self.container(container)?;
        let lease = self.lease()?;
        let made = self.commit_under(&lease, &container, options);
        let released = self.release(lease);
        let image = made?;
        released?;
        Ok(image)
    }

    fn commit_under(
        &self,
        lease: &Lease,
        container: &super::Container,
        options: &CommitOptions,
    ) -> Result<Image> {
        let base = self.commit_base(lease, container)?;
        let mut config = base.config;
        let mut inner = match config.remove("config") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        apply_changes(&mut inner, &options.changes)?;
        let diff_id = self.commit_layer(lease, container, &base.diff_ids)?;
        let mut diff_ids = base.diff_ids;
        diff_ids.push(diff_id);
        config.insert("config".into(), Value::Object(inner));
        finish_config(&mut config, &diff_ids, options);
        let bytes = serde_json::to_vec(&Value::Object(config))
            .map_err(|e| Error::Invalid(format!("cannot write the image config: {e}")))?;
        let manifest = self.commit_manifest(&bytes, &diff_ids)?;
        self.commit_image(
            lease,
            &NewImage {
                config: bytes,
                manifests: vec![manifest],
                names: options.names.clone(),
            },
        )
    }

    /// The config and diff ids the commit starts from, with the base
    /// layers held by `lease`.
    fn commit_base(&self, lease: &Lease, container: &super::Container) -> Result<Base> {
        let base = match &container.image {
            Some(id) => {
                let image = self.image(id)?;
                let bytes = self.image_config_bytes(&image)?;
                let config: Map<String, Value> =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
                        what: format!("the config of image {id}"),
                        reason: e.to_string(),
                    })?;
                let parsed = crate::image::ImageConfig::parse("the image config", &bytes)?;
                Base {
                    config,
                    diff_ids: parsed.rootfs.diff_ids,
                }
            }
            None => Base {
                config: fresh_config(),
                diff_ids: self.stack_diff_ids(container.base.as_deref())?,
            },
        };
        let chain = chain_ids(&base.diff_ids);
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
        Ok(base)
    }

    /// The recorded diff digests of layer `top` and the layers below it,
    /// base first; the stack must be stored under its ChainIDs.
    fn stack_diff_ids(&self, top: Option<&str>) -> Result<Vec<Digest>> {
        let mut stack = Vec::new();
        let mut next = top.map(str::to_string);
        while let Some(id) = next {
            let layer = self.layer(&id)?;
            let digest = layer.diff_digest.clone().ok_or_else(|| {
                Error::Invalid(format!(
                    "layer {id} has no recorded diff digest, so no image can name it"
                ))
            })?;
            stack.push((layer.id, digest));
            next = layer.parent;
        }
        stack.reverse();
        let diff_ids: Vec<Digest> = stack.iter().map(|(_, d)| d.clone()).collect();
        for ((id, _), chain) in stack.iter().zip(chain_ids(&diff_ids)) {
            if id != chain.hex() {
                return Err(Error::Invalid(format!(
                    "layer {id} is not stored under its ChainID {}: a container on it \
                     cannot be committed as an image (make the container from an image)",
                    chain.hex()
                )));
            }
        }
        Ok(diff_ids)
    }

    /// Writes the container's changes into the lease's directory, then
    /// imports them as the layer whose id is the ChainID over `below`
    /// (held by `lease`); returns the new layer's diff id.
    fn commit_layer(
        &self,
        lease: &Lease,
        container: &super::Container,
        below: &[Digest],
    ) -> Result<Digest> {
        let path = lease.dir().join("changes.tar");
        let file = File::create(&path).context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::new(file);
        let report = self.diff(&container.layer, None, DiffFormat::None, &mut out)?;
        out.flush()
            .context(|| format!("cannot write {}", path.display()))?;
        drop(out);
        let mut diff_ids = below.to_vec();
        diff_ids.push(report.digest.clone());
        let chain = chain_ids(&diff_ids);
        let id = chain
            .last()
            .map(|d| d.hex().to_string())
            .unwrap_or_default();
        if !self.hold_layer(lease, &id)? {
            let options = CreateOptions {
                id: Some(id),
                parent: container.base.clone(),
                lease: Some(lease.id().to_string()),
                expect_diff_digest: Some(report.digest.clone()),
                ..CreateOptions::default()
            };
            let mut file =
                File::open(&path).context(|| format!("cannot read {}", path.display()))?;
            self.import_layer(&options, &mut file, None)?;
        }
        std::fs::remove_file(&path).context(|| format!("cannot remove {}", path.display()))?;
        Ok(report.digest)
    }

    /// An OCI manifest of config `config` and the layers `diff_ids` name,
    /// as uncompressed tars.
    fn commit_manifest(&self, config: &[u8], diff_ids: &[Digest]) -> Result<Vec<u8>> {
        let mut layers = Vec::with_capacity(diff_ids.len());
        for (diff_id, chain) in diff_ids.iter().zip(chain_ids(diff_ids)) {
            let layer = self.layer(chain.hex())?;
            layers.push(Descriptor {
                media_type: media::OCI_LAYER_TAR.to_string(),
                digest: diff_id.clone(),
                size: layer.diff_size.unwrap_or(0),
                urls: Vec::new(),
                annotations: Default::default(),
                platform: None,
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_string()),
            config: Descriptor::of(media::OCI_CONFIG, config),
            layers,
        };
        serde_json::to_vec(&manifest)
            .map_err(|e| Error::Invalid(format!("cannot write the manifest: {e}")))
    }
}

/// A config for an image made from no image: this host's platform.
fn fresh_config() -> Map<String, Value> {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    let config = json!({
        "architecture": architecture,
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
fn finish_config(config: &mut Map<String, Value>, diff_ids: &[Digest], options: &CommitOptions) {
    let created = now_rfc3339();
    let diff_ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    let rootfs = config.entry("rootfs").or_insert_with(|| json!({}));
    if !rootfs.is_object() {
        *rootfs = json!({});
    }
    if let Value::Object(rootfs) = rootfs {
        rootfs.insert("type".into(), json!("layers"));
        rootfs.insert("diff_ids".into(), json!(diff_ids));
    }
    config.insert("created".into(), json!(created));
    if let Some(author) = &options.author {
        config.insert("author".into(), json!(author));
    }
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    let created_by = options.created_by.as_deref().unwrap_or("strata commit");
    entry.insert("created_by".into(), json!(created_by));
    if let Some(author) = &options.author {
        entry.insert("author".into(), json!(author));
    }
    if let Some(message) = &options.message {
        entry.insert("comment".into(), json!(message));
    }
    let history = config.entry("history").or_insert_with(|| json!([]));
    if !history.is_array() {
        *history = json!([]);
    }
    if let Value::Array(items) = history {
        items.push(Value::Object(entry));
    }
}

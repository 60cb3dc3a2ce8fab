//! Images pushed into the store (by a registry client talking to `strata
//! serve`): the manifest arrives last, naming a config and layer blobs
//! uploaded before it. It becomes an image the way a load does — every
//! layer imported under one lease and checked against its blob digest and
//! its config's diff id, all or nothing — and the image keeps the pushed
//! manifest and its layer blobs, so it is served again with the same
//! manifest digest.

use super::load::{LoadOptions, finish, import_plans};
use super::plan::{LayerFile, Plan, check_layer_count, normalize_names};
use super::source::DirSource;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::{malformed, parse_json};
use crate::image::{Descriptor, ImageConfig, Manifest, chain_ids, media};
use crate::store::{Image, Lease, Store};

impl Store {
    /// Makes an image of a pushed image manifest whose config and layers
    /// are in the store's blobs (uploaded with [`Store::start_upload`] and
    /// held by `hold`), or are layers the store has already under the same
    /// parents (a blob whose digest is the layer's diff id). Names it
    /// `name` when given. The image keeps `manifest` as received and the
    /// layer blobs it names.
    ///
    /// Errors: [`Error::BlobNotFound`] for a blob that was not pushed;
    /// [`Error::Unsupported`] for an image index or an artifact (a config
    /// that is no image config); [`Error::Malformed`] for a manifest or
    /// config that does not parse or does not agree with its blobs;
    /// [`Error::ContentMismatch`] for a layer whose bytes are not its
    /// diff id.
    pub fn land_pushed_manifest(
        &self,
        manifest: &[u8],
        name: Option<&str>,
        hold: &Lease,
    ) -> Result<Image> {
        let what = format!("manifest {}", Digest::of(manifest));
        refuse_index(&what, manifest)?;
        let parsed = Manifest::parse(&what, manifest)?;
        let config = self.pushed_config(&what, &parsed.config, hold)?;
        let config_what = format!("config {}", parsed.config.digest);
        let diff_ids = ImageConfig::parse(&config_what, &config)?.rootfs.diff_ids;
        check_layer_count(&what, parsed.layers.len(), diff_ids.len())?;
        let chains = chain_ids(&diff_ids);
        let mut layers = Vec::new();
        let mut keep = Vec::new();
        for ((layer, diff_id), chain) in parsed.layers.iter().zip(&diff_ids).zip(&chains) {
            if !media::is_layer(&layer.media_type) {
                return Err(Error::Unsupported(format!(
                    "{what} lists {} of media type {:?}, which is no filesystem layer: strata \
                     keeps container images, not attestations or other artifacts (docker \
                     buildx pushes provenance and SBOM attestations unless given \
                     --provenance=false --sbom=false)",
                    layer.digest, layer.media_type
                )));
            }
            let stored = self.hold_stored_blob(&layer.digest, hold)?;
            match stored {
                Some(size) if size == layer.size => keep.push(layer.digest.clone()),
                Some(size) => {
                    return Err(malformed(
                        &what,
                        format!(
                            "its layer {} is {size} bytes, its descriptor says {}",
                            layer.digest, layer.size
                        ),
                    ));
                }
                None if &layer.digest == diff_id && self.layer(chain.hex()).is_ok() => {}
                None => return Err(Error::BlobNotFound(layer.digest.to_string())),
            }
            layers.push(LayerFile {
                path: format!("blobs/sha256/{}", layer.digest.hex()),
                digest: Some(layer.digest.clone()),
            });
        }
        let names = match name {
            Some(name) => normalize_names("the pushed name", &[name.to_string()])?,
            None => Vec::new(),
        };
        let plan = Plan {
            config,
            diff_ids,
            manifest: Some(manifest.to_vec()),
            layers,
            names,
        };
        let lease = self.lease()?;
        let loaded = (|| {
            self.hold_blobs(&lease, &keep)?;
            let source = DirSource::new(self.root_dir())?;
            import_plans(
                self,
                &lease,
                &source,
                vec![plan],
                None,
                &keep,
                &LoadOptions::default(),
            )
        })();
        let mut report = finish(self, lease, loaded)?;
        report
            .images
            .pop()
            .ok_or_else(|| Error::Invalid(format!("{what} made no image")))
    }

    /// The pushed config `descriptor` names, checked against it.
    fn pushed_config(&self, what: &str, descriptor: &Descriptor, hold: &Lease) -> Result<Vec<u8>> {
        if !media::is_config(&descriptor.media_type) {
            return Err(Error::Unsupported(format!(
                "{what} has a config of media type {:?}: strata keeps container images, not \
                 artifacts",
                descriptor.media_type
            )));
        }
        match self.hold_stored_blob(&descriptor.digest, hold)? {
            Some(size) if size == descriptor.size => self.blob(&descriptor.digest),
            Some(size) => Err(malformed(
                what,
                format!(
                    "its config {} is {size} bytes, its descriptor says {}",
                    descriptor.digest, descriptor.size
                ),
            )),
            None => Err(Error::BlobNotFound(descriptor.digest.to_string())),
        }
    }
}

/// Refuses an image index (a multi-platform image), which the store does
/// not keep: one platform's image is pushed by itself.
fn refuse_index(what: &str, manifest: &[u8]) -> Result<()> {
    let value: serde_json::Value = parse_json(what, manifest)?;
    let kind = value
        .get("mediaType")
        .and_then(|t| t.as_str())
        .unwrap_or("");
    if media::is_index(kind) || value.get("manifests").is_some() {
        return Err(Error::Unsupported(format!(
            "{what} is an image index: strata stores one platform's image at a time; push \
             the image of one platform"
        )));
    }
    Ok(())
}

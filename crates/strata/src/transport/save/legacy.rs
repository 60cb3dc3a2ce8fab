//! Writing a planned save as a legacy `docker save` archive, the layout
//! of Docker 1.10 to 24 (`docker-archive-v1`):
//!
//! ```text
//! <v1id>/                  one directory per layer's v1 image (see `v1_image`)
//! <v1id>/VERSION           "1.0"
//! <v1id>/json              the v1 image JSON
//! <v1id>/layer.tar         the layer's tar; a layer already written under
//!                          another v1 id is a symlink ../<first v1id>/layer.tar
//! <config hex>.json        each image's config, as stored
//! manifest.json            [{"Config","RepoTags","Layers":["<v1id>/layer.tar",…]}]
//! repositories             {"repo":{"tag":"<top v1id>"}}, when some image is tagged
//! ```
//!
//! Docker tars a temporary directory holding these files, so members come
//! in bytewise name order, a directory right before its files; headers are
//! what Go's `archive.Tar` writes for them: modes with file type bits
//! (`0040755`, `0100644`, `0120777` for the symlink), uid and gid 0 named
//! `root`, mtimes the image's created time for the v1 directories, their
//! files and the config, 0 for `manifest.json` and `repositories`.
//!
//! Differences from Docker, which make the archive depend only on the
//! images and names: images come in `manifest.json` in the order given
//! (Docker's order is a Go map's); a v1 directory holding a symlink gets
//! the created time too (Docker leaves it the time of the save); an image
//! without a created time gets mtime 0 (Docker sets year 1); `Parent` is
//! never written (strata records no parent images).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use super::SaveReport;
use super::layer::LayerTars;
use super::manifest::to_json;
use super::metadata::{ManifestItem, familiar_tag};
use super::plan::{LayerBlob, Plan};
use super::v1_image::v1_layers;
use crate::archive::tarwrite::TarWriter;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::ImageConfig;

/// What a v1 directory's `layer.tar` is.
enum LayerTar {
    /// The layer's tar itself.
    Tar(LayerBlob),
    /// A symlink to the first directory holding the same tar.
    Link(String),
}

/// One v1 directory.
struct V1Dir {
    json: Vec<u8>,
    mtime: i64,
    layer: LayerTar,
}

/// A top-level member, in name order.
enum Entry {
    Dir(V1Dir),
    Config { bytes: Vec<u8>, mtime: i64 },
    Metadata(Vec<u8>),
}

/// Writes `plan` to `out` as a legacy docker archive. Everything but the
/// layer tars is worked out first, so an image the layout cannot hold
/// fails before a byte is written.
pub(super) fn write(
    layers: &dyn LayerTars,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<SaveReport> {
    let entries = entries(plan)?;
    let mut tar = TarWriter::legacy(out);
    for (name, entry) in &entries {
        match entry {
            Entry::Dir(dir) => {
                tar.set_mtime(dir.mtime);
                tar.dir(&format!("{name}/"))?;
                tar.file(&format!("{name}/VERSION"), b"1.0")?;
                tar.file(&format!("{name}/json"), &dir.json)?;
                let path = format!("{name}/layer.tar");
                match &dir.layer {
                    LayerTar::Tar(blob) => {
                        tar.file_with(&path, blob.size, |out| layers.write_layer(blob, out))?
                    }
                    LayerTar::Link(target) => tar.symlink(&path, target)?,
                }
            }
            Entry::Config { bytes, mtime } => {
                tar.set_mtime(*mtime);
                tar.file(name, bytes)?;
            }
            Entry::Metadata(bytes) => {
                tar.set_mtime(0);
                tar.file(name, bytes)?;
            }
        }
    }
    let bytes = tar.finish()?;
    Ok(SaveReport {
        images: plan.images.len(),
        layers: plan.layers.len(),
        bytes,
    })
}

/// The top-level members by name.
fn entries(plan: &Plan) -> Result<BTreeMap<String, Entry>> {
    let mut entries = BTreeMap::new();
    let mut first_dir: HashMap<&Digest, String> = HashMap::new();
    let mut items = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in &plan.images {
        let config_hex = image.config.digest.hex();
        let what = format!("the config of image {config_hex}");
        let config = plan
            .blobs
            .get(&image.config.digest)
            .ok_or_else(|| Error::Invalid(format!("{what} is missing from the save")))?;
        if image.layers.is_empty() {
            return Err(Error::Invalid(format!(
                "cannot save image {config_hex} as docker-archive-v1: it has no layers, \
                 and the legacy layout names an image by its top layer"
            )));
        }
        let diff_ids = ImageConfig::parse(&what, config)?.rootfs.diff_ids;
        let (v1, mtime) = v1_layers(config, &diff_ids, &what)?;
        for (v1_layer, blob) in v1.iter().zip(&image.layers) {
            if entries.contains_key(&v1_layer.id) {
                continue;
            }
            let layer = match first_dir.get(&blob.diff_id) {
                Some(first) => LayerTar::Link(format!("../{first}/layer.tar")),
                None => {
                    first_dir.insert(&blob.diff_id, v1_layer.id.clone());
                    LayerTar::Tar(blob.clone())
                }
            };
            let dir = V1Dir {
                json: v1_layer.json.clone(),
                mtime,
                layer,
            };
            entries.insert(v1_layer.id.clone(), Entry::Dir(dir));
        }
        let top = v1.last().map(|l| l.id.clone()).unwrap_or_default();
        for name in &image.names {
            repositories
                .entry(name.familiar_repository())
                .or_default()
                .insert(name.tag().unwrap_or("latest").to_string(), top.clone());
        }
        items.push(ManifestItem {
            config: format!("{config_hex}.json"),
            repo_tags: (!image.names.is_empty())
                .then(|| image.names.iter().map(familiar_tag).collect()),
            layers: v1.iter().map(|l| format!("{}/layer.tar", l.id)).collect(),
            // Docker 1.10 to 24 write no LayerSources.
            layer_sources: BTreeMap::new(),
        });
        entries.insert(
            format!("{config_hex}.json"),
            Entry::Config {
                bytes: config.clone(),
                mtime,
            },
        );
    }
    let mut manifest = to_json("manifest.json", &items)?;
    manifest.push(b'\n');
    entries.insert("manifest.json".into(), Entry::Metadata(manifest));
    if !repositories.is_empty() {
        let mut bytes = to_json("repositories", &repositories)?;
        bytes.push(b'\n');
        entries.insert("repositories".into(), Entry::Metadata(bytes));
    }
    Ok(entries)
}

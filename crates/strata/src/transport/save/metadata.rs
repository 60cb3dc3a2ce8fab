//! The metadata files of a saved layout: `oci-layout`, `index.json`, and
//! docker's `manifest.json` and `repositories`, byte for byte as Docker 25+
//! writes them (Go's compact JSON, Go's key order, map keys sorted).

use std::collections::BTreeMap;

use serde::Serialize;

use super::manifest::to_json;
use super::plan::{Naming, Plan};
use crate::image::descriptor::{IMAGE_NAME, REF_NAME};
use crate::image::reference::Reference;
use crate::image::{Descriptor, Index, media};

/// Where blobs live in a layout; `blobs/sha256/<hex>` is a blob's path.
pub(super) const BLOB_DIR: &str = "blobs/sha256";

/// The `oci-layout` file, spaced as docker, skopeo and containerd write it.
pub(super) fn oci_layout() -> Vec<u8> {
    format!(
        r#"{{"imageLayoutVersion": "{}"}}"#,
        media::OCI_LAYOUT_VERSION
    )
    .into_bytes()
}

/// The `index.json` entries: per image, one descriptor per name, or one
/// without annotations when it has none.
pub(super) fn index_entries(plan: &Plan) -> Vec<Descriptor> {
    let mut entries = Vec::new();
    for image in &plan.images {
        if image.names.is_empty() {
            entries.push(image.manifest.clone());
        }
        for name in &image.names {
            let mut entry = image.manifest.clone();
            entry.annotations =
                annotations(name, plan.naming, plan.ref_names.get(&name.to_string()));
            entries.push(entry);
        }
    }
    entries
}

/// The annotations naming an image: the full name, and as ref name the tag
/// (docker), or the ref name asked for, else the full name (podman, skopeo).
fn annotations(
    name: &Reference,
    naming: Naming,
    asked: Option<&String>,
) -> BTreeMap<String, String> {
    let (full, ref_name) = match (naming, name.tag()) {
        (Naming::Docker, Some(tag)) => (docker_name(name, tag), tag.to_string()),
        _ => (
            name.to_string(),
            asked.cloned().unwrap_or_else(|| name.to_string()),
        ),
    };
    BTreeMap::from([
        (IMAGE_NAME.to_string(), full),
        (REF_NAME.to_string(), ref_name),
    ])
}

/// `domain/path:tag`, without any digest (docker names images by tag).
fn docker_name(name: &Reference, tag: &str) -> String {
    format!("{}:{tag}", name.repository())
}

/// `index.json`: an OCI index of `entries`, no trailing newline.
pub(super) fn index_json(entries: Vec<Descriptor>) -> crate::Result<Vec<u8>> {
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        manifests: entries,
    };
    to_json("index.json", &index)
}

/// One image in docker's `manifest.json` (Go's `manifestItem`); the
/// legacy layout writes it without `LayerSources`.
#[derive(Serialize)]
pub(super) struct ManifestItem {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
    #[serde(rename = "LayerSources", skip_serializing_if = "BTreeMap::is_empty")]
    pub layer_sources: BTreeMap<String, LayerSource>,
}

/// A docker/distribution descriptor: key order mediaType, size, digest.
#[derive(Serialize)]
pub(super) struct LayerSource {
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    size: u64,
    digest: String,
}

/// docker's `manifest.json`: one item per image with its familiar
/// `name:tag`s (`null` when untagged), and a trailing newline.
pub(super) fn docker_manifest(plan: &Plan) -> crate::Result<Vec<u8>> {
    let items: Vec<ManifestItem> = plan
        .images
        .iter()
        .map(|image| ManifestItem {
            config: blob_path(image.config.digest.hex()),
            repo_tags: (!image.names.is_empty())
                .then(|| image.names.iter().map(familiar_tag).collect()),
            layers: image
                .layers
                .iter()
                .map(|layer| blob_path(layer.diff_id.hex()))
                .collect(),
            layer_sources: image
                .layers
                .iter()
                .map(|layer| {
                    let source = LayerSource {
                        media_type: media::OCI_LAYER_TAR,
                        size: layer.size,
                        digest: layer.diff_id.to_string(),
                    };
                    (layer.diff_id.to_string(), source)
                })
                .collect(),
        })
        .collect();
    Ok(with_newline(to_json("manifest.json", &items)?))
}

/// `name:tag` as docker shows it (`alpine:3`); names without a tag never
/// get here (the plan refuses them for docker archives).
pub(super) fn familiar_tag(name: &Reference) -> String {
    format!(
        "{}:{}",
        name.familiar_repository(),
        name.tag().unwrap_or("latest")
    )
}

/// docker's legacy `repositories`: familiar repository → tag → hex of the
/// top layer's diff id; `None` when no image with layers is tagged.
pub(super) fn repositories(plan: &Plan) -> crate::Result<Option<Vec<u8>>> {
    let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in &plan.images {
        let Some(top) = image.layers.last() else {
            continue;
        };
        for name in &image.names {
            let tag = name.tag().unwrap_or("latest").to_string();
            repos
                .entry(name.familiar_repository())
                .or_default()
                .insert(tag, top.diff_id.hex().to_string());
        }
    }
    if repos.is_empty() {
        return Ok(None);
    }
    Ok(Some(with_newline(to_json("repositories", &repos)?)))
}

/// The path of blob `hex` inside a layout.
pub(super) fn blob_path(hex: &str) -> String {
    format!("{BLOB_DIR}/{hex}")
}

/// Go's `json.Encoder` ends each value with a newline.
fn with_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.push(b'\n');
    bytes
}

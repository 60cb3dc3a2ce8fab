//! Reading `docker save` archives: `manifest.json` names each image's
//! config and layer files. That covers Docker 1.10 to 24 (`<v1id>/layer.tar`,
//! symlinked duplicates, `<id>.json` configs), Docker 25+ (the same over an
//! OCI layout's `blobs/sha256/`), and what podman and skopeo write. Archives
//! from Docker before 1.10 have no `manifest.json` and are refused by name.
//! An archive with only an OCI layout is read as one.

use std::collections::HashMap;

use serde::Deserialize;

use super::oci_layout;
use super::plan::{
    LayerFile, Plan, check_layer_count, digest_in_path, normalize_names, position, verify,
};
use super::source::Source;
use crate::digest::Digest;
use crate::error::Result;
use crate::image::manifest::{Manifest, malformed, parse_json};
use crate::image::{ImageConfig, Index, media};

/// One entry of `manifest.json`.
#[derive(Debug, Deserialize)]
struct Item {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The images in a docker-archive (or, lacking `manifest.json`, an OCI
/// archive), selected by `reference` (a name, or `@N` for the N-th) if given.
pub(crate) fn plans(source: &dyn Source, reference: Option<&str>) -> Result<Vec<Plan>> {
    if !source.has("manifest.json") {
        if source.has("index.json") {
            return oci_layout::plans(source, reference);
        }
        return Err(malformed(
            "the archive",
            "it has no manifest.json (archives from Docker before 1.10 are not supported) \
             and no OCI index.json",
        ));
    }
    let bytes = source.read_json("manifest.json", "manifest.json")?;
    let items: Option<Vec<Item>> = parse_json("manifest.json", &bytes)?;
    let items =
        items.ok_or_else(|| malformed("manifest.json", "it is null (an empty list is fine)"))?;
    let manifests = oci_manifests(source)?;
    let mut plans = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("manifest.json entry {i}");
        let mut plan = plan_of(source, item, &what)?;
        plan.manifest = manifests.get(&Digest::of(&plan.config)).cloned();
        plans.push(plan);
    }
    select(plans, reference)
}

fn plan_of(source: &dyn Source, item: &Item, what: &str) -> Result<Plan> {
    if !source.has(&item.config) {
        return Err(malformed(
            what,
            format!("its config {:?} is not in the archive", item.config),
        ));
    }
    let config_what = format!("config {}", item.config);
    let config = source.read_json(&item.config, &config_what)?;
    if let Some(expected) = digest_in_path(&item.config) {
        verify(&config_what, &config, &expected)?;
    }
    let parsed = ImageConfig::parse(&config_what, &config)?;
    let diff_ids = parsed.rootfs.diff_ids;
    check_layer_count(what, item.layers.len(), diff_ids.len())?;
    let mut layers = Vec::new();
    for path in &item.layers {
        if !source.has(path) {
            return Err(malformed(
                what,
                format!("its layer {path:?} is not in the archive"),
            ));
        }
        layers.push(LayerFile {
            path: path.clone(),
            digest: digest_in_path(path),
        });
    }
    let names = normalize_names(what, item.repo_tags.as_deref().unwrap_or_default())?;
    Ok(Plan {
        config,
        diff_ids,
        manifest: None,
        layers,
        names,
    })
}

/// The OCI manifests a Docker 25+ archive carries beside manifest.json,
/// by the digest of their config (none if there is no index.json).
fn oci_manifests(source: &dyn Source) -> Result<HashMap<Digest, Vec<u8>>> {
    let mut found = HashMap::new();
    if !source.has("index.json") {
        return Ok(found);
    }
    let index = Index::parse("index.json", &source.read_json("index.json", "index.json")?)?;
    for descriptor in index
        .manifests
        .iter()
        .filter(|d| media::is_manifest(&d.media_type))
    {
        let path = format!("blobs/sha256/{}", descriptor.digest.hex());
        if !source.has(&path) {
            continue;
        }
        let what = format!("manifest {}", descriptor.digest);
        let bytes = source.read_json(&path, &what)?;
        verify(&what, &bytes, &descriptor.digest)?;
        let manifest = Manifest::parse(&what, &bytes)?;
        found.insert(manifest.config.digest, bytes);
    }
    Ok(found)
}

/// Keeps the plans `reference` selects: one whose names include it, or the
/// N-th for `@N`; all when it is absent.
pub(crate) fn select(plans: Vec<Plan>, reference: Option<&str>) -> Result<Vec<Plan>> {
    let Some(reference) = reference else {
        return Ok(plans);
    };
    if let Some(n) = position(reference) {
        let n = n?;
        let count = plans.len();
        return plans.into_iter().nth(n).map(|p| vec![p]).ok_or_else(|| {
            malformed(
                "the archive",
                format!("it has {count} images, so there is no image @{n}"),
            )
        });
    }
    let name = normalize_names("the reference", &[reference.to_string()])?;
    let chosen: Vec<Plan> = plans
        .into_iter()
        .filter(|p| p.names.iter().any(|n| name.contains(n)))
        .collect();
    if chosen.is_empty() {
        return Err(malformed(
            "the archive",
            format!("it has no image named {reference}"),
        ));
    }
    Ok(chosen.into_iter().take(1).collect())
}

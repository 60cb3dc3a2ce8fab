//! Reading OCI image layouts (a directory, or an archive of one): the
//! `oci-layout` marker, `index.json`, and the manifests, configs and layers
//! under `blobs/sha256/`, each checked against the descriptor that names it.
//!
//! Names come from an entry's `io.containerd.image.name` annotation, else
//! from `org.opencontainers.image.ref.name` when that is a full image name
//! (`localhost/app:1`); a bare tag (`v1`, as skopeo writes) names no image.
//! A nested index (multi-platform image) gives the entry for this host's
//! platform.

use super::plan::{LayerFile, Plan, check_layer_count, normalize_names, position, verify};
use super::source::Source;
use crate::error::Result;
use crate::image::descriptor::{IMAGE_NAME, REF_NAME};
use crate::image::manifest::{malformed, parse_json};
use crate::image::{Descriptor, ImageConfig, Index, Manifest, Platform, media, reference};

/// How deep indexes may nest.
const MAX_NESTING: usize = 4;

/// The images of the layout, selected by `reference` (an entry's ref name
/// or image name, or `@N`) if given.
pub(crate) fn plans(source: &dyn Source, reference: Option<&str>) -> Result<Vec<Plan>> {
    check_layout(source)?;
    let index = Index::parse("index.json", &source.read_json("index.json", "index.json")?)?;
    let mut entries: Vec<&Descriptor> = index.manifests.iter().collect();
    if let Some(wanted) = reference {
        entries = choose(entries, wanted)?;
    }
    let mut plans = Vec::new();
    for descriptor in entries {
        let names = names_of(descriptor, reference)?;
        let mut plan = plan_of(source, descriptor, 0)?;
        plan.names = names;
        plans.push(plan);
    }
    Ok(plans)
}

fn check_layout(source: &dyn Source) -> Result<()> {
    if !source.has("oci-layout") {
        return Err(malformed("the OCI layout", "it has no oci-layout file"));
    }
    let marker: serde_json::Value =
        parse_json("oci-layout", &source.read_json("oci-layout", "oci-layout")?)?;
    match marker.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(media::OCI_LAYOUT_VERSION) => Ok(()),
        other => Err(malformed(
            "oci-layout",
            format!("imageLayoutVersion is {other:?}, want \"1.0.0\""),
        )),
    }
}

fn choose<'a>(entries: Vec<&'a Descriptor>, wanted: &str) -> Result<Vec<&'a Descriptor>> {
    if let Some(n) = position(wanted) {
        let n = n?;
        return entries
            .get(n)
            .map(|d| vec![*d])
            .ok_or_else(|| malformed("index.json", format!("it has no entry @{n}")));
    }
    let full = reference::parse(wanted).ok().map(|r| r.to_string());
    let chosen: Vec<&Descriptor> = entries
        .into_iter()
        .filter(|d| {
            d.annotations.get(REF_NAME).map(String::as_str) == Some(wanted)
                || (full.is_some() && d.annotations.get(IMAGE_NAME) == full.as_ref())
        })
        .take(1)
        .collect();
    if chosen.is_empty() {
        return Err(malformed(
            "index.json",
            format!("it has no image named {wanted}"),
        ));
    }
    Ok(chosen)
}

/// The names an index entry gives its image.
fn names_of(descriptor: &Descriptor, reference: Option<&str>) -> Result<Vec<String>> {
    if let Some(name) = descriptor.annotations.get(IMAGE_NAME) {
        return normalize_names("an index.json entry", std::slice::from_ref(name));
    }
    let ref_name = descriptor.annotations.get(REF_NAME).map(String::as_str);
    match ref_name.or(reference.filter(|r| !r.starts_with('@'))) {
        Some(name) if name.contains('/') || name.contains(':') => {
            Ok(normalize_names("an index.json entry", &[name.to_string()]).unwrap_or_default())
        }
        _ => Ok(Vec::new()),
    }
}

fn blob_path(descriptor: &Descriptor) -> String {
    format!("blobs/sha256/{}", descriptor.digest.hex())
}

/// Reads and checks the blob `descriptor` names.
fn read_blob(source: &dyn Source, descriptor: &Descriptor, what: &str) -> Result<Vec<u8>> {
    let path = blob_path(descriptor);
    if !source.has(&path) {
        return Err(malformed(
            what,
            format!("its blob {} is not in the layout", descriptor.digest),
        ));
    }
    let bytes = source.read_json(&path, what)?;
    verify(what, &bytes, &descriptor.digest)?;
    if bytes.len() as u64 != descriptor.size {
        return Err(malformed(
            what,
            format!(
                "it is {} bytes, its descriptor says {}",
                bytes.len(),
                descriptor.size
            ),
        ));
    }
    Ok(bytes)
}

fn plan_of(source: &dyn Source, descriptor: &Descriptor, depth: usize) -> Result<Plan> {
    let what = format!("manifest {}", descriptor.digest);
    if media::is_index(&descriptor.media_type) {
        if depth >= MAX_NESTING {
            return Err(malformed(&what, "indexes nest too deep"));
        }
        let index = Index::parse(&what, &read_blob(source, descriptor, &what)?)?;
        let entry = for_this_platform(&index)
            .ok_or_else(|| malformed(&what, "it has no image for this platform"))?;
        return plan_of(source, entry, depth + 1);
    }
    if !media::is_manifest(&descriptor.media_type) {
        return Err(malformed(
            &what,
            format!(
                "media type {:?} is not an image manifest",
                descriptor.media_type
            ),
        ));
    }
    let bytes = read_blob(source, descriptor, &what)?;
    let manifest = Manifest::parse(&what, &bytes)?;
    let config_what = format!("config {}", manifest.config.digest);
    let config = read_blob(source, &manifest.config, &config_what)?;
    let diff_ids = ImageConfig::parse(&config_what, &config)?.rootfs.diff_ids;
    check_layer_count(&what, manifest.layers.len(), diff_ids.len())?;
    let mut layers = Vec::new();
    for layer in &manifest.layers {
        let path = blob_path(layer);
        if !source.has(&path) {
            return Err(malformed(
                &what,
                format!("its layer {} is not in the layout", layer.digest),
            ));
        }
        layers.push(LayerFile {
            path,
            digest: Some(layer.digest.clone()),
        });
    }
    Ok(Plan {
        config,
        diff_ids,
        manifest: Some(bytes),
        layers,
        names: Vec::new(),
    })
}

/// The entry of a multi-platform index for this host (linux and this
/// CPU), or its only entry.
fn for_this_platform(index: &Index) -> Option<&Descriptor> {
    let arch = Platform::host_architecture();
    if let [only] = index.manifests.as_slice() {
        return Some(only);
    }
    index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == arch)
    })
}

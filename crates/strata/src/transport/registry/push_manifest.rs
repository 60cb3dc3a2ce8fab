//! The manifest a push sends. An image keeps the manifest it was pulled
//! (or loaded) with when every layer went out as the very blob that
//! manifest names — so an unchanged image pushed back keeps its manifest
//! digest. Otherwise a manifest is generated over the blobs that were
//! sent: Docker schema 2 when the kept manifest was one and every blob
//! is gzip (what Docker's types can say), OCI otherwise.

use super::super::save::to_json;
use crate::compression::Compression;
use crate::digest::Digest;
use crate::error::Result;
use crate::image::{Descriptor, Manifest, media};
use crate::store::{Image, Store};

/// A manifest the store keeps for an image, parsed.
pub(super) struct StoredManifest {
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// What it says.
    pub manifest: Manifest,
}

/// The manifest formats a push writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// OCI image manifest.
    Oci,
    /// Docker image manifest, schema 2.
    Docker,
}

/// A layer as sent: the blob the manifest names for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SentLayer {
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size.
    pub size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
}

/// The first manifest kept for `image` that describes it: its config is
/// `config` and it has `layers` layers.
pub(super) fn stored(
    store: &Store,
    image: &Image,
    config: &Digest,
    layers: usize,
) -> Result<Option<StoredManifest>> {
    for digest in &image.manifests {
        let bytes = store.blob(digest)?;
        let Ok(manifest) = Manifest::parse("a stored manifest", &bytes) else {
            continue;
        };
        if manifest.config.digest != *config || manifest.layers.len() != layers {
            continue;
        }
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| media::OCI_MANIFEST.to_string());
        if media_type != media::OCI_MANIFEST && media_type != media::DOCKER_MANIFEST {
            continue;
        }
        return Ok(Some(StoredManifest {
            bytes,
            media_type,
            manifest,
        }));
    }
    Ok(None)
}

/// The format to write: the kept manifest's when it is Docker's and the
/// layers to be compressed are gzip (Docker's types have no zstd), OCI
/// otherwise.
pub(super) fn format_for(stored: Option<&StoredManifest>, compression: Compression) -> Format {
    match stored {
        Some(stored)
            if stored.media_type == media::DOCKER_MANIFEST && compression == Compression::Gzip =>
        {
            Format::Docker
        }
        _ => Format::Oci,
    }
}

/// How a layer blob of media type `media_type` is compressed, when it is
/// a layer type `format` can name.
pub(super) fn layer_compression(format: Format, media_type: &str) -> Option<Compression> {
    let compression = match media_type {
        media::OCI_LAYER_GZIP | media::DOCKER_LAYER_GZIP => Compression::Gzip,
        media::OCI_LAYER_ZSTD => Compression::Zstd,
        media::OCI_LAYER_TAR | media::DOCKER_LAYER_TAR => Compression::None,
        _ => return None,
    };
    layer_media_type(format, compression).map(|_| compression)
}

/// The media type `format` gives a layer blob compressed with `compression`.
pub(super) fn layer_media_type(format: Format, compression: Compression) -> Option<&'static str> {
    match (format, compression) {
        (Format::Oci, Compression::None) => Some(media::OCI_LAYER_TAR),
        (Format::Oci, Compression::Gzip) => Some(media::OCI_LAYER_GZIP),
        (Format::Oci, Compression::Zstd) => Some(media::OCI_LAYER_ZSTD),
        (Format::Docker, Compression::None) => Some(media::DOCKER_LAYER_TAR),
        (Format::Docker, Compression::Gzip) => Some(media::DOCKER_LAYER_GZIP),
        _ => None,
    }
}

/// The manifest to send and its media type: the kept one when it names
/// exactly the blobs sent, else one generated in `format`.
pub(super) fn manifest_for(
    stored: Option<&StoredManifest>,
    format: Format,
    config: &Descriptor,
    sent: &[SentLayer],
) -> Result<(Vec<u8>, String)> {
    if let Some(stored) = stored
        && names_exactly(&stored.manifest, sent)
    {
        return Ok((stored.bytes.clone(), stored.media_type.clone()));
    }
    let (manifest_type, config_type) = match format {
        Format::Oci => (media::OCI_MANIFEST, media::OCI_CONFIG),
        Format::Docker => (media::DOCKER_MANIFEST, media::DOCKER_CONFIG),
    };
    let layers = sent
        .iter()
        .map(|layer| Descriptor {
            media_type: layer_media_type(format, layer.compression)
                .unwrap_or(media::OCI_LAYER_TAR)
                .to_string(),
            digest: layer.digest.clone(),
            size: layer.size,
            urls: Vec::new(),
            annotations: Default::default(),
            platform: None,
        })
        .collect();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(manifest_type.to_string()),
        config: Descriptor {
            media_type: config_type.to_string(),
            ..config.clone()
        },
        layers,
    };
    Ok((
        to_json("the manifest to push", &manifest)?,
        manifest_type.to_string(),
    ))
}

/// Whether `manifest`'s layers are exactly the blobs `sent`.
fn names_exactly(manifest: &Manifest, sent: &[SentLayer]) -> bool {
    manifest.layers.len() == sent.len()
        && manifest
            .layers
            .iter()
            .zip(sent)
            .all(|(named, sent)| named.digest == sent.digest && named.size == sent.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(data: &[u8], compression: Compression) -> SentLayer {
        SentLayer {
            digest: Digest::of(data),
            size: data.len() as u64,
            compression,
        }
    }

    fn stored_of(manifest: &Manifest) -> StoredManifest {
        StoredManifest {
            bytes: serde_json::to_vec_pretty(manifest).expect("json"),
            media_type: manifest.media_type.clone().expect("type"),
            manifest: manifest.clone(),
        }
    }

    #[test]
    fn keeps_the_stored_manifest_when_the_same_blobs_went_out() {
        let config = Descriptor::of(media::DOCKER_CONFIG, b"{}");
        let layers = [sent(b"a", Compression::Gzip), sent(b"b", Compression::Gzip)];
        let (generated, _) =
            manifest_for(None, Format::Docker, &config, &layers).expect("generate");
        let manifest = Manifest::parse("m", &generated).expect("parse");
        let stored = stored_of(&manifest);
        let (bytes, kind) =
            manifest_for(Some(&stored), Format::Docker, &config, &layers).expect("keep");
        assert_eq!(bytes, stored.bytes, "kept byte for byte");
        assert_eq!(kind, media::DOCKER_MANIFEST);
        let other = [sent(b"a", Compression::Gzip), sent(b"c", Compression::Gzip)];
        let (bytes, _) =
            manifest_for(Some(&stored), Format::Docker, &config, &other).expect("regenerate");
        assert_ne!(bytes, stored.bytes);
        let regenerated = Manifest::parse("m", &bytes).expect("parse");
        assert_eq!(regenerated.layers[1].digest, Digest::of(b"c"));
        assert_eq!(regenerated.layers[1].media_type, media::DOCKER_LAYER_GZIP);
    }

    #[test]
    fn generated_oci_manifest_names_each_compression() {
        let config = Descriptor::of(media::OCI_CONFIG, b"{}");
        let layers = [
            sent(b"a", Compression::Zstd),
            sent(b"b", Compression::Gzip),
            sent(b"c", Compression::None),
        ];
        let (bytes, kind) = manifest_for(None, Format::Oci, &config, &layers).expect("generate");
        assert_eq!(kind, media::OCI_MANIFEST);
        let text = String::from_utf8(bytes).expect("utf8");
        assert!(text.starts_with(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json""#
        ), "{text}");
        let manifest = Manifest::parse("m", text.as_bytes()).expect("parse");
        let types: Vec<&str> = manifest
            .layers
            .iter()
            .map(|l| l.media_type.as_str())
            .collect();
        assert_eq!(
            types,
            [
                media::OCI_LAYER_ZSTD,
                media::OCI_LAYER_GZIP,
                media::OCI_LAYER_TAR
            ]
        );
    }

    #[test]
    fn docker_manifests_cannot_name_zstd() {
        assert_eq!(
            layer_compression(Format::Docker, media::OCI_LAYER_ZSTD),
            None
        );
        assert_eq!(
            layer_compression(Format::Oci, media::DOCKER_LAYER_GZIP),
            Some(Compression::Gzip)
        );
        assert_eq!(
            layer_compression(Format::Oci, "application/x-unknown"),
            None
        );
    }
}

//! The manifest saved with an image: one it was stored with, when that one
//! describes exactly the blobs a save writes, else one generated as docker
//! generates it.

use serde::Serialize;

use super::plan::LayerBlob;
use crate::error::{Error, Result};
use crate::image::{Descriptor, Manifest, media};
use crate::store::{Image, Store};

/// The manifest bytes to save for `image`, whose config is `config` and
/// whose layer tars are `layers`.
pub(super) fn choose(
    store: &Store,
    image: &Image,
    config: &Descriptor,
    layers: &[LayerBlob],
) -> Result<Vec<u8>> {
    for digest in &image.manifests {
        let bytes = store.blob(digest)?;
        if fits(&bytes, config, layers) {
            return Ok(bytes);
        }
    }
    generate(config, layers)
}

/// Whether manifest `bytes` is an OCI manifest of config `config` and of
/// exactly `layers` as uncompressed tars, so it can be saved as it is.
pub(super) fn fits(bytes: &[u8], config: &Descriptor, layers: &[LayerBlob]) -> bool {
    let Ok(manifest) = Manifest::parse("a stored manifest", bytes) else {
        return false;
    };
    let oci = manifest
        .media_type
        .as_deref()
        .is_none_or(|t| t == media::OCI_MANIFEST);
    let same_config =
        manifest.config.digest == config.digest && manifest.config.size == config.size;
    oci && same_config
        && manifest.layers.len() == layers.len()
        && manifest
            .layers
            .iter()
            .zip(layers)
            .all(|(descriptor, layer)| {
                descriptor.media_type == media::OCI_LAYER_TAR
                    && descriptor.digest == layer.diff_id
                    && descriptor.size == layer.size
            })
}

/// A manifest as `docker save` generates one: compact JSON with keys
/// `schemaVersion, mediaType, config, layers`, OCI media types, the layers
/// as uncompressed tars named by their diff ids, no trailing newline.
pub(crate) fn generate(config: &Descriptor, layers: &[LayerBlob]) -> Result<Vec<u8>> {
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.to_string()),
        config: config.clone(),
        layers: layers.iter().map(layer_descriptor).collect(),
    };
    to_json("the generated manifest", &manifest)
}

/// The descriptor of a layer's uncompressed tar.
pub(super) fn layer_descriptor(layer: &LayerBlob) -> Descriptor {
    Descriptor {
        media_type: media::OCI_LAYER_TAR.to_string(),
        digest: layer.diff_id.clone(),
        size: layer.size,
        urls: Vec::new(),
        annotations: Default::default(),
        platform: None,
    }
}

/// Compact JSON of `value`.
pub(crate) fn to_json(what: &str, value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Invalid(format!("cannot write {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn layer(data: &[u8]) -> LayerBlob {
        LayerBlob {
            id: "0".repeat(64),
            diff_id: Digest::of(data),
            size: data.len() as u64,
        }
    }

    #[test]
    fn generated_manifest_is_docker_compact_json() {
        let config = Descriptor::of(media::OCI_CONFIG, b"{}");
        let layers = [layer(b"a")];
        let bytes = generate(&config, &layers).expect("generate");
        let expected = format!(
            concat!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
                r#""config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"#,
                r#""layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":1}}]}}"#
            ),
            Digest::of(b"{}"),
            Digest::of(b"a"),
        );
        assert_eq!(String::from_utf8_lossy(&bytes), expected);
        assert!(fits(&bytes, &config, &layers), "a generated manifest fits");
    }

    #[test]
    fn only_exact_uncompressed_manifests_fit() {
        let config = Descriptor::of(media::OCI_CONFIG, b"{}");
        let layers = [layer(b"a"), layer(b"b")];
        let fitting = generate(&config, &layers).expect("generate");
        let text = String::from_utf8_lossy(&fitting).into_owned();
        let cases = [
            (
                text.replace(media::OCI_LAYER_TAR, media::OCI_LAYER_GZIP),
                "gzip layers",
            ),
            (text.replace(r#""size":1}"#, r#""size":2}"#), "another size"),
            (
                text.replace(media::OCI_MANIFEST, media::DOCKER_MANIFEST),
                "docker schema2",
            ),
            ("not json".to_string(), "garbage"),
        ];
        for (bytes, why) in cases {
            assert!(!fits(bytes.as_bytes(), &config, &layers), "{why}");
        }
        assert!(!fits(&fitting, &config, &layers[..1]), "fewer layers");
        let other = Descriptor::of(media::OCI_CONFIG, b"{ }");
        assert!(!fits(&fitting, &other, &layers), "another config");
        let bare = text.replace(
            r#""mediaType":"application/vnd.oci.image.manifest.v1+json","#,
            "",
        );
        assert!(fits(bare.as_bytes(), &config, &layers), "no media type");
    }
}

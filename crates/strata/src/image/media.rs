//! Media types of the OCI image spec and their Docker schema2 equivalents.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, uncompressed tar.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI image layout header (`oci-layout`).
pub const OCI_LAYOUT_VERSION: &str = "1.0.0";
/// Docker schema2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer (gzip, though used for any compression by some writers).
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, uncompressed.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer.
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Whether `media_type` names a single-image manifest.
pub fn is_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// Whether `media_type` names an index (manifest list).
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// Whether `media_type` may name a filesystem layer (a tar, compressed or
/// not): OCI's and Docker's layer types and their variants, or none.
/// Other blobs a manifest lists (an in-toto statement, an SBOM) are not.
pub fn is_layer(media_type: &str) -> bool {
    media_type.is_empty() || media_type.contains(".tar") || media_type.contains(".rootfs.")
}

/// Whether `media_type` is an image config (OCI or Docker).
pub fn is_config(media_type: &str) -> bool {
    media_type == OCI_CONFIG || media_type == DOCKER_CONFIG
}

#[cfg(test)]
mod layer_types {
    use super::*;

    #[test]
    fn tars_are_layers_and_attestations_are_not() {
        for layer in [
            OCI_LAYER_TAR,
            OCI_LAYER_GZIP,
            OCI_LAYER_ZSTD,
            DOCKER_LAYER_GZIP,
            DOCKER_LAYER_TAR,
            DOCKER_LAYER_FOREIGN,
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "",
        ] {
            assert!(is_layer(layer), "{layer}");
        }
        for other in [
            "application/vnd.in-toto+json",
            "application/spdx+json",
            "application/vnd.oci.image.config.v1+json",
        ] {
            assert!(!is_layer(other), "{other}");
        }
    }
}

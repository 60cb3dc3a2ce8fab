//! An image's config and manifests read back: as the exact bytes received,
//! which stay the source of truth, and as typed views through the OCI
//! image spec's types of the [`oci_spec`] crate.
//!
//! The typed views are best-effort. strata checks what it stores the way
//! docker and podman read images (module `image::config`), and `oci_spec`
//! is stricter in a few places: a config without `architecture` or `os`,
//! or a manifest descriptor without `mediaType`, loads, saves and inspects
//! fine as bytes, but its typed view fails with [`Error::TypedView`]
//! naming the image. Fields the OCI spec does not have (docker's
//! `container_config` or `Healthcheck`) are in the bytes only.

use oci_spec::image::{ImageConfiguration, ImageManifest};
use serde::de::DeserializeOwned;

use super::{Image, Store};
use crate::error::{Error, Result};
use crate::image::manifest::check_json_size;

impl Store {
    /// The image's config, exactly as received, checked against its digest
    /// (the image id).
    ///
    /// An image another process removed after `image` was read gives
    /// [`Error::ImageNotFound`], not a missing file, so a listing taken
    /// while images come and go can leave the gone ones out.
    pub fn image_config_bytes(&self, image: &Image) -> Result<Vec<u8>> {
        match self.blob(&image.digest()) {
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && !self.has_image(image)? =>
            {
                Err(Error::ImageNotFound(image.id.clone()))
            }
            read => read,
        }
    }

    /// Whether `image` (by id) is still in the store.
    fn has_image(&self, image: &Image) -> Result<bool> {
        match self.image(&image.id) {
            Ok(_) => Ok(true),
            Err(Error::ImageNotFound(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The image's config as the OCI image spec's typed struct: platform,
    /// `rootfs.diff_ids`, history, and in `config()` the defaults for a
    /// container (`Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`,
    /// `Labels`, `ExposedPorts`, `Volumes`, `StopSignal`).
    ///
    /// A view of [`image_config_bytes`](Self::image_config_bytes), which
    /// stay the source of truth: serializing the view again need not give
    /// the same bytes or digest. A config strata accepted that the typed
    /// view cannot represent gives [`Error::TypedView`].
    pub fn image_config(&self, image: &Image) -> Result<ImageConfiguration> {
        let bytes = self.image_config_bytes(image)?;
        typed(&format!("the config of image {}", image.id), &bytes)
    }

    /// The image's first manifest, exactly as received and checked against
    /// its digest; `None` for an image that came without one (a `docker
    /// save` archive before Docker 25 has none).
    pub fn image_manifest_bytes(&self, image: &Image) -> Result<Option<Vec<u8>>> {
        image
            .manifests
            .first()
            .map(|digest| self.blob(digest))
            .transpose()
    }

    /// The image's first manifest as the OCI image spec's typed struct (a
    /// Docker schema2 manifest has the same shape; its media types are
    /// [`MediaType::Other`](oci_spec::image::MediaType::Other)); `None`
    /// for an image that came without one. A view of
    /// [`image_manifest_bytes`](Self::image_manifest_bytes); a manifest
    /// the typed view cannot represent gives [`Error::TypedView`].
    pub fn image_manifest(&self, image: &Image) -> Result<Option<ImageManifest>> {
        let Some(digest) = image.manifests.first() else {
            return Ok(None);
        };
        let bytes = self.blob(digest)?;
        typed(&format!("manifest {digest} of image {}", image.id), &bytes).map(Some)
    }
}

/// Parses stored JSON `bytes` (`what`) into the typed view `T`.
fn typed<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    check_json_size(what, bytes.len() as u64)?;
    serde_json::from_slice(bytes).map_err(|e| Error::TypedView {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use oci_spec::image::{Arch, Os};

    use super::*;

    const DIFF_ID: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

    fn config(body: &str) -> Result<ImageConfiguration> {
        typed("the config of image x", body.as_bytes())
    }

    #[test]
    fn docker_nulls_and_extra_fields_are_read() {
        let json = format!(
            r#"{{"architecture":"arm64","variant":"v8","os":"linux",
            "config":{{"Env":null,"Cmd":["/bin/sh"],"Entrypoint":null,"Labels":null,
              "ExposedPorts":{{"80/tcp":{{}}}},"Volumes":null,"Healthcheck":{{"Test":["NONE"]}},
              "OnBuild":null,"ArgsEscaped":true}},
            "container_config":{{"Env":null,"Cmd":null,"Image":""}},
            "docker_version":"20.10.24","container":"abc",
            "rootfs":{{"type":"layers","diff_ids":["{DIFF_ID}"]}}}}"#
        );
        let parsed = config(&json).expect("docker's config");
        assert_eq!(parsed.architecture(), &Arch::ARM64);
        assert_eq!(parsed.variant().as_deref(), Some("v8"));
        assert!(parsed.history().is_none(), "no history");
        let run = parsed.config().as_ref().expect("config");
        assert_eq!(run.env(), &None);
        assert_eq!(run.cmd(), &Some(vec!["/bin/sh".to_string()]));
        assert_eq!(run.exposed_ports(), &Some(vec!["80/tcp".to_string()]));
        assert_eq!(parsed.rootfs().diff_ids(), &vec![DIFF_ID.to_string()]);
    }

    #[test]
    fn windows_os_version_is_read() {
        let json = format!(
            r#"{{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1879",
            "rootfs":{{"type":"layers","diff_ids":["{DIFF_ID}"]}}}}"#
        );
        let parsed = config(&json).expect("windows config");
        assert_eq!(parsed.os(), &Os::Windows);
        assert_eq!(parsed.os_version().as_deref(), Some("10.0.17763.1879"));
    }

    #[test]
    fn what_the_types_cannot_hold_is_a_typed_view_error() {
        let json = format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{DIFF_ID}"]}}}}"#);
        let error = config(&json).expect_err("no architecture");
        assert!(matches!(error, Error::TypedView { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains("the config of image x") && text.contains("architecture"),
            "{text}"
        );
    }
}

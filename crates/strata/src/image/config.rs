//! The parts of an image config strata itself reads and checks when it
//! loads, saves or records an image: the layers' diff ids, the history, the
//! platform and the creation time. The config itself is kept as the exact
//! bytes received; this is only a view of them, as lenient as docker and
//! podman are. Callers get the full typed view (`Store::image_config`,
//! through the `oci_spec` types) or the bytes.

use serde::{Deserialize, Serialize};

use super::manifest::{malformed, parse_json};
use crate::digest::Digest;
use crate::error::Result;

/// What strata reads from an image config.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The layers.
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(default)]
    pub history: Vec<History>,
}

/// The config's `rootfs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Digests of the layers' uncompressed tars, base first.
    pub diff_ids: Vec<Digest>,
}

/// One step of an image's history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// Parses and checks a config.
    pub fn parse(what: &str, bytes: &[u8]) -> Result<Self> {
        let config: Self = parse_json(what, bytes)?;
        if config.rootfs.kind != "layers" {
            return Err(malformed(
                what,
                format!("rootfs.type is {:?}, want \"layers\"", config.rootfs.kind),
            ));
        }
        let layered = config.history.iter().filter(|h| !h.empty_layer).count();
        if layered > config.rootfs.diff_ids.len() {
            return Err(malformed(
                what,
                format!(
                    "its history has {layered} layers but rootfs.diff_ids only {}",
                    config.rootfs.diff_ids.len()
                ),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_rootfs_layers() {
        assert!(ImageConfig::parse("c", br#"{"architecture":"amd64","os":"linux"}"#).is_err());
        let ok =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(
            ImageConfig::parse("c", ok)
                .expect("ok")
                .rootfs
                .diff_ids
                .is_empty()
        );
        let more_history =
            br#"{"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"x"}]}"#;
        assert!(ImageConfig::parse("c", more_history).is_err());
    }
}

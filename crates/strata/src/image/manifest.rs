//! Image manifests and indexes (OCI and Docker schema2), parsed from the
//! exact bytes received, with a size limit for untrusted JSON.

use serde::{Deserialize, Serialize};

use super::descriptor::Descriptor;
use super::media;
use crate::error::{Error, Result};

/// The largest JSON document (manifest, index, config) strata reads.
pub const MAX_JSON: u64 = 8 << 20;

/// An image manifest: one config and the layers, base first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's media type, when it names one.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
}

/// An image index (manifest list).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's media type, when it names one.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes) it lists.
    pub manifests: Vec<Descriptor>,
}

/// Fails unless a JSON document of `len` bytes is small enough to read.
pub(crate) fn check_json_size(what: &str, len: u64) -> Result<()> {
    if len > MAX_JSON {
        return Err(malformed(
            what,
            format!("it is {len} bytes, more than the {MAX_JSON} strata reads"),
        ));
    }
    Ok(())
}

/// Parses JSON of type `T` from untrusted bytes, naming `what` on failure.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    check_json_size(what, bytes.len() as u64)?;
    serde_json::from_slice(bytes).map_err(|e| malformed(what, e.to_string()))
}

/// The error for malformed untrusted content.
pub(crate) fn malformed(what: &str, reason: impl Into<String>) -> Error {
    Error::Malformed {
        what: what.to_string(),
        reason: reason.into(),
    }
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(what: &str, bytes: &[u8]) -> Result<Self> {
        let manifest: Self = parse_json(what, bytes)?;
        if manifest.schema_version != 2 {
            return Err(malformed(
                what,
                format!("schemaVersion is {}, want 2", manifest.schema_version),
            ));
        }
        if let Some(kind) = manifest
            .media_type
            .as_deref()
            .filter(|t| !media::is_manifest(t))
        {
            return Err(malformed(
                what,
                format!("media type {kind} is not a manifest"),
            ));
        }
        Ok(manifest)
    }
}

impl Index {
    /// Parses and checks an index.
    pub fn parse(what: &str, bytes: &[u8]) -> Result<Self> {
        let index: Self = parse_json(what, bytes)?;
        if index.schema_version != 2 {
            return Err(malformed(
                what,
                format!("schemaVersion is {}, want 2", index.schema_version),
            ));
        }
        if let Some(kind) = index.media_type.as_deref().filter(|t| !media::is_index(t)) {
            return Err(malformed(
                what,
                format!("media type {kind} is not an index"),
            ));
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_name_the_document() {
        let null = Manifest::parse("manifest x", b"null").expect_err("null");
        assert!(null.to_string().contains("manifest x"), "{null}");
        let v1 = br#"{"schemaVersion":1,"config":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#;
        assert!(Manifest::parse("m", v1).is_err());
        let big = vec![b' '; MAX_JSON as usize + 1];
        let error = Index::parse("index.json", &big).expect_err("too big");
        assert!(error.to_string().contains("more than"), "{error}");
        let md5 =
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"md5:00","size":1}]}"#;
        assert!(Index::parse("index.json", md5).is_err());
    }
}

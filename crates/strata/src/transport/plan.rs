//! A plan: one image found in an archive or layout, with everything needed
//! to bring it into the store, checked as far as can be without reading
//! the layers (those are checked as they are imported).

use crate::digest::Digest;
use crate::error::Result;
use crate::image::manifest::malformed;
use crate::image::reference;

/// One image to bring in.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The config, exactly as found.
    pub config: Vec<u8>,
    /// Its diff ids, base first.
    pub diff_ids: Vec<Digest>,
    /// The manifest it came with, exactly as found.
    pub manifest: Option<Vec<u8>>,
    /// Where each layer's bytes are, base first.
    pub layers: Vec<LayerFile>,
    /// Names, normalized.
    pub names: Vec<String>,
}

/// A layer's file in the source.
#[derive(Debug, Clone)]
pub(crate) struct LayerFile {
    /// Its path.
    pub path: String,
    /// The digest its bytes (as stored, compressed or not) must have.
    pub digest: Option<Digest>,
}

/// The digest a path of the form `blobs/sha256/<hex>` or `<hex>.json`
/// promises for its content. (`<hex>.tar`, as podman and skopeo name
/// layers, gives the diff id, which a compressed layer file does not hash
/// to: the import checks the diff id instead.)
pub(crate) fn digest_in_path(path: &str) -> Option<Digest> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let hex = base.strip_suffix(".json").unwrap_or(base);
    let in_blobs = path.contains("blobs/sha256/") || base != hex;
    in_blobs
        .then(|| Digest::parse(&format!("sha256:{hex}")).ok())
        .flatten()
}

/// Checks `bytes` against the digest that names them.
pub(crate) fn verify(what: &str, bytes: &[u8], expected: &Digest) -> Result<()> {
    let actual = Digest::of(bytes);
    if &actual != expected {
        return Err(crate::Error::ContentMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Fails unless a manifest lists as many layers as its config has diff ids.
pub(crate) fn check_layer_count(what: &str, layers: usize, diff_ids: usize) -> Result<()> {
    if layers != diff_ids {
        return Err(malformed(
            what,
            format!("it lists {layers} layers but its config has {diff_ids} diff_ids"),
        ));
    }
    Ok(())
}

/// The position `@N` asks for, if `reference` has that form.
pub(crate) fn position(reference: &str) -> Option<Result<usize>> {
    let n = reference.strip_prefix('@')?;
    Some(
        n.parse()
            .map_err(|_| malformed("the reference", format!("{reference:?} is not @<number>"))),
    )
}

/// Normalizes the names an archive gives an image.
pub(crate) fn normalize_names(what: &str, names: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let parsed = reference::parse(name)
            .map_err(|e| malformed(what, format!("bad image name {name:?}: {e}")))?;
        if parsed.digest().is_some() {
            return Err(malformed(
                what,
                format!("{name:?} names a digest, not a tag"),
            ));
        }
        let full = parsed.to_string();
        if seen.insert(full.clone()) {
            out.push(full);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_in_paths() {
        let hex = "a".repeat(64);
        let want = Digest::parse(&format!("sha256:{hex}")).ok();
        assert_eq!(digest_in_path(&format!("blobs/sha256/{hex}")), want);
        assert_eq!(digest_in_path(&format!("{hex}.json")), want);
        assert_eq!(digest_in_path(&format!("{hex}.tar")), None);
        assert_eq!(digest_in_path(&format!("{hex}/layer.tar")), None);
    }
}

//! Image indexes (multi-platform images) pushed into the store by a
//! registry client talking to `strata serve`: each platform's image
//! manifest arrives first, by digest, and lands as an image without a
//! name; the index arrives last, by tag, and is kept under that name (see
//! the store's `indexes` module for what it holds and how long).

use super::plan::normalize_names;
use super::registry::PlatformSpec;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::{Index, malformed};
use crate::image::media;
use crate::store::{Image, Lease, Store};

impl Store {
    /// Keeps pushed image index `index` under `name`. Every entry must be
    /// an image manifest the store keeps for an image (pushed by digest
    /// before the index, with [`Store::land_pushed_manifest`]). The name
    /// goes to the image of this host's platform, else to the first
    /// entry's; returns that image. The index's bytes are kept as
    /// received, held by `hold` until they are recorded.
    ///
    /// Errors: [`Error::BlobNotFound`] for an entry whose manifest the
    /// store does not keep; [`Error::Unsupported`] for an entry that is
    /// not an image manifest (a nested index, an artifact);
    /// [`Error::Malformed`] for an index that does not parse, lists
    /// nothing, or whose entry sizes are wrong.
    pub fn land_pushed_index(&self, index: &[u8], name: &str, hold: &Lease) -> Result<Image> {
        let digest = Digest::of(index);
        let what = format!("image index {digest}");
        let parsed = Index::parse(&what, index)?;
        if parsed.manifests.is_empty() {
            return Err(malformed(&what, "it lists no manifests"));
        }
        let images = self.images()?;
        let mut held: Vec<String> = Vec::new();
        for entry in &parsed.manifests {
            if !media::is_manifest(&entry.media_type) {
                return Err(Error::Unsupported(format!(
                    "{what} lists {} of media type {:?}: strata keeps indexes of container \
                     images only",
                    entry.digest, entry.media_type
                )));
            }
            let image = images
                .iter()
                .find(|image| image.manifests.contains(&entry.digest))
                .ok_or_else(|| Error::BlobNotFound(entry.digest.to_string()))?;
            let size = self.stored_blob_size(&entry.digest);
            if size != Some(entry.size) {
                return Err(malformed(
                    &what,
                    format!(
                        "its entry {} says {} bytes, the manifest is {}",
                        entry.digest,
                        entry.size,
                        size.map_or_else(|| "gone".to_string(), |s| format!("{s} bytes"))
                    ),
                ));
            }
            if !held.contains(&image.id) {
                held.push(image.id.clone());
            }
        }
        let chosen = PlatformSpec::host()
            .choose(&parsed.manifests, &what)
            .unwrap_or(&parsed.manifests[0]);
        let named = images
            .iter()
            .find(|image| image.manifests.contains(&chosen.digest))
            .map(|image| image.id.clone())
            .ok_or_else(|| Error::BlobNotFound(chosen.digest.to_string()))?;
        let name = normalize_names("the pushed name", &[name.to_string()])?
            .pop()
            .ok_or_else(|| Error::InvalidName(name.to_string()))?;
        self.hold_blobs(hold, std::slice::from_ref(&digest))?;
        self.put_blob(index)?;
        self.keep_index(index, &digest, &name, &named, &held)
    }
}

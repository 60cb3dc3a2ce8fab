//! Mounting images by name: an image's tree is its top layer's, mounted
//! read-only with the layer's own counted mounts ([`Store::mount_layer`]),
//! so `layer unmount` of the top layer and `image unmount` of the image
//! drop the same count. An image is mounted while its top layer's count
//! is above zero.

use std::path::PathBuf;

use super::{Image, Store};
use crate::error::{Error, Result};

impl Store {
    /// Mounts image `reference`'s tree (its top layer, read-only; counting
    /// mounts); returns where it is. An image without layers has no tree
    /// ([`Error::Invalid`]).
    pub fn mount_image(&self, reference: &str) -> Result<PathBuf> {
        let top = self.top_layer_of(reference)?;
        self.mount_layer(&top)
    }

    /// Drops one mount of image `reference`; the last one unmounts it.
    /// Returns the mounts left; an image not mounted is
    /// [`Error::NotMounted`] (naming its top layer).
    pub fn unmount_image(&self, reference: &str) -> Result<u64> {
        let top = self.top_layer_of(reference)?;
        self.unmount_layer(&top)
    }

    /// The images whose tree is mounted, oldest first, with where it is.
    pub fn mounted_images(&self) -> Result<Vec<(Image, PathBuf)>> {
        let mut mounted = Vec::new();
        for image in self.images()? {
            let Some(top) = image.top_layer.clone() else {
                continue;
            };
            if self.mount_count(&top)? > 0 {
                let path = self
                    .driver
                    .mount_point(&top)
                    .unwrap_or_else(|| self.driver.files_dir(&top));
                mounted.push((image, path));
            }
        }
        Ok(mounted)
    }

    fn top_layer_of(&self, reference: &str) -> Result<String> {
        let image = self.image(reference)?;
        image
            .top_layer
            .ok_or_else(|| Error::Invalid(format!("image {} has no layers to mount", image.id)))
    }
}

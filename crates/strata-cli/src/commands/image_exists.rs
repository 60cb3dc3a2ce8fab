//! `strata image exists`: a question answered by the exit status alone,
//! as `podman image exists` answers it.

use anyhow::Result;
use strata::image::reference;
use strata::{Error, Store};

use crate::cli::ImageExistsArgs;
use crate::exit;

/// `strata image exists IMAGE`: Ok when the image is in the store,
/// [`exit::No`] when nothing has that id, id prefix or name. Anything
/// else is an error, as in podman: text that can be neither an id prefix
/// nor an image name, an id prefix that matches several images, a store
/// that cannot be read.
pub fn exists(store: &Store, args: &ImageExistsArgs) -> Result<()> {
    let bare = args.image.strip_prefix("sha256:").unwrap_or(&args.image);
    let id_prefix = !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_hexdigit());
    if !id_prefix && let Err(error) = reference::parse(&args.image) {
        return Err(anyhow::Error::new(error)
            .context(format!("{:?} is not an image id or name", args.image)));
    }
    match store.image(&args.image) {
        Ok(_) => Ok(()),
        Err(Error::ImageNotFound(_)) => Err(exit::No.into()),
        Err(error) => Err(error.into()),
    }
}

//! `strata image mount|unmount`: an image's tree, read-only, by image name,
//! printed as podman prints it: the path alone for one image, `NAME  PATH`
//! lines for several or (with no image named) for those mounted.

use std::io::Write;

use anyhow::{Context, Result};
use strata::{Image, Store};

use crate::cli::{ImageMountArgs, ImageUnmountArgs};

/// `strata image mount [IMAGE...]`.
pub fn mount(store: &Store, args: &ImageMountArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.images.is_empty() {
        for (image, path) in store.mounted_images()? {
            writeln!(out, "{}  {}", display_name(&image), path.display())?;
        }
        return Ok(out.flush()?);
    }
    for reference in &args.images {
        let image = store.image(reference)?;
        let path = store
            .mount_image(&image.id)
            .with_context(|| format!("cannot mount image {reference}"))?;
        match args.images.len() {
            1 => writeln!(out, "{}", path.display())?,
            _ => writeln!(out, "{}  {}", display_name(&image), path.display())?,
        }
    }
    Ok(out.flush()?)
}

/// `strata image unmount IMAGE...|--all`: prints each image's id, as
/// podman does.
pub fn unmount(store: &Store, args: &ImageUnmountArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.all {
        for (image, _) in store.mounted_images()? {
            while store.unmount_image(&image.id)? > 0 {}
            writeln!(out, "{}", image.id)?;
        }
        return Ok(out.flush()?);
    }
    for reference in &args.images {
        let image = store.image(reference)?;
        store
            .unmount_image(&image.id)
            .with_context(|| format!("cannot unmount image {reference}"))?;
        writeln!(out, "{}", image.id)?;
    }
    Ok(out.flush()?)
}

/// An image's first name, or its id when it has none.
fn display_name(image: &Image) -> &str {
    image.names.first().unwrap_or(&image.id)
}

//! `strata image tag|untag|rm` and `strata rmi`: the commands that change
//! images. Like docker, tag and untag print nothing; rm prints what went.

use anyhow::{Context, Result};
use strata::Store;

use crate::cli::{ImageRmArgs, TagArgs, UntagArgs};

/// `strata image tag`: gives the image each name in turn (taking it from
/// any image that had it).
pub fn tag(store: &Store, args: &TagArgs) -> Result<()> {
    let id = store.image(&args.image)?.id;
    for name in &args.names {
        store
            .tag_image(&id, name)
            .with_context(|| format!("cannot tag image {} as {name}", args.image))?;
    }
    Ok(())
}

/// `strata image untag`: takes each name away, or all of them when none
/// are given.
pub fn untag(store: &Store, args: &UntagArgs) -> Result<()> {
    let image = store.image(&args.image)?;
    let names = match args.names.is_empty() {
        true => &image.names,
        false => &args.names,
    };
    for name in names {
        store
            .untag_image(&image.id, name)
            .with_context(|| format!("cannot untag {name} from image {}", args.image))?;
    }
    Ok(())
}

/// `strata image rm` and `strata rmi`: each image in turn, going on past
/// failures (see `remove` for the exit status). Prints, as podman does,
/// `Untagged: NAME` for each name taken away, then `Deleted: ID` for each
/// image that went (not for its layers): all the names first, then all
/// the images. `--all` removes every image, by id.
pub fn remove(store: &Store, args: &ImageRmArgs) -> Result<()> {
    let images = match args.all {
        true => store.images()?.into_iter().map(|image| image.id).collect(),
        false => args.images.clone(),
    };
    let (mut untagged, mut deleted) = (Vec::new(), Vec::new());
    let result = super::remove::each(&images, args.ignore, |image| {
        let removed = store
            .delete_image(image, args.force)
            .with_context(|| format!("cannot remove image {image}"))?;
        untagged.extend(removed.untagged);
        deleted.extend(removed.image);
        Ok(())
    });
    for name in &untagged {
        println!("Untagged: {name}");
    }
    for id in &deleted {
        println!("Deleted: {id}");
    }
    result
}

//! The walk-through of the crate docs as one program: open a store, load
//! an image archive, read the image's config, make a container from the
//! image, write a file into it, commit it as a new image and save that to
//! an OCI image layout.
//!
//! ```text
//! cargo run --release -p strata --example walkthrough -- STORE ARCHIVE LAYOUT
//! ```
//!
//! STORE is the store's directory (created if missing; its runtime state
//! goes in STORE/run), ARCHIVE a `docker save` or OCI archive, LAYOUT the
//! OCI image layout directory to write. Prints what it did, one line a step.

use std::path::PathBuf;

use strata::{CommitOptions, ContainerOptions, Store, StoreOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [root, archive, layout] = args.as_slice() else {
        return Err("usage: walkthrough STORE ARCHIVE LAYOUT".into());
    };

    // Open (or create) the store.
    let store = Store::open(&StoreOptions {
        root: Some(root.clone()),
        runroot: Some(root.join("run")),
        ..Default::default()
    })?;

    // Load the archive: every image in it, all or nothing.
    let report = store.load_path(archive)?;
    let image = report.images.first().ok_or("the archive has no image")?;
    println!("loaded {} ({} layers)", image.id, image.layers.len());

    // Read what the image runs, from its typed OCI config.
    let config = store.image_config(image)?;
    let process = config.config().clone().unwrap_or_default();
    println!(
        "entrypoint: {:?}",
        process.entrypoint().clone().unwrap_or_default()
    );
    println!("cmd: {:?}", process.cmd().clone().unwrap_or_default());
    println!("env: {:?}", process.env().clone().unwrap_or_default());

    // A container on the image: a read-write layer on its top layer.
    let container = store.create_container(&ContainerOptions::from_image(&image.id))?;
    println!("container {}", container.id);

    // Mount it, change a file, unmount it.
    let rootfs = store.mount_container(&container.id)?;
    std::fs::write(rootfs.join("hello.txt"), "hello from strata\n")?;
    store.unmount_container(&container.id)?;

    // Commit the container's changes as a new image with a new Env entry.
    let committed = store.commit(
        &container.id,
        &CommitOptions {
            names: vec!["localhost/walkthrough:1".into()],
            changes: vec!["ENV GREETING=hello".into()],
            message: Some("add hello.txt".into()),
            ..Default::default()
        },
    )?;
    println!(
        "committed {} as {}",
        committed.id,
        committed.names.join(", ")
    );

    // Save the new image to an OCI image layout, then clean up.
    let saved = store.save_layout(&[&committed], layout)?;
    println!(
        "saved {} layers, {} bytes, to {}",
        saved.layers,
        saved.bytes,
        layout.display()
    );
    store.delete_container(&container.id, false)?;
    Ok(())
}

//! What a container runtime asks of a store: a root file system for a
//! container of an image, and the process the image says to run.
//!
//! ```text
//! cargo run --release -p strata --example runtime_rootfs -- STORE IMAGE NAME
//! cargo run --release -p strata --example runtime_rootfs -- STORE --remove NAME
//! ```
//!
//! The first form makes container NAME from IMAGE (or finds it, if it
//! exists), mounts it and prints, as JSON, the mounted root file system and
//! the `process` part of an OCI runtime config (args = Entrypoint + Cmd,
//! env, cwd, user) taken from the image's config. The second unmounts and
//! deletes the container. STORE is the store's directory; runtime state
//! goes in STORE/run.

use std::path::PathBuf;

use serde_json::json;
use strata::oci_spec::image::ImageConfiguration;
use strata::{ContainerOptions, Error as StoreError, Store, StoreOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (root, rest) = args.split_first().ok_or(USAGE)?;
    let store = Store::open(&StoreOptions {
        root: Some(PathBuf::from(root)),
        runroot: Some(PathBuf::from(root).join("run")),
        ..Default::default()
    })?;
    match rest {
        [flag, name] if flag == "--remove" => remove(&store, name),
        [image, name] => prepare(&store, image, name),
        _ => Err(USAGE.into()),
    }
}

const USAGE: &str = "usage: runtime_rootfs STORE IMAGE NAME | STORE --remove NAME";

/// Makes (or finds) container `name` of `image`, mounts it and prints
/// where it is and what to run in it.
fn prepare(store: &Store, image: &str, name: &str) -> Result<(), Error> {
    let container = match store.container(name) {
        Ok(container) => container,
        Err(StoreError::ContainerNotFound(_)) => store.create_container(&ContainerOptions {
            names: vec![name.to_string()],
            ..ContainerOptions::from_image(image)
        })?,
        Err(error) => return Err(error.into()),
    };
    let image_id = container
        .image
        .as_deref()
        .ok_or("the container has no image")?;
    let config = store.image_config(&store.image(image_id)?)?;
    let rootfs = store.mount_container(&container.id)?;
    let document = json!({
        "container": container.id,
        "root": {"path": rootfs},
        "process": process(&config),
    });
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

/// The `process` of an OCI runtime config for an image's config, as
/// runtimes derive it: args are Entrypoint then Cmd, cwd defaults to `/`.
fn process(config: &ImageConfiguration) -> serde_json::Value {
    let run = config.config().clone().unwrap_or_default();
    let mut args = run.entrypoint().clone().unwrap_or_default();
    args.extend(run.cmd().clone().unwrap_or_default());
    let cwd = run.working_dir().clone().filter(|dir| !dir.is_empty());
    json!({
        "args": args,
        "env": run.env().clone().unwrap_or_default(),
        "cwd": cwd.unwrap_or_else(|| "/".to_string()),
        "user": run.user().clone().unwrap_or_default(),
    })
}

/// Unmounts container `name` (every mount this program made) and deletes it.
fn remove(store: &Store, name: &str) -> Result<(), Error> {
    let container = store.container(name)?;
    while store.container_mount_count(&container.id)? > 0 {
        store.unmount_container(&container.id)?;
    }
    store.delete_container(&container.id, false)?;
    println!("{}", container.id);
    Ok(())
}

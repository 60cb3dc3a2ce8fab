//! A CI job moving an image: load the archive a build produced, give the
//! image the name a release uses, and hand it on as an OCI archive and an
//! OCI image layout, checking the digests on the way.
//!
//! ```text
//! cargo run --release -p strata --example ci_move -- STORE ARCHIVE NAME OUT_DIR
//! ```
//!
//! Loads ARCHIVE (a `docker save` or OCI archive with one image) into the
//! store at STORE, tags the image NAME, writes OUT_DIR/image.tar (an OCI
//! archive) and OUT_DIR/layout (an OCI layout) with it, loads the archive
//! back into a second store (OUT_DIR/check-store) and checks that the image
//! came back with the same id and layers. Prints one line a step.

use std::path::{Path, PathBuf};

use strata::{Location, Store, StoreOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, archive, name, out] = args.as_slice() else {
        return Err("usage: ci_move STORE ARCHIVE NAME OUT_DIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let store = open(Path::new(root))?;

    let report = store.load_path(archive)?;
    let [image] = report.images.as_slice() else {
        return Err(format!("{archive} has {} images, want one", report.images.len()).into());
    };
    println!(
        "loaded {} ({} new layers, {} reused)",
        image.id, report.imported, report.reused
    );

    let tagged = store.tag_image(&image.id, name)?;
    println!("tagged {}", tagged.names.join(", "));

    let oci_archive = out.join("image.tar");
    let from: Location = format!("containers-storage:{name}").parse()?;
    let to: Location = format!("oci-archive:{}:{name}", oci_archive.display()).parse()?;
    store.copy(&from, &to)?;
    let saved = store.save_layout(&[&tagged], out.join("layout"))?;
    println!(
        "wrote {} and a layout of {} bytes",
        oci_archive.display(),
        saved.bytes
    );

    let check = open(&out.join("check-store"))?;
    let back = check.load_path(&oci_archive)?;
    let [again] = back.images.as_slice() else {
        return Err("the archive written does not hold one image".into());
    };
    if again.id != image.id || again.layers != image.layers {
        return Err(format!(
            "the archive gives back image {}, not {}",
            again.id, image.id
        )
        .into());
    }
    println!(
        "checked: {} came back with its {} layers",
        again.id,
        again.layers.len()
    );
    Ok(())
}

/// Opens the store at `root`, its runtime state beside it.
fn open(root: &Path) -> Result<Store, Error> {
    Ok(Store::open(&StoreOptions {
        root: Some(root.to_path_buf()),
        runroot: Some(root.join("run")),
        ..Default::default()
    })?)
}

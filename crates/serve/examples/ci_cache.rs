//! A CI cache: a store served as a registry on the loopback address, that
//! build jobs push images into and pull them back from, with the store's
//! own view of what arrived printed as it goes.
//!
//! ```text
//! cargo run --release -p strata-serve --example ci_cache -- STORE ADDRESS_FILE
//! ```
//!
//! Opens (or makes) the store at STORE, serves it on 127.0.0.1 on a free
//! port, writes `HOST:PORT` to ADDRESS_FILE once it answers, and serves
//! until SIGTERM or SIGINT. Then it lists the images the store holds, one
//! line each: the image id and its names. `scripts/examples` pushes an image
//! into it with skopeo, pulls it back, and stops it.

use std::net::SocketAddr;
use std::path::PathBuf;

use strata::{Store, StoreOptions};
use strata_serve::{ServeOptions, Server};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, address_file] = args.as_slice() else {
        return Err("usage: ci_cache STORE ADDRESS_FILE".into());
    };
    let root = PathBuf::from(root);
    let options = StoreOptions {
        runroot: Some(root.with_extension("run")),
        root: Some(root.clone()),
        ..StoreOptions::default()
    };
    let server = Server::bind(
        Store::open(&options)?,
        &ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServeOptions::default()
        },
    )?;
    std::fs::write(address_file, server.local_addr().to_string())?;
    server.run()?;

    // The server has stopped: what did the jobs leave in the store?
    for image in Store::open(&options)?.images()? {
        println!("{} {}", image.id, image.names.join(" "));
    }
    Ok(())
}

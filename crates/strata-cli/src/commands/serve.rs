//! `strata serve`: the store as a registry, through the public API of
//! `strata-serve`.

use anyhow::Result;
use strata::Store;
use strata_serve::{ServeOptions, Server, TlsFiles};

use crate::cli::ServeArgs;

/// Serves `store` until SIGTERM or SIGINT.
pub fn serve(store: Store, args: &ServeArgs) -> Result<()> {
    let options = ServeOptions {
        listen: args.listen,
        read_only: args.read_only,
        max_blob: args.max_blob_size.unwrap_or(u64::MAX),
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        htpasswd: args.htpasswd.clone(),
        ..ServeOptions::default()
    };
    let server = Server::bind(store, &options)?;
    eprintln!("listening on {}", server.local_addr());
    server.run()?;
    Ok(())
}

//! `strata serve`: a strata store served as an OCI distribution (v1.1)
//! registry, read-only for now.
//!
//! [`serve`] (or [`Server::bind`] then [`Server::run`]) answers
//! `GET /v2/`, `GET`/`HEAD` of manifests (by tag or digest) and blobs
//! (with `Range`: single, suffix and multiple ranges), and tag lists with
//! `n`/`last` pagination. Pushes and deletes are not served yet: every
//! other method answers 405 with the code `UNSUPPORTED`.
//!
//! What each image is served as, and which repository names reach it,
//! is in the modules `content` and `catalog` and in docs/serve.md.
//! Repository names and digests from requests are checked against their
//! grammars before anything reads the store; no request path is ever used
//! as a file path.
//!
//! ```no_run
//! use strata::{Store, StoreOptions};
//! use strata_serve::{ServeOptions, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open_to_read(&StoreOptions::default())?;
//! let server = Server::bind(store, &ServeOptions::default())?;
//! eprintln!("listening on {}", server.local_addr());
//! server.run()?; // until SIGTERM or SIGINT
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod blob;
mod catalog;
mod content;
mod handler;
mod names;
mod ranges;
mod reply;
mod route;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use strata::Store;

/// The address served when none is given: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on (port 0: any free port, see
    /// [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// How long requests in flight may take to finish after a stop signal.
    pub grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            grace: Duration::from_secs(10),
        }
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be listened on.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime that runs the server could not start.
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
    /// SIGTERM and SIGINT could not be caught.
    #[error("cannot catch SIGTERM and SIGINT: {0}")]
    Signal(std::io::Error),
}

/// A server bound to its address, not answering yet.
pub struct Server {
    listener: std::net::TcpListener,
    address: SocketAddr,
    store: Arc<Store>,
    grace: Duration,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Listens on `options.listen` for `store`.
    pub fn bind(store: Store, options: &ServeOptions) -> Result<Self, Error> {
        let bind_error = |source| Error::Bind {
            address: options.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(options.listen).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("strata-serve")
            .build()
            .map_err(Error::Runtime)?;
        Ok(Self {
            listener,
            address,
            store: Arc::new(store),
            grace: options.grace,
            runtime,
        })
    }

    /// The address it listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Answers requests until SIGTERM or SIGINT, then lets the requests in
    /// flight finish (at most [`ServeOptions::grace`]) and returns.
    pub fn run(self) -> Result<(), Error> {
        let Self {
            listener,
            store,
            grace,
            runtime,
            ..
        } = self;
        let result = runtime.block_on(async {
            // Tokio's listener must be made inside the runtime.
            server::run(listener, store, grace).await
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }
}

/// Serves `store` on `options.listen` until SIGTERM or SIGINT.
pub fn serve(store: Store, options: &ServeOptions) -> Result<(), Error> {
    Server::bind(store, options)?.run()
}

//! `strata serve`: a strata store served as an OCI distribution (v1.1)
//! registry.
//!
//! [`serve`] (or [`Server::bind`] then [`Server::run`]) answers
//! `GET /v2/`, `GET`/`HEAD` of manifests (by tag or digest) and blobs
//! (with `Range`: single, suffix and multiple ranges), tag lists with
//! `n`/`last` pagination, and pushes (upload sessions, monolithic
//! uploads, cross-repository mounts, manifest `PUT`s), which land as
//! images of the store (an image index pushed by tag is kept with the
//! images it lists), unless [`ServeOptions::read_only`]; over HTTPS
//! with [`ServeOptions::tls`], and only to the users of an htpasswd file
//! with [`ServeOptions::htpasswd`] (Basic credentials, or bearer tokens it
//! issues at `/token`). Deletes take tags, and an image with its last
//! name; the referrers API answers an empty index (the store keeps no
//! artifacts).
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
//! let store = Store::open(&StoreOptions::default())?;
//! let server = Server::bind(store, &ServeOptions::default())?;
//! eprintln!("listening on {}", server.local_addr());
//! server.run()?; // until SIGTERM or SIGINT
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod auth;
mod blob;
mod catalog;
mod content;
mod delete;
mod handler;
mod log;
mod names;
mod push;
mod push_errors;
mod ranges;
mod reply;
mod route;
mod server;
mod sessions;
mod splice;
mod state;
mod tls;

pub use tls::TlsFiles;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strata::Store;

use crate::sessions::Writes;
use crate::state::State;

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
    /// Refuse pushes (every write answers 405 `UNSUPPORTED`); the store
    /// may then be one opened only to read.
    pub read_only: bool,
    /// The largest blob a push may upload; a bigger one is refused with
    /// 413 `SIZE_INVALID` and its bytes thrown away.
    pub max_blob: u64,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Let in only the users of this htpasswd file (bcrypt): Basic
    /// credentials, or bearer tokens the server issues at `/token`.
    pub htpasswd: Option<PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            grace: Duration::from_secs(10),
            read_only: false,
            max_blob: u64::MAX,
            tls: None,
            htpasswd: None,
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
    /// A TLS certificate or key file cannot be used.
    #[error("cannot use {path} for TLS: {reason}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The htpasswd file cannot be used.
    #[error("cannot use the htpasswd file {path}: {reason}")]
    Htpasswd {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The store refused what serving pushes needs (a lease), or failed
    /// to release it at the end.
    #[error("{0}")]
    Store(#[from] strata::Error),
}

/// A server bound to its address, not answering yet.
pub struct Server {
    listener: std::net::TcpListener,
    address: SocketAddr,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    grace: Duration,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Listens on `options.listen` for `store`.
    pub fn bind(store: Store, options: &ServeOptions) -> Result<Self, Error> {
        let tls = options.tls.as_ref().map(tls::acceptor).transpose()?;
        let auth = options
            .htpasswd
            .as_deref()
            .map(auth::Auth::load)
            .transpose()?;
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
        let store = Arc::new(store);
        let writes = match options.read_only {
            true => None,
            false => Some(Arc::new(Writes::new(Arc::clone(&store))?)),
        };
        let state = State {
            store,
            writes,
            max_blob: options.max_blob,
            auth,
            tls: tls.is_some(),
            address: address.to_string(),
        };
        Ok(Self {
            listener,
            address,
            state: Arc::new(state),
            tls,
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
            state,
            grace,
            runtime,
            tls,
            ..
        } = self;
        let result = runtime.block_on(async {
            // Tokio's listener must be made inside the runtime.
            server::run(listener, tls, Arc::clone(&state), grace).await
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
        result?;
        close_writes(state)
    }
}

/// Cancels the uploads left open and releases the pushed blobs no image
/// names, once no request holds the state any more.
fn close_writes(state: Arc<State>) -> Result<(), Error> {
    let Ok(state) = Arc::try_unwrap(state) else {
        log::log!("strata serve: requests still hold the store; the next strata command tidies up");
        return Ok(());
    };
    let Some(writes) = state.writes else {
        return Ok(());
    };
    match Arc::try_unwrap(writes) {
        Ok(writes) => writes.close().map_err(Error::from),
        Err(_) => Ok(()),
    }
}

/// Serves `store` on `options.listen` until SIGTERM or SIGINT.
pub fn serve(store: Store, options: &ServeOptions) -> Result<(), Error> {
    Server::bind(store, options)?.run()
}

//! What every request of a server shares: the store, the write side when
//! the server takes pushes, and its limits.

use std::sync::Arc;

use strata::Store;

use crate::auth::Auth;
use crate::sessions::Writes;

/// The shared state of a server.
pub struct State {
    /// The store served.
    pub store: Arc<Store>,
    /// Upload sessions and pushed blobs; `None` for a read-only server.
    pub writes: Option<Arc<Writes>>,
    /// The largest blob an upload may grow to.
    pub max_blob: u64,
    /// The users who may use the server; `None` lets anyone.
    pub auth: Option<Auth>,
    /// Whether connections are TLS (for the token endpoint's URL).
    pub tls: bool,
    /// The address served, for the token endpoint's URL when a request
    /// has no usable `Host`.
    pub address: String,
}

//! What every request of a server shares: the store, the write side when
//! the server takes pushes, and its limits.

use std::sync::Arc;

use strata::Store;

use crate::sessions::Writes;

/// The shared state of a server.
pub struct State {
    /// The store served.
    pub store: Arc<Store>,
    /// Upload sessions and pushed blobs; `None` for a read-only server.
    pub writes: Option<Arc<Writes>>,
    /// The largest blob an upload may grow to.
    pub max_blob: u64,
}

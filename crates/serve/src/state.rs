//! What every request of a server shares: the store, the write side when
//! the server takes pushes, and its limits; and how its locks are taken.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// Locks `mutex`, also when a panic poisoned it: every change the server
/// makes under a lock is one insert, remove or replace, so what a
/// panicking request left is consistent.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

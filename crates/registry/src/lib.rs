//! strata's OCI distribution client, synchronous: a [`Client`] talks to
//! one registry host, fetching and pushing manifests and blobs with the
//! registry's authentication, bounded retries, a stall timeout and blob
//! reads that continue where they stopped. Credentials come from the auth
//! files podman and docker use ([`credentials`]).
//!
//! The store side (what a pull writes, what a push reads) is strata's;
//! this crate knows nothing of it.
//!
//! Every call blocks; a `Client` may be shared by threads, and each
//! thread's transfers proceed at once.

#![deny(missing_docs)]

mod auth;
mod blob;
mod challenge;
mod client;
pub mod credentials;
mod error;
mod manifest;
mod names;
mod options;
mod retry;
mod timed;
mod upload;

pub use blob::BlobReader;
pub use client::Client;
pub use error::{Error, Result};
pub use manifest::{MANIFEST_TYPES, MAX_MANIFEST_SIZE, Manifest};
pub use names::{check_repository, is_repository_component};
pub use options::{ClientOptions, Login};
pub use upload::Pushed;

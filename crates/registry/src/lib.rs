//! strata's OCI distribution client, synchronous: a [`Client`] talks to
//! one registry host, fetching and pushing manifests and blobs with the
//! registry's authentication, bounded retries, a stall timeout and blob
//! reads that continue where they stopped. Credentials come from the auth
//! files podman and docker use ([`credentials`]).
//!
//! The store side (what a pull writes, what a push reads) is strata's;
//! this crate knows nothing of it.

#![deny(missing_docs)]

pub mod credentials;

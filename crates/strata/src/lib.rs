//! strata: a container image and layer store.
//!
//! The store keeps image layers on disk as copy-on-write layers, records each
//! layer's tar stream with tar-split so the identical bytes can be handed
//! back, and keeps images, names and containers on top. This crate is the
//! library; `strata-cli` is the command-line front end.
//!
//! So far the crate re-exports [`tarsplit`], the bit-exact tar layer that the
//! store is built on.

#![deny(missing_docs)]

pub use tarsplit;

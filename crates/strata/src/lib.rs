//! strata: a container image and layer store.
//!
//! The store keeps image layers on disk as copy-on-write layers, records each
//! layer's tar stream with tar-split so the identical bytes can be handed
//! back, and keeps names and metadata on top. This crate is the library;
//! `strata-cli` is the command-line front end.

#![deny(missing_docs)]

pub mod archive;
pub mod compression;
pub mod digest;
pub mod driver;
mod error;
pub mod fs;
pub mod idmap;
pub mod image;
mod spill;
pub mod store;
pub mod transport;

pub use error::{DatabaseError, Error, Result, TarSplitError};
pub use store::{
    CommitOptions, Container, ContainerOptions, CreateOptions, DiffFormat, HistoryStep, Layer,
    Store, StoreOptions,
};

/// The OCI spec types strata's typed views use ([`Store::image_config`],
/// [`Store::image_manifest`]), re-exported so callers name the same
/// version strata does.
pub use oci_spec;

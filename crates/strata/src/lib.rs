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

pub use error::{Error, Result};
pub use store::{
    Container, ContainerOptions, CreateOptions, DiffFormat, Layer, Store, StoreOptions,
};

pub use tarsplit;

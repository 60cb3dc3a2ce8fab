#![doc = include_str!("../README.md")]
//!
//! # Where things are
//!
//! Everything a caller names is at the crate root: [`Store`] and its
//! options, the records it hands out ([`Image`], [`Layer`], [`Container`],
//! [`Lease`]), the options and reports of its methods, and [`Error`]. The
//! modules that stay public hold the vocabulary those use: [`digest`],
//! [`image`] (references, configs, manifests), [`compression`], [`idmap`]
//! and [`archive::changes`].

#![deny(missing_docs)]

pub mod archive;
pub mod compression;
pub mod digest;
mod driver;
mod error;
mod fs;
pub mod idmap;
pub mod image;
mod spill;
mod store;
mod transport;

pub use driver::host::{HostSupport, probe_host};
pub use error::{DatabaseError, Error, Result, TarSplitError};
pub use fs::{Output, write_output};
pub use store::DiffOptions;
pub use store::ToSaveItems;
pub use store::local_name;
pub use store::{CommitOptions, Container, ContainerOptions};
pub use store::{ContainerUsage, DiskUsage, ImageUsage};
pub use store::{CreateOptions, DiffFormat, DiffReport};
pub use store::{DEFAULT_DRIVERS, Layer, LayerState, Store, StoreDescription, StoreOptions};
pub use store::{DOWNLOAD_EXPIRY, Downloads, KeptBlobs, Lease, LeaseOptions};
pub use store::{FsckIssue, FsckReport, GcOptions, GcReport, Status};
pub use store::{HistoryStep, Image, ImageIndex, NewImage, Removed, Upload, normalize_name};
pub use store::{PruneOptions, PruneReport, SystemPruneReport};
/// The registry client strata pulls and pushes with (its errors and
/// [`Login`](registry::Login) appear in strata's API).
pub use strata_registry as registry;
pub use transport::{ArchiveInput, Copied, CopyOptions, LoadOptions, LoadReport, Location};
pub use transport::{PlatformSpec, PullOptions, Pulled, PushOptions, PushReport, RegistryOptions};
pub use transport::{SaveFormat, SaveItem, SaveOptions, SaveReport, ServedBlob, ServedManifest};
pub use transport::{TransferEvent, TransferProgress};
pub use transport::{login, logout, logout_all};

/// The OCI spec types strata's typed views use ([`Store::image_config`],
/// [`Store::image_manifest`]), re-exported so callers name the same
/// version strata does.
pub use oci_spec;

//! The OCI image model: references (names), manifests, indexes, configs,
//! descriptors and ChainIDs, parsed from the exact bytes received and never
//! re-serialized.

pub mod chain;
pub mod change;
pub(crate) mod config;
pub mod descriptor;
pub mod manifest;
pub mod media;
pub mod reference;

pub use chain::chain_ids;
pub(crate) use config::ImageConfig;
pub use descriptor::{Descriptor, Platform};
pub use manifest::{Index, Manifest};

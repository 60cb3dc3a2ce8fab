//! Moving images in and out of the store: `docker save` archives
//! ("docker-archive"), OCI image layouts (directories) and OCI archives
//! (tarred layouts), named as skopeo names them.

mod archive_in;
pub mod copy;
mod docker_archive;
pub mod load;
pub mod location;
mod oci_layout;
mod plan;
pub mod save;
mod source;

pub use copy::{Copied, copy};
pub use load::{ArchiveInput, LoadReport, load_archive};
pub use location::Location;

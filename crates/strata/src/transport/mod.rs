//! Moving images in and out of the store: `docker save` archives
//! ("docker-archive"), OCI image layouts (directories) and OCI archives
//! (tarred layouts), named as skopeo names them. Callers use the
//! [`Store`](crate::Store) methods of `methods`; the rest is private.

mod archive_in;
mod copy;
mod docker_archive;
mod load;
mod location;
mod methods;
mod oci_layout;
mod plan;
mod save;
mod source;

pub use copy::Copied;
pub use load::{ArchiveInput, LoadReport};
pub use location::Location;
pub use methods::ToSaveItems;
pub use save::{SaveFormat, SaveItem, SaveReport};

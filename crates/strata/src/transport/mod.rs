//! Moving images in and out of the store: `docker save` archives
//! ("docker-archive"), OCI image layouts (directories), OCI archives
//! (tarred layouts) and registries, named as skopeo names them. Callers use the
//! [`Store`](crate::Store) methods of `store::transfer`, which call the
//! crate-private functions here.

mod archive_in;
mod copy;
mod direct;
mod direct_push;
mod docker_archive;
mod load;
mod location;
mod oci_layout;
mod plan;
mod progress;
mod pushed;
mod pushed_index;
mod registry;
mod save;
mod served;
mod source;

pub use copy::{Copied, CopyOptions};
pub use load::{ArchiveInput, LoadOptions, LoadReport};
pub use location::Location;
pub use registry::{
    PlatformSpec, PullOptions, Pulled, PushOptions, PushReport, RegistryOptions, TransferEvent,
    TransferProgress,
};
pub use save::{SaveFormat, SaveItem, SaveOptions, SaveReport};
pub use served::{ServedBlob, ServedManifest};

pub(crate) use copy::{copy, saved_name};
pub(crate) use load::{load_archive, load_layout};
pub use registry::{login, logout, logout_all};
pub(crate) use registry::{pull, push};
pub(crate) use save::{LayerBlob, generate_manifest, save_archive, save_oci_dir};

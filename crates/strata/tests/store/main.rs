//! Integration tests of the store library, on real files in temporary
//! directories (run as root: devices, ownership and xattrs are real).

mod common;
mod concurrency;
mod conformance;
mod containers;
mod copy_direct;
mod copy_registry;
mod corpus;
mod from_images;
mod front_door;
mod gc;
mod hostile;
mod hostile_archives;
mod image_names;
mod layers;
mod limits;
mod load;
mod prune;
mod pull;
mod pull_ahead;
mod pull_hostile;
mod push;
mod pushed;
mod rw_layers;
mod save;
mod save_v1;
mod transfer_progress;
mod typed_config;

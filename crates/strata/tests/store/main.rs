//! Integration tests of the store library, on real files in temporary
//! directories (run as root: devices, ownership and xattrs are real).

mod common;
mod concurrency;
mod conformance;
mod containers;
mod corpus;
mod hostile;
mod layers;
mod rw_layers;

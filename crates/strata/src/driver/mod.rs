//! Storage drivers: how layers live on disk.

pub mod copy;

//! Integration tests of the `strata` command, run against real tools: GNU
//! tar extracts, Go's `tar-split` (Debian package `tar-split`) is the
//! oracle. One test binary keeps link time low.

mod cli_surface;
mod commit_import;
mod copy_registry;
mod corpus;
mod gc;
mod image_crash;
mod images;
mod interop_images;
mod listings;
mod names;
mod output_paths;
mod progress;
mod prune_df;
mod pull;
mod push;
mod serve;
mod serve_auth;
mod serve_files;
mod serve_indexes;
mod serve_protocol;
mod serve_push;
mod serve_push_protocol;
mod serve_support;
mod store_commands;
mod store_containers;
mod store_crash;
mod store_processes;
mod store_roots;
mod store_support;
mod tar_split_interop;
mod tar_split_rejections;
mod tar_split_roundtrip;
mod torture;
mod torture_check;
mod verbs;

//! Arguments of the listings and inspect commands beyond `ListArgs`
//! (re-exported by `cli`).

use clap::{Args, ValueEnum};

use crate::cli::ListArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// `json` or a Go template (`{{.Driver}}`).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct LayerListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Print layer ids only.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ContainerListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Print container ids only.
    #[arg(short, long)]
    pub quiet: bool,
    /// All containers (the default: strata's containers never run, so
    /// there are no stopped ones to hide; accepted as podman's `-a`).
    #[arg(short, long)]
    pub all: bool,
    /// Only containers that match: `id=PREFIX`, `name=REGEX`,
    /// `ancestor=IMAGE` (repeatable: a container matches if it matches
    /// each key, any of a key's values).
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Order of the rows.
    #[arg(long, value_enum, default_value = "created")]
    pub sort: ContainerSort,
}

/// `strata containers --sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContainerSort {
    /// Oldest first (podman's order).
    Created,
    /// By container id.
    Id,
    /// By the IMAGE column.
    Image,
    /// By the NAMES column.
    Names,
}

/// Inspect's arguments for layers and containers.
#[derive(Debug, Args)]
pub struct ItemInspectArgs {
    /// Ids, id prefixes or names.
    #[arg(required = true, value_name = "ID|NAME")]
    pub items: Vec<String>,
    /// Print JSON (inspect always does unless --format is a template).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// `json` or a Go template applied to each (`{{.ID}}`).
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

/// `strata images --sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageSort {
    /// Newest first.
    Created,
    /// By image id.
    Id,
    /// By repository, then tag.
    Repository,
    /// Smallest first.
    Size,
    /// By tag, then repository.
    Tag,
}

//! Arguments of the verbs podman and docker users type: top-level
//! `inspect` and `diff`, the prunes, `system df`, `image mount|unmount`.

use clap::{Args, ValueEnum};

/// What `strata inspect` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectType {
    /// Containers, then images, then layers.
    All,
    /// Containers only.
    Container,
    /// Images only.
    Image,
    /// Layers only.
    Layer,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Containers, images or layers (ids, id prefixes or names).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Look only for this kind of object.
    #[arg(short = 't', long = "type", value_enum, default_value = "all")]
    pub kind: InspectType,
    /// Print JSON (inspect always does unless --format is a template).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// `json` or a Go template applied to each (`{{.Id}}`), as the
    /// family's own inspect takes it.
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

/// The one machine format of `diff` and `system df`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JsonFormat {
    /// JSON (fields in docs/cli.md).
    Json,
}

#[derive(Debug, Args)]
pub struct ObjectDiffArgs {
    /// Container, image or layer (id, id prefix or name; looked up in that
    /// order).
    pub name: String,
    /// Print JSON: `{"added": [...], "changed": [...], "deleted": [...]}`.
    #[arg(long, value_enum)]
    pub format: Option<JsonFormat>,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Report what would be removed; remove nothing (no confirmation asked).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON (no confirmation asked).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SystemDfArgs {
    /// Show each image and container.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print JSON.
    #[arg(long, value_enum)]
    pub format: Option<JsonFormat>,
}

#[derive(Debug, Args)]
pub struct ImageMountArgs {
    /// Images (ids, id prefixes or names); none to list the mounted ones.
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageUnmountArgs {
    /// Images (ids, id prefixes or names).
    #[arg(required_unless_present = "all")]
    pub images: Vec<String>,
    /// Unmount every mounted image (all of its mounts).
    #[arg(short, long, conflicts_with = "images")]
    pub all: bool,
}

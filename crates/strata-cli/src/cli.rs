//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod listings;
mod serve;
mod transfer;
mod verbs;

pub use listings::*;
pub use serve::*;
pub use transfer::*;
pub use verbs::*;

/// strata: a container image and layer store.
#[derive(Debug, Parser)]
// `--version` prints `strata version X.Y.Z`, as `podman --version` does.
#[command(name = "strata", version = concat!("version ", env!("CARGO_PKG_VERSION")), about)]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The heading global options are listed under in every command's help,
/// after the command's own options.
const GLOBAL: &str = "Global Options";

/// Where the store is (each also settable by environment variable).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Persistent store directory [env: STRATA_ROOT; default /var/lib/strata as root]
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub root: Option<PathBuf>,
    /// Runtime directory [env: STRATA_RUNROOT; default /run/strata as root]
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub runroot: Option<PathBuf>,
    /// Storage driver for a new store [env: STRATA_DRIVER; default overlay where it works, else vfs]
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub driver: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage layers.
    #[command(subcommand)]
    Layer(LayerCommand),
    /// List layers (same as `layer ls`).
    Layers(LayerListArgs),
    /// Manage containers: read-write layers on top of a layer.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// List containers (same as `container ls`).
    Containers(ContainerListArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// List images (same as `image ls`).
    Images(ImageListArgs),
    /// Remove images (same as `image rm`).
    Rmi(ImageRmArgs),
    /// Remove containers (same as `container rm`).
    Rm(ContainerRmArgs),
    /// Give an image more names (same as `image tag`).
    Tag(TagArgs),
    /// Show how an image was made (same as `image history`).
    History(HistoryArgs),
    /// Show containers, images or layers as JSON, looked up in that order.
    Inspect(InspectArgs),
    /// List the paths a container (or an image, or a layer) added (A),
    /// changed (C) or deleted (D), as `podman diff` does.
    Diff(ObjectDiffArgs),
    /// Make an image of a container's changes on its image (prints the new
    /// image's id, 64 hex digits, as podman does).
    Commit(CommitArgs),
    /// Make a one-layer image of a root file system tar (prints its id).
    Import(ImageImportArgs),
    /// Write a container's root file system (its image and its changes) as one tar.
    Export(ExportArgs),
    /// Write images to an archive.
    Save(SaveArgs),
    /// Read images from an archive into the store.
    Load(LoadArgs),
    /// Copy an image from one place to another.
    Copy(CopyArgs),
    /// Pull an image from a registry into the store.
    Pull(PullArgs),
    /// Push an image to a registry.
    Push(PushArgs),
    /// Check credentials for a registry and record them (podman's auth file).
    Login(LoginArgs),
    /// Forget the credentials recorded for a registry.
    Logout(LogoutArgs),
    /// Serve the store as an OCI registry: pulls, and pushes that land as
    /// images (docs/serve.md).
    #[command(long_about = SERVE_ABOUT)]
    Serve(ServeArgs),
    /// Check the store; with --repair, fix what can be fixed.
    Fsck(FsckArgs),
    /// Remove what nothing uses: layers no image, container, name or lease
    /// keeps, blobs no image or lease names, leftovers of dead processes.
    Gc(GcArgs),
    /// Store-wide maintenance.
    #[command(subcommand)]
    System(SystemCommand),
    /// Show where the store is and what it holds.
    Status(StatusArgs),
    /// Disassemble and reassemble tar archives bit-exactly (Go tar-split compatible).
    #[command(name = "tar-split", subcommand)]
    TarSplit(TarSplitCommand),
    /// Show strata's version, the store's schema and driver, and what the
    /// kernel offers the overlay driver (never creates a store).
    Version(VersionArgs),
    /// Print a shell completion script (`source <(strata completion bash)`).
    Completion(CompletionArgs),
    /// Write man pages, one per command, into DIR (for packagers and
    /// scripts/install).
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write `strata.1`, `strata-image.1`, ... into
    /// (made if missing).
    pub dir: PathBuf,
}

/// How `strata version` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    /// Aligned `Key: value` lines, as `podman version` prints.
    Text,
    /// One JSON object (fields in docs/cli.md).
    Json,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: VersionFormat,
    /// Print JSON (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Show full ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// `json`, a Go template (`{{.ID}} {{.Names}}`), or `table` and a
    /// template for columns under a header.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Print no header line.
    #[arg(short = 'n', long, alias = "no-heading")]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Remove orphans and damaged layers without children.
    #[arg(long)]
    pub repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Report what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Remove dangling images (with -a, every image no container uses),
    /// then what nothing uses: layers, blobs, expired leases, partial
    /// downloads, leftovers of dead processes (what `strata gc` removes).
    /// Containers are left alone.
    Prune(SystemPruneArgs),
    /// Show how much space images and containers take.
    Df(SystemDfArgs),
}

#[derive(Debug, Subcommand)]
pub enum LayerCommand {
    /// Import a layer tar (plain, gzip, zstd, xz or bzip2); prints the new id.
    Import(ImportArgs),
    /// Create an empty layer (a copy of its parent), read-only unless --rw; prints the new id.
    Create(CreateArgs),
    /// List layers.
    #[command(visible_alias = "list")]
    Ls(LayerListArgs),
    /// Show layers as a JSON array.
    Inspect(ItemInspectArgs),
    /// Write a layer's changes as a tar (its original tar, verified, when possible).
    Diff(DiffArgs),
    /// List the paths a layer added (A), changed (C) or deleted (D).
    Changes(ChangesArgs),
    /// Print the size of the tar `diff` would write.
    DiffSize(FromArgs),
    /// Mount a layer; prints where its tree is.
    Mount(LayerRef),
    /// Drop one mount of a layer.
    #[command(visible_alias = "umount")]
    Unmount(LayerRef),
    /// Delete layers.
    Rm(RmArgs),
    /// Set, add or remove names.
    #[command(subcommand)]
    Names(NamesCommand),
    /// Print, or with VALUE set, a layer's metadata string.
    Metadata(MetadataArgs),
}

#[derive(Debug, Args)]
pub struct LayerRef {
    /// Layer id, id prefix or name.
    pub layer: String,
    /// Print JSON (inspect always does).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NewLayerArgs {
    /// The layer to put it on.
    #[arg(long)]
    pub parent: Option<String>,
    /// A name for it (repeatable). An unnamed layer that no image,
    /// container or named layer uses is garbage for `strata gc`.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Its id (64 hex digits); random by default.
    #[arg(long)]
    pub id: Option<String>,
    /// Map container uids to host uids: container:host:size[,...].
    #[arg(long)]
    pub uidmap: Option<String>,
    /// Map container gids to host gids: container:host:size[,...].
    #[arg(long)]
    pub gidmap: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub layer: NewLayerArgs,
    /// The tar to import; `-` or nothing for stdin.
    pub input: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub layer: NewLayerArgs,
    /// Make it a read-write layer (writable when mounted).
    #[arg(long)]
    pub rw: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Compress {
    None,
    Gzip,
    Zstd,
    Original,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub from: FromArgs,
    /// Compression of the output.
    #[arg(long, value_enum, default_value = "none")]
    pub compress: Compress,
    /// Write to FILE instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Print no progress.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct FromArgs {
    /// Layer id, id prefix or name.
    pub layer: String,
    /// Compare with this layer instead of the parent.
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    pub from: FromArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Layers (ids, id prefixes or names).
    #[arg(required = true)]
    pub layers: Vec<String>,
    /// Say nothing of layers that do not exist.
    #[arg(short, long)]
    pub ignore: bool,
}

#[derive(Debug, Subcommand)]
pub enum NamesCommand {
    /// Replace the layer's names.
    Set(NamesArgs),
    /// Add names.
    Add(NamesArgs),
    /// Remove names.
    Rm(NamesArgs),
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Layer id, id prefix or name.
    pub layer: String,
    /// Names.
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Layer id, id prefix or name.
    pub layer: String,
    /// New value.
    pub value: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container on an image or a layer; prints the new id.
    Create(ContainerCreateArgs),
    /// List containers.
    #[command(visible_alias = "list")]
    Ls(ContainerListArgs),
    /// Show containers as a JSON array.
    Inspect(ItemInspectArgs),
    /// Mount a container; prints where its writable tree is.
    Mount(ContainerRef),
    /// Drop one mount of a container.
    #[command(visible_alias = "umount")]
    Unmount(ContainerRef),
    /// Delete containers and their read-write layers.
    Rm(ContainerRmArgs),
    /// Delete every container that is not mounted.
    Prune(ContainerPruneArgs),
    /// Make an image of a container's changes (the same as `strata commit`).
    Commit(CommitArgs),
}

#[derive(Debug, Args)]
pub struct ContainerCreateArgs {
    /// The image or layer to put it on (id, id prefix or name; images are
    /// looked up first, and an image's top layer is used).
    pub layer: String,
    /// A name for it (repeatable; unique among containers).
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Its id (64 hex digits); random by default.
    #[arg(long)]
    pub id: Option<String>,
    /// A free-form metadata string.
    #[arg(long, default_value = "")]
    pub metadata: String,
}

#[derive(Debug, Args)]
pub struct ContainerRef {
    /// Container id, id prefix or name.
    pub container: String,
    /// Print JSON (inspect always does).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ContainerRmArgs {
    /// Containers (ids, id prefixes or names).
    #[arg(required_unless_present = "all")]
    pub containers: Vec<String>,
    /// Delete every container.
    #[arg(short, long, conflicts_with = "containers")]
    pub all: bool,
    /// Unmount mounted containers instead of refusing to delete them.
    #[arg(short, long)]
    pub force: bool,
    /// Say nothing of containers that do not exist.
    #[arg(short, long)]
    pub ignore: bool,
}

#[derive(Debug, Args)]
pub struct ImageChangeArgs {
    /// Change the config as a Dockerfile instruction would (repeatable):
    /// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR.
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// A message for the image's history entry.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Print only the image id (the only thing printed anyway; for
    /// compatibility with podman and docker).
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Container id, id prefix or name.
    pub container: String,
    /// A name for the new image (`name[:tag]`, normalized).
    pub image: Option<String>,
    #[command(flatten)]
    pub change: ImageChangeArgs,
    /// The author, recorded in the config and its history entry.
    #[arg(short, long)]
    pub author: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImageImportArgs {
    /// The tar (plain, gzip, zstd, xz or bzip2); `-` for stdin.
    pub input: PathBuf,
    /// A name for the new image (`name[:tag]`, normalized).
    pub image: Option<String>,
    #[command(flatten)]
    pub change: ImageChangeArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Container id, id prefix or name.
    pub container: String,
    /// Write to FILE instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images, one row per name.
    #[command(visible_alias = "list")]
    Ls(ImageListArgs),
    /// Show images as JSON.
    Inspect(ImageInspectArgs),
    /// Show how an image was made, newest step first.
    History(HistoryArgs),
    /// Give an image more names.
    Tag(TagArgs),
    /// Take names from an image (all of them when none are given).
    Untag(UntagArgs),
    /// Remove images, or the name they are given by when the image has others.
    Rm(ImageRmArgs),
    /// Exit 0 if the image is in the store, 1 if not (125 on error); print
    /// nothing.
    Exists(ImageExistsArgs),
    /// Remove dangling images (with -a, every image no container uses).
    Prune(ImagePruneArgs),
    /// Mount images read-only; prints where their trees are (with no
    /// image, lists the mounted ones).
    Mount(ImageMountArgs),
    /// Drop one mount of images.
    #[command(visible_alias = "umount")]
    Unmount(ImageUnmountArgs),
}

#[derive(Debug, Args)]
pub struct ImageExistsArgs {
    /// Image id, id prefix or name.
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ImageListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Print image ids only, each once.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images; without it, unnamed images that are the base of
    /// another image (intermediate images) are hidden, as podman hides
    /// them.
    #[arg(short, long)]
    pub all: bool,
    /// Show each image's manifest digest.
    #[arg(long)]
    pub digests: bool,
    /// Only images that match: `reference=PATTERN`, `dangling=true|false`,
    /// `label=KEY[=VALUE]`, `before=IMAGE`, `since=IMAGE` (repeatable: an
    /// image matches if it matches each key, any of a key's values).
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Order of the rows.
    #[arg(long, value_enum, default_value = "created")]
    pub sort: ImageSort,
    /// Only images with a name that matches (the same as `--filter
    /// reference=PATTERN`).
    #[arg(value_name = "PATTERN", conflicts_with = "filters")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Images (ids, id prefixes or names).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Print JSON (inspect always does unless --format is a template).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// `json` or a Go template applied to each image (`{{.Id}}`).
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Image id, id prefix or name.
    pub image: String,
    #[command(flatten)]
    pub list: ListArgs,
    /// Print the ids of the steps' images only (`<missing>` below the
    /// newest).
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Image id, id prefix or name.
    pub image: String,
    /// New names (`name[:tag]`, normalized: `alpine` is `docker.io/library/alpine:latest`).
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    /// Image id, id prefix or name.
    pub image: String,
    /// Names to take away; all of the image's names when none are given.
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageRmArgs {
    /// Images (ids, id prefixes or names).
    #[arg(required_unless_present = "all")]
    pub images: Vec<String>,
    /// Remove every image.
    #[arg(short, long, conflicts_with = "images")]
    pub all: bool,
    /// Remove the containers using an image too, instead of refusing.
    #[arg(short, long)]
    pub force: bool,
    /// Say nothing of images that do not exist.
    #[arg(short, long)]
    pub ignore: bool,
}

#[derive(Debug, Subcommand)]
pub enum TarSplitCommand {
    /// Record a tar's metadata; the tar passes through to stdout.
    #[command(visible_alias = "d")]
    Disasm(DisasmArgs),
    /// Rebuild the tar from metadata and the extracted files.
    #[command(visible_alias = "a")]
    Asm(AsmArgs),
}

#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// Where to write the gzip'd metadata.
    #[arg(long, default_value = "tar-data.json.gz")]
    pub output: PathBuf,
    /// Do not copy the tar to stdout.
    #[arg(long)]
    pub no_stdout: bool,
    /// The tar to read; `-` or nothing for stdin.
    pub input: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AsmArgs {
    /// The metadata to read (gzip'd or plain JSON lines).
    #[arg(long, default_value = "tar-data.json.gz")]
    pub input: PathBuf,
    /// Directory holding the extracted files.
    #[arg(long)]
    pub path: PathBuf,
    /// Where to write the tar; `-` for stdout.
    #[arg(long, default_value = "-")]
    pub output: PathBuf,
    /// Gzip the output.
    #[arg(long)]
    pub compress: bool,
}

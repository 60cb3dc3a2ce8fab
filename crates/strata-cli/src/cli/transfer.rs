//! Arguments of the commands that move images: `save`, `load`, `copy`,
//! `pull`, `push`, `login` and `logout`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Archive formats `strata save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaveFormatArg {
    /// A `docker save` archive.
    DockerArchive,
    /// A tarred OCI image layout.
    OciArchive,
    /// The legacy `docker save` layout of Docker 1.10 to 24 (`<v1id>/layer.tar`).
    #[value(name = "docker-archive-v1")]
    DockerArchiveV1,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to FILE instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format.
    #[arg(long, value_enum, default_value = "docker-archive")]
    pub format: SaveFormatArg,
    /// Images (ids, id prefixes or names).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Print no progress.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read FILE instead of stdin.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print no progress, only the `Loaded image:` lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Places images are copied from and to, named as skopeo names them:
///
/// - `docker-archive:PATH[:REF]`: a `docker save` archive;
/// - `oci:DIR[:REF]`: an OCI image layout directory;
/// - `oci-archive:PATH[:REF]`: a tarred OCI image layout;
/// - `strata:REF`: an image in this store.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where the image is (`docker-archive:PATH[:REF]`, `oci:DIR[:REF]`,
    /// `oci-archive:PATH[:REF]`, `strata:REF` or `docker://REF`).
    pub source: String,
    /// Where it goes (same forms as the source).
    pub destination: String,
    /// Require HTTPS and verify certificates on both sides (skopeo's
    /// `--src-tls-verify` and `--dest-tls-verify` set one side).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates for the source registry.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub src_tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates for the destination registry.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub dest_tls_verify: Option<bool>,
    /// Certificates directory for the source registry (`*.crt`, `*.cert`,
    /// `*.key`; default `/etc/containers/certs.d/HOST`).
    #[arg(long, value_name = "DIR")]
    pub src_cert_dir: Option<PathBuf>,
    /// Certificates directory for the destination registry.
    #[arg(long, value_name = "DIR")]
    pub dest_cert_dir: Option<PathBuf>,
    /// Auth file for both sides (default: podman's and docker's).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Auth file for the source registry (instead of --authfile).
    #[arg(long, value_name = "FILE")]
    pub src_authfile: Option<PathBuf>,
    /// Auth file for the destination registry (instead of --authfile).
    #[arg(long, value_name = "FILE")]
    pub dest_authfile: Option<PathBuf>,
    /// Credentials `USER[:PASSWORD]` for the source registry.
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub src_creds: Option<String>,
    /// Credentials `USER[:PASSWORD]` for the destination registry.
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub dest_creds: Option<String>,
    /// The platform of a multi-platform source image, `os/arch[/variant]`
    /// (default: this host).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// From a registry to a registry, copy a multi-platform index whole
    /// (every image it lists), keeping its digest.
    #[arg(short, long)]
    pub all: bool,
    /// Blobs transferred at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_parallel: usize,
    /// Fail a transfer that moves nothing for this many seconds.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub stall_timeout: u64,
    /// Print no progress.
    #[arg(short, long)]
    pub quiet: bool,
}

/// How to reach a registry (podman's flags).
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Require HTTPS and verify certificates (`--tls-verify=false` allows
    /// plain HTTP and any certificate; `localhost` may use HTTP anyway).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Directory of `*.crt` CA certificates and `*.cert`/`*.key` client
    /// certificates (default `/etc/containers/certs.d/HOST`).
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Auth file to read credentials from (default: podman's and docker's).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Credentials `USER[:PASSWORD]` instead of the auth file's.
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub creds: Option<String>,
    /// Blobs transferred at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_parallel: usize,
    /// Fail a transfer that receives nothing for this many seconds.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub stall_timeout: u64,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image (`alpine`, `docker.io/library/alpine:3.20`,
    /// `localhost:5000/x@sha256:...`).
    pub reference: String,
    /// The platform of a multi-platform image, `os/arch[/variant]`
    /// (default: this host).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Print nothing but the image id.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not keep the registry's compressed blobs beside the layers
    /// (saves their size on disk; `strata serve` then serves the image
    /// with a generated manifest, and a push compresses it again).
    #[arg(long)]
    pub discard_blobs: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image: id, id prefix or name.
    pub image: String,
    /// Where to push it (`localhost:5000/app:1`, or `docker://...`);
    /// default: the name the image was given by, else its first name.
    pub destination: Option<String>,
    /// How to compress layers the registry does not have: gzip or zstd.
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "gzip",
        alias = "compression-format"
    )]
    pub compression: String,
    /// Write the digest of the pushed manifest to this file.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<std::path::PathBuf>,
    /// Print nothing (no progress).
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (`host[:port]`; default `docker.io`).
    #[arg(default_value = "docker.io")]
    pub registry: String,
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (visible to other users of this machine; prefer
    /// --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Auth file to write (default `${XDG_RUNTIME_DIR}/containers/auth.json`).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Directory of `*.crt`, `*.cert` and `*.key` files.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default `docker.io`).
    #[arg(default_value = "docker.io")]
    pub registry: String,
    /// Forget the credentials of every registry.
    #[arg(short, long)]
    pub all: bool,
    /// Auth file to edit.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

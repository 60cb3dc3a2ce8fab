//! Images to and from OCI registries: `pull` (manifest, platform, config,
//! then the layers streamed from the network into the store while they
//! download), `push`, a registry as the source of a direct copy
//! (`image_in`), images from outside the store sent to a registry
//! (`send`), and registry to registry copies (`mirror`). The HTTP side —
//! authentication, retries, resumed reads — is the `strata-registry`
//! crate's; this module decides what to fetch or send and writes through
//! the store.

mod fetch;
mod growing;
mod image_in;
mod login;
mod mirror;
mod parallel;
mod platform;
mod produced;
mod pull;
mod push;
mod push_layer;
mod push_manifest;
mod send;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use image_in::fetch_image;
pub use login::{login, logout, logout_all};
pub(crate) use mirror::{Ends, mirror};
pub use platform::PlatformSpec;
pub use pull::{PullOptions, Pulled};
pub(crate) use pull::{pull, pull_named};
pub(crate) use push::push;
pub use push::{PushOptions, PushReport};
pub(crate) use send::{Blobs, Outgoing, send};

use crate::digest::Digest;
use crate::error::Result;
use crate::image::reference::Reference;

/// How to reach registries: TLS, certificates, credentials, patience.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Verify certificates and use HTTPS (default true); false allows
    /// plain HTTP and any certificate, like podman's `--tls-verify=false`.
    /// Registries on `localhost`/`127.0.0.1` may use plain HTTP either way.
    pub tls_verify: bool,
    /// `*.crt`, `*.cert` and `*.key` files, like podman's `--cert-dir`;
    /// `/etc/containers/certs.d/<host>` when absent.
    pub cert_dir: Option<PathBuf>,
    /// The auth file to read credentials from, like `--authfile`; the
    /// podman and docker defaults when absent.
    pub auth_file: Option<PathBuf>,
    /// Credentials to use instead of any auth file.
    pub login: Option<strata_registry::Login>,
    /// Attempts per request on retryable failures.
    pub attempts: u32,
    /// A transfer with no bytes for this long fails.
    pub stall_timeout: Duration,
    /// Blobs transferred at once.
    pub max_parallel: usize,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        let client = strata_registry::ClientOptions::default();
        Self {
            tls_verify: true,
            cert_dir: None,
            auth_file: None,
            login: None,
            attempts: client.attempts,
            stall_timeout: client.stall_timeout,
            max_parallel: 4,
        }
    }
}

/// What a transfer reports as it goes, per blob.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferEvent {
    /// A blob starts (or resumes at `resumed_at` bytes).
    Started {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// Bytes an earlier, interrupted transfer left.
        resumed_at: u64,
    },
    /// More of it arrived or left.
    Progress {
        /// The blob.
        digest: Digest,
        /// Bytes done so far.
        done: u64,
        /// Its size.
        size: u64,
    },
    /// It was not transferred: the other side has it already.
    Skipped {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// Bytes written so far of an output that is not a known blob until
    /// it ends: a diff computed from two trees, whose digest and size
    /// only its `Done` tells.
    Written {
        /// Bytes done so far.
        done: u64,
    },
    /// Bytes read so far of an archive that comes as a stream or
    /// compressed: it is copied aside (decompressed) before its blobs can
    /// be read, and its size is not known beforehand.
    Spooled {
        /// Bytes read so far.
        done: u64,
    },
    /// It is in.
    Done {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
}

/// A callback for [`TransferEvent`]s, called from several threads.
pub type TransferProgress<'a> = &'a (dyn Fn(&TransferEvent) + Sync);

/// The host to connect to for a reference's domain (Docker Hub's API is
/// not at `docker.io`).
pub(crate) fn registry_host(domain: &str) -> &str {
    match domain {
        "docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// A client for the registry of `reference`, with the credentials the
/// options or the auth files give for it.
pub(crate) fn client_for(
    reference: &Reference,
    options: &RegistryOptions,
) -> Result<strata_registry::Client> {
    let host = registry_host(reference.domain());
    let login = match &options.login {
        Some(login) => Some(login.clone()),
        None => find_login(reference, options)?,
    };
    let client_options = strata_registry::ClientOptions {
        tls_verify: options.tls_verify,
        cert_dir: options.cert_dir.clone(),
        login,
        attempts: options.attempts.max(1),
        stall_timeout: options.stall_timeout,
        ..strata_registry::ClientOptions::default()
    };
    Ok(strata_registry::Client::new(host, client_options)?)
}

/// Credentials from the auth files for `reference`'s registry.
fn find_login(
    reference: &Reference,
    options: &RegistryOptions,
) -> Result<Option<strata_registry::Login>> {
    let env = strata_registry::credentials::Environment::from_process();
    let found = strata_registry::credentials::find(
        &env,
        options.auth_file.as_deref(),
        reference.domain(),
        reference.path(),
    )
    .map_err(strata_registry::Error::from)?;
    Ok(found.as_ref().map(strata_registry::Login::from_credentials))
}

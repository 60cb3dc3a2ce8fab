//! Arguments of `strata serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// The long help of `strata serve`.
pub const SERVE_ABOUT: &str = "\
Serve the store as an OCI distribution registry (API v1.1).

Clients pull with HOST:PORT/REPOSITORY:TAG, where an image named
REGISTRY/PATH:TAG is the repository PATH (localhost/sample:1 is sample:1,
docker.io/library/alpine:3.20 is library/alpine:3.20), or REGISTRY/PATH.
Served: GET /v2/, manifests and blobs (GET, HEAD, Range), tag lists, and
pushes: a push of REPOSITORY:TAG lands as an image of the store, checked
like a load, named as the repository's images are (localhost/REPOSITORY
for a new one), with its manifest and compressed layers kept so it is
served back with the same digest. Multi-platform pushes (skopeo copy
--all, podman manifest push --all) keep the index under the tag, on the
image for this host's platform.

With --tls-cert and --tls-key it serves HTTPS; with --htpasswd only the
file's users get in (Basic credentials, or bearer tokens it issues at
/token), as with Docker's registry; every user may pull and push.

Deletes take tags (and an image with its last name). --read-only refuses
pushes and deletes. NOT SERVED: attestations (buildx's provenance and
SBOM manifests), deletes of single blobs. Over plain HTTP clients need
--tls-verify=false (skopeo: --src-tls-verify=false).

Prints `listening on ADDRESS` on stderr once it answers, then one line per
request; stops on SIGTERM or SIGINT. Details: docs/serve.md.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed on stderr).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,
    /// Refuse pushes and deletes; the store is then only read (a user who
    /// may read it but not write it can serve it).
    #[arg(long)]
    pub read_only: bool,
    /// The largest blob a push may upload, in bytes (default: no limit).
    #[arg(long, value_name = "BYTES")]
    pub max_blob_size: Option<u64>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Let in only the users of this htpasswd file (bcrypt, `htpasswd
    /// -B`): Basic credentials, or bearer tokens issued at /token.
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
}

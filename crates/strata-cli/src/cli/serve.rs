//! Arguments of `strata serve`.

use std::net::SocketAddr;

use clap::Args;

/// The long help of `strata serve`.
pub const SERVE_ABOUT: &str = "\
Serve the store as an OCI distribution registry (API v1.1), READ-ONLY.

Clients pull with HOST:PORT/REPOSITORY:TAG, where an image named
REGISTRY/PATH:TAG is the repository PATH (localhost/sample:1 is sample:1,
docker.io/library/alpine:3.20 is library/alpine:3.20), or REGISTRY/PATH.
Served: GET /v2/, manifests and blobs (GET, HEAD, Range), tag lists.

NOT SERVED YET: pushes and deletes (405 UNSUPPORTED), authentication,
TLS, the referrers API. Plain HTTP only: clients need
--tls-verify=false (skopeo: --src-tls-verify=false).

Prints `listening on ADDRESS` on stderr once it answers, then one line per
request; stops on SIGTERM or SIGINT. Details: docs/serve.md.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed on stderr).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,
}

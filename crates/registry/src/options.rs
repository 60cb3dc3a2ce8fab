//! How a [`Client`](crate::Client) connects: TLS verification and
//! certificates (podman's `--tls-verify` and `--cert-dir`), credentials,
//! retries and the stall timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// A user name and secret for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password, or (with [`Login::identity_token`]) nothing.
    pub password: String,
    /// An OAuth2 refresh token (docker's `identitytoken`), used instead of
    /// the password when present.
    pub identity_token: Option<String>,
}

impl Login {
    /// The login credentials from an auth file or helper give.
    pub fn from_credentials(credentials: &crate::credentials::Credentials) -> Login {
        use crate::credentials::Credentials;
        match credentials {
            Credentials::Basic { username, password } => Login {
                username: username.clone(),
                password: password.clone(),
                identity_token: None,
            },
            Credentials::IdentityToken { username, token } => Login {
                username: username.clone().unwrap_or_default(),
                password: String::new(),
                identity_token: Some(token.clone()),
            },
        }
    }
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish_non_exhaustive()
    }
}

/// Options for talking to one registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Verify the registry's certificate, and use HTTPS (default true).
    /// False allows plain HTTP and any certificate, as podman's
    /// `--tls-verify=false`. Registries on `localhost` or `127.0.0.1` may
    /// use plain HTTP either way.
    pub tls_verify: bool,
    /// A directory of `*.crt` CA certificates and `*.cert`/`*.key` client
    /// certificate pairs. When absent, `/etc/containers/certs.d/<host>`
    /// and `/etc/docker/certs.d/<host>` are used where they exist.
    pub cert_dir: Option<PathBuf>,
    /// Credentials for the registry; anonymous when absent.
    pub login: Option<Login>,
    /// Attempts per request before giving up on retryable failures
    /// (408, 429, 5xx, resets).
    pub attempts: u32,
    /// The first wait between attempts; it doubles, up to 10 s, unless
    /// the registry says `Retry-After`.
    pub backoff: Duration,
    /// A transfer that receives nothing for this long fails.
    pub stall_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            tls_verify: true,
            cert_dir: None,
            login: None,
            attempts: 5,
            backoff: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(60),
            user_agent: format!("strata/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Certificates found in a cert dir.
#[derive(Default)]
pub(crate) struct CertDir {
    pub roots: Vec<reqwest::Certificate>,
    pub identity: Option<reqwest::Identity>,
}

/// Whether `host` (with optional port) is this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

/// Reads the certificates for `host`: from `dir`, or podman's and
/// docker's default places.
pub(crate) fn load_cert_dir(dir: Option<&Path>, host: &str) -> Result<CertDir> {
    let candidates: Vec<PathBuf> = match dir {
        Some(dir) => vec![dir.to_path_buf()],
        None => vec![
            Path::new("/etc/containers/certs.d").join(host),
            Path::new("/etc/docker/certs.d").join(host),
        ],
    };
    let mut found = CertDir::default();
    for dir in candidates {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir_is_default(&dir) => continue,
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read certificate directory {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => {
                    let pem = read(&path)?;
                    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                        Error::Config(format!("bad CA certificate {}: {e}", path.display()))
                    })?;
                    found.roots.extend(certs);
                }
                Some("cert") => {
                    let key = path.with_extension("key");
                    let mut pem = read(&path)?;
                    pem.push(b'\n');
                    pem.extend(read(&key).map_err(|_| {
                        Error::Config(format!(
                            "client certificate {} has no key {}",
                            path.display(),
                            key.display()
                        ))
                    })?);
                    let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                        Error::Config(format!("bad client certificate {}: {e}", path.display()))
                    })?;
                    found.identity = Some(identity);
                }
                Some("key") if !path.with_extension("cert").exists() => {
                    return Err(Error::Config(format!(
                        "client key {} has no certificate {}",
                        path.display(),
                        path.with_extension("cert").display()
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(found)
}

fn dir_is_default(dir: &Path) -> bool {
    dir.starts_with("/etc/containers/certs.d") || dir.starts_with("/etc/docker/certs.d")
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:80",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["registry.example", "10.0.0.1:5000", "localhost.example"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_missing_given_cert_dir_is_an_error() {
        let err = load_cert_dir(Some(Path::new("/nonexistent/certs")), "h").err();
        assert!(matches!(err, Some(Error::Config(_))));
    }

    #[test]
    fn a_key_without_its_certificate_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("client.key"), "x").expect("write");
        let err = load_cert_dir(Some(dir.path()), "h")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("has no certificate")));
    }
}

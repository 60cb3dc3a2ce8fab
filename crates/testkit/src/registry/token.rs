//! The token server a [`Registry`](super::Registry) in token mode sends
//! clients to: `token_server.py` next to this file, run with `python3`.
//!
//! It is the one mock in the registry fixture: Debian has no Docker token
//! server package, so a small one written for these tests implements the
//! token protocol (GET with or without Basic credentials, and the OAuth2
//! POST form) and signs real JWTs that the real registry verifies.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

use super::certs::{PASSWORD, USER};

/// The `iss` claim the token server writes and the registry trusts.
pub const ISSUER: &str = "strata-test-issuer";
/// The `service` the registry names in its challenge (the `aud` claim).
pub const SERVICE: &str = "strata-test-registry";

/// How the token server behaves.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// Token lifetime in seconds (`expires_in` and the `exp` claim).
    /// distribution accepts a token up to 60 s past `exp` (its clock-skew
    /// leeway), so a short lifetime tests the client's own expiry logic,
    /// not the registry's refusal.
    pub lifetime_secs: u64,
    /// Anonymous GET requests get `pull` tokens (default true); when false
    /// they get 401.
    pub anonymous_pull: bool,
    /// Answer the OAuth2 POST form (default true); when false POST gets
    /// 404, as from token servers that only implement GET.
    pub oauth_post: bool,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            lifetime_secs: 300,
            anonymous_pull: true,
            oauth_post: true,
        }
    }
}

/// One request the token server answered, from its log.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The request path (`/token`).
    pub path: String,
    /// Who asked: `none`, `basic:USER` (GET with Basic credentials),
    /// `password:USER` (POST `grant_type=password`), `refresh:USER`
    /// (POST `grant_type=refresh_token`), or another scheme's name.
    #[serde(default)]
    pub auth: String,
    /// The query parameters of a GET (each may repeat, e.g. `scope`).
    #[serde(default)]
    pub query: std::collections::BTreeMap<String, Vec<String>>,
    /// The form fields of a POST, the password replaced by `<redacted>`.
    #[serde(default)]
    pub form: std::collections::BTreeMap<String, String>,
    /// The HTTP status it answered.
    pub status: u16,
    /// The `jti` of the token it issued, if it issued one.
    #[serde(default)]
    pub jti: Option<String>,
    /// What it granted: the token's `access` claim.
    #[serde(default)]
    pub grant: Value,
}

impl TokenRequest {
    /// The requested scopes: GET `scope` parameters, or the POST `scope`
    /// field split on spaces.
    pub fn scopes(&self) -> Vec<String> {
        if self.method == "POST" {
            self.form
                .get("scope")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        } else {
            self.query.get("scope").cloned().unwrap_or_default()
        }
    }

    /// Whether it granted `action` on repository `name`.
    pub fn granted(&self, name: &str, action: &str) -> bool {
        self.grant.as_array().is_some_and(|entries| {
            entries.iter().any(|e| {
                e["type"] == "repository"
                    && e["name"] == name
                    && e["actions"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == action))
            })
        })
    }
}

/// A running token server; stopped (killed and waited for) on drop.
pub struct TokenServer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    log: PathBuf,
}

impl TokenServer {
    /// Starts `token_server.py` signing with `key`/`cert`, logging to
    /// `dir/token-requests.jsonl`.
    pub(crate) fn start(dir: &Path, cert: &Path, key: &Path, opts: &TokenOptions) -> TokenServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/registry/token_server.py");
        let log = dir.join("token-requests.jsonl");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg("--key")
            .arg(key)
            .arg("--cert")
            .arg(cert)
            .args(["--issuer", ISSUER, "--service", SERVICE])
            .args(["--user", USER, "--password", PASSWORD])
            .arg("--lifetime")
            .arg(opts.lifetime_secs.to_string())
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !opts.anonymous_pull {
            cmd.arg("--no-anonymous");
        }
        if !opts.oauth_post {
            cmd.arg("--no-post");
        }
        let mut child = cmd.spawn().expect("start python3 token_server.py");
        let stdin = child.stdin.take().expect("token server stdin");
        let stdout = child.stdout.take().expect("token server stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = match read.ok().and_then(|_| line.trim().parse::<u16>().ok()) {
            Some(port) => port,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("token server did not report its port (got {line:?})");
            }
        };
        TokenServer {
            child,
            _stdin: stdin,
            port,
            log,
        }
    }

    /// The realm clients are sent to: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The server's process id (gone once the fixture is dropped).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every request answered so far, oldest first. The server appends a
    /// request's line before it sends the response, so a client that has
    /// its token already finds it here.
    pub fn requests(&self) -> Vec<TokenRequest> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("token server log line parses"))
            .collect()
    }

    /// Requests that issued a token.
    pub fn tokens_issued(&self) -> usize {
        self.requests().iter().filter(|r| r.jti.is_some()).count()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

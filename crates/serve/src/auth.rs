//! Authentication for `--htpasswd`: users and bcrypt hashes from an
//! htpasswd file (`htpasswd -B`, as Docker's registry takes), HTTP Basic
//! credentials on any request, and bearer tokens the server issues itself
//! at `GET /token` to a client that shows Basic credentials there.
//!
//! A request without valid credentials gets `401 UNAUTHORIZED` with a
//! `Bearer` challenge naming the token endpoint, the flow docker, podman,
//! skopeo, containerd and `strata pull` follow. Every user may pull and
//! push every repository, as with Docker's registry and an htpasswd file.
//!
//! bcrypt is slow on purpose, so a password that checked out is
//! remembered (by its SHA-256, never in clear) for the life of the
//! server; tokens are 256 random bits, kept in memory with their expiry.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::state::lock;

/// How long an issued token is good for.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The service name in challenges and tokens.
pub const SERVICE: &str = "strata-serve";

/// The users a server knows, and the tokens it issued.
pub struct Auth {
    users: HashMap<String, String>,
    checked: Mutex<HashSet<(String, [u8; 32])>>,
    tokens: Mutex<HashMap<String, Issued>>,
}

/// A token issued to a user.
struct Issued {
    user: String,
    expires: Instant,
}

/// A token as `GET /token` answers it.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token.
    pub token: String,
    /// Seconds it is good for.
    pub expires_in: u64,
}

impl Auth {
    /// Reads the htpasswd file at `path`: `user:hash` lines, bcrypt
    /// hashes only; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bad = |reason: String| Error::Htpasswd {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut users = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("line {} has no ':'", number + 1)))?;
            if !["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
                return Err(bad(format!(
                    "line {} ({user}) is not a bcrypt hash: make it with `htpasswd -B`",
                    number + 1
                )));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        if users.is_empty() {
            return Err(bad("it names no user".into()));
        }
        Ok(Self {
            users,
            checked: Mutex::new(HashSet::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The user `authorization` (the header's value) proves, if any:
    /// Basic credentials of a known user, or a live token. May take a
    /// bcrypt check: call it off the async threads.
    pub fn user(&self, authorization: Option<&str>) -> Option<String> {
        let value = authorization?.trim();
        if let Some(token) = strip_scheme(value, "Bearer") {
            return self.token_user(token.trim());
        }
        let (user, password) = basic(value)?;
        self.password_checks(&user, &password).then_some(user)
    }

    /// A new token for the user Basic credentials in `authorization`
    /// prove (a live token also gets a fresh one): `Ok(None)` when they
    /// prove no one, an error when no random token can be made.
    pub fn issue(&self, authorization: Option<&str>) -> Result<Option<Token>, String> {
        let Some(user) = self.user(authorization) else {
            return Ok(None);
        };
        let token = random_token()?;
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        tokens.retain(|_, issued| issued.expires > now);
        tokens.insert(
            token.clone(),
            Issued {
                user,
                expires: now + TOKEN_LIFETIME,
            },
        );
        Ok(Some(Token {
            token,
            expires_in: TOKEN_LIFETIME.as_secs(),
        }))
    }

    fn token_user(&self, token: &str) -> Option<String> {
        let tokens = lock(&self.tokens);
        let issued = tokens.get(token)?;
        (issued.expires > Instant::now()).then(|| issued.user.clone())
    }

    fn password_checks(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let seen: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let key = (user.to_string(), seen);
        if lock(&self.checked).contains(&key) {
            return true;
        }
        let good = bcrypt::verify(password, hash).unwrap_or(false);
        if good {
            lock(&self.checked).insert(key);
        }
        good
    }
}

/// The value of a `WWW-Authenticate` header sending a client to the
/// token endpoint of `base` (`http://HOST:PORT`), for `scope` if known.
pub fn challenge(base: &str, scope: Option<&str>) -> String {
    let mut value = format!("Bearer realm=\"{base}/token\",service=\"{SERVICE}\"");
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    value
}

/// Where the client reached this server, for the challenge's realm: the
/// request's `Host` when it is a plain host and port, else `fallback`.
pub fn base_url(tls: bool, host: Option<&str>, fallback: &str) -> String {
    let plain = |h: &&str| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    };
    let host = host.filter(plain).unwrap_or(fallback);
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// `value` without its authentication scheme `scheme` (any case).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// The user and password of a `Basic` header value.
fn basic(value: &str) -> Option<(String, String)> {
    let encoded = strip_scheme(value, "Basic")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// 256 random bits from the system's generator, hex.
pub(crate) fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| "the system's random generator failed".to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_values_and_hosts_are_read_strictly() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("me:pa:ss");
        assert_eq!(
            basic(&format!("basic {encoded}")),
            Some(("me".into(), "pa:ss".into()))
        );
        assert_eq!(basic("Basic !!!"), None);
        assert_eq!(basic("Bearer abc"), None);
        assert_eq!(
            base_url(false, Some("127.0.0.1:5000"), "x"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            base_url(true, Some("evil\"host"), "127.0.0.1:1"),
            "https://127.0.0.1:1"
        );
    }
}

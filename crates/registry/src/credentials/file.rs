//! Auth file contents: parsing `auth.json`, `config.json` and the legacy
//! `.dockercfg`, the key forms an entry may be stored under, and decoding
//! an entry into [`Credentials`].

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Credentials;
use super::env::AuthPath;
use super::error::{Error, Result};

/// The docker hub key docker itself writes.
pub(crate) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The user name standing for "this secret is an identity token", in
/// credential helper replies and in `auth` fields written for a token alone.
pub(crate) const TOKEN_USERNAME: &str = "<token>";

/// One `auths` entry; other fields (`email`, …) are ignored when reading.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The parts of an auth file credential lookup uses.
#[derive(Debug, Default)]
pub(crate) struct AuthFile {
    auths: Option<BTreeMap<String, Entry>>,
    cred_helpers: Option<BTreeMap<String, String>>,
    creds_store: Option<String>,
}

/// What one file says about a registry.
#[derive(Debug)]
pub(crate) enum FileAnswer {
    /// Credentials stored in the file.
    Found(Credentials),
    /// Ask this credential helper, with this server URL.
    Helper { name: String, server_url: String },
    /// Ask the file's `credsStore` helper (docker's default store); a
    /// missing program means no credentials.
    Store {
        name: String,
        server_urls: Vec<String>,
    },
    /// Nothing here.
    Nothing,
}

impl AuthFile {
    /// Reads and parses `path`; a missing file is `None`.
    pub(crate) fn read(path: &AuthPath) -> Result<Option<AuthFile>> {
        match read_bytes(&path.path)? {
            Some(bytes) => AuthFile::parse(path, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Parses the contents of `path`. Shapes are checked as strictly as
    /// Go's JSON decoding does: objects where objects belong, strings where
    /// strings do; unknown fields are ignored.
    pub(crate) fn parse(path: &AuthPath, bytes: &[u8]) -> Result<AuthFile> {
        let malformed = |source| Error::Malformed {
            path: path.path.clone(),
            source,
        };
        let value: Value = serde_json::from_slice(bytes).map_err(malformed)?;
        let Value::Object(top) = value else {
            return Err(malformed(shape_error(
                "the file is not a JSON object".into(),
            )));
        };
        if path.legacy {
            return Ok(AuthFile {
                auths: Some(entries(&top).map_err(malformed)?),
                ..AuthFile::default()
            });
        }
        let auths = match top.get("auths") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(entries(map).map_err(malformed)?),
            Some(_) => return Err(malformed(shape_error("\"auths\" is not an object".into()))),
        };
        let field = |name| top.get(name).filter(|v| !v.is_null());
        let cred_helpers = field("credHelpers")
            .map(BTreeMap::<String, String>::deserialize)
            .transpose()
            .map_err(malformed)?;
        let creds_store = field("credsStore")
            .map(String::deserialize)
            .transpose()
            .map_err(malformed)?;
        Ok(AuthFile {
            auths,
            cred_helpers,
            creds_store,
        })
    }

    /// Looks up `key` (`registry[/namespace…]`) on `registry`, the way
    /// containers/image does within one file: a `credHelpers` entry for
    /// the registry first; then `auths` under the key and each parent
    /// namespace up to the registry, most specific first; then any entry
    /// whose key normalizes to the registry (URL forms such as
    /// `https://index.docker.io/v1/`). Last, as docker does, `credsStore`.
    pub(crate) fn lookup(&self, path: &AuthPath, key: &str, registry: &str) -> Result<FileAnswer> {
        if let Some((name, server_url)) = self.helper_for(registry) {
            return Ok(FileAnswer::Helper { name, server_url });
        }
        if let Some(creds) = self.lookup_auths(path, key, registry)? {
            return Ok(FileAnswer::Found(creds));
        }
        if let Some(name) = self.creds_store.as_ref().filter(|n| !n.is_empty()) {
            let mut server_urls = Vec::new();
            if normalize_registry(registry) == normalize_registry("docker.io") {
                server_urls.push(DOCKER_HUB_KEY.to_owned());
            }
            server_urls.push(registry.to_owned());
            return Ok(FileAnswer::Store {
                name: name.clone(),
                server_urls,
            });
        }
        Ok(FileAnswer::Nothing)
    }

    /// Every `credHelpers` entry: registry key and helper name.
    pub(crate) fn cred_helpers(&self) -> impl Iterator<Item = (&String, &String)> {
        self.cred_helpers.iter().flatten()
    }

    /// The `credHelpers` entry for `registry`: an exact key, or (for
    /// docker's hub key) one that normalizes to it. Returns the helper's
    /// name and the server URL to ask it for.
    pub(crate) fn helper_for(&self, registry: &str) -> Option<(String, String)> {
        let helpers = self.cred_helpers.as_ref()?;
        if let Some(name) = helpers.get(registry) {
            return Some((name.clone(), registry.to_owned()));
        }
        let wanted = normalize_registry(registry);
        helpers
            .iter()
            .find(|(k, _)| normalize_key(k, false) == wanted)
            .map(|(k, name)| (name.clone(), k.clone()))
    }

    fn lookup_auths(
        &self,
        path: &AuthPath,
        key: &str,
        registry: &str,
    ) -> Result<Option<Credentials>> {
        let Some(auths) = &self.auths else {
            return Ok(None);
        };
        // The first present key decides, even when its entry is empty
        // (docker leaves `{}` entries behind when a helper holds the secret).
        for candidate in candidate_keys(key, registry, path.legacy) {
            if let Some(entry) = auths.get(candidate) {
                return decode(&path.path, candidate, entry);
            }
        }
        let wanted = normalize_registry(registry);
        for (k, entry) in auths {
            if normalize_key(k, path.legacy) == wanted {
                return decode(&path.path, k, entry);
            }
        }
        Ok(None)
    }
}

/// The entries of an `auths` object (or a legacy file), each an object.
fn entries(map: &Map<String, Value>) -> serde_json::Result<BTreeMap<String, Entry>> {
    map.iter()
        .map(|(key, value)| match value {
            Value::Object(_) => Entry::deserialize(value).map(|entry| (key.clone(), entry)),
            _ => Err(shape_error(format!("the entry {key:?} is not an object"))),
        })
        .collect()
}

fn shape_error(message: String) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(message)
}

/// The contents of the file at `path`, `None` when there is none.
pub(crate) fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The keys to try for `key`, best first: `quay.io/ns/repo`, `quay.io/ns`,
/// `quay.io`. Legacy files have registry keys only.
pub(crate) fn candidate_keys<'a>(key: &'a str, registry: &'a str, legacy: bool) -> Vec<&'a str> {
    if legacy {
        return vec![registry];
    }
    let mut keys = vec![key];
    let mut rest = key;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        keys.push(parent);
        rest = parent;
    }
    keys
}

/// A file key as a registry host: URL forms (`https://host/v1/`) and
/// legacy keys lose their scheme and path, and docker hub's aliases become
/// `index.docker.io`. Namespaced keys without a scheme stay as they are.
pub(crate) fn normalize_key(key: &str, legacy: bool) -> String {
    let stripped = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"));
    let host = match stripped {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None if legacy => key.split('/').next().unwrap_or(key),
        None => key,
    };
    normalize_registry(host)
}

/// docker hub's host names all become `index.docker.io`.
pub(crate) fn normalize_registry(registry: &str) -> String {
    match registry {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".to_owned(),
        other => other.to_owned(),
    }
}

/// Decodes one entry. `auth` is base64 of `user:password` (NULs trimmed
/// from the password, as containers/image does); an `identitytoken` wins
/// over the password. An entry without a colon or without anything is no
/// credentials, as in docker.
fn decode(path: &Path, key: &str, entry: &Entry) -> Result<Option<Credentials>> {
    let token = entry.identitytoken.as_deref().filter(|t| !t.is_empty());
    let auth = entry.auth.as_deref().unwrap_or("");
    let user_pass = if auth.is_empty() {
        None
    } else {
        let bytes = STANDARD.decode(auth).map_err(|source| Error::Base64 {
            path: path.to_path_buf(),
            key: key.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::AuthNotText {
            path: path.to_path_buf(),
            key: key.to_owned(),
        })?;
        text.split_once(':')
            .map(|(u, p)| (u.to_owned(), p.trim_matches('\0').to_owned()))
    };
    Ok(match (user_pass, token) {
        (user_pass, Some(token)) => Some(Credentials::IdentityToken {
            username: user_pass
                .map(|(u, _)| u)
                .filter(|u| !u.is_empty() && u != TOKEN_USERNAME),
            token: token.to_owned(),
        }),
        (Some((username, password)), None) => Some(Credentials::Basic { username, password }),
        (None, None) => None,
    })
}

/// The `auth` field for `creds`: base64 `user:password`, or `user:` next to
/// an identity token (`<token>:` without a user name, so that readers
/// which need a colon accept the entry), as docker writes it.
pub(crate) fn encode(creds: &Credentials) -> serde_json::Value {
    match creds {
        Credentials::Basic { username, password } => {
            serde_json::json!({ "auth": STANDARD.encode(format!("{username}:{password}")) })
        }
        Credentials::IdentityToken { username, token } => {
            let user = username.as_deref().unwrap_or(TOKEN_USERNAME);
            serde_json::json!({
                "auth": STANDARD.encode(format!("{user}:")),
                "identitytoken": token,
            })
        }
    }
}

/// Checks a credentials key the way containers/image does and says
/// whether it is namespaced (`registry/…`).
pub(crate) fn validate_key(key: &str) -> Result<bool> {
    let invalid = |reason| Error::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if key.starts_with("http://") || key.starts_with("https://") {
        return Err(invalid("it has an http(s):// prefix"));
    }
    if key.contains('@') {
        return Err(invalid("it contains '@'"));
    }
    match key.split_once('/') {
        Some((registry, rest)) => {
            if registry.is_empty() || rest.is_empty() || rest.split('/').any(str::is_empty) {
                return Err(invalid("it has an empty path component"));
            }
            if rest.contains(':') {
                return Err(invalid("it contains ':' after the registry"));
            }
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_go_from_repository_to_registry() {
        assert_eq!(
            candidate_keys("quay.io/ns/sub/img", "quay.io", false),
            [
                "quay.io/ns/sub/img",
                "quay.io/ns/sub",
                "quay.io/ns",
                "quay.io"
            ]
        );
        assert_eq!(candidate_keys("quay.io", "quay.io", false), ["quay.io"]);
        assert_eq!(
            candidate_keys("quay.io/ns/img", "quay.io", true),
            ["quay.io"]
        );
    }

    #[test]
    fn keys_normalize_to_hosts() {
        assert_eq!(
            normalize_key("https://index.docker.io/v1/", false),
            "index.docker.io"
        );
        assert_eq!(
            normalize_key("http://localhost:5000/v1/", false),
            "localhost:5000"
        );
        assert_eq!(normalize_key("https://quay.io", false), "quay.io");
        assert_eq!(normalize_key("docker.io", false), "index.docker.io");
        assert_eq!(
            normalize_key("registry-1.docker.io", false),
            "index.docker.io"
        );
        // Namespaced keys only normalize in legacy files.
        assert_eq!(normalize_key("quay.io/ns", false), "quay.io/ns");
        assert_eq!(normalize_key("quay.io/v1/", true), "quay.io");
    }

    #[test]
    fn keys_are_validated() {
        assert!(!validate_key("localhost:5000").expect("registry"));
        assert!(validate_key("localhost:5000/ns/repo").expect("namespace"));
        for bad in [
            "",
            "https://quay.io",
            "quay.io/repo:tag",
            "quay.io/repo@sha256:00",
            "quay.io//x",
            "quay.io/",
        ] {
            assert!(
                matches!(validate_key(bad), Err(Error::InvalidKey { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn decode_handles_tokens_colons_and_nuls() {
        let p = Path::new("f");
        let entry = |auth: &str, token: &str| Entry {
            auth: Some(auth.to_owned()),
            identitytoken: Some(token.to_owned()),
        };
        let b64 = |s: &str| STANDARD.encode(s);
        assert_eq!(
            decode(p, "k", &entry(&b64("u:p:q\0"), "")).expect("ok"),
            Some(Credentials::basic("u", "p:q"))
        );
        assert_eq!(
            decode(p, "k", &entry(&b64("nocolon"), "")).expect("ok"),
            None
        );
        assert_eq!(decode(p, "k", &entry("", "")).expect("ok"), None);
        assert_eq!(
            decode(p, "k", &entry(&b64("alice:"), "tok")).expect("ok"),
            Some(Credentials::IdentityToken {
                username: Some("alice".into()),
                token: "tok".into()
            })
        );
        assert_eq!(
            decode(p, "k", &entry("", "tok")).expect("ok"),
            Some(Credentials::identity_token("tok"))
        );
        assert!(matches!(
            decode(p, "k", &entry("%%%", "")),
            Err(Error::Base64 { .. })
        ));
        assert!(matches!(
            decode(p, "k", &entry(&STANDARD.encode([0xff, b':']), "")),
            Err(Error::AuthNotText { .. })
        ));
    }

    #[test]
    fn encode_round_trips() {
        let p = Path::new("f");
        for creds in [
            Credentials::basic("u", "p:w"),
            Credentials::identity_token("tok"),
            Credentials::IdentityToken {
                username: Some("bob".into()),
                token: "tok".into(),
            },
        ] {
            let entry: Entry = serde_json::from_value(encode(&creds)).expect("entry");
            assert_eq!(decode(p, "k", &entry).expect("decode"), Some(creds));
        }
    }
}

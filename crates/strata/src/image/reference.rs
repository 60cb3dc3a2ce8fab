//! Image references: parsing names such as `alpine` and normalizing them to
//! the full `docker.io/library/alpine:latest` form, as docker and podman do.
//!
//! The grammar is the one of github.com/distribution/reference (and its copy
//! in containers/image), checked here by small hand-written validators:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [ domain "/" ] path
//! domain           := host [ ":" port ]
//! host             := domain-component ( "." domain-component )* | "[" ipv6 "]"
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! port             := [0-9]+
//! path             := path-component ( "/" path-component )*
//! path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator        := "." | "_" | "__" | "-"+
//! tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! digest           := "sha256:" [a-f0-9]{64}
//! ```
//!
//! Normalization (`ParseNormalizedNamed` followed by `TagNameOnly`):
//! - the first path component is a domain only if it contains `.` or `:` or
//!   is `localhost`; otherwise the domain is `docker.io` (podman's rule;
//!   docker also takes a first component with uppercase letters as a domain);
//! - `index.docker.io` is spelled `docker.io`;
//! - a single-component path on `docker.io` gets the `library/` namespace;
//! - a reference with neither tag nor digest gets the tag `latest`; one with
//!   only a digest gets no tag.
//!
//! The "familiar" form drops `docker.io/` and `library/` again; docker writes
//! it in `docker save` archives (`RepoTags`, `repositories`).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// The registry that names without a domain belong to (Docker Hub).
const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of Docker Hub's registry, normalized to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The Docker Hub namespace of official images, with its trailing slash.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag a reference without tag or digest gets.
const DEFAULT_TAG: &str = "latest";
/// A first component that is a domain although it has no `.` or `:`.
const LOCALHOST: &str = "localhost";
/// Longest normalized name (`domain/path`), in bytes.
const NAME_MAX_LEN: usize = 255;
/// Longest tag, in bytes.
const TAG_MAX_LEN: usize = 128;

/// A normalized image reference: `domain/path[:tag][@digest]`.
///
/// Every value has a domain and at least a tag or a digest; see the module
/// documentation for how short names are completed.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a text is not a valid image reference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The text has no repository name (it is empty, or starts with `:` or `@`).
    #[error("invalid image reference {input:?}: repository name is empty")]
    Empty {
        /// The text that was parsed.
        input: String,
    },
    /// The text is 64 hex digits, which reads as an image ID, not a name.
    #[error(
        "invalid image reference {input:?}: \
         cannot specify 64-byte hexadecimal strings as a repository name"
    )]
    HexOnlyName {
        /// The text that was parsed.
        input: String,
    },
    /// The registry part is not `host[:port]`.
    #[error(
        "invalid image reference {input:?}: invalid registry domain {domain:?} \
         (expected host[:port], the host made of letters, digits, '-' and '.', or [ipv6])"
    )]
    InvalidDomain {
        /// The text that was parsed.
        input: String,
        /// The domain as written.
        domain: String,
    },
    /// A `/`-separated part of the repository path breaks the grammar.
    #[error(
        "invalid image reference {input:?}: invalid path component {component:?} \
         (expected lowercase letters and digits, separated by one '.', one or two '_', or dashes)"
    )]
    InvalidPathComponent {
        /// The text that was parsed.
        input: String,
        /// The offending component (may be empty, as in `a//b`).
        component: String,
    },
    /// The repository path has uppercase letters.
    #[error("invalid image reference {input:?}: repository name {path:?} must be lowercase")]
    Uppercase {
        /// The text that was parsed.
        input: String,
        /// The repository path (normalized: `library/Alpine` for `Alpine`).
        path: String,
    },
    /// The tag breaks the grammar or is too long.
    #[error(
        "invalid image reference {input:?}: invalid tag {tag:?} \
         (expected 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-')"
    )]
    InvalidTag {
        /// The text that was parsed (or, for a new tag, the reference it goes on).
        input: String,
        /// The tag as written.
        tag: String,
    },
    /// The part after `@` is not a `sha256:<64 lowercase hex>` digest.
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidDigest {
        /// The text that was parsed.
        input: String,
        /// What is wrong with the digest.
        reason: String,
    },
    /// The normalized name (`domain/path`) is longer than 255 bytes.
    #[error(
        "invalid image reference {input:?}: \
         repository name must not be more than 255 characters, normalized it has {len}"
    )]
    TooLong {
        /// The text that was parsed.
        input: String,
        /// Length of the normalized name.
        len: usize,
    },
}

/// Parses and normalizes `text`; the same as [`Reference::parse`].
pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
    Reference::parse(text)
}

impl Reference {
    /// Parses `text` and normalizes it: `alpine` becomes
    /// `docker.io/library/alpine:latest`, `user/app@sha256:...` becomes
    /// `docker.io/user/app@sha256:...` (no default tag next to a digest).
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let input = || text.to_string();
        if is_hex_identifier(text) {
            return Err(ReferenceError::HexOnlyName { input: input() });
        }
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(text, digest)?)),
            None => (text, None),
        };
        let (name, tag) = split_tag(name_and_tag);
        if name.is_empty() {
            return Err(ReferenceError::Empty { input: input() });
        }
        if let Some(tag) = tag {
            check_tag(text, tag)?;
        }
        let (domain, path) = split_domain(name);
        check_domain(text, domain)?;
        check_path(text, &path)?;
        let len = domain.len() + 1 + path.len();
        if len > NAME_MAX_LEN {
            return Err(ReferenceError::TooLong {
                input: input(),
                len,
            });
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG),
            (tag, _) => tag,
        };
        Ok(Self {
            domain: domain.to_string(),
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Parses `text` as podman names a local image (its `NormalizeName`):
    /// a name without a registry is put under `localhost/` (`sample:2`
    /// becomes `localhost/sample:2`, `app` becomes
    /// `localhost/app:latest`); a name with one is normalized as
    /// [`Reference::parse`] does. `tag`, `commit` and `import` name images
    /// so.
    pub fn parse_local(text: &str) -> Result<Self, ReferenceError> {
        let parsed = Self::parse(text)?;
        if names_domain(text) {
            return Ok(parsed);
        }
        Self::parse(&format!("{LOCALHOST}/{text}"))
    }

    /// The registry: `docker.io`, `quay.io`, `localhost:5000`, `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry: `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any; `None` only when the reference has a digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name, `domain/path`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as docker shows it: without `docker.io/`, and without
    /// `library/` for official images (`alpine`, `user/app`,
    /// `quay.io/podman/stable`).
    pub fn familiar_repository(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.repository();
        }
        match self.path.strip_prefix(OFFICIAL_PREFIX) {
            Some(name) if !name.contains('/') => name.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The whole reference as docker shows it: `alpine:latest`,
    /// `user/app:1.0`, `quay.io/podman/stable:v5`, `alpine@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_repository();
        self.push_suffix(&mut out);
        out
    }

    /// The same repository (and digest, if any) with tag `tag`.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        check_tag(&self.to_string(), tag)?;
        Ok(Self {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// Appends `:tag` and `@digest`, those that are present.
    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest.as_str());
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.repository();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(text: &str) -> Result<Self, ReferenceError> {
        Self::parse(text)
    }
}

impl TryFrom<String> for Reference {
    type Error = ReferenceError;
    fn try_from(text: String) -> Result<Self, ReferenceError> {
        Self::parse(&text)
    }
}

impl From<Reference> for String {
    fn from(reference: Reference) -> String {
        reference.to_string()
    }
}

/// Whether `text` is exactly 64 lowercase hex digits (an image ID).
fn is_hex_identifier(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_digest(input: &str, digest: &str) -> Result<Digest, ReferenceError> {
    Digest::parse(digest).map_err(|reason| ReferenceError::InvalidDigest {
        input: input.to_string(),
        reason,
    })
}

/// Splits `name[:tag]`: the tag starts at the first `:` after the last `/`,
/// so a registry port (`localhost:5000/app`) is not taken for a tag.
fn split_tag(text: &str) -> (&str, Option<&str>) {
    let last_component = text.rfind('/').map_or(0, |slash| slash + 1);
    match text[last_component..].find(':') {
        Some(colon) => {
            let colon = last_component + colon;
            (&text[..colon], Some(&text[colon + 1..]))
        }
        None => (text, None),
    }
}

/// Splits a name into its domain (normalized) and its path (with
/// `library/` added for single-component Docker Hub names).
fn split_domain(name: &str) -> (&str, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if is_domain_like(first) => (first, rest),
        _ => (DEFAULT_DOMAIN, name),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        (domain, format!("{OFFICIAL_PREFIX}{path}"))
    } else {
        (domain, path.to_string())
    }
}

/// Whether `text` starts with a registry (`quay.io/x`, `localhost/x`,
/// `host:5000/x`), not a name that [`Reference::parse`] would put on
/// Docker Hub.
pub fn names_domain(text: &str) -> bool {
    let name = text.split_once('@').map_or(text, |(name, _)| name);
    name.split_once('/')
        .is_some_and(|(first, _)| is_domain_like(first))
}

/// Whether a first component names a registry rather than a namespace.
fn is_domain_like(component: &str) -> bool {
    component.contains(['.', ':']) || component == LOCALHOST
}

fn check_domain(input: &str, domain: &str) -> Result<(), ReferenceError> {
    let (host, port) = split_port(domain);
    if is_valid_host(host) && port.is_none_or(is_valid_port) {
        return Ok(());
    }
    Err(ReferenceError::InvalidDomain {
        input: input.to_string(),
        domain: domain.to_string(),
    })
}

/// Splits `host[:port]`; a bracketed IPv6 host keeps its brackets and its
/// colons.
fn split_port(domain: &str) -> (&str, Option<&str>) {
    let host_end = if domain.starts_with('[') {
        domain.find(']').map_or(domain.len(), |bracket| bracket + 1)
    } else {
        0
    };
    match domain[host_end..].find(':') {
        Some(colon) => {
            let colon = host_end + colon;
            (&domain[..colon], Some(&domain[colon + 1..]))
        }
        None => (domain, None),
    }
}

/// A domain name (`.`-separated components) or a bracketed IPv6 address.
fn is_valid_host(host: &str) -> bool {
    match host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        Some(ipv6) => is_ipv6_body(ipv6),
        None => host.split('.').all(is_domain_component),
    }
}

/// Hex digits and colons, loosely: zone ids and IPv4-mapped forms are not
/// accepted, as in the reference grammar.
fn is_ipv6_body(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
}

/// `[a-zA-Z0-9]`, or letters, digits and dashes not starting or ending
/// with a dash.
fn is_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_valid_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
}

fn check_path(input: &str, path: &str) -> Result<(), ReferenceError> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase {
            input: input.to_string(),
            path: path.to_string(),
        });
    }
    match path.split('/').find(|c| !is_valid_path_component(c)) {
        Some(component) => Err(ReferenceError::InvalidPathComponent {
            input: input.to_string(),
            component: component.to_string(),
        }),
        None => Ok(()),
    }
}

/// Runs of `[a-z0-9]` joined by single separators (`.`, `_`, `__` or any
/// number of `-`), starting and ending with a run.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|&b| is_path_alnum(b));
    edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .chunk_by(|a, b| is_path_alnum(*a) == is_path_alnum(*b))
            .all(|run| run.iter().all(|&b| is_path_alnum(b)) || is_path_separator(run))
}

fn is_path_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_path_separator(run: &[u8]) -> bool {
    matches!(run, b"." | b"_" | b"__") || run.iter().all(|&b| b == b'-')
}

fn check_tag(input: &str, tag: &str) -> Result<(), ReferenceError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let valid = tag.len() <= TAG_MAX_LEN
        && tag.as_bytes().first().is_some_and(|&b| word(b))
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if valid {
        return Ok(());
    }
    Err(ReferenceError::InvalidTag {
        input: input.to_string(),
        tag: tag.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    fn parsed(text: &str) -> Reference {
        match parse(text) {
            Ok(reference) => reference,
            Err(err) => panic!("{text:?} should parse: {err}"),
        }
    }

    fn rejected(text: &str) -> ReferenceError {
        match parse(text) {
            Ok(reference) => panic!("{text:?} should be rejected, parsed as {reference}"),
            Err(err) => err,
        }
    }

    #[test]
    fn normalizes_to_full_form() {
        let digest = format!("sha256:{HEX}");
        let cases: Vec<(String, String)> = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.20", "docker.io/library/alpine:3.20"),
            ("user/app", "docker.io/user/app:latest"),
            ("user/app:v1", "docker.io/user/app:v1"),
            ("a/b/c", "docker.io/a/b/c:latest"),
            ("docker.io/alpine", "docker.io/library/alpine:latest"),
            (
                "docker.io/library/alpine",
                "docker.io/library/alpine:latest",
            ),
            ("index.docker.io/alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io/user/app:1", "docker.io/user/app:1"),
            ("localhost/x:1", "localhost/x:1"),
            ("localhost/x", "localhost/x:latest"),
            ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
            ("localhost:5000/a:tag", "localhost:5000/a:tag"),
            ("quay.io/podman/stable:v5", "quay.io/podman/stable:v5"),
            ("example.com/x", "example.com/x:latest"),
            ("registry:5000/app", "registry:5000/app:latest"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
            ("[::1]/app", "[::1]/app:latest"),
            ("[2001:db8::1]:5000/app:1", "[2001:db8::1]:5000/app:1"),
            ("Example.COM/app", "Example.COM/app:latest"),
            (
                "my-reg.example.com/ns/app",
                "my-reg.example.com/ns/app:latest",
            ),
            // No slash: the text after ':' is a tag, not a port.
            ("test.com:5000", "docker.io/library/test.com:5000"),
            ("localhost:5000", "docker.io/library/localhost:5000"),
            ("localhost", "docker.io/library/localhost:latest"),
            ("test_com", "docker.io/library/test_com:latest"),
            ("a__b-c---d/e_f.g", "docker.io/a__b-c---d/e_f.g:latest"),
            (
                "alpine:Latest_1.0-rc",
                "docker.io/library/alpine:Latest_1.0-rc",
            ),
            ("alpine:_x", "docker.io/library/alpine:_x"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .chain([
            (
                format!("alpine@{digest}"),
                format!("docker.io/library/alpine@{digest}"),
            ),
            (
                format!("alpine:3@{digest}"),
                format!("docker.io/library/alpine:3@{digest}"),
            ),
            (
                format!("localhost:5000/app@{digest}"),
                format!("localhost:5000/app@{digest}"),
            ),
            (
                format!("docker.io/library/{HEX}"),
                format!("docker.io/library/{HEX}:latest"),
            ),
            (
                HEX[1..].to_string(),
                format!("docker.io/library/{}:latest", &HEX[1..]),
            ),
        ])
        .collect();
        for (input, expected) in cases {
            let reference = parsed(&input);
            assert_eq!(reference.to_string(), expected, "input {input:?}");
            assert_eq!(parsed(&expected), reference, "reparse of {expected:?}");
        }
    }

    #[test]
    fn exposes_parts() {
        let reference = parsed("alpine");
        assert_eq!(reference.domain(), "docker.io");
        assert_eq!(reference.path(), "library/alpine");
        assert_eq!(reference.tag(), Some("latest"));
        assert_eq!(reference.digest(), None);
        assert_eq!(reference.repository(), "docker.io/library/alpine");

        let reference = parsed("localhost:5000/a/b:1.0");
        assert_eq!(reference.domain(), "localhost:5000");
        assert_eq!(reference.path(), "a/b");
        assert_eq!(reference.tag(), Some("1.0"));
        assert_eq!(reference.repository(), "localhost:5000/a/b");
    }

    #[test]
    fn digest_without_tag_gets_no_default_tag() {
        let reference = parsed(&format!("user/app@sha256:{HEX}"));
        assert_eq!(reference.tag(), None);
        assert_eq!(
            reference.digest().map(Digest::hex),
            Some(HEX),
            "digest kept"
        );
        let reference = parsed(&format!("user/app:v2@sha256:{HEX}"));
        assert_eq!(reference.tag(), Some("v2"));
        assert_eq!(
            reference.digest().map(Digest::as_str),
            Some(format!("sha256:{HEX}").as_str())
        );
    }

    /// The variant name, so tables can say which rejection they expect.
    fn kind(err: &ReferenceError) -> &'static str {
        match err {
            ReferenceError::Empty { .. } => "empty",
            ReferenceError::HexOnlyName { .. } => "hex",
            ReferenceError::InvalidDomain { .. } => "domain",
            ReferenceError::InvalidPathComponent { .. } => "path",
            ReferenceError::Uppercase { .. } => "uppercase",
            ReferenceError::InvalidTag { .. } => "tag",
            ReferenceError::InvalidDigest { .. } => "digest",
            ReferenceError::TooLong { .. } => "too long",
        }
    }

    #[test]
    fn rejects_invalid_references() {
        let too_long = "a".repeat(256);
        let long_tag = format!("alpine:{}", "t".repeat(129));
        let cases = [
            ("", "empty"),
            (":tag", "empty"),
            ("@sha256:x", "digest"),
            (HEX, "hex"),
            ("Alpine", "uppercase"),
            ("user/App", "uppercase"),
            // podman's rule; docker would take "Foo" for a registry.
            ("Foo/bar", "uppercase"),
            ("localhost:5000/Foo", "uppercase"),
            ("alpine:", "tag"),
            ("a:b:c", "tag"),
            ("alpine:.x", "tag"),
            ("alpine:-x", "tag"),
            ("alpine:a+b", "tag"),
            (&long_tag, "tag"),
            ("a//b", "path"),
            ("-a", "path"),
            ("a-", "path"),
            ("_a", "path"),
            ("a..b", "path"),
            ("a___b", "path"),
            ("a._b", "path"),
            ("a-.b", "path"),
            ("a/", "path"),
            ("/a", "path"),
            ("alpine latest", "path"),
            ("alp\u{ef}ne", "path"),
            ("example.com/", "path"),
            ("alpine@sha256:abc", "digest"),
            ("alpine@", "digest"),
            ("alpine@md5:0123456789abcdef0123456789abcdef", "digest"),
            ("exa_mple.com/app", "domain"),
            ("-bad.com/app", "domain"),
            ("bad-.com/app", "domain"),
            ("a..com/app", "domain"),
            ("host:port/app", "domain"),
            ("host:/app", "domain"),
            ("host:50:00/app", "domain"),
            ("[::1/app", "domain"),
            ("[]:5000/app", "domain"),
            ("[zz::1]/app", "domain"),
            ("[::1]x:5000/app", "domain"),
            (&too_long, "too long"),
        ];
        for (input, expected) in cases {
            let err = rejected(input);
            assert_eq!(kind(&err), expected, "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn name_length_counts_the_normalized_name() {
        // "docker.io/library/" is 18 bytes: 237 more make exactly 255.
        assert_eq!(parsed(&"a".repeat(237)).repository().len(), 255);
        assert!(matches!(
            rejected(&"a".repeat(238)),
            ReferenceError::TooLong { len: 256, .. }
        ));
        let path = format!("ns/{}", "b".repeat(252));
        assert!(matches!(
            rejected(&format!("example.com/{path}")),
            ReferenceError::TooLong { .. }
        ));
    }

    #[test]
    fn tag_may_have_128_characters() {
        let tag = "t".repeat(128);
        assert_eq!(parsed(&format!("alpine:{tag}")).tag(), Some(tag.as_str()));
    }

    #[test]
    fn errors_name_the_input_and_the_problem() {
        let message = rejected("Alpine").to_string();
        assert!(message.contains("\"Alpine\""), "{message}");
        assert!(message.contains("must be lowercase"), "{message}");

        let message = rejected("a//b").to_string();
        assert!(message.contains("\"a//b\""), "{message}");
        assert!(message.contains("invalid path component \"\""), "{message}");

        let message = rejected("alpine:-x").to_string();
        assert!(message.contains("invalid tag \"-x\""), "{message}");

        let message = rejected("bad_host.io/app").to_string();
        assert!(
            message.contains("invalid registry domain \"bad_host.io\""),
            "{message}"
        );

        let message = rejected("alpine@sha256:abc").to_string();
        assert!(message.contains("\"alpine@sha256:abc\""), "{message}");
        assert!(message.contains("64 lowercase hex"), "{message}");

        let message = rejected(HEX).to_string();
        assert!(message.contains("64-byte hexadecimal"), "{message}");
    }

    #[test]
    fn familiar_form_drops_docker_hub_prefixes() {
        let digest = format!("sha256:{HEX}");
        let cases = [
            ("alpine".to_string(), "alpine:latest".to_string(), "alpine"),
            (
                "docker.io/library/alpine:3".into(),
                "alpine:3".into(),
                "alpine",
            ),
            ("user/app:tag".into(), "user/app:tag".into(), "user/app"),
            (
                "library/a/b".into(),
                "library/a/b:latest".into(),
                "library/a/b",
            ),
            (
                "quay.io/podman/stable:v5".into(),
                "quay.io/podman/stable:v5".into(),
                "quay.io/podman/stable",
            ),
            (
                "localhost/x:1".into(),
                "localhost/x:1".into(),
                "localhost/x",
            ),
            (
                "quay.io/app".into(),
                "quay.io/app:latest".into(),
                "quay.io/app",
            ),
            (
                format!("alpine@{digest}"),
                format!("alpine@{digest}"),
                "alpine",
            ),
        ];
        for (input, familiar, repository) in cases {
            let reference = parsed(&input);
            assert_eq!(reference.familiar(), familiar, "input {input:?}");
            assert_eq!(
                reference.familiar_repository(),
                repository,
                "input {input:?}"
            );
            assert_eq!(
                parsed(&familiar),
                reference,
                "familiar {familiar:?} reparses"
            );
        }
    }

    #[test]
    fn with_tag_replaces_the_tag_and_keeps_the_digest() {
        let reference = parsed("alpine:3").with_tag("edge");
        assert_eq!(
            reference.ok().map(|r| r.to_string()),
            Some("docker.io/library/alpine:edge".to_string())
        );

        let pinned = parsed(&format!("alpine@sha256:{HEX}"));
        let tagged = pinned.with_tag("3");
        assert_eq!(
            tagged.ok().map(|r| r.to_string()),
            Some(format!("docker.io/library/alpine:3@sha256:{HEX}"))
        );

        for bad in ["", "-x", "a:b", &"t".repeat(129)] {
            match parsed("alpine").with_tag(bad) {
                Err(ReferenceError::InvalidTag { tag, .. }) => assert_eq!(tag, bad),
                other => panic!("tag {bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn from_str_and_serde_use_the_string_form() {
        let reference: Reference = match "user/app:1".parse() {
            Ok(reference) => reference,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(reference, parsed("docker.io/user/app:1"));

        let json = serde_json::to_string(&reference).ok();
        assert_eq!(json.as_deref(), Some("\"docker.io/user/app:1\""));

        let back: Option<Reference> = serde_json::from_str("\"alpine\"").ok();
        assert_eq!(back, Some(parsed("docker.io/library/alpine:latest")));
        assert!(serde_json::from_str::<Reference>("\"Alpine\"").is_err());
        assert!("a//b".parse::<Reference>().is_err());
    }
}

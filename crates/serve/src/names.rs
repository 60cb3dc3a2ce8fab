//! What a request may name, checked before anything else looks at it:
//! repository names by the distribution grammar, tags, and digests. No
//! text from a request reaches the store or the file system unless it
//! passed one of these.

use strata::digest::Digest;
use strata::registry::is_repository_component;

use crate::reply::ApiError;

/// The longest repository name served, as the reference registry limits it.
pub const MAX_NAME: usize = 255;

/// The longest tag (the distribution grammar allows 128 characters).
const MAX_TAG: usize = 128;

/// A repository name that passed the distribution grammar:
/// `component ("/" component)*`, each component lowercase letters and
/// digits, inner separators `.`, `_`, `__` or runs of `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName(String);

impl RepoName {
    /// Checks `text` against the grammar.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let invalid = |why: &str| ApiError::name_invalid(text, why);
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.len() > MAX_NAME {
            return Err(invalid(&format!("it is longer than {MAX_NAME} characters")));
        }
        if !text.split('/').all(is_repository_component) {
            return Err(invalid(
                "each component must be lowercase letters and digits, separated by '.', '_', '__' or '-'",
            ));
        }
        Ok(Self(text.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a manifest request asks for: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    /// A tag, `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl std::fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tag(tag) => f.write_str(tag),
            Self::Digest(digest) => f.write_str(digest.as_str()),
        }
    }
}

impl ManifestRef {
    /// A digest when `text` has a `:`, else a tag.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        if text.contains(':') {
            return parse_digest(text).map(Self::Digest);
        }
        if valid_tag(text) {
            Ok(Self::Tag(text.to_string()))
        } else {
            Err(ApiError::tag_invalid(text))
        }
    }
}

/// Whether `tag` is `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    match bytes.split_first() {
        Some((first, rest)) => {
            bytes.len() <= MAX_TAG
                && word(first)
                && rest.iter().all(|b| word(b) || *b == b'.' || *b == b'-')
        }
        None => false,
    }
}

/// A digest from a request: the OCI grammar `algorithm ":" encoded`,
/// and of the one algorithm strata stores, sha256 (64 lowercase hex).
pub fn parse_digest(text: &str) -> Result<Digest, ApiError> {
    let Some((algorithm, encoded)) = text.split_once(':') else {
        return Err(ApiError::digest_invalid(
            text,
            "it is not ALGORITHM:ENCODED",
        ));
    };
    if !valid_algorithm(algorithm) || !valid_encoded(encoded) {
        return Err(ApiError::digest_invalid(
            text,
            "it does not follow the digest grammar",
        ));
    }
    if algorithm != "sha256" {
        return Err(ApiError::digest_invalid(
            text,
            "only sha256 digests are served",
        ));
    }
    Digest::parse(text).map_err(|why| ApiError::digest_invalid(text, &why))
}

/// `[a-z0-9]+([+._-][a-z0-9]+)*`.
fn valid_algorithm(text: &str) -> bool {
    text.split(['+', '.', '_', '-']).all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// `[a-zA-Z0-9=_-]+`.
fn valid_encoded(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_distribution_grammar() {
        for good in [
            "a",
            "library/alpine",
            "ns/app",
            "a.b/c__d/e---f",
            "docker.io/library/x",
            "0",
        ] {
            assert!(RepoName::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in [
            "",
            "/",
            "a/",
            "/a",
            "a//b",
            "A",
            "Library/alpine",
            "..",
            "../etc",
            "a/../b",
            "%2e%2e",
            "a_",
            "-a",
            "a___b",
            "a.-b",
            "a:b",
            "a b",
            "a\0b",
            &long,
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tags_and_digests() {
        assert!(valid_tag("1") && valid_tag("_x.Y-z") && valid_tag(&"a".repeat(128)));
        for bad in ["", ".a", "-a", "a/b", "a%2f", &"a".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
        let hex = "a".repeat(64);
        assert!(parse_digest(&format!("sha256:{hex}")).is_ok());
        for bad in [
            format!("sha256:{}", "A".repeat(64)),
            "sha256:abc".to_string(),
            format!("sha512:{}", "a".repeat(128)),
            format!("SHA256:{hex}"),
            format!("sha256:{hex}/../x"),
            "sha256:".to_string(),
            "nocolon".to_string(),
        ] {
            assert!(parse_digest(&bad).is_err(), "{bad}");
        }
    }
}

//! Request paths to endpoints. The repository name is the text between
//! `/v2/` and the endpoint's fixed part; since neither a tag, a digest
//! nor `list` has a `/`, the endpoint is found from the end of the path.
//! Nothing here is validated: [`crate::names`] does that next.

/// An endpoint of the distribution API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/v2/`.
    Base,
    /// `/v2/<name>/manifests/<reference>`.
    Manifest { name: &'a str, reference: &'a str },
    /// `/v2/<name>/blobs/<digest>`.
    Blob { name: &'a str, digest: &'a str },
    /// `/v2/<name>/blobs/uploads/` (a new upload) or
    /// `/v2/<name>/blobs/uploads/<session>`.
    Upload {
        name: &'a str,
        session: Option<&'a str>,
    },
    /// `/v2/<name>/tags/list`.
    Tags { name: &'a str },
    /// `/v2/<name>/referrers/<digest>`.
    Referrers { name: &'a str, digest: &'a str },
    /// `/token`: bearer tokens, with `--htpasswd`.
    Token,
    /// Anything else.
    Unknown,
}

impl<'a> Route<'a> {
    /// The endpoint `path` (without its query) names.
    pub fn of(path: &'a str) -> Self {
        if path == "/v2" || path == "/v2/" {
            return Route::Base;
        }
        if path == "/token" {
            return Route::Token;
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Route::Unknown;
        };
        if let Some(name) = rest
            .strip_suffix("/blobs/uploads/")
            .or_else(|| rest.strip_suffix("/blobs/uploads"))
        {
            return Route::Upload {
                name,
                session: None,
            };
        }
        if let Some((name, session)) = rest.rsplit_once("/blobs/uploads/") {
            return Route::Upload {
                name,
                session: Some(session),
            };
        }
        let Some((head, last)) = rest.rsplit_once('/') else {
            return Route::Unknown;
        };
        let Some((name, kind)) = head.rsplit_once('/') else {
            return Route::Unknown;
        };
        match (kind, last) {
            ("manifests", reference) => Route::Manifest { name, reference },
            ("blobs", digest) => Route::Blob { name, digest },
            ("tags", "list") => Route::Tags { name },
            ("referrers", digest) => Route::Referrers { name, digest },
            _ => Route::Unknown,
        }
    }

    /// The repository the route is about, if any.
    pub fn repository(&self) -> Option<&'a str> {
        match self {
            Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. }
            | Route::Tags { name } => Some(name),
            _ => None,
        }
    }

    /// What a method other than `GET` and `HEAD` would do here, to say
    /// it is not served: `pushes` or `deletes`.
    pub fn writes(&self, method: &str) -> &'static str {
        match (self, method) {
            (Route::Upload { .. }, _) => "pushes",
            (_, "DELETE") => "deletes",
            (Route::Manifest { .. } | Route::Blob { .. }, _) => "pushes",
            _ => "methods other than GET and HEAD",
        }
    }
}

/// The value of `key` in `query` (`a=1&b=2`), as sent.
pub fn query_value<'q>(query: Option<&'q str>, key: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The value of `key` in `query`, percent-decoded (`sha256%3A...` is
/// `sha256:...`); `None` when absent or not UTF-8 once decoded.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    let raw = query_value(query, key)?.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (raw[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_from_the_end() {
        assert_eq!(Route::of("/v2/"), Route::Base);
        assert_eq!(
            Route::of("/v2/a/manifests/b/manifests/1"),
            Route::Manifest {
                name: "a/manifests/b",
                reference: "1"
            }
        );
        assert_eq!(
            Route::of("/v2/ns/app/blobs/sha256:x"),
            Route::Blob {
                name: "ns/app",
                digest: "sha256:x"
            }
        );
        assert_eq!(
            Route::of("/v2/ns/app/tags/list"),
            Route::Tags { name: "ns/app" }
        );
        assert_eq!(
            Route::of("/v2/ns/app/blobs/uploads/"),
            Route::Upload {
                name: "ns/app",
                session: None
            }
        );
        assert_eq!(
            Route::of("/v2/ns/app/blobs/uploads/abc"),
            Route::Upload {
                name: "ns/app",
                session: Some("abc")
            }
        );
        assert_eq!(
            Route::of("/v2/ns/app/referrers/sha256:x"),
            Route::Referrers {
                name: "ns/app",
                digest: "sha256:x"
            }
        );
        for unknown in ["/", "/v1/", "/v2/x", "/v2/x/tags/all", "/v2//manifests"] {
            assert!(
                matches!(Route::of(unknown), Route::Unknown | Route::Manifest { .. }),
                "{unknown}"
            );
        }
        assert_eq!(Route::of("/v2/x/tags/all"), Route::Unknown);
    }

    #[test]
    fn query_values() {
        assert_eq!(query_value(Some("n=2&last=b"), "last"), Some("b"));
        assert_eq!(query_value(Some("n"), "n"), Some(""));
        assert_eq!(query_value(None, "n"), None);
    }

    #[test]
    fn query_params_are_percent_decoded() {
        let query = Some("digest=sha256%3Aab&from=a%2Fb&bad=%zz&plus=a+b");
        assert_eq!(query_param(query, "digest").as_deref(), Some("sha256:ab"));
        assert_eq!(query_param(query, "from").as_deref(), Some("a/b"));
        assert_eq!(query_param(query, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_param(query, "plus").as_deref(), Some("a b"));
        assert_eq!(query_param(Some("d=%ff"), "d"), None);
    }
}

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
    /// `/v2/<name>/blobs/uploads/...`.
    Upload,
    /// `/v2/<name>/tags/list`.
    Tags { name: &'a str },
    /// `/v2/<name>/referrers/<digest>`.
    Referrers,
    /// Anything else.
    Unknown,
}

impl<'a> Route<'a> {
    /// The endpoint `path` (without its query) names.
    pub fn of(path: &'a str) -> Self {
        if path == "/v2" || path == "/v2/" {
            return Route::Base;
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Route::Unknown;
        };
        if rest.contains("/blobs/uploads/") || rest.ends_with("/blobs/uploads") {
            return Route::Upload;
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
            ("referrers", _) => Route::Referrers,
            _ => Route::Unknown,
        }
    }

    /// What a method other than `GET` and `HEAD` would do here, to say
    /// it is not served: `pushes` or `deletes`.
    pub fn writes(&self, method: &str) -> &'static str {
        match (self, method) {
            (_, "DELETE") => "deletes",
            (Route::Upload | Route::Manifest { .. } | Route::Blob { .. }, _) => "pushes",
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
        assert_eq!(Route::of("/v2/ns/app/blobs/uploads/"), Route::Upload);
        assert_eq!(Route::of("/v2/ns/app/blobs/uploads/abc"), Route::Upload);
        assert_eq!(Route::of("/v2/ns/app/referrers/sha256:x"), Route::Referrers);
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
}

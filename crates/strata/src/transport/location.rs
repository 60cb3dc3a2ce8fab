//! Where images are copied from and to, named as skopeo names them:
//! `docker-archive:PATH[:REF]`, `oci:DIR[:REF]`, `oci-archive:PATH[:REF]`
//! `strata:REF` (this store; skopeo's `containers-storage:REF` is taken
//! as a synonym) and `docker://REF` (an image in a registry). A path
//! cannot contain `:`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Error;

/// A place images live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A `docker save` archive; REF selects or names an image (`name:tag` or `@N`).
    DockerArchive {
        /// The archive.
        path: PathBuf,
        /// The image in it.
        reference: Option<String>,
    },
    /// An OCI image layout directory; REF is an index entry's ref name.
    Oci {
        /// The layout.
        dir: PathBuf,
        /// The image in it.
        reference: Option<String>,
    },
    /// A tarred OCI image layout.
    OciArchive {
        /// The archive.
        path: PathBuf,
        /// The image in it.
        reference: Option<String>,
    },
    /// This store (`strata:REF`, or `containers-storage:REF`); REF is an
    /// image id, id prefix or name.
    Strata {
        /// The image.
        reference: String,
    },
    /// An image in a registry (`docker://REF`): REF is a reference as
    /// `strata pull` takes it (`localhost:5000/app:1`, `alpine`,
    /// `host/app@sha256:…`).
    Docker {
        /// The reference, as given.
        reference: String,
    },
}

impl FromStr for Location {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "invalid location {text:?}: {why} (want docker-archive:PATH[:REF], \
                 oci:DIR[:REF], oci-archive:PATH[:REF], strata:REF or docker://REF)"
            ))
        };
        if let Some(reference) = text.strip_prefix("docker://") {
            crate::image::reference::parse(reference)
                .map_err(|e| bad(&format!("bad image reference: {e}")))?;
            return Ok(Location::Docker {
                reference: reference.to_string(),
            });
        }
        let (transport, rest) = text.split_once(':').ok_or_else(|| bad("no transport"))?;
        let (path, reference) = match rest.split_once(':') {
            Some((path, reference)) => (path, Some(reference.to_string())),
            None => (rest, None),
        };
        if transport != "strata" && path.is_empty() {
            return Err(bad("no path"));
        }
        if reference.as_deref() == Some("") {
            return Err(bad("empty reference"));
        }
        let path = PathBuf::from(path);
        match transport {
            "docker-archive" => Ok(Location::DockerArchive { path, reference }),
            "oci" => Ok(Location::Oci {
                dir: path,
                reference,
            }),
            "oci-archive" => Ok(Location::OciArchive { path, reference }),
            "strata" | "containers-storage" if !rest.is_empty() => Ok(Location::Strata {
                reference: rest.to_string(),
            }),
            "strata" | "containers-storage" => Err(bad("no image")),
            _ => Err(bad(&format!("unknown transport {transport:?}"))),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with = |f: &mut fmt::Formatter<'_>, kind: &str, path: &PathBuf, r: &Option<String>| {
            write!(f, "{kind}:{}", path.display())?;
            match r {
                Some(r) => write!(f, ":{r}"),
                None => Ok(()),
            }
        };
        match self {
            Location::DockerArchive { path, reference } => {
                with(f, "docker-archive", path, reference)
            }
            Location::Oci { dir, reference } => with(f, "oci", dir, reference),
            Location::OciArchive { path, reference } => with(f, "oci-archive", path, reference),
            Location::Strata { reference } => write!(f, "strata:{reference}"),
            Location::Docker { reference } => write!(f, "docker://{reference}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_skopeo_names() {
        let loc: Location = "docker-archive:/tmp/a.tar:alpine:3".parse().expect("ok");
        assert_eq!(
            loc,
            Location::DockerArchive {
                path: "/tmp/a.tar".into(),
                reference: Some("alpine:3".into())
            }
        );
        let loc: Location = "oci:dir".parse().expect("ok");
        assert_eq!(
            loc,
            Location::Oci {
                dir: "dir".into(),
                reference: None
            }
        );
        let loc: Location = "strata:localhost/x:1".parse().expect("ok");
        assert_eq!(loc.to_string(), "strata:localhost/x:1");
        let loc: Location = "containers-storage:localhost/x:1".parse().expect("ok");
        assert_eq!(loc.to_string(), "strata:localhost/x:1");
        let loc: Location = "docker://localhost:5000/x:1".parse().expect("ok");
        assert_eq!(
            loc,
            Location::Docker {
                reference: "localhost:5000/x:1".into()
            }
        );
        assert_eq!(loc.to_string(), "docker://localhost:5000/x:1");
        for bad in [
            "docker://",
            "docker://UPPER/x",
            "nothing",
            "docker:x",
            "oci:",
            "strata:",
            "containers-storage:",
            "oci-archive:a.tar:",
        ] {
            assert!(bad.parse::<Location>().is_err(), "{bad}");
        }
    }
}

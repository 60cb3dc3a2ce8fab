//! Where an image's files come from when loading: the members of an
//! archive or the files of an OCI layout directory, named by their path
//! relative to its root. Paths are checked before use: nothing outside the
//! root can be named, directly or through a symlink.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::image::manifest::{check_json_size, malformed};

/// Files addressed by relative path.
pub(crate) trait Source: Sync {
    /// Whether `path` names a regular file (after following links).
    fn has(&self, path: &str) -> bool;
    /// Length of the file `path`.
    fn size(&self, path: &str) -> Result<u64>;
    /// Opens the file `path`.
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>>;

    /// Reads a JSON document, refusing one larger than strata reads.
    fn read_json(&self, path: &str, what: &str) -> Result<Vec<u8>> {
        check_json_size(what, self.size(path)?)?;
        let mut bytes = Vec::new();
        self.open(path)?
            .read_to_end(&mut bytes)
            .context(|| format!("cannot read {what}"))?;
        Ok(bytes)
    }
}

/// Cleans a relative path: no leading `./`, no empty or `.` components,
/// no trailing `/`; an absolute path or a `..` that leaves the root is
/// an error naming `what`.
pub(crate) fn clean_path(path: &str, what: &str) -> Result<String> {
    if path.starts_with('/') {
        return Err(malformed(what, format!("{path:?} is an absolute path")));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(malformed(
                        what,
                        format!("{path:?} leads outside the archive"),
                    ));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// The path a symlink at `link` pointing to `target` reaches, confined to
/// the root.
pub(crate) fn link_destination(link: &str, target: &str) -> Result<String> {
    let what = format!("symlink {link}");
    if target.starts_with('/') {
        return Err(malformed(
            &what,
            format!("it points to the absolute path {target:?}"),
        ));
    }
    let dir = link.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
    clean_path(&format!("{dir}/{target}"), &what).map_err(|_| {
        malformed(
            &what,
            format!("its target {target:?} leads outside the archive"),
        )
    })
}

/// An OCI layout directory on disk.
pub(crate) struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Reads the layout at `root`.
    pub(crate) fn new(root: &Path) -> Result<Self> {
        let root = root
            .canonicalize()
            .context(|| format!("cannot open {}", root.display()))?;
        Ok(Self { root })
    }

    /// The real path of `path`, checked to be inside the root.
    fn resolve(&self, path: &str) -> Result<PathBuf> {
        let what = format!("{} in {}", path, self.root.display());
        let clean = clean_path(path, &what)?;
        let full = self.root.join(&clean);
        let real = full
            .canonicalize()
            .context(|| format!("cannot open {}", full.display()))?;
        if !real.starts_with(&self.root) {
            return Err(malformed(
                &what,
                "it leads outside the layout through a symlink",
            ));
        }
        Ok(real)
    }
}

impl Source for DirSource {
    fn has(&self, path: &str) -> bool {
        self.resolve(path).map(|p| p.is_file()).unwrap_or(false)
    }

    fn size(&self, path: &str) -> Result<u64> {
        let real = self.resolve(path)?;
        let meta =
            std::fs::metadata(&real).context(|| format!("cannot stat {}", real.display()))?;
        if !meta.is_file() {
            return Err(Error::Malformed {
                what: real.display().to_string(),
                reason: "it is not a regular file".into(),
            });
        }
        Ok(meta.len())
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        let real = self.resolve(path)?;
        let file = File::open(&real).context(|| format!("cannot open {}", real.display()))?;
        Ok(Box::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(clean_path("./a//b/./c/", "x").expect("ok"), "a/b/c");
        assert_eq!(clean_path("a/../b", "x").expect("ok"), "b");
        assert!(clean_path("../a", "x").is_err());
        assert!(clean_path("/etc/passwd", "x").is_err());
        assert_eq!(
            link_destination("d/layer.tar", "../e/layer.tar").expect("ok"),
            "e/layer.tar"
        );
        assert!(link_destination("d/layer.tar", "../../x").is_err());
        assert!(link_destination("d/layer.tar", "/etc/shadow").is_err());
    }
}

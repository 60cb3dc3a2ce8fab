//! Choosing an image from a multi-platform index: `os/arch[/variant]` as
//! podman's `--platform` takes it, this host's platform by default.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::image::descriptor::{Descriptor, Platform};

/// A platform asked for: `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    /// Operating system.
    pub os: String,
    /// CPU architecture, as Go names it.
    pub architecture: String,
    /// CPU variant, when asked for.
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// This host: linux on this CPU.
    pub fn host() -> Self {
        Self {
            os: "linux".into(),
            architecture: Platform::host_architecture().into(),
            variant: None,
        }
    }

    /// Whether an index entry's platform is this one. Without a variant
    /// asked for, any variant matches; arm64's `v8` is its default.
    fn matches(&self, platform: &Platform) -> bool {
        if platform.os != self.os || platform.architecture != self.architecture {
            return false;
        }
        match (&self.variant, &platform.variant) {
            (None, _) => true,
            (Some(wanted), Some(found)) => wanted == found,
            (Some(wanted), None) => self.architecture == "arm64" && wanted == "v8",
        }
    }

    /// The entry of `entries` for this platform: an exact variant first.
    pub(crate) fn choose<'a>(
        &self,
        entries: &'a [Descriptor],
        what: &str,
    ) -> Result<&'a Descriptor> {
        let candidates: Vec<&Descriptor> = entries
            .iter()
            .filter(|d| d.platform.as_ref().is_some_and(|p| self.matches(p)))
            .collect();
        let exact = candidates.iter().find(|d| {
            d.platform.as_ref().and_then(|p| p.variant.as_ref()) == self.variant.as_ref()
        });
        if let Some(entry) = exact.or(candidates.first()) {
            return Ok(entry);
        }
        let offered: Vec<String> = entries
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect();
        Err(Error::Malformed {
            what: what.to_string(),
            reason: format!(
                "it has no image for {self}; it offers {}",
                if offered.is_empty() {
                    "no platforms".to_string()
                } else {
                    offered.join(", ")
                }
            ),
        })
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for PlatformSpec {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || Error::Invalid(format!("{text:?} is not a platform (os/arch[/variant])"));
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::of("application/vnd.oci.image.manifest.v1+json", &[n]);
        d.platform = Some(Platform {
            architecture: arch.into(),
            os: os.into(),
            variant: variant.map(str::to_string),
        });
        d
    }

    #[test]
    fn choice_and_refusal() {
        let entries = vec![
            entry("linux", "amd64", None, 1),
            entry("linux", "arm", Some("v6"), 2),
            entry("linux", "arm", Some("v7"), 3),
            entry("linux", "arm64", None, 4),
        ];
        let pick = |spec: &str| {
            let spec: PlatformSpec = spec.parse().expect("spec");
            spec.choose(&entries, "index").map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64").ok(), Some(entries[0].digest.clone()));
        assert_eq!(pick("linux/arm/v7").ok(), Some(entries[2].digest.clone()));
        assert_eq!(pick("linux/arm64/v8").ok(), Some(entries[3].digest.clone()));
        let error = pick("linux/s390x").expect_err("none");
        assert!(error.to_string().contains("linux/arm/v6"), "{error}");
        assert!("linux".parse::<PlatformSpec>().is_err());
        assert!("linux//v7".parse::<PlatformSpec>().is_err());
    }
}

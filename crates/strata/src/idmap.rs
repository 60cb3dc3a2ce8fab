//! User and group id mappings between a container's view and the host's,
//! as in user namespaces: `container_id..container_id+size` maps to
//! `host_id..host_id+size`.

use serde::{Deserialize, Serialize};

/// One contiguous range of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// First id inside the container.
    pub container_id: u32,
    /// First id on the host.
    pub host_id: u32,
    /// Number of ids in the range.
    pub size: u32,
}

/// A mapping: a list of ranges. Empty means identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdMap(pub Vec<IdRange>);

impl IdMap {
    /// Whether this is the identity mapping.
    pub fn is_identity(&self) -> bool {
        self.0.is_empty()
    }

    /// The host id for a container id; `None` when no range covers it.
    pub fn to_host(&self, id: u32) -> Option<u32> {
        if self.is_identity() {
            return Some(id);
        }
        self.0.iter().find_map(|r| {
            let offset = id.checked_sub(r.container_id)?;
            (offset < r.size)
                .then(|| r.host_id.checked_add(offset))
                .flatten()
        })
    }

    /// The container id for a host id; `None` when no range covers it.
    pub fn to_container(&self, id: u32) -> Option<u32> {
        if self.is_identity() {
            return Some(id);
        }
        self.0.iter().find_map(|r| {
            let offset = id.checked_sub(r.host_id)?;
            (offset < r.size)
                .then(|| r.container_id.checked_add(offset))
                .flatten()
        })
    }

    /// Parses `container:host:size[,container:host:size...]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let numbers: Vec<u32> = part
                .split(':')
                .map(|n| {
                    n.parse::<u32>()
                        .map_err(|_| format!("invalid id mapping {part:?}"))
                })
                .collect::<Result<_, _>>()?;
            match numbers[..] {
                [container_id, host_id, size] if size > 0 => ranges.push(IdRange {
                    container_id,
                    host_id,
                    size,
                }),
                _ => {
                    return Err(format!(
                        "invalid id mapping {part:?}: want container:host:size"
                    ));
                }
            }
        }
        Ok(Self(ranges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways() {
        let map = IdMap::parse("0:100000:65536").expect("valid");
        assert_eq!(map.to_host(0), Some(100000));
        assert_eq!(map.to_host(65535), Some(165535));
        assert_eq!(map.to_host(65536), None);
        assert_eq!(map.to_container(100001), Some(1));
        assert_eq!(map.to_container(5), None);
        assert_eq!(IdMap::default().to_host(7), Some(7));
        assert!(IdMap::parse("1:2").is_err());
        assert!(IdMap::parse("1:2:0").is_err());
    }
}

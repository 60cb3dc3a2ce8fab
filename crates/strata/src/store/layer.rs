//! The layer record as the store keeps and reports it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compression::Compression;
use crate::digest::Digest;
use crate::idmap::IdMap;

/// Where a layer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerState {
    /// Being made by a live process; invisible to lookups.
    Creating,
    /// Complete and durable.
    Ready,
    /// Being deleted; invisible to lookups.
    Deleting,
}

impl LayerState {
    /// The state's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            LayerState::Creating => "creating",
            LayerState::Ready => "ready",
            LayerState::Deleting => "deleting",
        }
    }

    /// Parses a name from the database.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "creating" => Some(LayerState::Creating),
            "ready" => Some(LayerState::Ready),
            "deleting" => Some(LayerState::Deleting),
            _ => None,
        }
    }
}

/// One layer.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    /// 64 hex digits.
    pub id: String,
    /// Unique names.
    pub names: Vec<String>,
    /// The layer this one is on top of.
    pub parent: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// Free-form data of the caller.
    pub metadata: String,
    /// Flags set by callers.
    pub flags: BTreeMap<String, serde_json::Value>,
    /// sha256 of the layer's uncompressed tar.
    pub diff_digest: Option<Digest>,
    /// Length of the uncompressed tar.
    pub diff_size: Option<u64>,
    /// sha256 of the layer as it was imported (compressed or not).
    pub compressed_digest: Option<Digest>,
    /// Length of the layer as it was imported.
    pub compressed_size: Option<u64>,
    /// Compression the layer was imported with.
    pub compression: Compression,
    /// User id mapping applied at import (container → host).
    pub uid_map: IdMap,
    /// Group id mapping applied at import.
    pub gid_map: IdMap,
    /// User ids (container side) the layer's tar uses.
    pub uid_set: Vec<u32>,
    /// Group ids (container side) the layer's tar uses.
    pub gid_set: Vec<u32>,
    /// Whether the layer is writable (a container's layer).
    pub read_write: bool,
    /// Whether tar-split metadata is kept, so the original tar can be rebuilt.
    pub has_tar_split: bool,
    /// Life-cycle state.
    pub state: LayerState,
}

/// The current time as RFC 3339 UTC with nanoseconds.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert!(now_rfc3339().ends_with('Z'));
    }
}

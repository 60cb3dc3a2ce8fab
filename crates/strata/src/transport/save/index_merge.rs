//! Merging new entries into an OCI layout's existing `index.json`, as
//! skopeo does: an entry with the same `org.opencontainers.image.ref.name`
//! is replaced in place (an unnamed one: the unnamed entry of the same
//! manifest), the others are kept. Kept entries and top-level fields keep
//! everything they had, fields strata does not know included.

use serde::Serialize;
use serde_json::{Map, Value};

use super::manifest::to_json;
use crate::error::{Error, Result};
use crate::image::descriptor::REF_NAME;
use crate::image::manifest::check_json_size;
use crate::image::{Descriptor, media};

/// An `index.json` entry on its way out.
#[derive(Serialize)]
#[serde(untagged)]
enum Entry {
    /// Written in Go's key order (new entries, and old ones strata fully
    /// understands).
    Known(Descriptor),
    /// Written as it was read (old entries with fields strata does not know).
    Other(Value),
}

/// The index written: Go's key order first, other top-level fields after.
#[derive(Serialize)]
struct IndexOut {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: String,
    manifests: Vec<Entry>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// An entry of the merged index: read from the old one, or new.
enum Slot {
    Old(Value),
    New(Descriptor),
}

/// `existing` (the bytes of `what`, if it exists) with `new` merged in.
pub(super) fn merge(what: &str, existing: Option<&[u8]>, new: Vec<Descriptor>) -> Result<Vec<u8>> {
    let (media_type, old, rest) = match existing {
        Some(bytes) => read(what, bytes)?,
        None => (media::OCI_INDEX.to_string(), Vec::new(), Map::new()),
    };
    let mut slots: Vec<Slot> = old.into_iter().map(Slot::Old).collect();
    for entry in new {
        let replaced: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot, Slot::Old(value) if same_slot(value, &entry)))
            .map(|(at, _)| at)
            .collect();
        match replaced.split_first() {
            Some((&first, others)) => {
                for &at in others.iter().rev() {
                    slots.remove(at);
                }
                slots[first] = Slot::New(entry);
            }
            None => slots.push(Slot::New(entry)),
        }
    }
    let manifests = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Old(value) => known_or_other(value),
            Slot::New(descriptor) => Entry::Known(descriptor),
        })
        .collect();
    let index = IndexOut {
        schema_version: 2,
        media_type,
        manifests,
        rest,
    };
    to_json(what, &index)
}

/// An old entry as a descriptor if that loses nothing, else as it was.
fn known_or_other(value: Value) -> Entry {
    match serde_json::from_value::<Descriptor>(value.clone()) {
        Ok(descriptor) if serde_json::to_value(&descriptor).ok().as_ref() == Some(&value) => {
            Entry::Known(descriptor)
        }
        _ => Entry::Other(value),
    }
}

/// Whether old entry `value` is the one `entry` replaces.
fn same_slot(value: &Value, entry: &Descriptor) -> bool {
    match entry.annotations.get(REF_NAME) {
        Some(name) => ref_name(value) == Some(name.as_str()),
        None => {
            ref_name(value).is_none()
                && value.get("digest").and_then(Value::as_str) == Some(entry.digest.as_str())
        }
    }
}

fn ref_name(value: &Value) -> Option<&str> {
    value.get("annotations")?.get(REF_NAME)?.as_str()
}

/// The media type, the entries and the other top-level fields of an
/// existing index, checked only as far as merging needs.
fn read(what: &str, bytes: &[u8]) -> Result<(String, Vec<Value>, Map<String, Value>)> {
    let malformed = |reason: String| Error::Malformed {
        what: what.to_string(),
        reason,
    };
    check_json_size(what, bytes.len() as u64)?;
    let mut index: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    match index.remove("schemaVersion") {
        Some(Value::Number(n)) if n.as_u64() == Some(2) => {}
        other => return Err(malformed(format!("schemaVersion is {other:?}, want 2"))),
    }
    let media_type = match index.remove("mediaType") {
        None => media::OCI_INDEX.to_string(),
        Some(Value::String(t)) if t == media::OCI_INDEX => t,
        Some(other) => return Err(malformed(format!("mediaType {other} is not an OCI index"))),
    };
    let manifests = match index.remove("manifests") {
        Some(Value::Array(entries)) if entries.iter().all(Value::is_object) => entries,
        _ => return Err(malformed("manifests is not an array of descriptors".into())),
    };
    Ok((media_type, manifests, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn entry(content: &[u8], name: Option<&str>) -> Descriptor {
        let mut entry = Descriptor::of(media::OCI_MANIFEST, content);
        if let Some(name) = name {
            entry.annotations.insert(REF_NAME.into(), name.into());
        }
        entry
    }

    fn merged(existing: Option<&str>, new: Vec<Descriptor>) -> Value {
        let bytes = merge("index.json", existing.map(str::as_bytes), new).expect("merge");
        serde_json::from_slice(&bytes).expect("json")
    }

    fn names_and_digests(index: &Value) -> Vec<(Option<String>, String)> {
        index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .map(|m| {
                (
                    ref_name(m).map(str::to_string),
                    m["digest"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn a_new_index_is_what_an_archive_holds() {
        let new = entry(b"m", Some("a"));
        let bytes = merge("index.json", None, vec![new.clone()]).expect("merge");
        let expected = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}}"#,
            media::OCI_INDEX,
            serde_json::to_string(&new).expect("json")
        );
        assert_eq!(String::from_utf8_lossy(&bytes), expected);
    }

    #[test]
    fn same_ref_is_replaced_in_place_others_kept() {
        let old = format!(
            r#"{{"schemaVersion":2,"annotations":{{"k":"v"}},"manifests":[
              {{"mediaType":"{m}","digest":"{a}","size":1,"annotations":{{"{r}":"one"}}}},
              {{"mediaType":"{m}","digest":"{b}","size":1,"annotations":{{"{r}":"two"}},"artifactType":"x/y"}},
              {{"mediaType":"{m}","digest":"{a}","size":1}}
            ]}}"#,
            m = media::OCI_MANIFEST,
            a = Digest::of(b"a"),
            b = Digest::of(b"b"),
            r = REF_NAME,
        );
        let index = merged(
            Some(&old),
            vec![
                entry(b"c", Some("one")),
                entry(b"a", None),
                entry(b"d", Some("three")),
            ],
        );
        assert_eq!(
            names_and_digests(&index),
            [
                (Some("one".into()), Digest::of(b"c").to_string()),
                (Some("two".into()), Digest::of(b"b").to_string()),
                (None, Digest::of(b"a").to_string()),
                (Some("three".into()), Digest::of(b"d").to_string()),
            ]
        );
        assert_eq!(
            index["manifests"][1]["artifactType"], "x/y",
            "unknown fields kept"
        );
        assert_eq!(index["annotations"]["k"], "v", "top-level fields kept");
        assert_eq!(index["mediaType"], media::OCI_INDEX);
    }

    #[test]
    fn a_broken_index_is_refused() {
        for bad in [
            "[]",
            r#"{"schemaVersion":1,"manifests":[]}"#,
            r#"{"schemaVersion":2}"#,
            r#"{"schemaVersion":2,"manifests":[1]}"#,
            r#"{"schemaVersion":2,"mediaType":"text/plain","manifests":[]}"#,
        ] {
            let error = merge("DIR/index.json", Some(bad.as_bytes()), Vec::new()).expect_err(bad);
            assert!(error.to_string().contains("DIR/index.json"), "{error}");
        }
    }
}

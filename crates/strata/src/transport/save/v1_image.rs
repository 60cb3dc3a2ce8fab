//! The legacy v1 images of a `docker save` archive from Docker 1.10 to 24:
//! one per layer, named by a v1 id, described by a `json` file. Both are
//! computed as Docker's `saveImage` and `v1.CreateID` compute them:
//!
//! - layer `i` below the top gets a v1 image created at the Unix epoch
//!   with nothing else set; the top layer gets the image's own v1 fields
//!   (Go's `image.V1Image`, read from the config: comment, created,
//!   container, container_config, docker_version, author, config,
//!   architecture, variant, os, Size);
//! - the v1 id is the sha256 of that v1 image as JSON without `id` and
//!   `parent`, plus `layer_id` (the chain id of layers `0..=i`) and
//!   `parent` (`sha256:` and the v1 id of layer `i-1`, if any), keys
//!   sorted;
//! - the `json` file is that v1 image with `id` and `parent` (hex) set
//!   and `os` set to the image's OS, fields in Go's struct order.

use serde_json::{Map, Value};

use super::go_json::{self, field};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::chain::chain_ids;

/// One layer's v1 image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct V1Layer {
    /// The v1 id (hex).
    pub id: String,
    /// The `<id>/json` file.
    pub json: Vec<u8>,
}

/// The v1 fields of an image (Go's `V1Image` without id and parent),
/// each already written as Go writes it, `None` when omitted.
#[derive(Clone)]
struct V1Fields {
    comment: Option<String>,
    created: String,
    container: Option<String>,
    container_config: String,
    docker_version: Option<String>,
    author: Option<String>,
    config: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
    os: Option<String>,
    size: Option<String>,
}

/// Go's zero `time.Time` in JSON, the `created` of a config without one.
const ZERO_TIME: &str = "\"0001-01-01T00:00:00Z\"";
/// The `created` of the v1 images below the top.
const EPOCH: &str = "\"1970-01-01T00:00:00Z\"";

impl V1Fields {
    /// The v1 image of a layer below the top.
    fn lower() -> Result<Self> {
        Ok(V1Fields {
            comment: None,
            created: EPOCH.to_string(),
            container: None,
            container_config: go_json::container_config(None, "container_config")?,
            docker_version: None,
            author: None,
            config: None,
            architecture: None,
            variant: None,
            os: None,
            size: None,
        })
    }

    /// The image's own v1 fields, read from its config as Go reads them.
    fn of(config: &Map<String, Value>, what: &str) -> Result<(Self, i64)> {
        let text = |key: &str| -> Result<Option<String>> {
            let value = go_json::str_field(field(config, key), &format!("{what} {key}"))?;
            Ok(value.filter(|s| !s.is_empty()).map(go_json::string))
        };
        let created = go_json::str_field(field(config, "created"), &format!("{what} created"))?;
        let (created, mtime) = match created {
            Some(created) => go_json::time(created, &format!("{what} created"))?,
            None => (ZERO_TIME.to_string(), 0),
        };
        let run_config = match field(config, "config") {
            None | Some(Value::Null) => None,
            Some(value) => Some(go_json::container_config(
                Some(value),
                &format!("{what} config"),
            )?),
        };
        let size = go_json::int_field(field(config, "Size"), &format!("{what} Size"))?
            .filter(|n| *n != 0)
            .map(|n| n.to_string());
        let fields = V1Fields {
            comment: text("comment")?,
            created,
            container: text("container")?,
            container_config: go_json::container_config(
                field(config, "container_config"),
                &format!("{what} container_config"),
            )?,
            docker_version: text("docker_version")?,
            author: text("author")?,
            config: run_config,
            architecture: text("architecture")?,
            variant: text("variant")?,
            os: text("os")?,
            size,
        };
        Ok((fields, mtime))
    }

    /// The fields in Go's struct order, omitted ones left out.
    fn ordered(&self) -> Vec<(&'static str, String)> {
        let all = [
            ("comment", self.comment.clone()),
            ("created", Some(self.created.clone())),
            ("container", self.container.clone()),
            ("container_config", Some(self.container_config.clone())),
            ("docker_version", self.docker_version.clone()),
            ("author", self.author.clone()),
            ("config", self.config.clone()),
            ("architecture", self.architecture.clone()),
            ("variant", self.variant.clone()),
            ("os", self.os.clone()),
            ("Size", self.size.clone()),
        ];
        all.into_iter()
            .filter_map(|(key, value)| Some((key, value?)))
            .collect()
    }

    /// The JSON hashed for the v1 id: the fields, `layer_id` and `parent`
    /// (`sha256:<hex>`), keys sorted.
    fn id_json(&self, layer_id: &Digest, parent: Option<&str>) -> String {
        let mut fields: std::collections::BTreeMap<String, String> = self
            .ordered()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        fields.insert("layer_id".into(), go_json::string(&layer_id.to_string()));
        if let Some(parent) = parent {
            fields.insert(
                "parent".into(),
                go_json::string(&format!("sha256:{parent}")),
            );
        }
        go_json::sorted_object(fields)
    }

    /// The `json` file: `id`, `parent` (hex), then the fields.
    fn file_json(&self, id: &str, parent: Option<&str>) -> String {
        let mut fields = vec![("id", go_json::string(id))];
        if let Some(parent) = parent {
            fields.push(("parent", go_json::string(parent)));
        }
        fields.extend(self.ordered());
        go_json::object(&fields)
    }
}

/// The v1 images of an image with config `config` (bytes as stored) and
/// diff ids `diff_ids`, base first, and the image's created time (Unix
/// seconds; 0 when it has none), which Docker gives the v1 files.
pub(super) fn v1_layers(
    config: &[u8],
    diff_ids: &[Digest],
    what: &str,
) -> Result<(Vec<V1Layer>, i64)> {
    let parsed: Value = serde_json::from_slice(config).map_err(|e| Error::Malformed {
        what: what.to_string(),
        reason: format!("it is not JSON: {e}"),
    })?;
    let Value::Object(object) = parsed else {
        return Err(Error::Malformed {
            what: what.to_string(),
            reason: "it is not a JSON object".into(),
        });
    };
    let (top, mtime) = V1Fields::of(&object, what)?;
    let os = top.os.clone();
    let chains = chain_ids(diff_ids);
    let mut layers: Vec<V1Layer> = Vec::with_capacity(diff_ids.len());
    for (i, chain) in chains.iter().enumerate() {
        let lower;
        let fields = if i + 1 == diff_ids.len() {
            &top
        } else {
            lower = V1Fields::lower()?;
            &lower
        };
        let parent = layers.last().map(|layer| layer.id.clone());
        let id = Digest::of(fields.id_json(chain, parent.as_deref()).as_bytes())
            .hex()
            .to_string();
        let with_os = V1Fields {
            os: os.clone(),
            ..fields.clone()
        };
        let json = with_os.file_json(&id, parent.as_deref()).into_bytes();
        layers.push(V1Layer { id, json });
    }
    Ok((layers, mtime))
}

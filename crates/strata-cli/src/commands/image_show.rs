//! `strata image inspect|history` (the listing is in `image_list`).

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use strata::digest::Digest;
use strata::image::reference;
use strata::{HistoryStep, Image, Store};

use super::format::{self, Format, Table, human};
use super::output;
use crate::cli::{HistoryArgs, ImageInspectArgs};

/// What tables print for a missing repository or tag.
const NONE: &str = "<none>";
/// What history prints for the image of a step below the newest.
const MISSING: &str = "<missing>";
/// How much of a history step's command tables show without `--no-trunc`
/// (as docker shows it).
const CREATED_BY_WIDTH: usize = 45;

/// Each name split into its full repository and its tag, sorted;
/// `(<none>, <none>)` when there are no names.
pub(super) fn repositories_and_tags(names: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = names
        .iter()
        .map(|name| match reference::parse(name) {
            Ok(parsed) => (
                parsed.repository(),
                parsed.tag().unwrap_or(NONE).to_string(),
            ),
            Err(_) => (name.clone(), NONE.to_string()),
        })
        .collect();
    out.sort();
    if out.is_empty() {
        out.push((NONE.to_string(), NONE.to_string()));
    }
    out
}

/// One image as `strata image inspect` prints it. The keys are stable
/// (docker's and podman's where they have one):
///
/// - `Id`: `sha256:<hex>`, the digest of the config;
/// - `RepoTags`: the names, normalized (`docker.io/library/alpine:latest`);
/// - `RepoDigests`: `<repository>@<manifest digest>` for each name's
///   repository and each manifest;
/// - `Digest`: the first manifest's digest, or null;
/// - `Manifests`: the digests of all manifests kept;
/// - `Created` (from the config, else when added), `Added` (RFC 3339);
/// - `Size`: the sum of the layers' uncompressed sizes, bytes;
/// - `Labels`: the config's `config.Labels`, or null;
/// - `Author`, `Architecture`, `Os` (null when the config has none),
///   `Variant` (absent when the config has none): from the config;
/// - `TopLayer`, `Layers`: strata layer ids, base first;
/// - `RootFS`: `{"Type": "layers", "Layers": [<diff id>...]}`;
/// - `Config`: the config's `config` object (Cmd, Env, ...) as it is, or
///   null;
/// - `History`: the config's history as it is (`created`, `created_by`,
///   `author`, `comment`, `empty_layer`, as the OCI spec names them), or
///   an empty array.
///
/// All of these are read from the config's exact bytes, so `inspect`
/// shows what the config says even where the typed view
/// (`Store::image_config`) cannot hold it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    digest: Option<Digest>,
    manifests: Vec<Digest>,
    created: String,
    added: String,
    size: u64,
    labels: Value,
    author: Value,
    architecture: Value,
    os: Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    variant: Value,
    top_layer: Option<String>,
    layers: Vec<String>,
    #[serde(rename = "RootFS")]
    root_fs: RootFs,
    config: Value,
    history: Value,
}

/// `RootFS` in [`Inspected`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(rename = "Type")]
    kind: Value,
    layers: Value,
}

/// `strata image inspect`: a JSON array of [`Inspected`], in the order
/// asked; nothing is printed if any image is unknown.
pub fn inspect(store: &Store, args: &ImageInspectArgs) -> Result<()> {
    let inspected = args
        .images
        .iter()
        .map(|reference| inspect_one(store, &store.image(reference)?))
        .collect::<Result<Vec<_>>>()?;
    format::inspect(&Format::new(args.json, args.format.as_deref()), &inspected)
}

/// One image as `image inspect` shows it, as JSON (for `strata inspect`).
pub fn inspect_value(store: &Store, image: &Image) -> Result<Value> {
    Ok(serde_json::to_value(inspect_one(store, image)?)?)
}

fn inspect_one(store: &Store, image: &Image) -> Result<Inspected> {
    let config = read_config(store, image)?;
    let field = |key: &str| config.get(key).cloned().unwrap_or(Value::Null);
    let rootfs = field("rootfs");
    let history = match field("history") {
        Value::Null => Value::Array(Vec::new()),
        history => history,
    };
    Ok(Inspected {
        id: image.digest().to_string(),
        repo_tags: image.names.clone(),
        repo_digests: repo_digests(image),
        digest: image.manifests.first().cloned(),
        manifests: image.manifests.clone(),
        created: image.created.clone(),
        added: image.added.clone(),
        size: image.size,
        labels: config
            .get("config")
            .and_then(|c| c.get("Labels"))
            .cloned()
            .unwrap_or(Value::Null),
        author: field("author"),
        architecture: field("architecture"),
        os: field("os"),
        variant: field("variant"),
        top_layer: image.top_layer.clone(),
        layers: image.layers.clone(),
        root_fs: RootFs {
            kind: rootfs.get("type").cloned().unwrap_or(Value::Null),
            layers: rootfs.get("diff_ids").cloned().unwrap_or(Value::Null),
        },
        config: field("config"),
        history,
    })
}

/// The image's config as plain JSON (an object, as strata checked when it
/// stored the image).
fn read_config(store: &Store, image: &Image) -> Result<serde_json::Map<String, Value>> {
    let what = format!("the config of image {}", image.id);
    let bytes = store
        .image_config_bytes(image)
        .with_context(|| format!("cannot read {what}"))?;
    serde_json::from_slice(&bytes).with_context(|| format!("cannot parse {what}"))
}

pub(super) fn repo_digests(image: &Image) -> Vec<String> {
    let mut repositories: Vec<String> = image
        .names
        .iter()
        .filter_map(|name| reference::parse(name).ok())
        .map(|parsed| parsed.repository())
        .collect();
    repositories.sort();
    repositories.dedup();
    repositories
        .iter()
        .flat_map(|repository| {
            image
                .manifests
                .iter()
                .map(move |digest| format!("{repository}@{digest}"))
        })
        .collect()
}

/// One step of `strata image history --json`, newest first:
///
/// - `id`: the image's id on the newest step, null on the others;
/// - `created`, `created_by`, `author`, `comment`: from the config's
///   history, null when it has none;
/// - `empty_layer`: whether the step made no layer;
/// - `layer`: the strata layer id the step made, null for an empty layer;
/// - `size`: that layer's uncompressed size (0 for an empty layer).
#[derive(Debug, Serialize)]
struct Step {
    id: Option<String>,
    #[serde(flatten)]
    step: HistoryStep,
}

/// A history step as templates and the table see it (podman's fields).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryRow {
    #[serde(rename = "ID")]
    id: String,
    created: String,
    created_at: String,
    created_since: String,
    created_by: String,
    size: String,
    comment: String,
    tags: Vec<String>,
}

/// `strata image history`: the image's history as `Store::image_history`
/// matches it to the layers, newest first.
pub fn history(store: &Store, args: &HistoryArgs) -> Result<()> {
    let image = store.image(&args.image)?;
    let mut steps: Vec<Step> = store
        .image_history(&image)?
        .into_iter()
        .rev()
        .map(|step| Step { id: None, step })
        .collect();
    if let Some(newest) = steps.first_mut() {
        newest.id = Some(image.id.clone());
    }
    let format = Format::new(args.list.json, args.list.format.as_deref());
    let no_trunc = args.list.no_trunc;
    let id = |step: &Step| {
        step.id
            .as_deref()
            .map(|id| output::short_id(id, no_trunc))
            .unwrap_or_else(|| MISSING.into())
    };
    if args.quiet && format != Format::Json {
        for step in &steps {
            println!("{}", id(step));
        }
        return Ok(());
    }
    let now = human::now();
    let rows: Vec<HistoryRow> = steps
        .iter()
        .map(|row| {
            let step = &row.step;
            let created_by = step
                .created_by
                .as_deref()
                .unwrap_or_default()
                .replace(['\t', '\n'], " ");
            let created = step.created.as_deref().unwrap_or_default();
            let since = match created {
                "" => "-".to_string(),
                created => human::since(created, now),
            };
            HistoryRow {
                id: id(row),
                created: since.clone(),
                created_at: human::go_time(created),
                created_since: since,
                created_by: match no_trunc {
                    true => created_by,
                    false => ellipsis(&created_by, CREATED_BY_WIDTH),
                },
                size: human::size(step.size),
                comment: step.comment.clone().unwrap_or_default(),
                tags: match row.id {
                    Some(_) => image.names.clone(),
                    None => Vec::new(),
                },
            }
        })
        .collect();
    let table = Table {
        columns: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        headers: &[("CreatedSince", "CREATED")],
        noheading: args.list.noheading,
    };
    format::list(&format, &steps, &rows, &table)
}

/// `text` cut to `width` characters, the last three `...`, if it is
/// longer (as podman cuts it).
fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_cuts_long_text_only() {
        assert_eq!(ellipsis("abc", 3), "abc");
        assert_eq!(ellipsis("abcdef", 5), "ab...");
        assert_eq!(ellipsis("", 3), "");
    }

    #[test]
    fn names_split_into_repository_and_tag() {
        let names = vec![
            "docker.io/library/alpine:latest".to_string(),
            "localhost/sample:1".to_string(),
        ];
        assert_eq!(
            repositories_and_tags(&names),
            vec![
                ("docker.io/library/alpine".into(), "latest".into()),
                ("localhost/sample".into(), "1".into()),
            ]
        );
        assert_eq!(
            repositories_and_tags(&[]),
            vec![(NONE.to_string(), NONE.to_string())]
        );
    }
}

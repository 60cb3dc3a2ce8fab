//! `strata images` and `strata image ls`: podman's table, `-q`, `-a`,
//! `--digests`, `--sort`, `--filter`, `--format json|TEMPLATE`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};

use anyhow::{Result, bail};
use serde::Serialize;
use strata::{Image, Store};

use super::format::{self, Format, Table, human};
use super::image_show::{repo_digests, repositories_and_tags};
use super::output;
use crate::cli::{ImageListArgs, ImageSort};

/// An image with what the listing shows of it beyond the library's view.
struct Entry {
    image: Image,
    labels: BTreeMap<String, String>,
    containers: usize,
    /// Unnamed, and the base of another image.
    intermediate: bool,
    /// One platform's image of an image index the store keeps.
    indexed: bool,
}

impl Entry {
    fn dangling(&self) -> bool {
        self.image.names.is_empty() && !self.intermediate && !self.indexed
    }
}

/// One image as `--format json` prints it: podman's keys and meanings
/// (`Created` in seconds since the epoch, `CreatedAt` RFC 3339), except
/// that `RepoTags` lists the names, as docker's does.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    id: String,
    parent_id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    size: u64,
    shared_size: u64,
    virtual_size: u64,
    labels: Option<BTreeMap<String, String>>,
    containers: usize,
    names: Vec<String>,
    digest: Option<String>,
    history: Vec<String>,
    created: i64,
    created_at: String,
    dangling: bool,
}

/// One table row (one per name), the fields templates name.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    short_id: String,
    id: String,
    repository: String,
    tag: String,
    digest: String,
    created: String,
    created_at: String,
    created_since: String,
    size: String,
    virtual_size: u64,
    shared_size: u64,
    containers: usize,
    labels: BTreeMap<String, String>,
    names: Vec<String>,
    history: Vec<String>,
    dangling: bool,
    read_only: bool,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Id", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("ReadOnly", "R/O"),
];

/// `strata image ls` and `strata images`.
pub fn list(store: &Store, args: &ImageListArgs) -> Result<()> {
    let mut specs = args.filters.clone();
    specs.extend(args.reference.iter().map(|r| format!("reference={r}")));
    let filters = Filters::parse(store, &specs)?;
    let mut entries = entries(store)?;
    let listed = |entry: &Entry| (args.all || !entry.intermediate) && filters.matches(entry);
    entries.retain(listed);
    entries.sort_by(|a, b| {
        (Reverse(&a.image.created), &a.image.id).cmp(&(Reverse(&b.image.created), &b.image.id))
    });
    sort_entries(&mut entries, args.sort);
    let format = Format::new(args.list.json, args.list.format.as_deref());
    let short = |id: &str| output::short_id(id, args.list.no_trunc);
    if args.quiet && !matches!(format, Format::Json) {
        for entry in &entries {
            println!("{}", short(&entry.image.id));
        }
        return Ok(());
    }
    let now = human::now();
    let summaries: Vec<Summary> = entries.iter().map(summary).collect();
    let mut rows: Vec<Row> = entries
        .iter()
        .flat_map(|entry| {
            let image = &entry.image;
            let digest = image
                .manifests
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            repositories_and_tags(&image.names)
                .into_iter()
                .map(move |(repository, tag)| Row {
                    short_id: short(&image.id),
                    id: image.id.clone(),
                    repository,
                    tag,
                    digest: digest.clone(),
                    created: human::since(&image.created, now),
                    created_at: human::go_time(&image.created),
                    created_since: human::since(&image.created, now),
                    size: human::size(image.size),
                    virtual_size: image.size,
                    shared_size: 0,
                    containers: entry.containers,
                    labels: entry.labels.clone(),
                    names: image.names.clone(),
                    history: image.names.clone(),
                    dangling: entry.dangling(),
                    read_only: false,
                })
        })
        .collect();
    sort_rows(&mut rows, args.sort);
    let columns = match args.digests {
        true => "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
        false => "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    };
    let table = Table {
        columns,
        headers: HEADERS,
        noheading: args.list.noheading,
    };
    format::list(&format, &summaries, &rows, &table)
}

fn entries(store: &Store) -> Result<Vec<Entry>> {
    let images = store.images()?;
    let containers = store.containers()?;
    let indexed: HashSet<String> = store
        .image_indexes()?
        .into_iter()
        .flat_map(|index| index.images)
        .collect();
    images
        .iter()
        .filter_map(|image| {
            // An image removed since the list was read is left out.
            let labels = match labels(store, image) {
                Ok(labels) => labels,
                Err(error) if is_gone(&error) => return None,
                Err(error) => return Some(Err(error)),
            };
            let intermediate = image.names.is_empty()
                && image.top_layer.as_ref().is_some_and(|top| {
                    images.iter().any(|other| {
                        other.id != image.id
                            && other.layers.len() > image.layers.len()
                            && other.layers.contains(top)
                    })
                });
            Some(Ok(Entry {
                labels,
                containers: containers
                    .iter()
                    .filter(|c| c.image.as_deref() == Some(image.id.as_str()))
                    .count(),
                intermediate,
                indexed: indexed.contains(&image.id),
                image: image.clone(),
            }))
        })
        .collect()
}

fn is_gone(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<strata::Error>(),
        Some(strata::Error::ImageNotFound(_))
    )
}

/// The config's `config.Labels`.
fn labels(store: &Store, image: &Image) -> Result<BTreeMap<String, String>> {
    let bytes = store.image_config_bytes(image)?;
    let config: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(config["config"]["Labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default())
}

fn summary(entry: &Entry) -> Summary {
    let image = &entry.image;
    Summary {
        id: image.id.clone(),
        parent_id: String::new(),
        repo_tags: image.names.clone(),
        repo_digests: repo_digests(image),
        size: image.size,
        shared_size: 0,
        virtual_size: image.size,
        labels: (!entry.labels.is_empty()).then(|| entry.labels.clone()),
        containers: entry.containers,
        names: image.names.clone(),
        digest: image.manifests.first().map(ToString::to_string),
        history: image.names.clone(),
        created: human::unix_seconds(&image.created).unwrap_or(0),
        created_at: image.created.clone(),
        dangling: entry.dangling(),
    }
}

fn sort_entries(entries: &mut [Entry], sort: ImageSort) {
    match sort {
        ImageSort::Created => {}
        ImageSort::Id => entries.sort_by(|a, b| a.image.id.cmp(&b.image.id)),
        ImageSort::Size => entries.sort_by_key(|e| e.image.size),
        ImageSort::Repository | ImageSort::Tag => {
            entries.sort_by_key(|e| repositories_and_tags(&e.image.names).into_iter().next())
        }
    }
}

/// Rows come newest first; other orders are stable sorts of that.
fn sort_rows(rows: &mut [Row], sort: ImageSort) {
    match sort {
        ImageSort::Created => {}
        ImageSort::Id => rows.sort_by(|a, b| a.id.cmp(&b.id)),
        ImageSort::Size => rows.sort_by_key(|r| r.virtual_size),
        ImageSort::Repository => {
            rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)))
        }
        ImageSort::Tag => {
            rows.sort_by(|a, b| (&a.tag, &a.repository).cmp(&(&b.tag, &b.repository)))
        }
    }
}

/// `--filter KEY=VALUE`s: an image matches when, for each key given, it
/// matches one of the key's values.
struct Filters {
    by_key: BTreeMap<String, Vec<Filter>>,
}

enum Filter {
    Reference(String),
    Dangling(bool),
    Label(String, Option<String>),
    Before(String),
    Since(String),
}

impl Filters {
    fn parse(store: &Store, specs: &[String]) -> Result<Filters> {
        let mut by_key: BTreeMap<String, Vec<Filter>> = BTreeMap::new();
        for spec in specs {
            let Some((key, value)) = spec.split_once('=') else {
                bail!("invalid filter {spec:?}: want KEY=VALUE");
            };
            let created =
                |reference: &str| -> Result<String> { Ok(store.image(reference)?.created) };
            let filter = match key {
                "reference" => Filter::Reference(value.to_string()),
                "dangling" => match value {
                    "true" | "1" => Filter::Dangling(true),
                    "false" | "0" => Filter::Dangling(false),
                    _ => bail!("invalid filter {spec:?}: dangling is true or false"),
                },
                "label" => match value.split_once('=') {
                    Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
                    None => Filter::Label(value.to_string(), None),
                },
                "before" => Filter::Before(created(value)?),
                "since" => Filter::Since(created(value)?),
                _ => bail!(
                    "invalid filter {spec:?}: images are filtered by reference, dangling, label, before or since"
                ),
            };
            by_key.entry(key.to_string()).or_default().push(filter);
        }
        Ok(Filters { by_key })
    }

    fn matches(&self, entry: &Entry) -> bool {
        self.by_key
            .values()
            .all(|filters| filters.iter().any(|f| f.matches(entry)))
    }
}

impl Filter {
    fn matches(&self, entry: &Entry) -> bool {
        let image = &entry.image;
        let time = |created: &str| human::unix_seconds(created).unwrap_or(0);
        match self {
            Filter::Reference(pattern) => image
                .names
                .iter()
                .any(|name| reference_matches(pattern, name)),
            Filter::Dangling(want) => entry.dangling() == *want,
            Filter::Label(key, value) => match (entry.labels.get(key), value) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            },
            Filter::Before(created) => time(&image.created) < time(created),
            Filter::Since(created) => time(&image.created) > time(created),
        }
    }
}

/// Whether `pattern` (a glob: `*`, `?`; `*` stops at `/`) matches the
/// name `docker.io/library/alpine:latest`, its repository, or either
/// without leading path parts (`alpine`, `library/alpine:latest`).
fn reference_matches(pattern: &str, name: &str) -> bool {
    let repository = match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    };
    let mut candidates = vec![name, repository];
    for (i, c) in name.char_indices() {
        if c == '/' {
            candidates.push(&name[i + 1..]);
            if i < repository.len() {
                candidates.push(&repository[i + 1..]);
            }
        }
    }
    candidates
        .iter()
        .any(|candidate| glob(pattern.as_bytes(), candidate.as_bytes()))
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len())
            .take_while(|&i| i == 0 || text[i - 1] != b'/')
            .any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => text
            .split_first()
            .is_some_and(|(c, tail)| *c != b'/' && glob(rest, tail)),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, tail)| t == c && glob(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_as_podman_does() {
        let name = "docker.io/library/alpine:latest";
        assert!(reference_matches("alpine", name));
        assert!(reference_matches("alpine:latest", name));
        assert!(reference_matches("alp*", name));
        assert!(reference_matches("docker.io/library/alpine", name));
        assert!(reference_matches("*/alpine", name));
        assert!(!reference_matches("alpine:3", name));
        assert!(!reference_matches("pine", name));
        assert!(reference_matches(
            "localhost/sample:*",
            "localhost/sample:1"
        ));
    }
}

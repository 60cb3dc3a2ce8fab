//! `strata container create|ls|inspect|mount|unmount|rm` and
//! `strata containers` (`container commit` is in `commit`).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use strata::{Container, ContainerOptions, Store};

use super::format::{self, Format, Table, human};
use super::output;
use crate::cli::{
    ContainerCreateArgs, ContainerListArgs, ContainerRef, ContainerRmArgs, ContainerSort,
    ItemInspectArgs,
};

/// `strata container create`.
pub fn create(store: &Store, args: &ContainerCreateArgs) -> Result<()> {
    let options = ContainerOptions {
        id: args.id.clone(),
        names: args.names.clone(),
        metadata: args.metadata.clone(),
        ..ContainerOptions::from_image_or_layer(&args.layer)
    };
    let container = store
        .create_container(&options)
        .context("cannot create the container")?;
    println!("{}", container.id);
    Ok(())
}

/// `strata container ls` and `strata containers`: JSON is the
/// library's `Container`s as they are (strata's own snake_case keys).
pub fn list(store: &Store, args: &ContainerListArgs) -> Result<()> {
    let filters = ContainerFilters::parse(store, &args.filters)?;
    let mut containers = store.containers()?;
    containers.retain(|c| filters.matches(c));
    let format = Format::new(args.list.json, args.list.format.as_deref());
    let short = |id: &str| output::short_id(id, args.list.no_trunc);
    let images = store.images()?;
    let now = human::now();
    let mut listed: Vec<(Container, Row)> = containers
        .into_iter()
        .map(|container| {
            let image = container
                .image
                .as_deref()
                .map(|id| match images.iter().find(|image| image.id == id) {
                    Some(image) if !image.names.is_empty() => image.names[0].clone(),
                    _ => short(id),
                })
                .unwrap_or_default();
            let row = Row {
                id: short(&container.id),
                image,
                image_id: container.image.as_deref().map(short).unwrap_or_default(),
                names: container.names.join(","),
                base: container.base.as_deref().map(short).unwrap_or_default(),
                layer: short(&container.layer),
                created: human::since(&container.created, now),
                created_at: human::go_time(&container.created),
                created_since: human::since(&container.created, now),
            };
            (container, row)
        })
        .collect();
    // Stable sorts: equal keys stay oldest first.
    match args.sort {
        ContainerSort::Created => {}
        ContainerSort::Id => listed.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        ContainerSort::Image => listed.sort_by(|a, b| a.1.image.cmp(&b.1.image)),
        ContainerSort::Names => listed.sort_by(|a, b| a.1.names.cmp(&b.1.names)),
    }
    let (containers, rows): (Vec<Container>, Vec<Row>) = listed.into_iter().unzip();
    if args.quiet && format != Format::Json {
        for container in &containers {
            println!("{}", short(&container.id));
        }
        return Ok(());
    }
    let table = Table {
        columns: "{{.ID}}\t{{.Image}}\t{{.Layer}}\t{{.CreatedSince}}\t{{.Names}}",
        headers: &[("ID", "CONTAINER ID"), ("CreatedSince", "CREATED")],
        noheading: args.list.noheading,
    };
    format::list(&format, &containers, &rows, &table)
}

/// One container as templates and the table see it: `Image` is the
/// image's first name (its short id when it has none).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    names: String,
    base: String,
    layer: String,
    created: String,
    created_at: String,
    created_since: String,
}

/// `--filter`s of `containers`: a container matches when, for each key
/// given, it matches one of the key's values.
struct ContainerFilters {
    by_key: BTreeMap<String, Vec<Filter>>,
}

enum Filter {
    /// An id prefix.
    Id(String),
    /// A regular expression... of the simple kind: a substring, `^` and
    /// `$` anchors.
    Name(String),
    /// The image's id.
    Ancestor(String),
}

impl ContainerFilters {
    fn parse(store: &Store, specs: &[String]) -> Result<ContainerFilters> {
        let mut by_key: BTreeMap<String, Vec<Filter>> = BTreeMap::new();
        for spec in specs {
            let Some((key, value)) = spec.split_once('=') else {
                bail!("invalid filter {spec:?}: want KEY=VALUE");
            };
            let filter = match key {
                "id" => Filter::Id(value.to_string()),
                "name" => Filter::Name(value.to_string()),
                "ancestor" => Filter::Ancestor(store.image(value)?.id),
                _ => bail!(
                    "invalid filter {spec:?}: containers are filtered by id, name or ancestor"
                ),
            };
            by_key.entry(key.to_string()).or_default().push(filter);
        }
        Ok(ContainerFilters { by_key })
    }

    fn matches(&self, container: &Container) -> bool {
        self.by_key.values().all(|filters| {
            filters.iter().any(|filter| match filter {
                Filter::Id(prefix) => container.id.starts_with(prefix.as_str()),
                Filter::Name(pattern) => container.names.iter().any(|n| name_matches(pattern, n)),
                Filter::Ancestor(id) => container.image.as_deref() == Some(id.as_str()),
            })
        })
    }
}

/// `pattern` as podman's name filter takes it, for the common forms: a
/// substring, anchored by a leading `^` and/or trailing `$`.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, pattern) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (end, pattern) = match pattern.strip_suffix('$') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    match (start, end) {
        (true, true) => name == pattern,
        (true, false) => name.starts_with(pattern),
        (false, true) => name.ends_with(pattern),
        (false, false) => name.contains(pattern),
    }
}

/// `strata container inspect CONTAINER...`: a JSON array of the
/// library's `Container`s, in the order asked; nothing is printed if any
/// is unknown.
pub fn inspect(store: &Store, args: &ItemInspectArgs) -> Result<()> {
    let containers = args
        .items
        .iter()
        .map(|container| store.container(container))
        .collect::<Result<Vec<_>, _>>()?;
    format::inspect(&Format::new(args.json, args.format.as_deref()), &containers)
}

/// `strata container mount`.
pub fn mount(store: &Store, args: &ContainerRef) -> Result<()> {
    println!("{}", store.mount_container(&args.container)?.display());
    Ok(())
}

/// `strata container unmount`.
pub fn unmount(store: &Store, args: &ContainerRef) -> Result<()> {
    store.unmount_container(&args.container)?;
    Ok(())
}

/// `strata container rm` and `strata rm`: each container in turn, going
/// on past failures (see `remove` for the exit status); prints each
/// container as it was named, as podman does.
/// `--all` deletes every container, by id.
pub fn remove(store: &Store, args: &ContainerRmArgs) -> Result<()> {
    let containers = match args.all {
        true => store.containers()?.into_iter().map(|c| c.id).collect(),
        false => args.containers.clone(),
    };
    super::remove::each(&containers, args.ignore, |container| {
        store
            .delete_container(container, args.force)
            .with_context(|| format!("cannot delete container {container}"))?;
        println!("{container}");
        Ok(())
    })
}

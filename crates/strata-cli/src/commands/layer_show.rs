//! `strata layer ls` and `strata layer inspect`.

use anyhow::Result;
use serde::Serialize;
use strata::Store;

use super::format::{self, Format, Table, human};
use super::output;
use crate::cli::{ItemInspectArgs, LayerListArgs};

/// One layer as templates and the table see it.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    names: String,
    parent: String,
    diff_size: String,
    created: String,
    created_at: String,
    created_since: String,
    compression: String,
}

/// `strata layer ls` and `strata layers`: JSON is the library's
/// `Layer`s as they are (strata's own snake_case keys).
pub fn list(store: &Store, args: &LayerListArgs) -> Result<()> {
    let layers = store.layers()?;
    let format = Format::new(args.list.json, args.list.format.as_deref());
    let short = |id: &str| output::short_id(id, args.list.no_trunc);
    if args.quiet && format != Format::Json {
        for layer in &layers {
            println!("{}", short(&layer.id));
        }
        return Ok(());
    }
    let now = human::now();
    let rows: Vec<Row> = layers
        .iter()
        .map(|layer| Row {
            id: short(&layer.id),
            names: layer.names.join(","),
            parent: layer.parent.as_deref().map(short).unwrap_or_default(),
            diff_size: layer
                .diff_size
                .map(human::size)
                .unwrap_or_else(|| "-".into()),
            created: human::since(&layer.created, now),
            created_at: human::go_time(&layer.created),
            created_since: human::since(&layer.created, now),
            compression: serde_json::to_value(layer.compression)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        })
        .collect();
    let table = Table {
        columns: "{{.ID}}\t{{.Names}}\t{{.Parent}}\t{{.DiffSize}}\t{{.CreatedSince}}",
        headers: &[("CreatedSince", "CREATED")],
        noheading: args.list.noheading,
    };
    format::list(&format, &layers, &rows, &table)
}

/// `strata layer inspect LAYER...`: a JSON array of the library's
/// `Layer`s, in the order asked; nothing is printed if any is unknown.
pub fn inspect(store: &Store, args: &ItemInspectArgs) -> Result<()> {
    let layers = args
        .items
        .iter()
        .map(|layer| store.layer(layer))
        .collect::<Result<Vec<_>, _>>()?;
    format::inspect(&Format::new(args.json, args.format.as_deref()), &layers)
}

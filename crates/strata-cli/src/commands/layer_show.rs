//! `strata layer ls` and `strata layer inspect`.

use anyhow::Result;
use strata::Store;

use super::output;
use crate::cli::{LayerRef, ListArgs};

/// `strata layer ls`.
pub fn list(store: &Store, args: &ListArgs) -> Result<()> {
    let layers = store.layers()?;
    if args.json {
        return output::json(&layers);
    }
    let short = |id: &str| output::short_id(id, args.no_trunc);
    let rows: Vec<Vec<String>> = layers
        .iter()
        .map(|layer| {
            vec![
                short(&layer.id),
                layer.names.join(","),
                layer.parent.as_deref().map(short).unwrap_or_default(),
                layer
                    .diff_size
                    .map(output::size)
                    .unwrap_or_else(|| "-".into()),
                output::created(&layer.created),
            ]
        })
        .collect();
    output::table(&["ID", "NAMES", "PARENT", "DIFF SIZE", "CREATED"], &rows)
}

/// `strata layer inspect`.
pub fn inspect(store: &Store, args: &LayerRef) -> Result<()> {
    output::json(&store.layer(&args.layer)?)
}

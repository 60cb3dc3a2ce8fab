//! `--format` for listings and inspect: `json`, Go templates
//! (`{{.ID}} {{.Repository}}`), and `table ...` templates printed as
//! aligned columns under a header, as podman prints them.
//!
//! Templates run on one object per row (listings) or per item (inspect).
//! The engine is the `gotmpl` crate (Go's `text/template` rules and
//! built-ins); [`funcs`] adds podman's functions.

mod funcs;
pub mod human;

use std::io::Write;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde_json::Value;

/// How a listing or inspect prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// The command's own table (listings) or JSON (inspect).
    Default,
    /// Pretty JSON.
    Json,
    /// A Go template; `table` when it had the `table` prefix.
    Template { table: bool, source: String },
}

impl Format {
    /// The format `--json` and `--format` ask for (clap refuses both).
    pub fn new(json: bool, format: Option<&str>) -> Format {
        match (json, format.map(str::trim)) {
            (true, _) | (false, Some("json")) => Format::Json,
            (false, None | Some("") | Some("table")) => Format::Default,
            (false, Some(source)) => match source.strip_prefix("table ") {
                Some(rest) => Format::Template {
                    table: true,
                    source: rest.to_string(),
                },
                None => Format::Template {
                    table: false,
                    source: source.to_string(),
                },
            },
        }
    }
}

/// What a listing's table looks like.
pub struct Table<'a> {
    /// The default table's template, columns separated by `\t`.
    pub columns: &'a str,
    /// Header names other than the field's name in capitals
    /// (`("ID", "IMAGE ID")`).
    pub headers: &'a [(&'a str, &'a str)],
    /// `--noheading`.
    pub noheading: bool,
}

/// Prints a listing: `json` as `--format json` prints it, `rows` (one
/// object per table row, fields as templates name them) otherwise.
pub fn list<J: Serialize + ?Sized, R: Serialize + Default>(
    format: &Format,
    json: &J,
    rows: &[R],
    table: &Table<'_>,
) -> Result<()> {
    let rows = rows
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    match format {
        Format::Json => super::output::json(json),
        Format::Default => print_table(table.columns, &rows, &header_data::<R>(table)?, table),
        Format::Template {
            table: true,
            source,
        } => print_table(source, &rows, &header_data::<R>(table)?, table),
        Format::Template {
            table: false,
            source,
        } => print_lines(source, &rows),
    }
}

/// Prints inspected items: a JSON array unless a template is asked for,
/// then the template once per item (keys as [`template_data`] makes
/// them).
pub fn inspect<T: Serialize>(format: &Format, items: &[T]) -> Result<()> {
    match format {
        Format::Json | Format::Default => super::output::json(items),
        Format::Template { source, .. } => {
            let items = items
                .iter()
                .map(|item| serde_json::to_value(item).map(|v| template_data(&v)))
                .collect::<Result<Vec<_>, _>>()?;
            print_lines(source, &items)
        }
    }
}

/// A JSON object as templates see it: snake_case keys in PascalCase
/// (`diff_size` is `.DiffSize`), `id` also as `.ID`; the keys of
/// `labels`/`flags` maps (the user's own) as they are.
pub fn template_data(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let inner = match key.as_str() {
                    "labels" | "Labels" | "flags" | "Volumes" | "ExposedPorts" => value.clone(),
                    _ => template_data(value),
                };
                let pascal = match is_snake_case(key) {
                    true => pascal_case(key),
                    false => key.clone(),
                };
                if pascal == "Id" {
                    out.insert("ID".into(), inner.clone());
                }
                out.insert(pascal, inner);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(template_data).collect()),
        other => other.clone(),
    }
}

/// `diff_size`, `id`: a key strata's serde output writes (not a path,
/// a port, or a key already in PascalCase).
fn is_snake_case(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn pascal_case(key: &str) -> String {
    key.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

fn parse(source: &str) -> Result<gotmpl::Template> {
    let source = source.replace("\\t", "\t").replace("\\n", "\n");
    funcs::add(gotmpl::Template::new("format"))
        .parse(&source)
        .map_err(|e| anyhow!("invalid --format template: {e}"))
}

fn render(template: &gotmpl::Template, data: &Value) -> Result<String> {
    template
        .execute_to_string(&funcs::from_json(data))
        .map_err(|e| anyhow!("cannot apply the --format template: {e}"))
}

/// Each item through the template, each followed by a newline unless the
/// template ends with one.
fn print_lines(source: &str, items: &[Value]) -> Result<()> {
    let template = parse(source)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for item in items {
        let mut line = render(&template, item)?;
        if !line.ends_with('\n') {
            line.push('\n');
        }
        out.write_all(line.as_bytes())?;
    }
    out.flush().context("cannot write to stdout")
}

/// The header row's data: each of `R`'s fields mapped to its column
/// name.
fn header_data<R: Serialize + Default>(table: &Table<'_>) -> Result<Value> {
    let Value::Object(fields) = serde_json::to_value(R::default())? else {
        return Ok(Value::Object(Default::default()));
    };
    let headers = fields
        .keys()
        .map(|field| {
            let header = table
                .headers
                .iter()
                .find(|(name, _)| name == field)
                .map(|(_, header)| header.to_string())
                .unwrap_or_else(|| words_upper(field));
            (field.clone(), Value::String(header))
        })
        .collect();
    Ok(Value::Object(headers))
}

/// `CreatedSince` as `CREATED SINCE`.
fn words_upper(field: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = field.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_lowercase();
        if i > 0 && c.is_uppercase() && (prev_lower || next_lower) {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// Spaces between a table template's actions separate columns, as
/// podman takes them.
fn columns_of(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let (text, action) = rest.split_at(start);
        out.push_str(&tabs_for_spaces(text));
        let end = action.find("}}").map(|e| e + 2).unwrap_or(action.len());
        out.push_str(&action[..end]);
        rest = &action[end..];
    }
    out.push_str(&tabs_for_spaces(rest));
    out
}

fn tabs_for_spaces(text: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c == ' ' {
            if !in_space {
                out.push('\t');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

fn print_table(source: &str, rows: &[Value], header: &Value, table: &Table<'_>) -> Result<()> {
    let template = parse(&columns_of(source))?;
    let mut lines: Vec<String> = Vec::new();
    if !table.noheading {
        lines.push(render(&template, header)?);
    }
    for row in rows {
        lines.push(render(&template, row)?);
    }
    let text: Vec<&str> = lines.iter().flat_map(|l| l.lines()).collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in align(&text) {
        writeln!(out, "{line}")?;
    }
    out.flush().context("cannot write to stdout")
}

/// Tab-separated cells in columns, as Go's tabwriter aligns them for
/// podman: each cell ended by a tab is padded to its column's widest
/// plus two spaces, and to at least twelve; a line's last cell is not
/// padded (but an empty cell before it is, as tabwriter pads it).
pub fn align(lines: &[&str]) -> Vec<String> {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 2;
    let mut widths: Vec<usize> = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        for (i, cell) in cells.iter().enumerate().take(cells.len() - 1) {
            let width = (cell.chars().count() + PADDING).max(MIN_WIDTH);
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    lines
        .iter()
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let last = cells.len() - 1;
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                out.push_str(cell);
                if i < last {
                    let pad = widths[i] - cell.chars().count();
                    out.push_str(&" ".repeat(pad));
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(Format::new(true, Some("{{.ID}}")), Format::Json);
        assert_eq!(Format::new(false, Some("json")), Format::Json);
        assert_eq!(Format::new(false, Some("table")), Format::Default);
        assert_eq!(
            Format::new(false, Some("table {{.ID}}")),
            Format::Template {
                table: true,
                source: "{{.ID}}".into()
            }
        );
    }

    #[test]
    fn headers_split_words() {
        assert_eq!(words_upper("CreatedSince"), "CREATED SINCE");
        assert_eq!(words_upper("ID"), "ID");
        assert_eq!(words_upper("ImageID"), "IMAGE ID");
    }

    #[test]
    fn spaces_between_actions_are_columns() {
        assert_eq!(
            columns_of("{{.ID}} {{join .Names \" \"}}  x"),
            "{{.ID}}\t{{join .Names \" \"}}\tx"
        );
    }

    #[test]
    fn columns_align_as_tabwriter() {
        assert_eq!(
            align(&["IMAGE ID\tTAG\tSIZE", "88acda524bd4\tlatest\t11.3 kB"]),
            [
                "IMAGE ID      TAG         SIZE",
                "88acda524bd4  latest      11.3 kB"
            ]
        );
    }

    #[test]
    fn templates_use_podman_functions() {
        let t = parse("{{upper .A}} {{join .L \",\"}} {{json .L}} {{truncate .A 2}} {{len .L}} {{if eq .N 3}}three{{end}}").expect("a template");
        let data = json!({"A": "abc", "L": ["x", "y"], "N": 3});
        assert_eq!(
            render(&t, &data).expect("a template"),
            "ABC x,y [\"x\",\"y\"] ab 2 three"
        );
    }

    #[test]
    fn other_keys_stay() {
        let data = template_data(&json!({"Env": {"/data_dir": 1, "80/tcp": 2, "Cmd": 3}}));
        assert_eq!(
            data,
            json!({"Env": {"/data_dir": 1, "80/tcp": 2, "Cmd": 3}})
        );
    }

    #[test]
    fn snake_keys_become_pascal() {
        let data = template_data(&json!({"id": "1", "diff_size": 2, "flags": {"a_b": 1}}));
        assert_eq!(
            data,
            json!({"ID": "1", "Id": "1", "DiffSize": 2, "Flags": {"a_b": 1}})
        );
    }
}

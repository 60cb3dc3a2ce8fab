//! The functions podman adds to Go's template built-ins (`json`, `upper`,
//! `lower`, `title`, `join`, `split`, `truncate`, `pad`); `eq`, `ne`,
//! `not`, `and`, `or`, `len`, `index`, `print`, `printf`, ... are the
//! template engine's own.

use std::sync::Arc;

use gotmpl::{Template, TemplateError, Value};

/// `template` with podman's functions added.
pub fn add(template: Template) -> Template {
    template
        .func("json", |args| {
            Ok(Value::String(json(one("json", args)?).into()))
        })
        .func("upper", |args| {
            string_fn("upper", args, |s| s.to_uppercase())
        })
        .func("lower", |args| {
            string_fn("lower", args, |s| s.to_lowercase())
        })
        .func("title", |args| string_fn("title", args, title))
        .func("join", join)
        .func("split", split)
        .func("truncate", truncate)
        .func("pad", pad)
}

fn error(name: &str, message: &str) -> TemplateError {
    TemplateError::Exec(format!("{name}: {message}"))
}

fn one<'a>(name: &str, args: &'a [Value]) -> gotmpl::Result<&'a Value> {
    match args {
        [value] => Ok(value),
        _ => Err(TemplateError::ArgCount {
            name: name.into(),
            expected: 1,
            got: args.len(),
        }),
    }
}

fn two<'a>(name: &str, args: &'a [Value]) -> gotmpl::Result<(&'a Value, &'a Value)> {
    match args {
        [a, b] => Ok((a, b)),
        _ => Err(TemplateError::ArgCount {
            name: name.into(),
            expected: 2,
            got: args.len(),
        }),
    }
}

fn text<'a>(name: &str, value: &'a Value) -> gotmpl::Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| error(name, &format!("wants a string, not {}", value.type_name())))
}

fn string_fn(name: &str, args: &[Value], f: impl Fn(&str) -> String) -> gotmpl::Result<Value> {
    Ok(Value::String(f(text(name, one(name, args)?)?).into()))
}

/// Each word's first letter in upper case (Go's `strings.Title`).
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

/// `join LIST SEP`; a string is joined as a list of one.
fn join(args: &[Value]) -> gotmpl::Result<Value> {
    let (list, separator) = two("join", args)?;
    let separator = text("join", separator)?;
    let joined = match list {
        Value::List(items) => items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(separator),
        Value::Nil => String::new(),
        other => other.to_string(),
    };
    Ok(Value::String(joined.into()))
}

/// `split STRING SEP`.
fn split(args: &[Value]) -> gotmpl::Result<Value> {
    let (s, separator) = two("split", args)?;
    let (s, separator) = (text("split", s)?, text("split", separator)?);
    let parts: Vec<Value> = s
        .split(separator)
        .map(|p| Value::String(p.into()))
        .collect();
    Ok(Value::List(Arc::from(parts)))
}

fn count(name: &str, value: &Value) -> gotmpl::Result<usize> {
    value
        .as_int()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| error(name, "wants a length"))
}

/// `truncate STRING N`: the first N characters.
fn truncate(args: &[Value]) -> gotmpl::Result<Value> {
    let (s, n) = two("truncate", args)?;
    let (s, n) = (text("truncate", s)?, count("truncate", n)?);
    Ok(Value::String(s.chars().take(n).collect::<String>().into()))
}

/// `pad STRING LEFT RIGHT`: the string with spaces around it.
fn pad(args: &[Value]) -> gotmpl::Result<Value> {
    let [s, left, right] = args else {
        return Err(TemplateError::ArgCount {
            name: "pad".into(),
            expected: 3,
            got: args.len(),
        });
    };
    let s = text("pad", s)?;
    let (left, right) = (count("pad", left)?, count("pad", right)?);
    Ok(Value::String(
        format!("{}{s}{}", " ".repeat(left), " ".repeat(right)).into(),
    ))
}

/// A template value as compact JSON (podman's `json`).
pub fn json(value: &Value) -> String {
    serde_json::to_string(&to_json(value)).unwrap_or_default()
}

fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Nil | Value::Function(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Uint(n) => J::from(*n),
        Value::Float(f) => J::from(*f),
        Value::String(s) => J::String(s.to_string()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
    }
}

/// A JSON value as a template value; object keys as they are.
pub fn from_json(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::Uint(u),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::String(s.as_str().into()),
        J::Array(items) => Value::List(items.iter().map(from_json).collect()),
        J::Object(map) => Value::Map(Arc::new(
            map.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), from_json(v)))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_capitalizes_words() {
        assert_eq!(title("hello big-world"), "Hello Big-World");
    }
}

//! Config changes in the syntax of `docker commit --change` and `podman
//! commit --change`: one Dockerfile instruction each (`CMD`, `ENTRYPOINT`,
//! `ENV`, `LABEL`, `WORKDIR`, `USER`, `EXPOSE`, `STOPSIGNAL`, `VOLUME`),
//! applied to the `config` object of an image config kept as JSON, so
//! every other field stays as it was.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Applies each change in turn to `config` (the image config's `config`
/// object). An unknown instruction or a malformed argument is
/// [`Error::InvalidChange`]; nothing is applied then.
pub fn apply_changes(config: &mut Map<String, Value>, changes: &[String]) -> Result<()> {
    let mut changed = config.clone();
    for change in changes {
        apply(&mut changed, change).map_err(|reason| Error::InvalidChange {
            change: change.clone(),
            reason,
        })?;
    }
    *config = changed;
    Ok(())
}

fn apply(config: &mut Map<String, Value>, change: &str) -> std::result::Result<(), String> {
    let change = change.trim();
    let (instruction, argument) = change
        .split_once(char::is_whitespace)
        .map(|(i, a)| (i, a.trim()))
        .unwrap_or((change, ""));
    let needs_argument = || {
        if argument.is_empty() {
            Err(format!("{instruction} needs an argument"))
        } else {
            Ok(())
        }
    };
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => {
            needs_argument()?;
            config.insert("Cmd".into(), json!(command(argument)?));
        }
        "ENTRYPOINT" => {
            needs_argument()?;
            config.insert("Entrypoint".into(), json!(command(argument)?));
        }
        "ENV" => {
            needs_argument()?;
            for (key, value) in pairs(argument)? {
                set_env(config, &key, &value);
            }
        }
        "LABEL" => {
            needs_argument()?;
            let labels = object(config, "Labels");
            for (key, value) in pairs(argument)? {
                labels.insert(key, json!(value));
            }
        }
        "WORKDIR" => {
            needs_argument()?;
            if !argument.starts_with('/') {
                return Err("the working directory must be an absolute path".into());
            }
            config.insert("WorkingDir".into(), json!(argument));
        }
        "USER" => {
            needs_argument()?;
            config.insert("User".into(), json!(argument));
        }
        "STOPSIGNAL" => {
            needs_argument()?;
            config.insert("StopSignal".into(), json!(argument));
        }
        "EXPOSE" => {
            needs_argument()?;
            for port in argument.split_whitespace() {
                let port = exposed_port(port)?;
                object(config, "ExposedPorts").insert(port, json!({}));
            }
        }
        "VOLUME" => {
            needs_argument()?;
            for volume in list(argument)? {
                object(config, "Volumes").insert(volume, json!({}));
            }
        }
        "" => return Err("it is empty".into()),
        other => {
            return Err(format!(
                "unknown instruction {other:?} (known: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, \
                 STOPSIGNAL, USER, VOLUME, WORKDIR)"
            ));
        }
    }
    Ok(())
}

/// A command: a JSON array of strings (exec form), or anything else as a
/// shell command (`/bin/sh -c ...`).
fn command(argument: &str) -> std::result::Result<Vec<String>, String> {
    match json_strings(argument) {
        Some(parsed) => parsed,
        None => Ok(vec!["/bin/sh".into(), "-c".into(), argument.into()]),
    }
}

/// A JSON array of strings, or words separated by white space.
fn list(argument: &str) -> std::result::Result<Vec<String>, String> {
    match json_strings(argument) {
        Some(parsed) => parsed,
        None => Ok(argument.split_whitespace().map(str::to_string).collect()),
    }
}

/// `argument` parsed as a JSON array of strings when it starts like one
/// (the exec form), else `None`.
fn json_strings(argument: &str) -> Option<std::result::Result<Vec<String>, String>> {
    argument.starts_with('[').then(|| {
        serde_json::from_str(argument).map_err(|e| format!("not a JSON array of strings: {e}"))
    })
}

/// `key=value` pairs separated by white space (a value may be quoted with
/// double quotes to hold spaces), or the old form `key value`.
fn pairs(argument: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let Some((first, _)) = argument.split_once('=') else {
        return match argument.split_once(char::is_whitespace) {
            Some((key, value)) => Ok(vec![(key.to_string(), value.trim().to_string())]),
            None => Err(format!("{argument:?} is not key=value")),
        };
    };
    if first.contains(char::is_whitespace) {
        // `KEY some value with = in it`: the old form.
        let (key, value) = argument
            .split_once(char::is_whitespace)
            .unwrap_or((argument, ""));
        return Ok(vec![(key.to_string(), value.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut rest = argument.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("{rest:?} is not key=value"))?;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("{key:?} is not a valid key"));
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("the value of {key} has no closing quote"))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        out.push((key.to_string(), value.to_string()));
        rest = after.trim_start();
    }
    Ok(out)
}

/// Sets `key=value` in `Env`, replacing an earlier value of `key`.
fn set_env(config: &mut Map<String, Value>, key: &str, value: &str) {
    let entry = json!(format!("{key}={value}"));
    let items = array(config, "Env");
    let prefix = format!("{key}=");
    match items
        .iter_mut()
        .find(|v| v.as_str().is_some_and(|s| s.starts_with(&prefix)))
    {
        Some(existing) => *existing = entry,
        None => items.push(entry),
    }
}

/// The object at `key`, made (or replaced, if it is not an object) first.
pub(crate) fn object<'a>(
    config: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let value = config.entry(key).or_insert_with(|| json!({}));
    if !value.is_object() {
        *value = json!({});
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("made an object just above"),
    }
}

/// The array at `key`, made (or replaced, if it is not an array) first.
pub(crate) fn array<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let value = config.entry(key).or_insert_with(|| json!([]));
    if !value.is_array() {
        *value = json!([]);
    }
    match value {
        Value::Array(items) => items,
        _ => unreachable!("made an array just above"),
    }
}

/// `80`, `80/tcp`, `53/udp` as the config's key (`80/tcp`); port ranges
/// are not supported and are an error.
fn exposed_port(port: &str) -> std::result::Result<String, String> {
    let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
    let protocol = protocol.to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("{port:?}: unknown protocol {protocol:?}"));
    }
    match number.parse::<u16>() {
        Ok(n) if n > 0 => Ok(format!("{n}/{protocol}")),
        _ => Err(format!("{port:?} is not a port number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Result<Value> {
        let mut config = json!({"Env": ["PATH=/bin", "A=1"], "Labels": {"old": "x"}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let changes: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        apply_changes(&mut config, &changes)?;
        Ok(Value::Object(config))
    }

    #[test]
    fn each_instruction() {
        let config = applied(&[
            r#"ENTRYPOINT ["/bin/app", "--flag"]"#,
            "CMD echo hi there",
            "ENV A=2 B=\"two words\"",
            "ENV C some value",
            "LABEL version=1.0 maintainer=me",
            "workdir /srv",
            "USER 1000:1000",
            "EXPOSE 80 53/udp",
            "STOPSIGNAL SIGTERM",
            r#"VOLUME ["/data"]"#,
            "VOLUME /cache /logs",
        ])
        .expect("apply");
        assert_eq!(config["Entrypoint"], json!(["/bin/app", "--flag"]));
        assert_eq!(config["Cmd"], json!(["/bin/sh", "-c", "echo hi there"]));
        assert_eq!(
            config["Env"],
            json!(["PATH=/bin", "A=2", "B=two words", "C=some value"])
        );
        assert_eq!(
            config["Labels"],
            json!({"old": "x", "version": "1.0", "maintainer": "me"})
        );
        assert_eq!(config["WorkingDir"], "/srv");
        assert_eq!(config["User"], "1000:1000");
        assert_eq!(config["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(config["StopSignal"], "SIGTERM");
        assert_eq!(
            config["Volumes"],
            json!({"/data": {}, "/cache": {}, "/logs": {}})
        );
    }

    #[test]
    fn rejections_name_the_change() {
        for bad in [
            "RUN rm -rf /",
            "CMD",
            "",
            "CMD [\"unclosed\"",
            "ENV novalue",
            "ENV A=\"open",
            "EXPOSE http",
            "EXPOSE 80/icmp",
            "WORKDIR relative",
        ] {
            match applied(&["USER root", bad]) {
                Err(Error::InvalidChange { change, .. }) => assert_eq!(change, bad),
                other => panic!("{bad:?}: expected InvalidChange, got {other:?}"),
            }
        }
    }
}

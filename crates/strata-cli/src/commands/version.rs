//! `strata version`: this build, the store (read, never created) and what
//! the kernel offers the overlay driver, as text like `podman version`
//! prints or as JSON.

use anyhow::Result;
use serde::Serialize;
use strata::{HostSupport, Store, StoreDescription, StoreOptions};

use super::output;
use crate::cli::{VersionArgs, VersionFormat};

/// What `strata version --format json` prints.
#[derive(Debug, Serialize)]
struct Version {
    client: Client,
    /// `None` when there is no default store to describe (no `HOME`, no
    /// `--root`): the version is still worth printing.
    store: Option<StoreDescription>,
    host: HostSupport,
}

/// This build.
#[derive(Debug, Serialize)]
struct Client {
    /// strata's version.
    version: &'static str,
    /// `os/arch`, as Go names them (`linux/amd64`).
    os_arch: String,
}

/// `strata version [--format text|json]`.
pub fn version(options: &StoreOptions, args: &VersionArgs) -> Result<()> {
    let version = Version {
        client: Client {
            version: env!("CARGO_PKG_VERSION"),
            os_arch: format!("{}/{}", std::env::consts::OS, go_arch()),
        },
        store: match Store::describe(options) {
            Ok(store) => Some(store),
            Err(strata::Error::NoDefaultRoot) => None,
            Err(error) => return Err(error.into()),
        },
        host: strata::probe_host(),
    };
    if args.json || args.format == VersionFormat::Json {
        return output::json(&version);
    }
    print!("{}", text(&version));
    Ok(())
}

/// The architecture under the name Go (and so OCI platforms) gives it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The text form: sections of aligned `Key: value` lines.
fn text(v: &Version) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut rows = vec![
        ("Client:", "strata".to_string()),
        ("Version:", v.client.version.to_string()),
        ("OS/Arch:", v.client.os_arch.clone()),
        ("", String::new()),
        ("Store:", String::new()),
    ];
    match &v.store {
        Some(store) => rows.extend(store_rows(store)),
        None => rows.push((
            "  Root:",
            "none (HOME is not set: set HOME, or STRATA_ROOT or --root)".to_string(),
        )),
    }
    let host = &v.host;
    let mount = match (host.mount_api, host.lowerdir_plus) {
        (true, true) => "fsopen/fsconfig, one lowerdir+ per layer",
        (true, false) => "fsopen, but no lowerdir+: one mount(2) option string",
        (false, _) => "mount(2) option string",
    };
    rows.extend([
        ("", String::new()),
        ("Host:", String::new()),
        ("  Kernel:", host.kernel.clone()),
        ("  Root user:", yes_no(host.root).to_string()),
        ("  Overlay:", yes_no(host.overlay).to_string()),
        ("  lowerdir+:", yes_no(host.lowerdir_plus).to_string()),
        ("  Mounts by:", mount.to_string()),
    ]);
    if let Some(note) = &host.note {
        rows.push(("  Note:", note.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(key, value)| match value.is_empty() {
            true => format!("{key}\n"),
            false => format!("{key:<width$}{value}\n"),
        })
        .collect()
}

/// The Store section's rows for a store that has (or would have) a root.
fn store_rows(store: &StoreDescription) -> [(&'static str, String); 4] {
    let schema = match store.schema_version {
        Some(version) => format!(
            "{version} (this build writes {})",
            store.supported_schema_version
        ),
        None => format!(
            "none (this build writes {})",
            store.supported_schema_version
        ),
    };
    let driver = match (&store.driver, &store.requested_driver, store.exists) {
        (Some(driver), _, _) => driver.clone(),
        (None, Some(requested), _) => format!("none yet ({requested} asked for)"),
        (None, None, _) => "none yet (a new store takes overlay where it works, else vfs)".into(),
    };
    let root = match store.exists {
        true => store.root.clone(),
        false => format!("{} (no store there yet)", store.root),
    };
    [
        ("  Root:", root),
        ("  Run root:", store.runroot.clone()),
        ("  Schema:", schema),
        ("  Driver:", driver),
    ]
}

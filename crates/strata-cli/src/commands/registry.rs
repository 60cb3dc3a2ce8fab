//! `strata pull`, `push`, `login` and `logout`: parse, call the store's
//! registry methods, print as podman does.

use std::time::Duration;

use anyhow::{Context, Result};
use strata::registry::Login;
use strata::{PlatformSpec, PullOptions, RegistryOptions, Store};

use super::progress::Transfers;
use crate::cli::{PullArgs, RegistryArgs};

/// The library's registry options from the command line's.
pub fn registry_options(args: &RegistryArgs) -> Result<RegistryOptions> {
    let login = match &args.creds {
        Some(creds) => Some(parse_creds(creds)?),
        None => None,
    };
    Ok(RegistryOptions {
        tls_verify: args.tls_verify,
        cert_dir: args.cert_dir.clone(),
        auth_file: args.authfile.clone(),
        login,
        stall_timeout: Duration::from_secs(args.stall_timeout.max(1)),
        max_parallel: args.max_parallel.max(1),
        ..RegistryOptions::default()
    })
}

/// `USER[:PASSWORD]`, as podman's `--creds`.
fn parse_creds(creds: &str) -> Result<Login> {
    let (username, password) = creds.split_once(':').unwrap_or((creds, ""));
    anyhow::ensure!(!username.is_empty(), "--creds: the user name is empty");
    Ok(Login {
        username: username.to_string(),
        password: password.to_string(),
        identity_token: None,
    })
}

/// `strata pull REF`.
pub fn pull(store: &Store, args: &PullArgs) -> Result<()> {
    let platform = match &args.platform {
        Some(text) => Some(text.parse::<PlatformSpec>()?),
        None => None,
    };
    let transfers = (!args.quiet).then(Transfers::new).flatten();
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = PullOptions {
        registry: registry_options(&args.registry)?,
        platform,
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
    };
    if transfers.is_some() {
        eprintln!("Trying to pull {}...", args.reference);
    }
    let pulled = store
        .pull(&args.reference, &options)
        .with_context(|| format!("cannot pull {}", args.reference))?;
    println!("{}", pulled.image.id);
    Ok(())
}

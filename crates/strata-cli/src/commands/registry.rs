//! `strata pull`, `push`, `login` and `logout`: parse, call the store's
//! registry methods, print as podman does.

use std::time::Duration;

use anyhow::{Context, Result};
use strata::compression::Compression;
use strata::registry::Login;
use strata::{PlatformSpec, PullOptions, PushOptions, RegistryOptions, Store};

use super::progress::Transfers;
use crate::cli::{LoginArgs, LogoutArgs, PullArgs, PushArgs, RegistryArgs};

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
pub fn parse_creds(creds: &str) -> Result<Login> {
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
    let transfers = Transfers::unless(args.quiet);
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = PullOptions {
        registry: registry_options(&args.registry)?,
        platform,
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
        discard_blobs: args.discard_blobs,
    };
    if transfers.is_some() {
        eprintln!("Trying to pull {}...", args.reference);
    }
    let pulled = store
        .pull(&args.reference, &options)
        .with_context(|| format!("cannot pull {}", args.reference))?;
    if let Some(transfers) = &transfers {
        transfers.config_done(&pulled.image.id);
    }
    println!("{}", pulled.image.id);
    Ok(())
}

/// `strata push IMAGE [DEST]`: progress on a terminal, then nothing on
/// stdout, as podman; `--digestfile` gets the manifest digest.
pub fn push(store: &Store, args: &PushArgs) -> Result<()> {
    let compression = match args.compression.as_str() {
        "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        other => anyhow::bail!("--compression: unknown format {other:?} (use gzip or zstd)"),
    };
    let destination = args
        .destination
        .as_deref()
        .map(|d| d.strip_prefix("docker://").unwrap_or(d));
    let transfers = Transfers::unless(args.quiet);
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = PushOptions {
        registry: registry_options(&args.registry)?,
        compression,
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
    };
    let shown = destination.unwrap_or(&args.image);
    let pushed = store
        .push(&args.image, destination, &options)
        .with_context(|| format!("cannot push {shown}"))?;
    if let Some(transfers) = &transfers {
        transfers.config_done(&pushed.image);
        eprintln!(
            "Pushed {}@{} ({} uploaded, {} already there, {} mounted)",
            pushed.destination,
            pushed.manifest_digest,
            pushed.uploaded,
            pushed.existing,
            pushed.mounted
        );
    }
    if let Some(path) = &args.digestfile {
        std::fs::write(path, pushed.manifest_digest.to_string())
            .with_context(|| format!("cannot write the digest to {}", path.display()))?;
    }
    Ok(())
}

/// `strata login [REGISTRY] -u USER --password-stdin`.
pub fn login(args: &LoginArgs) -> Result<()> {
    let username = match &args.username {
        Some(name) => name.clone(),
        None => anyhow::bail!("login: give the user name with -u USER"),
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(password), _) => password.clone(),
        (None, true) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read the password from stdin")?;
            text.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => anyhow::bail!("login: give the password with --password-stdin or -p"),
    };
    let options = RegistryOptions {
        tls_verify: args.tls_verify,
        cert_dir: args.cert_dir.clone(),
        auth_file: args.authfile.clone(),
        ..RegistryOptions::default()
    };
    let login = Login {
        username,
        password,
        identity_token: None,
    };
    strata::login(&args.registry, &login, &options)
        .with_context(|| format!("cannot log in to {}", args.registry))?;
    println!("Login Succeeded!");
    Ok(())
}

/// `strata logout [REGISTRY] | --all`.
pub fn logout(args: &LogoutArgs) -> Result<()> {
    let options = RegistryOptions {
        auth_file: args.authfile.clone(),
        ..RegistryOptions::default()
    };
    if args.all {
        strata::logout_all(&options).context("cannot log out")?;
        println!("Removed login credentials for all registries");
        return Ok(());
    }
    let removed = strata::logout(&args.registry, &options)
        .with_context(|| format!("cannot log out of {}", args.registry))?;
    anyhow::ensure!(removed, "not logged into {}", args.registry);
    println!("Removed login credentials for {}", args.registry);
    Ok(())
}

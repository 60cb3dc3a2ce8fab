//! `strata save`, `strata load` and `strata copy`: images out of and into
//! the store as docker-archive, OCI layout and OCI archive, and copies
//! with a registry on either side.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use strata::{ArchiveInput, Copied, CopyOptions, LoadOptions, LoadReport, Location};
use strata::{PlatformSpec, RegistryOptions};
use strata::{SaveFormat, SaveOptions, Store};

use super::output;
use super::progress::Transfers;
use super::registry::parse_creds;
use crate::cli::{CopyArgs, LoadArgs, SaveArgs, SaveFormatArg};

/// `strata save`.
pub fn save(store: &Store, args: &SaveArgs) -> Result<()> {
    let mut items = Vec::new();
    for asked in &args.images {
        let item = store
            .save_item(asked)
            .with_context(|| format!("cannot save {asked}"))?;
        items.push(item);
    }
    let format = match args.format {
        SaveFormatArg::DockerArchive => SaveFormat::DockerArchive,
        SaveFormatArg::OciArchive => SaveFormat::OciArchive,
        SaveFormatArg::DockerArchiveV1 => SaveFormat::DockerArchiveV1,
    };
    let transfers = Transfers::unless(args.quiet);
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = SaveOptions {
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
    };
    match &args.output {
        Some(path) => {
            store
                .save_path_with(&items, format, path, &options)
                .with_context(|| format!("cannot save to {}", path.display()))?;
        }
        None => output::stream_to_stdout("an archive", |out| {
            store
                .save_with(&items, format, out, &options)
                .context("cannot save")?;
            Ok(())
        })?,
    }
    if let Some(transfers) = &transfers {
        let mut ids: Vec<&str> = items.iter().map(|item| item.image.id.as_str()).collect();
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        ids.iter().for_each(|id| transfers.config_done(id));
    }
    Ok(())
}

/// `strata load`.
pub fn load(store: &Store, args: &LoadArgs) -> Result<()> {
    let input = match &args.input {
        Some(path) => ArchiveInput::File(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("no archive: use -i FILE or pipe one to stdin");
            }
            ArchiveInput::Stream(Box::new(stdin))
        }
    };
    let transfers = Transfers::unless(args.quiet);
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = LoadOptions {
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
    };
    let report = store.load_with(input, &options).context("cannot load")?;
    if let Some(transfers) = &transfers {
        report
            .images
            .iter()
            .for_each(|image| transfers.config_done(&image.id));
    }
    print_loaded(&report);
    Ok(())
}

/// What podman prints after a load, with or without `-q`: each name, or
/// the id of an image without one.
fn print_loaded(report: &LoadReport) {
    for image in &report.images {
        if image.names.is_empty() {
            println!("Loaded image: sha256:{}", image.id);
        }
        for name in &image.names {
            println!("Loaded image: {name}");
        }
    }
}

/// `strata copy`, with skopeo's per-side registry flags.
pub fn copy(store: &Store, args: &CopyArgs) -> Result<()> {
    let from: Location = args.source.parse()?;
    let to: Location = args.destination.parse()?;
    let platform = match &args.platform {
        Some(text) => Some(text.parse::<PlatformSpec>()?),
        None => None,
    };
    let transfers = Transfers::unless(args.quiet);
    let progress = transfers.as_ref().map(|t| t.callback());
    let options = CopyOptions {
        source: side(
            args,
            args.src_tls_verify,
            &args.src_cert_dir,
            &args.src_authfile,
            &args.src_creds,
        )?,
        destination: side(
            args,
            args.dest_tls_verify,
            &args.dest_cert_dir,
            &args.dest_authfile,
            &args.dest_creds,
        )?,
        platform,
        all: args.all,
        progress: progress.as_ref().map(|p| p as &(dyn Fn(&_) + Sync)),
    };
    let copied = store
        .copy_with(&from, &to, &options)
        .with_context(|| format!("cannot copy {from} to {to}"))?;
    if let Some(transfers) = &transfers {
        let ids: Vec<&str> = match &copied {
            Copied::Loaded(report) => report.images.iter().map(|i| i.id.as_str()).collect(),
            Copied::Pulled(pulled) => vec![pulled.image.id.as_str()],
            Copied::Saved { image } => vec![image.as_str()],
            Copied::Pushed { .. } => vec![],
        };
        ids.iter().for_each(|id| transfers.config_done(id));
    }
    match copied {
        Copied::Loaded(report) => print_loaded(&report),
        Copied::Pulled(pulled) => println!("{}", pulled.image.id),
        Copied::Saved { .. } | Copied::Pushed { .. } => {}
    }
    Ok(())
}

/// The registry options of one side of a copy: its own flag, else the
/// flag for both sides.
fn side(
    args: &CopyArgs,
    tls_verify: Option<bool>,
    cert_dir: &Option<PathBuf>,
    authfile: &Option<PathBuf>,
    creds: &Option<String>,
) -> Result<RegistryOptions> {
    let login = match creds {
        Some(creds) => Some(parse_creds(creds)?),
        None => None,
    };
    Ok(RegistryOptions {
        tls_verify: tls_verify.or(args.tls_verify).unwrap_or(true),
        cert_dir: cert_dir.clone(),
        auth_file: authfile.clone().or_else(|| args.authfile.clone()),
        login,
        stall_timeout: Duration::from_secs(args.stall_timeout.max(1)),
        max_parallel: args.max_parallel.max(1),
        ..RegistryOptions::default()
    })
}

//! Putting images into a registry and reading them back with the real
//! `skopeo` (through [`crate::peers::skopeo`], so with no host config),
//! with the TLS and credential flags a given registry needs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::peers;

/// Where skopeo talks to and how: a `host:port`, the `certs.d` directory
/// for HTTPS (none means plain HTTP, `--tls-verify=false`), and
/// credentials. Made by [`Registry::target`](super::Registry::target) or
/// [`FaultProxy::target`](crate::fault_proxy::FaultProxy::target).
#[derive(Debug, Clone)]
pub struct Target {
    host: String,
    cert_dir: Option<PathBuf>,
    creds: Option<(String, String)>,
}

/// Which side of a `skopeo copy` the flags are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Src,
    Dest,
    /// `skopeo inspect` (no prefix).
    Plain,
}

impl Target {
    /// A target at `host` (`127.0.0.1:PORT`).
    pub fn new(host: String, cert_dir: Option<PathBuf>, creds: Option<(String, String)>) -> Target {
        Target {
            host,
            cert_dir,
            creds,
        }
    }

    /// The same target without credentials (anonymous access).
    pub fn anonymous(&self) -> Target {
        Target {
            creds: None,
            ..self.clone()
        }
    }

    /// The same target with these credentials.
    pub fn with_creds(&self, user: &str, password: &str) -> Target {
        Target {
            creds: Some((user.to_owned(), password.to_owned())),
            ..self.clone()
        }
    }

    /// `host:port`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `docker://HOST/REFERENCE`, e.g. for `sample/app:1`.
    pub fn docker_ref(&self, reference: &str) -> String {
        format!("docker://{}/{reference}", self.host)
    }

    fn flags(&self, side: Side) -> Vec<OsString> {
        let prefix = match side {
            Side::Src => "--src-",
            Side::Dest => "--dest-",
            Side::Plain => "--",
        };
        let mut out: Vec<OsString> = Vec::new();
        match &self.cert_dir {
            Some(dir) => {
                out.push(format!("{prefix}cert-dir").into());
                out.push(dir.into());
            }
            None => out.push(format!("{prefix}tls-verify=false").into()),
        }
        match &self.creds {
            Some((user, password)) => {
                out.push(format!("{prefix}creds").into());
                out.push(format!("{user}:{password}").into());
            }
            None => out.push(format!("{prefix}no-creds").into()),
        }
        out
    }

    /// The flags for the destination of a `skopeo copy`, e.g.
    /// `--dest-cert-dir DIR --dest-creds U:P` or
    /// `--dest-tls-verify=false --dest-no-creds`.
    pub fn dest_flags(&self) -> Vec<OsString> {
        self.flags(Side::Dest)
    }

    /// The flags for the source of a `skopeo copy`.
    pub fn src_flags(&self) -> Vec<OsString> {
        self.flags(Side::Src)
    }

    /// The flags for `skopeo inspect`.
    pub fn inspect_flags(&self) -> Vec<OsString> {
        self.flags(Side::Plain)
    }

    /// `skopeo copy docker-archive:ARCHIVE docker://HOST/REFERENCE`.
    pub fn try_push(&self, archive: &Path, reference: &str) -> Output {
        let mut args: Vec<OsString> = vec!["copy".into()];
        args.extend(self.dest_flags());
        args.push(format!("docker-archive:{}", archive.display()).into());
        args.push(self.docker_ref(reference).into());
        peers::skopeo(args)
    }

    /// [`Target::try_push`], panicking unless skopeo succeeds.
    pub fn push(&self, archive: &Path, reference: &str) {
        check(self.try_push(archive, reference), "push");
    }

    /// `skopeo inspect --raw docker://HOST/REFERENCE`.
    pub fn try_inspect_raw(&self, reference: &str) -> Output {
        let mut args: Vec<OsString> = vec!["inspect".into(), "--raw".into()];
        args.extend(self.inspect_flags());
        args.push(self.docker_ref(reference).into());
        peers::skopeo(args)
    }

    /// The manifest bytes as served, panicking unless skopeo succeeds.
    pub fn inspect_raw(&self, reference: &str) -> Vec<u8> {
        check(self.try_inspect_raw(reference), "inspect --raw")
    }

    /// `skopeo copy docker://HOST/REFERENCE oci:DIR` (`DIR` may be new).
    pub fn try_pull_oci(&self, reference: &str, dir: &Path) -> Output {
        let mut args: Vec<OsString> = vec!["copy".into()];
        args.extend(self.src_flags());
        args.push(self.docker_ref(reference).into());
        args.push(format!("oci:{}", dir.display()).into());
        peers::skopeo(args)
    }

    /// [`Target::try_pull_oci`], panicking unless skopeo succeeds.
    pub fn pull_oci(&self, reference: &str, dir: &Path) {
        check(self.try_pull_oci(reference, dir), "pull");
    }
}

fn check(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "skopeo {what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

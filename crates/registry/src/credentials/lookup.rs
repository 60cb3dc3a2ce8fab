//! Finding the credentials for a repository: the auth files in podman's
//! order, and the credential helpers they name.

use std::path::Path;

use super::Credentials;
use super::env::Environment;
use super::error::{Error, Result};
use super::file::{AuthFile, FileAnswer, validate_key};
use super::helper::Helper;

/// The credentials for `repository` (`namespace/name`, or empty for the
/// registry as a whole) on `registry` (`host[:port]`), or `None` to go
/// anonymous.
///
/// With `auth_file`, only that file is read; else with
/// `$REGISTRY_AUTH_FILE` set, only that one (podman's and skopeo's
/// `--authfile` default). Otherwise, in order:
/// `${XDG_RUNTIME_DIR}/containers/auth.json` (or
/// `/run/containers/<uid>/auth.json`), `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
/// `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`) and
/// `~/.dockercfg`. Missing files are skipped; the first file with an
/// answer wins.
///
/// Within a file: a `credHelpers` entry for the registry sends the
/// question to that helper; else `auths` under `registry/repository`,
/// then each parent namespace, then `registry`, then legacy key forms
/// (`https://registry/v1/`, docker hub's `https://index.docker.io/v1/` for
/// `docker.io`); else the file's `credsStore`. A `credsStore` helper that
/// is not installed counts as having nothing, since docker configs naming
/// a desktop store are often copied to machines without it; a
/// `credHelpers` helper that is missing is an error.
///
/// # Errors
///
/// A malformed or unreadable file, an invalid `auth` field, a credential
/// helper that fails (other than "credentials not found"), or an invalid
/// registry or repository.
pub fn find(
    env: &Environment,
    auth_file: Option<&Path>,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>> {
    if registry.is_empty() || registry.contains('/') {
        return Err(Error::InvalidKey {
            key: registry.to_owned(),
            reason: "a registry is a host[:port]",
        });
    }
    let key = if repository.is_empty() {
        registry.to_owned()
    } else {
        format!("{registry}/{repository}")
    };
    validate_key(&key)?;
    for path in env.read_paths(auth_file) {
        let Some(file) = AuthFile::read(&path)? else {
            continue;
        };
        let found = match file.lookup(&path, &key, registry)? {
            FileAnswer::Found(creds) => Some(creds),
            FileAnswer::Helper { name, server_url } => Helper::new(env, &name)?.get(&server_url)?,
            FileAnswer::Store { name, server_urls } => {
                let helper = Helper::new(env, &name)?;
                if helper.exists() {
                    first_answer(&helper, &server_urls)?
                } else {
                    None
                }
            }
            FileAnswer::Nothing => None,
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The helper's credentials for the first of `server_urls` it knows.
fn first_answer(helper: &Helper<'_>, server_urls: &[String]) -> Result<Option<Credentials>> {
    for url in server_urls {
        if let Some(creds) = helper.get(url)? {
            return Ok(Some(creds));
        }
    }
    Ok(None)
}

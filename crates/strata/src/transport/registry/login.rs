//! `login` and `logout`: checking credentials against a registry and
//! recording them where podman does (or in the auth file given), and
//! forgetting them.

use strata_registry::credentials::{self, Credentials, Environment, StoredIn};
use strata_registry::{Client, ClientOptions, Login};

use super::{RegistryOptions, registry_host};
use crate::error::Result;

/// The auth file key for a registry named as users write it: `docker.io`
/// for Docker Hub whatever its alias.
fn key_of(registry: &str) -> &str {
    match registry {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// Checks `login` against `registry` (`host[:port]`) and records it, as
/// `podman login` does: in `options.auth_file`, else `$REGISTRY_AUTH_FILE`,
/// else `${XDG_RUNTIME_DIR}/containers/auth.json`; or in the credential
/// helper that file names for the registry.
pub fn login(registry: &str, login: &Login, options: &RegistryOptions) -> Result<StoredIn> {
    let key = key_of(registry);
    let client = Client::new(
        registry_host(key),
        ClientOptions {
            tls_verify: options.tls_verify,
            cert_dir: options.cert_dir.clone(),
            login: Some(login.clone()),
            attempts: options.attempts.max(1),
            stall_timeout: options.stall_timeout,
            ..ClientOptions::default()
        },
    )?;
    client.check_login()?;
    let credentials = match &login.identity_token {
        Some(token) => Credentials::IdentityToken {
            username: Some(login.username.clone()).filter(|u| !u.is_empty()),
            token: token.clone(),
        },
        None => Credentials::basic(login.username.clone(), login.password.clone()),
    };
    let env = Environment::from_process();
    Ok(
        credentials::store(&env, options.auth_file.as_deref(), key, &credentials)
            .map_err(strata_registry::Error::from)?,
    )
}

/// Forgets the credentials recorded for `registry`; `false` when there
/// were none.
pub fn logout(registry: &str, options: &RegistryOptions) -> Result<bool> {
    let env = Environment::from_process();
    Ok(
        credentials::remove(&env, options.auth_file.as_deref(), key_of(registry))
            .map_err(strata_registry::Error::from)?,
    )
}

/// Forgets every recorded credential of the auth file.
pub fn logout_all(options: &RegistryOptions) -> Result<()> {
    let env = Environment::from_process();
    Ok(credentials::remove_all(&env, options.auth_file.as_deref())
        .map_err(strata_registry::Error::from)?)
}

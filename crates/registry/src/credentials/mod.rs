//! Registry credentials as podman, skopeo and docker keep them: reading
//! them from containers' `auth.json` and docker's `config.json` (with
//! credential helpers), and writing them on login and logout.
//!
//! Every input from the process environment is in an explicit
//! [`Environment`], so a caller (or a test) decides what is read.
//!
//! - [`find`] looks up the credentials for a repository on a registry.
//! - [`store`] records credentials for a registry (`login`).
//! - [`remove`] and [`remove_all`] forget them (`logout`).
//!
//! File formats, search order and key forms follow containers/image's
//! `pkg/docker/config`, so files written by `podman login` and
//! `docker login` are read and written compatibly.

mod env;
mod error;
mod file;
mod helper;
mod lookup;
mod write;

use std::fmt;

pub use env::Environment;
pub use error::{Error, Result};
pub use lookup::find;
pub use write::{StoredIn, remove, remove_all, store};

/// What a registry login needs: a user name and password, or an identity
/// token.
///
/// `Debug` shows user names but never passwords or tokens.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password (HTTP Basic, or an OAuth2 password grant).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// docker's `identitytoken`: an OAuth2 refresh token that replaces the
    /// password. Credential helpers report one as the user name `<token>`.
    IdentityToken {
        /// The user name recorded with the token, if any.
        username: Option<String>,
        /// The refresh token.
        token: String,
    },
}

impl Credentials {
    /// A user name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// An identity (refresh) token without a user name.
    pub fn identity_token(token: impl Into<String>) -> Self {
        Credentials::IdentityToken {
            username: None,
            token: token.into(),
        }
    }

    /// The user name, if there is one.
    pub fn username(&self) -> Option<&str> {
        match self {
            Credentials::Basic { username, .. } => Some(username),
            Credentials::IdentityToken { username, .. } => username.as_deref(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::IdentityToken { username, .. } => f
                .debug_struct("IdentityToken")
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Credentials;

    #[test]
    fn debug_hides_secrets() {
        let basic = format!("{:?}", Credentials::basic("alice", "hunter2"));
        assert!(basic.contains("alice"), "{basic}");
        assert!(!basic.contains("hunter2"), "{basic}");
        let token = Credentials::IdentityToken {
            username: Some("bob".into()),
            token: "refresh-xyz".into(),
        };
        let shown = format!("{token:?} {token:#?}");
        assert!(shown.contains("bob"), "{shown}");
        assert!(!shown.contains("refresh-xyz"), "{shown}");
    }
}

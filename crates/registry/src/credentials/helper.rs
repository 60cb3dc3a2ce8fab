//! docker credential helpers: `docker-credential-<name>` programs found on
//! the [`Environment`]'s `PATH` and spoken to over stdin/stdout.
//!
//! `get` and `erase` take the server URL on stdin; `store` takes
//! `{"ServerURL","Username","Secret"}`. `get` answers the same JSON. A
//! helper that has nothing exits non-zero saying
//! `credentials not found in native keychain`.

use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde::{Deserialize, Serialize};

use super::Credentials;
use super::env::Environment;
use super::error::{Error, Result};
use super::file::TOKEN_USERNAME;

/// The message of docker-credential-helpers' "not found" error.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// How much of a helper's failure message an error keeps.
const MAX_MESSAGE: usize = 512;

#[derive(Serialize, Deserialize)]
struct HelperCredentials {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// One credential helper, by its configured name (`pass`, `ecr-login`…).
pub(crate) struct Helper<'a> {
    program: String,
    env: &'a Environment,
}

impl<'a> Helper<'a> {
    /// The helper called `name`; names that are not a plain file name are
    /// refused.
    pub(crate) fn new(env: &'a Environment, name: &str) -> Result<Self> {
        if name.is_empty() || name.contains('/') || name.contains('\0') {
            return Err(Error::InvalidHelperName(name.to_owned()));
        }
        Ok(Helper {
            program: format!("docker-credential-{name}"),
            env,
        })
    }

    /// Whether the program is on `PATH`.
    pub(crate) fn exists(&self) -> bool {
        self.resolve().is_some()
    }

    /// The credentials for `server_url`, `None` when the helper has none.
    pub(crate) fn get(&self, server_url: &str) -> Result<Option<Credentials>> {
        let out = self.run("get", server_url.as_bytes())?;
        if !out.status.success() {
            return self.failure_or_not_found("get", &out).map(|()| None);
        }
        let reply: HelperCredentials =
            serde_json::from_slice(&out.stdout).map_err(|source| Error::HelperReply {
                helper: self.program.clone(),
                source,
            })?;
        Ok(match (reply.username.as_str(), reply.secret) {
            (_, secret) if secret.is_empty() => None,
            (TOKEN_USERNAME, token) => Some(Credentials::identity_token(token)),
            (_, password) => Some(Credentials::Basic {
                username: reply.username,
                password,
            }),
        })
    }

    /// Stores `creds` for `server_url`; an identity token goes in as the
    /// user name `<token>`, as docker stores it.
    pub(crate) fn store(&self, server_url: &str, creds: &Credentials) -> Result<()> {
        let (username, secret) = match creds {
            Credentials::Basic { username, password } => (username.clone(), password.clone()),
            Credentials::IdentityToken { token, .. } => (TOKEN_USERNAME.to_owned(), token.clone()),
        };
        let request = HelperCredentials {
            server_url: server_url.to_owned(),
            username,
            secret,
        };
        let body = serde_json::to_vec(&request).map_err(|e| Error::HelperRun {
            helper: self.program.clone(),
            action: "store",
            source: io::Error::other(e),
        })?;
        let out = self.run("store", &body)?;
        if out.status.success() {
            return Ok(());
        }
        Err(self.failure("store", &out))
    }

    /// Erases the credentials for `server_url`; `false` when it had none.
    pub(crate) fn erase(&self, server_url: &str) -> Result<bool> {
        let out = self.run("erase", server_url.as_bytes())?;
        if out.status.success() {
            return Ok(true);
        }
        self.failure_or_not_found("erase", &out).map(|()| false)
    }

    /// The program's path: the first executable regular file of that name
    /// in `PATH` (empty entries, meaning the working directory, skipped).
    fn resolve(&self) -> Option<PathBuf> {
        let path = self.env.search_path()?;
        std::env::split_paths(path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| dir.join(&self.program))
            .find(|candidate| {
                std::fs::metadata(candidate)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    }

    fn run(&self, action: &'static str, input: &[u8]) -> Result<Output> {
        let program = self
            .resolve()
            .ok_or_else(|| Error::HelperNotFound(self.program.clone()))?;
        let run_error = |source| Error::HelperRun {
            helper: self.program.clone(),
            action,
            source,
        };
        let mut command = Command::new(program);
        command
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = self.env.search_path() {
            command.env("PATH", path);
        }
        let mut child = command.spawn().map_err(run_error)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper may exit without reading its input; its exit status
            // then tells what happened.
            match stdin.write_all(input) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(run_error(e));
                }
            }
        }
        child.wait_with_output().map_err(run_error)
    }

    /// `Ok` for the helper's "not found" answer, the failure otherwise.
    fn failure_or_not_found(&self, action: &'static str, out: &Output) -> Result<()> {
        if message(out) == NOT_FOUND {
            Ok(())
        } else {
            Err(self.failure(action, out))
        }
    }

    fn failure(&self, action: &'static str, out: &Output) -> Error {
        let mut text = message(out);
        if text.is_empty() {
            text = out.status.to_string();
        }
        if text.len() > MAX_MESSAGE {
            let mut end = MAX_MESSAGE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        Error::HelperFailed {
            helper: self.program.clone(),
            action,
            message: text,
        }
    }
}

/// The helper's message: stdout (where docker-credential-helpers writes
/// errors), or stderr when stdout is empty, trimmed.
fn message(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stdout.trim().is_empty() {
        String::from_utf8_lossy(&out.stderr)
    } else {
        stdout
    };
    text.trim().to_owned()
}

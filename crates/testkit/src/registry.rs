//! A real OCI registry for client tests: Debian's `docker-registry`
//! (distribution 2.8.2) on 127.0.0.1 on a free port, its storage, config,
//! certificates and log in one temp dir, killed and waited for on drop.
//!
//! Modes ([`Options`]; the constructors cover the usual ones):
//!
//! - [`Registry::plain`]: HTTP, no authentication.
//! - [`Registry::tls_basic`]: HTTPS with a certificate for `127.0.0.1` and
//!   `localhost` from a CA made for this fixture, and Basic authentication
//!   (bcrypt htpasswd) for [`USER`]/[`PASSWORD`]. [`Registry::cert_dir`] is
//!   a podman/containers `certs.d/HOST:PORT` directory holding `ca.crt` and
//!   a client certificate pair `client.cert`/`client.key` signed by the CA.
//!   With [`Options::require_client_cert`] the registry is configured with
//!   `http.tls.clientcas`; distribution 2.8 then *requires* a client
//!   certificate from that CA (Go's `RequireAndVerifyClientCert`: a client
//!   without one fails the TLS handshake), there is no accept-if-given
//!   setting.
//! - [`Registry::token`]: HTTP with `auth: token`; the realm is a token
//!   server written for these tests ([`TokenServer`], the one mock: Debian
//!   packages no token server) that signs RS256 JWTs carrying their
//!   certificate in `x5c`. Anonymous clients may pull; [`USER`] may push.
//!
//! Request counting: the registry's access log ([`Registry::requests`]),
//! or put a [`FaultProxy`](crate::fault_proxy::FaultProxy) in front.
//! Pushing and reading images with skopeo: [`Registry::target`] and
//! [`Target`].
//!
//! ```no_run
//! use testkit::registry::{Registry, PASSWORD, USER};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let image = testkit::peers::sample_image(&dir.path().join("s.tar"), &[]);
//!
//! let reg = Registry::tls_basic();
//! let target = reg.target(); // skopeo flags: --*-cert-dir, --*-creds
//! target.push(&image.path, "sample/app:1");
//! let manifest = target.inspect_raw("sample/app:1");
//! // A client under test talks to reg.url() ("https://127.0.0.1:PORT"),
//! // trusts reg.ca_cert().unwrap(), logs in as USER/PASSWORD.
//! assert!(reg.requests().iter().any(|r| r.method == "PUT"));
//!
//! let tok = Registry::token();
//! tok.target().push(&image.path, "sample/app:1");
//! let anonymous = tok.target().anonymous();
//! anonymous.inspect_raw("sample/app:1"); // a pull-only anonymous token
//! assert!(!anonymous.try_push(&image.path, "sample/other:1").status.success());
//! let seen = tok.token_server().unwrap().requests();
//! assert!(seen.iter().any(|r| r.method == "POST"));
//! ```

pub(crate) mod certs;
mod skopeo;
mod token;

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use certs::{Certs, PASSWORD, USER, make_htpasswd, make_tls};
pub use skopeo::Target;
pub use token::{ISSUER, SERVICE, TokenOptions, TokenRequest, TokenServer};

/// The Debian package's binary.
const REGISTRY: &str = "/usr/bin/docker-registry";
/// How long the registry gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the registry (`$@`) and kills it when stdin (a pipe from the test
/// process) yields a line or EOF, so it also goes away when the test
/// process dies without running `Drop`. Prints the registry's pid; the
/// registry's stdout (its access log) goes to stderr, the log file.
const WATCHDOG: &str = r#"
exec 3<&0 </dev/null
"$@" 3<&- >&2 &
registry=$!
echo "$registry"
( read -r _ <&3; kill -KILL "$registry" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$registry"
status=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
exit "$status"
"#;

/// What to run. `Options::default()` is [`Registry::plain`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Serve HTTPS with a certificate from the fixture's own CA.
    pub tls: bool,
    /// Basic authentication against an htpasswd file with [`USER`].
    /// Works without TLS too (distribution only warns).
    pub basic_auth: bool,
    /// Configure `http.tls.clientcas` with the fixture CA, which makes
    /// distribution 2.8 require a client certificate (needs `tls`).
    pub require_client_cert: bool,
    /// Token authentication against a [`TokenServer`] (excludes
    /// `basic_auth`).
    pub token: Option<TokenOptions>,
}

/// One line of the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The method.
    pub method: String,
    /// The request URI (path and query).
    pub path: String,
    /// The status it answered.
    pub status: u16,
    /// Response body bytes, as the registry logged them.
    pub bytes: u64,
}

/// A running registry; dropping it kills the registry and the token server
/// and removes the temp dir.
pub struct Registry {
    dir: TempDir,
    options: Options,
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    port: u16,
    log: PathBuf,
    token: Option<TokenServer>,
    syncs: AtomicU32,
}

impl Registry {
    /// Plain HTTP, no authentication.
    pub fn plain() -> Registry {
        Registry::start(Options::default())
    }

    /// HTTPS (fixture CA) with Basic authentication; no client certificate
    /// required.
    pub fn tls_basic() -> Registry {
        Registry::start(Options {
            tls: true,
            basic_auth: true,
            ..Options::default()
        })
    }

    /// HTTP with token authentication, default [`TokenOptions`].
    pub fn token() -> Registry {
        Registry::start(Options {
            token: Some(TokenOptions::default()),
            ..Options::default()
        })
    }

    /// Starts a registry as `options` say; panics (with the registry's
    /// log) when it does not come up.
    pub fn start(options: Options) -> Registry {
        assert!(
            Path::new(REGISTRY).exists(),
            "{REGISTRY} not found: install the Debian package `docker-registry` (scripts/test does)"
        );
        assert!(
            !(options.basic_auth && options.token.is_some()),
            "basic_auth and token auth exclude each other"
        );
        assert!(
            options.tls || !options.require_client_cert,
            "require_client_cert needs tls"
        );
        let dir = tempfile::Builder::new()
            .prefix("strata-registry-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        fs::create_dir(root.join("storage")).expect("create storage dir");
        let mut auth = String::new();
        let mut tls = String::new();
        if options.tls {
            let certs = certs::make_tls(&root.join("pki"));
            tls = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certs.server_cert.display(),
                certs.server_key.display()
            );
            if options.require_client_cert {
                tls.push_str(&format!(
                    "    clientcas:\n      - {}\n",
                    certs.ca_cert.display()
                ));
            }
        }
        if options.basic_auth {
            let htpasswd = root.join("htpasswd");
            certs::make_htpasswd(&htpasswd);
            auth = format!(
                "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                htpasswd.display()
            );
        }
        let token = options.token.as_ref().map(|opts| {
            let (cert, key) = certs::make_token_signer(&root.join("token"));
            let server = TokenServer::start(root, &cert, &key, opts);
            auth = format!(
                "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
                 rootcertbundle: {}\n",
                server.realm(),
                cert.display()
            );
            server
        });
        let log = root.join("registry.log");
        let config = root.join("config.yml");
        // A port picked by the kernel is free now but could be taken before
        // the registry binds it; try again with another one then.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            fs::write(&config, config_yaml(root, port, &tls, &auth)).expect("write config.yml");
            let log_file = fs::File::create(&log).expect("create registry.log");
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(WATCHDOG)
                .arg("strata-registry-watchdog")
                .arg(REGISTRY)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(log_file)
                .spawn()
                .expect("run sh");
            let pid = read_pid(&mut child);
            let mut stdin = child.stdin.take();
            match wait_ready(pid, port, &log) {
                Ok(()) => {
                    return Registry {
                        dir,
                        options,
                        child,
                        stdin,
                        pid,
                        port,
                        log,
                        token,
                        syncs: AtomicU32::new(0),
                    };
                }
                Err(text) => {
                    stop(&mut child, &mut stdin, pid);
                    if text.contains("address already in use") && attempts < 5 {
                        continue;
                    }
                    panic!("docker-registry did not start:\n{text}");
                }
            }
        }
    }

    /// `host:port`, e.g. `127.0.0.1:40123`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// The options it runs with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// `(USER, PASSWORD)` when the registry (or its token server) takes
    /// credentials, else `None`.
    pub fn credentials(&self) -> Option<(&'static str, &'static str)> {
        (self.options.basic_auth || self.options.token.is_some()).then_some((USER, PASSWORD))
    }

    /// The fixture CA's certificate (PEM), with TLS.
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.options.tls.then(|| self.dir.path().join("pki/ca.crt"))
    }

    /// A client certificate (PEM) signed by the fixture CA, with TLS.
    pub fn client_cert(&self) -> Option<PathBuf> {
        self.options
            .tls
            .then(|| self.dir.path().join("pki/client.crt"))
    }

    /// The client certificate's key (PEM, unencrypted), with TLS.
    pub fn client_key(&self) -> Option<PathBuf> {
        self.options
            .tls
            .then(|| self.dir.path().join("pki/client.key"))
    }

    /// The client certificate followed by its key, one PEM bundle (what
    /// e.g. `reqwest::Identity::from_pem` takes). With TLS only.
    pub fn client_identity_pem(&self) -> Option<Vec<u8>> {
        let mut pem = fs::read(self.client_cert()?).expect("read client.crt");
        pem.extend(fs::read(self.client_key()?).expect("read client.key"));
        Some(pem)
    }

    /// A `certs.d` root as podman and skopeo read it: one directory
    /// `HOST:PORT` (see [`Registry::cert_dir`]). With TLS only.
    pub fn certs_d(&self) -> Option<PathBuf> {
        let cert_dir = self.cert_dir()?;
        cert_dir.parent().map(Path::to_owned)
    }

    /// `certs.d/127.0.0.1:PORT/` holding `ca.crt`, `client.cert` and
    /// `client.key` (containers/image sends a `*.cert`/`*.key` pair as its
    /// client certificate), made on first use. With TLS only.
    pub fn cert_dir(&self) -> Option<PathBuf> {
        if !self.options.tls {
            return None;
        }
        let pki = self.dir.path().join("pki");
        let dir = self.dir.path().join("certs.d").join(self.host());
        if !dir.exists() {
            fs::create_dir_all(&dir).expect("create certs.d dir");
            fs::copy(pki.join("ca.crt"), dir.join("ca.crt")).expect("copy ca.crt");
            fs::copy(pki.join("client.crt"), dir.join("client.cert")).expect("copy client.cert");
            fs::copy(pki.join("client.key"), dir.join("client.key")).expect("copy client.key");
        }
        Some(dir)
    }

    /// The token server, in token mode.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// The registry process id (gone once the fixture is dropped).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The temp dir holding config, storage (`storage/`), keys and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The whole log so far (application log as JSON lines, access log
    /// lines in combined log format).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every request in the access log so far, oldest first.
    ///
    /// The registry writes an access log line after its handler returns,
    /// which can be just after the client has the response. So this first
    /// sends a request of its own (`GET /v2/_strata_sync/N/tags/list` with
    /// `curl`) and reads the log until that request shows up; the sync
    /// requests are not listed.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let n = self.syncs.fetch_add(1, Ordering::Relaxed) + 1;
        let marker = format!("/v2/_strata_sync/{n}/tags/list");
        let mut curl = Command::new("curl");
        curl.args(["-s", "-o", "/dev/null", "--max-time", "10"]);
        if let Some(ca) = self.ca_cert() {
            curl.arg("--cacert").arg(ca);
        }
        if self.options.require_client_cert {
            curl.arg("--cert").arg(self.client_cert().expect("tls"));
            curl.arg("--key").arg(self.client_key().expect("tls"));
        }
        curl.arg(format!("{}{marker}", self.url()));
        certs::run(&mut curl, "curl");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = parse_access_log(&self.log_text());
            if all.iter().any(|r| r.path == marker) || Instant::now() > deadline {
                return all
                    .into_iter()
                    .filter(|r| !r.path.starts_with("/v2/_strata_sync/"))
                    .collect();
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// Skopeo flags and credentials for this registry; see [`Target`].
    pub fn target(&self) -> Target {
        Target::new(
            self.host(),
            self.cert_dir(),
            self.credentials()
                .map(|(u, p)| (u.to_owned(), p.to_owned())),
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child, &mut self.stdin, self.pid);
        // The token server goes with `self.token`.
    }
}

fn config_yaml(root: &Path, port: u16, tls: &str, auth: &str) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: json\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: strata-test-secret\n{tls}\
         {auth}",
        storage = root.join("storage").display(),
    )
}

/// Parses the combined-log-format lines of the access log:
/// `127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 401 87 "" "agent"`.
fn parse_access_log(text: &str) -> Vec<LoggedRequest> {
    text.lines()
        .filter(|l| !l.starts_with('{'))
        .filter_map(|line| {
            let mut parts = line.split('"');
            let _ = parts.next()?;
            let request = parts.next()?;
            let status_bytes = parts.next()?;
            let mut req = request.split(' ');
            let method = req.next()?.to_owned();
            let path = req.next()?.to_owned();
            let mut sb = status_bytes.split_whitespace();
            let status = sb.next()?.parse().ok()?;
            let bytes = sb.next()?.parse().unwrap_or(0);
            Some(LoggedRequest {
                method,
                path,
                status,
                bytes,
            })
        })
        .collect()
}

/// Waits until the log says the registry listens; the log text on failure.
fn wait_ready(pid: u32, port: u16, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let needle = format!("listening on 127.0.0.1:{port}");
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if text.contains(&needle) && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if !process_alive(pid) || Instant::now() > deadline {
            return Err(text);
        }
        sleep(Duration::from_millis(50));
    }
}

/// Tells the watchdog to kill the registry and waits for both.
fn stop(child: &mut Child, stdin: &mut Option<ChildStdin>, pid: u32) {
    if let Some(mut stdin) = stdin.take() {
        let _ = stdin.write_all(b"stop\n");
    }
    if !wait_for_exit(child, Duration::from_secs(20)) {
        kill(pid);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The first stdout line of the watchdog: the registry's pid.
fn read_pid(child: &mut Child) -> u32 {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().expect("watchdog stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("registry watchdog printed {line:?}, not a pid"))
}

/// Whether a process with this pid exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status();
}

fn wait_for_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_lines_parse_and_json_lines_are_skipped() {
        let text = "{\"level\":\"info\",\"msg\":\"x\"}\n\
                    127.0.0.1 - - [05/Dec/2026:21:02:18 +0000] \"GET /v2/ HTTP/1.1\" 401 87 \"\" \"curl/7.88.1\"\n\
                    127.0.0.1 - - [05/Dec/2026:21:02:19 +0000] \"HEAD /v2/a/blobs/sha256:ab HTTP/2.0\" 200 0 \"\" \"skopeo\"\n";
        assert_eq!(
            parse_access_log(text),
            vec![
                LoggedRequest {
                    method: "GET".into(),
                    path: "/v2/".into(),
                    status: 401,
                    bytes: 87
                },
                LoggedRequest {
                    method: "HEAD".into(),
                    path: "/v2/a/blobs/sha256:ab".into(),
                    status: 200,
                    bytes: 0
                },
            ]
        );
    }
}

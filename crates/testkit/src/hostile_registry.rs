//! A scripted registry on 127.0.0.1 that serves whatever a test puts in
//! its table, however wrong: blobs that do not hash to their digest or
//! are longer or shorter than promised, oversized manifests, redirects
//! anywhere. It is the one mock registry of the test suites, because the
//! real one (Debian's `docker-registry`, [`crate::registry`]) checks what
//! it stores and cannot be made to serve bad content.
//!
//! It speaks just enough of the distribution API for a pull: `/v2/`
//! (optionally behind Basic authentication), and `GET`/`HEAD` of any path
//! in the table, honouring `Range: bytes=N-` with a `206`. Each entry can
//! be sent chunked instead of with a `Content-Length`, cut short, or
//! answered with a redirect. One thread per connection, one request per
//! connection (`Connection: close`); every request is recorded. A TLS
//! handshake (a client trying HTTPS first) gets a plain `400`. Dropping it
//! stops the server. For the cases that need the registry on HTTPS,
//! [`TlsReplies`] serves canned replies with `openssl s_server`.
//!
//! ```no_run
//! use testkit::hostile_registry::{Entry, HostileRegistry};
//!
//! let registry = HostileRegistry::start();
//! let body = b"not what sha256:00.. says".to_vec();
//! registry.put(&format!("/v2/app/blobs/sha256:{}", "0".repeat(64)), Entry::new(body));
//! // Point the client at registry.host() ("127.0.0.1:PORT").
//! let asked = registry.requests();
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::fault_proxy::http::{self, Head, Incoming};

mod tls;

pub use tls::{TlsReplies, reply};

/// How long a connection may sit idle before the server gives up on it.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Body bytes per write (and per chunk when chunked).
const CHUNK: usize = 16 * 1024;

/// What the registry answers for one path.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The body.
    pub body: Vec<u8>,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// More header fields.
    pub headers: Vec<(String, String)>,
    /// Send the body chunked, without a `Content-Length`.
    pub chunked: bool,
    /// Close the connection when the body reaches this byte of the
    /// resource (the head still promises all of it).
    pub cut_at: Option<u64>,
    /// How many requests `cut_at` applies to (`None`: all).
    pub cut_times: Option<u32>,
    /// Answer `307` with this `Location` instead.
    pub redirect: Option<String>,
}

impl Entry {
    /// `body`, with a `Content-Length`.
    pub fn new(body: Vec<u8>) -> Entry {
        Entry {
            body,
            ..Entry::default()
        }
    }

    /// A `307 Temporary Redirect` to `location`.
    pub fn redirect(location: &str) -> Entry {
        Entry {
            redirect: Some(location.to_owned()),
            ..Entry::default()
        }
    }

    /// With this `Content-Type`.
    pub fn content_type(mut self, content_type: &str) -> Entry {
        self.content_type = Some(content_type.to_owned());
        self
    }

    /// With this header field.
    pub fn header(mut self, name: &str, value: &str) -> Entry {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sent chunked, without a `Content-Length`.
    pub fn chunked(mut self) -> Entry {
        self.chunked = true;
        self
    }

    /// Cut at byte `at` of the resource, on every request.
    pub fn cut_at(mut self, at: u64) -> Entry {
        self.cut_at = Some(at);
        self
    }

    /// Cut only on the first `n` requests.
    pub fn cut_times(mut self, n: u32) -> Entry {
        self.cut_times = Some(n);
        self
    }
}

/// One request the registry saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method.
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    requests: Vec<SeenRequest>,
    /// The `Authorization` value required, if any.
    basic: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    active: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not take the server down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running scripted registry; dropping it stops it.
pub struct HostileRegistry {
    shared: Arc<Shared>,
    port: u16,
    accept: Option<JoinHandle<()>>,
}

impl HostileRegistry {
    /// Starts an open registry with an empty table on a free port.
    pub fn start() -> HostileRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("hostile-registry-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("spawn registry thread");
        HostileRegistry {
            shared,
            port,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Requires Basic authentication with these credentials for every
    /// path under `/v2/`.
    pub fn require_basic(&self, user: &str, password: &str) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.shared.lock().basic = Some(format!("Basic {token}"));
    }

    /// Serves `entry` at `path` (replacing what was there).
    pub fn put(&self, path: &str, entry: Entry) {
        self.shared.lock().entries.insert(path.to_owned(), entry);
    }

    /// Serves `bytes` as manifest `reference` of `repository`, with
    /// `media_type` as its `Content-Type`.
    pub fn put_manifest(&self, repository: &str, reference: &str, media_type: &str, bytes: &[u8]) {
        self.put(
            &format!("/v2/{repository}/manifests/{reference}"),
            Entry::new(bytes.to_vec()).content_type(media_type),
        );
    }

    /// Serves `bytes` as blob `digest` of `repository`, whatever they
    /// hash to.
    pub fn put_blob(&self, repository: &str, digest: &str, bytes: &[u8]) {
        self.put(
            &format!("/v2/{repository}/blobs/{digest}"),
            Entry::new(bytes.to_vec()).content_type("application/octet-stream"),
        );
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            sleep(Duration::from_millis(10));
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        shared.active.fetch_add(1, Ordering::SeqCst);
        let spawned = thread::Builder::new()
            .name("hostile-registry-conn".into())
            .spawn({
                let shared = Arc::clone(shared);
                move || {
                    // Errors are the client hanging up.
                    let _ = serve(conn, &shared);
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                }
            });
        if spawned.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// What one request gets, decided under the lock.
enum Answer {
    Status(&'static str, Vec<(&'static str, String)>),
    Redirect(String),
    Body {
        entry: Entry,
        start: u64,
        cut: Option<u64>,
    },
}

/// Handles one connection: one request, one response.
fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut out = client.try_clone()?;
    let mut input = http::reader(client);
    let head = match http::read_head(&mut input)? {
        Incoming::Head(head) => head,
        Incoming::NotHttp => {
            let _ = out
                .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nThis registry speaks plain HTTP.\n");
            return out.shutdown(Shutdown::Both);
        }
    };
    let _ = http::read_request_body(&mut input, &head)?;
    let mut parts = head.start.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let range_start = head.get("Range").and_then(|r| {
        r.trim()
            .strip_prefix("bytes=")?
            .strip_suffix('-')?
            .parse::<u64>()
            .ok()
    });

    let (answer, status) = {
        let mut state = shared.lock();
        let answer = decide(&mut state, &head, &method, &path, range_start);
        let status = match &answer {
            Answer::Status(line, _) => line.split(' ').next().unwrap_or("0").parse().unwrap_or(0),
            Answer::Redirect(_) => 307,
            Answer::Body { start, .. } if *start > 0 => 206,
            Answer::Body { .. } => 200,
        };
        state.requests.push(SeenRequest {
            method: method.clone(),
            path: path.clone(),
            range: head.get("Range").map(str::to_owned),
            authorization: head.get("Authorization").map(str::to_owned),
            status,
        });
        (answer, status)
    };

    match answer {
        Answer::Status(line, extra) => {
            write_error(&mut out, line, &extra)?;
        }
        Answer::Redirect(location) => {
            http::write_empty(
                &mut out,
                "307 Temporary Redirect",
                &[("Location", location)],
            )?;
        }
        Answer::Body { entry, start, cut } => {
            write_body(&mut out, &method, status, &entry, start, cut)?;
        }
    }
    out.flush()?;
    out.shutdown(Shutdown::Both)
}

/// The answer to a request, counting down cuts.
fn decide(
    state: &mut State,
    head: &Head,
    method: &str,
    path: &str,
    range_start: Option<u64>,
) -> Answer {
    if !path.starts_with("/v2/") && !state.entries.contains_key(path) {
        return Answer::Status("404 Not Found", Vec::new());
    }
    if path.starts_with("/v2/")
        && let Some(wanted) = &state.basic
        && head.get("Authorization") != Some(wanted.as_str())
    {
        return Answer::Status(
            "401 Unauthorized",
            vec![("WWW-Authenticate", r#"Basic realm="hostile""#.to_owned())],
        );
    }
    if path == "/v2/" {
        return Answer::Body {
            entry: Entry::new(b"{}".to_vec()).content_type("application/json"),
            start: 0,
            cut: None,
        };
    }
    if method != "GET" && method != "HEAD" {
        return Answer::Status("405 Method Not Allowed", Vec::new());
    }
    let Some(entry) = state.entries.get_mut(path) else {
        return Answer::Status("404 Not Found", Vec::new());
    };
    if let Some(location) = &entry.redirect {
        return Answer::Redirect(location.clone());
    }
    let start = range_start.unwrap_or(0);
    if start > 0 && start >= entry.body.len() as u64 {
        return Answer::Status(
            "416 Range Not Satisfiable",
            vec![("Content-Range", format!("bytes */{}", entry.body.len()))],
        );
    }
    let cut = match (entry.cut_at, entry.cut_times) {
        (Some(_), Some(0)) => None,
        (Some(at), Some(n)) => {
            entry.cut_times = Some(n - 1);
            Some(at)
        }
        (at, None) => at,
        (None, Some(_)) => None,
    };
    Answer::Body {
        entry: entry.clone(),
        start,
        cut,
    }
}

/// An error status with an OCI error body.
fn write_error<W: Write>(w: &mut W, line: &str, extra: &[(&str, String)]) -> io::Result<()> {
    let code = match line.split(' ').next() {
        Some("401") => "UNAUTHORIZED",
        Some("404") => "NOT_FOUND",
        _ => "UNSUPPORTED",
    };
    let body = format!(r#"{{"errors":[{{"code":"{code}","message":"{line}"}}]}}"#);
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Content-Length".to_owned(), body.len().to_string()),
        ("Connection".to_owned(), "close".to_owned()),
    ];
    headers.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
    let head = Head {
        start: format!("HTTP/1.1 {line}"),
        headers,
    };
    w.write_all(&head.to_bytes())?;
    w.write_all(body.as_bytes())
}

/// The entry's body from byte `start`, framed as it asks, closing the
/// connection at byte `cut` of the resource.
fn write_body<W: Write>(
    w: &mut W,
    method: &str,
    status: u16,
    entry: &Entry,
    start: u64,
    cut: Option<u64>,
) -> io::Result<()> {
    let total = entry.body.len() as u64;
    let mut headers = Vec::new();
    if let Some(content_type) = &entry.content_type {
        headers.push(("Content-Type".to_owned(), content_type.clone()));
    }
    headers.extend(entry.headers.iter().cloned());
    if entry.chunked {
        headers.push(("Transfer-Encoding".to_owned(), "chunked".to_owned()));
    } else {
        headers.push(("Content-Length".to_owned(), (total - start).to_string()));
    }
    if status == 206 {
        headers.push((
            "Content-Range".to_owned(),
            format!("bytes {start}-{}/{total}", total - 1),
        ));
    }
    headers.push(("Connection".to_owned(), "close".to_owned()));
    let reason = if status == 206 {
        "Partial Content"
    } else {
        "OK"
    };
    let head = Head {
        start: format!("HTTP/1.1 {status} {reason}"),
        headers,
    };
    w.write_all(&head.to_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    let end = cut.map_or(total, |at| at.clamp(start, total));
    let body = &entry.body[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()];
    for piece in body.chunks(CHUNK) {
        if entry.chunked {
            write!(w, "{:x}\r\n", piece.len())?;
            w.write_all(piece)?;
            w.write_all(b"\r\n")?;
        } else {
            w.write_all(piece)?;
        }
    }
    if entry.chunked && cut.is_none() {
        w.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}

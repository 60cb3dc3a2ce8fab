//! An HTTP/1.1 proxy on 127.0.0.1 in front of a plain-HTTP registry, with
//! programmable faults, for testing a client's retries and resumed reads
//! against a real registry. One thread per connection, one request per
//! connection (`Connection: close`).
//!
//! It forwards requests as they come (headers including `Range`, bodies of
//! any method; a chunked request body is forwarded with `Content-Length`),
//! sends `Host: <registry>` upstream and rewrites `Location` headers that
//! point at the registry so clients stay on the proxy. It records every
//! request (method, path, `Range`, status, body bytes, fault) and counts
//! response body bytes per path. Non-HTTP input (a TLS handshake from a
//! client probing HTTPS first) gets a plain `400` and is not recorded.
//!
//! Faults apply to the first `times` requests whose method matches (empty
//! matches any) and whose path contains a substring; the first armed
//! matching fault is used (and used up) even when the response turns out
//! shorter than its byte offset.
//!
//! ```no_run
//! use std::time::Duration;
//! use testkit::fault_proxy::{Action, Fault, FaultProxy};
//! use testkit::registry::Registry;
//!
//! let reg = Registry::plain();
//! let proxy = FaultProxy::for_registry(&reg);
//! // The next two blob GETs die after 1000 body bytes; then one 429.
//! proxy.inject(Fault::new("GET", "/blobs/", Action::CutAfter(1000)).times(2));
//! proxy.inject(Fault::new("GET", "/blobs/", Action::TooManyRequests { retry_after_secs: 1 }));
//! proxy.inject(Fault::new("GET", "/manifests/", Action::Unavailable));
//! proxy.inject(Fault::new("", "/blobs/", Action::Stall {
//!     after: 4096,
//!     pause: Duration::from_secs(2),
//!     cut: false,
//! }));
//! // Point the client under test at proxy.url() ("http://127.0.0.1:PORT").
//! assert_eq!(proxy.faults_left(), 0); // every fault fired
//! let ranged: Vec<_> = proxy.requests().into_iter().filter(|r| r.range.is_some()).collect();
//! let total = proxy.bytes_served("/blobs/");
//! ```

pub(crate) mod http;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

use crate::registry::{Registry, Target};
use http::{Head, Incoming};

/// How long a connection may sit idle before the proxy gives up on it.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Body bytes copied per write.
const CHUNK: usize = 16 * 1024;

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward, then close the connection after this many response body
    /// bytes (the head says the full length).
    CutAfter(u64),
    /// Answer `429 Too Many Requests` with `Retry-After: SECS` and an empty
    /// body, without forwarding.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// Answer `503 Service Unavailable` with an empty body, without
    /// forwarding.
    Unavailable,
    /// Forward, send `after` body bytes, pause for `pause`, then send the
    /// rest (or close the connection if `cut`).
    Stall {
        /// Body bytes sent before the pause.
        after: u64,
        /// How long to pause.
        pause: Duration,
        /// Close the connection after the pause instead of continuing.
        cut: bool,
    },
    /// Forward the request, then hold the whole answer (head included,
    /// so also an answer without a body) for `pause` and close the
    /// connection without sending it: the upstream did the work, the
    /// client never hears of it.
    Hold {
        /// How long to hold.
        pause: Duration,
    },
}

/// A fault for the first `times` requests matching `method` and `path`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The method to match (`GET`, `HEAD`, ...); empty matches any.
    pub method: String,
    /// A substring of the request path (with query) to match.
    pub path: String,
    /// How many matching requests it applies to.
    pub times: u32,
    /// What it does.
    pub action: Action,
}

impl Fault {
    /// A fault for the next request matching `method` (empty: any) and
    /// `path` (a substring).
    pub fn new(method: &str, path: &str, action: Action) -> Fault {
        Fault {
            method: method.to_owned(),
            path: path.to_owned(),
            times: 1,
            action,
        }
    }

    /// The same fault for the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && (self.method.is_empty() || self.method.eq_ignore_ascii_case(method))
            && path.contains(&self.path)
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// The method.
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The status sent to the client (0 if no response head was sent:
    /// the registry could not be reached).
    pub status: u16,
    /// Response body bytes written to the client.
    pub body_bytes: u64,
    /// The fault applied, if any.
    pub fault: Option<Action>,
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    requests: Vec<ProxiedRequest>,
    bytes: BTreeMap<String, u64>,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    active: AtomicUsize,
    upstream: String,
    host: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not take the proxy down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running proxy; dropping it stops accepting, waits (bounded) for
/// connections in flight and joins its thread.
pub struct FaultProxy {
    shared: Arc<Shared>,
    port: u16,
    creds: Option<(String, String)>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy in front of the plain-HTTP registry at `upstream`
    /// (`host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            upstream: upstream.to_owned(),
            host: format!("127.0.0.1:{port}"),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("spawn proxy thread");
        FaultProxy {
            shared,
            port,
            creds: None,
            accept: Some(accept),
        }
    }

    /// A proxy in front of `registry` (which must be plain HTTP); its
    /// [`target`](FaultProxy::target) carries the registry's credentials.
    pub fn for_registry(registry: &Registry) -> FaultProxy {
        assert!(
            !registry.options().tls,
            "the fault proxy speaks plain HTTP only"
        );
        let mut proxy = FaultProxy::start(&registry.host());
        proxy.creds = registry
            .credentials()
            .map(|(u, p)| (u.to_owned(), p.to_owned()));
        proxy
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.shared.host.clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.host)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Arms a fault (after those already armed).
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Disarms all faults.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many fault applications are left (0: all fired).
    pub fn faults_left(&self) -> u32 {
        self.shared.lock().faults.iter().map(|f| f.times).sum()
    }

    /// Every request so far, in arrival order. A request's status and byte
    /// count are recorded before the bytes are sent, so once a client has
    /// its response (or has seen the connection cut) the record is final.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Response body bytes served for paths containing `path`.
    pub fn bytes_served(&self, path: &str) -> u64 {
        self.shared
            .lock()
            .bytes
            .iter()
            .filter(|(p, _)| p.contains(path))
            .map(|(_, n)| n)
            .sum()
    }

    /// Response body bytes served, per request path.
    pub fn bytes_by_path(&self) -> BTreeMap<String, u64> {
        self.shared.lock().bytes.clone()
    }

    /// Forgets recorded requests and byte counts (faults stay armed).
    pub fn reset_counts(&self) {
        let mut state = self.shared.lock();
        state.requests.clear();
        state.bytes.clear();
    }

    /// Skopeo flags for going through the proxy (plain HTTP, with the
    /// registry's credentials when made by [`FaultProxy::for_registry`]).
    pub fn target(&self) -> Target {
        Target::new(self.host(), None, self.creds.clone())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        // Connection threads end when their exchange does; stalls watch
        // `stop`.
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
        let shared = Arc::clone(shared);
        shared.active.fetch_add(1, Ordering::SeqCst);
        let spawned = thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    // Errors are the client's or the registry's hanging up.
                    let _ = serve(conn, &shared);
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                }
            });
        if spawned.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
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
            let _ =
                out.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nThis proxy speaks plain HTTP.\n");
            let _ = out.shutdown(Shutdown::Both);
            return Ok(());
        }
    };
    let mut parts = head.start.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    if head
        .get("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = http::read_request_body(&mut input, &head)?;

    // Record the request and pick its fault.
    let (index, fault) = {
        let mut state = shared.lock();
        let fault = state
            .faults
            .iter_mut()
            .find(|f| f.matches(&method, &path))
            .map(|f| {
                f.times -= 1;
                f.action.clone()
            });
        state.faults.retain(|f| f.times > 0);
        state.requests.push(ProxiedRequest {
            method: method.clone(),
            path: path.clone(),
            range: head.get("Range").map(str::to_owned),
            status: 0,
            body_bytes: 0,
            fault: fault.clone(),
        });
        (state.requests.len() - 1, fault)
    };
    let set_status = |status: u16| shared.lock().requests[index].status = status;

    match fault {
        Some(Action::TooManyRequests { retry_after_secs }) => {
            set_status(429);
            http::write_empty(
                &mut out,
                "429 Too Many Requests",
                &[("Retry-After", retry_after_secs.to_string())],
            )?;
            return out.shutdown(Shutdown::Both);
        }
        Some(Action::Unavailable) => {
            set_status(503);
            http::write_empty(&mut out, "503 Service Unavailable", &[])?;
            return out.shutdown(Shutdown::Both);
        }
        _ => {}
    }

    // Forward.
    let mut upstream = TcpStream::connect(&shared.upstream)?;
    upstream.set_read_timeout(Some(IO_TIMEOUT))?;
    upstream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut headers: Vec<(String, String)> = head
        .headers
        .iter()
        .filter(|(n, _)| {
            !http::hop_by_hop(n)
                && !n.eq_ignore_ascii_case("host")
                && !n.eq_ignore_ascii_case("content-length")
        })
        .cloned()
        .collect();
    headers.insert(0, ("Host".into(), shared.upstream.clone()));
    if !body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        headers.push(("Content-Length".into(), body.len().to_string()));
    }
    headers.push(("Connection".into(), "close".into()));
    let request = Head {
        start: format!("{method} {path} HTTP/1.1"),
        headers,
    };
    upstream.write_all(&request.to_bytes())?;
    upstream.write_all(&body)?;
    upstream.flush()?;

    let mut from = http::reader(upstream.try_clone()?);
    let Incoming::Head(response) = http::read_head(&mut from)? else {
        return Err(io::Error::other("registry sent no HTTP response"));
    };
    let status: u16 = response
        .start
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let bodiless = method == "HEAD" || status == 204 || status == 304 || status < 200;
    if let Some(Action::Hold { pause }) = &fault {
        set_status(status);
        pause_unless_stopped(*pause, shared);
        return out.shutdown(Shutdown::Both);
    }

    // Known length: stream it; otherwise buffer it.
    let (length, mut buffered) = if bodiless {
        (None, None)
    } else if response.chunked() {
        let b = http::read_chunked(&mut from)?;
        (Some(b.len() as u64), Some(b))
    } else if let Some(len) = response.content_length() {
        (Some(len), None)
    } else {
        let mut b = Vec::new();
        from.read_to_end(&mut b)?;
        (Some(b.len() as u64), Some(b))
    };

    let upstream_host = shared.upstream.as_str();
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(n, _)| {
            !http::hop_by_hop(n) && (bodiless || !n.eq_ignore_ascii_case("content-length"))
        })
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case("location") && v.contains(upstream_host) {
                (n.clone(), v.replace(upstream_host, &shared.host))
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    if let Some(len) = length {
        headers.push(("Content-Length".into(), len.to_string()));
    }
    headers.push(("Connection".into(), "close".into()));
    set_status(status);
    out.write_all(
        &Head {
            start: response.start.clone(),
            headers,
        }
        .to_bytes(),
    )?;
    let Some(length) = length else {
        out.flush()?;
        return out.shutdown(Shutdown::Both);
    };

    // The body, with the fault's cut or stall.
    let (stop_at, stall) = match &fault {
        Some(Action::CutAfter(k)) => (Some(*k), None),
        Some(Action::Stall { after, pause, cut }) => {
            (cut.then_some(*after), Some((*after, *pause)))
        }
        _ => (None, None),
    };
    let mut body_source: Box<dyn Read> = match buffered.take() {
        Some(b) => Box::new(io::Cursor::new(b)),
        None => Box::new(from.take(length)),
    };
    let mut sent: u64 = 0;
    let mut stalled = false;
    let mut buf = vec![0u8; CHUNK];
    loop {
        // The next boundary: the stall point, the cut point or the end.
        let mut limit = length;
        if let Some((after, _)) = stall
            && !stalled
        {
            limit = limit.min(after);
        }
        if let Some(k) = stop_at {
            limit = limit.min(k);
        }
        if sent >= limit {
            if let Some((_, pause)) = stall
                && !stalled
                && sent < length
            {
                stalled = true;
                out.flush()?;
                pause_unless_stopped(pause, shared);
                continue;
            }
            break;
        }
        let want = usize::try_from((limit - sent).min(CHUNK as u64)).unwrap_or(CHUNK);
        let n = body_source.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        write_counted(&mut out, &buf[..n], shared, index, &path)?;
        sent += n as u64;
    }
    out.flush()?;
    out.shutdown(Shutdown::Both)
}

/// Writes `data`, counting it for `path` before it goes out (so a client
/// that has read it finds it counted) and uncounting what failed.
fn write_counted(
    out: &mut TcpStream,
    data: &[u8],
    shared: &Shared,
    index: usize,
    path: &str,
) -> io::Result<()> {
    let add = |n: u64, sub: bool| {
        let mut state = shared.lock();
        let entry = state.bytes.entry(path.to_owned()).or_default();
        if sub {
            *entry -= n;
        } else {
            *entry += n;
        }
        let req = &mut state.requests[index];
        if sub {
            req.body_bytes -= n;
        } else {
            req.body_bytes += n;
        }
    };
    add(data.len() as u64, false);
    let mut rest = data;
    while !rest.is_empty() {
        match out.write(rest) {
            Ok(0) => {
                add(rest.len() as u64, true);
                return Err(io::ErrorKind::WriteZero.into());
            }
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                add(rest.len() as u64, true);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Sleeps `pause`, cut short when the proxy is being dropped.
fn pause_unless_stopped(pause: Duration, shared: &Shared) {
    let end = Instant::now() + pause;
    while Instant::now() < end && !shared.stop.load(Ordering::SeqCst) {
        sleep(Duration::from_millis(10).min(end.saturating_duration_since(Instant::now())));
    }
}

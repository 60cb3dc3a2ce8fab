//! A `strata serve` process for tests (on a free port of 127.0.0.1,
//! stopped with SIGTERM when dropped) and a plain HTTP/1.1 client on a
//! `TcpStream`, so the protocol is seen as sent.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store_support::CliStore;

/// A running `strata serve`.
pub struct Served {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `strata serve --listen 127.0.0.1:0` on `store` and waits for
    /// its `listening on ADDRESS` line.
    pub fn start(store: &CliStore) -> Served {
        Self::start_with(store, &[])
    }

    /// [`Served::start`] with more arguments (`--read-only`, ...).
    pub fn start_with(store: &CliStore, extra: &[&str]) -> Served {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = store
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
                let mut log = sink.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("strata serve did not listen: {}", log.lock().expect("log"));
            }
        };
        Served {
            child: Some(child),
            addr,
            log,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends it SIGTERM without waiting.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            send_signal(child.id(), "TERM");
        }
    }

    /// Its peak resident memory (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// Its log once `done` holds for it (a line is logged as its reply
    /// goes out, and read from the pipe a moment later), or after 10 s.
    pub fn log_when(&self, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if done(&log) || start.elapsed() > Duration::from_secs(10) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Stops it with SIGTERM; returns whether it exited cleanly in time.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        if child.try_wait().expect("wait").is_none() {
            send_signal(child.id(), "TERM");
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// `GET` (or another method) of `path` with `headers`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(&self.addr, method, path, headers)
    }

    /// `method` of `path` with `headers` and `body` (its `Content-Length`
    /// added).
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let len = body.len().to_string();
        let mut all = headers.to_vec();
        all.push(("Content-Length", &len));
        exchange(&self.addr, method, path, &all, body)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let exited = self
            .child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten());
        self.stop();
        if std::thread::panicking() {
            // A failing test shows what the server said (and whether it
            // had exited on its own).
            eprintln!(
                "strata serve (exited on its own: {exited:?}) logged:\n{}",
                self.log()
            );
        }
    }
}

/// Sends signal `name` to our child `pid` with `kill(1)`, keeping the
/// tests free of `unsafe`.
fn send_signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// An HTTP reply.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Header `name` (lowercase), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The error code of an error body.
    pub fn code(&self) -> String {
        let json: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)));
        json["errors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {json}"))
            .to_string()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// One request on a new connection (`Connection: close`), read to its
/// end; the body must be as long as its `Content-Length` says.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let reply = request_unchecked(addr, method, path, headers);
    if method != "HEAD"
        && let Some(len) = reply.headers.get("content-length")
    {
        assert_eq!(
            reply.body.len().to_string(),
            *len,
            "body length of a {} reply",
            reply.status
        );
    }
    reply
}

/// [`request`], reading until the server closes or breaks the
/// connection, whatever the body's length.
pub fn request_unchecked(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    exchange(addr, method, path, headers, &[])
}

/// Sends one request with `body` on a new connection and reads the reply
/// until the server closes the connection.
fn exchange(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    stream.write_all(body).expect("send the body");
    let mut raw = Vec::new();
    let mut buf = [0; 64 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read the reply: {e}"),
        }
    }
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = raw[end + 4..].to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// `sha256:` and the hex digest of `bytes`.
pub fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", testkit::sha256(bytes))
}

/// Asserts `reply` is an error of the API with `status` and `code`.
pub fn expect_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (status, code),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), "application/json");
}

/// Asserts `reply` has `status`, showing its body otherwise.
pub fn expect_status(reply: &Reply, status: u16) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// Every file of `dir`, by path relative to it.
pub fn files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        for entry in std::fs::read_dir(&path).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .display()
                    .to_string();
                out.insert(name, std::fs::read(&path).expect("read file"));
            }
        }
    }
    out
}

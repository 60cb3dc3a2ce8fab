//! Canned replies over HTTPS, for the few hostile cases that need the
//! registry on TLS (a redirect from HTTPS down to plain HTTP), which the
//! std-only [`HostileRegistry`](super::HostileRegistry) cannot speak:
//! `openssl s_server -HTTP` serving files that each hold a whole HTTP
//! response, with a certificate from a throwaway CA. Any directory (such
//! as `/v2/`) answers `200`, which is all a client's `/v2/` check needs.
//! Dropping it stops the server.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;

use crate::registry::certs;

/// A running `openssl s_server -HTTP` on 127.0.0.1.
pub struct TlsReplies {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

/// A whole HTTP/1.0 response: status line (`307 Temporary Redirect`),
/// header fields and body.
pub fn reply(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.0 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

impl TlsReplies {
    /// Serves each `(path, response)` (paths start with `/`; responses
    /// as [`reply`] makes them) on a free port.
    pub fn start(replies: &[(&str, Vec<u8>)]) -> TlsReplies {
        let dir = tempfile::Builder::new()
            .prefix("strata-tls-replies-")
            .tempdir()
            .expect("temp dir");
        let pki = certs::make_tls(&dir.path().join("pki"));
        let www = dir.path().join("www");
        fs::create_dir_all(www.join("v2")).expect("create www");
        for (path, response) in replies {
            let file = www.join(path.trim_start_matches('/'));
            fs::create_dir_all(file.parent().expect("a parent")).expect("create dir");
            fs::write(&file, response).expect("write reply");
        }
        let mut child = Command::new("openssl")
            .current_dir(&www)
            .args(["s_server", "-HTTP", "-accept", "127.0.0.1:0", "-cert"])
            .arg(&pki.server_cert)
            .arg("-key")
            .arg(&pki.server_key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl s_server (Debian package openssl)");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let port = loop {
            let mut line = String::new();
            if out.read_line(&mut line).expect("read s_server output") == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("openssl s_server ended before listening");
            }
            if let Some(address) = line.trim().strip_prefix("ACCEPT ") {
                let port = address.rsplit(':').next().and_then(|p| p.parse().ok());
                break port.expect("a port in s_server's ACCEPT line");
            }
        };
        // Keep its output flowing so that it never blocks on a full pipe.
        thread::spawn(move || {
            let _ = std::io::copy(&mut out.take(u64::MAX), &mut std::io::sink());
        });
        TlsReplies { dir, child, port }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A directory holding the CA certificate as `ca.crt`, for a client's
    /// `--cert-dir`.
    pub fn cert_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("certs");
        if !dir.exists() {
            fs::create_dir_all(&dir).expect("create cert dir");
            fs::copy(self.pki().join("ca.crt"), dir.join("ca.crt")).expect("copy ca.crt");
        }
        dir
    }

    fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }
}

impl Drop for TlsReplies {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

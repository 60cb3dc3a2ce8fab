//! Blobs the store keeps as files (here: pushed into `strata serve` by
//! skopeo) go out with `sendfile` on plain HTTP: whole, in single and
//! suffix ranges, between other replies on one keep-alive connection, to
//! pipelined requests and to many clients at once, always the stored
//! bytes. Such bytes are not hashed as they go: a blob damaged in place is
//! sent as it is stored (clients check digests, `fsck` finds it), one
//! shorter than recorded is cut short and named in the log.

use std::process::Command;

use testkit::peers::sample_image;
use testkit::registry::Target;

use crate::serve_support::{Served, request_unchecked, sha};
use crate::store_support::CliStore;

/// A store holding an image skopeo pushed into `strata serve`, whose
/// first layer blob is several MiB of gzip that does not shrink; the
/// server, and the layer blob digests, base first.
fn pushed(s: &CliStore) -> (Served, Vec<String>) {
    let image = sample_image(
        &s.dir.path().join("sample.tar"),
        &["--layers", "2", "--size-mib", "12"],
    );
    let served = Served::start(s);
    Target::new(served.addr.clone(), None, None).push(&image.path, "files/app:1");
    let manifest = served.request("GET", "/v2/files/app/manifests/1", &[]);
    let layers = manifest.json()["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| layer["digest"].as_str().expect("digest").to_string())
        .collect::<Vec<_>>();
    (served, layers)
}

/// The file of stored blob `digest`.
fn blob_file(s: &CliStore, digest: &str) -> std::path::PathBuf {
    s.root()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn stored_blobs_go_out_whole_in_ranges_and_between_other_replies() {
    let s = CliStore::new();
    let (served, layers) = pushed(&s);
    let stored = std::fs::read(blob_file(&s, &layers[0])).expect("the kept blob");
    assert!(stored.len() > 8 << 20, "{} bytes", stored.len());
    let path = format!("/v2/files/app/blobs/{}", layers[0]);

    let whole = served.request("GET", &path, &[]);
    assert_eq!((whole.status, sha(&whole.body)), (200, layers[0].clone()));
    assert!(
        !whole.headers.keys().any(|name| name.contains("splice")),
        "no header of the server's own goes out: {:?}",
        whole.headers
    );
    let size = stored.len();
    for (range, from, to) in [
        ("bytes=0-0".to_string(), 0, 1),
        (format!("bytes=1000-{}", 5 << 20), 1000, (5 << 20) + 1),
        ("bytes=-70000".to_string(), size - 70000, size),
        (format!("bytes={}-", size - 3), size - 3, size),
    ] {
        let part = served.request("GET", &path, &[("Range", &range)]);
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            format!("bytes {from}-{}/{size}", to - 1)
        );
        assert!(part.body == stored[from..to], "{range}: the stored bytes");
    }
    // Several ranges go as multipart, by the copying path.
    let parts = served.request("GET", &path, &[("Range", "bytes=0-9,20-29")]);
    assert_eq!(parts.status, 206);
    assert!(
        parts
            .header("content-type")
            .starts_with("multipart/byteranges")
    );

    // One keep-alive connection: blobs, ranges, a HEAD and small replies
    // in turn, each whole (curl reuses the connection between URLs).
    let dir = tempfile::tempdir().expect("temp dir");
    let base = format!("http://{}/v2/files/app", served.addr);
    let urls = [
        (format!("{base}/blobs/{}", layers[0]), None),
        (format!("{base}/manifests/1"), None),
        (format!("{base}/blobs/{}", layers[1]), None),
        (format!("{base}/blobs/{}", layers[0]), Some("100-199999")),
        (format!("{base}/tags/list"), None),
        (format!("{base}/blobs/{}", layers[0]), None),
    ];
    let mut curl = Command::new("curl");
    curl.args(["-s", "-f", "-w", "%{num_connects} "]);
    for (at, (url, range)) in urls.iter().enumerate() {
        if at > 0 {
            curl.arg("--next")
                .args(["-s", "-f", "-w", "%{num_connects} "]);
        }
        if let Some(range) = range {
            curl.args(["-r", range]);
        }
        curl.arg("-o").arg(dir.path().join(at.to_string())).arg(url);
    }
    let out = curl.output().expect("run curl");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1 0 0 0 0 0 ",
        "one connection for all"
    );
    let got = |at: usize| std::fs::read(dir.path().join(at.to_string())).expect("curl's output");
    assert_eq!(sha(&got(0)), layers[0]);
    assert!(got(1).starts_with(b"{"));
    assert_eq!(sha(&got(2)), layers[1]);
    assert!(got(3) == stored[100..200_000]);
    assert!(got(4).starts_with(b"{\"name\":\"files/app\""));
    assert_eq!(sha(&got(5)), layers[0]);

    // Many clients at once.
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let reply = served.request("GET", &path, &[]);
                assert_eq!(sha(&reply.body), layers[0]);
            });
        }
    });
}

#[test]
fn a_blob_damaged_in_place_goes_out_as_stored_and_a_short_one_is_cut() {
    let s = CliStore::new();
    let (served, layers) = pushed(&s);
    let path = |digest: &str| format!("/v2/files/app/blobs/{digest}");

    // Same length, one byte changed: sent unchecked, as stored; the
    // client's digest check is what catches it, and fsck.
    let damaged = blob_file(&s, &layers[0]);
    let mut bytes = std::fs::read(&damaged).expect("read the blob");
    bytes[4096] ^= 1;
    std::fs::write(&damaged, &bytes).expect("damage the blob");
    let reply = served.request("GET", &path(&layers[0]), &[]);
    assert_eq!(reply.status, 200);
    assert!(reply.body == bytes, "the stored bytes, as they are");
    let fsck = s.output(&["fsck"]);
    assert!(!fsck.status.success());
    assert!(
        String::from_utf8_lossy(&fsck.stdout).contains("damaged-kept-blob"),
        "{fsck:?}"
    );

    // Shorter than recorded: cut short, and the log says which.
    let short = blob_file(&s, &layers[1]);
    let whole = std::fs::read(&short).expect("read the blob");
    std::fs::write(&short, &whole[..whole.len() - 10]).expect("truncate the blob");
    let reply = request_unchecked(&served.addr, "GET", &path(&layers[1]), &[]);
    assert_eq!(reply.status, 200);
    let announced: usize = reply.header("content-length").parse().expect("length");
    assert!(
        reply.body.len() < announced && reply.body.len() < whole.len(),
        "{} bytes of {announced} announced, {} recorded: a short blob must not look complete",
        reply.body.len(),
        whole.len()
    );
    let hex = layers[1].trim_start_matches("sha256:");
    let log = served.log_when(|log| log.contains("reply cut short"));
    assert!(log.contains(hex), "the log names the blob: {log}");
}

#[test]
fn pipelined_requests_each_get_their_blob() {
    use std::io::{Read, Write};

    let s = CliStore::new();
    let (served, layers) = pushed(&s);
    let stored: Vec<Vec<u8>> = layers
        .iter()
        .map(|digest| std::fs::read(blob_file(&s, digest)).expect("kept blob"))
        .collect();
    // Three requests in one write, the last closing the connection: the
    // server answers them in order, each reply whole.
    let mut stream = std::net::TcpStream::connect(&served.addr).expect("connect");
    let mut requests = String::new();
    for (at, digest) in [&layers[0], &layers[1], &layers[0]].iter().enumerate() {
        let close = if at == 2 { "Connection: close\r\n" } else { "" };
        requests.push_str(&format!(
            "GET /v2/files/app/blobs/{digest} HTTP/1.1\r\nHost: x\r\n{close}\r\n"
        ));
    }
    stream.write_all(requests.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the replies");
    let mut rest = &raw[..];
    for expected in [&stored[0], &stored[1], &stored[0]] {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a reply head");
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("splice"), "{head}");
        let body = &rest[end + 4..end + 4 + expected.len()];
        assert!(body == expected.as_slice(), "a reply holds its own blob");
        rest = &rest[end + 4 + expected.len()..];
    }
    assert!(rest.is_empty(), "{} bytes more", rest.len());
}

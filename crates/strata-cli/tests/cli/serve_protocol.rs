//! The distribution API of `strata serve`, seen with a plain HTTP client:
//! every endpoint, the sizes and digests of `HEAD`, `Range` (single,
//! suffix, multiple, unsatisfiable), tag pagination, each error code,
//! hostile names and digests, and 405 for every delete and for pushes to a
//! server started with `--read-only`.

use testkit::peers::{SampleImage, sample_image};

use crate::serve_support::{Served, expect_error, sha};
use crate::store_support::CliStore;

/// A store with the sample image tagged `sample:1`, `:2`, `:3`, `:a`, and
/// `library/alpine:1` under both `localhost` and `docker.io`.
fn fixture() -> (CliStore, SampleImage) {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "2"]);
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    for name in [
        "sample:2",
        "sample:a",
        "sample:3",
        "localhost/library/alpine:1",
        "docker.io/library/alpine:1",
    ] {
        s.ok(&["image", "tag", &image.name, name]);
    }
    (s, image)
}

#[test]
fn manifests_blobs_and_ranges() {
    let (s, image) = fixture();
    let served = Served::start(&s);
    let base = served.request("GET", "/v2/", &[]);
    assert_eq!((base.status, &base.body[..]), (200, &b"{}"[..]));
    assert_eq!(
        base.header("docker-distribution-api-version"),
        "registry/2.0"
    );

    let manifest = served.request("GET", "/v2/sample/manifests/1", &[]);
    assert_eq!(manifest.status, 200);
    assert_eq!(sha(&manifest.body), image.manifest);
    for path in [
        "/v2/sample/manifests/1".to_string(),
        format!("/v2/sample/manifests/{}", image.manifest),
    ] {
        let head = served.request("HEAD", &path, &[]);
        assert_eq!(head.status, 200, "{path}");
        assert!(head.body.is_empty());
        assert_eq!(head.header("docker-content-digest"), image.manifest);
        assert_eq!(
            head.header("content-length"),
            manifest.body.len().to_string()
        );
        assert_eq!(
            head.header("content-type"),
            "application/vnd.oci.image.manifest.v1+json"
        );
    }

    let config = served.request("GET", &format!("/v2/sample/blobs/{}", image.config), &[]);
    assert_eq!(
        (config.status, sha(&config.body)),
        (200, image.config.clone())
    );
    let layer_path = format!("/v2/sample/blobs/{}", image.diff_ids[0]);
    let layer = served.request("GET", &layer_path, &[]);
    assert_eq!(
        (layer.status, sha(&layer.body)),
        (200, image.diff_ids[0].clone())
    );
    let head = served.request("HEAD", &layer_path, &[]);
    assert_eq!(head.header("content-length"), layer.body.len().to_string());
    assert_eq!(head.header("docker-content-digest"), image.diff_ids[0]);
    assert_eq!(head.header("accept-ranges"), "bytes");

    let size = layer.body.len();
    let single = served.request("GET", &layer_path, &[("Range", "bytes=10-19")]);
    assert_eq!(single.status, 206);
    assert_eq!(
        single.header("content-range"),
        format!("bytes 10-19/{size}")
    );
    assert_eq!(single.body, layer.body[10..20]);
    let suffix = served.request("GET", &layer_path, &[("Range", "bytes=-7")]);
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.body, layer.body[size - 7..]);
    let config_range = served.request(
        "GET",
        &format!("/v2/sample/blobs/{}", image.config),
        &[("Range", "bytes=1-")],
    );
    assert_eq!(config_range.body, config.body[1..]);

    let multi = served.request("GET", &layer_path, &[("Range", "bytes=0-3,100-104")]);
    assert_eq!(multi.status, 206);
    let kind = multi.header("content-type");
    let boundary = kind
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{kind}"));
    let mut expected = Vec::new();
    for (i, (start, end)) in [(0usize, 3usize), (100, 104)].into_iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        expected.extend_from_slice(
            format!(
                "{lead}--{boundary}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Range: bytes {start}-{end}/{size}\r\n\r\n"
            )
            .as_bytes(),
        );
        expected.extend_from_slice(&layer.body[start..=end]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&multi.body),
        String::from_utf8_lossy(&expected)
    );

    let past = served.request("GET", &layer_path, &[("Range", &format!("bytes={size}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), format!("bytes */{size}"));
}

#[test]
fn tags_are_listed_in_pages() {
    let (s, _) = fixture();
    let served = Served::start(&s);
    let all = served.request("GET", "/v2/sample/tags/list", &[]);
    assert_eq!(
        all.json(),
        serde_json::json!({"name": "sample", "tags": ["1", "2", "3", "a"]})
    );
    assert_eq!(all.header("link"), "");

    let first = served.request("GET", "/v2/sample/tags/list?n=2", &[]);
    assert_eq!(first.json()["tags"], serde_json::json!(["1", "2"]));
    let link = first.header("link");
    assert_eq!(link, "</v2/sample/tags/list?n=2&last=2>; rel=\"next\"");
    let next = &link[1..link.find('>').expect("link end")];
    let second = served.request("GET", next, &[]);
    assert_eq!(second.json()["tags"], serde_json::json!(["3", "a"]));
    assert_eq!(second.header("link"), "", "the last page has no link");

    let none = served.request("GET", "/v2/sample/tags/list?n=0", &[]);
    assert_eq!(none.json()["tags"], serde_json::json!([]));
    let after = served.request("GET", "/v2/sample/tags/list?last=3", &[]);
    assert_eq!(after.json()["tags"], serde_json::json!(["a"]));
    let bad = served.request("GET", "/v2/sample/tags/list?n=x", &[]);
    expect_error(&bad, 400, "PAGINATION_NUMBER_INVALID");
}

#[test]
fn names_follow_the_documented_rule() {
    let (s, image) = fixture();
    let served = Served::start(&s);
    for repository in [
        "sample",
        "localhost/sample",
        "docker.io/library/alpine",
        "alpine",
        "localhost/library/alpine",
    ] {
        let reply = served.request("GET", &format!("/v2/{repository}/manifests/1"), &[]);
        assert_eq!(reply.status, 200, "{repository}");
        assert_eq!(sha(&reply.body), image.manifest, "{repository}");
    }
    let ambiguous = served.request("GET", "/v2/library/alpine/tags/list", &[]);
    expect_error(&ambiguous, 404, "NAME_UNKNOWN");
    let message = ambiguous.json()["errors"][0]["message"].to_string();
    assert!(
        message.contains("docker.io/library/alpine")
            && message.contains("localhost/library/alpine"),
        "{message}"
    );
}

#[test]
fn errors_have_the_spec_codes() {
    let (s, image) = fixture();
    let served = Served::start(&s);
    let unknown_digest = format!("sha256:{}", "0".repeat(64));
    let cases: Vec<(String, u16, &str)> = vec![
        ("/v2/nosuch/manifests/1".into(), 404, "NAME_UNKNOWN"),
        ("/v2/nosuch/tags/list".into(), 404, "NAME_UNKNOWN"),
        (
            format!("/v2/nosuch/blobs/{}", image.config),
            404,
            "NAME_UNKNOWN",
        ),
        ("/v2/sample/manifests/9".into(), 404, "MANIFEST_UNKNOWN"),
        (
            format!("/v2/sample/manifests/{unknown_digest}"),
            404,
            "MANIFEST_UNKNOWN",
        ),
        ("/v2/sample/manifests/-bad".into(), 404, "MANIFEST_UNKNOWN"),
        (
            format!("/v2/sample/blobs/{unknown_digest}"),
            404,
            "BLOB_UNKNOWN",
        ),
        ("/v2/sample/blobs/sha256:abc".into(), 400, "DIGEST_INVALID"),
        (
            format!("/v2/sample/blobs/sha256:{}", "A".repeat(64)),
            400,
            "DIGEST_INVALID",
        ),
        (
            format!("/v2/sample/blobs/sha512:{}", "a".repeat(128)),
            400,
            "DIGEST_INVALID",
        ),
        (
            "/v2/sample/blobs/sha256:%2e%2e".into(),
            400,
            "DIGEST_INVALID",
        ),
        (
            "/v2/sample/manifests/sha256:zz".into(),
            400,
            "DIGEST_INVALID",
        ),
        ("/v2/%2e%2e/manifests/1".into(), 400, "NAME_INVALID"),
        ("/v2/a/../../manifests/1".into(), 400, "NAME_INVALID"),
        ("/v2/..%2f..%2fetc/manifests/1".into(), 400, "NAME_INVALID"),
        ("/v2/Sample/manifests/1".into(), 400, "NAME_INVALID"),
        ("/v2/sample//x/tags/list".into(), 400, "NAME_INVALID"),
        (
            format!("/v2/{}/manifests/1", "a".repeat(256)),
            400,
            "NAME_INVALID",
        ),
        (
            "/v2/sample/referrers/sha256:zz".into(),
            400,
            "DIGEST_INVALID",
        ),
        ("/v2/sample/nothing/here".into(), 404, "UNSUPPORTED"),
    ];
    for (path, status, code) in &cases {
        let reply = served.request("GET", path, &[]);
        assert_eq!(
            (reply.status, reply.code()),
            (*status, code.to_string()),
            "{path}"
        );
    }
    let logged = |log: &str| {
        cases
            .iter()
            .all(|(path, status, _)| log.contains(&format!("\"GET {path}\" {status} ")))
    };
    let log = served.log_when(logged);
    assert!(logged(&log), "one line per request: {log}");
}

#[test]
fn pushes_and_deletes_to_a_read_only_server_answer_405() {
    let (s, image) = fixture();
    let served = Served::start_with(&s, &["--read-only"]);
    let cases = [
        ("POST", "/v2/sample/blobs/uploads/".to_string()),
        ("PATCH", "/v2/sample/blobs/uploads/abc".to_string()),
        (
            "PUT",
            format!("/v2/sample/blobs/uploads/abc?digest={}", image.config),
        ),
        ("GET", "/v2/sample/blobs/uploads/abc".to_string()),
        ("PUT", "/v2/sample/manifests/2".to_string()),
        ("DELETE", format!("/v2/sample/manifests/{}", image.manifest)),
        ("DELETE", format!("/v2/sample/blobs/{}", image.config)),
    ];
    for (method, path) in &cases {
        let reply = served.request(method, path, &[("Content-Length", "0")]);
        expect_error(&reply, 405, "UNSUPPORTED");
        let message = reply.json()["errors"][0]["message"].to_string();
        assert!(
            message.contains("this strata serve is read-only (--read-only)"),
            "{method} {path}: {message}"
        );
    }
    let still = served.request("GET", "/v2/sample/tags/list", &[]);
    assert_eq!(
        still.json()["tags"],
        serde_json::json!(["1", "2", "3", "a"])
    );
}

#[test]
fn many_clients_at_once_get_the_same_bytes() {
    let (s, image) = fixture();
    let served = Served::start(&s);
    let paths: Vec<String> = image
        .diff_ids
        .iter()
        .chain([&image.config, &image.manifest])
        .map(|digest| {
            let kind = if digest == &image.manifest {
                "manifests"
            } else {
                "blobs"
            };
            format!("/v2/sample/{kind}/{digest}")
        })
        .collect();
    std::thread::scope(|scope| {
        for round in 0..12 {
            let path = &paths[round % paths.len()];
            let addr = &served.addr;
            scope.spawn(move || {
                let reply = crate::serve_support::request(addr, "GET", path, &[]);
                assert_eq!(reply.status, 200, "{path}");
                assert!(path.ends_with(&sha(&reply.body)), "{path}");
            });
        }
    });
}

#[test]
fn a_damaged_layer_ends_its_reply_short() {
    let (s, image) = fixture();
    let base = image.diff_ids[0].trim_start_matches("sha256:");
    let motd = ["overlay/{}/diff/etc/motd", "vfs/{}/etc/motd"]
        .iter()
        .map(|pattern| s.root().join(pattern.replace("{}", base)))
        .find(|path| path.exists())
        .expect("the base layer's etc/motd");
    let mut text = std::fs::read(&motd).expect("read motd");
    text[0] ^= 1;
    std::fs::write(&motd, &text).expect("damage motd");

    let served = Served::start(&s);
    let path = format!("/v2/sample/blobs/{}", image.diff_ids[0]);
    let head = served.request("HEAD", &path, &[]);
    let full: usize = head.header("content-length").parse().expect("length");
    let reply = crate::serve_support::request_unchecked(&served.addr, "GET", &path, &[]);
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.len() < full,
        "{} of {full} bytes: a damaged layer must not look complete",
        reply.body.len()
    );
    let ranged = crate::serve_support::request_unchecked(
        &served.addr,
        "GET",
        &path,
        &[("Range", "bytes=0-9")],
    );
    assert!(ranged.body.len() < 10, "a range of it is cut short too");
    let log = served.log_when(|log| log.contains(base));
    assert!(log.contains(base), "the error names the layer: {log}");
}

#[test]
fn referrers_are_an_empty_index() {
    let (s, image) = fixture();
    let served = Served::start(&s);
    for path in [
        format!("/v2/sample/referrers/{}", image.manifest),
        format!("/v2/nosuch/referrers/{}", image.manifest),
    ] {
        let reply = served.request("GET", &path, &[]);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type"),
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(
            reply.json(),
            serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [],
            })
        );
        assert_eq!(reply.header("oci-filters-applied"), "");
    }
    let filtered = served.request(
        "GET",
        &format!(
            "/v2/sample/referrers/{}?artifactType=application/x-sbom",
            image.manifest
        ),
        &[],
    );
    assert_eq!(filtered.header("oci-filters-applied"), "artifactType");
}

#[test]
fn a_closed_log_pipe_does_not_stop_the_server() {
    use std::io::BufRead as _;
    let s = CliStore::new();
    let mut child = s
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn strata serve");
    let addr = {
        let mut first = String::new();
        let stderr = child.stderr.take().expect("stderr");
        std::io::BufReader::new(stderr)
            .read_line(&mut first)
            .expect("read the first line");
        first
            .trim()
            .strip_prefix("listening on ")
            .expect("listening on ADDRESS")
            .to_string()
        // The reader goes away here: every later log line hits a closed pipe.
    };
    for _ in 0..3 {
        let reply = crate::serve_support::request(&addr, "GET", "/v2/", &[]);
        assert_eq!(reply.status, 200);
    }
    assert!(child.try_wait().expect("wait").is_none(), "still serving");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exited = child.wait().expect("wait");
    assert!(exited.success(), "{exited:?}");
}

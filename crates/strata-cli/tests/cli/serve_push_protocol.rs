//! The push side of `strata serve`'s distribution API, seen with a plain
//! HTTP client: upload sessions (chunks in order, 416 out of order, status,
//! cancel), monolithic uploads, mounts, manifest `PUT`s, and each error a
//! push can meet — with the store checked to hold nothing of a refused
//! push.

use std::io::Write;

use crate::serve_support::{Reply, Served, expect_error, expect_status, sha};
use crate::store_support::CliStore;

/// A one-layer image: its layer tar, the layer blob as pushed (gzip), its
/// config, and a manifest naming them.
pub(crate) struct Pushable {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

pub(crate) fn pushable(contents: &[u8]) -> Pushable {
    let tar = testkit::TarBuilder::default()
        .dir("etc/")
        .file("etc/hello", contents)
        .finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let layer = gz.finish().expect("gzip");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": [sha(&tar)]},
        "config": {},
    }))
    .expect("config json");
    let manifest = manifest_of(&config, &[&layer]);
    Pushable {
        layer,
        config,
        manifest,
    }
}

fn manifest_of(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha(config),
            "size": config.len(),
        },
        "layers": layers.iter().map(|layer| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": sha(layer),
            "size": layer.len(),
        })).collect::<Vec<_>>(),
    }))
    .expect("manifest json")
}

/// Uploads `bytes` to `repo` in one `POST ?digest=`.
pub(crate) fn upload(served: &Served, repo: &str, bytes: &[u8]) {
    let reply = served.send(
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={}", sha(bytes)),
        &[],
        bytes,
    );
    expect_status(&reply, 201);
    assert_eq!(
        reply.header("location"),
        format!("/v2/{repo}/blobs/{}", sha(bytes))
    );
}

pub(crate) fn put_manifest(served: &Served, repo: &str, reference: &str, manifest: &[u8]) -> Reply {
    served.send(
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        manifest,
    )
}

fn images(s: &CliStore) -> String {
    s.ok(&["images", "-q"])
}

#[test]
fn a_chunked_upload_goes_in_order_and_lands_with_its_manifest() {
    let s = CliStore::new();
    let served = Served::start(&s);
    let image = pushable(b"hello\n");
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    assert_eq!(started.status, 202);
    assert_eq!(started.header("range"), "0-0");
    let location = started.header("location").to_string();
    assert!(location.starts_with("/v2/app/blobs/uploads/"), "{location}");
    assert_eq!(
        started.header("docker-upload-uuid"),
        &location["/v2/app/blobs/uploads/".len()..]
    );

    let (first, rest) = image.layer.split_at(10);
    let chunk = served.send("PATCH", &location, &[("Content-Range", "0-9")], first);
    assert_eq!(chunk.status, 202);
    assert_eq!(chunk.header("range"), "0-9");
    // A chunk that does not start where the upload ends: 416, and the
    // upload is as it was.
    let skipped = served.send(
        "PATCH",
        &location,
        &[("Content-Range", "20-29")],
        &rest[10..20],
    );
    expect_error(&skipped, 416, "BLOB_UPLOAD_INVALID");
    assert_eq!(skipped.header("range"), "0-9");
    let status = served.request("GET", &location, &[]);
    assert_eq!((status.status, status.header("range")), (204, "0-9"));
    let end = format!("10-{}", image.layer.len() - 1);
    let chunk = served.send("PATCH", &location, &[("Content-Range", &end)], rest);
    assert_eq!(chunk.status, 202);
    let done = served.send(
        "PUT",
        &format!(
            "{location}?digest={}",
            sha(&image.layer).replace(':', "%3A")
        ),
        &[],
        &[],
    );
    expect_status(&done, 201);
    assert_eq!(done.header("docker-content-digest"), sha(&image.layer));
    // Pushed into `app`, the blob is found there at once (docker checks
    // each blob it uploads so), and nowhere else.
    let head = served.request("HEAD", &format!("/v2/app/blobs/{}", sha(&image.layer)), &[]);
    assert_eq!(head.status, 200);
    let elsewhere = served.request(
        "GET",
        &format!("/v2/other/blobs/{}", sha(&image.layer)),
        &[],
    );
    assert_eq!(elsewhere.status, 404);
    // The session is over.
    expect_error(
        &served.send("PATCH", &location, &[], b"more"),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );

    upload(&served, "app", &image.config);
    let landed = put_manifest(&served, "app", "v1", &image.manifest);
    expect_status(&landed, 201);
    assert_eq!(landed.header("docker-content-digest"), sha(&image.manifest));
    assert_eq!(
        landed.header("location"),
        format!("/v2/app/manifests/{}", sha(&image.manifest))
    );
    assert_eq!(
        images(&s).trim(),
        &sha(&image.config)["sha256:".len()..12 + 7]
    );
    let head = served.request("HEAD", &format!("/v2/app/blobs/{}", sha(&image.layer)), &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), image.layer.len().to_string());
    let served_back = served.request("GET", "/v2/app/manifests/v1", &[]);
    assert_eq!(served_back.body, image.manifest);
    let blob = served.request("GET", &format!("/v2/app/blobs/{}", sha(&image.layer)), &[]);
    assert_eq!(blob.body, image.layer, "the layer blob as pushed");
    let ranged = served.request(
        "GET",
        &format!("/v2/app/blobs/{}", sha(&image.layer)),
        &[("Range", "bytes=5-9")],
    );
    assert_eq!(
        (ranged.status, &ranged.body[..]),
        (206, &image.layer[5..10])
    );
    // Pushing the same manifest again by digest is taken (it is there).
    let again = put_manifest(&served, "app", &sha(&image.manifest), &image.manifest);
    assert_eq!(again.status, 201);
}

#[test]
fn uploads_are_cancelled_checked_and_kept_to_their_repository() {
    let s = CliStore::new();
    let served = Served::start_with(&s, &["--max-blob-size", "1000"]);
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    let location = started.header("location").to_string();
    let id = &location["/v2/app/blobs/uploads/".len()..];
    // Another repository does not know the session.
    expect_error(
        &served.send("PATCH", &format!("/v2/other/blobs/uploads/{id}"), &[], b"x"),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    let cancelled = served.request("DELETE", &location, &[]);
    assert_eq!(cancelled.status, 204);
    expect_error(
        &served.request("GET", &location, &[]),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );

    // Bytes that are not their digest: refused, nothing kept.
    let wrong = sha(b"something else");
    let mismatch = served.send(
        "POST",
        &format!("/v2/app/blobs/uploads/?digest={wrong}"),
        &[],
        b"these bytes",
    );
    expect_error(&mismatch, 400, "DIGEST_INVALID");
    // (The repository has no image yet, so it is not known at all.)
    expect_error(
        &served.request("GET", &format!("/v2/app/blobs/{wrong}"), &[]),
        404,
        "NAME_UNKNOWN",
    );
    // A digest outside the grammar, a missing one.
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    let location = started.header("location").to_string();
    expect_error(
        &served.send("PUT", &format!("{location}?digest=md5:abc"), &[], b""),
        400,
        "DIGEST_INVALID",
    );
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    let location = started.header("location").to_string();
    expect_error(
        &served.send("PUT", &location, &[], b""),
        400,
        "DIGEST_INVALID",
    );

    // Past --max-blob-size: 413, nothing kept.
    let big = vec![1u8; 2000];
    let refused = served.send(
        "POST",
        &format!("/v2/app/blobs/uploads/?digest={}", sha(&big)),
        &[],
        &big,
    );
    expect_error(&refused, 413, "SIZE_INVALID");

    // Hostile names and session ids never reach the store.
    for path in [
        "/v2/../etc/blobs/uploads/",
        "/v2/App/blobs/uploads/",
        "/v2/a//b/blobs/uploads/",
        "/v2/%2e%2e/blobs/uploads/",
    ] {
        expect_error(&served.send("POST", path, &[], &[]), 400, "NAME_INVALID");
    }
    for session in ["..", "..%2f..%2fstrata.db", "x/y"] {
        let path = format!("/v2/app/blobs/uploads/{session}");
        let reply = served.send("PATCH", &path, &[], b"x");
        assert!(
            matches!(
                reply.code().as_str(),
                "BLOB_UPLOAD_UNKNOWN" | "NAME_INVALID"
            ),
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    let mut served = served;
    assert!(served.stop());
    s.ok(&["gc"]);
    let blobs = s.entries("blobs/sha256");
    assert!(blobs.is_empty(), "blobs left: {blobs:?}");
    s.assert_clean();
}

#[test]
fn a_mount_of_a_stored_blob_is_created_and_of_another_starts_an_upload() {
    let s = CliStore::new();
    let served = Served::start(&s);
    let image = pushable(b"mounted\n");
    upload(&served, "first", &image.layer);
    let mounted = served.send(
        "POST",
        &format!(
            "/v2/second/blobs/uploads/?mount={}&from=first",
            sha(&image.layer)
        ),
        &[],
        &[],
    );
    assert_eq!(mounted.status, 201);
    assert_eq!(
        mounted.header("location"),
        format!("/v2/second/blobs/{}", sha(&image.layer))
    );
    let unknown = served.send(
        "POST",
        &format!(
            "/v2/second/blobs/uploads/?mount={}&from=first",
            sha(b"nope")
        ),
        &[],
        &[],
    );
    assert_eq!(unknown.status, 202, "falls back to an upload session");
    upload(&served, "second", &image.config);
    let landed = put_manifest(&served, "second", "1", &image.manifest);
    expect_status(&landed, 201);
}

#[test]
fn refused_manifests_leave_no_image() {
    let s = CliStore::new();
    let served = Served::start(&s);
    let image = pushable(b"refused\n");

    // Its blobs were never pushed.
    let reply = put_manifest(&served, "app", "1", &image.manifest);
    expect_error(&reply, 400, "MANIFEST_BLOB_UNKNOWN");
    assert!(
        reply.json()["errors"][0]["message"]
            .to_string()
            .contains(&sha(&image.config)),
        "names the missing blob"
    );
    upload(&served, "app", &image.config);
    expect_error(
        &put_manifest(&served, "app", "1", &image.manifest),
        400,
        "MANIFEST_BLOB_UNKNOWN",
    );

    // Not JSON; an index that lists nothing, by tag and by digest; too
    // big; a digest that is not the body's.
    expect_error(
        &put_manifest(&served, "app", "1", b"{not json"),
        400,
        "MANIFEST_INVALID",
    );
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    }))
    .expect("index json");
    expect_error(
        &put_manifest(&served, "app", "1", &index),
        400,
        "MANIFEST_INVALID",
    );
    expect_error(
        &put_manifest(&served, "app", &sha(&index), &index),
        400,
        "UNSUPPORTED",
    );
    let huge = vec![b' '; 5 << 20];
    expect_error(
        &put_manifest(&served, "app", "1", &huge),
        413,
        "SIZE_INVALID",
    );
    expect_error(
        &put_manifest(&served, "app", &sha(b"other"), &image.manifest),
        400,
        "DIGEST_INVALID",
    );
    upload(&served, "app", &image.layer);

    // A layer blob that is not the diff id its config names: the import
    // is undone whole.
    let other = pushable(b"another layer\n");
    upload(&served, "app", &other.layer);
    let lying = manifest_of(&image.config, &[&other.layer]);
    let reply = put_manifest(&served, "app", "1", &lying);
    expect_error(&reply, 400, "MANIFEST_INVALID");
    assert_eq!(images(&s), "");
    assert_eq!(s.ok(&["layers", "-q"]), "", "no layer is left");

    // The right manifest still lands after all that.
    let landed = put_manifest(&served, "app", "1", &image.manifest);
    expect_status(&landed, 201);
    assert_eq!(images(&s).lines().count(), 1);
}

#[test]
fn a_read_only_server_refuses_pushes_and_serves_a_store_it_may_not_write() {
    let s = CliStore::new();
    let served = Served::start_with(&s, &["--read-only"]);
    for (method, path) in [
        ("POST", "/v2/app/blobs/uploads/"),
        ("PATCH", "/v2/app/blobs/uploads/abc"),
        ("GET", "/v2/app/blobs/uploads/abc"),
        ("PUT", "/v2/app/manifests/1"),
    ] {
        let reply = served.send(method, path, &[], &[]);
        expect_error(&reply, 405, "UNSUPPORTED");
        let message = reply.json()["errors"][0]["message"].to_string();
        assert!(
            message.contains("--read-only"),
            "{method} {path}: {message}"
        );
    }
    assert!(
        s.entries("staging").is_empty(),
        "a read-only server holds no lease"
    );
}

#[test]
fn deletes_take_tags_and_the_image_with_its_last_one() {
    let s = CliStore::new();
    let served = Served::start(&s);
    let image = pushable(b"deleted\n");
    upload(&served, "app", &image.layer);
    upload(&served, "app", &image.config);
    for tag in ["1", "2", "3"] {
        expect_status(&put_manifest(&served, "app", tag, &image.manifest), 201);
    }
    // One tag: the others stay.
    expect_status(&served.request("DELETE", "/v2/app/manifests/1", &[]), 202);
    let tags = served.request("GET", "/v2/app/tags/list", &[]);
    assert_eq!(tags.json()["tags"], serde_json::json!(["2", "3"]));
    expect_error(
        &served.request("DELETE", "/v2/app/manifests/1", &[]),
        404,
        "MANIFEST_UNKNOWN",
    );
    // A blob alone is not deleted.
    expect_error(
        &served.request(
            "DELETE",
            &format!("/v2/app/blobs/{}", sha(&image.layer)),
            &[],
        ),
        405,
        "UNSUPPORTED",
    );
    // By digest: every tag serving it, and the image with the last one.
    let digest = sha(&image.manifest);
    expect_status(
        &served.request("DELETE", &format!("/v2/app/manifests/{digest}"), &[]),
        202,
    );
    assert_eq!(images(&s), "");
    expect_error(
        &served.request("GET", "/v2/app/tags/list", &[]),
        404,
        "NAME_UNKNOWN",
    );
    let mut served = served;
    assert!(served.stop());
    s.ok(&["gc"]);
    assert_eq!(
        s.ok(&["layers", "-q"]),
        "",
        "the layers went with the image"
    );
    let blobs = s.entries("blobs/sha256");
    assert!(blobs.is_empty(), "blobs left: {blobs:?}");
    s.assert_clean();
}

#[test]
fn sigterm_discards_open_uploads_and_unnamed_blobs_cleanly() {
    let s = CliStore::new();
    let mut served = Served::start(&s);
    let image = pushable(b"stopped\n");
    upload(&served, "app", &image.layer);
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    let location = started.header("location").to_string();
    expect_status(
        &served.send("PATCH", &location, &[], &image.config[..10]),
        202,
    );
    assert!(served.stop(), "SIGTERM stops it cleanly: {}", served.log());
    // Before any other command: the server itself cancelled the upload
    // and released the blob no manifest named.
    let staging = s.entries("staging");
    assert!(staging.is_empty(), "staging: {staging:?}");
    let blobs = s.entries("blobs/sha256");
    assert!(blobs.is_empty(), "blobs left: {blobs:?}");
    s.assert_clean();
}

#[test]
fn a_client_gone_mid_chunk_ends_its_session_and_its_upload() {
    use std::io::Write as _;
    let s = CliStore::new();
    let served = Served::start(&s);
    // While it runs, staging holds the server's own lease only.
    let own = s.entries("staging");
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    let location = started.header("location").to_string();
    assert!(s.entries("staging").len() > own.len(), "the upload's lease");
    {
        let mut stream = std::net::TcpStream::connect(&served.addr).expect("connect");
        let head = format!(
            "PATCH {location} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\n\r\n",
            served.addr
        );
        stream.write_all(head.as_bytes()).expect("send");
        stream
            .write_all(&[7u8; 1000])
            .expect("send part of the body");
    }
    // The server sees the connection close, ends the session and cancels
    // the upload.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.entries("staging").len() > own.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        s.entries("staging"),
        own,
        "only the server's own lease is left"
    );
    expect_error(
        &served.request("GET", &location, &[]),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
}

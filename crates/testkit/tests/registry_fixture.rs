//! Checks of the registry fixtures themselves: each `testkit::registry`
//! mode starts the real `docker-registry` and real skopeo pushes to and
//! pulls from it with the flags the fixture hands out; the token mode's
//! server (the one mock: no token server is packaged) issues tokens the
//! registry accepts and refuses anonymous pushes; the fault proxy forwards
//! faithfully and applies each fault as configured, counting bytes exactly;
//! and nothing keeps running once a fixture is dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use testkit::fault_proxy::{Action, Fault, FaultProxy};
use testkit::peers::{self, SampleImage};
use testkit::registry::{self, Options, PASSWORD, Registry, TokenOptions, USER};

/// A sample archive with a ~1 MiB first layer (kept alive by the guard).
fn sample() -> (tempfile::TempDir, SampleImage) {
    let dir = tempfile::tempdir().expect("temp dir");
    let image = peers::sample_image(&dir.path().join("sample.tar"), &["--size-mib", "1"]);
    (dir, image)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

/// `(digest, size)` of each layer in a manifest.
fn layers(manifest: &Value) -> Vec<(String, u64)> {
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["digest"].as_str().expect("digest").to_owned(),
                l["size"].as_u64().expect("size"),
            )
        })
        .collect()
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-s", "--max-time", "60"])
        .args(args)
        .output()
        .expect("run curl")
}

/// The HTTP status curl saw (`000` when it never got one).
fn curl_status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    String::from_utf8(curl(&all).stdout).expect("UTF-8")
}

/// Checks an OCI layout `skopeo copy … oci:DIR` wrote holds the layers of
/// `manifest` intact (skopeo converts the manifest itself to OCI).
fn assert_layout_holds(dir: &Path, manifest: &[u8]) {
    let index = json(&std::fs::read(dir.join("index.json")).expect("index.json"));
    let digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let copied = std::fs::read(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .expect("manifest blob");
    assert_eq!(layers(&json(&copied)), layers(&json(manifest)));
    for (layer, size) in layers(&json(manifest)) {
        let hex = layer.trim_start_matches("sha256:");
        let blob = dir.join("blobs/sha256").join(hex);
        assert_eq!(testkit::sha256_file(&blob), hex, "layer {layer} intact");
        assert_eq!(std::fs::metadata(&blob).expect("blob").len(), size);
    }
}

/// A minimal HTTP/1.1 exchange: `(status, head, body)`; the body is what
/// arrived before the connection closed.
fn http(host: &str, method: &str, path: &str, extra: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut conn = TcpStream::connect(host).expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in extra {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).expect("send");
    let mut all = Vec::new();
    conn.read_to_end(&mut all).expect("read");
    split_response(&all)
}

fn split_response(all: &[u8]) -> (u16, String, Vec<u8>) {
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head, all[end + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn plain_registry_takes_a_push_and_serves_it_back() {
    let (_dir, image) = sample();
    let reg = Registry::plain();
    assert!(reg.url().starts_with("http://127.0.0.1:"));
    assert!(reg.credentials().is_none() && reg.cert_dir().is_none());
    let target = reg.target();
    target.push(&image.path, "sample/app:1");
    let manifest = target.inspect_raw("sample/app:1");
    assert_eq!(json(&manifest)["layers"].as_array().map(Vec::len), Some(3));

    let out = tempfile::tempdir().expect("temp dir");
    target.pull_oci("sample/app:1", &out.path().join("oci"));
    assert_layout_holds(&out.path().join("oci"), &manifest);

    let requests = reg.requests();
    let put = requests
        .iter()
        .find(|r| r.method == "PUT" && r.path == "/v2/sample/app/manifests/1")
        .expect("the manifest PUT is in the access log");
    assert_eq!(put.status, 201);
    let (first, size) = layers(&json(&manifest))[0].clone();
    let blob_gets: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&first))
        .collect();
    assert_eq!(blob_gets.len(), 1, "{requests:?}");
    assert_eq!(blob_gets[0].bytes, size);
}

#[test]
fn tls_basic_registry_needs_the_ca_and_the_password() {
    let (_dir, image) = sample();
    let reg = Registry::tls_basic();
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    assert_eq!(reg.credentials(), Some((USER, PASSWORD)));
    let cert_dir = reg.cert_dir().expect("cert dir");
    assert_eq!(
        cert_dir.file_name().and_then(|n| n.to_str()),
        Some(reg.host().as_str())
    );
    assert_eq!(reg.certs_d().as_deref(), cert_dir.parent());
    for name in ["ca.crt", "client.cert", "client.key"] {
        assert!(cert_dir.join(name).is_file(), "{name} in the cert dir");
    }
    let ca = reg.ca_cert().expect("CA");
    let ca = ca.to_str().expect("UTF-8 path");
    let v2 = format!("{}/v2/", reg.url());
    let localhost = v2.replace("127.0.0.1", "localhost");
    let creds = format!("{USER}:{PASSWORD}");
    assert_eq!(curl_status(&[&v2]), "000", "unknown CA refused");
    assert_eq!(curl_status(&["--cacert", ca, &v2]), "401");
    assert_eq!(curl_status(&["--cacert", ca, "-u", "x:y", &v2]), "401");
    assert_eq!(curl_status(&["--cacert", ca, "-u", &creds, &v2]), "200");
    assert_eq!(
        curl_status(&["--cacert", ca, "-u", &creds, &localhost]),
        "200"
    );

    let target = reg.target();
    let refused = target.anonymous().try_push(&image.path, "sample/app:1");
    assert!(!refused.status.success(), "anonymous push refused");
    target.push(&image.path, "sample/app:1");
    let manifest = target.inspect_raw("sample/app:1");
    let out = tempfile::tempdir().expect("temp dir");
    target.pull_oci("sample/app:1", &out.path().join("oci"));
    assert_layout_holds(&out.path().join("oci"), &manifest);
}

#[test]
fn client_certificates_can_be_required() {
    let (_dir, image) = sample();
    let reg = Registry::start(Options {
        tls: true,
        basic_auth: true,
        require_client_cert: true,
        ..Options::default()
    });
    let ca = reg.ca_cert().expect("CA");
    let cert = reg.client_cert().expect("client cert");
    let key = reg.client_key().expect("client key");
    let v2 = format!("{}/v2/", reg.url());
    let creds = format!("{USER}:{PASSWORD}");
    let ca = ca.to_str().expect("UTF-8");
    assert_eq!(
        curl_status(&["--cacert", ca, "-u", &creds, &v2]),
        "000",
        "no client certificate: handshake refused"
    );
    let with_cert = [
        "--cacert",
        ca,
        "--cert",
        cert.to_str().expect("UTF-8"),
        "--key",
        key.to_str().expect("UTF-8"),
        "-u",
        &creds,
        &v2,
    ];
    assert_eq!(curl_status(&with_cert), "200");
    let identity = reg.client_identity_pem().expect("identity");
    let identity = String::from_utf8(identity).expect("PEM");
    assert!(identity.contains("BEGIN CERTIFICATE") && identity.contains("BEGIN PRIVATE KEY"));

    // skopeo sends client.cert/client.key from the cert dir ...
    reg.target().push(&image.path, "sample/app:1");
    // ... and fails without them.
    let bare = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        reg.cert_dir().expect("dir").join("ca.crt"),
        bare.path().join("ca.crt"),
    )
    .expect("copy ca.crt");
    let no_cert = registry::Target::new(
        reg.host(),
        Some(bare.path().to_owned()),
        reg.credentials().map(|(u, p)| (u.to_owned(), p.to_owned())),
    );
    assert!(!no_cert.try_inspect_raw("sample/app:1").status.success());

    // The access log still reads (its sync request carries the cert).
    let requests = reg.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "PUT" && r.path.ends_with("/manifests/1") && r.status == 201),
        "{requests:?}"
    );
}

/// The claims of a JWT (unverified).
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    json(&bytes)
}

#[test]
fn token_registry_gives_anonymous_pulls_and_pushes_to_the_user() {
    let (_dir, image) = sample();
    let reg = Registry::start(Options {
        token: Some(TokenOptions {
            lifetime_secs: 123,
            ..TokenOptions::default()
        }),
        ..Options::default()
    });
    let server = reg.token_server().expect("token server");
    let challenge = curl(&["-i", &format!("{}/v2/", reg.url())]);
    let challenge = String::from_utf8_lossy(&challenge.stdout).into_owned();
    assert!(
        challenge.contains(&format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            server.realm(),
            registry::SERVICE
        )),
        "{challenge}"
    );

    let target = reg.target();
    let anonymous = target.anonymous();
    assert!(
        !anonymous
            .try_push(&image.path, "sample/app:1")
            .status
            .success()
    );
    let seen = server.requests();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .filter(|r| r.auth == "none")
            .all(|r| !r.granted("sample/app", "push")),
        "{seen:?}"
    );

    target.push(&image.path, "sample/app:1");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.auth == format!("basic:{USER}") && r.granted("sample/app", "push")),
        "skopeo fetched a push token with Basic credentials"
    );

    let before = server.tokens_issued();
    let manifest = anonymous.inspect_raw("sample/app:1");
    let after = server.requests();
    assert!(after.len() > before);
    let pull = after.last().expect("a token request");
    assert_eq!(pull.auth, "none");
    assert!(pull.granted("sample/app", "pull") && !pull.granted("sample/app", "push"));
    let out = tempfile::tempdir().expect("temp dir");
    anonymous.pull_oci("sample/app:1", &out.path().join("oci"));
    assert_layout_holds(&out.path().join("oci"), &manifest);

    // The OAuth2 POST form, and the token it returns works for a push.
    let form = curl(&[
        "-d",
        "grant_type=password",
        "-d",
        &format!("username={USER}"),
        "-d",
        &format!("password={PASSWORD}"),
        "-d",
        &format!("service={}", registry::SERVICE),
        "-d",
        "scope=repository:sample/other:pull,push",
        "-d",
        "client_id=strata-test",
        "-d",
        "access_type=offline",
        &server.realm(),
    ]);
    let answer = json(&form.stdout);
    assert_eq!(answer["expires_in"], 123);
    assert!(answer["refresh_token"].is_string());
    let token = answer["access_token"].as_str().expect("access_token");
    let c = claims(token);
    assert_eq!(
        c["exp"].as_i64().zip(c["iat"].as_i64()).map(|(e, i)| e - i),
        Some(123)
    );
    let upload = format!("{}/v2/sample/other/blobs/uploads/", reg.url());
    let bearer = format!("Authorization: Bearer {token}");
    assert_eq!(curl_status(&["-X", "POST", "-H", &bearer, &upload]), "202");
    let last = server.requests().pop().expect("the POST");
    assert_eq!(last.method, "POST");
    assert_eq!(
        last.form.get("grant_type").map(String::as_str),
        Some("password")
    );
    assert_eq!(
        last.form.get("password").map(String::as_str),
        Some("<redacted>")
    );
    assert_eq!(last.scopes(), ["repository:sample/other:pull,push"]);

    // The refresh token grant, and a wrong password.
    let refresh = answer["refresh_token"].as_str().expect("refresh token");
    let again = json(
        &curl(&[
            "-d",
            "grant_type=refresh_token",
            "-d",
            &format!("refresh_token={refresh}"),
            "-d",
            "scope=repository:sample/other:pull",
            "-d",
            &format!("service={}", registry::SERVICE),
            "-d",
            "client_id=strata-test",
            &server.realm(),
        ])
        .stdout,
    );
    assert!(again["access_token"].is_string(), "{again}");
    let wrong = [
        "-d",
        "grant_type=password",
        "-d",
        "username=strata-tester",
        "-d",
        "password=wrong",
        "-d",
        "scope=repository:sample/other:pull",
        &server.realm(),
    ];
    assert_eq!(curl_status(&wrong), "401");
    let anonymous_push_token = json(
        &curl(&[&format!(
            "{}?service={}&scope=repository:sample/other:pull,push",
            server.realm(),
            registry::SERVICE
        )])
        .stdout,
    );
    let token = anonymous_push_token["token"].as_str().expect("token");
    let bearer = format!("Authorization: Bearer {token}");
    assert_eq!(
        curl_status(&["-X", "POST", "-H", &bearer, &upload]),
        "401",
        "an anonymous token does not allow a push"
    );
}

#[test]
fn token_server_options_refuse_anonymous_and_post() {
    let reg = Registry::start(Options {
        token: Some(TokenOptions {
            anonymous_pull: false,
            oauth_post: false,
            ..TokenOptions::default()
        }),
        ..Options::default()
    });
    let realm = reg.token_server().expect("server").realm();
    let get = format!(
        "{realm}?service={}&scope=repository:a/b:pull",
        registry::SERVICE
    );
    assert_eq!(curl_status(&[&get]), "401");
    assert_eq!(
        curl_status(&["-u", &format!("{USER}:{PASSWORD}"), &get]),
        "200"
    );
    assert_eq!(curl_status(&["-d", "grant_type=password", &realm]), "404");
    let statuses: Vec<u16> = reg
        .token_server()
        .expect("server")
        .requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [401, 200, 404]);
}

#[test]
fn dropping_a_registry_stops_everything() {
    let reg = Registry::token();
    let pid = reg.pid();
    let token_pid = reg.token_server().expect("server").pid();
    let dir = reg.dir().to_owned();
    let host = reg.host();
    assert!(registry::process_alive(pid) && registry::process_alive(token_pid));
    drop(reg);
    assert!(!registry::process_alive(pid), "registry gone");
    assert!(!registry::process_alive(token_pid), "token server gone");
    assert!(!dir.exists(), "temp dir removed");
    assert!(TcpStream::connect(&host).is_err(), "nothing listens");
}

/// A plain registry holding the sample image, and its first layer.
fn registry_with_image() -> (Registry, (String, u64)) {
    let (_dir, image) = sample();
    let reg = Registry::plain();
    reg.target().push(&image.path, "sample/app:1");
    let manifest = json(&reg.target().inspect_raw("sample/app:1"));
    let first = layers(&manifest)[0].clone();
    assert!(first.1 > 100_000, "a big first layer");
    (reg, first)
}

#[test]
fn proxy_forwards_pushes_pulls_ranges_and_rewrites_locations() {
    let (_dir, image) = sample();
    let reg = Registry::plain();
    let proxy = FaultProxy::for_registry(&reg);
    let target = proxy.target();
    // Pushing through it needs the upload Location rewritten.
    target.push(&image.path, "sample/app:1");
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "PATCH" || r.method == "PUT")
    );
    assert!(requests.iter().all(|r| r.status != 0), "{requests:?}");
    let (status, head, _) = http(&proxy.host(), "POST", "/v2/sample/app/blobs/uploads/", &[]);
    assert_eq!(status, 202);
    let location = header(&head, "Location").expect("Location");
    assert!(location.contains(&proxy.host()), "{location}");
    assert!(!location.contains(&reg.host()), "{location}");

    let manifest = target.inspect_raw("sample/app:1");
    let out = tempfile::tempdir().expect("temp dir");
    target.pull_oci("sample/app:1", &out.path().join("oci"));
    assert_layout_holds(&out.path().join("oci"), &manifest);
    let (digest, size) = layers(&json(&manifest))[0].clone();
    let blob_path = format!("/v2/sample/app/blobs/{digest}");
    assert_eq!(proxy.bytes_served(&blob_path), size);

    proxy.reset_counts();
    let (status, head, body) = http(
        &proxy.host(),
        "GET",
        &blob_path,
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(status, 206);
    assert_eq!(
        header(&head, "Content-Range"),
        Some(format!("bytes 100-199/{size}").as_str())
    );
    assert_eq!(body.len(), 100);
    let (status, head, body) = http(&proxy.host(), "HEAD", &blob_path, &[]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "Content-Length"),
        Some(size.to_string().as_str())
    );
    assert!(body.is_empty());
    let seen = proxy.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].range.as_deref(), Some("bytes=100-199"));
    assert_eq!((seen[0].status, seen[0].body_bytes), (206, 100));
    assert_eq!((seen[1].method.as_str(), seen[1].body_bytes), ("HEAD", 0));
    assert_eq!(proxy.bytes_served(&blob_path), 100);
}

#[test]
fn proxy_cuts_and_refuses_as_told() {
    let (reg, (digest, size)) = registry_with_image();
    let proxy = FaultProxy::for_registry(&reg);
    let blob = format!("/v2/sample/app/blobs/{digest}");
    proxy.inject(Fault::new("GET", "/blobs/", Action::CutAfter(1000)).times(2));
    proxy.inject(Fault::new("HEAD", "/blobs/", Action::Unavailable));
    proxy.inject(Fault::new(
        "",
        "/blobs/",
        Action::TooManyRequests {
            retry_after_secs: 7,
        },
    ));
    assert_eq!(proxy.faults_left(), 4);

    for _ in 0..2 {
        let (status, head, body) = http(&proxy.host(), "GET", &blob, &[]);
        assert_eq!(status, 200);
        assert_eq!(
            header(&head, "Content-Length"),
            Some(size.to_string().as_str())
        );
        assert_eq!(body.len(), 1000, "cut after 1000 bytes");
    }
    let (status, _, _) = http(&proxy.host(), "HEAD", &blob, &[]);
    assert_eq!(status, 503);
    let (status, head, body) = http(&proxy.host(), "GET", &blob, &[]);
    assert_eq!(status, 429);
    assert_eq!(header(&head, "Retry-After"), Some("7"));
    assert!(body.is_empty());
    assert_eq!(proxy.faults_left(), 0);
    let (status, _, body) = http(&proxy.host(), "GET", &blob, &[("Range", "bytes=1000-")]);
    assert_eq!(status, 206);
    assert_eq!(body.len() as u64, size - 1000);
    let (status, _, body) = http(&proxy.host(), "GET", &blob, &[]);
    assert_eq!(status, 200);
    assert_eq!(format!("sha256:{}", testkit::sha256(&body)), digest);

    let seen = proxy.requests();
    let statuses: Vec<u16> = seen.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 503, 429, 206, 200]);
    assert_eq!(seen[0].fault, Some(Action::CutAfter(1000)));
    assert_eq!(seen[5].fault, None);
    let bytes: Vec<u64> = seen.iter().map(|r| r.body_bytes).collect();
    assert_eq!(bytes, [1000, 1000, 0, 0, size - 1000, size]);
    assert_eq!(proxy.bytes_served(&blob), 2000 + (size - 1000) + size);
    assert_eq!(
        proxy.bytes_by_path().get(&blob),
        Some(&(1000 + size + size))
    );
}

#[test]
fn proxy_stalls_then_continues_or_cuts() {
    let (reg, (digest, size)) = registry_with_image();
    let proxy = FaultProxy::for_registry(&reg);
    let blob = format!("/v2/sample/app/blobs/{digest}");
    let pause = Duration::from_secs(3);
    proxy.inject(Fault::new(
        "GET",
        &digest,
        Action::Stall {
            after: 5000,
            pause,
            cut: false,
        },
    ));
    proxy.inject(Fault::new(
        "GET",
        &digest,
        Action::Stall {
            after: 7000,
            pause,
            cut: true,
        },
    ));

    // Read the head and the first 5000 bytes; the proxy has sent no more
    // (it is paused), then the rest arrives.
    let mut conn = TcpStream::connect(proxy.host()).expect("connect");
    write!(
        conn,
        "GET {blob} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let body_start = loop {
        let n = conn.read(&mut buf).expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n")
            && got.len() >= at + 4 + 5000
        {
            break at + 4;
        }
    };
    assert_eq!(
        got.len() - body_start,
        5000,
        "nothing past the stall point yet"
    );
    assert_eq!(proxy.bytes_served(&blob), 5000);
    conn.read_to_end(&mut got).expect("read the rest");
    let body = &got[body_start..];
    assert_eq!(body.len() as u64, size);
    assert_eq!(format!("sha256:{}", testkit::sha256(body)), digest);

    let (status, _, body) = http(&proxy.host(), "GET", &blob, &[]);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 7000, "cut after the stall");
    assert_eq!(proxy.bytes_served(&blob), size + 7000);
    assert_eq!(proxy.faults_left(), 0);
}

#[test]
fn dropping_a_proxy_closes_its_port() {
    let reg = Registry::plain();
    let proxy = FaultProxy::for_registry(&reg);
    let host = proxy.host();
    let (status, _, _) = http(&host, "GET", "/v2/", &[]);
    assert_eq!(status, 200);
    drop(proxy);
    assert!(TcpStream::connect(&host).is_err());
}

#[test]
fn proxy_passes_credentials_through_to_a_plain_basic_auth_registry() {
    let (_dir, image) = sample();
    let reg = Registry::start(Options {
        basic_auth: true,
        ..Options::default()
    });
    let proxy = FaultProxy::for_registry(&reg);
    let target = proxy.target();
    assert!(
        !target
            .anonymous()
            .try_push(&image.path, "sample/app:1")
            .status
            .success()
    );
    target.push(&image.path, "sample/app:1");
    target.inspect_raw("sample/app:1");
    let statuses: Vec<u16> = proxy.requests().iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&401) && statuses.contains(&201),
        "{statuses:?}"
    );
    // Everything the registry answered went through the proxy.
    let logged = reg.requests().len();
    assert_eq!(logged, proxy.requests().len());
}

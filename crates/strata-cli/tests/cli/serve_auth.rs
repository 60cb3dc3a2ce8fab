//! `strata serve --tls-cert --tls-key --htpasswd`: HTTPS with a throwaway
//! CA's certificate, and only the htpasswd file's user let in — by Basic
//! credentials or by the bearer tokens the server issues at `/token`.
//! curl sees the protocol; skopeo, podman and `strata pull` log in, push
//! and pull, and are refused without credentials.

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::peers::{Podman, sample_image, skopeo};
use testkit::registry::{PASSWORD, Target, USER, make_htpasswd, make_tls};

use crate::push::with_auth_file;
use crate::serve_support::Served;
use crate::store_support::CliStore;

/// A store with the sample image, served over TLS to the htpasswd user;
/// and the `certs.d/HOST` directory holding the CA, for clients.
struct Secured {
    store: CliStore,
    served: Served,
    cert_dir: PathBuf,
    ca: PathBuf,
    image: testkit::peers::SampleImage,
}

fn secured() -> Secured {
    let store = CliStore::new();
    let image = sample_image(&store.dir.path().join("sample.tar"), &["--layers", "2"]);
    store.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let pki = store.dir.path().join("pki");
    let certs = make_tls(&pki);
    let htpasswd = store.dir.path().join("htpasswd");
    make_htpasswd(&htpasswd);
    let served = Served::start_with(
        &store,
        &[
            "--tls-cert",
            certs.server_cert.to_str().expect("utf-8"),
            "--tls-key",
            certs.server_key.to_str().expect("utf-8"),
            "--htpasswd",
            htpasswd.to_str().expect("utf-8"),
        ],
    );
    let cert_dir = store.dir.path().join("certs.d").join(&served.addr);
    std::fs::create_dir_all(&cert_dir).expect("certs.d");
    std::fs::copy(&certs.ca_cert, cert_dir.join("ca.crt")).expect("ca.crt");
    Secured {
        store,
        served,
        cert_dir,
        ca: certs.ca_cert,
        image,
    }
}

/// curl's status line and headers (`-i`) and body for `url`.
fn curl(ca: &Path, url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-i", "--cacert"])
        .arg(ca)
        .args(extra)
        .arg(url)
        .output()
        .expect("run curl (Debian package curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn only_the_htpasswd_user_gets_in_by_basic_or_by_token() {
    let s = secured();
    let base = format!("https://{}", s.served.addr);
    let user = format!("{USER}:{PASSWORD}");

    let (status, text) = curl(&s.ca, &format!("{base}/v2/"), &[]);
    assert_eq!(status, 401, "{text}");
    let challenge =
        format!("www-authenticate: Bearer realm=\"{base}/token\",service=\"strata-serve\"");
    assert!(
        text.to_lowercase().contains(&challenge.to_lowercase()),
        "{text}"
    );
    assert!(text.contains("\"UNAUTHORIZED\""), "{text}");
    let (status, text) = curl(&s.ca, &format!("{base}/v2/sample/tags/list"), &[]);
    assert_eq!(status, 401, "{text}");
    assert!(
        text.contains("scope=\"repository:sample:pull,push\""),
        "{text}"
    );

    assert_eq!(curl(&s.ca, &format!("{base}/v2/"), &["-u", &user]).0, 200);
    let wrong = format!("{USER}:not-the-password");
    assert_eq!(curl(&s.ca, &format!("{base}/v2/"), &["-u", &wrong]).0, 401);
    assert_eq!(
        curl(&s.ca, &format!("{base}/v2/"), &["-u", "nobody:x"]).0,
        401
    );

    // The token endpoint: Basic in, a token out, the token lets in.
    let (status, text) = curl(&s.ca, &format!("{base}/token?service=strata-serve"), &[]);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("Basic realm="), "{text}");
    // No OAuth2 POST: 405, after which clients use GET.
    let (status, text) = curl(
        &s.ca,
        &format!("{base}/token"),
        &["-d", "grant_type=password&username=x&password=y"],
    );
    assert_eq!(status, 405, "{text}");
    let (status, text) = curl(
        &s.ca,
        &format!("{base}/token?service=strata-serve&scope=repository:sample:pull"),
        &["-u", &user],
    );
    assert_eq!(status, 200, "{text}");
    let body = &text[text.find("\r\n\r\n").expect("body") + 4..];
    let token: serde_json::Value = serde_json::from_str(body).expect("token json");
    let bearer = format!(
        "Authorization: Bearer {}",
        token["token"].as_str().expect("token")
    );
    assert_eq!(token["access_token"], token["token"]);
    assert_eq!(token["expires_in"], 300);
    let (status, text) = curl(
        &s.ca,
        &format!("{base}/v2/sample/tags/list"),
        &["-H", &bearer],
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"tags\":[\"1\"]"), "{text}");
    let forged = format!("Authorization: Bearer {}", "0".repeat(64));
    assert_eq!(
        curl(
            &s.ca,
            &format!("{base}/v2/sample/tags/list"),
            &["-H", &forged]
        )
        .0,
        401
    );

    // Plain HTTP to the TLS port gets no answer, and the server says why.
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{}/v2/", s.served.addr))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "000");
    let log = s
        .served
        .log_when(|log| log.contains("TLS handshake failed"));
    assert!(log.contains("TLS handshake failed"), "{log}");
}

#[test]
fn clients_log_in_push_and_pull_and_are_refused_without_credentials() {
    let s = secured();
    let host = s.served.addr.clone();
    let with_creds = Target::new(
        host.clone(),
        Some(s.cert_dir.clone()),
        Some((USER.to_string(), PASSWORD.to_string())),
    );
    let without = with_creds.anonymous();

    // skopeo: refused without credentials, lands with them.
    let refused = without.try_push(&s.image.path, "pushed/app:1");
    assert!(!refused.status.success(), "pushed without credentials");
    let said = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(
        said.contains("unauthorized") || said.contains("401"),
        "{said}"
    );
    with_creds.push(&s.image.path, "pushed/app:1");
    let listed = s
        .store
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains("localhost/pushed/app:1"), "{listed}");
    let mut args: Vec<std::ffi::OsString> = vec!["inspect".into(), "--raw".into()];
    args.extend(without.inspect_flags());
    args.push(without.docker_ref("sample:1").into());
    assert!(
        !skopeo(args).status.success(),
        "inspected without credentials"
    );

    // podman: login, then pull.
    let podman = with_auth_file(Podman::new());
    let cert_flag = format!("--cert-dir={}", s.cert_dir.display());
    podman.run_ok(["login", &cert_flag, "-u", USER, "-p", PASSWORD, &host]);
    let reference = format!("{host}/sample:1");
    podman.run_ok(["pull", "-q", &cert_flag, &reference]);
    let id = podman.run_ok(["image", "inspect", "--format", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), s.image.image_id);

    // strata pull: with --creds and the CA.
    let other = CliStore::new();
    let cert_dir = s.cert_dir.to_str().expect("utf-8");
    let refused = other.output(&["pull", "-q", "--cert-dir", cert_dir, &reference]);
    assert!(!refused.status.success(), "pulled without credentials");
    let creds = format!("{USER}:{PASSWORD}");
    let pulled = other.ok(&[
        "pull",
        "-q",
        "--cert-dir",
        cert_dir,
        "--creds",
        &creds,
        &reference,
    ]);
    assert_eq!(pulled.trim(), s.image.image_id);
}

#[test]
fn unusable_tls_and_htpasswd_files_are_refused_at_start() {
    let s = CliStore::new();
    let dir = s.dir.path();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let out = s.output(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        garbage.to_str().expect("utf-8"),
        "--tls-key",
        garbage.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("garbage.pem"), "{said}");

    let sha1 = dir.join("sha1.htpasswd");
    std::fs::write(&sha1, "user:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n").expect("write");
    let out = s.output(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--htpasswd",
        sha1.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("htpasswd -B"), "{said}");
    assert_eq!(said.lines().count(), 1, "one line: {said}");

    let out = s.output(&["serve", "--tls-cert", "x.pem"]);
    assert!(!out.status.success(), "--tls-cert needs --tls-key");
}

#[test]
fn docker_logs_in_and_pulls_over_plain_http() {
    let store = CliStore::new();
    let image = sample_image(&store.dir.path().join("sample.tar"), &["--layers", "2"]);
    store.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let htpasswd = store.dir.path().join("htpasswd");
    make_htpasswd(&htpasswd);
    let served = Served::start_with(&store, &["--htpasswd", htpasswd.to_str().expect("utf-8")]);
    // A private dockerd; registries on 127.0.0.1 are insecure to docker by
    // default, so plain HTTP is fine.
    let docker = testkit::peers::Dockerd::start();
    let reference = format!("{}/sample:1", served.addr);
    let refused = docker.docker(["pull", "-q", &reference]);
    assert!(!refused.status.success(), "pulled without logging in");
    docker.docker_ok(["login", "-u", USER, "-p", PASSWORD, &served.addr]);
    docker.docker_ok(["pull", "-q", &reference]);
    let id = docker.docker_ok(["image", "inspect", "--format", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), format!("sha256:{}", image.image_id));
    let pushed = format!("{}/docker/app:1", served.addr);
    docker.docker_ok(["tag", &reference, &pushed]);
    docker.docker_ok(["push", &pushed]);
    let listed = store.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains("localhost/docker/app:1"), "{listed}");
}

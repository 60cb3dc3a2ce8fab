//! Pulls from the reference registry (Debian's `docker-registry`) on
//! 127.0.0.1: the image skopeo pushed comes back with the same ids and
//! manifest digest; broken, throttled and failing transfers finish with
//! each byte fetched about once; TLS with a cert dir, Basic and token
//! authentication; a stalled transfer fails cleanly.

use std::time::Duration;

use strata::registry::Login;
use strata::{PullOptions, RegistryOptions};
use testkit::fault_proxy::{Action, Fault, FaultProxy};
use testkit::peers::{SampleImage, sample_image};
use testkit::registry::{PASSWORD, Registry, USER};

use crate::common::TestStore;

fn sample(t: &TestStore, mib: &str) -> SampleImage {
    sample_image(
        &t.dir.path().join("sample.tar"),
        &["--layers", "3", "--size-mib", mib],
    )
}

fn options(registry: RegistryOptions) -> PullOptions<'static> {
    PullOptions {
        registry,
        ..PullOptions::default()
    }
}

fn quick() -> RegistryOptions {
    RegistryOptions {
        stall_timeout: Duration::from_secs(20),
        ..RegistryOptions::default()
    }
}

fn manifest_digest(raw: &[u8]) -> String {
    format!("sha256:{}", testkit::sha256(raw))
}

fn assert_no_image_and_clean(t: &TestStore) {
    assert!(t.store.images().expect("images").is_empty());
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{report:?}");
}

#[test]
fn a_pull_gives_what_skopeo_pushed() {
    let t = TestStore::new();
    let image = sample(&t, "4");
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let raw = registry.target().inspect_raw("sample/app:1");
    let reference = format!("{}/sample/app:1", registry.host());

    let pulled = t.store.pull(&reference, &options(quick())).expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
    assert_eq!(pulled.manifest_digest.to_string(), manifest_digest(&raw));
    assert_eq!((pulled.fetched, pulled.reused), (3, 0));
    assert_eq!(pulled.image.names, vec![reference.clone()]);
    let diff_ids: Vec<String> = t
        .store
        .image_config(&pulled.image)
        .expect("config")
        .rootfs()
        .diff_ids()
        .clone();
    assert_eq!(diff_ids, image.diff_ids);
    // The manifest is kept as the registry sent it.
    let kept = t
        .store
        .image_manifest_bytes(&pulled.image)
        .expect("manifest");
    assert_eq!(kept.as_deref(), Some(&raw[..]));
    assert_eq!(t.store.downloads().expect("downloads").count, 0);
    assert!(t.store.fsck(false).expect("fsck").clean);

    // Again: nothing to fetch.
    let again = t
        .store
        .pull(&reference, &options(quick()))
        .expect("pull again");
    assert_eq!((again.fetched, again.reused), (0, 3));
    // By digest: the same image, no new name.
    let by_digest = format!("{}/sample/app@{}", registry.host(), manifest_digest(&raw));
    let pinned = t
        .store
        .pull(&by_digest, &options(quick()))
        .expect("pull by digest");
    assert_eq!(pinned.image.id, image.image_id);
}

#[test]
fn broken_and_refused_transfers_finish_fetching_each_byte_about_once() {
    let t = TestStore::new();
    let image = sample(&t, "8");
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let manifest: serde_json::Value =
        serde_json::from_slice(&registry.target().inspect_raw("sample/app:1")).expect("json");
    let biggest = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .max_by_key(|l| l["size"].as_u64())
        .and_then(|l| l["digest"].as_str())
        .expect("a layer")
        .to_string();
    let proxy = FaultProxy::for_registry(&registry);
    proxy.inject(Fault::new("GET", "/manifests/", Action::Unavailable));
    proxy.inject(Fault::new(
        "GET",
        "/blobs/",
        Action::TooManyRequests {
            retry_after_secs: 1,
        },
    ));
    proxy.inject(Fault::new("GET", &biggest, Action::CutAfter(1_000_000)).times(3));
    let reference = format!("{}/sample/app:1", proxy.host());
    let registry_options = RegistryOptions {
        max_parallel: 1,
        ..quick()
    };
    let pulled = t
        .store
        .pull(&reference, &options(registry_options))
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
    assert_eq!(proxy.faults_left(), 0, "every fault fired");
    let mut blob_bytes = 0;
    for layer in manifest["layers"].as_array().expect("layers") {
        blob_bytes += layer["size"].as_u64().expect("size");
    }
    blob_bytes += manifest["config"]["size"].as_u64().expect("size");
    let served = proxy.bytes_served("/blobs/");
    assert!(
        served <= blob_bytes + 64 * 1024,
        "served {served} bytes for {blob_bytes} bytes of blobs"
    );
    let resumed = proxy
        .requests()
        .into_iter()
        .filter(|r| r.range.is_some())
        .count();
    assert!(resumed >= 3, "{:?}", proxy.requests());
    assert!(t.store.fsck(false).expect("fsck").clean);
}

#[test]
fn tls_with_a_cert_dir_and_basic_credentials() {
    let t = TestStore::new();
    let image = sample(&t, "1");
    let registry = Registry::tls_basic();
    registry.target().push(&image.path, "sample/app:1");
    let reference = format!("{}/sample/app:1", registry.host());
    let secure = |login: Option<Login>| RegistryOptions {
        cert_dir: registry.cert_dir(),
        login,
        auth_file: Some(t.dir.path().join("no-auth.json")),
        attempts: 1,
        ..quick()
    };
    let login = |password: &str| Login {
        username: USER.into(),
        password: password.into(),
        identity_token: None,
    };

    // Without the CA the certificate is refused (no fallback to HTTP for a
    // certificate failure).
    let untrusted = RegistryOptions {
        login: Some(login(PASSWORD)),
        ..quick()
    };
    let error = t
        .store
        .pull(&reference, &options(untrusted))
        .expect_err("untrusted");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    let error = t
        .store
        .pull(&reference, &options(secure(None)))
        .expect_err("anonymous");
    assert!(error.to_string().contains("authentication"), "{error}");
    let error = t
        .store
        .pull(&reference, &options(secure(Some(login("wrong")))))
        .expect_err("wrong password");
    assert!(error.to_string().contains("authentication"), "{error}");
    assert_no_image_and_clean(&t);

    let pulled = t
        .store
        .pull(&reference, &options(secure(Some(login(PASSWORD)))))
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
}

#[test]
fn credentials_come_from_the_auth_file() {
    let t = TestStore::new();
    let image = sample(&t, "1");
    let registry = Registry::tls_basic();
    registry.target().push(&image.path, "sample/app:1");
    let auth_file = t.dir.path().join("auth.json");
    let auth = base64_user_password(USER, PASSWORD);
    let body = format!(
        r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
        registry.host()
    );
    std::fs::write(&auth_file, body).expect("auth file");
    let registry_options = RegistryOptions {
        cert_dir: registry.cert_dir(),
        auth_file: Some(auth_file),
        ..quick()
    };
    let reference = format!("{}/sample/app:1", registry.host());
    let pulled = t
        .store
        .pull(&reference, &options(registry_options))
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
}

fn base64_user_password(user: &str, password: &str) -> String {
    let out = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{user}:{password}").as_bytes())?;
            child.wait_with_output()
        })
        .expect("base64");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn token_auth_pulls_anonymously_and_reuses_its_token() {
    let t = TestStore::new();
    let image = sample(&t, "1");
    let registry = Registry::token();
    registry.target().push(&image.path, "sample/app:1");
    let server = registry.token_server().expect("token server");
    let before = server.requests().len();
    let reference = format!("{}/sample/app:1", registry.host());
    let registry_options = RegistryOptions {
        auth_file: Some(t.dir.path().join("no-auth.json")),
        ..quick()
    };
    let pulled = t
        .store
        .pull(&reference, &options(registry_options))
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
    let asked: Vec<_> = server.requests().into_iter().skip(before).collect();
    assert_eq!(asked.len(), 1, "one token for the whole pull: {asked:?}");
    assert_eq!(asked[0].auth, "none");
}

#[test]
fn a_stalled_transfer_fails_and_leaves_no_image() {
    let t = TestStore::new();
    let image = sample(&t, "2");
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let proxy = FaultProxy::for_registry(&registry);
    proxy.inject(
        Fault::new(
            "GET",
            "/blobs/",
            Action::Stall {
                after: 0,
                pause: Duration::from_secs(8),
                cut: true,
            },
        )
        .times(10),
    );
    let reference = format!("{}/sample/app:1", proxy.host());
    let registry_options = RegistryOptions {
        stall_timeout: Duration::from_secs(1),
        attempts: 2,
        max_parallel: 1,
        ..RegistryOptions::default()
    };
    let error = t
        .store
        .pull(&reference, &options(registry_options))
        .expect_err("stalls");
    assert!(error.to_string().contains("stalled"), "{error}");
    assert_no_image_and_clean(&t);
}

#[test]
fn references_and_platforms_are_checked_before_any_request() {
    let t = TestStore::new();
    for bad in ["", "UPPER/case", "a@sha256:00"] {
        assert!(t.store.pull(bad, &options(quick())).is_err(), "{bad}");
    }
    assert!("linux".parse::<strata::PlatformSpec>().is_err());
}

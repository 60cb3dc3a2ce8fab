//! `strata pull` against the reference registry: a pull killed with
//! SIGKILL mid-blob leaves a consistent store and its partial download,
//! and the next pull, in a new process, fetches only the rest.

use std::time::{Duration, Instant};

use testkit::fault_proxy::{Action, Fault, FaultProxy};
use testkit::peers::sample_image;
use testkit::registry::Registry;

use crate::store_support::CliStore;

#[test]
fn a_killed_pull_resumes_in_a_new_process() {
    let s = CliStore::new();
    let image = sample_image(
        &s.dir.path().join("sample.tar"),
        &["--layers", "2", "--size-mib", "12"],
    );
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let manifest: serde_json::Value =
        serde_json::from_slice(&registry.target().inspect_raw("sample/app:1")).expect("json");
    let big = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .max_by_key(|l| l["size"].as_u64())
        .expect("a layer")
        .clone();
    let digest = big["digest"].as_str().expect("digest").to_string();
    let size = big["size"].as_u64().expect("size");
    let first_part: u64 = 4 << 20;
    assert!(size > first_part * 2, "the layer is {size} bytes");

    let proxy = FaultProxy::for_registry(&registry);
    proxy.inject(Fault::new(
        "GET",
        &digest,
        Action::Stall {
            after: first_part,
            pause: Duration::from_secs(120),
            cut: true,
        },
    ));
    let reference = format!("{}/sample/app:1", proxy.host());
    let mut child = s
        .command(&["pull", "-q", &reference])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn pull");
    let partial = s
        .root()
        .join("downloads")
        .join(digest.trim_start_matches("sha256:"));
    let start = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < first_part {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the pull never got going"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the pull ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");

    s.assert_clean();
    let status: serde_json::Value =
        serde_json::from_str(&s.ok(&["status", "--json"])).expect("status json");
    // The stalled blob, and the other one if its download had begun.
    let count = status["downloads"]["count"].as_u64().expect("count");
    assert!((1..=2).contains(&count), "{status:#}");
    assert!(status["downloads"]["bytes"].as_u64() >= Some(first_part));
    assert_eq!(status["images"], 0);

    proxy.clear_faults();
    proxy.reset_counts();
    s.ok(&["pull", "-q", &reference]);
    let served = proxy.bytes_served(&digest);
    assert_eq!(served, size - first_part, "only the rest is fetched");
    let ranged: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(&digest))
        .collect();
    assert_eq!(ranged.len(), 1, "{ranged:?}");
    assert_eq!(
        ranged[0].range.as_deref(),
        Some(&*format!("bytes={first_part}-"))
    );
    let images: serde_json::Value =
        serde_json::from_str(&s.ok(&["images", "--json"])).expect("images json");
    assert_eq!(images[0]["Id"].as_str(), Some(image.image_id.as_str()));
    let status: serde_json::Value =
        serde_json::from_str(&s.ok(&["status", "--json"])).expect("status json");
    assert_eq!(status["downloads"]["count"], 0, "{status:#}");
    s.assert_clean();
}

#[test]
fn pull_errors_are_one_line() {
    let s = CliStore::new();
    let registry = Registry::plain();
    let missing = format!("{}/nothing/here:1", registry.host());
    let error = s.fails(&["pull", &missing]);
    assert!(error.contains("not found"), "{error}");
    let error = s.fails(&["pull", "--platform", "linux", &missing]);
    assert!(error.contains("platform"), "{error}");
    let error = s.fails(&["pull", "Bad/Name"]);
    assert!(error.contains("invalid image reference"), "{error}");
}

#[test]
fn login_records_what_pull_then_uses_and_logout_forgets_it() {
    use std::io::Write;
    use testkit::registry::{PASSWORD, USER};
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "1"]);
    let registry = Registry::tls_basic();
    registry.target().push(&image.path, "sample/app:1");
    let cert_dir = registry.cert_dir().expect("cert dir");
    let cert_dir = cert_dir.to_str().expect("utf-8");
    let auth_file = s.dir.path().join("auth.json");
    let auth = auth_file.to_str().expect("utf-8");
    let host = registry.host();
    let login = |password: &str| {
        let mut child = s
            .command(&[
                "login",
                &host,
                "-u",
                USER,
                "--password-stdin",
                "--authfile",
                auth,
                "--cert-dir",
                cert_dir,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn login");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("password");
        child.wait_with_output().expect("login")
    };

    let refused = login("wrong");
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(error.trim_end().lines().count(), 1, "{error}");
    assert!(error.contains("authentication"), "{error}");
    assert!(!auth_file.exists(), "a refused login writes nothing");

    let accepted = login(PASSWORD);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&accepted.stdout).trim(),
        "Login Succeeded!"
    );
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&auth_file).expect("auth file")).expect("json");
    assert!(recorded["auths"][&host]["auth"].is_string(), "{recorded:#}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&auth_file)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let reference = format!("{host}/sample/app:1");
    let pulled = s.ok(&[
        "pull",
        "-q",
        "--authfile",
        auth,
        "--cert-dir",
        cert_dir,
        &reference,
    ]);
    assert_eq!(pulled.trim(), image.image_id);

    s.ok(&["logout", &host, "--authfile", auth]);
    let error = s.fails(&["logout", &host, "--authfile", auth]);
    assert!(error.contains("not logged into"), "{error}");
    let error = s.fails(&[
        "pull",
        "-q",
        "--authfile",
        auth,
        "--cert-dir",
        cert_dir,
        &reference,
    ]);
    assert!(error.contains("authentication"), "{error}");
}

#[test]
fn discard_blobs_keeps_the_layers_only() {
    let image = {
        let dir = tempfile::tempdir().expect("temp dir");
        let image = sample_image(&dir.path().join("sample.tar"), &["--layers", "2"]);
        (dir, image)
    };
    let registry = Registry::plain();
    registry.target().push(&image.1.path, "team/app:1");
    let source = format!("{}/team/app:1", registry.host());
    let kept_blobs = |s: &CliStore| {
        let status: serde_json::Value =
            serde_json::from_str(&s.ok(&["status", "--json"])).expect("status json");
        status["kept_blobs"]["count"].clone()
    };

    let keeping = CliStore::new();
    keeping.ok(&["pull", "-q", "--tls-verify=false", &source]);
    assert_eq!(kept_blobs(&keeping), 2, "a pull keeps its layer blobs");

    let discarding = CliStore::new();
    let id = discarding.ok(&[
        "pull",
        "-q",
        "--discard-blobs",
        "--tls-verify=false",
        &source,
    ]);
    assert_eq!(id.trim(), image.1.image_id);
    assert_eq!(kept_blobs(&discarding), 0, "--discard-blobs keeps none");
    assert!(discarding.entries("downloads").is_empty());
    // Only the config and the manifest are in blobs/.
    assert_eq!(discarding.entries("blobs/sha256").len(), 2);
    discarding.assert_clean();
}

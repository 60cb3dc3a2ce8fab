//! `strata push` against the reference registry: `--digestfile` and `-q`;
//! a push killed with SIGKILL mid-upload leaves the store as it was, and
//! pushing again finishes; and the other tools read what strata pushes,
//! as strata reads what they push: podman both ways, and a private
//! dockerd pulling from the registry.

use std::time::{Duration, Instant};

use testkit::fault_proxy::{Action, Fault, FaultProxy};
use testkit::peers::{Dockerd, Podman, sample_image};
use testkit::registry::Registry;

use crate::store_support::CliStore;

#[test]
fn push_writes_the_digest_file_and_skopeo_sees_that_manifest() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "2"]);
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let registry = Registry::plain();
    let destination = format!("{}/cli/app:1", registry.host());
    let digest_file = s.dir.path().join("digest");
    let printed = s.ok(&[
        "push",
        "-q",
        "--digestfile",
        digest_file.to_str().expect("utf-8"),
        &image.name,
        &format!("docker://{destination}"),
    ]);
    assert_eq!(printed, "", "-q prints nothing");
    let raw = registry.target().inspect_raw("cli/app:1");
    assert_eq!(
        std::fs::read_to_string(&digest_file).expect("digest file"),
        format!("sha256:{}", testkit::sha256(&raw))
    );
    let error = s.fails(&["push", "--compression", "lz4", &image.name, &destination]);
    assert!(error.contains("unknown format"), "{error}");
    let error = s.fails(&["push", "nosuchimage", &destination]);
    assert!(error.contains("nosuchimage"), "{error}");
    assert_eq!(error.trim().lines().count(), 1, "{error}");
    s.assert_clean();
}

#[test]
fn a_killed_push_leaves_the_store_as_it_was_and_a_new_push_finishes() {
    let s = CliStore::new();
    let image = sample_image(
        &s.dir.path().join("sample.tar"),
        &["--layers", "3", "--size-mib", "6"],
    );
    s.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let before = s.ok(&["images", "--json"]);
    let registry = Registry::plain();
    let proxy = FaultProxy::for_registry(&registry);
    // Uploads hang once their body is in (the registry has it, strata
    // never hears back), so the kill lands mid-push.
    proxy.inject(
        Fault::new(
            "PATCH",
            "/blobs/uploads/",
            Action::Hold {
                pause: Duration::from_secs(120),
            },
        )
        .times(100),
    );
    let destination = format!("{}/killed/app:1", proxy.host());
    let mut child = s
        .command(&["push", "-q", &image.name, &destination])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn push");
    let start = Instant::now();
    while !proxy.requests().iter().any(|r| r.method == "PATCH") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the push never got going"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the push ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().expect("kill");
    child.wait().expect("wait");

    s.assert_clean();
    assert_eq!(s.ok(&["images", "--json"]), before);
    let missing = registry.target().try_inspect_raw("killed/app:1");
    assert!(!missing.status.success(), "no manifest was pushed");

    proxy.clear_faults();
    s.ok(&["push", "-q", &image.name, &destination]);
    let other = CliStore::new();
    let id = other.ok(&["pull", "-q", &destination]);
    assert_eq!(id.trim(), image.image_id);
    s.assert_clean();
}

#[test]
fn podman_and_docker_read_what_strata_pushes_and_strata_what_podman_pushes() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "3"]);
    let registry = Registry::plain();
    let host = registry.host();

    // podman push → strata pull: the same image.
    let podman = with_auth_file(Podman::new());
    podman.run_ok(["load", "-i", image.path.to_str().expect("utf-8")]);
    let from_podman = format!("{host}/podman/app:1");
    podman.run_ok(["push", "--tls-verify=false", &image.name, &from_podman]);
    let id = s.ok(&["pull", "-q", &from_podman]);
    assert_eq!(id.trim(), image.image_id);
    let inspected: serde_json::Value =
        serde_json::from_str(&s.ok(&["image", "inspect", &from_podman])).expect("inspect json");
    let shown = inspected.to_string();
    for diff_id in &image.diff_ids {
        assert!(shown.contains(diff_id), "{diff_id} in {shown}");
    }

    // strata push → podman pull: the same image id and layers.
    let from_strata = format!("{host}/strata/app:1");
    s.ok(&["push", "-q", &from_podman, &from_strata]);
    let fresh = with_auth_file(Podman::new());
    fresh.run_ok(["pull", "--tls-verify=false", &from_strata]);
    let id = fresh.run_ok(["image", "inspect", "--format", "{{.Id}}", &from_strata]);
    assert_eq!(id.trim(), image.image_id);
    let layers = fresh.run_ok([
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        &from_strata,
    ]);
    let layers: Vec<String> = serde_json::from_str(layers.trim()).expect("layers json");
    assert_eq!(layers, image.diff_ids);

    // strata push → docker pull from a private dockerd (registries on
    // 127.0.0.1 are insecure to docker by default).
    let for_docker = format!("{host}/strata/docker:1");
    s.ok(&["push", "-q", &from_podman, &for_docker]);
    let docker = Dockerd::start();
    docker.docker_ok(["pull", &for_docker]);
    let id = docker.docker_ok(["image", "inspect", "--format", "{{.Id}}", &for_docker]);
    assert_eq!(id.trim(), format!("sha256:{}", image.image_id));
    s.assert_clean();
}

/// The podman given, with the (empty) auth file its environment names:
/// podman's push and pull fail when that file is missing.
pub fn with_auth_file(podman: Podman) -> Podman {
    let config = podman.dir().join("config");
    std::fs::create_dir_all(&config).expect("podman config dir");
    std::fs::write(config.join("auth.json"), "{}").expect("auth file");
    podman
}

#[test]
fn a_pulled_image_pushes_its_kept_blobs_and_keeps_its_manifest_digest() {
    let s = CliStore::new();
    let image = sample_image(&s.dir.path().join("sample.tar"), &["--layers", "3"]);
    let first = Registry::plain();
    first.target().push(&image.path, "team/app:1");
    let upstream = format!("{}/team/app:1", first.host());
    s.ok(&["pull", "-q", "--tls-verify=false", &upstream]);
    let original = first.target().inspect_raw("team/app:1");

    // A registry that has seen none of it: every layer is uploaded, from
    // the kept blobs as they are, so the manifest goes out unchanged.
    let second = Registry::plain();
    let digest_file = s.dir.path().join("digest");
    s.ok(&[
        "push",
        "-q",
        "--digestfile",
        digest_file.to_str().expect("utf-8"),
        &upstream,
        &format!("{}/copy/app:1", second.host()),
    ]);
    let copied = second.target().inspect_raw("copy/app:1");
    assert!(
        copied == original,
        "the same manifest, byte for byte: {}",
        String::from_utf8_lossy(&copied)
    );
    assert_eq!(
        std::fs::read_to_string(&digest_file).expect("digest file"),
        format!("sha256:{}", testkit::sha256(&original))
    );
    s.assert_clean();
}

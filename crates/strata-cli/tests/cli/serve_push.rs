//! Pushes into `strata serve` with real clients: skopeo, podman, docker
//! and `strata push` each push the sample image; it lands as an image of
//! the store (same image id, visible to `strata images` at once), and is
//! served back with the manifest digest the client pushed — the same
//! digest, layout and blobs the reference registry gives for the same
//! push. A server killed with SIGKILL mid-push leaves no image, and the
//! next strata command collects its partial upload and pushed blobs.

use testkit::peers::{Dockerd, Podman, SampleImage, sample_image};
use testkit::registry::{Registry, Target};

use crate::push::with_auth_file;
use crate::serve_support::{Served, files};
use crate::store_support::CliStore;

/// The sample image with `layers` layers, written into `s`'s directory
/// (not loaded).
fn sample(s: &CliStore, layers: &str) -> SampleImage {
    sample_image(&s.dir.path().join("sample.tar"), &["--layers", layers])
}

/// The id of image `name` in `s`.
fn image_id(s: &CliStore, name: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["image", "inspect", name])).expect("inspect json");
    let id = json[0]["Id"].as_str().expect("Id");
    id.trim_start_matches("sha256:").to_string()
}

/// Stops `served` and checks the store is clean, with nothing left in
/// `staging/` (the lease holding pushed blobs went with the server).
fn stop_clean(s: &CliStore, mut served: Served) {
    assert!(served.stop(), "SIGTERM stops it cleanly: {}", served.log());
    let left = s.entries("staging");
    assert!(left.is_empty(), "staging holds {left:?}");
    s.assert_clean();
}

#[test]
fn a_skopeo_push_lands_and_is_served_back_as_the_reference_registry_serves_it() {
    let s = CliStore::new();
    let image = sample(&s, "3");
    let served = Served::start(&s);
    let ours = Target::new(served.addr.clone(), None, None);
    ours.push(&image.path, "pushed/app:1");
    assert_eq!(image_id(&s, "localhost/pushed/app:1"), image.image_id);

    let registry = Registry::plain();
    let reference = registry.target();
    reference.push(&image.path, "pushed/app:1");
    let manifest = ours.inspect_raw("pushed/app:1");
    assert_eq!(
        manifest,
        reference.inspect_raw("pushed/app:1"),
        "the manifest skopeo pushed, byte for byte"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    ours.pull_oci("pushed/app:1", &dir.path().join("ours"));
    reference.pull_oci("pushed/app:1", &dir.path().join("reference"));
    assert_eq!(
        files(&dir.path().join("ours")),
        files(&dir.path().join("reference")),
        "the same layout, blob for blob"
    );

    // strata pulls it back into another store: the same image.
    let other = CliStore::new();
    let pulled = other.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &format!("{}/pushed/app:1", served.addr),
    ]);
    assert_eq!(pulled.trim(), image.image_id);
    stop_clean(&s, served);

    // The image keeps its pushed layer blobs through a collection, and
    // they go with it.
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("manifest json");
    let layer_blobs: Vec<std::path::PathBuf> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            let digest = layer["digest"].as_str().expect("digest");
            s.root()
                .join("blobs/sha256")
                .join(&digest["sha256:".len()..])
        })
        .collect();
    s.ok(&["gc"]);
    assert!(layer_blobs.iter().all(|blob| blob.is_file()), "kept by gc");
    s.ok(&["rmi", "localhost/pushed/app:1"]);
    assert!(
        layer_blobs.iter().all(|blob| !blob.exists()),
        "removed with the image"
    );
    s.assert_clean();
}

#[test]
fn podman_pushes_into_strata_serve_and_pulls_back_the_same_digest() {
    let s = CliStore::new();
    let image = sample(&s, "2");
    let served = Served::start(&s);
    let podman = with_auth_file(Podman::new());
    podman.run_ok(["load", "-i", image.path.to_str().expect("utf-8")]);
    let target = format!("{}/podman/app:1", served.addr);
    let digest_file = s.dir.path().join("digest");
    podman.run_ok([
        "push",
        "--tls-verify=false",
        "--digestfile",
        digest_file.to_str().expect("utf-8"),
        &image.name,
        &target,
    ]);
    let pushed = std::fs::read_to_string(&digest_file).expect("digest file");
    assert_eq!(image_id(&s, "localhost/podman/app:1"), image.image_id);

    let fresh = with_auth_file(Podman::new());
    fresh.run_ok(["pull", "-q", "--tls-verify=false", &target]);
    let id = fresh.run_ok(["image", "inspect", "--format", "{{.Id}}", &target]);
    assert_eq!(id.trim(), image.image_id);
    let digest = fresh.run_ok(["image", "inspect", "--format", "{{.Digest}}", &target]);
    assert_eq!(
        digest.trim(),
        pushed.trim(),
        "served with the pushed digest"
    );
    stop_clean(&s, served);
}

#[test]
fn docker_pushes_into_strata_serve_and_pulls_back_by_digest() {
    let s = CliStore::new();
    let image = sample(&s, "2");
    let served = Served::start(&s);
    // A private dockerd; registries on 127.0.0.1 are insecure to docker by
    // default, so plain HTTP is fine.
    let docker = Dockerd::start();
    docker.docker_ok(["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let target = format!("{}/docker/app:1", served.addr);
    docker.docker_ok(["tag", &image.name, &target]);
    let pushed = docker.docker_ok(["push", &target]);
    let digest = pushed
        .split_whitespace()
        .skip_while(|word| *word != "digest:")
        .nth(1)
        .expect("docker push prints the digest")
        .to_string();
    assert_eq!(image_id(&s, "localhost/docker/app:1"), image.image_id);

    docker.docker_ok(["rmi", &target, &image.name]);
    let by_digest = format!("{}/docker/app@{digest}", served.addr);
    docker.docker_ok(["pull", "-q", &by_digest]);
    let id = docker.docker_ok(["image", "inspect", "--format", "{{.Id}}", &by_digest]);
    assert_eq!(id.trim(), format!("sha256:{}", image.image_id));
    stop_clean(&s, served);
}

#[test]
fn strata_pushes_into_strata_serve() {
    let s = CliStore::new();
    let served = Served::start(&s);
    let source = CliStore::new();
    let image = sample(&source, "3");
    source.ok(&["load", "-q", "-i", image.path.to_str().expect("utf-8")]);
    let target = format!("{}/team/app:2", served.addr);
    source.ok(&["push", "-q", "--tls-verify=false", &image.name, &target]);
    assert_eq!(image_id(&s, "localhost/team/app:2"), image.image_id);
    // Pushed again under another tag: the blobs are there, one manifest
    // more, the same image.
    let again = format!("{}/team/app:3", served.addr);
    source.ok(&["push", "-q", "--tls-verify=false", &image.name, &again]);
    assert_eq!(image_id(&s, "localhost/team/app:3"), image.image_id);
    let listed = s.ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    stop_clean(&s, served);
}

#[test]
fn a_server_killed_mid_push_leaves_no_image_and_the_next_command_collects_its_uploads() {
    let s = CliStore::new();
    let served = Served::start(&s);
    // One blob uploaded whole, a second half-way, no manifest.
    let blob = vec![7u8; 100_000];
    let digest = format!("sha256:{}", testkit::sha256(&blob));
    let whole = served.send(
        "POST",
        &format!("/v2/app/blobs/uploads/?digest={digest}"),
        &[],
        &blob,
    );
    assert_eq!(
        whole.status,
        201,
        "{}",
        String::from_utf8_lossy(&whole.body)
    );
    let started = served.send("POST", "/v2/app/blobs/uploads/", &[], &[]);
    assert_eq!(started.status, 202);
    let location = started.header("location").to_string();
    let half = served.send("PATCH", &location, &[], &blob[..50_000]);
    assert_eq!(half.status, 202);
    assert_eq!(half.header("range"), "0-49999");
    let blobs = s.root().join("blobs/sha256");
    assert!(blobs.join(&digest["sha256:".len()..]).is_file());

    let status = std::process::Command::new("kill")
        .args(["-KILL", &served.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut served = served;
    served.stop();

    // The next command releases the dead server's leases: the partial
    // upload and the pushed blob no image names go.
    assert_eq!(s.ok(&["images", "-q"]), "");
    s.ok(&["gc"]);
    let staging = s.entries("staging");
    assert!(staging.is_empty(), "staging: {staging:?}");
    assert!(
        !blobs.join(&digest["sha256:".len()..]).exists(),
        "the pushed blob no image names is collected"
    );
    s.assert_clean();
}

#[test]
fn servers_killed_at_random_points_of_pushes_leave_whole_images_or_none() {
    let s = CliStore::new();
    let image = sample_image(
        &s.dir.path().join("sample.tar"),
        &["--layers", "3", "--size-mib", "6"],
    );
    // Calibrate: how long one whole push takes here.
    let started = std::time::Instant::now();
    {
        let served = Served::start(&s);
        Target::new(served.addr.clone(), None, None).push(&image.path, "calibrate/app:1");
        stop_clean(&s, served);
    }
    let whole = started.elapsed().as_millis() as u64;
    s.ok(&["rmi", "localhost/calibrate/app:1"]);
    let mut random = crate::store_support::Random::new();
    let trials = crate::store_support::kill_trials().min(12);
    let mut landed = 0;
    for trial in 0..trials {
        let served = Served::start(&s);
        let target = Target::new(served.addr.clone(), None, None);
        let name = format!("trial{trial}/app:1");
        let pushing = {
            let archive = image.path.clone();
            let name = name.clone();
            std::thread::spawn(move || target.try_push(&archive, &name))
        };
        std::thread::sleep(std::time::Duration::from_millis(random.below(whole + 1)));
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &served.pid().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let mut served = served;
        served.stop();
        let _ = pushing.join();

        // Whole image or nothing, and nothing else left once a command
        // has collected the dead server's leases.
        s.ok(&["gc"]);
        let full = format!("localhost/{name}");
        let exists = s.output(&["image", "exists", &full]).status.success();
        if exists {
            landed += 1;
            assert_eq!(image_id(&s, &full), image.image_id, "trial {trial}");
        }
        let staging = s.entries("staging");
        assert!(staging.is_empty(), "trial {trial}: staging {staging:?}");
        s.assert_clean();
    }
    eprintln!("{landed} of {trials} pushes landed before the kill");
    // Nothing but whole images' layers: one image's worth at most.
    let layers = s.ok(&["layers", "-q"]);
    assert!(layers.lines().count() <= 3, "{layers}");
}

#[test]
fn concurrent_pushes_of_one_image_land_once() {
    let s = CliStore::new();
    let image = sample(&s, "3");
    let served = Served::start(&s);
    let pushes: Vec<_> = (0..6)
        .map(|i| {
            let target = Target::new(served.addr.clone(), None, None);
            let archive = image.path.clone();
            std::thread::spawn(move || target.try_push(&archive, &format!("many/app{i}:1")))
        })
        .collect();
    for (i, push) in pushes.into_iter().enumerate() {
        let out = push.join().expect("push thread");
        assert!(
            out.status.success(),
            "push {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for i in 0..6 {
        assert_eq!(
            image_id(&s, &format!("localhost/many/app{i}:1")),
            image.image_id
        );
    }
    assert_eq!(s.ok(&["images", "-q"]).lines().count(), 1, "one image");
    assert_eq!(
        s.ok(&["layers", "-q"]).lines().count(),
        3,
        "its layers once"
    );
    stop_clean(&s, served);
}

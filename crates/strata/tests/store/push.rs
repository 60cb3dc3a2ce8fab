//! Pushes to the reference registry (Debian's `docker-registry`) on
//! 127.0.0.1, read back by skopeo and by a fresh store: a loaded image
//! goes out compressed (gzip or zstd) with its ids intact; a pulled image
//! pushed back to the same registry is mounted, not uploaded, and keeps
//! its manifest digest; a push again sends nothing; failed uploads are
//! retried; refusals leave the store as it was.

use std::path::Path;
use std::time::Duration;

use strata::compression::Compression;
use strata::registry::Login;
use strata::{PullOptions, PushOptions, RegistryOptions};
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

fn quick() -> RegistryOptions {
    RegistryOptions {
        stall_timeout: Duration::from_secs(20),
        ..RegistryOptions::default()
    }
}

fn push_options(compression: Compression) -> PushOptions<'static> {
    PushOptions {
        registry: quick(),
        compression,
        progress: None,
    }
}

fn pull_options() -> PullOptions<'static> {
    PullOptions {
        registry: quick(),
        ..PullOptions::default()
    }
}

/// The manifest skopeo fetches for `reference`, parsed.
fn manifest_of(registry: &Registry, reference: &str) -> (Vec<u8>, serde_json::Value) {
    let raw = registry.target().inspect_raw(reference);
    let parsed = serde_json::from_slice(&raw).expect("manifest json");
    (raw, parsed)
}

fn layer_types(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["mediaType"].as_str().expect("type").to_string())
        .collect()
}

/// Reads `reference` back with skopeo into an OCI layout and checks each
/// layer blob decompresses to the diff id the image has.
fn assert_skopeo_reads_back(registry: &Registry, reference: &str, image: &SampleImage, dir: &Path) {
    registry.target().pull_oci(reference, dir);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index"))
            .expect("index json");
    let manifest_digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let blob = |digest: &str| {
        std::fs::read(
            dir.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("blob")
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(manifest_digest)).expect("manifest json");
    assert_eq!(manifest["config"]["digest"], image.config);
    let diff_ids: Vec<String> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            let compressed = blob(layer["digest"].as_str().expect("digest"));
            let mut tar = Vec::new();
            let (_, mut reader) =
                strata::compression::decompress(&compressed[..]).expect("decompress");
            std::io::copy(&mut reader, &mut tar).expect("decompress");
            format!("sha256:{}", testkit::sha256(&tar))
        })
        .collect();
    assert_eq!(diff_ids, image.diff_ids);
}

#[test]
fn a_loaded_image_pushes_and_comes_back_the_same() {
    let t = TestStore::new();
    let image = sample(&t, "4");
    t.store.load_path(&image.path).expect("load");
    let registry = Registry::plain();
    let destination = format!("{}/pushed/app:1", registry.host());

    let pushed = t
        .store
        .push(
            &image.name,
            Some(&destination),
            &push_options(Compression::Gzip),
        )
        .expect("push");
    assert_eq!(pushed.image, image.image_id);
    assert_eq!(
        (pushed.uploaded, pushed.existing, pushed.mounted),
        (3, 0, 0)
    );
    let (raw, manifest) = manifest_of(&registry, "pushed/app:1");
    assert_eq!(
        pushed.manifest_digest.to_string(),
        format!("sha256:{}", testkit::sha256(&raw))
    );
    assert_eq!(
        layer_types(&manifest),
        vec!["application/vnd.oci.image.layer.v1.tar+gzip"; 3]
    );
    assert_skopeo_reads_back(&registry, "pushed/app:1", &image, &t.dir.path().join("oci"));

    // A fresh store pulls the same image.
    let other = TestStore::new();
    let pulled = other
        .store
        .pull(&destination, &pull_options())
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
    assert_eq!(pulled.manifest_digest, pushed.manifest_digest);

    // Pushing again sends no layer and gives the same manifest.
    let again = t
        .store
        .push(
            &image.name,
            Some(&destination),
            &push_options(Compression::Gzip),
        )
        .expect("push again");
    assert_eq!((again.uploaded, again.existing, again.mounted), (0, 3, 0));
    assert_eq!(again.manifest_digest, pushed.manifest_digest);
    assert!(t.store.fsck(false).expect("fsck").clean);
}

#[test]
fn zstd_layers_are_named_as_zstd_and_read_back() {
    let t = TestStore::new();
    let image = sample(&t, "2");
    t.store.load_path(&image.path).expect("load");
    let registry = Registry::plain();
    let destination = format!("{}/zstd/app:1", registry.host());
    t.store
        .push(
            &image.name,
            Some(&destination),
            &push_options(Compression::Zstd),
        )
        .expect("push");
    let (_, manifest) = manifest_of(&registry, "zstd/app:1");
    assert_eq!(
        layer_types(&manifest),
        vec!["application/vnd.oci.image.layer.v1.tar+zstd"; 3]
    );
    assert_skopeo_reads_back(&registry, "zstd/app:1", &image, &t.dir.path().join("oci"));
    let other = TestStore::new();
    let pulled = other
        .store
        .pull(&destination, &pull_options())
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);

    let refused = t
        .store
        .push(
            &image.name,
            Some(&destination),
            &push_options(Compression::Xz),
        )
        .expect_err("xz is not pushed");
    assert!(
        refused.to_string().contains("use gzip or zstd"),
        "{refused}"
    );
}

#[test]
fn a_pulled_image_pushed_to_its_registry_is_mounted_and_keeps_its_digest() {
    let t = TestStore::new();
    let image = sample(&t, "2");
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let (raw, _) = manifest_of(&registry, "sample/app:1");
    let source = format!("{}/sample/app:1", registry.host());
    t.store.pull(&source, &pull_options()).expect("pull");

    let before = registry.requests().len();
    let destination = format!("{}/elsewhere/app:2", registry.host());
    let pushed = t
        .store
        .push(
            &source,
            Some(&destination),
            &push_options(Compression::Gzip),
        )
        .expect("push");
    assert_eq!(
        (pushed.uploaded, pushed.existing, pushed.mounted),
        (0, 0, 3)
    );
    assert!(pushed.manifest_kept);
    assert_eq!(
        pushed.manifest_digest.to_string(),
        format!("sha256:{}", testkit::sha256(&raw))
    );
    let uploads: Vec<_> = registry
        .requests()
        .into_iter()
        .skip(before)
        .filter(|r| r.method == "PATCH" || (r.method == "PUT" && r.path.contains("/blobs/")))
        .collect();
    // Only the config is uploaded (its repository lacks it; configs are
    // not mounted), never a layer.
    assert!(uploads.len() <= 1, "{uploads:?}");

    // Without a destination it goes back where it came from, unchanged.
    let back = t
        .store
        .push(&source, None, &push_options(Compression::Gzip))
        .expect("push back");
    assert_eq!((back.uploaded, back.existing, back.mounted), (0, 3, 0));
    assert_eq!(back.manifest_digest, pushed.manifest_digest);

    // Another registry has none of the blobs: the store kept them as the
    // registry sent them, so they are uploaded as they are, and the
    // manifest goes out unchanged.
    let second = Registry::plain();
    let far = format!("{}/far/app:1", second.host());
    let moved = t
        .store
        .push(&source, Some(&far), &push_options(Compression::Gzip))
        .expect("push to another registry");
    assert_eq!(moved.uploaded, 3);
    assert!(moved.manifest_kept);
    assert_eq!(
        moved.manifest_digest.to_string(),
        format!("sha256:{}", testkit::sha256(&raw))
    );
    let (_, manifest) = manifest_of(&second, "far/app:1");
    assert_eq!(
        manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
        "the Docker manifest skopeo pushed"
    );
    assert_eq!(
        layer_types(&manifest),
        vec!["application/vnd.docker.image.rootfs.diff.tar.gzip"; 3]
    );
    let other = TestStore::new();
    let pulled = other.store.pull(&far, &pull_options()).expect("pull");
    assert_eq!(pulled.image.id, image.image_id);

    // A third registry gets the same blobs and manifest.
    let third = Registry::plain();
    let again = t
        .store
        .push(
            &source,
            Some(&format!("{}/far/app:1", third.host())),
            &push_options(Compression::Gzip),
        )
        .expect("push to a third registry");
    assert_eq!(again.uploaded, 3);
    assert_eq!(again.manifest_digest, moved.manifest_digest);
}

#[test]
fn a_kept_blob_damaged_in_place_is_refused_by_the_registry() {
    let t = TestStore::new();
    let image = sample(&t, "1");
    let registry = Registry::plain();
    registry.target().push(&image.path, "sample/app:1");
    let (_, manifest) = manifest_of(&registry, "sample/app:1");
    let source = format!("{}/sample/app:1", registry.host());
    t.store.pull(&source, &pull_options()).expect("pull");
    // The same length, one byte changed: a kept blob is uploaded under
    // its digest without hashing it again, and the registry checks it.
    let digest = manifest["layers"][0]["digest"].as_str().expect("digest");
    let blob = t
        .dir
        .path()
        .join("root/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&blob).expect("the kept blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&blob, &bytes).expect("damage it");

    let second = Registry::plain();
    let error = t
        .store
        .push(
            &source,
            Some(&format!("{}/far/app:1", second.host())),
            &push_options(Compression::Gzip),
        )
        .expect_err("the registry refuses the blob");
    let said = error.to_string();
    assert!(said.contains("400 DIGEST_INVALID"), "{said}");
    assert!(
        !second
            .target()
            .try_inspect_raw("far/app:1")
            .status
            .success(),
        "no manifest was pushed"
    );
}

#[test]
fn failed_uploads_are_retried() {
    let t = TestStore::new();
    let image = sample(&t, "2");
    t.store.load_path(&image.path).expect("load");
    let registry = Registry::plain();
    let proxy = FaultProxy::for_registry(&registry);
    proxy.inject(Fault::new("PATCH", "/blobs/uploads/", Action::Unavailable).times(2));
    proxy.inject(Fault::new("PUT", "/manifests/", Action::Unavailable).times(1));
    let destination = format!("{}/retried/app:1", proxy.host());
    let pushed = t
        .store
        .push(
            &image.name,
            Some(&destination),
            &push_options(Compression::Gzip),
        )
        .expect("push through faults");
    assert_eq!(pushed.uploaded, 3);
    assert_skopeo_reads_back(
        &registry,
        "retried/app:1",
        &image,
        &t.dir.path().join("oci"),
    );
}

#[test]
fn credentials_are_needed_and_used() {
    let t = TestStore::new();
    let image = sample(&t, "1");
    t.store.load_path(&image.path).expect("load");
    let registry = Registry::tls_basic();
    let destination = format!("{}/private/app:1", registry.host());
    let with = |login: Option<Login>| PushOptions {
        registry: RegistryOptions {
            cert_dir: registry.cert_dir(),
            auth_file: Some(t.dir.path().join("no-auth.json")),
            login,
            ..quick()
        },
        ..push_options(Compression::Gzip)
    };
    let refused = t
        .store
        .push(&image.name, Some(&destination), &with(None))
        .expect_err("no credentials");
    assert!(
        refused
            .to_string()
            .contains("the registry wants credentials"),
        "{refused}"
    );
    assert!(t.store.fsck(false).expect("fsck").clean);
    assert_eq!(t.store.images().expect("images").len(), 1);

    let login = Login {
        username: USER.to_string(),
        password: PASSWORD.to_string(),
        identity_token: None,
    };
    t.store
        .push(&image.name, Some(&destination), &with(Some(login)))
        .expect("push with credentials");
    let pulled = TestStore::new()
        .store
        .pull(
            &destination,
            &PullOptions {
                registry: RegistryOptions {
                    cert_dir: registry.cert_dir(),
                    login: Some(Login {
                        username: USER.to_string(),
                        password: PASSWORD.to_string(),
                        identity_token: None,
                    }),
                    ..quick()
                },
                ..PullOptions::default()
            },
        )
        .expect("pull");
    assert_eq!(pulled.image.id, image.image_id);
}

#[test]
fn destinations_are_checked() {
    let t = TestStore::new();
    let image = sample(&t, "1");
    t.store.load_path(&image.path).expect("load");
    let registry = Registry::plain();
    // By id, the image's own name is the destination; it has no registry
    // here (localhost/...), so name one.
    let wrong_digest = format!("{}/pinned/app@sha256:{}", registry.host(), "0".repeat(64));
    let refused = t
        .store
        .push(
            &image.image_id,
            Some(&wrong_digest),
            &push_options(Compression::Gzip),
        )
        .expect_err("the manifest cannot have that digest");
    assert!(
        refused.to_string().contains("the manifest to push is"),
        "{refused}"
    );
    let missing = t
        .store
        .push(
            "nosuchimage",
            Some(&wrong_digest),
            &push_options(Compression::Gzip),
        )
        .expect_err("no such image");
    assert!(missing.to_string().contains("nosuchimage"), "{missing}");
}

#[test]
fn token_auth_with_a_password_posts_then_falls_back_to_get() {
    use testkit::registry::{Options, TokenOptions};
    let t = TestStore::new();
    let image = sample(&t, "1");
    t.store.load_path(&image.path).expect("load");
    let login = Login {
        username: USER.to_string(),
        password: PASSWORD.to_string(),
        identity_token: None,
    };
    for oauth_post in [true, false] {
        let registry = Registry::start(Options {
            token: Some(TokenOptions {
                anonymous_pull: false,
                oauth_post,
                ..TokenOptions::default()
            }),
            ..Options::default()
        });
        let destination = format!("{}/tokens/app:1", registry.host());
        let with = |login: Option<Login>| PushOptions {
            registry: RegistryOptions {
                auth_file: Some(t.dir.path().join("no-auth.json")),
                login,
                ..quick()
            },
            ..push_options(Compression::Gzip)
        };
        let refused = t
            .store
            .push(&image.name, Some(&destination), &with(None))
            .expect_err("anonymous tokens are refused");
        assert!(
            refused.to_string().contains("authentication failed"),
            "{refused}"
        );
        t.store
            .push(&image.name, Some(&destination), &with(Some(login.clone())))
            .expect("push with a password");
        let server = registry.token_server().expect("token server");
        let granted: Vec<(String, String)> = server
            .requests()
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| (r.method, r.auth))
            .collect();
        let expected = match oauth_post {
            true => ("POST".to_string(), format!("password:{USER}")),
            false => ("GET".to_string(), format!("basic:{USER}")),
        };
        assert!(!granted.is_empty(), "no token was granted");
        assert!(
            granted.iter().all(|g| *g == expected),
            "oauth_post {oauth_post}: {granted:?}"
        );
        let pulled = TestStore::new()
            .store
            .pull(
                &destination,
                &PullOptions {
                    registry: RegistryOptions {
                        login: Some(login.clone()),
                        ..quick()
                    },
                    ..PullOptions::default()
                },
            )
            .expect("pull with a password");
        assert_eq!(pulled.image.id, image.image_id);
    }
}

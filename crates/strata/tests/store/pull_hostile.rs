//! Pulls from a registry that sends bad content: blobs that do not hash
//! to their digest or are not their size, oversized manifests, indexes
//! that lead back to themselves or nest too deep, schema 1 manifests,
//! an index served as an image manifest, configs that disagree with their
//! layers, manifests that are not what they were asked by, redirects to
//! other hosts and schemes. Each pull fails naming what was wrong and
//! leaves the store as it was (a cut-short blob stays for resuming; a
//! wrong one does not). The registry is testkit's scripted one, because
//! the real registry cannot be made to serve bad content.

use std::time::Duration;

use strata::registry::Login;
use strata::{PullOptions, RegistryOptions};
use testkit::hostile_registry::{Entry, HostileRegistry, TlsReplies, reply};
use testkit::image_archive::{Image, Layer, digest, host_arch, media};

use crate::common::TestStore;

const REPO: &str = "hostile/app";

fn options() -> PullOptions<'static> {
    PullOptions {
        registry: RegistryOptions {
            stall_timeout: Duration::from_secs(20),
            attempts: 3,
            max_parallel: 2,
            ..RegistryOptions::default()
        },
        ..PullOptions::default()
    }
}

/// Bytes that do not compress and differ per `seed`.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// A two-layer image of uncompressed layers of `kib` KiB each.
fn two_layers(label: &str, kib: usize) -> Image {
    let layers = (0..2u64)
        .map(|i| {
            let data = noise(i + label.len() as u64, kib << 10);
            Layer::plain(testkit::tar_of(&[(&format!("layer{i}.bin"), &data)]))
        })
        .collect();
    Image::new(label, &[], layers)
}

/// Serves `image` as `REPO:tag` (and by its manifest's digest); returns
/// the manifest.
fn serve(registry: &HostileRegistry, tag: &str, image: &Image) -> Vec<u8> {
    let manifest = image.oci_manifest();
    registry.put_manifest(REPO, tag, media::MANIFEST, &manifest);
    registry.put_manifest(REPO, &digest(&manifest), media::MANIFEST, &manifest);
    registry.put_blob(REPO, &digest(&image.config), &image.config);
    for layer in &image.layers {
        registry.put_blob(REPO, &layer.blob_digest(), &layer.blob);
    }
    manifest
}

fn blob_path(digest: &str) -> String {
    format!("/v2/{REPO}/blobs/{digest}")
}

fn reference(registry: &HostileRegistry, tag: &str) -> String {
    format!("{}/{REPO}:{tag}", registry.host())
}

/// Pulls `tag`, which must fail; returns the error text.
fn pull_fails(t: &TestStore, registry: &HostileRegistry, tag: &str) -> String {
    let error = t
        .store
        .pull(&reference(registry, tag), &options())
        .expect_err("the pull must fail");
    error.to_string()
}

/// No image, no layer, a clean fsck and no partial download.
fn assert_untouched(t: &TestStore) {
    assert_nothing_in(t);
    let downloads = t.store.downloads().expect("downloads");
    assert_eq!(downloads.count, 0, "a partial download was kept");
    assert_eq!(t.store.status().expect("status").downloads.count, 0);
}

/// No image, no layer, a clean fsck.
fn assert_nothing_in(t: &TestStore) {
    assert!(t.store.images().expect("images").is_empty());
    assert!(t.store.layers().expect("layers").is_empty());
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{report:?}");
}

#[test]
fn a_layer_that_does_not_hash_to_its_digest_is_refused_and_dropped() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("wrong-digest", 200);
    serve(&registry, "1", &image);
    // The second layer's digest serves other bytes of the same size.
    let wrong = &image.layers[1];
    let mut other = wrong.blob.clone();
    let at = other.len() - 2000;
    other[at] ^= 0xff;
    registry.put_blob(REPO, &wrong.blob_digest(), &other);

    let error = pull_fails(&t, &registry, "1");
    let actual = digest(&other);
    assert!(
        error.contains(&format!(
            "layer blob {}: content has digest {actual}",
            wrong.blob_digest()
        )),
        "{error}"
    );
    assert_untouched(&t);

    // Nothing of the wrong bytes is resumed: the right ones pull.
    registry.put_blob(REPO, &wrong.blob_digest(), &wrong.blob);
    let pulled = t
        .store
        .pull(&reference(&registry, "1"), &options())
        .expect("pull");
    assert_eq!(pulled.image.id, image.id());
    let ranged = registry
        .requests()
        .iter()
        .filter(|r| r.range.is_some())
        .count();
    assert_eq!(ranged, 0, "{:?}", registry.requests());
}

#[test]
fn a_config_that_does_not_hash_to_its_digest_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("wrong-config", 4);
    serve(&registry, "1", &image);
    let config_digest = digest(&image.config);
    let mut other = image.config.clone();
    other[0] = b' ';
    registry.put_blob(REPO, &config_digest, &other);

    let error = pull_fails(&t, &registry, "1");
    assert!(error.contains(&config_digest), "{error}");
    assert!(error.contains("digest"), "{error}");
    assert_untouched(&t);
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("too-long", 200);
    serve(&registry, "1", &image);
    let layer = &image.layers[1];
    let mut longer = layer.blob.clone();
    longer.extend_from_slice(&[0u8; 4096]);

    // With a Content-Length that says so.
    registry.put_blob(REPO, &layer.blob_digest(), &longer);
    let error = pull_fails(&t, &registry, "1");
    assert!(error.contains(&layer.blob_digest()), "{error}");
    assert!(
        error.contains(&format!(
            "sends {} bytes, the descriptor says {}",
            longer.len(),
            layer.blob.len()
        )),
        "{error}"
    );
    assert_untouched(&t);

    // Chunked: found out as the bytes come.
    registry.put(
        &blob_path(&layer.blob_digest()),
        Entry::new(longer).chunked(),
    );
    let error = pull_fails(&t, &registry, "1");
    assert!(error.contains(&layer.blob_digest()), "{error}");
    assert!(error.contains("more than the"), "{error}");
    assert_untouched(&t);
}

#[test]
fn a_cut_short_blob_is_resumed_and_fails_clearly_when_it_stays_short() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("short", 300);
    serve(&registry, "1", &image);
    let layer = &image.layers[1];
    let path = blob_path(&layer.blob_digest());
    let cut = 100_000;

    // Cut once: resumed from where it stopped.
    registry.put(
        &path,
        Entry::new(layer.blob.clone()).cut_at(cut).cut_times(1),
    );
    let pulled = t
        .store
        .pull(&reference(&registry, "1"), &options())
        .expect("pull");
    assert_eq!(pulled.image.id, image.id());
    let resumed: Vec<_> = registry
        .requests()
        .into_iter()
        .filter(|r| r.path == path && r.range.is_some())
        .collect();
    assert_eq!(resumed.len(), 1, "{:?}", registry.requests());
    assert_eq!(resumed[0].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(t.store.downloads().expect("downloads").count, 0);

    // The registry only ever has the first bytes: the pull gives up
    // saying the body ended short, and keeps them for a later pull.
    let t = TestStore::new();
    registry.put(&path, Entry::new(layer.blob.clone()).cut_at(cut));
    let error = pull_fails(&t, &registry, "1");
    assert!(error.contains(&layer.blob_digest()), "{error}");
    assert!(
        error.contains(&format!(
            "the body ended after {cut} of {} bytes",
            layer.blob.len()
        )),
        "{error}"
    );
    assert_nothing_in(&t);
    let downloads = t.store.downloads().expect("downloads");
    assert_eq!((downloads.count, downloads.bytes), (1, cut));

    // Once the registry has it all, the next pull asks for the rest only.
    registry.put(&path, Entry::new(layer.blob.clone()));
    let before = registry.requests().len();
    t.store
        .pull(&reference(&registry, "1"), &options())
        .expect("pull");
    let asked: Vec<_> = registry.requests()[before..]
        .iter()
        .filter(|r| r.path == path)
        .cloned()
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(t.store.downloads().expect("downloads").count, 0);
}

/// A manifest of more than `MAX_MANIFEST_SIZE` bytes: valid JSON, padded
/// with an annotation.
fn huge_manifest(image: &Image) -> Vec<u8> {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&image.oci_manifest()).expect("json");
    let pad = "x".repeat(usize::try_from(strata_registry::MAX_MANIFEST_SIZE).expect("size"));
    manifest["annotations"] = serde_json::json!({ "pad": pad });
    serde_json::to_vec(&manifest).expect("json")
}

#[test]
fn a_manifest_over_the_size_limit_is_refused_with_or_without_a_length() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("huge", 4);
    serve(&registry, "1", &image);
    let huge = huge_manifest(&image);
    registry.put_manifest(REPO, "sized", media::MANIFEST, &huge);
    registry.put(
        &format!("/v2/{REPO}/manifests/chunked"),
        Entry::new(huge).content_type(media::MANIFEST).chunked(),
    );
    for tag in ["sized", "chunked"] {
        let error = pull_fails(&t, &registry, tag);
        assert!(error.contains(&format!("{REPO}:{tag}")), "{error}");
        assert!(error.contains("larger than 4 MiB"), "{error}");
    }
    assert_untouched(&t);
    let blobs = registry
        .requests()
        .iter()
        .filter(|r| r.path.contains("/blobs/"))
        .count();
    assert_eq!(blobs, 0, "{:?}", registry.requests());
}

fn index_of(entries: &[(&[u8], &str)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(bytes, media_type)| {
            serde_json::json!({
                "mediaType": media_type,
                "digest": digest(bytes),
                "size": bytes.len(),
                "platform": {"architecture": host_arch(), "os": "linux"},
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::INDEX,
        "manifests": manifests,
    }))
    .expect("json")
}

#[test]
fn an_index_that_leads_back_to_itself_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("loop", 4);
    let manifest = serve(&registry, "1", &image);

    // An index's digest cannot be inside it, so a loop needs the registry
    // to answer a digest with other bytes: the index itself.
    let index = index_of(&[(&manifest, media::MANIFEST)]);
    registry.put_manifest(REPO, "self", media::INDEX, &index);
    registry.put_manifest(REPO, &digest(&manifest), media::INDEX, &index);
    let error = pull_fails(&t, &registry, "self");
    assert!(
        error.contains(&format!("{REPO}@{}: digest mismatch", digest(&manifest))),
        "{error}"
    );
    assert!(error.contains(&digest(&index)), "{error}");

    // Index -> index -> the first index again.
    let inner = index_of(&[(&manifest, media::MANIFEST)]);
    let outer = index_of(&[(&inner, media::INDEX)]);
    registry.put_manifest(REPO, "loop", media::INDEX, &outer);
    registry.put_manifest(REPO, &digest(&inner), media::INDEX, &inner);
    registry.put_manifest(REPO, &digest(&manifest), media::INDEX, &outer);
    let error = pull_fails(&t, &registry, "loop");
    assert!(
        error.contains(&format!("{REPO}@{}: digest mismatch", digest(&manifest))),
        "{error}"
    );
    assert!(error.contains(&digest(&outer)), "{error}");

    assert_untouched(&t);
    let asked: Vec<_> = registry
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/manifests/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(asked.len(), 5, "each manifest asked once: {asked:?}");
    assert!(
        !registry
            .requests()
            .iter()
            .any(|r| r.path.contains("/blobs/"))
    );
}

#[test]
fn indexes_nested_too_deep_are_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("deep", 4);
    let mut below = serve(&registry, "1", &image);
    let mut media_type = media::MANIFEST;
    for _ in 0..5 {
        let index = index_of(&[(&below, media_type)]);
        registry.put_manifest(REPO, &digest(&index), media::INDEX, &index);
        below = index;
        media_type = media::INDEX;
    }
    registry.put_manifest(REPO, "deep", media::INDEX, &below);
    let error = pull_fails(&t, &registry, "deep");
    assert!(error.contains("indexes nest too deep"), "{error}");
    assert_untouched(&t);
}

#[test]
fn a_schema_1_manifest_is_refused_by_name() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let schema1 =
        br#"{"schemaVersion":1,"name":"hostile/app","tag":"1","fsLayers":[],"history":[]}"#;
    registry.put_manifest(
        REPO,
        "signed",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        schema1,
    );
    registry.put_manifest(REPO, "untyped", "application/json", schema1);
    for tag in ["signed", "untyped"] {
        let error = pull_fails(&t, &registry, tag);
        assert!(
            error.contains("it is a Docker schema 1 manifest, which strata does not pull"),
            "{error}"
        );
    }
    assert_untouched(&t);
}

#[test]
fn an_index_served_as_an_image_manifest_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("content-type", 4);
    let manifest = serve(&registry, "1", &image);
    // An index said to be an image manifest.
    let index = index_of(&[(&manifest, media::MANIFEST)]);
    registry.put_manifest(REPO, "index", media::MANIFEST, &index);
    let error = pull_fails(&t, &registry, "index");
    assert!(
        error.contains(&format!(
            "manifest {} is malformed: missing field `config`",
            digest(&index)
        )),
        "{error}"
    );
    assert_untouched(&t);
}

/// `image` with its config's diff ids replaced by `diff_ids`.
fn with_diff_ids(image: &Image, diff_ids: &[String]) -> Image {
    let mut config: serde_json::Value = serde_json::from_slice(&image.config).expect("json");
    config["rootfs"]["diff_ids"] = serde_json::json!(diff_ids);
    Image {
        config: serde_json::to_vec(&config).expect("json"),
        ..image.clone()
    }
}

#[test]
fn a_config_whose_diff_ids_disagree_with_the_layers_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("diff-ids", 100);
    let mut diff_ids = image.diff_ids();

    // The right count, the second one wrong.
    diff_ids[1] = digest(b"something else");
    let wrong = with_diff_ids(&image, &diff_ids);
    serve(&registry, "wrong", &wrong);
    let error = pull_fails(&t, &registry, "wrong");
    assert!(
        error.contains(&format!(
            "content has digest {}, expected {}",
            image.diff_ids()[1],
            diff_ids[1]
        )),
        "{error}"
    );
    assert!(error.contains("the diff id of layer"), "{error}");
    assert_untouched(&t);

    // One diff id too few.
    let short = with_diff_ids(&image, &image.diff_ids()[..1]);
    serve(&registry, "short", &short);
    let error = pull_fails(&t, &registry, "short");
    assert!(
        error.contains("it lists 2 layers but its config has 1 diff_ids"),
        "{error}"
    );
    assert_untouched(&t);
}

#[test]
fn a_manifest_that_is_not_what_it_was_asked_by_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("not-asked", 4);
    let manifest = serve(&registry, "1", &image);
    let other = two_layers("other", 4).oci_manifest();

    // Asked by digest, answered with other bytes.
    registry.put_manifest(REPO, &digest(&manifest), media::MANIFEST, &other);
    let by_digest = format!("{}/{REPO}@{}", registry.host(), digest(&manifest));
    let error = t
        .store
        .pull(&by_digest, &options())
        .expect_err("must fail")
        .to_string();
    assert!(
        error.contains(&format!(
            "digest mismatch: expected {}, got {}",
            digest(&manifest),
            digest(&other)
        )),
        "{error}"
    );

    // Asked by tag, with a Docker-Content-Digest the bytes do not have.
    registry.put(
        &format!("/v2/{REPO}/manifests/lying"),
        Entry::new(other.clone())
            .content_type(media::MANIFEST)
            .header("Docker-Content-Digest", &digest(&manifest)),
    );
    let error = pull_fails(&t, &registry, "lying");
    assert!(
        error.contains(&format!("{REPO}:lying: digest mismatch")),
        "{error}"
    );
    assert_untouched(&t);
}

#[test]
fn a_blob_redirected_to_another_host_gets_no_credentials() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    registry.require_basic("user", "secret");
    let storage = HostileRegistry::start();
    let image = two_layers("redirect", 100);
    serve(&registry, "1", &image);
    for (i, layer) in image.layers.iter().enumerate() {
        let at = format!("/storage/{i}?sig=abc");
        storage.put(&at, Entry::new(layer.blob.clone()));
        registry.put(
            &blob_path(&layer.blob_digest()),
            Entry::redirect(&format!("http://{}{at}", storage.host())),
        );
    }
    let mut options = options();
    options.registry.login = Some(Login {
        username: "user".into(),
        password: "secret".into(),
        identity_token: None,
    });
    let pulled = t
        .store
        .pull(&reference(&registry, "1"), &options)
        .expect("pull");
    assert_eq!(pulled.image.id, image.id());

    let fetched = storage.requests();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert!(
        fetched.iter().all(|r| r.authorization.is_none()),
        "credentials went to the storage host: {fetched:?}"
    );
    // The registry itself had them.
    let redirects: Vec<_> = registry
        .requests()
        .into_iter()
        .filter(|r| r.status == 307)
        .collect();
    assert_eq!(redirects.len(), 2);
    assert!(redirects.iter().all(|r| r.authorization.is_some()));
}

#[test]
fn a_redirect_to_another_scheme_is_refused() {
    let t = TestStore::new();
    let registry = HostileRegistry::start();
    let image = two_layers("scheme", 4);
    serve(&registry, "1", &image);
    let layer = &image.layers[1];
    for location in ["ftp://127.0.0.1/blob", "file:///etc/passwd"] {
        registry.put(&blob_path(&layer.blob_digest()), Entry::redirect(location));
        let error = pull_fails(&t, &registry, "1");
        assert!(error.contains(&layer.blob_digest()), "{error}");
        let scheme = location.split(':').next().expect("scheme");
        assert!(
            error.contains(&format!("redirected from http to a {scheme} URL")),
            "{error}"
        );
        assert_untouched(&t);
    }
    // A manifest too.
    registry.put(
        &format!("/v2/{REPO}/manifests/away"),
        Entry::redirect("file:///etc/passwd"),
    );
    let error = pull_fails(&t, &registry, "away");
    assert!(error.contains(&format!("{REPO}:away")), "{error}");
    assert!(
        error.contains("redirected from http to a file URL"),
        "{error}"
    );
    assert_untouched(&t);
}

#[test]
fn a_redirect_from_https_down_to_http_is_refused() {
    let t = TestStore::new();
    let plain = HostileRegistry::start();
    let manifest = two_layers("downgrade", 4).oci_manifest();
    plain.put_manifest(REPO, "1", media::MANIFEST, &manifest);
    let location = format!("http://{}/v2/{REPO}/manifests/1", plain.host());
    // s_server serves no path with a `:`, so no blob: the manifest's
    // request is the one redirected.
    let tls = TlsReplies::start(&[(
        &format!("/v2/{REPO}/manifests/1"),
        reply("307 Temporary Redirect", &[("Location", &location)], b""),
    )]);
    let mut options = options();
    options.registry.cert_dir = Some(tls.cert_dir());
    let error = t
        .store
        .pull(&format!("{}/{REPO}:1", tls.host()), &options)
        .expect_err("must fail")
        .to_string();
    assert!(error.contains(&format!("{REPO}:1")), "{error}");
    assert!(
        error.contains(&format!(
            "the registry redirected from https to a http URL ({location})"
        )),
        "{error}"
    );
    assert!(plain.requests().is_empty(), "{:?}", plain.requests());
    assert_untouched(&t);
}

//! `strata copy` with registries, as skopeo's flags name each side: from
//! a TLS registry with Basic authentication (`--src-cert-dir`,
//! `--src-creds`) to a plain one (`--dest-tls-verify=false`) keeping the
//! manifest bytes, an archive pushed with `--dest-*` flags and read back
//! by skopeo, a registry image copied into the store under a new name,
//! and the store-to-registry case sent to `strata push`.

use testkit::peers::sample_image;
use testkit::registry::{PASSWORD, Registry, USER};

use crate::store_support::CliStore;

#[test]
fn copy_takes_skopeos_per_side_registry_flags() {
    let s = CliStore::new();
    let image = sample_image(
        &s.dir.path().join("sample.tar"),
        &["--layers", "2", "--size-mib", "1"],
    );
    let secure = Registry::tls_basic();
    let plain = Registry::plain();
    secure.target().push(&image.path, "sample/app:1");
    let raw = secure.target().inspect_raw("sample/app:1");
    let cert_dir = secure.cert_dir().expect("cert dir");
    let cert_dir = cert_dir.to_str().expect("utf-8");
    let creds = format!("{USER}:{PASSWORD}");
    let from = format!("docker://{}/sample/app:1", secure.host());
    let to = format!("docker://{}/mirror/app:1", plain.host());

    // Without credentials for the source, the copy is refused.
    let refused = s.fails(&[
        "copy",
        "-q",
        "--src-cert-dir",
        cert_dir,
        "--dest-tls-verify=false",
        &from,
        &to,
    ]);
    assert!(
        refused.contains("401") || refused.to_lowercase().contains("auth"),
        "{refused}"
    );
    assert!(
        !plain
            .target()
            .try_inspect_raw("mirror/app:1")
            .status
            .success(),
        "no manifest after a failed copy"
    );

    s.ok(&[
        "copy",
        "-q",
        "--src-cert-dir",
        cert_dir,
        "--src-creds",
        &creds,
        "--dest-tls-verify=false",
        &from,
        &to,
    ]);
    assert_eq!(plain.target().inspect_raw("mirror/app:1"), raw);

    // An archive to the TLS registry, with the destination's flags.
    let archive = format!("docker-archive:{}", image.path.display());
    s.ok(&[
        "copy",
        "-q",
        "--dest-cert-dir",
        cert_dir,
        "--dest-creds",
        &creds,
        &archive,
        &format!("docker://{}/pushed/app:1", secure.host()),
    ]);
    let pushed: serde_json::Value =
        serde_json::from_slice(&secure.target().inspect_raw("pushed/app:1")).expect("json");
    assert_eq!(pushed["config"]["digest"], image.config.as_str());

    // Into the store, under the destination's name (plain --tls-verify
    // applies to both sides).
    let id = s.ok(&[
        "copy",
        "-q",
        "--tls-verify=false",
        &to,
        "strata:localhost/copied:2",
    ]);
    assert_eq!(id.trim(), image.image_id);
    let images = s.ok(&["images"]);
    assert!(images.contains("localhost/copied"), "{images}");
    s.assert_clean();

    // From the store to a registry is a push: the image comes back the same.
    let back = to.replace("mirror/app:1", "mirror/back:1");
    s.ok(&[
        "copy",
        "--tls-verify=false",
        "strata:localhost/copied:2",
        &back,
    ]);
    let other = CliStore::new();
    let id = other.ok(&[
        "copy",
        "-q",
        "--tls-verify=false",
        &back,
        "strata:localhost/back:1",
    ]);
    assert_eq!(id.trim(), image.image_id);
}

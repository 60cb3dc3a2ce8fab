//! Image archives for tests, built member by member so a test can spoil
//! any part of them before turning them into a tar or a directory:
//! `docker save` archives in the Docker 25+ layout (OCI layout plus
//! `manifest.json`), the Docker 1.10-24 layout (`<v1id>/layer.tar`, with
//! symlinked duplicates) and what podman/skopeo write (`<diffid>.tar`), and
//! OCI image layouts.

use std::path::Path;

use crate::{TarBuilder, sha256};

/// One member of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A regular file.
    File(String, Vec<u8>),
    /// A directory (its name ends with `/`).
    Dir(String),
    /// A symbolic link and its target.
    Symlink(String, String),
    /// A hard link and the member it links to.
    Hardlink(String, String),
}

impl Member {
    /// The member's path.
    pub fn path(&self) -> &str {
        match self {
            Member::File(path, _)
            | Member::Dir(path)
            | Member::Symlink(path, _)
            | Member::Hardlink(path, _) => path,
        }
    }
}

/// The members of an archive, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archive {
    /// The members.
    pub members: Vec<Member>,
}

impl Archive {
    /// Appends a regular file.
    pub fn add_file(&mut self, path: &str, data: &[u8]) {
        self.members
            .push(Member::File(path.to_string(), data.to_vec()));
    }

    /// Appends a directory.
    pub fn add_dir(&mut self, path: &str) {
        self.members.push(Member::Dir(path.to_string()));
    }

    /// Appends a symbolic link.
    pub fn add_symlink(&mut self, path: &str, target: &str) {
        self.members
            .push(Member::Symlink(path.to_string(), target.to_string()));
    }

    /// The contents of the regular file `path`.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.members.iter().find_map(|m| match m {
            Member::File(p, data) if p == path => Some(data.as_slice()),
            _ => None,
        })
    }

    /// Replaces the contents of the regular file `path` (appending it when
    /// there is none).
    pub fn set_file(&mut self, path: &str, data: &[u8]) {
        for member in &mut self.members {
            if let Member::File(p, old) = member
                && p == path
            {
                *old = data.to_vec();
                return;
            }
        }
        self.add_file(path, data);
    }

    /// Replaces whatever member is at `path` by `member`, in place.
    pub fn replace(&mut self, path: &str, member: Member) {
        let slot = self
            .members
            .iter_mut()
            .find(|m| m.path() == path)
            .unwrap_or_else(|| panic!("no member {path}"));
        *slot = member;
    }

    /// Removes every member at `path`; panics if there is none.
    pub fn remove(&mut self, path: &str) {
        let before = self.members.len();
        self.members.retain(|m| m.path() != path);
        assert!(self.members.len() < before, "no member {path}");
    }

    /// Paths of the members, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.members.iter().map(Member::path).collect()
    }

    /// Moves the member at `path` to the end.
    pub fn move_last(&mut self, path: &str) {
        let at = self
            .members
            .iter()
            .position(|m| m.path() == path)
            .unwrap_or_else(|| panic!("no member {path}"));
        let member = self.members.remove(at);
        self.members.push(member);
    }

    /// The archive as a ustar stream.
    pub fn to_tar(&self) -> Vec<u8> {
        let mut tar = TarBuilder::default();
        for member in &self.members {
            tar = match member {
                Member::File(path, data) => tar.file(path, data),
                Member::Dir(path) => tar.dir(path),
                Member::Symlink(path, target) => tar.symlink(path, target),
                Member::Hardlink(path, target) => tar.hardlink(path, target),
            };
        }
        tar.finish()
    }

    /// Writes the members beneath `dir` (which must exist).
    pub fn write_dir(&self, dir: &Path) {
        for member in &self.members {
            let path = dir.join(member.path().trim_end_matches('/'));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            match member {
                Member::File(_, data) => std::fs::write(&path, data).unwrap(),
                Member::Dir(_) => std::fs::create_dir_all(&path).unwrap(),
                Member::Symlink(_, target) => std::os::unix::fs::symlink(target, &path).unwrap(),
                Member::Hardlink(_, target) => std::fs::hard_link(dir.join(target), &path).unwrap(),
            }
        }
    }
}

/// OCI media types used below.
pub mod media {
    /// An uncompressed layer.
    pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// A gzip layer.
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// A zstd layer.
    pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// An image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// An image index.
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// An image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
}

/// `sha256:<hex>` of bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256(bytes))
}

/// One layer: its uncompressed tar and the bytes stored for it (the same,
/// or a compressed form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The uncompressed tar (its digest is the diff id).
    pub tar: Vec<u8>,
    /// The bytes as stored in the archive.
    pub blob: Vec<u8>,
    /// The media type for OCI descriptors.
    pub media_type: String,
}

impl Layer {
    /// An uncompressed layer.
    pub fn plain(tar: Vec<u8>) -> Self {
        Self {
            blob: tar.clone(),
            tar,
            media_type: media::LAYER_TAR.into(),
        }
    }

    /// A layer stored as `blob`, a compressed form of `tar`.
    pub fn compressed(tar: Vec<u8>, blob: Vec<u8>, media_type: &str) -> Self {
        Self {
            tar,
            blob,
            media_type: media_type.into(),
        }
    }

    /// `sha256:<hex>` of the uncompressed tar.
    pub fn diff_id(&self) -> String {
        digest(&self.tar)
    }

    /// `sha256:<hex>` of the stored bytes.
    pub fn blob_digest(&self) -> String {
        digest(&self.blob)
    }
}

/// One image: its config bytes, layers (base first) and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The config, exactly as stored.
    pub config: Vec<u8>,
    /// The layers, base first.
    pub layers: Vec<Layer>,
    /// The tags (`busybox:latest`, `localhost/app:1`).
    pub tags: Vec<String>,
}

/// The host's architecture as OCI names it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// A minimal image config over these diff ids (`sha256:<hex>`), with a
/// label `test` = `label` so images over the same layers differ.
pub fn config_for(diff_ids: &[String], label: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": host_arch(),
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Labels": {"test": label}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

impl Image {
    /// An image of these layers and tags, with a config made for them
    /// (labelled with `label`).
    pub fn new(label: &str, tags: &[&str], layers: Vec<Layer>) -> Self {
        let diff_ids: Vec<String> = layers.iter().map(Layer::diff_id).collect();
        Self {
            config: config_for(&diff_ids, label),
            layers,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// The image id: hex sha256 of the config.
    pub fn id(&self) -> String {
        sha256(&self.config)
    }

    /// The diff ids, base first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(Layer::diff_id).collect()
    }

    /// The OCI manifest of the image.
    pub fn oci_manifest(&self) -> Vec<u8> {
        let layers: Vec<serde_json::Value> = self
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "mediaType": l.media_type,
                    "digest": l.blob_digest(),
                    "size": l.blob.len(),
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::MANIFEST,
            "config": {
                "mediaType": media::CONFIG,
                "digest": digest(&self.config),
                "size": self.config.len(),
            },
            "layers": layers,
        }))
        .unwrap()
    }
}

/// A made-up v1 id for layer `i` of `image` (unique per image and position).
fn v1_id(image: &Image, i: usize) -> String {
    sha256(format!("v1 {} {i}", image.id()).as_bytes())
}

fn manifest_item(config: &str, tags: &[String], layers: &[String]) -> serde_json::Value {
    serde_json::json!({"Config": config, "RepoTags": tags, "Layers": layers})
}

fn add_once(archive: &mut Archive, path: &str, data: &[u8]) {
    if archive.file(path).is_none() {
        archive.add_file(path, data);
    }
}

/// The blobs of `images` (layers, configs, OCI manifests) under
/// `blobs/sha256/`, each once, after the two directory entries.
fn blobs(archive: &mut Archive, images: &[Image]) {
    archive.add_dir("blobs/");
    archive.add_dir("blobs/sha256/");
    for image in images {
        for layer in &image.layers {
            let path = format!("blobs/sha256/{}", sha256(&layer.blob));
            add_once(archive, &path, &layer.blob);
        }
        add_once(
            archive,
            &format!("blobs/sha256/{}", image.id()),
            &image.config,
        );
        let manifest = image.oci_manifest();
        add_once(
            archive,
            &format!("blobs/sha256/{}", sha256(&manifest)),
            &manifest,
        );
    }
}

/// `index.json` of an OCI layout: one entry per image, with
/// `org.opencontainers.image.ref.name` = its first tag when it has one.
pub fn oci_index(images: &[Image]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|image| {
            let manifest = image.oci_manifest();
            let mut descriptor = serde_json::json!({
                "mediaType": media::MANIFEST,
                "digest": digest(&manifest),
                "size": manifest.len(),
            });
            if let Some(tag) = image.tags.first() {
                descriptor["annotations"] =
                    serde_json::json!({"org.opencontainers.image.ref.name": tag});
            }
            descriptor
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::INDEX,
        "manifests": manifests,
    }))
    .unwrap()
}

/// The `oci-layout` marker as Docker and skopeo write it.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion": "1.0.0"}"#;

/// A `docker save` archive in the Docker 25+ layout: an OCI layout whose
/// `manifest.json` names `blobs/sha256/<hex>` configs and layers.
pub fn docker_modern(images: &[Image]) -> Archive {
    let mut archive = Archive::default();
    blobs(&mut archive, images);
    archive.add_file("index.json", &oci_index(images));
    let items: Vec<serde_json::Value> = images
        .iter()
        .map(|image| {
            let layers: Vec<String> = image
                .layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", sha256(&l.blob)))
                .collect();
            manifest_item(
                &format!("blobs/sha256/{}", image.id()),
                &image.tags,
                &layers,
            )
        })
        .collect();
    archive.add_file("manifest.json", &json_line(&items));
    archive.add_file("oci-layout", OCI_LAYOUT);
    archive
}

/// A `docker save` archive in the Docker 1.10-24 layout: `<id>.json`
/// configs, `<v1id>/{VERSION,json,layer.tar}`; a layer whose diff id came
/// earlier in the archive gets a `layer.tar` symlink to the first copy.
pub fn docker_legacy(images: &[Image]) -> Archive {
    let mut archive = Archive::default();
    let mut first: Vec<(String, String)> = Vec::new();
    let mut items = Vec::new();
    let mut repositories = serde_json::Map::new();
    for image in images {
        let mut layers = Vec::new();
        for (i, layer) in image.layers.iter().enumerate() {
            let v1 = v1_id(image, i);
            archive.add_dir(&format!("{v1}/"));
            archive.add_file(&format!("{v1}/VERSION"), b"1.0");
            archive.add_file(
                &format!("{v1}/json"),
                format!("{{\"id\":\"{v1}\"}}").as_bytes(),
            );
            let path = format!("{v1}/layer.tar");
            let diff_id = layer.diff_id();
            match first.iter().find(|(d, _)| *d == diff_id) {
                Some((_, earlier)) => {
                    archive.add_symlink(&path, &format!("../{earlier}/layer.tar"))
                }
                None => {
                    archive.add_file(&path, &layer.blob);
                    first.push((diff_id, v1.clone()));
                }
            }
            layers.push(path);
        }
        archive.add_file(&format!("{}.json", image.id()), &image.config);
        items.push(manifest_item(
            &format!("{}.json", image.id()),
            &image.tags,
            &layers,
        ));
        if let (Some(tag), Some(top)) = (image.tags.first(), layers.last()) {
            let (repo, tag) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
            let top = top.trim_end_matches("/layer.tar").to_string();
            repositories.insert(repo.to_string(), serde_json::json!({ tag: top }));
        }
    }
    archive.add_file("manifest.json", &json_line(&items));
    if !repositories.is_empty() {
        archive.add_file("repositories", &json_line(&repositories));
    }
    archive
}

/// A `docker-archive:` written by podman or skopeo: `<diffid>.tar` layers,
/// `<id>.json` configs, `<v1id>/layer.tar` symlinks to the layers, no
/// directory entries, `manifest.json` without a trailing newline.
pub fn podman(images: &[Image]) -> Archive {
    let mut archive = Archive::default();
    let mut items = Vec::new();
    for image in images {
        let mut layers = Vec::new();
        for layer in &image.layers {
            let path = format!("{}.tar", sha256(&layer.tar));
            add_once(&mut archive, &path, &layer.blob);
            layers.push(path);
        }
        add_once(&mut archive, &format!("{}.json", image.id()), &image.config);
        for (i, layer) in layers.iter().enumerate() {
            let v1 = v1_id(image, i);
            archive.add_symlink(&format!("{v1}/layer.tar"), &format!("../{layer}"));
            archive.add_file(&format!("{v1}/VERSION"), b"1.0");
            archive.add_file(
                &format!("{v1}/json"),
                format!("{{\"id\":\"{v1}\"}}").as_bytes(),
            );
        }
        items.push(manifest_item(
            &format!("{}.json", image.id()),
            &image.tags,
            &layers,
        ));
    }
    archive.add_file("manifest.json", &serde_json::to_vec(&items).unwrap());
    archive
}

/// An OCI image layout (for a directory or an oci-archive): `oci-layout`,
/// `blobs/sha256/`, `index.json`.
pub fn oci_layout(images: &[Image]) -> Archive {
    let mut archive = Archive::default();
    archive.add_file("oci-layout", OCI_LAYOUT);
    blobs(&mut archive, images);
    archive.add_file("index.json", &oci_index(images));
    archive
}

fn json_line(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).unwrap();
    bytes.push(b'\n');
    bytes
}

/// Adds to the OCI layout at `dir` an image index of `entries` (manifest
/// digest, size, architecture; all linux image manifests), as a blob and
/// as an entry of `index.json` named `name`; returns the index's bytes.
pub fn add_layout_index(dir: &Path, entries: &[(String, u64, &str)], name: &str) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(digest, size, arch)| {
            serde_json::json!({
                "mediaType": media::MANIFEST,
                "digest": digest,
                "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::INDEX,
        "manifests": manifests,
    }))
    .unwrap();
    std::fs::write(dir.join("blobs/sha256").join(sha256(&index)), &index).unwrap();
    let path = dir.join("index.json");
    let mut top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    top["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": media::INDEX,
            "digest": digest(&index),
            "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }));
    std::fs::write(&path, serde_json::to_vec(&top).unwrap()).unwrap();
    index
}

/// The digest and size of the entry of the OCI layout at `dir` named
/// `name` in its `index.json`.
pub fn layout_entry(dir: &Path, name: &str) -> (String, u64) {
    let top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let found = top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {top}"))
        .clone();
    (
        found["digest"].as_str().unwrap().to_string(),
        found["size"].as_u64().unwrap(),
    )
}

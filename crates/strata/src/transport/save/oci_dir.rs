//! Writing a planned save into an OCI image layout directory.
//!
//! Blobs are written aside in `blobs/sha256/` and named once complete
//! ([`StagedFile`]); one `syncfs` then makes them durable before
//! `oci-layout` and `index.json` (written durably, [`durable::write_file`])
//! name them. A blob already present is kept if it hashes to its name and
//! rewritten otherwise. Two saves into the same directory at once may
//! lose one's `index.json` entries (as with skopeo); blobs are safe.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::layer::LayerTars;
use super::metadata::{self, BLOB_DIR};
use super::plan::Plan;
use super::{SaveReport, index_merge};
use crate::archive::tarwrite::Counting;
use crate::digest::{Digest, DigestReader};
use crate::error::{Error, IoContext, Result};
use crate::fs::durable::{self, StagedFile};
use crate::image::media;

/// Writes `plan` into the layout at `dir`, creating it if missing.
pub(super) fn write(layers: &dyn LayerTars, plan: &Plan, dir: &Path) -> Result<SaveReport> {
    durable::create_dir_all(&dir.join(BLOB_DIR))?;
    let layout_present = check_layout(dir)?;
    let mut bytes = 0;
    for (digest, data) in &plan.blobs {
        bytes += put_blob(dir, digest, |out| {
            out.write_all(data)
                .context(|| format!("cannot write blob {digest}"))
        })?;
    }
    for blob in &plan.layers {
        bytes += put_blob(dir, &blob.diff_id, |out| layers.write_layer(blob, out))?;
    }
    durable::syncfs(dir)?;
    if !layout_present {
        bytes += write_durable(dir, "oci-layout", &metadata::oci_layout())?;
    }
    let index_path = dir.join("index.json");
    let existing = read_optional(&index_path)?;
    let what = index_path.display().to_string();
    let entries = metadata::index_entries(plan);
    let index = index_merge::merge(&what, existing.as_deref(), entries)?;
    bytes += write_durable(dir, "index.json", &index)?;
    Ok(SaveReport {
        images: plan.images.len(),
        layers: plan.layers.len(),
        bytes,
    })
}

/// Whether `dir` has an `oci-layout` file; fails if it names a layout
/// version other than the one strata writes.
fn check_layout(dir: &Path) -> Result<bool> {
    let path = dir.join("oci-layout");
    let Some(bytes) = read_optional(&path)? else {
        return Ok(false);
    };
    let what = path.display().to_string();
    let value: serde_json::Value = crate::image::manifest::parse_json(&what, &bytes)?;
    match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(media::OCI_LAYOUT_VERSION) => Ok(true),
        other => Err(Error::Malformed {
            what,
            reason: format!(
                "imageLayoutVersion is {other:?}, strata writes {}",
                media::OCI_LAYOUT_VERSION
            ),
        }),
    }
}

/// Writes blob `digest` with `body` unless it is present with the right
/// content; returns the bytes written.
fn put_blob(
    dir: &Path,
    digest: &Digest,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<u64> {
    let path = dir.join(metadata::blob_path(digest.hex()));
    if holds(&path, digest)? {
        return Ok(0);
    }
    let mut staged = StagedFile::create_in(&dir.join(BLOB_DIR))?;
    let mut out = Counting::new(BufWriter::new(staged.file()));
    body(&mut out)?;
    out.flush()
        .context(|| format!("cannot write {}", path.display()))?;
    let written = out.written();
    drop(out);
    staged.publish(digest.hex())?;
    Ok(written)
}

/// Whether `path` exists and hashes to `digest`.
fn holds(path: &Path, digest: &Digest) -> Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(Error::Io {
                context: format!("cannot open {}", path.display()),
                source: e,
            });
        }
    };
    let mut reader = DigestReader::new(file);
    io::copy(&mut reader, &mut io::sink()).context(|| format!("cannot read {}", path.display()))?;
    Ok(&reader.finish().0 == digest)
}

/// Writes `name` in `dir` durably: temp → fsync → rename → fsync(dir).
fn write_durable(dir: &Path, name: &str, bytes: &[u8]) -> Result<u64> {
    durable::write_file(&dir.join(name), bytes)?;
    Ok(bytes.len() as u64)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            context: format!("cannot read {}", path.display()),
            source: e,
        }),
    }
}

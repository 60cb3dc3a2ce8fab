//! Writing a planned save as one tar archive, in the member order the
//! module documentation gives: metadata, directories, JSON blobs by
//! digest, layers in first-use order.

use std::io::Write;

use super::layer::LayerTars;
use super::metadata::{self, BLOB_DIR};
use super::plan::Plan;
use super::{SaveFormat, SaveReport};
use crate::archive::tarwrite::TarWriter;
use crate::error::Result;

/// Writes `plan` to `out` as a `format` archive.
pub(super) fn write(
    layers: &dyn LayerTars,
    plan: &Plan,
    format: SaveFormat,
    out: &mut dyn Write,
) -> Result<SaveReport> {
    let mut tar = TarWriter::new(out);
    tar.file("oci-layout", &metadata::oci_layout())?;
    let index = metadata::index_json(metadata::index_entries(plan))?;
    tar.file("index.json", &index)?;
    if format == SaveFormat::DockerArchive {
        tar.file("manifest.json", &metadata::docker_manifest(plan)?)?;
        if let Some(repositories) = metadata::repositories(plan)? {
            tar.file("repositories", &repositories)?;
        }
    }
    tar.dir("blobs/")?;
    tar.dir(&format!("{BLOB_DIR}/"))?;
    for (digest, bytes) in &plan.blobs {
        tar.file(&metadata::blob_path(digest.hex()), bytes)?;
    }
    for blob in &plan.layers {
        let name = metadata::blob_path(blob.diff_id.hex());
        tar.file_with(&name, blob.size, |out| layers.write_layer(blob, out))?;
    }
    let bytes = tar.finish()?;
    Ok(SaveReport {
        images: plan.images.len(),
        layers: plan.layers.len(),
        bytes,
    })
}

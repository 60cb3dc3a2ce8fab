//! What a layer changed, as a tar or as a list. Against its parent, a layer
//! with tar-split metadata gives back its original tar bit for bit, checked
//! against the recorded diff digest; anything else (another base layer, a
//! layer made without a tar) is computed from the two trees.

use std::fs::File;
use std::io::Write;

use tarsplit::io::{DirSource, read_metadata};

use super::{Store, layer::Layer};
use crate::archive::changes::{Change, changes};
use crate::archive::changeset::write_changeset;
use crate::compression::{Compression, Encoder};
use crate::digest::{Digest, ParallelDigestWriter};
use crate::driver::View;
use crate::error::{Error, IoContext, Result};
use crate::transport::{TransferEvent, TransferProgress};

/// How to compress a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
    /// The compression the layer was imported with.
    Original,
}

/// What a diff produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiffReport {
    /// Length of the uncompressed tar.
    pub size: u64,
    /// Digest of the uncompressed tar.
    pub digest: Digest,
    /// Whether the bytes are the layer's original tar, checked against its
    /// recorded diff digest.
    pub verified: bool,
}

/// How a diff goes: [`Store::diff_with`].
#[derive(Clone, Copy, Default)]
pub struct DiffOptions<'a> {
    /// Told of the tar as it is written (bytes of the uncompressed tar).
    /// A layer's original tar is a known blob: `Started` (its diff digest
    /// and size), `Progress`, `Done`. A diff computed from two trees is
    /// known only at its end: `Written` as it goes, then `Done` with its
    /// digest and size.
    pub progress: Option<TransferProgress<'a>>,
}

impl std::fmt::Debug for DiffOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Store {
    /// Writes the changes of layer `reference` relative to `from` (default:
    /// its parent) as a tar to `out`.
    pub fn diff(
        &self,
        reference: &str,
        from: Option<&str>,
        format: DiffFormat,
        out: &mut dyn Write,
    ) -> Result<DiffReport> {
        self.diff_with(reference, from, format, out, &DiffOptions::default())
    }

    /// [`Store::diff`], telling `options.progress` of the tar as it is
    /// written (see [`DiffOptions`]).
    pub fn diff_with(
        &self,
        reference: &str,
        from: Option<&str>,
        format: DiffFormat,
        out: &mut dyn Write,
        options: &DiffOptions<'_>,
    ) -> Result<DiffReport> {
        let layer = self.layer(reference)?;
        let base = self.base(&layer, from)?;
        let compression = match format {
            DiffFormat::None => Compression::None,
            DiffFormat::Gzip => Compression::Gzip,
            DiffFormat::Zstd => Compression::Zstd,
            DiffFormat::Original => layer.compression,
        };
        let encoder =
            Encoder::new(compression, out).context(|| "cannot start compressing".into())?;
        let mut writer = ParallelDigestWriter::new(encoder);
        let original = layer.has_tar_split && base == layer.parent;
        let known = match (original, &layer.diff_digest, layer.diff_size) {
            (true, Some(digest), Some(size)) => Some((digest.clone(), size)),
            _ => None,
        };
        {
            let mut told = TellingWriter::new(&mut writer, options.progress, known);
            if original {
                self.reassemble(&layer, &mut told)?;
            } else {
                self.with_trees(&layer, base.as_deref(), |old, new| {
                    write_changeset(old, new, &mut told).map_err(Error::from)
                })?;
            }
            told.flush_told();
        }
        let (digest, size, encoder) = writer.finish().context(|| "cannot write the diff".into())?;
        encoder
            .finish()
            .context(|| "cannot finish compressing".into())?;
        if original {
            check_digest(&layer, &digest)?;
        }
        if let Some(progress) = options.progress {
            progress(&TransferEvent::Done {
                digest: digest.clone(),
                size,
            });
        }
        Ok(DiffReport {
            size,
            digest,
            verified: original,
        })
    }

    /// The paths layer `reference` added, changed or deleted relative to
    /// `from` (default: its parent).
    pub fn changes(&self, reference: &str, from: Option<&str>) -> Result<Vec<Change>> {
        let layer = self.layer(reference)?;
        let base = self.base(&layer, from)?;
        self.with_trees(&layer, base.as_deref(), |old, new| {
            changes(old, new).map_err(Error::from)
        })
    }

    /// Size of the uncompressed tar [`Store::diff`] would write.
    pub fn diff_size(&self, reference: &str, from: Option<&str>) -> Result<u64> {
        let layer = self.layer(reference)?;
        let base = self.base(&layer, from)?;
        if let (true, Some(size)) = (layer.has_tar_split && base == layer.parent, layer.diff_size) {
            return Ok(size);
        }
        let stats = self.with_trees(&layer, base.as_deref(), |old, new| {
            write_changeset(old, new, std::io::sink()).map_err(Error::from)
        })?;
        Ok(stats.bytes)
    }

    /// Rebuilds the layer's original tar from tar-split and its files.
    pub(crate) fn reassemble(&self, layer: &Layer, out: &mut dyn Write) -> Result<u64> {
        let path = self.tar_split_path(&layer.id);
        let file = File::open(&path).map_err(|e| Error::Damaged {
            id: layer.id.clone(),
            reason: format!("cannot open its tar-split metadata {}: {e}", path.display()),
        })?;
        let damaged = |e: tarsplit::Error| Error::Damaged {
            id: layer.id.clone(),
            reason: e.to_string(),
        };
        let entries = read_metadata(file).map_err(damaged)?;
        let own = DirSource::new(&self.driver.files_dir(&layer.id)).map_err(damaged)?;
        let mut source = LayerFiles {
            own,
            merged: None,
            store: self,
            id: &layer.id,
        };
        tarsplit::assemble(entries, &mut source, out).map_err(damaged)
    }

    /// The id of the layer to compare with: `from` resolved, or the parent.
    fn base(&self, layer: &Layer, from: Option<&str>) -> Result<Option<String>> {
        match from {
            Some(reference) => Ok(Some(self.layer(reference)?.id)),
            None => Ok(layer.parent.clone()),
        }
    }

    /// Runs `f` with the full trees of `base` (if any) and `layer`.
    fn with_trees<T>(
        &self,
        layer: &Layer,
        base: Option<&str>,
        f: impl FnOnce(Option<&std::path::Path>, &std::path::Path) -> Result<T>,
    ) -> Result<T> {
        let new = self.driver.view(&layer.id)?;
        let old = base.map(|id| self.driver.view(id)).transpose()?;
        f(old.as_ref().map(|v| v.path()), new.path())
    }
}

/// A layer's files for reassembly: from the layer's own directory, or, for
/// a name that reaches its file through a symlink only a parent layer has
/// (possible when the driver keeps only the layer's changes), from a view
/// of the whole tree. Either way the assembler checks each file against
/// its recorded checksum.
struct LayerFiles<'a> {
    own: DirSource,
    merged: Option<(View, DirSource)>,
    store: &'a Store,
    id: &'a str,
}

impl tarsplit::PayloadSource for LayerFiles<'_> {
    type Payload = File;

    fn open(&mut self, name: &[u8]) -> tarsplit::Result<(File, u64)> {
        match self.own.open(name) {
            Err(tarsplit::Error::MissingFile { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let merged = match &mut self.merged {
                    Some((_, merged)) => merged,
                    None => {
                        let view = self.store.driver.view(self.id).map_err(|e| {
                            tarsplit::Error::Io(std::io::Error::other(e.to_string()))
                        })?;
                        let source = DirSource::new(view.path())?;
                        &mut self.merged.insert((view, source)).1
                    }
                };
                merged.open(name)
            }
            other => other,
        }
    }
}

/// Fails loudly if rebuilt bytes do not hash to the recorded diff digest.
pub(crate) fn check_digest(layer: &Layer, actual: &Digest) -> Result<()> {
    match &layer.diff_digest {
        Some(expected) if expected != actual => Err(Error::DigestMismatch {
            id: layer.id.clone(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Progress is told at most once per this many bytes of a diff.
const STEP: u64 = 1 << 20;

/// Tells the progress of a diff's tar as it is written through it.
struct TellingWriter<'w, 'p> {
    inner: &'w mut dyn Write,
    progress: Option<TransferProgress<'p>>,
    /// The blob, when the tar is a known one.
    known: Option<(Digest, u64)>,
    done: u64,
    told: u64,
}

impl<'w, 'p> TellingWriter<'w, 'p> {
    fn new(
        inner: &'w mut dyn Write,
        progress: Option<TransferProgress<'p>>,
        known: Option<(Digest, u64)>,
    ) -> Self {
        if let (Some(progress), Some((digest, size))) = (progress, &known) {
            progress(&TransferEvent::Started {
                digest: digest.clone(),
                size: *size,
                resumed_at: 0,
            });
        }
        Self {
            inner,
            progress,
            known,
            done: 0,
            told: 0,
        }
    }

    /// Tells the bytes written since the last time, if any.
    fn flush_told(&mut self) {
        let Some(progress) = self.progress else {
            return;
        };
        if self.done == self.told {
            return;
        }
        self.told = self.done;
        let done = self.done;
        progress(&match &self.known {
            Some((digest, size)) => TransferEvent::Progress {
                digest: digest.clone(),
                done,
                size: *size,
            },
            None => TransferEvent::Written { done },
        });
    }
}

impl Write for TellingWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        if self.done - self.told >= STEP {
            self.flush_told();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

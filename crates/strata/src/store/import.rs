//! Making layers: empty ones, and ones filled from a tar stream.
//!
//! Import is one streaming pass (DESIGN §3): a reader thread hashes the
//! bytes as they arrive (compressed digest), detects and undoes their
//! compression and hashes the tar (diff digest); the calling thread
//! disassembles the tar, writing tar-split metadata and extracting members
//! into the layer's staging tree as they go. Memory stays flat at any
//! layer size and any number of entries: what grows with the entries (the
//! paths seen, for duplicates; the paths created, for opaque directories)
//! spills to unlinked files in the staging directory ([`crate::spill`]). The layer becomes visible only after one `syncfs`, the
//! renames that put data and metadata in place, and one short transaction.

use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};

use tarsplit::io::{GzipMetadataWriter, finish_gzip_metadata, gzip_metadata, read_metadata};
use tarsplit::metadata::EntryRef;
use tarsplit::{DisasmSink, Disassembler, Member, Superseded};

use super::import_streams::{DEPTH, Streams, Vouched, read_streams};
use super::layer::{Layer, now_rfc3339};
use super::records::{self, Contents, NewRow};
use super::{Store, TAR_SPLIT, leases};
use crate::archive::apply::{Applier, ApplyError, ApplyOptions, ApplyReport};
use crate::compression::Compression;
use crate::digest::Digest;
use crate::driver::{Prepared, View};
use crate::error::{Error, IoContext, Result};
use crate::fs::durable::{StagedFile, create_new, rename_durable, syncfs};
use crate::fs::random_hex;
use crate::fs::workdir::WorkDir;
use crate::idmap::IdMap;
use crate::spill::{SeenOnDisk, SpillMap};

/// What a new layer is.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The id to give it (64 hex digits); random when absent.
    pub id: Option<String>,
    /// The layer it goes on top of (id, name or id prefix).
    pub parent: Option<String>,
    /// Names to give it (taken from other layers that have them).
    pub names: Vec<String>,
    /// Free-form data of the caller.
    pub metadata: String,
    /// User ids to map (container → host) when extracting.
    pub uid_map: IdMap,
    /// Group ids to map when extracting.
    pub gid_map: IdMap,
    /// Whether it is a writable (container) layer.
    pub read_write: bool,
    /// A lease to hold the layer once it is made (see [`crate::store::Lease`]).
    pub lease: Option<String>,
    /// The digest the uncompressed tar must have; the import fails (and
    /// leaves nothing) otherwise.
    pub expect_diff_digest: Option<Digest>,
}

/// Called with the number of input bytes read so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

impl Store {
    /// Makes an empty layer (a copy of its parent's tree, if it has one).
    pub fn create_layer(&self, options: &CreateOptions) -> Result<Layer> {
        self.make_layer(options, |_prepared, _work| {
            Ok(Contents {
                diff_digest: None,
                diff_size: None,
                compressed_digest: None,
                compressed_size: None,
                compression: Compression::None,
                uid_set: Vec::new(),
                gid_set: Vec::new(),
                has_tar_split: false,
            })
        })
    }

    /// Makes a layer from a tar stream (uncompressed, gzip, zstd, xz or
    /// bzip2, told apart by magic bytes).
    pub fn import_layer(
        &self,
        options: &CreateOptions,
        input: &mut (dyn Read + Send),
        progress: Option<Progress<'_>>,
    ) -> Result<Layer> {
        self.make_layer(options, |prepared, work| {
            import_tar(prepared, work, options, input, progress, None)
        })
    }

    /// [`Store::import_layer`] of a compressed blob whose reads fail
    /// unless its bytes are `vouched` (a pull's download): the blob is not
    /// hashed again, only its length checked.
    pub(crate) fn import_layer_vouched(
        &self,
        options: &CreateOptions,
        input: &mut (dyn Read + Send),
        vouched: &Vouched,
    ) -> Result<Layer> {
        self.make_layer(options, |prepared, work| {
            import_tar(prepared, work, options, input, None, Some(vouched))
        })
    }

    /// Whether this store's driver extracts layers ahead of their parents
    /// ([`Store::import_layer_ahead`]).
    pub(crate) fn extracts_ahead(&self) -> bool {
        self.driver.extracts_ahead()
    }

    /// [`Store::import_layer`] of a layer whose parent (`options.parent`,
    /// a full id) is still being made, by this process: on drivers whose
    /// tree holds only a layer's own changes (overlay), the tar is
    /// extracted at once, then `parent_made` waits for the parent, and the
    /// layer is published on it. Fails with [`Error::NeedsParent`], leaving
    /// nothing, when the extraction needs the parent's files (the caller
    /// then waits for the parent and imports normally); with the error of
    /// `parent_made` when the parent is not made. On other drivers, waits
    /// for the parent first.
    pub(crate) fn import_layer_ahead(
        &self,
        options: &CreateOptions,
        input: &mut (dyn Read + Send),
        vouched: &Vouched,
        parent_made: &dyn Fn() -> Result<()>,
    ) -> Result<Layer> {
        let id = new_layer_id(options)?;
        let work = WorkDir::create(&self.staging_dir())?;
        let extracted = (|| {
            let Some(prepared) = self.driver.prepare_ahead(work.path())? else {
                return Ok(None);
            };
            let contents = import_tar(&prepared, &work, options, input, None, Some(vouched))?;
            parent_made()?;
            Ok(Some(contents))
        })();
        let contents = match extracted {
            Ok(Some(contents)) => contents,
            Ok(None) => {
                work.remove()?;
                parent_made()?;
                return self.import_layer_vouched(options, input, vouched);
            }
            Err(e) => {
                work.remove()?;
                return Err(e);
            }
        };
        self.with_row(&id, options, work, |work, parent| {
            self.driver.attach_parent(work.path(), parent)?;
            self.publish(&id, options, work, contents)
        })
    }

    /// The life cycle shared by every way of making a layer: a `creating`
    /// row owned by a locked staging directory, the data prepared there,
    /// then published; on failure every trace is removed. Returns the
    /// layer as it was published (an unnamed layer nothing uses may be
    /// collected by a concurrent gc right after).
    fn make_layer(
        &self,
        options: &CreateOptions,
        fill: impl FnOnce(&Prepared, &WorkDir) -> Result<Contents>,
    ) -> Result<Layer> {
        let id = new_layer_id(options)?;
        let work = WorkDir::create(&self.staging_dir())?;
        self.with_row(&id, options, work, |work, parent| {
            self.fill_and_publish(&id, parent, options, work, fill)
        })
    }

    /// Inserts layer `id`'s `creating` row, owned by `work`, then `finish`
    /// (given the parent's id) puts the data in place and publishes it; on
    /// failure every trace goes.
    fn with_row(
        &self,
        id: &str,
        options: &CreateOptions,
        work: WorkDir,
        finish: impl FnOnce(&WorkDir, Option<&str>) -> Result<Layer>,
    ) -> Result<Layer> {
        let parent = match self.insert_row(id, options, &work) {
            Ok(parent) => parent,
            Err(e) => {
                work.remove()?;
                return Err(e);
            }
        };
        match finish(&work, parent.as_deref()) {
            Ok(layer) => {
                work.remove()?;
                Ok(layer)
            }
            Err(e) => {
                // The row and whatever was put in place go; the error that
                // caused it is the one worth reporting.
                let _ = self.discard(id, Some(work));
                Err(e)
            }
        }
    }

    /// Inserts the `creating` row, checking the parent inside the same
    /// transaction; returns the parent's id.
    fn insert_row(
        &self,
        id: &str,
        options: &CreateOptions,
        work: &WorkDir,
    ) -> Result<Option<String>> {
        let to_json = |map: &IdMap| serde_json::to_string(map).unwrap_or_else(|_| "[]".into());
        self.write(|conn| {
            let parent = match &options.parent {
                Some(reference) => Some(records::resolve(conn, reference)?),
                None => None,
            };
            let row = NewRow {
                id,
                parent: parent.as_deref(),
                metadata: &options.metadata,
                uid_map: to_json(&options.uid_map),
                gid_map: to_json(&options.gid_map),
                read_write: options.read_write,
                work_dir: work.name(),
            };
            records::insert_creating(conn, &row, &now_rfc3339())?;
            Ok(parent)
        })
    }

    fn fill_and_publish(
        &self,
        id: &str,
        parent: Option<&str>,
        options: &CreateOptions,
        work: &WorkDir,
        fill: impl FnOnce(&Prepared, &WorkDir) -> Result<Contents>,
    ) -> Result<Layer> {
        let prepared = self.driver.prepare(work.path(), parent)?;
        let contents = fill(&prepared, work)?;
        drop(prepared);
        self.publish(id, options, work, contents)
    }

    /// Publishes the layer prepared and filled in `work` (its `creating`
    /// row in place): checks its diff digest, makes it durable, moves it
    /// into place and marks it ready.
    fn publish(
        &self,
        id: &str,
        options: &CreateOptions,
        work: &WorkDir,
        contents: Contents,
    ) -> Result<Layer> {
        if let (Some(expected), Some(actual)) = (&options.expect_diff_digest, &contents.diff_digest)
            && expected != actual
        {
            return Err(Error::ContentMismatch {
                what: format!("the diff id of layer {id}"),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        syncfs(work.path())?;
        self.driver.commit(work.path(), id)?;
        let meta = work.path().join(META);
        if meta.exists() {
            rename_durable(&meta, &self.meta_dir(id))?;
        }
        self.write(|conn| {
            records::make_ready(conn, id, &contents)?;
            if let Some(lease) = &options.lease {
                leases::hold(conn, lease, id, true)?;
            }
            records::add_names(conn, id, &options.names)?;
            // Read back in the same transaction: an unnamed layer nothing
            // uses is garbage, and a collector running right after the
            // commit may take it before the caller could look it up.
            records::get(conn, id)?.ok_or_else(|| Error::LayerNotFound(id.to_string()))
        })
    }
}

/// The id a new layer gets (`options.id`, else a random one), once it and
/// the names asked for are checked.
fn new_layer_id(options: &CreateOptions) -> Result<String> {
    let id = match &options.id {
        Some(id) if records::is_id(id) => id.clone(),
        Some(id) => return Err(Error::InvalidId(id.clone())),
        None => random_hex(32),
    };
    for name in &options.names {
        records::check_name(name)?;
    }
    Ok(id)
}

/// Name of the directory in a staging work dir that becomes `layers/<id>`.
const META: &str = "meta";
/// Where superseded files are set aside during extraction.
const ASIDE: &str = "aside";

fn import_tar(
    prepared: &Prepared,
    work: &WorkDir,
    options: &CreateOptions,
    input: &mut (dyn Read + Send),
    progress: Option<Progress<'_>>,
    vouched: Option<&Vouched>,
) -> Result<Contents> {
    let meta = work.path().join(META);
    let aside = work.path().join(ASIDE);
    for dir in [&meta, &aside] {
        std::fs::create_dir(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let tar_split = meta.join(TAR_SPLIT);
    let file = create_new(&tar_split)?;
    let applier = Applier::new(
        &prepared.tree,
        ApplyOptions {
            uid_map: options.uid_map.clone(),
            gid_map: options.gid_map.clone(),
            whiteouts: prepared.whiteouts,
            aside_dir: Some(aside),
            lower: prepared.lower.as_ref().and_then(View::fd),
            lower_later: prepared.lower_later,
            overlay_calls: None,
            spill_dir: Some(work.path().to_path_buf()),
        },
    )
    .map_err(Error::Apply)?;
    let mut sink = ImportSink {
        metadata: gzip_metadata(BufWriter::new(file)),
        applier,
        failed: None,
    };
    let seen = SeenOnDisk(SpillMap::new(work.path()));
    let piped = run_pipeline(input, &mut sink, seen, progress, vouched);
    if sink.applier.needs_lower() {
        // Extracted ahead of its parent, and it needs the parent's files.
        return Err(Error::NeedsParent(options.id.clone().unwrap_or_default()));
    }
    let (summary, streams) = piped?;
    // Flushed to disk by the syncfs that publishes the layer.
    finish_gzip_metadata(sink.metadata)?
        .into_inner()
        .map_err(|e| e.into_error())
        .context(|| format!("cannot write {}", tar_split.display()))?;
    let report = sink.applier.finish().map_err(Error::Apply)?;
    if !summary.superseded.is_empty() {
        inline_superseded(&tar_split, &summary.superseded, &report)?;
    }
    Ok(Contents {
        diff_digest: Some(streams.diff.0),
        diff_size: Some(streams.diff.1),
        compressed_digest: Some(streams.compressed.0),
        compressed_size: Some(streams.compressed.1),
        compression: streams.compression,
        uid_set: report.uids.iter().copied().collect(),
        gid_set: report.gids.iter().copied().collect(),
        has_tar_split: true,
    })
}

/// Reader thread → disassembler and extractor on this thread.
fn run_pipeline(
    input: &mut (dyn Read + Send),
    sink: &mut ImportSink,
    seen: SeenOnDisk,
    progress: Option<Progress<'_>>,
    vouched: Option<&Vouched>,
) -> Result<(tarsplit::Summary, Streams)> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
        let reader = scope.spawn(move || read_streams(input, tx, progress, vouched));
        let consumed = consume(rx, sink, seen);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(Error::Invalid("the reader thread panicked".into())));
        match (consumed, read) {
            (Ok(summary), Ok(streams)) => Ok((summary, streams)),
            (Err(e), Err(Error::Io { source, .. }))
                if source.kind() == io::ErrorKind::BrokenPipe =>
            {
                Err(sink.take_failure().unwrap_or_else(|| e.into()))
            }
            (_, Err(read_error)) => Err(read_error),
            (Err(e), Ok(_)) => Err(sink.take_failure().unwrap_or_else(|| e.into())),
        }
    })
}

/// Disassembles and extracts the chunks until the reader stops; dropping
/// the receiver on an early error stops the reader too.
fn consume(
    chunks: Receiver<Vec<u8>>,
    sink: &mut ImportSink,
    seen: SeenOnDisk,
) -> tarsplit::Result<tarsplit::Summary> {
    let mut disasm = Disassembler::default()
        .whiteouts_supersede()
        .seen_in(Box::new(seen));
    for chunk in chunks {
        disasm.feed(&chunk, sink)?;
    }
    disasm.finish(sink)
}

/// Writes tar-split metadata and extracts members as the disassembler
/// finds them.
struct ImportSink {
    metadata: GzipMetadataWriter<BufWriter<File>>,
    applier: Applier,
    /// The extraction error behind a failed disassembly, if that was the cause.
    failed: Option<ApplyError>,
}

impl ImportSink {
    fn fail(&mut self, error: ApplyError) -> tarsplit::Error {
        let message = error.to_string();
        self.failed = Some(error);
        tarsplit::Error::Io(io::Error::other(message))
    }

    fn take_failure(&mut self) -> Option<Error> {
        self.failed.take().map(Error::Apply)
    }
}

impl DisasmSink for ImportSink {
    fn entry(&mut self, entry: EntryRef<'_>) -> tarsplit::Result<()> {
        Ok(self.metadata.write(entry)?)
    }

    fn member(&mut self, member: &Member, supersedes: Option<Superseded>) -> tarsplit::Result<()> {
        self.applier
            .begin(member, supersedes.map(|s| s.position))
            .map_err(|e| self.fail(e))
    }

    fn data(&mut self, bytes: &[u8]) -> tarsplit::Result<()> {
        self.applier.data(bytes).map_err(|e| self.fail(e))
    }

    fn member_end(&mut self) -> tarsplit::Result<()> {
        self.applier.end().map_err(|e| self.fail(e))
    }
}

/// Files set aside during extraction, by the position of their member.
struct AsidePayloads<'a>(&'a [(u64, PathBuf)]);

impl tarsplit::inline::SupersededPayloads for AsidePayloads<'_> {
    fn open(&mut self, superseded: &Superseded) -> tarsplit::Result<Box<dyn Read + '_>> {
        let path = self
            .0
            .iter()
            .find(|(p, _)| *p == superseded.position)
            .map(|(_, path)| path);
        let unkept = || {
            tarsplit::Error::Io(io::Error::other(format!(
                "the earlier copy of a duplicated path (entry {}) was not kept",
                superseded.position
            )))
        };
        let file = File::open(path.ok_or_else(unkept)?)?;
        if file.metadata()?.len() != superseded.data_len {
            return Err(unkept());
        }
        Ok(Box::new(file))
    }
}

/// Second pass for layers that repeat a path: the payloads of earlier
/// occurrences go into the metadata.
fn inline_superseded(
    tar_split: &Path,
    superseded: &[Superseded],
    report: &ApplyReport,
) -> Result<()> {
    let dir = tar_split.parent().unwrap_or(Path::new("."));
    let mut rewritten = StagedFile::create_in(dir)?;
    let out = rewritten
        .file()
        .try_clone()
        .context(|| format!("cannot write {}", tar_split.display()))?;
    write_inlined(tar_split, superseded, report, out)?;
    rewritten.publish(TAR_SPLIT)
}

/// The tar-split at `tar_split` with superseded payloads inlined, into `out`.
fn write_inlined(
    tar_split: &Path,
    superseded: &[Superseded],
    report: &ApplyReport,
    out: File,
) -> Result<()> {
    let mut writer = gzip_metadata(BufWriter::new(out));
    let entries = read_metadata(
        File::open(tar_split).context(|| format!("cannot read {}", tar_split.display()))?,
    )?;
    tarsplit::inline::inline_superseded(
        entries,
        superseded,
        &mut AsidePayloads(&report.aside),
        &mut writer,
    )?;
    finish_gzip_metadata(writer)?
        .into_inner()
        .map_err(|e| e.into_error())
        .context(|| format!("cannot write {}", tar_split.display()))?;
    Ok(())
}

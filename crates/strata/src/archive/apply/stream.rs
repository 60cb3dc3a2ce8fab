//! [`apply_tar`]: a whole tar from a reader, through tarsplit's
//! disassembler, into an [`Applier`].

use std::io::Read;
use std::path::Path;

use tarsplit::Superseded;
use tarsplit::member::Member;
use tarsplit::metadata::EntryRef;

use super::{Applier, ApplyError, ApplyOptions, ApplyReport};

/// Applies every member of the tar read from `tar` beneath `root` (parsed
/// with tarsplit's disassembler, which also tells which earlier member a
/// duplicate path supersedes), then [`Applier::finish`]es.
pub fn apply_tar<R: Read>(
    root: &Path,
    tar: R,
    options: ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let mut sink = TarSink {
        applier: Applier::new(root, options)?,
        failed: None,
    };
    let parsed = tarsplit::io::disassemble(tar, &mut sink, None);
    if let Some(error) = sink.failed.take() {
        return Err(error);
    }
    parsed.map_err(crate::error::TarSplitError::from)?;
    sink.applier.finish()
}

/// Feeds a disassembler's members to an [`Applier`]; the metadata entries
/// are dropped.
struct TarSink {
    applier: Applier,
    /// The applier's error, when it stopped the disassembly.
    failed: Option<ApplyError>,
}

impl TarSink {
    fn forward(
        &mut self,
        step: impl FnOnce(&mut Applier) -> Result<(), ApplyError>,
    ) -> tarsplit::Result<()> {
        step(&mut self.applier).map_err(|e| {
            self.failed = Some(e);
            tarsplit::Error::Io(std::io::Error::other("applying the layer failed"))
        })
    }
}

impl tarsplit::DisasmSink for TarSink {
    fn entry(&mut self, _entry: EntryRef<'_>) -> tarsplit::Result<()> {
        Ok(())
    }

    fn member(&mut self, member: &Member, supersedes: Option<Superseded>) -> tarsplit::Result<()> {
        self.forward(|a| a.begin(member, supersedes.map(|s| s.position)))
    }

    fn data(&mut self, bytes: &[u8]) -> tarsplit::Result<()> {
        self.forward(|a| a.data(bytes))
    }

    fn member_end(&mut self) -> tarsplit::Result<()> {
        self.forward(Applier::end)
    }
}

//! Progress of the transfers that do not talk to a registry — loads,
//! saves, copies between archives and layouts, diffs — told as the same
//! per-blob [`TransferEvent`]s a pull or push tells: `Started`, then
//! `Progress` as bytes go by (at most once per [`STEP`] bytes, and once at
//! the end), then `Done`; `Skipped` for a blob the destination had.
//!
//! The counting happens in readers and writers wrapped around the bytes
//! that really move, so the last `Progress` of a blob says how many bytes
//! of it were read or written, which is its size when all went well.

use std::io::{self, Read, Write};

use super::TransferEvent;
use super::registry::TransferProgress;
use super::save::{LayerBlob, LayerTars};
use crate::digest::Digest;
use crate::error::Result;

/// Progress is told at most once per this many bytes of one blob.
pub(crate) const STEP: u64 = 1 << 20;

/// Tells `event` to `progress`, if any.
pub(crate) fn emit(progress: Option<TransferProgress<'_>>, event: TransferEvent) {
    if let Some(progress) = progress {
        progress(&event);
    }
}

/// Counts the bytes of one blob as they pass and tells them.
struct Counter<'a> {
    progress: TransferProgress<'a>,
    digest: Digest,
    size: u64,
    done: u64,
    told: u64,
}

impl<'a> Counter<'a> {
    /// Tells `Started` for the blob `digest` of `size` bytes; counts from
    /// nothing.
    fn start(progress: TransferProgress<'a>, digest: Digest, size: u64) -> Self {
        progress(&TransferEvent::Started {
            digest: digest.clone(),
            size,
            resumed_at: 0,
        });
        Counter {
            progress,
            digest,
            size,
            done: 0,
            told: 0,
        }
    }

    fn add(&mut self, n: usize) {
        self.done += n as u64;
        if self.done - self.told >= STEP || (self.done >= self.size && self.done > self.told) {
            self.tell();
        }
    }

    fn tell(&mut self) {
        self.told = self.done;
        (self.progress)(&TransferEvent::Progress {
            digest: self.digest.clone(),
            done: self.done,
            size: self.size,
        });
    }

    /// Tells what was counted since the last time, if anything.
    fn flush(&mut self) {
        if self.done > self.told {
            self.tell();
        }
    }
}

/// A reader that tells the progress of the blob it reads.
pub(crate) struct CountingReader<'a, R> {
    inner: R,
    counter: Counter<'a>,
}

impl<'a, R: Read> CountingReader<'a, R> {
    /// Tells `Started` for the blob `digest` of `size` bytes, then counts
    /// what is read from `inner`.
    pub(crate) fn start(
        inner: R,
        progress: TransferProgress<'a>,
        digest: Digest,
        size: u64,
    ) -> Self {
        Self {
            inner,
            counter: Counter::start(progress, digest, size),
        }
    }
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.counter.flush();
        }
        self.counter.add(n);
        Ok(n)
    }
}

impl<R> Drop for CountingReader<'_, R> {
    fn drop(&mut self) {
        self.counter.flush();
    }
}

/// A writer that tells the progress of the blob written through it.
pub(crate) struct CountingWriter<'a, 'w> {
    inner: &'w mut dyn Write,
    counter: Counter<'a>,
}

impl<'a, 'w> CountingWriter<'a, 'w> {
    /// Tells `Started` for the blob `digest` of `size` bytes, then counts
    /// what is written to `inner`.
    pub(crate) fn start(
        inner: &'w mut dyn Write,
        progress: TransferProgress<'a>,
        digest: Digest,
        size: u64,
    ) -> Self {
        Self {
            inner,
            counter: Counter::start(progress, digest, size),
        }
    }

    /// Tells the last bytes counted and `Done`.
    pub(crate) fn done(mut self) {
        self.counter.flush();
        (self.counter.progress)(&TransferEvent::Done {
            digest: self.counter.digest.clone(),
            size: self.counter.size,
        });
    }
}

impl Write for CountingWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.counter.add(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader of an archive being copied aside: tells how much was read, as
/// [`TransferEvent::Spooled`], at most once per [`STEP`] bytes and at its
/// end.
pub(crate) struct SpoolReader<'a, R> {
    inner: R,
    progress: TransferProgress<'a>,
    done: u64,
    told: u64,
}

impl<'a, R: Read> SpoolReader<'a, R> {
    pub(crate) fn new(inner: R, progress: TransferProgress<'a>) -> Self {
        Self {
            inner,
            progress,
            done: 0,
            told: 0,
        }
    }
}

impl<R: Read> Read for SpoolReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.told >= STEP || (n == 0 && self.done > self.told) {
            self.told = self.done;
            (self.progress)(&TransferEvent::Spooled { done: self.done });
        }
        Ok(n)
    }
}

/// Layer tars that tell the progress of each layer as it is written, one
/// blob per layer, named by the digest it is saved under.
pub(crate) struct ReportingLayers<'a> {
    /// Where the tars come from.
    pub inner: &'a dyn LayerTars,
    /// Who is told.
    pub progress: Option<TransferProgress<'a>>,
}

impl LayerTars for ReportingLayers<'_> {
    fn write_layer(&self, layer: &LayerBlob, out: &mut dyn Write) -> Result<()> {
        let Some(progress) = self.progress else {
            return self.inner.write_layer(layer, out);
        };
        let mut counting = CountingWriter::start(out, progress, layer.diff_id.clone(), layer.size);
        self.inner.write_layer(layer, &mut counting)?;
        counting.done();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn a_reader_tells_every_byte_once_and_at_most_once_per_step() {
        let events = Mutex::new(Vec::new());
        let record = |event: &TransferEvent| events.lock().expect("lock").push(event.clone());
        let size = 3 * STEP + 5;
        let data = vec![7u8; size as usize];
        let digest = Digest::of(&data);
        let mut reader = CountingReader::start(&data[..], &record, digest.clone(), size);
        let mut sink = Vec::new();
        io::copy(&mut reader, &mut sink).expect("copy");
        drop(reader);
        let events = events.into_inner().expect("lock");
        assert_eq!(
            events[0],
            TransferEvent::Started {
                digest: digest.clone(),
                size,
                resumed_at: 0
            }
        );
        let dones: Vec<u64> = events[1..]
            .iter()
            .map(|e| match e {
                TransferEvent::Progress { done, .. } => *done,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(dones.last(), Some(&size));
        assert!(dones.windows(2).all(|w| w[0] < w[1]), "{dones:?}");
        assert!(dones.len() <= 5, "{dones:?}");
    }
}

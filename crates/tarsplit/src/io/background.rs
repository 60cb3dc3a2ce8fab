//! Two-stage pipelines for the two cores these stores usually get: a writer
//! whose bytes are written (and compressed) on another thread, and metadata
//! entries read (inflated and parsed) on another thread.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::error::Result;
use crate::metadata::{Entry, MetadataReader};

/// Bytes handed to the writer thread at a time.
const CHUNK: usize = 256 << 10;
/// Chunks or batches in flight between the threads.
const DEPTH: usize = 4;
/// Entries handed over at a time.
const BATCH: usize = 512;

/// A writer that hands its bytes to a thread which writes them to the inner
/// writer. Call [`BackgroundWriter::finish`] to get the inner writer back and
/// see any error the thread met.
pub struct BackgroundWriter<W: Write + Send + 'static> {
    buf: Vec<u8>,
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> BackgroundWriter<W> {
    /// Starts the writer thread.
    pub fn new(mut inner: W) -> Self {
        let (tx, rx): (SyncSender<Vec<u8>>, Receiver<Vec<u8>>) = sync_channel(DEPTH);
        let thread = std::thread::spawn(move || {
            for chunk in rx {
                inner.write_all(&chunk)?;
            }
            inner.flush()?;
            Ok(inner)
        });
        Self {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok());
        if sent {
            return Ok(());
        }
        self.tx = None;
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("writer thread stopped")),
        }
    }

    fn join(&mut self) -> io::Result<W> {
        let thread = self
            .thread
            .take()
            .ok_or_else(|| io::Error::other("writer thread already joined"))?;
        thread
            .join()
            .map_err(|_| io::Error::other("writer thread panicked"))?
    }

    /// Writes what is buffered, stops the thread and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.tx = None;
        self.join()
    }
}

impl<W: Write + Send + 'static> Write for BackgroundWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Metadata entries parsed on another thread, yielded in order.
pub struct BackgroundEntries {
    rx: Receiver<Vec<Result<Entry>>>,
    batch: std::vec::IntoIter<Result<Entry>>,
}

impl BackgroundEntries {
    /// Starts a thread that reads `entries` and hands them over in batches.
    pub fn new<R: Read + Send + 'static>(entries: MetadataReader<R>) -> Self {
        let (tx, rx) = sync_channel(DEPTH);
        std::thread::spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for entry in entries {
                let failed = entry.is_err();
                batch.push(entry);
                if (batch.len() >= BATCH || failed) && tx.send(std::mem::take(&mut batch)).is_err()
                {
                    return;
                }
                if failed {
                    return;
                }
            }
            let _ = tx.send(batch);
        });
        Self {
            rx,
            batch: Vec::new().into_iter(),
        }
    }
}

impl Iterator for BackgroundEntries {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.batch.next() {
                return Some(entry);
            }
            match self.rx.recv() {
                Ok(batch) => self.batch = batch.into_iter(),
                Err(_) => return None,
            }
        }
    }
}

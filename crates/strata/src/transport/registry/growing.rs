//! A file one thread appends to while another reads it: the downloader
//! writes a blob's bytes as they arrive, and the layer import reads them
//! behind it, waiting at the end until more come or the download ends.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex};

/// The shared state of one growing file.
#[derive(Default)]
pub(crate) struct Growing {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    file: Option<Arc<File>>,
    written: u64,
    /// Set when the writer stops: `Ok` at the end, `Err` with why.
    done: Option<Result<(), String>>,
}

impl Growing {
    /// The writer has the file, holding `written` bytes already.
    pub fn start(&self, file: Arc<File>, written: u64) {
        let mut state = self.lock();
        state.file = Some(file);
        state.written = written;
        self.changed.notify_all();
    }

    /// `n` more bytes are in the file.
    pub fn advance(&self, n: u64) {
        self.lock().written += n;
        self.changed.notify_all();
    }

    /// The writer stopped.
    pub fn finish(&self, outcome: Result<(), String>) {
        let mut state = self.lock();
        if state.done.is_none() {
            state.done = Some(outcome);
        }
        self.changed.notify_all();
    }

    /// Waits until the writer stops; `Ok` when the whole file is written
    /// and checked.
    pub fn wait_done(&self) -> Result<(), String> {
        let mut state = self.lock();
        loop {
            if let Some(done) = &state.done {
                return done.clone();
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A reader from the start of the file.
    pub fn reader(self: &Arc<Self>) -> GrowingReader {
        GrowingReader {
            growing: Arc::clone(self),
            position: 0,
        }
    }
}

/// Reads a growing file from its start, blocking at its current end.
pub(crate) struct GrowingReader {
    growing: Arc<Growing>,
    position: u64,
}

impl Read for GrowingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (file, available) = {
            let mut state = self.growing.lock();
            loop {
                if let Some(file) = &state.file
                    && state.written > self.position
                {
                    break (Arc::clone(file), state.written - self.position);
                }
                match &state.done {
                    Some(Ok(())) => return Ok(0),
                    Some(Err(reason)) => return Err(io::Error::other(reason.clone())),
                    None => {}
                }
                state = self
                    .growing
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
        };
        let want = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let n = file.read_at(&mut buf[..want], self.position)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the download file is shorter than what was written to it",
            ));
        }
        self.position += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_reader_follows_the_writer_to_the_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut file = File::create(dir.path().join("f")).expect("create");
        file.write_all(b"abc").expect("write");
        let shared = Arc::new(File::open(dir.path().join("f")).expect("open"));
        let growing = Arc::new(Growing::default());
        let mut reader = growing.reader();
        let writer = {
            let growing = Arc::clone(&growing);
            std::thread::spawn(move || {
                growing.start(shared, 3);
                for _ in 0..100 {
                    file.write_all(b"0123456789").expect("write");
                    growing.advance(10);
                }
                growing.finish(Ok(()));
            })
        };
        let mut all = Vec::new();
        reader.read_to_end(&mut all).expect("read");
        writer.join().expect("join");
        assert_eq!(all.len(), 1003);
        assert!(all.starts_with(b"abc0123"));
    }

    #[test]
    fn a_failed_writer_fails_the_reader() {
        let growing = Arc::new(Growing::default());
        growing.finish(Err("cut".into()));
        let error = growing.reader().read(&mut [0; 4]).expect_err("fails");
        assert_eq!(error.to_string(), "cut");
    }
}

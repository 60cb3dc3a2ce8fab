//! A reader fed by a producer thread: the bytes a function writes arrive
//! as the reader's input, and if the function fails, the reader fails
//! with its error instead of ending — so a consumer (an upload) can never
//! take a producer's failure for the end of the data.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

/// Bytes handed over per message.
const PIECE: usize = 256 << 10;

/// Messages in flight between the threads.
const DEPTH: usize = 4;

/// Runs `produce` on a thread of `scope`, writing into the returned
/// reader. When the reader is dropped early, `produce`'s writes fail.
pub(super) fn spawn_producer<'scope, F>(scope: &'scope Scope<'scope, '_>, produce: F) -> Produced
where
    F: FnOnce(&mut dyn Write) -> crate::error::Result<()> + Send + 'scope,
{
    let (sender, receiver) = sync_channel(DEPTH);
    scope.spawn(move || {
        let mut writer = PieceWriter {
            sender: sender.clone(),
            piece: Vec::with_capacity(PIECE),
        };
        let produced = produce(&mut writer).and_then(|()| {
            writer.flush().map_err(|e| crate::error::Error::Io {
                context: "cannot hand over the produced bytes".into(),
                source: e,
            })
        });
        let end = match produced {
            Ok(()) => Message::End,
            Err(e) => Message::Failed(e.to_string()),
        };
        let _ = sender.send(end);
    });
    Produced {
        receiver,
        current: Vec::new(),
        at: 0,
        ended: false,
    }
}

enum Message {
    Bytes(Vec<u8>),
    End,
    Failed(String),
}

struct PieceWriter {
    sender: SyncSender<Message>,
    piece: Vec<u8>,
}

impl Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = PIECE - self.piece.len();
        let n = room.min(buf.len());
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == PIECE {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(PIECE));
        self.sender
            .send(Message::Bytes(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
    }
}

/// The reading end of [`spawn_producer`].
pub(super) struct Produced {
    receiver: Receiver<Message>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for Produced {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.receiver.recv() {
                Ok(Message::Bytes(piece)) => {
                    self.current = piece;
                    self.at = 0;
                }
                Ok(Message::End) => self.ended = true,
                Ok(Message::Failed(reason)) => return Err(io::Error::other(reason)),
                Err(_) => return Err(io::Error::other("the producer stopped without a word")),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_everything_written() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let read = std::thread::scope(|scope| {
            let mut reader = spawn_producer(scope, |out| {
                out.write_all(&data).map_err(|e| crate::error::Error::Io {
                    context: "test".into(),
                    source: e,
                })
            });
            let mut read = Vec::new();
            reader.read_to_end(&mut read).map(|_| read)
        });
        assert_eq!(read.expect("read"), data);
    }

    #[test]
    fn a_failed_producer_fails_the_reader() {
        let read = std::thread::scope(|scope| {
            let mut reader = spawn_producer(scope, |out| {
                out.write_all(b"partial")
                    .map_err(|e| crate::error::Error::Io {
                        context: "test".into(),
                        source: e,
                    })?;
                Err(crate::error::Error::Invalid("the layer is damaged".into()))
            });
            let mut read = Vec::new();
            reader.read_to_end(&mut read)
        });
        let error = read.expect_err("must fail");
        assert!(
            error.to_string().contains("the layer is damaged"),
            "{error}"
        );
    }

    #[test]
    fn dropping_the_reader_stops_the_producer() {
        let produced = std::thread::scope(|scope| {
            let (done, outcome) = std::sync::mpsc::channel();
            let reader = spawn_producer(scope, move |out| {
                let result = (0..10_000).try_for_each(|_| out.write_all(&[7u8; 65536]));
                let _ = done.send(result.is_err());
                Ok(())
            });
            drop(reader);
            outcome.recv().expect("producer reports")
        });
        assert!(produced, "writes after the reader is gone must fail");
    }
}

//! Reads metadata entries from a stream of JSON values, leniently as Go's
//! decoder does: any whitespace between values, unknown keys ignored,
//! `payload` empty or `null`, `size` absent, an empty last segment. Values
//! are parsed straight from a refilled buffer, so memory stays bounded by
//! the largest single entry.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{Entry, FILE_TYPE, SEGMENT_TYPE};
use crate::error::{Error, Result};

/// Largest single entry accepted, in bytes of JSON.
const MAX_ENTRY: usize = 16 << 20;
const READ_CHUNK: usize = 256 << 10;

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name_raw: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<i64>,
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
}

/// Iterates over the entries of a metadata stream.
pub struct MetadataReader<R: Read> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    index: u64,
}

impl<R: Read> MetadataReader<R> {
    /// Reads uncompressed JSON from `input`.
    pub fn new(input: R) -> Self {
        Self {
            input,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            index: 0,
        }
    }

    fn refill(&mut self) -> Result<()> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        if self.buf.len() > MAX_ENTRY {
            return Err(self.error(format!("entry longer than {MAX_ENTRY} bytes")));
        }
        let start = self.buf.len();
        self.buf.resize(start + READ_CHUNK, 0);
        let n = loop {
            match self.input.read(&mut self.buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e.into());
                }
            }
        };
        self.buf.truncate(start + n);
        self.eof = n == 0;
        Ok(())
    }

    fn error(&self, reason: String) -> Error {
        Error::Metadata {
            entry: self.index,
            reason,
        }
    }

    fn next_entry(&mut self) -> Result<Option<Entry>> {
        loop {
            let slice = &self.buf[self.pos..];
            let mut values =
                serde_json::Deserializer::from_slice(slice).into_iter::<RawEntry<'_>>();
            match values.next() {
                Some(Ok(raw)) => {
                    let used = values.byte_offset();
                    let entry = convert(raw).map_err(|reason| self.error(reason));
                    self.pos += used;
                    self.index += 1;
                    return entry.map(Some);
                }
                Some(Err(e)) if e.is_eof() && !self.eof => self.refill()?,
                Some(Err(e)) => return Err(self.error(e.to_string())),
                None if self.eof => return Ok(None),
                None => self.refill()?,
            }
        }
    }
}

impl<R: Read> Iterator for MetadataReader<R> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("{field} is not valid base64: {e}"))
}

fn convert(raw: RawEntry<'_>) -> Result<Entry, String> {
    let payload = match raw.payload.as_deref() {
        Some(text) => decode("payload", text)?,
        None => Vec::new(),
    };
    match raw.kind {
        SEGMENT_TYPE => Ok(Entry::Segment(payload)),
        FILE_TYPE => {
            let name = match (raw.name_raw.as_deref(), raw.name) {
                (Some(b64), _) if !b64.is_empty() => decode("name_raw", b64)?,
                (_, Some(name)) => name.into_owned().into_bytes(),
                _ => Vec::new(),
            };
            let size =
                u64::try_from(raw.size.unwrap_or(0)).map_err(|_| "negative size".to_string())?;
            let crc = match payload.len() {
                0 => None,
                8 => {
                    let mut crc = [0u8; 8];
                    crc.copy_from_slice(&payload);
                    Some(crc)
                }
                n => return Err(format!("file checksum is {n} bytes, expected 8")),
            };
            Ok(Entry::File { name, size, crc })
        }
        other => Err(format!("unknown entry type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8]) -> Result<Vec<Entry>> {
        MetadataReader::new(text).collect()
    }

    #[test]
    fn reads_go_lines_leniently() {
        let text = concat!(
            "{\"type\":2,\"payload\":\"Li8A\",\"position\":0}\n",
            "{\"type\":1,\"name\":\"./a\\u003cb\",\"size\":1,\"payload\":\"IxAAAAAAAAA=\",\"position\":1}  \n\n",
            "{\"type\":1,\"name_raw\":\"Li9jYWbp\",\"payload\":null,\"position\":2,\"extra\":[1,2]}",
            "{\"type\":2,\"payload\":\"\",\"position\":3}\n",
        );
        let entries = read_all(text.as_bytes()).expect("valid");
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0], Entry::Segment(b"./\0".to_vec()));
        assert_eq!(
            entries[1],
            Entry::File {
                name: b"./a<b".to_vec(),
                size: 1,
                crc: Some(0x2310_0000_0000_0000u64.to_be_bytes())
            }
        );
        assert_eq!(
            entries[2],
            Entry::File {
                name: b"./caf\xe9".to_vec(),
                size: 0,
                crc: None
            }
        );
        assert_eq!(entries[3], Entry::Segment(Vec::new()));
    }

    #[test]
    fn small_reads_still_parse() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"{\"type\":2,\"payload\":\"Li8A\",\"position\":0}\n{\"type\":1,\"name\":\"x\",\"position\":1}\n";
        let entries: Vec<Entry> = MetadataReader::new(Trickle(text))
            .collect::<Result<_>>()
            .expect("valid");
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn rejects_malformed_entries() {
        let bad: &[&str] = &[
            "{\"type\":3,\"payload\":null}",
            "{\"type\":2,\"payload\":\"***\"}",
            "{\"type\":1,\"name\":\"x\",\"size\":-1,\"payload\":null}",
            "{\"type\":1,\"name\":\"x\",\"size\":1,\"payload\":\"AAAA\"}",
            "{\"type\":2,\"payload\":\"AAAA\"",
            "[1,2]",
            "{\"type\":\"x\"}",
        ];
        for text in bad {
            let err = read_all(text.as_bytes()).expect_err(text);
            assert!(matches!(err, Error::Metadata { .. }), "{text}: {err}");
        }
    }
}

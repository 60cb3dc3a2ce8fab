//! Writes metadata entries as JSON lines, byte for byte the way Go's
//! `encoding/json` encodes tar-split's `Entry` (key order, HTML-safe string
//! escapes, padded base64, `null` payloads), so our files and Go's compare
//! equal when they describe the same archive.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{EntryRef, FILE_TYPE, SEGMENT_TYPE};

/// Writes entries to `W`, numbering their positions.
pub struct MetadataWriter<W: Write> {
    out: W,
    position: u64,
    line: Vec<u8>,
}

impl<W: Write> MetadataWriter<W> {
    /// A writer whose first entry gets position 0.
    pub fn new(out: W) -> Self {
        Self {
            out,
            position: 0,
            line: Vec::with_capacity(4096),
        }
    }

    /// Number of entries written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Writes one entry as one line.
    pub fn write(&mut self, entry: EntryRef<'_>) -> std::io::Result<()> {
        self.line.clear();
        match entry {
            EntryRef::Segment(bytes) => {
                self.line.extend_from_slice(b"{\"type\":");
                push_number(&mut self.line, u64::from(SEGMENT_TYPE));
                self.line.extend_from_slice(b",\"payload\":\"");
                push_base64(&mut self.line, bytes);
                self.line.push(b'"');
            }
            EntryRef::File { name, size, crc } => {
                self.line.extend_from_slice(b"{\"type\":");
                push_number(&mut self.line, u64::from(FILE_TYPE));
                match std::str::from_utf8(name) {
                    Ok(text) if !text.is_empty() => {
                        self.line.extend_from_slice(b",\"name\":");
                        push_go_string(&mut self.line, text);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        self.line.extend_from_slice(b",\"name_raw\":\"");
                        push_base64(&mut self.line, name);
                        self.line.push(b'"');
                    }
                }
                if size != 0 {
                    self.line.extend_from_slice(b",\"size\":");
                    push_number(&mut self.line, size);
                }
                match crc {
                    Some(crc) => {
                        self.line.extend_from_slice(b",\"payload\":\"");
                        push_base64(&mut self.line, &crc);
                        self.line.push(b'"');
                    }
                    None => self.line.extend_from_slice(b",\"payload\":null"),
                }
            }
        }
        self.line.extend_from_slice(b",\"position\":");
        push_number(&mut self.line, self.position);
        self.line.extend_from_slice(b"}\n");
        self.position += 1;
        self.out.write_all(&self.line)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn push_number(line: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line.extend_from_slice(&digits[i..]);
}

fn push_base64(line: &mut Vec<u8>, bytes: &[u8]) {
    let start = line.len();
    line.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(bytes, &mut line[start..])
        .unwrap_or_default();
    line.truncate(start + written);
}

/// A JSON string as Go encodes it with HTML escaping on.
fn push_go_string(line: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    line.push(b'"');
    for c in text.chars() {
        match c {
            '"' => line.extend_from_slice(b"\\\""),
            '\\' => line.extend_from_slice(b"\\\\"),
            '\n' => line.extend_from_slice(b"\\n"),
            '\r' => line.extend_from_slice(b"\\r"),
            '\t' => line.extend_from_slice(b"\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u8;
                line.extend_from_slice(b"\\u00");
                line.push(HEX[usize::from(b >> 4)]);
                line.push(HEX[usize::from(b & 0xf)]);
            }
            '\u{2028}' => line.extend_from_slice(b"\\u2028"),
            '\u{2029}' => line.extend_from_slice(b"\\u2029"),
            c => {
                let mut buf = [0u8; 4];
                line.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    line.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(entries: &[EntryRef<'_>]) -> String {
        let mut w = MetadataWriter::new(Vec::new());
        for e in entries {
            w.write(*e).expect("vec write");
        }
        String::from_utf8(w.into_inner().expect("vec")).expect("utf8")
    }

    #[test]
    fn encodes_like_go() {
        let text = lines(&[
            EntryRef::Segment(b"./\0"),
            EntryRef::File {
                name: b"./",
                size: 0,
                crc: None,
            },
            EntryRef::File {
                name: b"./dir/<b>&.txt",
                size: 1,
                crc: Some(0x2310_0000_0000_0000u64.to_be_bytes()),
            },
            EntryRef::File {
                name: b"./caf\xe9",
                size: 4,
                crc: Some([0x34, 0x08, 0x64, 0x13, 0x50, 0, 0, 0]),
            },
            EntryRef::Segment(b""),
        ]);
        let want = concat!(
            "{\"type\":2,\"payload\":\"Li8A\",\"position\":0}\n",
            "{\"type\":1,\"name\":\"./\",\"payload\":null,\"position\":1}\n",
            "{\"type\":1,\"name\":\"./dir/\\u003cb\\u003e\\u0026.txt\",\"size\":1,\"payload\":\"IxAAAAAAAAA=\",\"position\":2}\n",
            "{\"type\":1,\"name_raw\":\"Li9jYWbp\",\"size\":4,\"payload\":\"NAhkE1AAAAA=\",\"position\":3}\n",
            "{\"type\":2,\"payload\":\"\",\"position\":4}\n",
        );
        assert_eq!(text, want);
    }
}

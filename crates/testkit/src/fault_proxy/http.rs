//! The little HTTP/1.1 the fault proxy needs: reading a message head,
//! reading a body framed by `Content-Length`, chunked encoding or the end
//! of the connection, and writing a head back out.

use std::io::{self, BufRead, BufReader, Read, Write};

/// Largest message head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A request or response head: the start line and the header fields in
/// order.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body is chunked.
    pub fn chunked(&self) -> bool {
        self.get("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    /// The `Content-Length`, if present and valid.
    pub fn content_length(&self) -> Option<u64> {
        self.get("Content-Length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// The head as sent on the wire, ending with the blank line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// What came in on a client connection.
pub(crate) enum Incoming {
    /// An HTTP request head.
    Head(Head),
    /// A TLS handshake (a client trying HTTPS first), or nothing at all.
    NotHttp,
}

/// Reads a head; `NotHttp` when the peer speaks TLS or closes at once.
pub(crate) fn read_head<R: BufRead>(r: &mut R) -> io::Result<Incoming> {
    let first = r.fill_buf()?;
    if first.is_empty() || first[0] == 0x16 {
        return Ok(Incoming::NotHttp);
    }
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a message head",
            ));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message head too large",
            ));
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break;
        }
        lines.push(text);
    }
    let start = lines.remove(0);
    let headers = lines
        .into_iter()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    Ok(Incoming::Head(Head { start, headers }))
}

/// Reads a whole chunked body (and its trailer), decoded.
pub(crate) fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            ));
        }
        let size_text = line.trim().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {size_text:?}"),
            )
        })?;
        if size == 0 {
            // Trailer fields up to the blank line.
            loop {
                let mut trailer = String::new();
                if r.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

/// Reads exactly `len` bytes.
pub(crate) fn read_exact_len<R: Read>(r: &mut R, len: u64) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    r.take(len).read_to_end(&mut body)?;
    if (body.len() as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a body",
        ));
    }
    Ok(body)
}

/// The request body a head announces (none without framing headers).
pub(crate) fn read_request_body<R: BufRead>(r: &mut R, head: &Head) -> io::Result<Vec<u8>> {
    if head.chunked() {
        read_chunked(r)
    } else {
        match head.content_length() {
            Some(len) => read_exact_len(r, len),
            None => Ok(Vec::new()),
        }
    }
}

/// Header fields that describe one hop, never forwarded.
pub(crate) fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Writes a complete response with an empty body.
pub(crate) fn write_empty<W: Write>(
    w: &mut W,
    status: &str,
    extra: &[(&str, String)],
) -> io::Result<()> {
    let mut headers = vec![
        ("Content-Length".to_owned(), "0".to_owned()),
        ("Connection".to_owned(), "close".to_owned()),
    ];
    headers.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
    let head = Head {
        start: format!("HTTP/1.1 {status}"),
        headers,
    };
    w.write_all(&head.to_bytes())?;
    w.flush()
}

/// A buffered reader over a stream clone.
pub(crate) fn reader<R: Read>(r: R) -> BufReader<R> {
    BufReader::with_capacity(64 * 1024, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers() {
        let wire = b"4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\nrest";
        let mut r = &wire[..];
        assert_eq!(read_chunked(&mut r).unwrap(), b"Wikipedia");
        assert_eq!(r, b"rest");
    }

    #[test]
    fn heads_parse_and_tls_is_recognised() {
        let wire = b"GET /v2/ HTTP/1.1\r\nHost: a\r\nRange: bytes=1-\r\n\r\n";
        let Incoming::Head(head) = read_head(&mut &wire[..]).unwrap() else {
            panic!("not a head")
        };
        assert_eq!(head.start, "GET /v2/ HTTP/1.1");
        assert_eq!(head.get("range"), Some("bytes=1-"));
        assert!(matches!(
            read_head(&mut &b"\x16\x03\x01\x02\x00"[..]).unwrap(),
            Incoming::NotHttp
        ));
    }
}

//! `Range: bytes=...` requests (RFC 9110 §14): which bytes of a blob a
//! reply carries, and the layout of a `multipart/byteranges` body.
//!
//! A header that is not a valid `bytes` range set is ignored (the whole
//! blob is sent, as the RFC allows). Ranges that start past the end are
//! dropped; when none is left the reply is 416. The ranges kept are sorted
//! and overlapping ones merged (the RFC lets a server coalesce), so a
//! blob that can only be read from start to end is read once.

/// At most this many ranges are honoured; a longer set is ignored.
pub const MAX_RANGES: usize = 4096;

/// Bytes `start..end` (end exclusive) of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Span {
    /// The `Content-Range` value of this span of a blob of `size` bytes.
    pub fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.end - 1)
    }
}

/// What a `Range` header asks of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// The whole blob (no header, or one to ignore).
    Whole,
    /// These spans, sorted, disjoint, at least one.
    Spans(Vec<Span>),
    /// Nothing satisfiable: 416.
    Unsatisfiable,
}

/// Reads `header` against a blob of `size` bytes.
pub fn parse(header: Option<&str>, size: u64) -> Ranges {
    let Some(set) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ranges::Whole;
    };
    let mut spans = Vec::new();
    for spec in set.split(',') {
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        match parse_spec(spec, size) {
            Err(()) => return Ranges::Whole,
            Ok(Some(span)) => spans.push(span),
            Ok(None) => {}
        }
        if spans.len() > MAX_RANGES {
            return Ranges::Whole;
        }
    }
    if spans.is_empty() {
        return Ranges::Unsatisfiable;
    }
    Ranges::Spans(coalesce(spans))
}

/// One `first-last`, `first-` or `-suffix`: `Err` when malformed,
/// `None` when it asks for nothing of this blob.
fn parse_spec(spec: &str, size: u64) -> Result<Option<Span>, ()> {
    let (first, last) = spec.split_once('-').ok_or(())?;
    let number = |text: &str| -> Result<u64, ()> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        text.parse().map_err(|_| ())
    };
    if first.is_empty() {
        let suffix = number(last)?;
        if suffix == 0 || size == 0 {
            return Ok(None);
        }
        return Ok(Some(Span {
            start: size.saturating_sub(suffix),
            end: size,
        }));
    }
    let start = number(first)?;
    let end = if last.is_empty() {
        size
    } else {
        let last = number(last)?;
        if last < start {
            return Err(());
        }
        last.saturating_add(1).min(size)
    };
    Ok((start < size).then_some(Span { start, end }))
}

/// `spans` sorted, overlapping ones merged.
fn coalesce(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|span| (span.start, span.end));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => out.push(span),
        }
    }
    out
}

/// The pieces of a `multipart/byteranges` body: before each span its
/// part header, and the closing delimiter after the last.
pub struct Multipart {
    /// The boundary.
    pub boundary: String,
    /// The header before each span.
    pub headers: Vec<Vec<u8>>,
    /// The closing delimiter.
    pub trailer: Vec<u8>,
}

impl Multipart {
    /// The layout of `spans` of a blob of `size` bytes, with a boundary
    /// taken from `tag` (the blob's digest, hex).
    pub fn new(spans: &[Span], size: u64, tag: &str) -> Self {
        let boundary = format!("strata-byteranges-{}", &tag[..tag.len().min(32)]);
        let headers = spans
            .iter()
            .enumerate()
            .map(|(i, span)| {
                let lead = if i == 0 { "" } else { "\r\n" };
                format!(
                    "{lead}--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: {}\r\n\r\n",
                    span.content_range(size)
                )
                .into_bytes()
            })
            .collect();
        let trailer = format!("\r\n--{boundary}--\r\n").into_bytes();
        Self {
            boundary,
            headers,
            trailer,
        }
    }

    /// The whole body's length.
    pub fn len(&self, spans: &[Span]) -> u64 {
        let data: u64 = spans.iter().map(|span| span.end - span.start).sum();
        let headers: u64 = self.headers.iter().map(|h| h.len() as u64).sum();
        data + headers + self.trailer.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(list: &[(u64, u64)]) -> Ranges {
        Ranges::Spans(
            list.iter()
                .map(|&(start, end)| Span { start, end })
                .collect(),
        )
    }

    #[test]
    fn single_suffix_and_open_ranges() {
        assert_eq!(parse(Some("bytes=0-9"), 100), spans(&[(0, 10)]));
        assert_eq!(parse(Some("bytes=90-200"), 100), spans(&[(90, 100)]));
        assert_eq!(parse(Some("bytes=-10"), 100), spans(&[(90, 100)]));
        assert_eq!(parse(Some("bytes=-1000"), 100), spans(&[(0, 100)]));
        assert_eq!(parse(Some("bytes=50-"), 100), spans(&[(50, 100)]));
        assert_eq!(parse(None, 100), Ranges::Whole);
    }

    #[test]
    fn multiple_ranges_are_sorted_and_merged() {
        assert_eq!(
            parse(Some("bytes=50-59, 0-9,5-14,200-300"), 100),
            spans(&[(0, 15), (50, 60)])
        );
    }

    #[test]
    fn unsatisfiable_and_malformed() {
        assert_eq!(parse(Some("bytes=100-"), 100), Ranges::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), Ranges::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1"), 0), Ranges::Unsatisfiable);
        for ignored in [
            "bytes=9-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=1",
            "bytes=--1",
        ] {
            assert_eq!(parse(Some(ignored), 100), Ranges::Whole, "{ignored}");
        }
    }

    #[test]
    fn multipart_length_counts_every_byte() {
        let list = [Span { start: 0, end: 2 }, Span { start: 5, end: 6 }];
        let parts = Multipart::new(&list, 10, "abcd");
        let mut body = Vec::new();
        for (header, span) in parts.headers.iter().zip(&list) {
            body.extend_from_slice(header);
            body.extend(std::iter::repeat_n(b'x', (span.end - span.start) as usize));
        }
        body.extend_from_slice(&parts.trailer);
        assert_eq!(parts.len(&list), body.len() as u64);
        let text = String::from_utf8(body).expect("text");
        assert!(text.starts_with("--strata-byteranges-abcd\r\n"), "{text}");
        assert!(
            text.contains("Content-Range: bytes 5-5/10\r\n\r\nx\r\n--strata-byteranges-abcd--\r\n")
        );
    }
}

//! Compression of layer streams: detection by magic bytes, decoding of
//! gzip, zstd, xz and bzip2, encoding of all four.

use std::io::{self, BufReader, Read, Write};

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Uncompressed.
    None,
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
    /// xz.
    Xz,
    /// bzip2.
    Bzip2,
}

impl Compression {
    /// The format's name as stored and printed.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// Parses a name as printed by [`Self::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::None, Self::Gzip, Self::Zstd, Self::Xz, Self::Bzip2]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Tells the format from the first bytes of a stream.
    pub fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || is_zstd_skippable(head) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }
}

/// Zstandard skippable frames start with 0x184D2A50..=0x184D2A5F (LE).
fn is_zstd_skippable(head: &[u8]) -> bool {
    head.len() >= 4 && head[1..4] == [0x2a, 0x4d, 0x18] && head[0] & 0xf0 == 0x50
}

/// Wraps `input` in a decoder for its detected format; returns the format.
pub fn decompress<'a, R: Read + Send + 'a>(
    mut input: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let head = read_head(&mut input, 6)?;
    let format = Compression::detect(&head);
    let input = BufReader::with_capacity(128 << 10, io::Cursor::new(head).chain(input));
    let reader: Box<dyn Read + Send + 'a> = match format {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    };
    Ok((format, reader))
}

/// Reads up to `n` bytes (fewer only at the end of the stream).
fn read_head<R: Read>(input: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    input.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A writer that compresses into `out`.
pub enum Encoder<W: Write> {
    /// Pass-through.
    None(W),
    /// gzip.
    Gzip(flate2::write::GzEncoder<W>),
    /// Zstandard.
    Zstd(zstd::stream::write::Encoder<'static, W>),
    /// xz.
    Xz(liblzma::write::XzEncoder<W>),
    /// bzip2.
    Bzip2(bzip2::write::BzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    /// Starts compressing into `out` with default levels.
    pub fn new(format: Compression, out: W) -> io::Result<Self> {
        Ok(match format {
            Compression::None => Encoder::None(out),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(out, 3)?),
            Compression::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(out, 6)),
            Compression::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::default(),
            )),
        })
    }

    /// Ends the compressed stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Bzip2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Bzip2(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_and_is_detected() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for format in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bzip2,
        ] {
            let mut enc = Encoder::new(format, Vec::new()).expect("encoder");
            enc.write_all(&data).expect("write");
            let packed = enc.finish().expect("finish");
            let (found, mut reader) = decompress(packed.as_slice()).expect("decoder");
            assert_eq!(found, format);
            let mut out = Vec::new();
            reader.read_to_end(&mut out).expect("read");
            assert_eq!(out, data, "{format:?}");
        }
        let (found, _) = decompress(&b"ab"[..]).expect("short input");
        assert_eq!(found, Compression::None);
    }
}

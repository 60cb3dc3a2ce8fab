//! Compression of layer streams: detection by magic bytes, decoding of
//! gzip, zstd, xz and bzip2, encoding of all four.
//!
//! Decoding memory is bounded whatever the input says. gzip (32 KiB window)
//! and bzip2 (at most 900 kB blocks, under 4 MiB of decoder state) are
//! bounded by their formats. zstd and xz let the stream pick its window, up
//! to gigabytes, so a few hundred kilobytes of input could make the decoder
//! allocate and fill that much; their decoders get limits:
//!
//! - zstd: windows up to [`ZSTD_WINDOW_LOG_MAX`] (64 MiB). Every level up to
//!   21 and `--long` up to 26 fit (the default levels use at most 8 MiB);
//!   `--ultra -22` and the default `--long` (27, 128 MiB) are refused.
//! - xz: [`XZ_MEMORY_LIMIT`] (66 MiB), just enough for `xz -9` and `-9e`,
//!   the presets with the largest dictionary (64 MiB, which liblzma decodes
//!   in 65 MiB). Custom dictionaries above that are refused.
//!
//! A stream over its limit fails with a [`MemoryLimit`] error (carried in
//! the `io::Error` of the read) naming what it needs, where the format
//! tells, and the limit.

mod parallel_gzip;

pub use parallel_gzip::ParallelGzip;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

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

/// Largest zstd window decoded: 2^26 bytes (64 MiB).
pub const ZSTD_WINDOW_LOG_MAX: u32 = 26;
/// Most memory the xz decoder may use: 66 MiB (`xz -9` needs 65 MiB).
pub const XZ_MEMORY_LIMIT: u64 = 66 << 20;

/// A compressed stream needs more memory to decode than strata allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MemoryLimit {
    /// The stream's format.
    pub format: Compression,
    /// Bytes the stream needs, when the decoder tells.
    pub needed: Option<u64>,
    /// The limit, in bytes.
    pub limit: u64,
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, over) = match self.format {
            Compression::Zstd => ("a window", "a window larger"),
            _ => ("memory", "more memory"),
        };
        let (name, limit) = (self.format.name(), mib(self.limit));
        match self.needed {
            Some(n) => write!(
                f,
                "the {name} stream needs {} of {what}, more than the limit of {limit}",
                mib(n)
            ),
            None => write!(
                f,
                "the {name} stream needs {over} than the limit of {limit}"
            ),
        }
    }
}

/// Bytes as MiB, rounded up.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

impl MemoryLimit {
    /// The limit error an I/O error carries, if it carries one.
    pub fn of(error: &io::Error) -> Option<&MemoryLimit> {
        error.get_ref()?.downcast_ref::<MemoryLimit>()
    }

    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::OutOfMemory, self)
    }
}

/// Wraps `input` in a decoder for its detected format; returns the format.
/// Decoders work within the limits of the module documentation.
pub fn decompress<'a, R: Read + Send + 'a>(
    mut input: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let head = read_head(&mut input, 6)?;
    let format = Compression::detect(&head);
    let input = BufReader::with_capacity(128 << 10, io::Cursor::new(head).chain(input));
    let reader: Box<dyn Read + Send + 'a> = match format {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(ZstdDecoder::new(input)?),
        Compression::Xz => Box::new(XzDecoder::new(input)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    };
    Ok((format, reader))
}

/// zstd (all frames) with a bounded window.
struct ZstdDecoder<'a, R: BufRead>(zstd::stream::read::Decoder<'a, R>);

impl<R: BufRead> ZstdDecoder<'static, R> {
    fn new(input: R) -> io::Result<Self> {
        let mut decoder = zstd::stream::read::Decoder::with_buffer(input)?;
        decoder.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
        Ok(Self(decoder))
    }
}

impl<R: BufRead> Read for ZstdDecoder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            // zstd's ZSTD_error_frameParameter_windowTooLarge.
            if e.to_string().contains("Frame requires too much memory") {
                MemoryLimit {
                    format: Compression::Zstd,
                    needed: None,
                    limit: 1 << ZSTD_WINDOW_LOG_MAX,
                }
                .into_io()
            } else {
                e
            }
        })
    }
}

/// xz (all concatenated streams) within [`XZ_MEMORY_LIMIT`].
struct XzDecoder<R: BufRead> {
    input: R,
    stream: liblzma::stream::Stream,
    ended: bool,
}

impl<R: BufRead> XzDecoder<R> {
    fn new(input: R) -> io::Result<Self> {
        let stream = liblzma::stream::Stream::new_stream_decoder(
            XZ_MEMORY_LIMIT,
            liblzma::stream::CONCATENATED,
        )?;
        Ok(Self {
            input,
            stream,
            ended: false,
        })
    }

    /// What the block the decoder stopped at needs: liblzma keeps it as the
    /// stream's memory usage, and refuses any lower limit, so the smallest
    /// limit it accepts is that need.
    fn needed(&mut self) -> Option<u64> {
        let (mut low, mut high) = (XZ_MEMORY_LIMIT, u64::MAX);
        while low + 1 < high {
            let mid = low + (high - low) / 2;
            match self.stream.set_memlimit(mid) {
                Ok(()) => high = mid,
                Err(_) => low = mid,
            }
        }
        (high != u64::MAX).then_some(high)
    }
}

impl<R: BufRead> Read for XzDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use liblzma::stream::{Action, Error as XzError, Status};
        if buf.is_empty() || self.ended {
            return Ok(0);
        }
        loop {
            let input = self.input.fill_buf()?;
            let eof = input.is_empty();
            let action = if eof { Action::Finish } else { Action::Run };
            let (in_before, out_before) = (self.stream.total_in(), self.stream.total_out());
            let status = self.stream.process(input, buf, action);
            let consumed = (self.stream.total_in() - in_before) as usize;
            let produced = (self.stream.total_out() - out_before) as usize;
            self.input.consume(consumed);
            let status = match status {
                Ok(status) => status,
                Err(XzError::MemLimit) => {
                    let needed = self.needed();
                    return Err(MemoryLimit {
                        format: Compression::Xz,
                        needed,
                        limit: XZ_MEMORY_LIMIT,
                    }
                    .into_io());
                }
                Err(e) => return Err(e.into()),
            };
            self.ended = status == Status::StreamEnd;
            if produced > 0 || self.ended {
                return Ok(produced);
            }
            if eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the xz stream ends early",
                ));
            }
            if consumed == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the xz stream is corrupt",
                ));
            }
        }
    }
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

    fn decode(packed: &[u8]) -> io::Result<Vec<u8>> {
        let (_, mut reader) = decompress(packed)?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    fn limit_error(packed: &[u8]) -> MemoryLimit {
        let error = decode(packed).expect_err("over the limit");
        MemoryLimit::of(&error)
            .unwrap_or_else(|| panic!("not a limit error: {error}"))
            .clone()
    }

    #[test]
    fn xz_dictionaries_above_the_limit_are_refused_with_what_they_need() {
        let data = vec![0u8; 100_000];
        // xz -9's dictionary decodes, also as two concatenated streams.
        let nine = testkit::compressed::xz_declaring_dictionary(&data, 26);
        assert_eq!(decode(&nine).expect("64 MiB dictionary"), data);
        let twice = [nine.clone(), nine].concat();
        assert_eq!(decode(&twice).expect("two streams").len(), 2 * data.len());

        let bomb = testkit::compressed::xz_declaring_dictionary(&data, 30);
        let error = limit_error(&bomb);
        assert_eq!(error.format, Compression::Xz);
        assert_eq!(error.limit, XZ_MEMORY_LIMIT);
        let needed = error.needed.expect("xz tells what it needs");
        assert!(
            (1 << 30..(1 << 30) + (1 << 20)).contains(&needed),
            "{needed}"
        );
        assert_eq!(
            error.to_string(),
            "the xz stream needs 1025 MiB of memory, more than the limit of 66 MiB"
        );
    }

    #[test]
    fn zstd_windows_above_the_limit_are_refused() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let at_limit = testkit::compressed::zstd_with_window(&data, ZSTD_WINDOW_LOG_MAX);
        assert_eq!(testkit::compressed::zstd_window(&at_limit), 64 << 20);
        assert_eq!(decode(&at_limit).expect("64 MiB window"), data);

        let over = testkit::compressed::zstd_with_window(&data, ZSTD_WINDOW_LOG_MAX + 1);
        assert_eq!(testkit::compressed::zstd_window(&over), 128 << 20);
        let error = limit_error(&over);
        assert_eq!(error.format, Compression::Zstd);
        assert_eq!(
            error.to_string(),
            "the zstd stream needs a window larger than the limit of 64 MiB"
        );
    }
}

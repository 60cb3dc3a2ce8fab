//! gzip compression on several threads, as pigz does it: the input is cut
//! into blocks, each block is deflated on its own thread (primed with the
//! last 32 KiB of the block before it, so matches still reach back across
//! the cut), ended with a sync flush to a byte boundary, and the pieces
//! are written in order between one gzip header and trailer. The result
//! is one ordinary gzip member any gunzip reads.
//!
//! The output depends only on the input, the level and the block size —
//! not on how many threads ran — so the same tar always gives the same
//! blob, and a layer pushed twice has the same digest.
//!
//! A block that fast deflate cannot shrink by 2% at its start, middle
//! and end is stored rather than searched for matches it does not have:
//! already-compressed files and random bytes go through at copying speed.
//!
//! Memory stays bounded: at most as many blocks are in flight as there
//! are threads.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Input bytes per block.
const BLOCK: usize = 1 << 20;

/// How far back deflate matches reach; the dictionary handed to the next block.
const WINDOW: usize = 32 << 10;

/// The gzip header: magic, deflate, no flags, mtime 0, no extra flags,
/// OS unknown (what `flate2`'s encoder writes by default).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A writer that gzips into `out` on several threads. Call
/// [`ParallelGzip::finish`] to end the stream; dropping it leaves the
/// output unfinished.
pub struct ParallelGzip<W: Write> {
    out: W,
    level: u32,
    threads: usize,
    block: Vec<u8>,
    dictionary: Vec<u8>,
    crc: crc32fast::Hasher,
    total: u64,
    in_flight: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    started: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// Starts a stream at `level` (0–9) on this machine's threads.
    pub fn new(out: W, level: u32) -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 16);
        Self::with_threads(out, level, threads)
    }

    /// Starts a stream at `level` with at most `threads` blocks in flight.
    pub fn with_threads(out: W, level: u32, threads: usize) -> Self {
        ParallelGzip {
            out,
            level: level.min(9),
            threads: threads.max(1),
            block: Vec::with_capacity(BLOCK),
            dictionary: Vec::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
            in_flight: VecDeque::new(),
            started: false,
        }
    }

    /// Ends the stream (the last block, the trailer) and returns `out`.
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        let crc = std::mem::take(&mut self.crc).finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        // ISIZE is the length modulo 2^32, as the format says.
        self.out.write_all(&(self.total as u32).to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Hands the current block to a thread; the last one ends the
    /// deflate stream (even when empty).
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        if !self.started {
            self.out.write_all(&HEADER)?;
            self.started = true;
        }
        if self.in_flight.len() >= self.threads {
            self.write_oldest()?;
        }
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let dictionary = std::mem::take(&mut self.dictionary);
        self.dictionary = block[block.len().saturating_sub(WINDOW)..].to_vec();
        let level = self.level;
        self.in_flight.push_back(std::thread::spawn(move || {
            deflate_block(level, &dictionary, &block, last)
        }));
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(handle) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let piece = handle
            .join()
            .map_err(|_| io::Error::other("a gzip thread panicked"))??;
        self.out.write_all(&piece)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        self.total += n as u64;
        if self.block.len() == BLOCK {
            self.dispatch(false)?;
        }
        Ok(n)
    }

    /// Blocks are compressed whole; flushing waits for none of them.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Raw deflate of `block` primed with `dictionary`: ended by a sync flush
/// (byte-aligned, not final), or for the last block by the final block.
fn deflate_block(level: u32, dictionary: &[u8], block: &[u8], last: bool) -> io::Result<Vec<u8>> {
    // Searching for matches in data that has none (already compressed
    // files, random bytes) is deflate's slowest case and gains nothing:
    // such blocks are stored as they are.
    let level = match incompressible(block)? {
        true => 0,
        false => level,
    };
    let mut deflate = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        deflate
            .set_dictionary(dictionary)
            .map_err(io::Error::other)?;
    }
    let flush = match last {
        true => FlushCompress::Finish,
        false => FlushCompress::Sync,
    };
    let mut out = Vec::with_capacity(block.len() / 2 + 4096);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 << 10));
        }
        let consumed = deflate.total_in() as usize;
        let status = deflate
            .compress_vec(&block[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = deflate.total_in() as usize == block.len();
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once a call ends with output
            // space to spare.
            Status::Ok | Status::BufError if !last && all_in && room_left => return Ok(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

/// Bytes deflated at each of three places of a block to judge it.
const PROBE: usize = 16 << 10;

/// Whether fast deflate saves under 2% at the start, middle and end of
/// `block`: then the block is taken to be incompressible. Depends only
/// on the bytes, so the output stays deterministic.
fn incompressible(block: &[u8]) -> io::Result<bool> {
    if block.len() < 3 * PROBE {
        return Ok(false);
    }
    for start in [0, block.len() / 2 - PROBE / 2, block.len() - PROBE] {
        let probe = &block[start..start + PROBE];
        let mut deflate = Compress::new(Compression::fast(), false);
        let mut out = Vec::with_capacity(PROBE + 1024);
        deflate
            .compress_vec(probe, &mut out, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        if out.len() * 100 < PROBE * 98 {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::process::{Command, Stdio};

    use super::*;

    /// Compressible but not trivial: words from a small vocabulary,
    /// chosen by a fixed generator.
    fn text(len: usize) -> Vec<u8> {
        let words: [&[u8]; 8] = [
            b"layer ",
            b"store ",
            b"tar ",
            b"split ",
            b"overlay\n",
            b"digest ",
            b"blob ",
            b"manifest ",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(words[(state % 8) as usize]);
        }
        out.truncate(len);
        out
    }

    fn gzip(data: &[u8], threads: usize) -> Vec<u8> {
        let mut encoder = ParallelGzip::with_threads(Vec::new(), 6, threads);
        // Odd-sized writes, so blocks are cut across write boundaries.
        for chunk in data.chunks(77_777) {
            encoder.write_all(chunk).expect("write");
        }
        encoder.finish().expect("finish")
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    }

    #[test]
    fn round_trips_at_every_block_boundary() {
        for len in [
            0,
            1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK,
            3 * BLOCK + 12_345,
        ] {
            let data = text(len);
            assert_eq!(gunzip(&gzip(&data, 3)), data, "length {len}");
        }
    }

    #[test]
    fn output_does_not_depend_on_the_thread_count() {
        let data = text(5 * BLOCK + 999);
        let one = gzip(&data, 1);
        assert_eq!(gzip(&data, 2), one);
        assert_eq!(gzip(&data, 7), one);
    }

    #[test]
    fn priming_keeps_the_ratio_of_one_stream() {
        let data = text(4 * BLOCK);
        let parallel = gzip(&data, 4).len();
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        single.write_all(&data).expect("write");
        let single = single.finish().expect("finish").len();
        // Sync flushes cost a few bytes per block; priming keeps the rest.
        assert!(
            parallel <= single + single / 50 + 64,
            "parallel {parallel} bytes, single stream {single}"
        );
    }

    /// xorshift bytes: nothing for deflate to find.
    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn incompressible_blocks_are_stored_and_others_compressed() {
        let mut data = noise(2 * BLOCK);
        data.extend(text(BLOCK));
        let gz = gzip(&data, 2);
        assert_eq!(gunzip(&gz), data);
        assert!(incompressible(&data[..BLOCK]).expect("judge"));
        assert!(!incompressible(&data[2 * BLOCK..]).expect("judge"));
        // Stored noise costs a few bytes per 64 KiB; the text shrinks.
        let noise_part = 2 * BLOCK + 2 * BLOCK / 1000;
        assert!(gz.len() < noise_part + BLOCK / 2, "{} bytes", gz.len());
        // A block with a compressible middle is compressed.
        let mut mixed = noise(BLOCK);
        let middle = BLOCK / 2 - PROBE;
        mixed[middle..middle + 2 * PROBE].copy_from_slice(&text(2 * PROBE));
        assert!(!incompressible(&mixed).expect("judge"));
    }

    #[test]
    fn gnu_gzip_reads_it() {
        let data = text(2 * BLOCK + 5);
        let gz = gzip(&data, 2);
        let mut child = Command::new("gzip")
            .args(["-dc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run gzip");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(&gz));
        let output = child.wait_with_output().expect("gzip output");
        writer.join().expect("writer").expect("write to gzip");
        assert!(output.status.success());
        assert_eq!(output.stdout, data);
    }
}

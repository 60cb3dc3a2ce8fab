//! A micro benchmark for push's layer compression: gzip of 120 MiB by
//! `ParallelGzip` against one `flate2` gzip stream at the same level, in
//! the same run, printing the time of each, the output sizes and the
//! speedup, for two inputs: `noise` (xorshift bytes, which deflate cannot
//! shrink, like already-compressed files) and `words` (words drawn from a
//! 64-word vocabulary, which it shrinks to about a third). Run it in
//! release:
//!
//! ```text
//! cargo run --release -p strata --example gzip_speed
//! ```
//!
//! BENCHMARKS.md records its results.

use std::io::Write;
use std::time::Instant;

use strata::compression::ParallelGzip;

/// zlib's default level, which push uses.
const LEVEL: u32 = 6;

fn main() -> std::io::Result<()> {
    for (kind, data) in [("noise", noise(120 << 20)), ("words", words(120 << 20))] {
        for round in 1..=3 {
            let started = Instant::now();
            let mut single =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(LEVEL));
            single.write_all(&data)?;
            let single_len = single.finish()?.len();
            let single_secs = started.elapsed().as_secs_f64();

            let started = Instant::now();
            let mut parallel = ParallelGzip::new(Vec::new(), LEVEL);
            parallel.write_all(&data)?;
            let parallel_len = parallel.finish()?.len();
            let parallel_secs = started.elapsed().as_secs_f64();

            println!(
                "{kind} round {round}: one stream {single_secs:.2} s ({single_len} B), \
                 ParallelGzip {parallel_secs:.2} s ({parallel_len} B), speedup {:.2}x, \
                 size {:+.3}%",
                single_secs / parallel_secs,
                (parallel_len as f64 / single_len as f64 - 1.0) * 100.0
            );
        }
    }
    Ok(())
}

/// A xorshift generator's next value.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `len` xorshift bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len).map(|_| (next(&mut state) >> 24) as u8).collect()
}

/// `len` bytes of words from a fixed 64-word vocabulary of 3 to 10
/// letters, chosen by a xorshift generator.
fn words(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let vocabulary: Vec<Vec<u8>> = (0..64)
        .map(|_| {
            let letters = 3 + next(&mut state) % 8;
            (0..letters)
                .map(|_| b'a' + (next(&mut state) % 26) as u8)
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(&vocabulary[(next(&mut state) % 64) as usize]);
        out.push(if next(&mut state).is_multiple_of(12) {
            b'\n'
        } else {
            b' '
        });
    }
    out.truncate(len);
    out
}

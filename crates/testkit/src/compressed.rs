//! Compressed streams that ask their decoder for a lot of memory: xz with a
//! dictionary far larger than its content, zstd with a large window. Built
//! from small inputs, so tests can make them cheaply.

use std::io::Write;

/// `data` as one xz stream (CRC-64 check) whose LZMA2 dictionary size field
/// says `2^(dict_log)` bytes. The data is compressed with a 1 MiB
/// dictionary and the field rewritten afterwards: a decoder needs the
/// declared dictionary, though the stream never refers that far back.
/// `dict_log` is 20..=31 (liblzma's largest is 1.5 GiB, the field's 40).
pub fn xz_declaring_dictionary(data: &[u8], dict_log: u32) -> Vec<u8> {
    assert!((20..=31).contains(&dict_log), "dict_log {dict_log}");
    let mut options = liblzma::stream::LzmaOptions::new_preset(0).unwrap();
    options.dict_size(1 << 20);
    let mut filters = liblzma::stream::Filters::new();
    filters.lzma2(&options);
    let stream =
        liblzma::stream::Stream::new_stream_encoder(&filters, liblzma::stream::Check::Crc64)
            .unwrap();
    let mut encoder = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
    encoder.write_all(data).unwrap();
    let mut xz = encoder.finish().unwrap();
    patch_dictionary(&mut xz, dict_log);
    xz
}

/// Rewrites the dictionary field of the first block's LZMA2 filter (the
/// one filter) to 2^dict_log and fixes the block header's CRC-32.
fn patch_dictionary(xz: &mut [u8], dict_log: u32) {
    // Stream header: 12 bytes. Block header: size byte, flags, (no optional
    // sizes: the single-threaded encoder writes none), filter id 0x21,
    // properties size 1, the properties byte, padding, CRC-32.
    let start = 12;
    let header_len = (usize::from(xz[start]) + 1) * 4;
    assert_eq!(xz[start + 1] & 0xc0, 0, "block header with sizes");
    assert_eq!(
        &xz[start + 2..start + 4],
        &[0x21, 0x01],
        "not one LZMA2 filter"
    );
    // Field value v means 2^(v/2 + 12) for even v.
    xz[start + 4] = u8::try_from((dict_log - 12) * 2).unwrap();
    let crc = crc32(&xz[start..start + header_len - 4]);
    xz[start + header_len - 4..start + header_len].copy_from_slice(&crc.to_le_bytes());
}

/// CRC-32 (IEEE, reflected), as xz headers use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `data` as one zstd frame whose header asks for a `2^window_log` byte
/// window (the content size is left out, so the window field is written).
pub fn zstd_with_window(data: &[u8], window_log: u32) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    encoder.include_contentsize(false).unwrap();
    encoder.long_distance_matching(true).unwrap();
    encoder.window_log(window_log).unwrap();
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The window a zstd frame's header asks for, in bytes.
pub fn zstd_window(frame: &[u8]) -> u64 {
    let descriptor = frame[4];
    assert_eq!(
        descriptor & 0x20,
        0,
        "single-segment frame has no window field"
    );
    let byte = frame[5];
    let base = 1u64 << (10 + u32::from(byte >> 3));
    base + base / 8 * u64::from(byte & 7)
}

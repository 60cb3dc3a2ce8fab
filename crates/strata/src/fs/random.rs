//! Random names: lowercase hex from the kernel's random pool.

/// `2 * bytes` random lowercase hex digits.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => {
                // getrandom cannot fail on Linux ≥ 3.17 once the pool is ready;
                // fall back to the clock and pid rather than give up.
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
                    ^ u128::from(std::process::id());
                for (i, b) in buf[filled..].iter_mut().enumerate() {
                    *b = (seed >> ((i % 16) * 8)) as u8;
                }
                filled = bytes;
            }
        }
    }
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::random_hex;

    #[test]
    fn hex_of_the_asked_length_and_different_each_time() {
        let a = random_hex(16);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(a, random_hex(16));
    }
}

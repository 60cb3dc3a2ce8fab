//! Repository names as the distribution spec allows them, checked before
//! a name reaches a URL.

use crate::error::{Error, Result};

/// Refuses a repository name outside the distribution spec's grammar:
/// `/`-separated components of lowercase letters and digits joined by
/// `.`, `_`, `__` or runs of `-`.
pub fn check_repository(name: &str) -> Result<()> {
    let valid =
        !name.is_empty() && name.len() <= 255 && name.split('/').all(is_repository_component);
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!("{name:?} is not a repository name")))
    }
}

/// Whether `component` is one `/`-separated part of a repository name:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn is_repository_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__" or a run of "-", between alnums.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in ["a", "library/alpine", "a-b--c/d.e/f__g", "x0/y_z"] {
            assert!(check_repository(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "../a", "a/..", "a..b", "a___b", "-a", "a%2f", "a b",
        ] {
            assert!(check_repository(bad).is_err(), "{bad}");
        }
    }
}

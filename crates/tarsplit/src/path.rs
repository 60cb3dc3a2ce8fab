//! Lexical path cleaning with the rules of Go's `path/filepath.Clean`, which
//! tar-split uses to decide that two member names are the same path.

/// Cleans `path`: repeated slashes collapse, `.` elements go, `..` removes
/// the element before it (or stays, at the start of a relative path), a
/// trailing slash goes. An empty result is `.` (or `/` for rooted paths).
pub fn clean(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => match parts.last() {
                Some(&last) if last != b".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(part),
            },
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if rooted {
        out.push(b'/');
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn like_go_filepath_clean() {
        let cases: &[(&str, &str)] = &[
            ("", "."),
            ("./", "."),
            ("./etc", "etc"),
            ("etc/", "etc"),
            ("a//b/./c/", "a/b/c"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("/", "/"),
            ("../..", "../.."),
            ("a/b/..", "a"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input.as_bytes()), want.as_bytes(), "{input}");
        }
    }
}

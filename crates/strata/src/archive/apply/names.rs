//! What a member's name asks for, decided lexically before any filesystem
//! call: a path inside the layer, a whiteout, an opaque marker, or nothing.

/// Prefix of whiteout names.
const WHITEOUT: &[u8] = b".wh.";
/// Prefix of AUFS metadata names (`.wh..wh.plnk`, `.wh..wh..opq`, ...).
const WHITEOUT_META: &[u8] = b".wh..wh.";
/// The opaque-directory marker.
const OPAQUE: &[u8] = b".wh..wh..opq";

/// The meaning of a member name.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// The layer root itself (`.`, `/`, `./`): nothing to create.
    Root,
    /// AUFS metadata (`.wh..wh.*` other than the opaque marker, or anything
    /// beneath such a name): skipped.
    Metadata,
    /// A path to create, relative to the layer root, cleaned.
    Path(Vec<u8>),
    /// `<dir>/.wh.<name>`: remove `<dir>/<name>`.
    Whiteout {
        /// The directory, relative to the root (empty for the root).
        dir: Vec<u8>,
        /// The name to remove.
        name: Vec<u8>,
    },
    /// `<dir>/.wh..wh..opq`: hide the directory's lower contents.
    Opaque {
        /// The directory, relative to the root (empty for the root).
        dir: Vec<u8>,
    },
}

/// Why a name cannot be applied.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NameError {
    /// The cleaned name leads out of the root.
    Escapes,
    /// A whiteout that names no file (`.wh.`, `.wh..`, `.wh...`).
    InvalidWhiteout,
}

/// Cleans lexically (an absolute name as rooted: `/../a` is `/a`), then
/// strips leading slashes; `None` when the result leads out of the root.
/// The root itself is the empty path.
pub(super) fn clean_relative(raw: &[u8]) -> Option<Vec<u8>> {
    let cleaned = tarsplit::path::clean(raw);
    let start = cleaned
        .iter()
        .position(|&b| b != b'/')
        .unwrap_or(cleaned.len());
    let relative = &cleaned[start..];
    if relative == b"." {
        return Some(Vec::new());
    }
    let escapes = relative.split(|&b| b == b'/').next() == Some(b"..");
    (!escapes).then(|| relative.to_vec())
}

/// Splits a cleaned relative path into its parent (empty for the root) and
/// its last component.
pub(super) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Joins a directory path (possibly empty) and a name.
pub(super) fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(dir.len() + 1 + name.len());
    path.extend_from_slice(dir);
    if !dir.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// Whether the last component of a raw name (trailing slashes ignored)
/// starts with `.wh.`.
pub(super) fn is_whiteout_name(raw: &[u8]) -> bool {
    let end = raw.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    split(&raw[..end]).1.starts_with(WHITEOUT)
}

/// Decides what a member name asks for.
pub(super) fn classify(raw: &[u8]) -> Result<Target, NameError> {
    let path = clean_relative(raw).ok_or(NameError::Escapes)?;
    if path.is_empty() {
        return Ok(Target::Root);
    }
    let (dir, base) = split(&path);
    if dir
        .split(|&b| b == b'/')
        .any(|component| component.starts_with(WHITEOUT_META))
    {
        return Ok(Target::Metadata);
    }
    if !base.starts_with(WHITEOUT) {
        return Ok(Target::Path(path));
    }
    if base == OPAQUE {
        return Ok(Target::Opaque { dir: dir.to_vec() });
    }
    if base.starts_with(WHITEOUT_META) {
        return Ok(Target::Metadata);
    }
    match &base[WHITEOUT.len()..] {
        b"" | b"." | b".." => Err(NameError::InvalidWhiteout),
        name => Ok(Target::Whiteout {
            dir: dir.to_vec(),
            name: name.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Result<Target, NameError> {
        Ok(Target::Path(p.as_bytes().to_vec()))
    }

    #[test]
    fn names_clean_and_stay_inside() {
        assert_eq!(classify(b"./etc/passwd"), path("etc/passwd"));
        assert_eq!(classify(b"/etc//passwd"), path("etc/passwd"));
        assert_eq!(classify(b"///a/./b/"), path("a/b"));
        assert_eq!(classify(b"a/../b"), path("b"));
        assert_eq!(classify(b"/../a"), path("a"));
        assert_eq!(classify(b"..foo"), path("..foo"));
        assert_eq!(classify(b"."), Ok(Target::Root));
        assert_eq!(classify(b"./"), Ok(Target::Root));
        assert_eq!(classify(b"/"), Ok(Target::Root));
        assert_eq!(classify(b""), Ok(Target::Root));
        assert_eq!(classify(b".."), Err(NameError::Escapes));
        assert_eq!(classify(b"../x"), Err(NameError::Escapes));
        assert_eq!(classify(b"a/../../x"), Err(NameError::Escapes));
        assert_eq!(classify(b"./../x"), Err(NameError::Escapes));
    }

    #[test]
    fn whiteouts() {
        assert_eq!(
            classify(b"a/b/.wh.c"),
            Ok(Target::Whiteout {
                dir: b"a/b".to_vec(),
                name: b"c".to_vec()
            })
        );
        assert_eq!(
            classify(b".wh..x"),
            Ok(Target::Whiteout {
                dir: Vec::new(),
                name: b".x".to_vec()
            })
        );
        assert_eq!(
            classify(b"a/.wh..wh..opq"),
            Ok(Target::Opaque { dir: b"a".to_vec() })
        );
        assert_eq!(
            classify(b".wh..wh..opq"),
            Ok(Target::Opaque { dir: Vec::new() })
        );
        assert_eq!(classify(b".wh..wh.plnk"), Ok(Target::Metadata));
        assert_eq!(classify(b".wh..wh.plnk/1234.5"), Ok(Target::Metadata));
        assert_eq!(classify(b"a/.wh..wh.aufs"), Ok(Target::Metadata));
        assert_eq!(classify(b"a/.wh."), Err(NameError::InvalidWhiteout));
        assert_eq!(classify(b".wh.."), Err(NameError::InvalidWhiteout));
        assert_eq!(classify(b".wh..."), Err(NameError::InvalidWhiteout));
        assert_eq!(classify(b"../.wh.x"), Err(NameError::Escapes));
    }

    #[test]
    fn whiteout_names() {
        assert!(is_whiteout_name(b"a/.wh.b"));
        assert!(is_whiteout_name(b".wh..wh.plnk/"));
        assert!(!is_whiteout_name(b".wh..wh.plnk/123"));
        assert!(!is_whiteout_name(b"a.wh.b"));
        assert!(!is_whiteout_name(b"./"));
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(join(b"", b"c"), b"c");
        assert_eq!(join(b"a/b", b"c"), b"a/b/c");
    }
}

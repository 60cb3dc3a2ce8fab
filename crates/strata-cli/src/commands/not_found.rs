//! A command that failed because an image was not found says which image
//! names are close to the one asked for (`image "sampel:1" not found; did
//! you mean localhost/sample:1?`), from the library's
//! [`strata::Store::similar_image_names`].

use std::fmt;

use crate::cli::StoreArgs;

/// The error of a command, with the image names close to the one it did
/// not find.
#[derive(Debug)]
struct WithSimilar {
    /// The command's error, on one line.
    message: String,
    /// The close names, most alike first.
    similar: Vec<String>,
}

impl fmt::Display for WithSimilar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (last, rest) = match self.similar.split_last() {
            Some(split) => split,
            None => return f.write_str(&self.message),
        };
        write!(f, "{}; did you mean ", self.message)?;
        if !rest.is_empty() {
            write!(f, "{} or ", rest.join(", "))?;
        }
        write!(f, "{last}?")
    }
}

impl std::error::Error for WithSimilar {}

/// `error`, with the close image names added when it is (or was caused
/// by) an image not found; else `error` as it is. Looking for names reads
/// the store and never changes it; if that fails, `error` is left alone.
pub fn with_similar_names(store: &StoreArgs, error: anyhow::Error) -> anyhow::Error {
    let Some(reference) = error.chain().find_map(|cause| match cause.downcast_ref() {
        Some(strata::Error::ImageNotFound(reference)) => Some(reference.clone()),
        _ => None,
    }) else {
        return error;
    };
    let similar = match super::open_to_read(store).and_then(|s| {
        s.similar_image_names(&reference)
            .map_err(anyhow::Error::from)
    }) {
        Ok(similar) if !similar.is_empty() => similar,
        _ => return error,
    };
    WithSimilar {
        message: crate::exit::one_line(&error),
        similar,
    }
    .into()
}

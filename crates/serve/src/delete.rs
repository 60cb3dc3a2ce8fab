//! Deletes: of a tag (`DELETE .../manifests/TAG`), and of a manifest or
//! image index by digest, which takes every tag of the repository that
//! serves it. The image goes with its last name, as `strata rmi` takes
//! it; one that containers use keeps existing, untagged. Blobs are not
//! deleted one by one: they go with the images that name them.

use hyper::StatusCode;
use strata::Store;

use crate::catalog::Catalog;
use crate::content;
use crate::names::{ManifestRef, RepoName, parse_digest};
use crate::reply::{ApiError, Reply};
use crate::route::Route;

/// The reply to a `DELETE` of `route` on a server that takes writes.
pub fn answer(store: &Store, route: &Route<'_>) -> Reply {
    respond(store, route).unwrap_or_else(ApiError::into_reply)
}

fn respond(store: &Store, route: &Route<'_>) -> Result<Reply, ApiError> {
    match route {
        Route::Manifest { name, reference } => {
            let name = RepoName::parse(name)?;
            manifest(store, &name, &ManifestRef::parse(reference)?)
        }
        Route::Blob { name, digest } => {
            RepoName::parse(name)?;
            parse_digest(digest)?;
            Err(ApiError::unsupported(
                "DELETE",
                "deletes of single blobs (they go with the images that name them)",
            ))
        }
        _ => Err(ApiError::unsupported("DELETE", "deletes here")),
    }
}

/// Takes the tags `reference` names: one tag, or every tag whose image is
/// served with the manifest of that digest.
fn manifest(store: &Store, name: &RepoName, reference: &ManifestRef) -> Result<Reply, ApiError> {
    let repo = Catalog::load(store)?.repo(name)?;
    let tags: Vec<&String> = match reference {
        ManifestRef::Tag(tag) => repo.tags.keys().filter(|t| *t == tag).collect(),
        ManifestRef::Digest(digest) => {
            let mut found = Vec::new();
            for (tag, image) in &repo.tags {
                let index = repo.indexes.get(tag).map(|index| &index.digest);
                if index == Some(digest) || &content::served(store, image)?.digest == digest {
                    found.push(tag);
                }
            }
            found
        }
    };
    if tags.is_empty() {
        let asked = match reference {
            ManifestRef::Tag(tag) => tag.clone(),
            ManifestRef::Digest(digest) => digest.to_string(),
        };
        return Err(ApiError::manifest_unknown(name.as_str(), &asked));
    }
    for tag in tags {
        let full = format!("{}:{tag}", repo.full);
        match store.delete_image(&full, false) {
            Ok(_) => {}
            Err(
                strata::Error::ImageInUse { image, .. } | strata::Error::ImageInIndex { image, .. },
            ) => {
                store.untag_image(&image, &full)?;
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(Reply::new(StatusCode::ACCEPTED).header("Content-Length", "0"))
}

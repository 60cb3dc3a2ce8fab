//! Which images a repository name serves.
//!
//! An image named `REGISTRY/PATH:TAG` is served as tag `TAG` of the
//! repository `PATH` (`localhost/sample:1` → `sample`,
//! `docker.io/library/alpine:3.20` → `library/alpine`), of the repository
//! `REGISTRY/PATH` when that is a valid repository name
//! (`docker.io/library/alpine`; a registry with a port is not), and, for
//! Docker Hub's official images, of the short name docker shows
//! (`alpine`). When a name leads to images of several full names
//! (`localhost/library/alpine` and `docker.io/library/alpine` both answer
//! to `library/alpine`), strata does not guess: the name is refused with
//! `NAME_UNKNOWN` and a message listing the full names to ask for.

use std::collections::{BTreeMap, BTreeSet};

use strata::image::reference;
use strata::{Image, Store};

use crate::names::RepoName;
use crate::reply::ApiError;

/// Docker Hub, whose official images also answer to their short name.
const DOCKER_HUB: &str = "docker.io";

/// Every tagged image of the store with the repository names it answers to.
pub struct Catalog {
    entries: Vec<Entry>,
}

/// One name of one image.
struct Entry {
    /// `REGISTRY/PATH`.
    full: String,
    /// The repository names it is served under.
    aliases: Vec<String>,
    tag: String,
    image: Image,
}

/// The images of one repository.
pub struct Repo {
    /// Tag → image, in tag order.
    pub tags: BTreeMap<String, Image>,
}

impl Repo {
    /// The images, each once, in tag order of their first tag.
    pub fn images(&self) -> Vec<&Image> {
        let mut seen = BTreeSet::new();
        self.tags
            .values()
            .filter(|image| seen.insert(image.id.as_str()))
            .collect()
    }
}

impl Catalog {
    /// The store's tagged images (names without a tag are not served).
    pub fn load(store: &Store) -> Result<Self, ApiError> {
        let mut entries = Vec::new();
        for image in store.images()? {
            for name in &image.names {
                if let Some(entry) = entry(name, &image) {
                    entries.push(entry);
                }
            }
        }
        Ok(Self { entries })
    }

    /// The repository `name` answers to: `NAME_UNKNOWN` when none, or when
    /// it is ambiguous.
    pub fn repo(&self, name: &RepoName) -> Result<Repo, ApiError> {
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| entry.aliases.iter().any(|alias| alias == name.as_str()))
            .collect();
        let fulls: BTreeSet<&str> = matching.iter().map(|entry| entry.full.as_str()).collect();
        match fulls.len() {
            0 => Err(ApiError::name_unknown(name.as_str())),
            1 => Ok(Repo {
                tags: matching
                    .into_iter()
                    .map(|entry| (entry.tag.clone(), entry.image.clone()))
                    .collect(),
            }),
            _ => {
                let candidates: Vec<String> = fulls
                    .into_iter()
                    .filter(|full| RepoName::parse(full).is_ok())
                    .map(str::to_string)
                    .collect();
                Err(ApiError::name_ambiguous(name.as_str(), &candidates))
            }
        }
    }
}

/// The entry of image name `name`, if it has a tag.
fn entry(name: &str, image: &Image) -> Option<Entry> {
    let parsed = reference::parse(name).ok()?;
    let tag = parsed.tag()?.to_string();
    let full = parsed.repository();
    let mut aliases = vec![parsed.path().to_string()];
    if RepoName::parse(&full).is_ok() {
        aliases.push(full.clone());
    }
    if parsed.domain() == DOCKER_HUB {
        aliases.push(parsed.familiar_repository());
    }
    aliases.dedup();
    Some(Entry {
        full,
        aliases,
        tag,
        image: image.clone(),
    })
}

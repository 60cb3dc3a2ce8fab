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
//!
//! A tag pushed as an image index (a multi-platform image) serves that
//! index, and the repository serves the images the index holds too, by
//! their manifests' digests.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strata::image::reference;
use strata::{Image, ImageIndex, Store};

use crate::names::RepoName;
use crate::reply::ApiError;

/// Docker Hub, whose official images also answer to their short name.
const DOCKER_HUB: &str = "docker.io";

/// Every tagged image of the store with the repository names it answers
/// to, and the image indexes kept under those names.
pub struct Catalog {
    entries: Vec<Entry>,
    /// Image indexes by the name they were pushed under.
    indexes: HashMap<String, ImageIndex>,
    /// Every image, by id (for the images an index holds).
    images: HashMap<String, Image>,
}

/// One name of one image.
struct Entry {
    /// The name itself, `REGISTRY/PATH:TAG`.
    name: String,
    /// `REGISTRY/PATH`.
    full: String,
    /// The repository names it is served under.
    aliases: Vec<String>,
    tag: String,
    image: Image,
}

/// The images of one repository.
pub struct Repo {
    /// The full name of its images, `REGISTRY/PATH`.
    pub full: String,
    /// Tag → image, in tag order.
    pub tags: BTreeMap<String, Image>,
    /// Tag → the image index pushed under it, for the tags that have one.
    pub indexes: BTreeMap<String, ImageIndex>,
    /// The images those indexes hold.
    pub held: Vec<Image>,
}

impl Repo {
    /// The images, each once: in tag order of their first tag, then the
    /// images indexes hold.
    pub fn images(&self) -> Vec<&Image> {
        let mut seen = BTreeSet::new();
        self.tags
            .values()
            .chain(&self.held)
            .filter(|image| seen.insert(image.id.as_str()))
            .collect()
    }
}

impl Catalog {
    /// The store's tagged images (names without a tag are not served).
    pub fn load(store: &Store) -> Result<Self, ApiError> {
        let images = store.images()?;
        let indexes = store
            .image_indexes()?
            .into_iter()
            .map(|index| (index.name.clone(), index))
            .collect();
        Ok(Self::of(images, indexes))
    }

    /// The catalog of `images` and `indexes` (by name).
    fn of(images: Vec<Image>, indexes: HashMap<String, ImageIndex>) -> Self {
        let entries = images
            .iter()
            .flat_map(|image| image.names.iter().filter_map(|name| entry(name, image)))
            .collect();
        let images = images
            .into_iter()
            .map(|image| (image.id.clone(), image))
            .collect();
        Self {
            entries,
            indexes,
            images,
        }
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
            1 => {
                let indexes: BTreeMap<String, ImageIndex> = matching
                    .iter()
                    .filter_map(|entry| {
                        let index = self.indexes.get(&entry.name)?;
                        Some((entry.tag.clone(), index.clone()))
                    })
                    .collect();
                let held = indexes
                    .values()
                    .flat_map(|index| &index.images)
                    .filter_map(|id| self.images.get(id).cloned())
                    .collect();
                Ok(Repo {
                    full: fulls
                        .iter()
                        .next()
                        .map_or_else(String::new, |f| f.to_string()),
                    tags: matching
                        .into_iter()
                        .map(|entry| (entry.tag.clone(), entry.image.clone()))
                        .collect(),
                    indexes,
                    held,
                })
            }
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

impl Catalog {
    /// The image name a push of `tag` to repository `name` gives: the full
    /// name of the images `name` answers to already (one registry), else
    /// `name` itself when its first component is a registry (`localhost`
    /// or one with a `.` or `:`), else `localhost/NAME`, as podman names
    /// local images. Ambiguous names are refused as they are for pulls.
    pub fn push_target(&self, name: &RepoName, tag: &str) -> Result<String, ApiError> {
        match self.repo(name) {
            Ok(repo) => {
                let full = self
                    .entries
                    .iter()
                    .find(|entry| {
                        entry.aliases.iter().any(|alias| alias == name.as_str())
                            && repo.tags.contains_key(&entry.tag)
                    })
                    .map(|entry| entry.full.clone())
                    .unwrap_or_else(|| name.as_str().to_string());
                Ok(format!("{full}:{tag}"))
            }
            Err(error) if error.detail.get("candidates").is_some() => Err(error),
            Err(_) => {
                let first = name.as_str().split('/').next().unwrap_or("");
                let has_registry = name.as_str().contains('/')
                    && (first == "localhost" || first.contains('.') || first.contains(':'));
                Ok(if has_registry {
                    format!("{}:{tag}", name.as_str())
                } else {
                    format!("localhost/{}:{tag}", name.as_str())
                })
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
        name: name.to_string(),
        full,
        aliases,
        tag,
        image: image.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: char, names: &[&str]) -> Image {
        Image {
            id: id.to_string().repeat(64),
            names: names.iter().map(|n| n.to_string()).collect(),
            layers: Vec::new(),
            top_layer: None,
            manifests: Vec::new(),
            created: String::new(),
            added: String::new(),
            size: 0,
        }
    }

    fn catalog(images: &[Image]) -> Catalog {
        Catalog::of(images.to_vec(), HashMap::new())
    }

    fn tags(catalog: &Catalog, name: &str) -> Result<Vec<(String, char)>, &'static str> {
        let name = RepoName::parse(name).map_err(|e| e.code)?;
        let repo = catalog.repo(&name).map_err(|e| e.code)?;
        Ok(repo
            .tags
            .iter()
            .map(|(tag, image)| (tag.clone(), image.id.chars().next().unwrap_or('?')))
            .collect())
    }

    #[test]
    fn names_answer_to_their_path_full_name_and_docker_short_name() {
        let store = catalog(&[
            image('a', &["localhost/sample:1", "localhost/sample:2"]),
            image('b', &["docker.io/library/alpine:3.20", "quay.io/ns/app:2"]),
            image('c', &["localhost:5000/team/x:1"]),
        ]);
        let sample = Ok(vec![("1".to_string(), 'a'), ("2".to_string(), 'a')]);
        assert_eq!(tags(&store, "sample"), sample);
        assert_eq!(tags(&store, "localhost/sample"), sample);
        let alpine = Ok(vec![("3.20".to_string(), 'b')]);
        for name in ["library/alpine", "docker.io/library/alpine", "alpine"] {
            assert_eq!(tags(&store, name), alpine, "{name}");
        }
        assert_eq!(tags(&store, "ns/app"), Ok(vec![("2".to_string(), 'b')]));
        assert_eq!(tags(&store, "team/x"), Ok(vec![("1".to_string(), 'c')]));
        assert_eq!(tags(&store, "app"), Err("NAME_UNKNOWN"));
        assert_eq!(tags(&store, "quay.io/ns"), Err("NAME_UNKNOWN"));
    }

    #[test]
    fn a_path_under_two_registries_is_ambiguous() {
        let store = catalog(&[
            image('a', &["localhost/library/alpine:1"]),
            image('b', &["docker.io/library/alpine:2"]),
        ]);
        assert_eq!(tags(&store, "library/alpine"), Err("NAME_UNKNOWN"));
        assert_eq!(
            tags(&store, "localhost/library/alpine"),
            Ok(vec![("1".to_string(), 'a')])
        );
        assert_eq!(tags(&store, "alpine"), Ok(vec![("2".to_string(), 'b')]));
    }
}

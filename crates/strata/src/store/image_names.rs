//! How images are named and found by name, as podman does it for local
//! images.
//!
//! Names given to `tag`, `commit` and `import` that have no registry are
//! put under `localhost/` ([`local_name`]); pulled and loaded images keep
//! the Docker Hub normalization ([`super::normalize_name`]).
//!
//! A reference is looked up in podman's order ([`lookup`]):
//!
//! 1. a full id (64 hex digits, `sha256:` optional);
//! 2. the name itself when it has a registry; a short name (`sample:1`)
//!    as `localhost/sample:1`, then as `docker.io/library/sample:1`;
//! 3. a unique id prefix;
//! 4. for a short name, any name ending in `/sample:1`
//!    (`quay.io/team/sample:1`). Where podman takes the first image it
//!    lists, strata refuses to guess between several
//!    ([`Error::Ambiguous`]).
//!
//! A reference that finds nothing can be given the names closest to it
//! ([`Store::similar_image_names`]).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};

use super::Store;
use super::records::{self, Lookup};
use crate::error::{Error, Result};
use crate::image::reference::{self, Reference};

/// Images, for [`records::resolve_in`].
const IMAGES: Lookup = Lookup {
    records: "images",
    names: "image_names",
    owner: "image_id",
    not_found: Error::ImageNotFound,
};

/// How many close names a not-found error offers, at most.
const MAX_SIMILAR: usize = 5;

/// How alike (0 to 1, normalized Damerau-Levenshtein) a short repository
/// must be to the one asked for to be offered.
const SIMILARITY: f64 = 0.6;

/// Normalizes a name as podman names local images: `sample:2` becomes
/// `localhost/sample:2`, `app` becomes `localhost/app:latest`;
/// `quay.io/x/app` becomes `quay.io/x/app:latest`.
pub fn local_name(name: &str) -> Result<String> {
    Ok(Reference::parse_local(name)?.to_string())
}

/// What a reference found: the image's id and, when it was found by one
/// of its names, that name (normalized).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The image.
    pub id: String,
    /// The name it was found by, if it was.
    pub name: Option<String>,
}

/// Looks `reference` up in podman's order (see the module documentation).
pub(crate) fn lookup(conn: &Connection, reference: &str) -> Result<Found> {
    let bare = reference.strip_prefix("sha256:").unwrap_or(reference);
    let by_id = |id| Found { id, name: None };
    if records::is_id(bare) {
        return records::resolve_in(conn, &IMAGES, bare).map(by_id);
    }
    for name in candidates(reference) {
        if let Some(id) = image_named(conn, &name)? {
            return Ok(Found {
                id,
                name: Some(name),
            });
        }
    }
    match records::resolve_in(conn, &IMAGES, bare) {
        Err(Error::ImageNotFound(_)) => {}
        other => return other.map(by_id),
    }
    let mut matches = by_suffix(conn, reference)?;
    match matches.len() {
        0 => Err(Error::ImageNotFound(reference.to_string())),
        1 => {
            let (name, id) = matches.remove(0);
            Ok(Found {
                id,
                name: Some(name),
            })
        }
        _ => Err(Error::Ambiguous {
            reference: reference.to_string(),
            candidates: matches.into_iter().map(|(name, _)| name).collect(),
        }),
    }
}

/// The names `reference` may stand for, in the order they are tried:
/// itself (normalized) when it names a registry; else the `localhost/`
/// name, then the Docker Hub one.
pub(crate) fn candidates(reference: &str) -> Vec<String> {
    let Ok(docker) = reference::parse(reference) else {
        return Vec::new();
    };
    let docker = docker.to_string();
    if reference::names_domain(reference) {
        return vec![docker];
    }
    match Reference::parse_local(reference) {
        Ok(local) => vec![local.to_string(), docker],
        Err(_) => vec![docker],
    }
}

/// The image named exactly `name`, if any (ready images only).
fn image_named(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT i.id FROM image_names n JOIN images i ON i.id = n.image_id \
             WHERE n.name = ?1 AND i.state = 'ready'",
        )?
        .query_row([name], |row| row.get(0))
        .optional()?)
}

/// For a short name with a tag (`sample:1`, `team/sample`), each name
/// (with its image) whose repository ends in `/sample` with that tag, as
/// podman's last resort finds `quay.io/team/sample:1`. Several names of
/// one image count once.
fn by_suffix(conn: &Connection, reference: &str) -> Result<Vec<(String, String)>> {
    if reference::names_domain(reference) {
        return Ok(Vec::new());
    }
    let Ok(local) = Reference::parse_local(reference) else {
        return Ok(Vec::new());
    };
    let (Some(tag), None) = (local.tag(), local.digest()) else {
        return Ok(Vec::new());
    };
    let suffix = format!("/{}:{tag}", local.path());
    let mut stmt = conn.prepare_cached(
        "SELECT n.name, n.image_id FROM image_names n JOIN images i ON i.id = n.image_id \
         WHERE i.state = 'ready' AND length(n.name) > ?2 AND substr(n.name, -?2) = ?1 \
         ORDER BY n.name",
    )?;
    let rows = stmt.query_map(rusqlite::params![suffix, suffix.len() as i64], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut found: Vec<(String, String)> = Vec::new();
    for row in rows {
        let (name, id) = row?;
        if !found.iter().any(|(_, seen)| *seen == id) {
            found.push((name, id));
        }
    }
    Ok(found)
}

/// A name as a person would type it: without `localhost/` or
/// `docker.io/library/`, and for Docker Hub without `docker.io/`.
fn short(name: &str) -> String {
    if let Some(rest) = name.strip_prefix("localhost/") {
        return rest.to_string();
    }
    match reference::parse(name) {
        Ok(parsed) => parsed.familiar(),
        Err(_) => name.to_string(),
    }
}

/// The repository part of a short name (`sample` of `sample:1`).
fn repository(short: &str) -> &str {
    let name = short.split_once('@').map_or(short, |(name, _)| name);
    let last = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[last..].find(':') {
        Some(colon) => &name[..last + colon],
        None => name,
    }
}

impl Store {
    /// The image names closest to `reference`, most alike first (at most
    /// five): those whose repository, written short (without
    /// `localhost/` or `docker.io/library/`), is spelled nearly like the
    /// one asked for; among them, those whose tag is nearer come first.
    /// For an error that says what was perhaps meant.
    pub fn similar_image_names(&self, reference: &str) -> Result<Vec<String>> {
        let wanted = short(reference.trim());
        let wanted_repo = repository(&wanted).to_string();
        let mut scored: Vec<(f64, f64, String)> = Vec::new();
        let names: BTreeSet<String> = self
            .images()?
            .into_iter()
            .flat_map(|image| image.names)
            .collect();
        for name in names {
            let candidate = short(&name);
            let repo = strsim::normalized_damerau_levenshtein(&wanted_repo, repository(&candidate));
            if repo >= SIMILARITY {
                let whole = strsim::normalized_damerau_levenshtein(&wanted, &candidate);
                scored.push((repo, whole, name));
            }
        }
        // Equals in spelling come in lookup order: local, Docker Hub, others.
        let rank = |name: &str| match name {
            n if n.starts_with("localhost/") => 0,
            n if n.starts_with("docker.io/") => 1,
            _ => 2,
        };
        scored.sort_by(|a, b| {
            (b.0.total_cmp(&a.0))
                .then_with(|| b.1.total_cmp(&a.1))
                .then_with(|| rank(&a.2).cmp(&rank(&b.2)))
                .then_with(|| a.2.cmp(&b.2))
        });
        Ok(scored
            .into_iter()
            .take(MAX_SIMILAR)
            .map(|(_, _, name)| name)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_local_first_then_docker_hub() {
        assert_eq!(
            candidates("sample:1"),
            ["localhost/sample:1", "docker.io/library/sample:1"]
        );
        assert_eq!(
            candidates("team/app"),
            ["localhost/team/app:latest", "docker.io/team/app:latest"]
        );
        assert_eq!(candidates("quay.io/x/app:2"), ["quay.io/x/app:2"]);
        assert_eq!(candidates("localhost/app"), ["localhost/app:latest"]);
        assert!(candidates("Not Valid").is_empty());
    }

    #[test]
    fn local_names_get_localhost() {
        assert_eq!(
            local_name("sample:2").ok().as_deref(),
            Some("localhost/sample:2")
        );
        assert_eq!(
            local_name("app").ok().as_deref(),
            Some("localhost/app:latest")
        );
        assert_eq!(
            local_name("docker.io/alpine").ok().as_deref(),
            Some("docker.io/library/alpine:latest")
        );
        assert_eq!(
            local_name("localhost:5000/a:1").ok().as_deref(),
            Some("localhost:5000/a:1")
        );
        assert!(local_name("UPPER").is_err());
        assert!(local_name(&"b".repeat(64)).is_err());
    }

    #[test]
    fn short_forms_drop_the_default_prefixes() {
        assert_eq!(short("localhost/sample:1"), "sample:1");
        assert_eq!(short("docker.io/library/alpine:3"), "alpine:3");
        assert_eq!(short("docker.io/team/app:1"), "team/app:1");
        assert_eq!(short("quay.io/x/app:1"), "quay.io/x/app:1");
        assert_eq!(repository("localhost:5000/app:1"), "localhost:5000/app");
        assert_eq!(repository("sample"), "sample");
    }
}

//! What a server that takes pushes keeps between requests: the upload
//! sessions in progress (each a [`strata::Upload`] known by its id), and
//! one lease that holds the blobs pushed so far until a manifest puts
//! them in an image.
//!
//! A session is taken out of the table while a request writes to it, so
//! two requests cannot write the same upload at once; a request that ends
//! without giving it back (the client went away mid-body) takes the
//! session with it: the upload is cancelled, its bytes and lease gone.
//!
//! When the server stops, sessions still open are cancelled and the lease
//! released, which removes the pushed blobs no image names. A server
//! killed instead leaves that to the next process that opens the store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use strata::digest::Digest;
use strata::{Lease, Store, Upload};

use crate::reply::ApiError;
use crate::state::lock;

/// The write side of a server.
pub struct Writes {
    store: Arc<Store>,
    pending: Lease,
    sessions: Mutex<HashMap<String, Session>>,
    /// Blobs pushed (or mounted) into each repository by this server, so
    /// the repository serves them before a manifest names them, as a
    /// registry does (docker checks each blob it uploaded that way); with
    /// the size each had then, which its file must still have.
    linked: Mutex<HashMap<(String, Digest), u64>>,
    /// Image manifests pushed into each repository by digest by this
    /// server (the images an index will hold), served there by digest.
    linked_manifests: Mutex<HashSet<(String, Digest)>>,
}

/// One upload in progress.
struct Session {
    /// The repository it was started in.
    repo: String,
    /// The upload; `None` while a request writes to it.
    upload: Option<Upload>,
}

impl Writes {
    /// Starts the lease that holds pushed blobs.
    pub fn new(store: Arc<Store>) -> Result<Self, strata::Error> {
        Ok(Self {
            pending: store.lease()?,
            store,
            sessions: Mutex::new(HashMap::new()),
            linked: Mutex::new(HashMap::new()),
            linked_manifests: Mutex::new(HashSet::new()),
        })
    }

    /// Records that blob `digest`, `size` bytes, was pushed or mounted
    /// into `repo`.
    pub fn link(&self, repo: &str, digest: &Digest, size: u64) {
        lock(&self.linked).insert((repo.to_string(), digest.clone()), size);
    }

    /// The size blob `digest` had when it was pushed or mounted into
    /// `repo`; `None` if it was not.
    pub fn linked_size(&self, repo: &str, digest: &Digest) -> Option<u64> {
        lock(&self.linked)
            .get(&(repo.to_string(), digest.clone()))
            .copied()
    }

    /// Records that image manifest `digest` was pushed into `repo` by
    /// digest.
    pub fn link_manifest(&self, repo: &str, digest: &Digest) {
        lock(&self.linked_manifests).insert((repo.to_string(), digest.clone()));
    }

    /// Whether image manifest `digest` was pushed into `repo` by digest.
    pub fn is_linked_manifest(&self, repo: &str, digest: &Digest) -> bool {
        lock(&self.linked_manifests).contains(&(repo.to_string(), digest.clone()))
    }

    /// The lease pushed blobs are held by.
    pub fn pending(&self) -> &Lease {
        &self.pending
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        lock(&self.sessions)
    }

    /// Records `upload` as a session of `repo`; returns its id.
    pub fn open(&self, repo: &str, upload: Upload) -> String {
        let id = upload.id().to_string();
        self.table().insert(
            id.clone(),
            Session {
                repo: repo.to_string(),
                upload: Some(upload),
            },
        );
        id
    }

    /// Takes session `id` of `repo` out to write to it.
    pub fn take(self: &Arc<Self>, repo: &str, id: &str) -> Result<Taken, ApiError> {
        let mut table = self.table();
        let session = table
            .get_mut(id)
            .filter(|session| session.repo == repo)
            .ok_or_else(|| ApiError::upload_unknown(id))?;
        let upload = session
            .upload
            .take()
            .ok_or_else(|| ApiError::upload_busy(id))?;
        Ok(Taken {
            writes: Arc::clone(self),
            id: id.to_string(),
            upload: Some(upload),
        })
    }

    /// Ends the server's writes: open sessions are cancelled, and the
    /// lease released (removing pushed blobs no image names).
    pub fn close(self) -> Result<(), strata::Error> {
        let sessions = std::mem::take(&mut *self.table());
        for (_, session) in sessions {
            if let Some(upload) = session.upload {
                self.store.cancel_upload(upload)?;
            }
        }
        self.store.release(self.pending).map(drop)
    }
}

/// A session taken out of the table. Given back with [`Taken::give_back`];
/// dropped, it ends the session and cancels the upload.
pub struct Taken {
    writes: Arc<Writes>,
    id: String,
    upload: Option<Upload>,
}

impl Taken {
    /// The upload.
    pub fn upload(&mut self) -> &mut Upload {
        match &mut self.upload {
            Some(upload) => upload,
            None => unreachable!("only give_back and end take the upload, and they consume it"),
        }
    }

    /// The session's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Puts the session back for the next request.
    pub fn give_back(mut self) {
        let upload = self.upload.take();
        if let Some(session) = self.writes.table().get_mut(&self.id) {
            session.upload = upload;
        }
    }

    /// Ends the session, handing over its upload (to finish or cancel).
    pub fn end(mut self) -> Upload {
        self.writes.table().remove(&self.id);
        match self.upload.take() {
            Some(upload) => upload,
            None => unreachable!("only give_back and end take the upload, and they consume it"),
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            self.writes.table().remove(&self.id);
            // A failed cancel leaves the lease to the next process that
            // opens the store; the bytes went with the upload already.
            let _ = self.writes.store.cancel_upload(upload);
        }
    }
}

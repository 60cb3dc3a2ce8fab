//! Several users of one store at once: imports run in parallel (no
//! store-wide lock while extracting), and interleaved imports, renames and
//! deletions lose nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use strata::CreateOptions;
use testkit::TarBuilder;

use crate::common::{TestStore, open};

/// A rendezvous that gives up after a timeout.
struct Rendezvous {
    arrived: Mutex<usize>,
    all: Condvar,
    parties: usize,
}

impl Rendezvous {
    fn wait(&self, timeout: Duration) -> bool {
        let mut arrived = self.arrived.lock().expect("lock");
        *arrived += 1;
        self.all.notify_all();
        let (arrived, result) = self
            .all
            .wait_timeout_while(arrived, timeout, |n| *n < self.parties)
            .expect("wait");
        drop(arrived);
        !result.timed_out()
    }
}

/// Delivers `data`; after half of it, waits for the other import to get
/// half way too. If imports were serialised, the wait would time out.
struct MeetHalfway {
    data: Vec<u8>,
    at: usize,
    met: Option<bool>,
    rendezvous: Arc<Rendezvous>,
}

impl Read for MeetHalfway {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let half = self.data.len() / 2;
        if self.at >= half && self.met.is_none() {
            let met = self.rendezvous.wait(Duration::from_secs(30));
            self.met = Some(met);
            if !met {
                return Err(std::io::Error::other(
                    "the other import never got half way: imports are serialised",
                ));
            }
        }
        let end = if self.at < half {
            half
        } else {
            self.data.len()
        };
        let n = buf.len().min(end - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn big_tar(tag: &str) -> Vec<u8> {
    let mut builder = TarBuilder::default();
    for i in 0..400 {
        builder = builder.file(&format!("{tag}/f{i}"), &vec![i as u8; 20_000]);
    }
    builder.finish()
}

#[test]
fn two_large_imports_overlap_in_time() {
    let t = TestStore::new();
    let rendezvous = Arc::new(Rendezvous {
        arrived: Mutex::new(0),
        all: Condvar::new(),
        parties: 2,
    });
    let handles: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|tag| {
            let store = open(t.dir.path());
            let rendezvous = rendezvous.clone();
            std::thread::spawn(move || {
                let mut input = MeetHalfway {
                    data: big_tar(tag),
                    at: 0,
                    met: None,
                    rendezvous,
                };
                store
                    .import_layer(&CreateOptions::default(), &mut input, None)
                    .map(|l| l.id)
            })
        })
        .collect();
    let ids: Vec<String> = handles
        .into_iter()
        .map(|h| {
            h.join()
                .expect("thread")
                .expect("both imports complete while overlapping")
        })
        .collect();
    t.assert_only(&ids.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn interleaved_imports_renames_and_deletes_lose_nothing() {
    let t = TestStore::new();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = open(t.dir.path());
            std::thread::spawn(move || {
                let mut alive: BTreeMap<String, String> = BTreeMap::new();
                let mut order: Vec<String> = Vec::new();
                for i in 0..50 {
                    let name = format!("w{w}-{i}");
                    let tar = TarBuilder::default()
                        .file(&format!("f{w}-{i}"), name.as_bytes())
                        .finish();
                    let options = CreateOptions {
                        names: vec![name.clone()],
                        ..Default::default()
                    };
                    let layer = store
                        .import_layer(&options, &mut &tar[..], None)
                        .expect("import");
                    alive.insert(layer.id.clone(), name);
                    order.push(layer.id.clone());
                    if i % 5 == 0 {
                        store
                            .add_names(&layer.id, &["hot".to_string()])
                            .expect("move the shared name");
                    }
                    if i % 3 == 2 {
                        let victim = order.remove(0);
                        store.delete_layer(&victim).expect("delete");
                        alive.remove(&victim);
                    }
                }
                alive
            })
        })
        .collect();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for worker in workers {
        expected.extend(worker.join().expect("worker"));
    }
    let layers = t.store.layers().expect("list");
    let found: BTreeSet<String> = layers.iter().map(|l| l.id.clone()).collect();
    assert_eq!(
        found,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "lost or leftover layers"
    );
    let mut hot = 0;
    for layer in &layers {
        let own: Vec<&String> = layer.names.iter().filter(|n| n.as_str() != "hot").collect();
        assert_eq!(own, vec![&expected[&layer.id]], "names of {}", layer.id);
        hot += usize::from(layer.names.iter().any(|n| n == "hot"));
    }
    assert!(hot <= 1, "the shared name is on {hot} layers");
    let report = t.store.fsck(false).expect("fsck");
    assert!(report.clean, "{:?}", report.issues);
}

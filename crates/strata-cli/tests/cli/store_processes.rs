//! Several strata processes on one store at once: four workers, each
//! importing, renaming and deleting 50 times. No lost update, no leftover,
//! no deadlock (the test finishing is the proof of the last).

use std::collections::{BTreeMap, BTreeSet};

use crate::store_support::{CliStore, write_tar};

#[test]
fn four_processes_fifty_operations_each() {
    let s = std::sync::Arc::new(CliStore::new());
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let tar = write_tar(s.dir.path(), &format!("w{w}.tar"), 4, 100);
                let mut alive: BTreeMap<String, String> = BTreeMap::new();
                let mut order = Vec::new();
                let mut ops = 0;
                let mut i = 0;
                while ops < 50 {
                    let name = format!("w{w}-{i}");
                    let id = s.import(&tar, &["--name", &name]);
                    ops += 1;
                    alive.insert(id.clone(), name.clone());
                    order.push(id.clone());
                    if i % 2 == 0 {
                        // "hot" moves between the workers' layers; the last
                        // mover wins, so only its uniqueness is checked.
                        s.ok(&["layer", "names", "add", &id, "hot"]);
                        let renamed = format!("{name}-renamed");
                        s.ok(&["layer", "names", "add", &id, &renamed]);
                        s.ok(&["layer", "names", "rm", &id, &name]);
                        alive.insert(id.clone(), renamed);
                        ops += 3;
                    }
                    if i % 3 == 2 {
                        let victim = order.remove(0);
                        s.ok(&["layer", "rm", &victim]);
                        alive.remove(&victim);
                        ops += 1;
                    }
                    i += 1;
                }
                alive
            })
        })
        .collect();
    let mut expected = BTreeMap::new();
    for worker in workers {
        expected.extend(worker.join().expect("worker"));
    }
    let layers: serde_json::Value =
        serde_json::from_str(&s.ok(&["layers", "--json"])).expect("json");
    let mut found = BTreeMap::new();
    let mut hot = 0;
    for layer in layers.as_array().expect("array") {
        let all: Vec<String> = layer["names"]
            .as_array()
            .expect("names")
            .iter()
            .map(|n| n.as_str().expect("str").to_string())
            .collect();
        hot += all.iter().filter(|n| *n == "hot").count();
        let names: Vec<String> = all.into_iter().filter(|n| n != "hot").collect();
        assert_eq!(names.len(), 1, "{layer}");
        found.insert(
            layer["id"].as_str().expect("id").to_string(),
            names[0].clone(),
        );
    }
    assert_eq!(found, expected);
    assert!(hot <= 1, "the shared name is on {hot} layers");
    let ids: BTreeSet<&String> = found.keys().collect();
    assert_eq!(ids.len(), expected.len());
    s.assert_clean();
}

/// Opening the store runs recovery; it must never undo a layer whose
/// owner finishes between recovery's first look at the `creating` row and
/// its check of the owner's lock. Two processes open the store over and
/// over while a third imports.
#[test]
fn recovery_never_takes_a_layer_that_was_finishing() {
    let s = std::sync::Arc::new(CliStore::new());
    s.ok(&["status"]);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let openers: Vec<_> = (0..2)
        .map(|_| {
            let (s, done) = (s.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    s.ok(&["status"]);
                }
            })
        })
        .collect();
    let tar = write_tar(s.dir.path(), "small.tar", 2, 100);
    let imported: Vec<String> = (0..60).map(|_| s.import(&tar, &[])).collect();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for opener in openers {
        opener.join().expect("opener");
    }
    let listed = s.ok(&["layers", "--json"]);
    for id in &imported {
        assert!(listed.contains(id.as_str()), "layer {id} vanished");
    }
}

//! Fills a store with many empty layers quickly, for benchmarks of how
//! strata behaves as a store grows (`scripts/bench store`).
//!
//! ```text
//! cargo run --release -p strata --example populate -- ROOT RUNROOT COUNT [THREADS]
//! ```
//!
//! Makes COUNT flat layers (no parents) through the library's ordinary
//! `create_layer`, so every layer is made exactly as `strata layer create`
//! makes it (creating row, staging directory, syncfs, rename, ready row),
//! minus the process start and store open of the command-line tool. THREADS
//! (default 4) share one open store; they overlap the waits on the disk.
//! Prints the new layer ids, one a line, in creation order per thread.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use strata::{CreateOptions, Store, StoreOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, runroot, count, rest @ ..] = args.as_slice() else {
        return Err("usage: populate ROOT RUNROOT COUNT [THREADS]".into());
    };
    let count: usize = count.parse()?;
    let threads: usize = match rest.first() {
        Some(n) => n.parse()?,
        None => 4,
    };
    let store = Store::open(&StoreOptions {
        root: Some(PathBuf::from(root)),
        runroot: Some(PathBuf::from(runroot)),
        driver: Some("vfs".to_string()),
    })?;
    let next = AtomicUsize::new(0);
    let ids = std::thread::scope(|scope| -> Result<Vec<String>, Error> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<String>, Error> {
                    let mut ids = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        let layer = store.create_layer(&CreateOptions::default())?;
                        ids.push(layer.id);
                    }
                    Ok(ids)
                })
            })
            .collect();
        let mut ids = Vec::with_capacity(count);
        for worker in workers {
            ids.extend(worker.join().map_err(|_| "a worker panicked")??);
        }
        Ok(ids)
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for id in ids {
        writeln!(out, "{id}")?;
    }
    out.flush()?;
    Ok(())
}

//! Running one job per item on a few threads, the way pushes and copies
//! send blobs: items are taken in order, and once a job fails no new job
//! starts (the running ones finish, or see the shared flag and stop).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::Result;

/// Runs `job` on each of `items`, up to `workers` (1 to 16) at once.
/// `failed` is set at the first failure; jobs may watch it to stop early.
/// Returns the jobs' values in item order, or the failure of the first
/// item (in item order) that failed.
pub(super) fn each_until_failure<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    failed: &AtomicBool,
    job: impl Fn(usize, &T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let slots: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = workers.clamp(1, 16).min(items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let at = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(at) else { break };
                    let outcome = job(at, item);
                    if outcome.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[at].lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                }
            });
        }
    });
    let mut values = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(value)) => values.push(value),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn values_come_back_in_order() {
        let items: Vec<u32> = (0..50).collect();
        let failed = AtomicBool::new(false);
        let doubled = each_until_failure(&items, 4, &failed, |_, n| Ok(n * 2)).expect("all run");
        assert_eq!(doubled, (0..50).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_failure_stops_new_jobs_and_is_returned() {
        let items: Vec<u32> = (0..100).collect();
        let failed = AtomicBool::new(false);
        let ran = AtomicUsize::new(0);
        let outcome = each_until_failure(&items, 1, &failed, |at, _| {
            ran.fetch_add(1, Ordering::SeqCst);
            match at {
                3 => Err(Error::Invalid("item 3".into())),
                _ => Ok(()),
            }
        });
        let error = outcome.expect_err("fails");
        assert!(error.to_string().contains("item 3"), "{error}");
        assert!(failed.load(Ordering::SeqCst));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            4,
            "nothing starts after the failure"
        );
    }
}

//! Progress of loads, saves, direct copies and diffs: the per-blob
//! [`TransferEvent`]s arrive, one `Started` and one `Done` per blob that
//! moves, `Skipped` for one the store has, and the bytes told add up to
//! the blob sizes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use strata::digest::Digest;
use strata::{
    ArchiveInput, CopyOptions, DiffFormat, DiffOptions, LoadOptions, Location, SaveFormat,
    SaveOptions, TransferEvent,
};
use testkit::TarBuilder;

use crate::common::TestStore;
use crate::save::{item, make_image};

/// Events as they came, in order.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<TransferEvent>>,
}

impl Recorder {
    fn record(&self, event: &TransferEvent) {
        self.events.lock().expect("lock").push(event.clone());
    }

    fn take(&self) -> Vec<TransferEvent> {
        std::mem::take(&mut *self.events.lock().expect("lock"))
    }
}

/// What the events said of each blob.
#[derive(Debug, Default, PartialEq, Eq)]
struct Told {
    started: usize,
    size: u64,
    /// Every `done` of its `Progress`, in order.
    progress: Vec<u64>,
    done: usize,
    skipped: usize,
}

fn by_blob(events: &[TransferEvent]) -> BTreeMap<Digest, Told> {
    let mut blobs: BTreeMap<Digest, Told> = BTreeMap::new();
    for event in events {
        match event {
            TransferEvent::Started { digest, size, .. } => {
                let told = blobs.entry(digest.clone()).or_default();
                told.started += 1;
                told.size = *size;
            }
            TransferEvent::Progress { digest, done, size } => {
                let told = blobs.entry(digest.clone()).or_default();
                assert_eq!(told.size, *size, "{digest}: the size changed");
                assert_eq!(told.started, 1, "{digest}: progress before start");
                told.progress.push(*done);
            }
            TransferEvent::Done { digest, size } => {
                let told = blobs.entry(digest.clone()).or_default();
                told.done += 1;
                told.size = *size;
            }
            TransferEvent::Skipped { digest, size } => {
                let told = blobs.entry(digest.clone()).or_default();
                told.skipped += 1;
                told.size = *size;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    blobs
}

/// Asserts each of `blobs` (digest, size) moved once, its progress
/// growing up to its size, and nothing else was told.
fn assert_moved(told: &BTreeMap<Digest, Told>, blobs: &[(Digest, u64)]) {
    assert_eq!(told.len(), blobs.len(), "{told:#?}");
    for (digest, size) in blobs {
        let one = told
            .get(digest)
            .unwrap_or_else(|| panic!("{digest} not told: {told:#?}"));
        assert_eq!((one.started, one.done, one.skipped), (1, 1, 0), "{one:?}");
        assert_eq!(one.size, *size, "{digest}");
        assert_eq!(one.progress.last(), Some(size), "{digest}: {one:?}");
        assert!(
            one.progress.windows(2).all(|w| w[0] < w[1]),
            "{digest}: {one:?}"
        );
    }
}

/// A layer of more than 3 MiB, so its progress is told several times.
fn big_tar() -> Vec<u8> {
    let data: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    TarBuilder::default()
        .dir("data")
        .file("data/big", &data)
        .finish()
}

fn small_tar() -> Vec<u8> {
    TarBuilder::default().file("small", b"small layer").finish()
}

#[test]
fn a_save_tells_each_layer_and_a_load_of_it_each_blob_then_skips_them() {
    let t = TestStore::new();
    let layers = [big_tar(), small_tar()];
    let image = make_image(&t.store, &layers, "p", vec![], &["localhost/progress:1"]);
    let blobs: Vec<(Digest, u64)> = layers
        .iter()
        .map(|tar| (Digest::of(tar), tar.len() as u64))
        .collect();

    let recorder = Recorder::default();
    let record = |event: &TransferEvent| recorder.record(event);
    let mut archive = Vec::new();
    let items = [item(&image, Some("localhost/progress:1"))];
    let options = SaveOptions {
        progress: Some(&record),
    };
    t.store
        .save_with(&items, SaveFormat::DockerArchive, &mut archive, &options)
        .expect("save");
    let saved = by_blob(&recorder.take());
    assert_moved(&saved, &blobs);
    assert!(
        saved[&blobs[0].0].progress.len() >= 3,
        "a 3 MiB layer is told more than once: {saved:?}"
    );

    // Into a layout directory, the same.
    let layout = t.dir.path().join("layout");
    t.store
        .save_layout_with(&items, &layout, &options)
        .expect("save layout");
    assert_moved(&by_blob(&recorder.take()), &blobs);

    // Without progress, the same bytes.
    let mut quiet = Vec::new();
    t.store
        .save(&items, SaveFormat::DockerArchive, &mut quiet)
        .expect("save");
    assert!(quiet == archive, "progress changes no byte of a save");

    // Into another store: each blob read whole (a docker archive names
    // layers by diff id).
    let other = TestStore::new();
    let path = other.dir.path().join("progress.tar");
    std::fs::write(&path, &archive).expect("write archive");
    let options = LoadOptions {
        progress: Some(&record),
    };
    let report = other.store.load_path_with(&path, &options).expect("load");
    assert_eq!(report.imported, 2);
    assert_moved(&by_blob(&recorder.take()), &blobs);

    // Again, from a stream: it is read aside first, told as it goes; then
    // the store has both layers, both are skipped.
    let length = archive.len() as u64;
    let stream = ArchiveInput::Stream(Box::new(std::io::Cursor::new(archive)));
    let report = other.store.load_with(stream, &options).expect("load");
    assert_eq!(report.reused, 2);
    let (spooled, rest): (Vec<TransferEvent>, Vec<TransferEvent>) = recorder
        .take()
        .into_iter()
        .partition(|e| matches!(e, TransferEvent::Spooled { .. }));
    let read: Vec<u64> = spooled
        .iter()
        .map(|e| match e {
            TransferEvent::Spooled { done } => *done,
            _ => 0,
        })
        .collect();
    assert_eq!(read.last(), Some(&length), "{read:?}");
    assert!(
        read.len() >= 3 && read.windows(2).all(|w| w[0] < w[1]),
        "{read:?}"
    );
    let again = by_blob(&rest);
    assert_eq!(again.len(), 2, "{again:#?}");
    for (digest, size) in &blobs {
        let one = &again[digest];
        assert_eq!((one.started, one.done, one.skipped), (0, 0, 1), "{one:?}");
        assert_eq!(one.size, *size);
    }
}

#[test]
fn a_copy_between_an_archive_and_a_layout_tells_each_layer() {
    let t = TestStore::new();
    let layers = [small_tar(), big_tar()];
    let image = make_image(&t.store, &layers, "c", vec![], &["localhost/copied:1"]);
    let blobs: Vec<(Digest, u64)> = layers
        .iter()
        .map(|tar| (Digest::of(tar), tar.len() as u64))
        .collect();
    let archive = t.dir.path().join("copied.tar");
    let items = [item(&image, Some("localhost/copied:1"))];
    t.store
        .save_path(&items, SaveFormat::DockerArchive, &archive)
        .expect("save");

    let recorder = Recorder::default();
    let record = |event: &TransferEvent| recorder.record(event);
    let options = CopyOptions {
        progress: Some(&record),
        ..CopyOptions::default()
    };
    let from: Location = format!("docker-archive:{}", archive.display())
        .parse()
        .expect("location");
    let layout = t.dir.path().join("layout");
    let to: Location = format!("oci:{}:copied", layout.display())
        .parse()
        .expect("location");
    t.store.copy_with(&from, &to, &options).expect("copy");
    assert_moved(&by_blob(&recorder.take()), &blobs);

    // A compressed archive is read aside first, told as it is read.
    let gzipped = t.dir.path().join("copied.tar.gz");
    let status = std::process::Command::new("gzip")
        .arg("-k")
        .arg(&archive)
        .status()
        .expect("run gzip");
    assert!(status.success());
    let from_gz: Location = format!("docker-archive:{}", gzipped.display())
        .parse()
        .expect("location");
    let again = t.dir.path().join("again");
    let to_again: Location = format!("oci:{}:copied", again.display())
        .parse()
        .expect("location");
    t.store
        .copy_with(&from_gz, &to_again, &options)
        .expect("copy");
    let events = recorder.take();
    let spooled = events
        .iter()
        .take_while(|e| matches!(e, TransferEvent::Spooled { .. }))
        .count();
    assert!(spooled >= 1, "{events:?}");
    assert_eq!(
        events[spooled - 1],
        TransferEvent::Spooled {
            done: std::fs::metadata(&gzipped).expect("gz").len()
        },
        "the compressed bytes read"
    );
    assert_moved(&by_blob(&events[spooled..]), &blobs);

    // From the layout into the store: a load, told the same way.
    let into: Location = "strata:localhost/back:1".parse().expect("location");
    let other = TestStore::new();
    other
        .store
        .copy_with(&to, &into, &options)
        .expect("copy in");
    assert_moved(&by_blob(&recorder.take()), &blobs);

    // And out of the store: a save.
    let out: Location = format!("oci-archive:{}", t.dir.path().join("o.tar").display())
        .parse()
        .expect("location");
    let from_store: Location = "strata:localhost/back:1".parse().expect("location");
    other
        .store
        .copy_with(&from_store, &out, &options)
        .expect("copy out");
    assert_moved(&by_blob(&recorder.take()), &blobs);
}

#[test]
fn a_diff_tells_its_tar_as_a_blob_or_as_bytes_written() {
    let t = TestStore::new();
    let big = big_tar();
    let base = t.import(&small_tar(), None, &[]).expect("base");
    let top = t.import(&big, Some(&base.id), &[]).expect("top");

    let recorder = Recorder::default();
    let record = |event: &TransferEvent| recorder.record(event);
    let options = DiffOptions {
        progress: Some(&record),
    };
    let mut out = Vec::new();
    let report = t
        .store
        .diff_with(&top.id, None, DiffFormat::Gzip, &mut out, &options)
        .expect("diff");
    assert!(report.verified);
    assert_moved(
        &by_blob(&recorder.take()),
        &[(Digest::of(&big), big.len() as u64)],
    );

    // Against another base the tar is computed: bytes as they go, then
    // its digest and size.
    let other = t.import(&small_tar(), None, &[]).expect("other base");
    let mut out = Vec::new();
    let report = t
        .store
        .diff_with(
            &top.id,
            Some(&other.id),
            DiffFormat::None,
            &mut out,
            &options,
        )
        .expect("diff");
    assert!(!report.verified);
    let events = recorder.take();
    let (last, done) = events.split_last().expect("events");
    assert_eq!(
        *last,
        TransferEvent::Done {
            digest: Digest::of(&out),
            size: out.len() as u64
        }
    );
    let written: Vec<u64> = done
        .iter()
        .map(|e| match e {
            TransferEvent::Written { done } => *done,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(written.last(), Some(&(out.len() as u64)), "{written:?}");
    assert!(written.len() >= 3, "told more than once: {written:?}");
}

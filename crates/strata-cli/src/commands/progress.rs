//! Progress bars on stderr for long transfers, only when stderr is a
//! terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` bytes (a spinner when unknown), or none when stderr is
/// not a terminal.
pub fn bar(message: &str, total: Option<u64>) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(message.to_string());
    Some(bar)
}

/// One bar per blob of a transfer (a pull, push, copy, load, save or
/// diff), like podman's "Copying blob" lines; only when stderr is a
/// terminal. A blob that ends is left as one line: `Copying blob ID done`,
/// or `... skipped: already exists` for one the other side had; each
/// image's config then gets its `Copying config ID done` line.
pub struct Transfers {
    bars: indicatif::MultiProgress,
    by_digest: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

/// The key of the bar of an output that is no known blob until its end.
const UNNAMED: &str = "";

/// The key of the bar of an archive being read aside.
const SPOOL: &str = "spool";

impl Transfers {
    /// Bars, or none when stderr is not a terminal.
    pub fn new() -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        Some(Self {
            bars: indicatif::MultiProgress::new(),
            by_digest: std::sync::Mutex::default(),
        })
    }

    /// Bars unless `quiet` or stderr is not a terminal.
    pub fn unless(quiet: bool) -> Option<Self> {
        if quiet { None } else { Self::new() }
    }

    /// The callback that moves the bars.
    pub fn callback(&self) -> impl Fn(&strata::TransferEvent) + Sync + '_ {
        move |event| self.update(event)
    }

    fn update(&self, event: &strata::TransferEvent) {
        use strata::TransferEvent as E;
        let Ok(mut bars) = self.by_digest.lock() else {
            return;
        };
        if !matches!(event, E::Spooled { .. }) {
            self.clear(bars.remove(SPOOL));
        }
        match event {
            E::Started {
                digest,
                size,
                resumed_at,
            } => {
                let bar = self
                    .bars
                    .add(ProgressBar::new(*size).with_style(blob_style()));
                bar.set_message(label(digest));
                bar.set_position(*resumed_at);
                bar.tick();
                self.clear(bars.insert(digest.to_string(), bar));
            }
            E::Progress { digest, done, .. } => {
                if let Some(bar) = bars.get(digest.as_str()) {
                    bar.set_position(*done);
                }
            }
            E::Written { done } => {
                let bar = bars
                    .entry(UNNAMED.to_string())
                    .or_insert_with(|| self.spinner("Writing"));
                bar.set_position(*done);
            }
            E::Spooled { done } => {
                let bar = bars
                    .entry(SPOOL.to_string())
                    .or_insert_with(|| self.spinner("Reading the archive"));
                bar.set_position(*done);
            }
            E::Skipped { digest, .. } => {
                // A blob started and then found made by someone else.
                self.clear(bars.remove(digest.as_str()));
                self.line(&format!("{} skipped: already exists", label(digest)));
            }
            E::Done { digest, .. } => {
                let bar = bars
                    .remove(digest.as_str())
                    .or_else(|| bars.remove(UNNAMED));
                self.clear(bar);
                self.line(&format!("{} done", label(digest)));
            }
            _ => {}
        }
    }
}

impl Transfers {
    /// A spinner with the bytes done so far, for a transfer of unknown
    /// size.
    fn spinner(&self, what: &str) -> ProgressBar {
        let style = ProgressStyle::with_template(&format!("{what} {{spinner}} {{binary_bytes}}"))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = self.bars.add(ProgressBar::new_spinner().with_style(style));
        // Drawn at once, as the blob bars are: a short transfer would
        // otherwise end before the first steady tick shows it.
        bar.tick();
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    }

    /// The line podman ends an image's blobs with: `Copying config ID
    /// done`, the first 10 digits of the image id (its config's digest).
    pub fn config_done(&self, image_id: &str) {
        let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
        self.line(&format!(
            "Copying config {} done",
            &hex[..10.min(hex.len())]
        ));
    }

    /// Takes a bar off the terminal.
    fn clear(&self, bar: Option<ProgressBar>) {
        if let Some(bar) = bar {
            bar.finish_and_clear();
            self.bars.remove(&bar);
        }
    }

    /// Prints a whole line above the bars that are still moving.
    fn line(&self, text: &str) {
        self.bars.suspend(|| eprintln!("{text}"));
    }
}

/// `Copying blob` and the first 12 digits of the blob's digest, as podman
/// names blobs.
fn label(digest: &strata::digest::Digest) -> String {
    let hex = digest.hex();
    format!("Copying blob {}", &hex[..12.min(hex.len())])
}

fn blob_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg} [{bar:38}] {binary_bytes} / {binary_total_bytes}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

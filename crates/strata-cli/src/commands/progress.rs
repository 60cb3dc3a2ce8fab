//! Progress bars on stderr for long transfers, only when stderr is a
//! terminal.

use std::io::{IsTerminal, Write};

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

/// Counts bytes written through it onto a bar.
pub struct Counting<W> {
    pub inner: W,
    pub bar: Option<ProgressBar>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One bar per blob of a registry transfer, like podman's "Copying blob"
/// lines; only when stderr is a terminal.
pub struct Transfers {
    bars: indicatif::MultiProgress,
    by_digest: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

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

    /// The callback that moves the bars.
    pub fn callback(&self) -> impl Fn(&strata::TransferEvent) + Sync + '_ {
        move |event| self.update(event)
    }

    fn update(&self, event: &strata::TransferEvent) {
        use strata::TransferEvent as E;
        let Ok(mut bars) = self.by_digest.lock() else {
            return;
        };
        let short = |digest: &strata::digest::Digest| {
            format!(
                "Copying blob {}",
                &digest.hex()[..12.min(digest.hex().len())]
            )
        };
        match event {
            E::Started {
                digest,
                size,
                resumed_at,
            } => {
                let bar = self
                    .bars
                    .add(bar(&short(digest), Some(*size)).unwrap_or_else(ProgressBar::hidden));
                bar.set_position(*resumed_at);
                bars.insert(digest.to_string(), bar);
            }
            E::Progress { digest, done, .. } => {
                if let Some(bar) = bars.get(digest.as_str()) {
                    bar.set_position(*done);
                }
            }
            E::Skipped { digest, .. } => {
                let _ = self
                    .bars
                    .println(format!("{} skipped: already exists", short(digest)));
            }
            E::Done { digest, .. } => {
                if let Some(bar) = bars.remove(digest.as_str()) {
                    bar.finish_with_message(format!("{} done", short(digest)));
                }
            }
            _ => {}
        }
    }
}

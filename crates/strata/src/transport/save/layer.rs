//! Streaming one layer's original tar into a save: the store rebuilds it
//! from tar-split straight into the output, which takes exactly the
//! recorded number of bytes; the result must hash to the diff id.

use std::io::{self, Write};

use super::plan::LayerBlob;
use crate::error::{Error, Result};
use crate::store::{DiffFormat, Store};

/// Where the layer tars of a save come from: the store, or (when copying
/// between archives and layouts) another archive or layout.
pub(crate) trait LayerTars {
    /// Writes layer `layer`'s blob to `out`: exactly `layer.size` bytes
    /// hashing to `layer.diff_id`, or an error naming the layer.
    fn write_layer(&self, layer: &LayerBlob, out: &mut dyn Write) -> Result<()>;
}

impl LayerTars for Store {
    fn write_layer(&self, layer: &LayerBlob, out: &mut dyn Write) -> Result<()> {
        stream(self, layer, out)
    }
}

/// Writes layer `layer`'s tar to `out`: exactly `layer.size` bytes hashing
/// to `layer.diff_id`, or an error naming the layer.
pub(super) fn stream(store: &Store, layer: &LayerBlob, out: &mut dyn Write) -> Result<()> {
    let mut exact = Exact {
        out,
        limit: layer.size,
        written: 0,
        overflow: false,
        failure: None,
    };
    let diffed = store.diff(&layer.id, None, DiffFormat::None, &mut exact);
    if let Some(source) = exact.failure.take() {
        return Err(Error::Io {
            context: format!("cannot write layer {}", layer.diff_id),
            source,
        });
    }
    if exact.overflow {
        return Err(damaged(
            layer,
            format!(
                "its rebuilt tar is longer than the recorded {} bytes",
                layer.size
            ),
        ));
    }
    let report = diffed.map_err(|e| name_layer(layer, e))?;
    if exact.written != layer.size {
        return Err(damaged(
            layer,
            format!(
                "its rebuilt tar is {} bytes, the recorded size is {}",
                exact.written, layer.size
            ),
        ));
    }
    if report.digest != layer.diff_id {
        return Err(Error::DigestMismatch {
            id: layer.id.clone(),
            expected: layer.diff_id.to_string(),
            actual: report.digest.to_string(),
        });
    }
    Ok(())
}

/// Errors that do not say which layer failed get the layer's id.
fn name_layer(layer: &LayerBlob, error: Error) -> Error {
    match error {
        Error::DigestMismatch { .. } | Error::Damaged { .. } | Error::LayerNotFound(_) => error,
        other => damaged(layer, format!("cannot rebuild its tar: {other}")),
    }
}

fn damaged(layer: &LayerBlob, reason: String) -> Error {
    Error::Damaged {
        id: layer.id.clone(),
        reason: format!("{reason} (diff id {})", layer.diff_id),
    }
}

/// Passes at most `limit` bytes to `out`, remembering whether more came
/// and whether `out` itself failed (so that failure is not blamed on the
/// layer).
struct Exact<'a> {
    out: &'a mut dyn Write,
    limit: u64,
    written: u64,
    overflow: bool,
    failure: Option<io::Error>,
}

impl Write for Exact<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            self.overflow = true;
            return Err(io::Error::other("the layer tar is longer than recorded"));
        }
        if let Err(e) = self.out.write_all(buf) {
            let kind = e.kind();
            self.failure = Some(e);
            return Err(io::Error::new(kind, "the output failed"));
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().inspect_err(|e| {
            self.failure
                .get_or_insert_with(|| io::Error::new(e.kind(), e.to_string()));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_refuses_more_than_the_limit_and_keeps_output_errors() {
        let mut sink = Vec::new();
        let mut exact = Exact {
            out: &mut sink,
            limit: 4,
            written: 0,
            overflow: false,
            failure: None,
        };
        assert!(exact.write_all(b"abc").is_ok());
        assert!(exact.write_all(b"de").is_err());
        assert!(exact.overflow && exact.failure.is_none());
        assert_eq!(exact.written, 3);

        let mut full = [0u8; 2];
        let mut cursor: &mut [u8] = &mut full;
        let mut exact = Exact {
            out: &mut cursor,
            limit: 10,
            written: 0,
            overflow: false,
            failure: None,
        };
        assert!(exact.write_all(b"abc").is_err());
        assert!(!exact.overflow);
        assert_eq!(
            exact.failure.map(|e| e.kind()),
            Some(io::ErrorKind::WriteZero)
        );
    }
}

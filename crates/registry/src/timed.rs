//! Waiting on the network with the stall timeout: a request that gets no
//! answer, or a body that sends nothing, for that long fails as stalled.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result, describe};

/// Sends `request`; `Stalled` when no answer comes within `timeout`.
pub(crate) async fn send_within(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    what: &str,
) -> Result<reqwest::Response> {
    match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => Err(stalled(what, timeout)),
        Ok(Err(e)) => Err(Error::Transport {
            what: what.to_string(),
            reason: describe(&e),
        }),
        Ok(Ok(response)) => Ok(response),
    }
}

/// The next piece of `response`'s body (`None` at its end); `Stalled`
/// when nothing comes within `timeout`.
pub(crate) async fn chunk_within(
    response: &mut reqwest::Response,
    timeout: Duration,
    what: &str,
) -> Result<Option<Bytes>> {
    match tokio::time::timeout(timeout, response.chunk()).await {
        Err(_) => Err(stalled(what, timeout)),
        Ok(Err(e)) => Err(Error::transport(what, &e)),
        Ok(Ok(chunk)) => Ok(chunk),
    }
}

fn stalled(what: &str, timeout: Duration) -> Error {
    Error::Stalled {
        what: what.to_string(),
        seconds: timeout.as_secs(),
    }
}

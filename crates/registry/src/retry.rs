//! When a failed request is worth another try, and how long to wait:
//! 408, 429 and 5xx answers and broken connections are retried a bounded
//! number of times with doubling waits, honouring `Retry-After`.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest wait between attempts, whatever the registry asks.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The longest doubling wait when the registry does not say.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Whether an answer with this status may succeed if asked again.
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a transport failure may succeed if tried again: timeouts,
/// refused or reset connections, bodies cut short.
pub(crate) fn retryable_error(error: &reqwest::Error) -> bool {
    error.is_timeout() || error.is_connect() || error.is_request() || error.is_body()
}

/// The wait before attempt `attempt` (1 for the first retry): the
/// registry's `Retry-After` in seconds when it gave one, else `base`
/// doubled per attempt, capped.
pub(crate) fn wait(base: Duration, attempt: u32, headers: Option<&HeaderMap>) -> Duration {
    if let Some(seconds) = headers
        .and_then(|h| h.get(RETRY_AFTER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(seconds).min(MAX_WAIT);
    }
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_wins_and_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            wait(Duration::from_millis(100), 1, Some(&headers)),
            Duration::from_secs(3)
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("100000"));
        assert_eq!(wait(Duration::ZERO, 1, Some(&headers)), MAX_WAIT);
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        let base = Duration::from_millis(500);
        assert_eq!(wait(base, 1, None), base);
        assert_eq!(wait(base, 2, None), base * 2);
        assert_eq!(wait(base, 3, None), base * 4);
        assert_eq!(wait(base, 30, None), MAX_BACKOFF);
    }

    #[test]
    fn which_statuses_are_retried() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(
                StatusCode::from_u16(code).expect("status")
            ));
        }
        for code in [400, 401, 403, 404, 405, 416, 501] {
            assert!(!retryable_status(
                StatusCode::from_u16(code).expect("status")
            ));
        }
    }
}

//! Which failed requests are sent again, and when: the OTLP specification's retryable
//! answers (HTTP 429, 502, 503, 504; gRPC `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`,
//! `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`), after the server's `Retry-After` or an
//! exponential backoff (whichever is longer: a `Retry-After: 0` does not make the retries
//! back-to-back), as long as the wait leaves the next attempt a quarter of the request's
//! timeout (counted from the first attempt). A receiver that cannot be reached at all is not retried: its spans fail at
//! once, and the next batch tries again.
use std::time::{Duration, Instant};

/// The first backoff; each retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why one attempt failed, and whether another may succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) retry: Retry,
}

/// Whether a failed attempt is worth another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    No,
    /// Yes: after the server's delay (`Retry-After`), or the backoff's when it gave none.
    After(Option<Duration>),
}

impl Retry {
    /// `After(hint)` for an answer the specification retries, else `No`.
    pub(crate) fn when(retryable: bool, hint: Option<Duration>) -> Retry {
        if retryable {
            Retry::After(hint)
        } else {
            Retry::No
        }
    }
}

impl Failure {
    /// A failure no retry mends (an unreachable receiver, a refusal, a bad request).
    pub(crate) fn fatal(message: String) -> Failure {
        Failure {
            message,
            retry: Retry::No,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::fatal(message)
    }
}

/// Whether an HTTP status is one the specification says to retry.
pub(crate) fn http_retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Whether a gRPC status code is one the specification says to retry (`RESOURCE_EXHAUSTED`
/// only with the server's retry information, which godtrace does not read: not retried).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_retryable(code: i32) -> bool {
    matches!(code, 1 | 4 | 10 | 11 | 14 | 15)
}

/// A `Retry-After` value in seconds (the HTTP-date form is not read: the backoff applies).
#[cfg(feature = "otlp-http")]
pub(crate) fn retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().map(Duration::from_secs)
}

/// The waits between attempts of one request, up to its deadline.
pub(crate) struct Schedule {
    deadline: Instant,
    /// What the next attempt must have left after its wait: a quarter of the timeout. One
    /// squeezed in just before the deadline would end at it, as "no answer", and hide why the
    /// previous one failed.
    room: Duration,
    backoff: Duration,
    /// When the last wait given ends: the next one starts no sooner.
    waited_until: Instant,
}

impl Schedule {
    /// The schedule of a request whose attempts must all end by `timeout` from now.
    pub(crate) fn new(timeout: Duration) -> Schedule {
        let now = Instant::now();
        Schedule {
            deadline: now
                .checked_add(timeout)
                .unwrap_or_else(|| now + Duration::from_secs(3600)),
            room: timeout / 4,
            backoff: FIRST_BACKOFF,
            waited_until: now,
        }
    }

    /// How long to wait before the next attempt after `failure`; `None` when it is not
    /// retried, or the wait would not end before the deadline.
    pub(crate) fn next_wait(&mut self, failure: &Failure) -> Option<Duration> {
        let Retry::After(hint) = failure.retry else {
            return None;
        };
        let wait = hint.map_or(self.backoff, |hint| hint.max(self.backoff));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        let ends = Instant::now().max(self.waited_until).checked_add(wait)?;
        if ends.checked_add(self.room)? > self.deadline {
            return None;
        }
        self.waited_until = ends;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retryable(hint: Option<Duration>) -> Failure {
        Failure {
            message: "503".into(),
            retry: Retry::After(hint),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_stops_at_the_deadline() {
        let mut schedule = Schedule::new(Duration::from_secs(12));
        let waits: Vec<_> = std::iter::from_fn(|| schedule.next_wait(&retryable(None)))
            .take(20)
            .collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        // 6.3 s of waits; the next 5 s would leave less than a quarter of the 12 s.
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200]);
        assert_eq!(
            Schedule::new(Duration::from_secs(12)).next_wait(&Failure::fatal("x".into())),
            None
        );
    }

    #[test]
    fn a_servers_delay_is_kept_only_when_it_ends_before_the_deadline() {
        let mut schedule = Schedule::new(Duration::from_secs(10));
        let two = Some(Duration::from_secs(2));
        assert_eq!(schedule.next_wait(&retryable(two)), two);
        let long = Some(Duration::from_secs(999_999));
        assert_eq!(schedule.next_wait(&retryable(long)), None);
    }

    /// `Retry-After: 0` does not make the retries back-to-back: the backoff still applies.
    #[test]
    fn a_delay_shorter_than_the_backoff_waits_the_backoff() {
        // 2.1 s: the fourth wait (800 ms, ending at 1.5 s) leaves more than a quarter of it.
        let mut schedule = Schedule::new(Duration::from_millis(2100));
        let zero = Some(Duration::ZERO);
        let waits: Vec<u128> = std::iter::from_fn(|| schedule.next_wait(&retryable(zero)))
            .take(100)
            .map(|wait| wait.as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 800]);
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn retry_after_is_whole_seconds_or_nothing() {
        assert_eq!(retry_after(b"3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(b" 0 "), Some(Duration::ZERO));
        for bad in [
            &b"-5"[..],
            b"",
            b"1.5",
            b"Wed, 21 Oct 2015 07:28:00 GMT",
            b"99999999999999999999",
            b"\xff",
        ] {
            assert_eq!(retry_after(bad), None, "{bad:?}");
        }
    }

    #[test]
    #[cfg(feature = "otlp-grpc")]
    fn the_specifications_retryable_answers() {
        let http: Vec<u16> = (100..600).filter(|&s| http_retryable(s)).collect();
        assert_eq!(http, [429, 502, 503, 504]);
        let grpc: Vec<i32> = (0..17).filter(|&c| grpc_retryable(c)).collect();
        assert_eq!(grpc, [1, 4, 10, 11, 14, 15]);
    }
}

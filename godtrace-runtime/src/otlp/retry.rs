//! Which failed requests are sent again, and when: the OTLP specification's retryable
//! answers (HTTP 429, 502, 503, 504; gRPC `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`,
//! `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`), a connection closed before any answer, and a
//! receiver that cannot be reached (its connection refused, reset, timed out or without a
//! route), after the server's `Retry-After` or an exponential backoff with random jitter
//! (whichever is longer: a `Retry-After: 0` does not make the retries back-to-back; at most a
//! second for an unreachable receiver), as long as the wait leaves the next attempt a quarter
//! of the request's timeout (counted from the first attempt). Once the exporter is closing,
//! only a request the receiver never processed is sent again (see `Transport::send_body`).
//! Between requests, the [`Pause`] after a failed one.
use std::time::{Duration, Instant};

/// The first backoff; each retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest backoff before connecting again: a collector back from a restart is found
/// within a second (while a request waits, the queue fills and new spans are dropped).
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// Why one attempt failed, and whether another may succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) retry: Retry,
    /// The receiver gave no answer: it could not be reached, or did not answer in time.
    pub(crate) unanswered: bool,
}

/// Whether a failed attempt is worth another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    No,
    /// Yes, while the exporter is not closing: the receiver answered that it cannot take the
    /// request now (429, 503, `UNAVAILABLE`, ...); after its delay (`Retry-After`), or the
    /// backoff's when it gave none. At shutdown such an answer (a load balancer's with no
    /// collector behind it) is not waited out.
    After(Option<Duration>),
    /// Yes, on a new connection after the backoff, even once the exporter is closing: the
    /// receiver did not answer the request and, but for a crash while it had it, never
    /// processed it (a kept-alive connection it closed as it was reused or before the
    /// request's answer, a stream it refused or left out when going away), the likeliest
    /// failure of shutdown's last flush after an idle spell. A receiver that took a request
    /// and closed the connection without answering gets it twice.
    Resend,
    /// Yes, on a new connection after the backoff (at most [`MAX_RECONNECT_BACKOFF`]), while
    /// the exporter is not closing: the receiver could not be reached (a collector
    /// restarting; the specification has the connection tried again).
    Reconnect,
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

    /// `Resend` for a request the receiver never processed, else `No`.
    pub(crate) fn resend_if(unprocessed: bool) -> Retry {
        if unprocessed {
            Retry::Resend
        } else {
            Retry::No
        }
    }
}

impl Failure {
    /// A failure no retry mends (a refusal, a bad request, a TLS failure).
    pub(crate) fn fatal(message: String) -> Failure {
        Failure {
            message,
            retry: Retry::No,
            unanswered: false,
        }
    }

    /// A request the receiver did not answer within the request timeout.
    #[cfg(any(test, feature = "otlp-http"))]
    pub(crate) fn no_answer(message: String) -> Failure {
        Failure {
            message,
            retry: Retry::No,
            unanswered: true,
        }
    }

    /// A failed attempt, `retry` saying whether to send it again: unanswered when it is
    /// [`Retry::Reconnect`]'s (the receiver could not be reached).
    pub(crate) fn new(message: String, retry: Retry) -> Failure {
        Failure {
            message,
            retry,
            unanswered: retry == Retry::Reconnect,
        }
    }

    /// A connection that could not be opened because of `error`: tried again when the
    /// receiver could not be reached ([`unreachable()`]), else fatal.
    pub(crate) fn connecting(
        message: String,
        error: &(dyn std::error::Error + 'static),
    ) -> Failure {
        let unreachable = unreachable(error);
        Failure {
            message,
            retry: if unreachable {
                Retry::Reconnect
            } else {
                Retry::No
            },
            unanswered: unreachable,
        }
    }
}

/// Whether `error` is the connection ending under its reader or writer: closed, reset or
/// aborted by the receiver.
pub(crate) fn connection_closed(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// What a new connection the receiver closed before answering anything is reported as, over
/// TLS or not: a server requiring a client certificate none was sent for (its alert is often
/// lost in the close), or a TLS port given `http://`. `client::explain` reads the TLS case's
/// words.
pub(crate) fn first_answer_lost(tls: bool) -> &'static str {
    if tls {
        "the receiver closed a new connection after the TLS handshake, before any answer"
    } else {
        "the receiver closed a new connection before any answer (as a TLS port given an \
         http:// endpoint does)"
    }
}

/// Whether `error` (or what caused it) says the receiver could not be reached: refused, reset
/// or aborted while connecting, timed out, no route to it. Not a name that does not resolve,
/// nor a TLS failure (a configuration's, which no retry mends).
pub(crate) fn unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut cause = Some(error);
    while let Some(error) = cause {
        let Some(io) = error.downcast_ref::<std::io::Error>() else {
            cause = error.source();
            continue;
        };
        if matches!(
            io.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::TimedOut
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkUnreachable
                | ErrorKind::NetworkDown
        ) {
            return true;
        }
        // An I/O error of another kind that wraps one (its `source` skips what it wraps).
        cause = io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static));
    }
    false
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

/// Whether a gRPC status code is one the specification says to retry whatever the status's
/// details say (`RESOURCE_EXHAUSTED` is, only with the receiver's `RetryInfo`: see
/// `transport::grpc`).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_retryable(code: i32) -> bool {
    matches!(code, 1 | 4 | 10 | 11 | 14 | 15)
}

/// A `Retry-After` value: seconds, or an HTTP-date (the wait until then, none once it is
/// past), in any of the three forms a recipient must accept (RFC 9110, 5.6.7).
#[cfg(feature = "otlp-http")]
pub(crate) fn retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if text.is_empty() || text.len() > 10 {
            return None;
        }
        return text.parse().ok().map(Duration::from_secs);
    }
    let at = http_date(text)?;
    Some(Duration::from_secs(at.saturating_sub(unix_now_secs())))
}

/// Seconds since the Unix epoch of an HTTP-date: `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate),
/// `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850) or `Sun Nov  6 08:49:37 1994` (asctime).
#[cfg(feature = "otlp-http")]
fn http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if text.len() > 64 {
        return None;
    }
    let parts: Vec<&str> = text
        .split([' ', ',', '-', ':'])
        .filter(|part| !part.is_empty())
        .collect();
    let month = |name: &str| MONTHS.iter().position(|m| *m == name).map(|i| i as u64 + 1);
    let number = |part: &str| {
        (part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u64>().ok())
            .flatten()
    };
    let (day, month, year, clock) = match parts.as_slice() {
        [_, day, mon, year, h, m, s, "GMT"] => {
            (number(day)?, month(mon)?, number(year)?, [h, m, s])
        }
        [_, mon, day, h, m, s, year] => (number(day)?, month(mon)?, number(year)?, [h, m, s]),
        _ => return None,
    };
    // RFC 850's two-digit year: the century that puts it at most 50 years ahead.
    let year = match year {
        0..=99 => {
            let this_year = 1970 + unix_now_secs() / 31_556_952;
            let mut full = this_year / 100 * 100 + year;
            if full > this_year + 50 {
                full -= 100;
            }
            full
        }
        _ => year,
    };
    let [h, m, s] = clock.map(|part| number(part));
    let (h, m, s) = (h?, m?, s?);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 || !(1970..=9999).contains(&year) {
        return None;
    }
    Some(days_since_epoch(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(feature = "otlp-http")]
fn unix_now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (1970 or later).
#[cfg(feature = "otlp-http")]
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    // March-based years put the leap day last (Hinnant's `days_from_civil`).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
        let (hint, cap) = match failure.retry {
            Retry::No => return None,
            Retry::After(hint) => (hint, MAX_BACKOFF),
            Retry::Resend => (None, MAX_BACKOFF),
            Retry::Reconnect => (None, MAX_RECONNECT_BACKOFF),
        };
        let backoff = jittered(self.backoff.min(cap));
        let wait = hint.map_or(backoff, |hint| hint.max(backoff));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        let ends = Instant::now().max(self.waited_until).checked_add(wait)?;
        if ends.checked_add(self.room)? > self.deadline {
            return None;
        }
        self.waited_until = ends;
        Some(wait)
    }
}

/// The longest a receiver's own delay (`Retry-After`) holds back the requests after the one
/// it answered: it is honoured, but a collector that asks for hours (or a clock years
/// wrong) does not stop the export for good.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// The pause between one failed request and the next, shared by the requests of one
/// transport: without it, a receiver that refuses every request (throttling, a bad
/// certificate, a wrong path) gets the next batch at once, each time, as fast as it answers,
/// however hard it pushes back. After a failed request the next waits for the receiver's own
/// delay (at most [`MAX_PAUSE`]) or else a backoff that doubles with each failed request in a
/// row (as [`Schedule`]'s, jittered, from 100 ms to 5 s); a request that gets through ends it.
pub(crate) struct Pause {
    /// Whether the last request failed: read without the lock by every request, and by the
    /// export thread before each batch, while requests get through.
    engaged: std::sync::atomic::AtomicBool,
    state: std::sync::Mutex<PauseState>,
}

#[derive(Default)]
struct PauseState {
    /// When the next request may go; `None`: at once.
    until: Option<Instant>,
    /// Failed requests in a row.
    failures: u32,
    /// The last failed request had no answer: the receiver could not be reached, or did not
    /// answer within the request's time.
    unanswered: bool,
}

impl Pause {
    pub(crate) fn new() -> Pause {
        Pause {
            engaged: std::sync::atomic::AtomicBool::new(false),
            state: std::sync::Mutex::new(PauseState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PauseState> {
        // Nothing panics while it is held; a poisoned one holds plain numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the next request may go, if that is later than now.
    pub(crate) fn until(&self) -> Option<Instant> {
        if !self.failing() {
            return None;
        }
        self.state().until.filter(|until| *until > Instant::now())
    }

    /// Whether the last request failed: then requests go one at a time, so that a receiver
    /// back from a pause gets one, not as many as may be in flight.
    pub(crate) fn failing(&self) -> bool {
        self.engaged.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the last request failed without an answer from the receiver.
    pub(crate) fn unanswered(&self) -> bool {
        self.failing() && self.state().unanswered
    }

    /// A request got through: the next goes at once.
    pub(crate) fn got_through(&self) {
        if self.failing() {
            // Under the lock, as `failed` sets it: the two never cross.
            let mut state = self.state();
            *state = PauseState::default();
            self.engaged
                .store(false, std::sync::atomic::Ordering::Release);
        }
    }

    /// A request failed, its last attempt with `failure`: the next waits.
    pub(crate) fn failed(&self, failure: &Failure) {
        self.failed_with(failure.retry, failure.unanswered);
    }

    /// A request was given up before the receiver answered it (its time ran out).
    pub(crate) fn failed_unanswered(&self) {
        self.failed_with(Retry::No, true);
    }

    fn failed_with(&self, retry: Retry, unanswered: bool) {
        let mut state = self.state();
        state.unanswered = unanswered;
        let doublings = state.failures.min(10);
        state.failures = state.failures.saturating_add(1);
        let backoff = jittered((FIRST_BACKOFF * (1 << doublings)).min(MAX_BACKOFF));
        let pause = match retry {
            Retry::After(Some(hint)) => hint.min(MAX_PAUSE).max(backoff),
            _ => backoff,
        };
        state.until = Instant::now().checked_add(pause);
        self.engaged
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// A wait drawn at random between half of `backoff` and all of it: exporters that lost their
/// receiver together (a collector restarted under a fleet) do not all come back at once.
fn jittered(backoff: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A new `RandomState` is a new key: its hash of nothing is a fresh random number.
    let random = std::hash::RandomState::new().build_hasher().finish();
    let half = backoff / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(random % nanos.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_without_an_answer_is_remembered_until_one_gets_through() {
        let pause = Pause::new();
        pause.failed(&Failure::new("503".into(), Retry::After(None)));
        assert!(pause.failing() && !pause.unanswered());
        pause.failed(&unreachable_receiver());
        assert!(pause.unanswered());
        pause.got_through();
        assert!(!pause.failing() && !pause.unanswered());
        pause.failed_unanswered();
        assert!(pause.unanswered());
        pause.failed(&Failure::fatal("400".into()));
        assert!(!pause.unanswered(), "the last failure had an answer");
        pause.failed(&Failure::no_answer("no answer within 10 ms".into()));
        assert!(pause.unanswered());
    }

    fn retryable(hint: Option<Duration>) -> Failure {
        Failure::new("503".into(), Retry::After(hint))
    }

    /// Each wait is within the doubling backoff (100 ms, 200 ms, .. up to 5 s) and at least
    /// half of it; they stop when the next attempt would have less than a quarter of the
    /// timeout left.
    fn check_waits(waits: &[Duration], timeout: Duration, cap: Duration) {
        let mut backoff = FIRST_BACKOFF;
        let mut total = Duration::ZERO;
        for wait in waits {
            assert!(
                *wait >= backoff / 2 && *wait <= backoff,
                "{wait:?} for {backoff:?}"
            );
            total += *wait;
            backoff = (backoff * 2).min(cap);
        }
        assert!(total + timeout / 4 <= timeout, "{waits:?}");
        // The wait refused (at most the next backoff) would not have left that quarter.
        assert!(total + backoff + timeout / 4 > timeout, "{waits:?}");
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_stops_at_the_deadline() {
        let timeout = Duration::from_secs(12);
        for (failure, cap) in [
            (retryable(None), MAX_BACKOFF),
            (unreachable_receiver(), MAX_RECONNECT_BACKOFF),
        ] {
            let mut schedule = Schedule::new(timeout);
            let waits: Vec<_> = std::iter::from_fn(|| schedule.next_wait(&failure))
                .take(40)
                .collect();
            check_waits(&waits, timeout, cap);
        }
        assert_eq!(
            Schedule::new(Duration::from_secs(12)).next_wait(&Failure::fatal("x".into())),
            None
        );
    }

    fn unreachable_receiver() -> Failure {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        Failure::connecting("refused".into(), &refused)
    }

    /// Two exporters that fail together do not wait alike: the waits are drawn at random.
    #[test]
    fn the_waits_are_jittered() {
        let draws: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Schedule::new(Duration::from_secs(10)).next_wait(&retryable(None)))
            .map(|wait| wait.expect("retried"))
            .collect();
        assert!(draws.len() > 10, "{draws:?}");
    }

    /// A receiver that refused or dropped the connection, or could not be reached in time, is
    /// tried again; a name that does not resolve and a TLS failure are not.
    #[test]
    fn only_an_unreachable_receiver_is_connected_to_again() {
        use std::io::{Error, ErrorKind};
        for kind in [
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectionReset,
            ErrorKind::TimedOut,
            ErrorKind::HostUnreachable,
            ErrorKind::NetworkUnreachable,
        ] {
            let wrapped = Error::other(Error::from(kind));
            assert!(unreachable(&Error::from(kind)), "{kind:?}");
            assert_eq!(
                Failure::connecting("x".into(), &wrapped).retry,
                Retry::Reconnect,
                "{kind:?} as a cause"
            );
        }
        let tls = Error::new(
            ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        let dns = Error::other("failed to lookup address information");
        for error in [tls, dns] {
            assert_eq!(Failure::connecting("x".into(), &error).retry, Retry::No);
        }
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
        let timeout = Duration::from_millis(2100);
        let mut schedule = Schedule::new(timeout);
        let zero = Some(Duration::ZERO);
        let waits: Vec<Duration> = std::iter::from_fn(|| schedule.next_wait(&retryable(zero)))
            .take(100)
            .collect();
        assert!(waits.len() >= 3, "{waits:?}");
        check_waits(&waits, timeout, MAX_BACKOFF);
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn retry_after_is_seconds_or_an_http_date() {
        assert_eq!(retry_after(b"3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(b" 0 "), Some(Duration::ZERO));
        // A date past: no wait.
        assert_eq!(
            retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        // A date ahead: the wait until then, in each of the three forms.
        let ahead = unix_now_secs() + 3600;
        let ahead_date = imf_fixdate(ahead);
        let wait = retry_after(ahead_date.as_bytes()).expect(&ahead_date);
        assert!(
            (3590..=3600).contains(&wait.as_secs()),
            "{ahead_date}: {wait:?}"
        );
        for bad in [
            &b"-5"[..],
            b"",
            b"1.5",
            b"99999999999999999999",
            b"\xff",
            b"Wed, 32 Oct 2015 07:28:00 GMT",
            b"Wed, 21 Oct 2015 24:28:00 GMT",
            b"Wed, 21 Foo 2015 07:28:00 GMT",
            b"Wed, 21 Oct 2015 07:28:00 UTC",
            b"tomorrow",
        ] {
            assert_eq!(retry_after(bad), None, "{bad:?}");
        }
        for (date, secs) in [
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
            ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
            ("Sun Nov  6 08:49:37 1994", 784_111_777),
            ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ] {
            assert_eq!(http_date(date), Some(secs), "{date}");
        }
    }

    /// `secs` since the epoch as an IMF-fixdate (the weekday is not checked by the parser).
    #[cfg(feature = "otlp-http")]
    fn imf_fixdate(secs: u64) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (days, rest) = (secs / 86_400, secs % 86_400);
        // Hinnant's `civil_from_days`.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        format!(
            "Mon, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
            MONTHS[month as usize - 1],
            rest / 3600,
            rest / 60 % 60,
            rest % 60
        )
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

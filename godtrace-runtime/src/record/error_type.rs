//! `error.type` for type-erased errors, and the cause chain of the status description.
//!
//! A `Box<dyn Error>` or `anyhow::Error` has no type name of its own worth a dashboard (every
//! boxed error shares the same `alloc::boxed::Box<dyn core::error::Error + ...>`), and Rust
//! keeps no type names at run time. So the innermost cause of the `source()` chain (what
//! actually failed) is named instead:
//! 1. a standard library error found by downcasting is named as it is when it is the `Err` type
//!    itself (`std::io::error::Error`, `core::num::error::ParseIntError`, ...), so that a
//!    boxed and an unboxed failure land in the same series;
//! 2. otherwise the type or variant name its `Debug` text starts with (`Timeout` for
//!    `Timeout { after: 30 }`, `NotFound` for `NotFound("x")`), when it is a plain identifier
//!    of at most [`MAX_NAME_LEN`] bytes;
//! 3. otherwise `_OTHER`, OpenTelemetry's fallback value (e.g. a boxed `String` or an
//!    `anyhow!("message")`, whose `Debug` text is the message).
//!
//! Names found through `Debug` are kept for the process (the histogram label is a
//! `&'static str`), at most [`MAX_NAMES`] of them; any later new name is `_OTHER`, so that
//! cardinality and memory stay bounded whatever the errors print.
use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::{Mutex, PoisonError};

/// OpenTelemetry's `error.type` for an error with no better name.
pub(crate) const OTHER: &str = "_OTHER";
/// The longest name taken from a `Debug` text.
pub(crate) const MAX_NAME_LEN: usize = 64;
/// The most distinct names taken from `Debug` texts in one process.
pub(crate) const MAX_NAMES: usize = 128;
/// The most links of a `source()` chain followed (a chain may, wrongly, loop).
const MAX_CHAIN: usize = 32;

/// Errors that erase their type: what `Box<dyn Error>` and `anyhow::Error` deref to.
pub trait DynError {
    /// The error as a plain `dyn Error`.
    fn as_dyn_error(&self) -> &(dyn Error + 'static);
}
impl DynError for dyn Error + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}
impl DynError for dyn Error + Send + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}
impl DynError for dyn Error + Send + Sync + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

/// An error and its causes, written as "outer: cause: root cause". A cause whose text the
/// chain already ends with, or holds when it is [`REPEATED_MIN_LEN`] bytes or longer, is left
/// out: many errors write their source into their own text (sqlx's database errors, redis's,
/// tonic's `Status`), which would say it twice.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn Error + 'a));

/// Shorter than this, a cause's text found inside the chain's may be there by chance (`4` in
/// `wallet 42 failed`): it is left out only when the chain ends with it.
const REPEATED_MIN_LEN: usize = 16;

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each text bounded (and a panicking `Display` caught) as an attribute is, and no more
        // read once the chain holds as much as it can show.
        let limit = crate::value::max_attribute_len();
        let mut written = crate::value::display_text(self.0);
        let mut next = crate::value::caught(|| self.0.source()).flatten();
        for _ in 1..MAX_CHAIN {
            let Some(cause) = next else { break };
            if written.len() >= limit {
                break;
            }
            let text = crate::value::display_text(cause);
            let repeated = written.ends_with(text.as_str())
                || (text.len() >= REPEATED_MIN_LEN && written.contains(text.as_str()));
            if !repeated {
                written.push_str(": ");
                written.push_str(&text);
            }
            next = crate::value::caught(|| cause.source()).flatten();
        }
        f.write_str(&written)
    }
}

/// `error.type` of a type-erased error: see the module docs.
pub(crate) fn erased(error: &(dyn Error + 'static)) -> &'static str {
    let root = innermost(error);
    known_std_error(root).unwrap_or_else(|| debug_name(root))
}

/// `error.type` of `error`, whose type is known only as a type parameter (a tower service's
/// error): a boxed error (`Box<dyn Error ..>`, `Arc<dyn Error ..>`: tower's `BoxError`, which
/// its timeouts, buffers and load shedders give) named as [`erased`] names it, any other by
/// its type's name.
#[cfg(feature = "tower")]
pub(crate) fn of_service_error<E: 'static>(error: &E) -> &'static str {
    use std::sync::Arc;
    let any: &dyn std::any::Any = error;
    macro_rules! first_boxed {
        ($($boxed:ty),* $(,)?) => {
            $(if let Some(boxed) = any.downcast_ref::<$boxed>() {
                let boxed: &(dyn Error + 'static) = &**boxed;
                // `source()` is the error's own code: a panic there is caught.
                return crate::value::caught(|| erased(boxed)).unwrap_or(OTHER);
            })*
        };
    }
    first_boxed!(
        Box<dyn Error + Send + Sync>,
        Box<dyn Error + Send>,
        Box<dyn Error + Sync>,
        Box<dyn Error>,
        Arc<dyn Error + Send + Sync>,
        Arc<dyn Error + Send>,
        Arc<dyn Error + Sync>,
        Arc<dyn Error>,
    );
    std::any::type_name::<E>()
}

/// The last error of `error`'s `source()` chain.
fn innermost<'a>(error: &'a (dyn Error + 'static)) -> &'a (dyn Error + 'static) {
    let mut root = error;
    for _ in 1..MAX_CHAIN {
        match root.source() {
            Some(cause) => root = cause,
            None => break,
        }
    }
    root
}

/// The type name of `error` when it is one of the standard library's errors.
fn known_std_error(error: &(dyn Error + 'static)) -> Option<&'static str> {
    macro_rules! first_of {
        ($($ty:ty),* $(,)?) => {
            $(if error.is::<$ty>() {
                return Some(std::any::type_name::<$ty>());
            })*
        };
    }
    first_of!(
        std::io::Error,
        std::fmt::Error,
        std::num::ParseIntError,
        std::num::ParseFloatError,
        std::num::TryFromIntError,
        std::str::Utf8Error,
        std::str::ParseBoolError,
        std::string::FromUtf8Error,
        std::char::ParseCharError,
        std::net::AddrParseError,
        std::time::SystemTimeError,
        std::env::VarError,
    );
    None
}

/// The identifier `error`'s `Debug` text starts with, kept for the process; [`OTHER`] when
/// there is none or no room for another.
fn debug_name(error: &(dyn Error + 'static)) -> &'static str {
    let text = crate::value::debug_prefix(error, MAX_NAME_LEN + 1);
    match leading_identifier(&text) {
        Some(name) => intern(name),
        None => OTHER,
    }
}

/// `text`'s leading identifier, when what follows it shows a type or variant name: the end, or
/// ` {`, `(` (a struct, a tuple), and it is at most [`MAX_NAME_LEN`] bytes.
pub(crate) fn leading_identifier(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(end);
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let ends_well = rest.is_empty() || rest.starts_with(" {") || rest.starts_with('(');
    (starts_well && ends_well && name.len() <= MAX_NAME_LEN).then_some(name)
}

/// Names taken from `Debug` texts so far.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
/// Type names too long for an attribute, as cut once for both the span and the histogram.
static CUT_NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// `name` as both the span's `error.type` and the duration histogram's: within the span's
/// attribute value limit and the metric attribute's ([`MAX_VALUE_LEN`]), so that neither cuts
/// it on its own (each would cut at its own length, and a dashboard joining the two would find
/// no match). A longer name (a generic type's) is cut once, with the truncation marker, and
/// kept for the process as [`intern`] keeps names; past [`MAX_NAMES`] such names, [`OTHER`].
/// A limit that leaves nothing of it (0) gives the histogram [`OTHER`]: an empty label is no
/// label to Prometheus, which would count the failures as successes.
///
/// [`MAX_VALUE_LEN`]: crate::metrics::attrs::MAX_VALUE_LEN
pub(crate) fn joinable(name: &'static str) -> &'static str {
    match cut_for_both(name) {
        None => name,
        Some(Cow::Borrowed(other)) => other,
        Some(Cow::Owned(cut)) => intern_in(&CUT_NAMES, &cut),
    }
}

/// [`joinable`] for a value the span and its metric both take as they are given it (the
/// layers' and database calls' `error.type`: a status code, a SQLSTATE, a type name): cut
/// once, [`OTHER`] when the limit leaves nothing of it.
#[cfg(any(
    feature = "tower",
    feature = "reqwest",
    feature = "sqlx",
    feature = "redis"
))]
pub(crate) fn joinable_value(name: Cow<'static, str>) -> Cow<'static, str> {
    cut_for_both(&name).unwrap_or(name)
}

/// What [`joinable`] makes of `name`, without keeping it (a lookup by the `Err` type's name).
pub(crate) fn joinable_text(name: &str) -> Cow<'_, str> {
    cut_for_both(name).unwrap_or(Cow::Borrowed(name))
}

/// The one rule of the three above: `None` while `name` is within both limits; else `name`
/// cut once (the marker within the bound), or [`OTHER`] when the bound leaves nothing.
fn cut_for_both(name: &str) -> Option<Cow<'static, str>> {
    let bound = crate::value::max_attribute_len().min(crate::metrics::attrs::MAX_VALUE_LEN);
    if name.len() <= bound {
        return None;
    }
    let cut = crate::value::bounded_text(name, bound);
    Some(if cut.is_empty() {
        Cow::Borrowed(OTHER)
    } else {
        Cow::Owned(cut)
    })
}

/// `name` as a `&'static str`: the one kept already, or a new one while fewer than
/// [`MAX_NAMES`] are kept; else [`OTHER`].
fn intern(name: &str) -> &'static str {
    intern_in(&NAMES, name)
}

/// [`intern`] into `names` (another bounded set of names: a database's server error codes).
pub(crate) fn intern_in(names: &Mutex<Vec<&'static str>>, name: &str) -> &'static str {
    let mut names = names.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(kept) = names.iter().find(|kept| **kept == name) {
        return kept;
    }
    if names.len() >= MAX_NAMES {
        return OTHER;
    }
    // Leaked on purpose: at most MAX_NAMES names per set, each a few hundred bytes at most.
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(kept);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_identifier_is_a_type_or_variant_name() {
        assert_eq!(leading_identifier("Timeout { after: 30 }"), Some("Timeout"));
        assert_eq!(leading_identifier("NotFound(\"x\")"), Some("NotFound"));
        assert_eq!(leading_identifier("Closed"), Some("Closed"));
        assert_eq!(leading_identifier("\"a message\""), None);
        assert_eq!(leading_identifier("failed: disk full"), None);
        assert_eq!(leading_identifier("3 retries"), None);
        assert_eq!(leading_identifier(&"A".repeat(MAX_NAME_LEN + 1)), None);
    }

    #[test]
    fn names_are_bounded() {
        let names = Mutex::new(Vec::new());
        for i in 0..MAX_NAMES {
            assert_eq!(intern_in(&names, &format!("Name{i}")), format!("Name{i}"));
        }
        assert_eq!(intern_in(&names, "Name3"), "Name3");
        assert_eq!(intern_in(&names, "NeverSeenBefore"), OTHER);
        assert_eq!(names.lock().unwrap().len(), MAX_NAMES);
    }

    #[test]
    fn a_chain_loop_is_cut() {
        #[derive(Debug)]
        struct Loop;
        impl fmt::Display for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("again")
            }
        }
        impl Error for Loop {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&Loop)
            }
        }
        // Followed at most `MAX_CHAIN` links; the same text is said once.
        assert_eq!(Chain(&Loop).to_string(), "again");
        assert_eq!(erased(&Loop), "Loop");
    }

    /// An error that writes its source into its own text (sqlx's database errors) is not
    /// described with the source twice; a cause of its own words is still added.
    #[test]
    fn a_cause_already_in_the_text_is_not_repeated() {
        #[derive(Debug)]
        struct Outer(&'static str, Inner);
        #[derive(Debug)]
        struct Inner(&'static str);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl fmt::Display for Inner {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.1)
            }
        }
        impl Error for Inner {}
        let duplicate = "duplicate key value violates unique constraint";
        let repeated = Outer(
            "error returned from database: duplicate key value violates unique constraint",
            Inner(duplicate),
        );
        assert_eq!(
            Chain(&repeated).to_string(),
            "error returned from database: duplicate key value violates unique constraint"
        );
        let distinct = Outer("could not load wallet", Inner("connection refused"));
        assert_eq!(
            Chain(&distinct).to_string(),
            "could not load wallet: connection refused"
        );
        // A short cause inside the text by chance is kept.
        let by_chance = Outer("wallet 42 failed", Inner("4"));
        assert_eq!(Chain(&by_chance).to_string(), "wallet 42 failed: 4");
    }

    /// Causes are read only while the chain can still show them: long causes past the
    /// attribute limit are not formatted.
    #[test]
    fn causes_past_the_limit_are_not_read() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static FORMATTED: AtomicUsize = AtomicUsize::new(0);
        #[derive(Debug)]
        struct Long(usize);
        impl fmt::Display for Long {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                FORMATTED.fetch_add(1, Ordering::Relaxed);
                write!(f, "{}{}", self.0, "x".repeat(2000))
            }
        }
        static LINKS: [Long; 8] = [
            Long(0),
            Long(1),
            Long(2),
            Long(3),
            Long(4),
            Long(5),
            Long(6),
            Long(7),
        ];
        impl Error for Long {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                LINKS.get(self.0 + 1).map(|l| l as &(dyn Error + 'static))
            }
        }
        let _ = Chain(&LINKS[0]).to_string();
        assert!(FORMATTED.load(Ordering::Relaxed) <= 2, "{FORMATTED:?}");
    }
}

//! Problems with how metrics are used, reported once each on stderr and never as a panic.
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Distinct keyed reports kept per topic at most; past that, one line says that further
/// reports of the topic are not shown.
const MAX_KEYS: usize = 1024;
/// Bytes of a key kept: keys are names the user gave, of any length.
const MAX_KEY_LEN: usize = 256;
/// Bytes of a message printed: a message shows a name the user gave, of any length.
const MAX_MESSAGE_LEN: usize = 1024;

/// What a keyed report is about. Each topic keeps its reports apart, so that names built
/// from data (invalid ones, without bound) cannot use up what reports a clash of the names
/// that were taken (bounded by the registry's name limit).
#[derive(Clone, Copy)]
pub(crate) enum Topic {
    /// A name that is not a valid metric name.
    InvalidName,
    /// A valid name recorded as another kind, or with another unit, than it was made with.
    Conflict,
    /// A metric left out of the Prometheus exposition (its family is another's).
    Exposition,
    /// A value a metric cannot take (negative, infinite, NaN).
    BadValue,
}

impl Topic {
    const ALL: usize = 4;

    fn what(self) -> &'static str {
        match self {
            Topic::InvalidName => "invalid metric names",
            Topic::Conflict => "metrics recorded as another kind or unit",
            Topic::Exposition => "metrics left out of the Prometheus exposition",
            Topic::BadValue => "metrics given values they cannot take",
        }
    }
}

/// Per topic: the keys reported, and whether it said that it is full.
struct Seen {
    keys: Mutex<Option<HashSet<String>>>,
    full: AtomicBool,
}

static SEEN: [Seen; Topic::ALL] = [const {
    Seen {
        keys: Mutex::new(None),
        full: AtomicBool::new(false),
    }
}; Topic::ALL];

/// The latest messages, for the unit tests.
#[cfg(test)]
static RECENT: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn emit(message: String) {
    let message = crate::text::cut(message, MAX_MESSAGE_LEN);
    // Said on the caller's thread: never a wait, never a panic.
    crate::stderr::say(format!("godtrace: {message}"));
    #[cfg(test)]
    {
        let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == 256 {
            recent.remove(0);
        }
        recent.push(message);
    }
}

/// Reports `message()` the first time `flag` is seen unset.
pub(crate) fn once(flag: &AtomicBool, message: impl FnOnce() -> String) {
    if !flag.load(Ordering::Relaxed) && !flag.swap(true, Ordering::Relaxed) {
        emit(message());
    }
}

/// Reports `message()` the first time `key` (its first 256 bytes) is reported on `topic`.
/// Past `MAX_KEYS` keys of the topic, says once that its further reports are not shown.
pub(crate) fn once_for(topic: Topic, key: &str, message: impl FnOnce() -> String) {
    in_set(&SEEN[topic as usize], topic.what(), key, message);
}

/// Whether `key` was reported on `topic` (by [`once_for`]).
pub(crate) fn was_reported(topic: Topic, key: &str) -> bool {
    let key = &key[..crate::value::floor_char_boundary(key, MAX_KEY_LEN)];
    let keys = SEEN[topic as usize]
        .keys
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    keys.as_ref().is_some_and(|keys| keys.contains(key))
}

fn in_set(seen: &Seen, what: &str, key: &str, message: impl FnOnce() -> String) {
    let key = &key[..crate::value::floor_char_boundary(key, MAX_KEY_LEN)];
    let mut keys = seen.keys.lock().unwrap_or_else(|e| e.into_inner());
    let keys = keys.get_or_insert_with(HashSet::new);
    if keys.contains(key) {
        return;
    }
    if keys.len() >= MAX_KEYS {
        once(&seen.full, || {
            format!("more than {MAX_KEYS} {what} reported: further ones are not reported")
        });
        return;
    }
    keys.insert(key.to_owned());
    emit(message());
}

/// Every message reported so far (the latest 256).
#[cfg(test)]
pub(crate) fn recent() -> Vec<String> {
    RECENT.lock().unwrap().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_is_reported_once() {
        let flag = AtomicBool::new(false);
        for _ in 0..3 {
            once(&flag, || "report.rs test flag".to_owned());
            once_for(Topic::Conflict, "report.rs test key", || {
                "report.rs test key".to_owned()
            });
        }
        let recent = recent();
        assert_eq!(
            recent
                .iter()
                .filter(|m| *m == "report.rs test flag")
                .count(),
            1
        );
        assert_eq!(
            recent.iter().filter(|m| *m == "report.rs test key").count(),
            1
        );
    }

    #[test]
    fn reports_about_long_names_are_bounded() {
        for i in 0..3 {
            let name = format!("report.rs long {}{i}", "é".repeat(500_000));
            once_for(Topic::InvalidName, &name, || {
                format!("{name:?} is not a valid metric name")
            });
        }
        let recent = recent();
        let long: Vec<_> = recent
            .iter()
            .filter(|m| m.starts_with("\"report.rs long"))
            .collect();
        // Keyed by their first 256 bytes, which the three share: reported once, cut short.
        assert_eq!(long.len(), 1);
        assert!(
            long[0].len() <= MAX_MESSAGE_LEN + '…'.len_utf8(),
            "{}",
            long[0].len()
        );
        assert!(long[0].ends_with('…'));
        let seen = SEEN[Topic::InvalidName as usize].keys.lock().unwrap();
        assert!(seen.iter().flatten().all(|k| k.len() <= MAX_KEY_LEN));
    }

    /// Filling one topic leaves the others reported, and says once that it is full.
    #[test]
    fn a_full_topic_says_so_once_and_leaves_the_others_alone() {
        let seen = Seen {
            keys: Mutex::new(None),
            full: AtomicBool::new(false),
        };
        for i in 0..MAX_KEYS + 5 {
            in_set(&seen, "report.rs test names", &format!("k{i}"), || {
                format!("report.rs test name k{i}")
            });
        }
        let recent = recent();
        let full: Vec<_> = recent
            .iter()
            .filter(|m| m.contains("report.rs test names reported: further"))
            .collect();
        assert_eq!(full.len(), 1, "{full:?}");
        assert!(
            !recent
                .iter()
                .any(|m| m == &format!("report.rs test name k{MAX_KEYS}"))
        );
    }
}

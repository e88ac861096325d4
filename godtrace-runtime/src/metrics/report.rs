//! Problems with how metrics are used, reported once each on stderr and never as a panic.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

/// Distinct keyed reports kept at most; past that, new ones are dropped silently.
const MAX_KEYS: usize = 1024;
/// Bytes of a key kept: keys are names the user gave, of any length.
const MAX_KEY_LEN: usize = 256;
/// Bytes of a message printed: a message shows a name the user gave, of any length.
const MAX_MESSAGE_LEN: usize = 1024;

static SEEN: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);
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

/// Reports `message()` the first time `key` (its first 256 bytes) is reported.
pub(crate) fn once_for(key: &str, message: impl FnOnce() -> String) {
    let key = &key[..crate::value::floor_char_boundary(key, MAX_KEY_LEN)];
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(key) || seen.len() >= MAX_KEYS {
        return;
    }
    seen.insert(key.to_owned());
    drop(seen);
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
            once_for("report.rs test key", || "report.rs test key".to_owned());
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
            once_for(&name, || format!("{name:?} is not a valid metric name"));
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
        let seen = SEEN.lock().unwrap();
        assert!(seen.iter().all(|k| k.len() <= MAX_KEY_LEN));
    }
}

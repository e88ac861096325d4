//! What a Redis command's span records: its name (`db.operation.name`) and a text with every
//! argument replaced by `?` (`db.query.text`, e.g. `SET ? ?`).
//!
//! Arguments are never recorded, keys included: a key often holds a user id, a session token
//! or an email address, and values are what users cache. The number of `?` still tells `GET`
//! from `MGET` of 500 keys. The work is bounded: at most [`MAX_PLACEHOLDERS`] are written
//! per command and at most the caller's cap for a whole pipeline.

/// Arguments written as `?` per command; more are written as one `…`.
pub(crate) const MAX_PLACEHOLDERS: usize = 16;
/// Longest command name taken from the first argument (module commands such as
/// `JSON.MGET` included).
const MAX_NAME_LEN: usize = 32;

/// Commands whose first argument is a subcommand, named together (`CONFIG GET`).
const CONTAINERS: [&str; 16] = [
    "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION", "LATENCY", "MEMORY",
    "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
];

/// The operation and sanitized text of one command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CommandSummary {
    /// The command's name upper-cased (`GET`, `CONFIG GET`), or `None` when the first
    /// argument is not a command name.
    pub(crate) operation: Option<String>,
    /// The name and one `?` per other argument (the first [`MAX_PLACEHOLDERS`]).
    pub(crate) text: String,
}

/// Reads one command given as its arguments, the name first.
pub(crate) fn summarize<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> CommandSummary {
    let mut args = args.into_iter();
    let Some(name) = args.next().and_then(command_name) else {
        let rest = args.take(MAX_PLACEHOLDERS + 1).count() + 1;
        return CommandSummary {
            operation: None,
            text: placeholders(String::new(), rest),
        };
    };
    let mut operation = name;
    let mut args = args.peekable();
    if CONTAINERS.contains(&operation.as_str())
        && let Some(sub) = args.peek().and_then(|a| command_name(a))
    {
        operation.push(' ');
        operation.push_str(&sub);
        args.next();
    }
    let rest = args.take(MAX_PLACEHOLDERS + 1).count();
    CommandSummary {
        text: placeholders(operation.clone(), rest),
        operation: Some(operation),
    }
}

/// `text` followed by ` ?` for each of `count` arguments, ` …` past [`MAX_PLACEHOLDERS`].
fn placeholders(mut text: String, count: usize) -> String {
    for i in 0..count {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push(if i < MAX_PLACEHOLDERS { '?' } else { '…' });
        if i == MAX_PLACEHOLDERS {
            break;
        }
    }
    text
}

/// The argument upper-cased if it looks like a command name: 1 to [`MAX_NAME_LEN`] ASCII
/// letters, digits, `_`, `.`, `-` or `|`, starting with a letter.
fn command_name(arg: &[u8]) -> Option<String> {
    let valid = (1..=MAX_NAME_LEN).contains(&arg.len())
        && arg[0].is_ascii_alphabetic()
        && arg
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'|'));
    valid.then(|| String::from_utf8_lossy(arg).to_ascii_uppercase())
}

/// The text of a pipeline: its commands' texts joined by `; `, at most `cap` bytes (then `…`).
pub(crate) fn pipeline_text<S: AsRef<str>>(
    commands: impl IntoIterator<Item = S>,
    cap: usize,
) -> String {
    let mut text = String::new();
    for command in commands {
        let command = command.as_ref();
        let separator = if text.is_empty() { "" } else { "; " };
        if text.len() + separator.len() + command.len() > cap {
            text.push_str(if text.is_empty() { "…" } else { "; …" });
            break;
        }
        text.push_str(separator);
        text.push_str(command);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(args: &[&str]) -> CommandSummary {
        summarize(args.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn the_name_is_kept_and_every_argument_is_a_placeholder() {
        let set = of(&["set", "session:alice", "s3cr3t-token", "EX", "60"]);
        assert_eq!(set.operation.as_deref(), Some("SET"));
        assert_eq!(set.text, "SET ? ? ? ?");
        assert_eq!(of(&["PING"]).text, "PING");
        assert_eq!(of(&["json.get", "k"]).text, "JSON.GET ?");
    }

    #[test]
    fn container_commands_are_named_with_their_subcommand() {
        let config = of(&["config", "get", "maxmemory"]);
        assert_eq!(config.operation.as_deref(), Some("CONFIG GET"));
        assert_eq!(config.text, "CONFIG GET ?");
        let acl = of(&["ACL", "SETUSER", "bob", ">hunter2"]);
        assert_eq!(acl.text, "ACL SETUSER ? ?");
        // A subcommand that is not a name is an argument like any other.
        assert_eq!(of(&["CLIENT", "%%"]).text, "CLIENT ?");
    }

    #[test]
    fn a_first_argument_that_is_not_a_name_is_not_recorded() {
        for name in [
            "",
            "1GET",
            "GET KEY",
            "g\u{e9}t",
            &"A".repeat(MAX_NAME_LEN + 1),
        ] {
            let s = of(&[name, "v"]);
            assert_eq!(s.operation, None, "{name:?}");
            assert_eq!(s.text, "? ?", "{name:?}");
        }
        assert_eq!(summarize(std::iter::empty()).text, "?");
    }

    #[test]
    fn placeholders_are_bounded() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("k{i}")).collect();
        let args = std::iter::once(b"MGET".as_slice()).chain(keys.iter().map(|k| k.as_bytes()));
        let s = summarize(args);
        assert_eq!(s.text, format!("MGET{} …", " ?".repeat(MAX_PLACEHOLDERS)));
        assert_eq!(of(&["DEL"; 17]).text.matches('?').count(), MAX_PLACEHOLDERS);
    }

    #[test]
    fn a_pipeline_text_joins_its_commands_within_the_cap() {
        assert_eq!(pipeline_text(["SET ? ?", "GET ?"], 100), "SET ? ?; GET ?");
        assert_eq!(pipeline_text(["SET ? ?", "GET ?"], 10), "SET ? ?; …");
        assert_eq!(pipeline_text(["SET ? ?"], 3), "…");
        assert_eq!(pipeline_text::<&str>([], 3), "");
    }
}

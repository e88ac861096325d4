//! What a Redis command's span records: its name (`db.operation.name`) and a text with every
//! argument replaced by `?` (`db.query.text`, e.g. `SET ? ?`).
//!
//! Arguments are never recorded, keys included: a key often holds a user id, a session token
//! or an email address, and values are what users cache. The number of `?` still tells `GET`
//! from `MGET` of 500 keys. The work is bounded: at most [`MAX_PLACEHOLDERS`] are written
//! per command and at most the caller's cap for a command's or a whole pipeline's text.

/// Arguments written as `?` per command; more are written as one `…`.
pub(crate) const MAX_PLACEHOLDERS: usize = 16;
/// Longest command name taken from the first argument (module commands such as
/// `JSON.MGET` included).
const MAX_NAME_LEN: usize = 32;

/// Commands whose first argument is a subcommand, named together (`CONFIG GET`), with the
/// subcommands Redis has for each: only those are part of the name. Any other first argument
/// is an argument like the rest (`?`): it may be a value (`CLIENT s3cr3t`), and the name is
/// a span name and a metric label.
const CONTAINERS: [(&str, &[&str]); 17] = [
    (
        "ACL",
        &[
            "CAT", "DELUSER", "DRYRUN", "GENPASS", "GETUSER", "HELP", "LIST", "LOAD", "LOG",
            "SAVE", "SETUSER", "USERS", "WHOAMI",
        ],
    ),
    (
        "CLIENT",
        &[
            "CACHING",
            "GETNAME",
            "GETREDIR",
            "HELP",
            "ID",
            "INFO",
            "KILL",
            "LIST",
            "NO-EVICT",
            "NO-TOUCH",
            "PAUSE",
            "REPLY",
            "SETINFO",
            "SETNAME",
            "TRACKING",
            "TRACKINGINFO",
            "UNBLOCK",
            "UNPAUSE",
        ],
    ),
    (
        "CLUSTER",
        &[
            "ADDSLOTS",
            "ADDSLOTSRANGE",
            "BUMPEPOCH",
            "COUNT-FAILURE-REPORTS",
            "COUNTKEYSINSLOT",
            "DELSLOTS",
            "DELSLOTSRANGE",
            "FAILOVER",
            "FLUSHSLOTS",
            "FORGET",
            "GETKEYSINSLOT",
            "HELP",
            "INFO",
            "KEYSLOT",
            "LINKS",
            "MEET",
            "MYID",
            "MYSHARDID",
            "NODES",
            "REPLICAS",
            "REPLICATE",
            "RESET",
            "SAVECONFIG",
            "SET-CONFIG-EPOCH",
            "SETSLOT",
            "SHARDS",
            "SLAVES",
            "SLOT-STATS",
            "SLOTS",
        ],
    ),
    (
        "COMMAND",
        &[
            "COUNT",
            "DOCS",
            "GETKEYS",
            "GETKEYSANDFLAGS",
            "HELP",
            "INFO",
            "LIST",
        ],
    ),
    ("CONFIG", &["GET", "HELP", "RESETSTAT", "REWRITE", "SET"]),
    (
        // Not documented as a container, but `DEBUG HELP` lists these.
        "DEBUG",
        &[
            "CHANGE-REPL-ID",
            "DIGEST",
            "DIGEST-VALUE",
            "HELP",
            "JMAP",
            "LISTPACK",
            "OBJECT",
            "POPULATE",
            "PROTOCOL",
            "QUICKLIST",
            "RELOAD",
            "RESTART",
            "SDSLEN",
            "SEGFAULT",
            "SET-ACTIVE-EXPIRE",
            "SLEEP",
        ],
    ),
    (
        "FUNCTION",
        &[
            "DELETE", "DUMP", "FLUSH", "HELP", "KILL", "LIST", "LOAD", "RESTORE", "STATS",
        ],
    ),
    (
        "LATENCY",
        &[
            "DOCTOR",
            "GRAPH",
            "HELP",
            "HISTOGRAM",
            "HISTORY",
            "LATEST",
            "RESET",
        ],
    ),
    (
        "MEMORY",
        &["DOCTOR", "HELP", "MALLOC-STATS", "PURGE", "STATS", "USAGE"],
    ),
    ("MODULE", &["HELP", "LIST", "LOAD", "LOADEX", "UNLOAD"]),
    (
        "OBJECT",
        &["ENCODING", "FREQ", "HELP", "IDLETIME", "REFCOUNT"],
    ),
    (
        "PUBSUB",
        &[
            "CHANNELS",
            "HELP",
            "NUMPAT",
            "NUMSUB",
            "SHARDCHANNELS",
            "SHARDNUMSUB",
        ],
    ),
    (
        "SCRIPT",
        &["DEBUG", "EXISTS", "FLUSH", "HELP", "KILL", "LOAD"],
    ),
    (
        "SENTINEL",
        &[
            "CKQUORUM",
            "CONFIG",
            "DEBUG",
            "FAILOVER",
            "FLUSHCONFIG",
            "GET-MASTER-ADDR-BY-NAME",
            "HELP",
            "INFO-CACHE",
            "IS-MASTER-DOWN-BY-ADDR",
            "MASTER",
            "MASTERS",
            "MONITOR",
            "MYID",
            "PENDING-SCRIPTS",
            "REMOVE",
            "REPLICAS",
            "RESET",
            "SENTINELS",
            "SET",
            "SIMULATE-FAILURE",
            "SLAVES",
        ],
    ),
    ("SLOWLOG", &["GET", "HELP", "LEN", "RESET"]),
    (
        "XGROUP",
        &[
            "CREATE",
            "CREATECONSUMER",
            "DELCONSUMER",
            "DESTROY",
            "HELP",
            "SETID",
        ],
    ),
    ("XINFO", &["CONSUMERS", "GROUPS", "HELP", "STREAM"]),
];

/// The subcommands of `name` when it is a container command (in any case).
fn subcommands_of(name: &[u8]) -> Option<&'static [&'static str]> {
    CONTAINERS
        .iter()
        .find(|(container, _)| container.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, subcommands)| *subcommands)
}

/// Whether `sub` is one of container `name`'s subcommands, in any case.
fn is_subcommand_of(name: &[u8], sub: &[u8]) -> bool {
    subcommands_of(name)
        .is_some_and(|subs| subs.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(sub)))
}

/// The operation and sanitized text of one command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CommandSummary {
    /// The command's name as the application gave it (`GET`, `CONFIG GET`, `get` from
    /// `redis::cmd("get")`: the conventions ask for no case normalization), or `None` when the
    /// first argument is not a command name.
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
    if let Some(sub) = args.next_if(|sub| is_subcommand_of(operation.as_bytes(), sub)) {
        // Recorded as written: a subcommand is one of the ASCII words above.
        operation.push(' ');
        operation.push_str(&String::from_utf8_lossy(sub));
    }
    let rest = args.take(MAX_PLACEHOLDERS + 1).count();
    CommandSummary {
        text: placeholders(operation.clone(), rest),
        operation: Some(operation),
    }
}

/// The operation of a batch of `commands` (each given as its arguments), as Redis's conventions
/// name one (they override the general `BATCH` prefix): `batch` (`PIPELINE`, or `MULTI` for a
/// transaction) followed by the commands' operation when they all have the same one
/// (`PIPELINE INCRBY`); else `batch` alone. A pipeline of one command is not a batch (the
/// conventions: a batch has two or more operations): its command's operation (`MULTI` and it,
/// in a transaction). No allocation per command: names are compared as given, in any case.
pub(crate) fn batch_operation<'a, C, A>(
    batch: &str,
    transaction: bool,
    commands: C,
) -> Option<String>
where
    C: IntoIterator<Item = A>,
    A: IntoIterator<Item = &'a [u8]>,
{
    let mut commands = commands.into_iter();
    let Some(first) = commands.next() else {
        return Some(batch.to_owned());
    };
    let first = name_args(first);
    let mut count = 1;
    let mut same = true;
    for command in commands {
        count += 1;
        same = same && same_name(first, name_args(command));
    }
    let operation = summarize(first.into_iter().flatten()).operation;
    match operation {
        operation if count == 1 && !transaction => operation,
        // A transaction of one command is no batch either (MULTI, the command, EXEC), and is
        // named as a transaction whose commands share their operation.
        Some(operation) if same => Some(format!("{batch} {operation}")),
        _ => Some(batch.to_owned()),
    }
}

/// A container command's subcommand, when its second argument is one it has.
fn subcommand(args: [Option<&[u8]>; 2]) -> Option<&[u8]> {
    let name = args[0]?;
    args[1].filter(|sub| is_subcommand_of(name, sub))
}

/// A command's first two arguments: what names it (a container's subcommand is its second).
fn name_args<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> [Option<&'a [u8]>; 2] {
    let mut args = args.into_iter();
    [args.next(), args.next()]
}

/// Whether two commands have the same operation: the same valid name in any case, and for a
/// container the same subcommand (or neither one it has).
fn same_name(a: [Option<&[u8]>; 2], b: [Option<&[u8]>; 2]) -> bool {
    let (Some(name), Some(other)) = (a[0], b[0]) else {
        return false;
    };
    if !is_command_name(name) || !name.eq_ignore_ascii_case(other) {
        return false;
    }
    if subcommands_of(name).is_none() {
        return true;
    }
    match (subcommand(a), subcommand(b)) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => x.is_none() && y.is_none(),
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

/// The argument, as given, if it looks like a command name: 1 to [`MAX_NAME_LEN`] ASCII
/// letters, digits, `_`, `.`, `-` or `|`, starting with a letter.
fn command_name(arg: &[u8]) -> Option<String> {
    is_command_name(arg).then(|| String::from_utf8_lossy(arg).into_owned())
}

/// See [`command_name`].
fn is_command_name(arg: &[u8]) -> bool {
    (1..=MAX_NAME_LEN).contains(&arg.len())
        && arg[0].is_ascii_alphabetic()
        && arg
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'|'))
}

/// The text of a pipeline: its commands' texts joined by `; `, at most `cap` bytes (then `…`).
/// A single command's is built here too, as a pipeline of one: whole, or `…`.
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
        // As the application wrote it: the conventions ask for no case normalization.
        let set = of(&["set", "session:alice", "s3cr3t-token", "EX", "60"]);
        assert_eq!(set.operation.as_deref(), Some("set"));
        assert_eq!(set.text, "set ? ? ? ?");
        assert_eq!(of(&["PING"]).text, "PING");
        assert_eq!(of(&["json.get", "k"]).text, "json.get ?");
    }

    #[test]
    fn container_commands_are_named_with_their_subcommand() {
        let config = of(&["config", "get", "maxmemory"]);
        assert_eq!(config.operation.as_deref(), Some("config get"));
        assert_eq!(config.text, "config get ?");
        let acl = of(&["ACL", "SETUSER", "bob", ">hunter2"]);
        assert_eq!(acl.text, "ACL SETUSER ? ?");
        let sentinel = of(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
        assert_eq!(
            sentinel.operation.as_deref(),
            Some("SENTINEL get-master-addr-by-name")
        );
        // A subcommand that is not a name is an argument like any other.
        assert_eq!(of(&["CLIENT", "%%"]).text, "CLIENT ?");
    }

    /// Only a subcommand the container has is part of the name (a span name, a metric label):
    /// any other word after it may be a value, and is a `?` like any argument.
    #[test]
    fn an_unknown_subcommand_is_an_argument() {
        let unknown = of(&["CLIENT", "SECRETsub"]);
        assert_eq!(unknown.operation.as_deref(), Some("CLIENT"));
        assert_eq!(unknown.text, "CLIENT ?");
        for (args, operation, text) in [
            (&["config", "s3cr3t", "x"][..], "config", "config ? ?"),
            (&["XINFO", "alice@example.com"], "XINFO", "XINFO ?"),
            (&["OBJECT", "GET", "k"], "OBJECT", "OBJECT ? ?"),
            // Known ones in any case, recorded as written.
            (
                &["client", "SetName", "s3cr3t"],
                "client SetName",
                "client SetName ?",
            ),
            (
                &["CLIENT", "no-evict", "on"],
                "CLIENT no-evict",
                "CLIENT no-evict ?",
            ),
            (
                &["xgroup", "CREATE", "s", "g", "$"],
                "xgroup CREATE",
                "xgroup CREATE ? ? ?",
            ),
        ] {
            let s = of(args);
            assert_eq!(s.operation.as_deref(), Some(operation), "{args:?}");
            assert_eq!(s.text, text, "{args:?}");
        }
        // A batch of one container with unknown subcommands is named after the container.
        let commands: [&[&str]; 2] = [&["CLIENT", "SECRETa"], &["client", "SECRETb"]];
        let commands = commands.iter().map(|c| c.iter().map(|a| a.as_bytes()));
        assert_eq!(
            batch_operation("PIPELINE", false, commands).as_deref(),
            Some("PIPELINE CLIENT")
        );
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

    /// The conventions name a batch by its commands' one operation when they share it.
    #[test]
    fn a_batch_is_named_after_the_operation_its_commands_share() {
        let name = |transaction: bool, commands: &[&[&str]]| {
            let commands = commands.iter().map(|c| c.iter().map(|a| a.as_bytes()));
            batch_operation(
                if transaction { "MULTI" } else { "PIPELINE" },
                transaction,
                commands,
            )
        };
        // One operation in any case, named as first written.
        let same = name(false, &[&["incrby", "a", "1"], &["INCRBY", "b", "2"]]);
        assert_eq!(same.as_deref(), Some("PIPELINE incrby"));
        let same = name(true, &[&["INCRBY", "a", "1"], &["incrby", "b", "2"]]);
        assert_eq!(same.as_deref(), Some("MULTI INCRBY"));
        let mixed = name(true, &[&["SET", "a", "1"], &["LPUSH", "a", "2"]]);
        assert_eq!(mixed.as_deref(), Some("MULTI"));
        let one = name(false, &[&["GET", "a"]]);
        assert_eq!(one.as_deref(), Some("GET"), "one command is not a batch");
        let one = name(true, &[&["GET", "a"]]);
        assert_eq!(
            one.as_deref(),
            Some("MULTI GET"),
            "one command is not a batch"
        );
        let config = name(
            false,
            &[&["CONFIG", "GET", "a"], &["config", "set", "a", "b"]],
        );
        assert_eq!(config.as_deref(), Some("PIPELINE"));
        let config = name(false, &[&["CONFIG", "GET", "a"], &["config", "get", "b"]]);
        assert_eq!(config.as_deref(), Some("PIPELINE CONFIG GET"));
        let unnamed = name(false, &[&["1x", "a"], &["1x", "b"]]);
        assert_eq!(unnamed.as_deref(), Some("PIPELINE"));
        assert_eq!(name(false, &[]).as_deref(), Some("PIPELINE"));
    }

    #[test]
    fn a_pipeline_text_joins_its_commands_within_the_cap() {
        assert_eq!(pipeline_text(["SET ? ?", "GET ?"], 100), "SET ? ?; GET ?");
        assert_eq!(pipeline_text(["SET ? ?", "GET ?"], 10), "SET ? ?; …");
        assert_eq!(pipeline_text(["SET ? ?"], 3), "…");
        assert_eq!(pipeline_text::<&str>([], 3), "");
    }
}

//! Redis through the [redis](https://docs.rs/redis) crate's async connections (feature
//! `redis`): wrap a connection once, and each command sent on it is a `Client` span.
//!
//! ```no_run
//! # async fn run() -> redis::RedisResult<()> {
//! use godtrace_runtime::db::redis::TracedConnection;
//! use redis::AsyncTypedCommands;
//!
//! let client = redis::Client::open("redis://127.0.0.1/")?;
//! let conn = client.get_multiplexed_async_connection().await?;
//! let mut conn = TracedConnection::new(conn, client.get_connection_info());
//! conn.set("wallet:7xKX", "profile").await?; // a span `SET`, db.query.text `SET ? ?`
//! redis::pipe().get("a").get("b").query_async::<()>(&mut conn).await?; // one span `PIPELINE GET`
//! # Ok(())
//! # }
//! ```
//!
//! [`TracedConnection`] wraps anything that implements `redis::aio::ConnectionLike`: a
//! `MultiplexedConnection`, a `ConnectionManager` (it stays `Clone`), or a type of your own.
//! What each span records: `db.system.name` = `redis`, `db.namespace` (the database index the
//! connection was opened with),
//! `db.operation.name` (the command, `GET`, or `CONFIG GET` for a command with a
//! subcommand Redis has), `db.query.text` = the command with each argument written `?`, `server.address`,
//! `server.port`, and on failure `error.type` and `db.response.status_code` (the server's
//! error code, `WRONGTYPE`, or the kind of client error: `timeout`, `io`). Arguments, keys
//! included, are never recorded: keys often hold user ids or tokens. A pipeline is one span
//! named `PIPELINE` (`MULTI` for a transaction, `pipe().atomic()`), followed by its commands'
//! operation when they share one (`PIPELINE GET`), as Redis's conventions name a batch, with `db.operation.batch.size` and its commands' texts joined by `; `. A pipeline
//! of one command is no batch: it is named after the command (`MULTI GET` in a transaction).
//! A command whose first argument is no command name has no `db.operation.name` and is named
//! after the server (`host:port`), never the database index. A text longer than the attribute
//! limit is `…`: commands are kept whole.
use super::call::{self, Call, Endpoint, Failure, Recorded};
use super::redis_command;
use crate::record::error_type::{OTHER, intern_in};
use ::redis::aio::ConnectionLike;
use ::redis::{
    Arg, Cmd, ConnectionAddr, ConnectionInfo, Pipeline, RedisError, RedisFuture, ServerError, Value,
};
use opentelemetry::StringValue;
use std::sync::{Arc, Mutex};

/// An async Redis connection whose commands record client spans. It implements
/// `redis::aio::ConnectionLike`, so every command API of the redis crate takes it.
#[derive(Clone)]
pub struct TracedConnection<C> {
    inner: C,
    endpoint: Arc<Endpoint>,
}

impl<C> TracedConnection<C> {
    /// Wraps `inner`, a connection to the server `info` describes (the address, port and
    /// database its spans record): `client.get_connection_info()`.
    pub fn new(inner: C, info: &ConnectionInfo) -> TracedConnection<C> {
        TracedConnection {
            inner,
            endpoint: Arc::new(endpoint_of(info)),
        }
    }

    /// The wrapped connection (its commands are not traced).
    pub fn inner(&mut self) -> &mut C {
        &mut self.inner
    }

    /// The wrapped connection.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C> std::fmt::Debug for TracedConnection<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedConnection")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn endpoint_of(info: &ConnectionInfo) -> Endpoint {
    let (address, port) = match info.addr() {
        ConnectionAddr::Tcp(host, port) => (Some(host.clone()), Some(*port)),
        ConnectionAddr::TcpTls { host, port, .. } => (Some(host.clone()), Some(*port)),
        ConnectionAddr::Unix(path) => (Some(path.display().to_string()), None),
        _ => (None, None),
    };
    let address = address.as_deref().map(crate::text::unbracketed);
    Endpoint {
        system: "redis",
        namespace: Some(shared(&info.redis_settings().db().to_string())),
        target: address.map(|address| shared(&server_target(address, port))),
        address: address.map(shared),
        port,
    }
}

/// The `{target}` of a command with no name: Redis's conventions say not to name a span after
/// `db.namespace`, and the general ones then take `{server.address}:{server.port}` (the
/// address alone for a Unix socket, which has no port; an IPv6 address in brackets, as in a
/// URL, so that the port stands apart).
fn server_target(address: &str, port: Option<u16>) -> String {
    match port {
        Some(port) if address.contains(':') => format!("[{address}]:{port}"),
        Some(port) => format!("{address}:{port}"),
        None => address.to_owned(),
    }
}

/// A string shared by every call's attributes (cloned by reference count, not copied).
fn shared(text: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(text))
}

/// The bytes of an argument; a scan cursor (or a kind of argument this code does not know) is
/// an argument like the others.
fn arg_bytes(arg: Arg<&[u8]>) -> &[u8] {
    match arg {
        Arg::Simple(bytes) => bytes,
        _ => b"0",
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if !call::enabled() {
            return self.inner.req_packed_command(cmd);
        }
        let summary = redis_command::summarize(cmd.args_iter().map(arg_bytes));
        let call = Call::start(&self.endpoint, None, summary.operation, None, || Recorded {
            text: Some(command_text(summary.text, call::query_text_cap())),
            summary: None,
        });
        let reply = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = reply.await;
            finish(call, result.as_ref().map(std::slice::from_ref));
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let transaction = pipeline.is_transaction();
        // An empty pipeline sends nothing (the redis crate writes no bytes and waits for no
        // reply): no call, so no span, nor a metric point for a server never asked.
        if !call::enabled() || (pipeline.is_empty() && !transaction) {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        let batch = if transaction { "MULTI" } else { "PIPELINE" };
        let commands = pipeline
            .cmd_iter()
            .map(|cmd| cmd.args_iter().map(arg_bytes));
        let operation = redis_command::batch_operation(batch, transaction, commands);
        // An empty transaction still sends `MULTI` and `EXEC`: a span `MULTI`, with no text
        // (there is no command of the user's to show).
        let call = Call::start(&self.endpoint, None, operation, None, || Recorded {
            text: (!pipeline.is_empty()).then(|| pipeline_text(pipeline)),
            summary: None,
        });
        // The conventions: one operation is not a batch (the size is never 1), and an empty
        // one (a transaction: an empty pipeline sends nothing) is a batch of 0.
        if pipeline.len() != 1 {
            call.set_attribute("db.operation.batch.size", pipeline.len() as i64);
        }
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = replies.await;
            // The replies of a MULTI .. EXEC come back as EXEC's one array: a command that
            // failed inside it (an error nested in a reply) failed the transaction.
            finish(call, result.as_deref());
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The texts of a pipeline's commands joined by `; `, bounded by the attribute limit.
fn pipeline_text(pipeline: &Pipeline) -> String {
    // Lazy: the commands past the cap are never summarized.
    let texts = pipeline
        .cmd_iter()
        .map(|cmd| redis_command::summarize(cmd.args_iter().map(arg_bytes)).text);
    redis_command::pipeline_text(texts, call::query_text_cap())
}

/// The text of one command, bounded by `cap` as a pipeline's is (it is a pipeline of one):
/// whole, else `…` alone, never cut again by the attribute limit (`…[truncated]`).
fn command_text(text: String, cap: usize) -> String {
    redis_command::pipeline_text([text], cap)
}

/// Ends `call` with the replies: a server error among them (the first) fails it.
fn finish(call: Call, result: Result<&[Value], &RedisError>) {
    let failure = match result {
        Ok(replies) => replies.iter().find_map(server_error),
        Err(error) => Some(client_failure(error)),
    };
    match failure {
        Some(failure) => call.fail(failure),
        None => call.succeed(),
    }
}

/// How deep in a reply a server error is looked for: deeper than any reply a command gives.
const MAX_REPLY_DEPTH: usize = 32;

/// A reply that is a server error (`-WRONGTYPE ...`), or holds one (a script's
/// `{1, redis.error_reply(..)}`, a command inside EXEC's array), as the redis crate turns
/// either into an `Err` for the caller: its code, never its message (which can quote the
/// arguments).
fn server_error(reply: &Value) -> Option<Failure> {
    let error = nested_server_error(reply, MAX_REPLY_DEPTH)?;
    Some(server_failure(error.code()))
}

/// The failure of a server error with `code`: the code if it is one (see `bounded_code`).
fn server_failure(code: &str) -> Failure {
    let code = bounded_code(code);
    Failure {
        error_type: code.into(),
        status_code: Some(code.to_owned()),
        description: format!("server error {code}"),
    }
}

/// The first server error in `reply`, depth first (the one the redis crate's
/// `Value::extract_error` gives), looking `depth` levels down at most.
fn nested_server_error(reply: &Value, depth: usize) -> Option<&ServerError> {
    let (values, pairs): (&[Value], &[(Value, Value)]) = match reply {
        Value::ServerError(error) => return Some(error),
        Value::Array(values) | Value::Set(values) | Value::Push { data: values, .. } => {
            (values, &[])
        }
        Value::Map(pairs) => (&[], pairs),
        Value::Attribute { data, attributes } => (std::slice::from_ref(&**data), attributes),
        _ => return None,
    };
    let depth = depth.checked_sub(1)?;
    let in_pairs = pairs.iter().flat_map(|(key, value)| [key, value]);
    values
        .iter()
        .chain(in_pairs)
        .find_map(|value| nested_server_error(value, depth))
}

/// How a client-side error is recorded: the server's code when it carries one, else what
/// kind of failure it was.
fn client_failure(error: &RedisError) -> Failure {
    if let Some(code) = error.code() {
        return server_failure(code);
    }
    let (error_type, description) = if error.is_timeout() {
        ("timeout", "timed out waiting for the server")
    } else if error.is_connection_dropped() {
        (
            "connection_dropped",
            "the connection to the server was lost",
        )
    } else if error.is_io_error() {
        ("io", "I/O error")
    } else {
        ("client", "client error")
    };
    Failure {
        error_type: error_type.into(),
        status_code: None,
        description: format!("{description} ({})", error.category()),
    }
}

/// Server error codes recorded so far in this process.
static SERVER_CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// A server error code as recorded: Redis's own (`ERR`, `WRONGTYPE`, `NOSCRIPT`…) and
/// modules' are upper-case words; anything else (a script's `error_reply('token …')`, whose
/// first word the client takes for a code) is `_OTHER`. A script may still reply with any
/// upper-case word: the codes other than Redis's own are kept for the process, at most
/// `MAX_NAMES` of them, and a new one past that is `_OTHER`, so that a script cannot add
/// attribute values and metric series without bound.
fn bounded_code(code: &str) -> &'static str {
    bounded_code_in(&SERVER_CODES, code)
}

/// Redis's own error codes, always recorded as themselves: a script's made-up codes, which
/// fill the kept ones first come first served, cannot push these into `_OTHER`.
const REDIS_CODES: &[&str] = &[
    "ASK",
    "BUSY",
    "BUSYGROUP",
    "BUSYKEY",
    "CLUSTERDOWN",
    "CROSSSLOT",
    "ERR",
    "EXECABORT",
    "LOADING",
    "MASTERDOWN",
    "MISCONF",
    "MOVED",
    "NOAUTH",
    "NOGROUP",
    "NOPERM",
    "NOPROTO",
    "NOREPLICAS",
    "NOSCRIPT",
    "NOTBUSY",
    "OOM",
    "READONLY",
    "TRYAGAIN",
    "UNBLOCKED",
    "UNKILLABLE",
    "WRONGPASS",
    "WRONGTYPE",
];

/// [`bounded_code`], kept in `codes`.
fn bounded_code_in(codes: &Mutex<Vec<&'static str>>, code: &str) -> &'static str {
    if let Ok(at) = REDIS_CODES.binary_search(&code) {
        return REDIS_CODES[at];
    }
    let is_code = (1..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase());
    if is_code {
        intern_in(codes, code)
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::error_type::MAX_NAMES;
    use std::task::{Context, Poll, Waker};

    /// A connection that answers every command at once, with this reply (one per reply
    /// expected of a pipeline).
    struct Answering(Value);

    impl ConnectionLike for Answering {
        fn req_packed_command<'a>(&'a mut self, _: &'a Cmd) -> RedisFuture<'a, Value> {
            Box::pin(async { Ok(self.0.clone()) })
        }

        fn req_packed_commands<'a>(
            &'a mut self,
            _: &'a Pipeline,
            _: usize,
            count: usize,
        ) -> RedisFuture<'a, Vec<Value>> {
            Box::pin(async move { Ok(vec![self.0.clone(); count]) })
        }

        fn get_db(&self) -> i64 {
            0
        }
    }

    fn send(pipeline: &Pipeline) {
        let info: ConnectionInfo = "redis://127.0.0.1:6379/0".parse().unwrap();
        let mut conn = TracedConnection::new(Answering(Value::Okay), &info);
        let (offset, count) = if pipeline.is_transaction() {
            (pipeline.len() + 1, 1)
        } else {
            (0, pipeline.len())
        };
        let mut reply = conn.req_packed_commands(pipeline, offset, count);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(reply.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    }

    /// The redis crate sends nothing for an empty pipeline: there is no call to record. An
    /// empty transaction is `MULTI` and `EXEC` on the wire: a span, without an empty text.
    #[test]
    fn an_empty_pipeline_is_no_span_and_an_empty_transaction_has_no_text() {
        let capture = crate::testing::capture();
        send(&::redis::pipe());
        assert!(capture.spans().is_empty(), "{:?}", capture.spans());
        send(::redis::pipe().atomic());
        let multi = capture.span("MULTI");
        assert!(!multi.is_error());
        assert!(multi.attr("db.query.text").is_none());
        assert_eq!(
            multi.attr("db.operation.batch.size"),
            Some(&opentelemetry::Value::I64(0))
        );
        send(::redis::pipe().get("k").get("j"));
        let piped = capture.span("PIPELINE GET");
        assert_eq!(
            piped.attr("db.query.text"),
            Some(&opentelemetry::Value::from("GET ?; GET ?"))
        );
    }

    /// A script's error reply inside an array, as
    /// `EVAL "return {1, redis.error_reply('ERR nested')}" 0` answers.
    fn nested_error() -> Value {
        ::redis::parse_redis_value(b"*2\r\n:1\r\n-ERR nested failure\r\n").unwrap()
    }

    /// The redis crate gives the caller an `Err` for a server error anywhere in a reply: the
    /// call failed, with the error's code.
    #[test]
    fn a_server_error_nested_in_a_reply_fails_the_call() {
        let capture = crate::testing::capture();
        let info: ConnectionInfo = "redis://127.0.0.1:6379/0".parse().unwrap();
        let mut conn = TracedConnection::new(Answering(nested_error()), &info);
        let mut cx = Context::from_waker(Waker::noop());
        let mut eval = Cmd::new();
        eval.arg("EVAL").arg("return 1").arg(0);
        let reply = conn.req_packed_command(&eval).as_mut().poll(&mut cx);
        let Poll::Ready(Ok(reply)) = reply else {
            panic!("{reply:?}")
        };
        assert!(reply.extract_error().is_err());
        let pipeline = ::redis::pipe().cmd("EVAL").arg("return 1").arg(0).clone();
        let replies = conn
            .req_packed_commands(&pipeline, 0, 1)
            .as_mut()
            .poll(&mut cx);
        assert!(matches!(replies, Poll::Ready(Ok(_))));
        // The command, and the pipeline of one (named after its command).
        let spans = capture.spans_named("EVAL");
        assert_eq!(spans.len(), 2, "{spans:?}");
        for span in spans {
            assert!(span.is_error(), "{span:?}");
            assert_eq!(
                span.attr("error.type"),
                Some(&opentelemetry::Value::from("ERR"))
            );
        }
    }

    /// Sends the command `name k` on a connection to `url`.
    fn send_command(name: &[u8], url: &str) {
        let mut cmd = Cmd::new();
        cmd.arg(name).arg("k");
        let info: ConnectionInfo = url.parse().unwrap();
        let mut conn = TracedConnection::new(Answering(Value::Okay), &info);
        let mut reply = conn.req_packed_command(&cmd);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(reply.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    }

    /// Redis's conventions say not to name a span after `db.namespace` (the database index):
    /// a command with no name is named after the server, as the general conventions' target.
    #[test]
    fn a_command_with_no_name_is_named_after_the_server_not_the_database() {
        let capture = crate::testing::capture();
        for name in [&b""[..], b"\xff\xfe", &[b'A'; 33], b"GET KEY"] {
            send_command(name, "redis://127.0.0.1:6379/3");
        }
        send_command(b"", "redis://[::1]:6380/3");
        assert!(capture.spans_named("3").is_empty(), "{:?}", capture.spans());
        let spans = capture.spans_named("127.0.0.1:6379");
        assert_eq!(spans.len(), 4, "{:?}", capture.spans());
        for span in spans {
            assert!(span.attr("db.operation.name").is_none());
            assert_eq!(
                span.attr("db.namespace"),
                Some(&opentelemetry::Value::from("3"))
            );
        }
        assert_eq!(capture.spans_named("[::1]:6380").len(), 1);
        assert_eq!(server_target("/run/redis.sock", None), "/run/redis.sock");
    }

    /// A command's text is built to fit the attribute limit, as a pipeline's: the generic cut
    /// would end it with `…[truncated]`, or with no marker at all under a short limit.
    #[test]
    fn a_commands_text_is_built_to_fit_the_limit() {
        let text = |args: &[&str], cap| {
            let summary = redis_command::summarize(args.iter().map(|a| a.as_bytes()));
            command_text(summary.text, cap)
        };
        let mset: Vec<&str> = std::iter::once("MSET").chain(["k"; 40]).collect();
        let whole = text(&mset, 1024);
        assert_eq!(whole, format!("MSET{} …", " ?".repeat(16)));
        assert_eq!(text(&mset, whole.len()), whole);
        assert_eq!(text(&mset, 20 - '…'.len_utf8()), "…");
        assert_eq!(text(&["SET", "a", "b"], 4 - '…'.len_utf8()), "…");
        assert_eq!(text(&["SET", "a", "b"], 7), "SET ? ?");
    }

    #[test]
    fn only_upper_case_words_are_recorded_as_codes() {
        for code in ["ERR", "WRONGTYPE", "NOSCRIPT", "BUSYGROUP"] {
            assert_eq!(bounded_code(code), code);
        }
        for data in [
            "tok_s3cr3t",
            "S3CR3T_TOKEN_abc",
            "-s3cr3t",
            "",
            &"A".repeat(33),
        ] {
            assert_eq!(bounded_code(data), "_OTHER", "{data}");
        }
    }

    /// A script can answer any upper-case word as its error code: a bounded set of them.
    #[test]
    fn server_codes_are_bounded_in_number() {
        let codes = Mutex::new(Vec::new());
        let word = |i: usize| -> String {
            let letter = |d: usize| char::from(b'A' + (d % 26) as u8);
            format!("CODE{}{}", letter(i / 26), letter(i))
        };
        for i in 0..MAX_NAMES {
            assert_eq!(bounded_code_in(&codes, &word(i)), word(i));
        }
        assert_eq!(bounded_code_in(&codes, &word(3)), word(3));
        assert_eq!(bounded_code_in(&codes, "HUNTER"), "_OTHER");
        // Redis's own codes are kept however many a script made up first.
        for code in ["WRONGTYPE", "NOSCRIPT", "MOVED", "ERR"] {
            assert_eq!(bounded_code_in(&codes, code), code);
        }
    }

    #[test]
    fn redis_codes_are_sorted_for_the_search() {
        assert!(REDIS_CODES.is_sorted(), "{REDIS_CODES:?}");
    }
}

//! One request in flight through a layer: its span, when it started, and what the response
//! said so far. Ending it (drop) sets the status, records the duration and ends the span, so
//! a request dropped anywhere (cancelled future, body dropped mid-stream) is never leaked.
// Each layer's feature uses its part of this: with all of them on, nothing is unused.
#![cfg_attr(
    not(all(feature = "tower", feature = "reqwest", feature = "tonic")),
    allow(dead_code)
)]
use super::grpc_web::{self, Found, StatusReader};
use super::semconv::{self, CANCELLED};
use crate::Span;
use http::HeaderMap;
use opentelemetry::KeyValue;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The attribute that marks a span whose work was dropped unfinished: the one a dropped
/// `#[traced]` future's span carries, which the local tree shows as `(cancelled)`.
const CANCELLED_ATTRIBUTE: &str = "godtrace.cancelled";

/// How many attributes the end of an exchange adds to its histogram's: a status and
/// `error.type`.
pub(crate) const METRIC_ATTRIBUTES_ADDED: usize = 3;

/// The attributes of an exchange's duration histogram known at its start.
pub(crate) enum MetricBase {
    /// An HTTP server request on a route kept for the process (or none): its series is kept
    /// by shape (see `series`), so its attributes are never built per request.
    #[cfg(feature = "tower")]
    Server {
        method: &'static str,
        scheme: &'static str,
        route: Option<&'static str>,
        version: Option<&'static str>,
    },
    /// Any other: the attributes, with room for the [`METRIC_ATTRIBUTES_ADDED`] the end adds
    /// (one allocation).
    Attributes(Vec<KeyValue>),
}

/// Which side of which protocol an exchange records: the status rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// An HTTP server span: 5xx is an error; `http.server.request.duration` is recorded.
    HttpServer,
    /// An HTTP client span: 4xx and 5xx are errors; `http.client.request.duration` is recorded.
    HttpClient,
    /// A gRPC server span: only the server-failure codes are errors.
    GrpcServer,
    /// A gRPC client span: every code but OK is an error.
    GrpcClient,
}

/// A request in flight; see the module docs.
pub(crate) struct Exchange {
    span: Span,
    role: Role,
    started: Instant,
    /// What the duration histogram's attributes are made of, known at the start.
    metric: MetricBase,
    http_status: Option<u16>,
    grpc_code: Option<i64>,
    /// A gRPC-Web answer's reader of the trailer frame in its body, where its status is
    /// (none when its head gave the status, or its body is compressed).
    grpc_web: Option<StatusReader>,
    /// Whether the answer's end is its HTTP trailers (see [`Exchange::ends_at_length`]).
    trailers_follow: bool,
    /// An HTTP/1 server sends a trailer field only when the response's head names it in
    /// `Trailer` (hyper drops the others): a gRPC answer over HTTP/1.1 whose head does not
    /// name `grpc-status` reaches its client without it, whatever its body's trailers hold.
    trailers_dropped: bool,
    /// The HTTP version the request came in over: a server's connection's (a response a
    /// handler builds says HTTP/1.1 whatever the connection).
    request_version: http::Version,
    /// The request is a `HEAD`: its response has no body, whatever length it declares.
    head_request: bool,
    /// The request takes trailers (`TE: trailers`): an HTTP/1 server sends none otherwise.
    takes_trailers: bool,
    /// The request is a gRPC-Web one tonic-web's `GrpcWebLayer` turned into gRPC (see
    /// [`from_grpc_web`]): the answer's trailers go back as its body's trailer frame, whatever
    /// the HTTP version.
    from_grpc_web: bool,
    /// The gRPC status was sent where it could not be read (a gRPC-Web trailer frame
    /// compressed, or not made of header lines): an answer that ends without one read is not UNKNOWN, but not known.
    grpc_status_unread: bool,
    error_type: Option<Cow<'static, str>>,
    responded: bool,
    /// The response body ended normally (its last frame, or no body at all).
    body_ended: bool,
    /// The response body was polled: its sending began.
    body_polled: bool,
    /// The response body gave a frame of data (a gRPC answer's message: a gate in front of
    /// the methods answers with none).
    body_sent_data: bool,
    /// A gRPC status came in the response's head (trailers-only), which clients read
    /// whatever follows.
    grpc_status_in_head: bool,
    /// A gRPC server call's deadline (its `grpc-timeout`), to tell a call broken off by it
    /// from one its caller cancelled.
    deadline: Option<Duration>,
    /// A panic unwound through [`Exchange::in_scope`] or [`Exchange::marks_panics`]: the
    /// service or its body panicked, even if an outer layer caught it (tower-http's
    /// `CatchPanicLayer`) and dropped the exchange later, when nothing is unwinding any more.
    /// Atomic so that a body's `&self` methods (`size_hint`) can set it: the exchange stays
    /// `Sync`, as boxed bodies ask.
    panicked: AtomicBool,
    /// Whether a panic was unwinding when the response future or body holding the exchange
    /// began to be dropped (`None`: not dropped by one): one unwinding when the exchange ends
    /// but not then came from their own `Drop` (the handler's future's, the body's).
    unwinding_at_drop: Option<bool>,
}

/// Runs `f`, setting `panicked` if a panic unwinds through it.
fn marking_panics<R>(panicked: &AtomicBool, f: impl FnOnce() -> R) -> R {
    /// Sets its flag when dropped: only while unwinding, as it is forgotten on return.
    struct Unwinding<'a>(&'a AtomicBool);
    impl Drop for Unwinding<'_> {
        fn drop(&mut self) {
            // Read by the exchange's owner once the panic is over: no order to keep.
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let unwinding = Unwinding(panicked);
    let out = f();
    std::mem::forget(unwinding);
    out
}

/// A future each poll of which runs in its exchange's scope (see [`Exchange::polled_in_scope`]).
#[cfg(feature = "reqwest")]
pub(crate) struct InScope<'a, F> {
    inner: std::pin::Pin<&'a mut F>,
    exchange: &'a mut Exchange,
}

#[cfg(feature = "reqwest")]
impl<F: std::future::Future> std::future::Future for InScope<'_, F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = &mut *self;
        let inner = this.inner.as_mut();
        this.exchange.in_scope(|| inner.poll(cx))
    }
}

impl Exchange {
    /// An exchange of `span`, its duration recorded with the attributes `metric` starts.
    pub(crate) fn new(span: Span, role: Role, metric: MetricBase) -> Exchange {
        Exchange {
            span,
            role,
            started: Instant::now(),
            metric,
            http_status: None,
            grpc_code: None,
            grpc_web: None,
            trailers_follow: false,
            trailers_dropped: false,
            request_version: http::Version::HTTP_11,
            head_request: false,
            takes_trailers: false,
            from_grpc_web: false,
            grpc_status_unread: false,
            error_type: None,
            responded: false,
            body_ended: false,
            body_polled: false,
            body_sent_data: false,
            grpc_status_in_head: false,
            deadline: None,
            panicked: AtomicBool::new(false),
            unwinding_at_drop: None,
        }
    }

    /// A gRPC server call that its caller gave `deadline` (its `grpc-timeout`).
    pub(crate) fn with_deadline(mut self, deadline: Option<Duration>) -> Exchange {
        self.deadline = deadline;
        self
    }

    /// Runs `f` with this exchange's span current (the inner service's code nests under it).
    pub(crate) fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let span = &mut self.span;
        marking_panics(&self.panicked, || span.in_scope(f))
    }

    /// Runs `f`, the service's or its body's code run outside the span (a body's size hint, an
    /// in-memory body's poll), noting a panic that unwinds through it.
    pub(crate) fn marks_panics<R>(&self, f: impl FnOnce() -> R) -> R {
        marking_panics(&self.panicked, f)
    }

    /// `inner`, each poll of it under [`Exchange::in_scope`]: a client's request, its
    /// middleware awaiting the rest of the stack, which runs under the client span (as a
    /// gRPC client's service does) and whose panic fails it.
    #[cfg(feature = "reqwest")]
    pub(crate) fn polled_in_scope<'a, F: std::future::Future>(
        &'a mut self,
        inner: std::pin::Pin<&'a mut F>,
    ) -> InScope<'a, F> {
        InScope {
            inner,
            exchange: self,
        }
    }

    /// The response future or body holding the exchange is being dropped (its own fields
    /// next): whether a panic is unwinding now.
    pub(crate) fn on_drop(&mut self) {
        self.unwinding_at_drop = Some(std::thread::panicking());
    }

    /// The span, to describe the request further.
    /// The HTTP version the response came in (a client learns it there): on the span and,
    /// as the conventions recommend, on the duration histogram's point.
    #[cfg(feature = "reqwest")]
    // Without the server layer (feature `tower`) there is only the one kind.
    #[cfg_attr(not(feature = "tower"), allow(irrefutable_let_patterns))]
    pub(crate) fn on_protocol_version(&mut self, version: &'static str) {
        self.span.set_attribute("network.protocol.version", version);
        if let MetricBase::Attributes(attributes) = &mut self.metric {
            attributes.push(KeyValue::new("network.protocol.version", version));
        }
    }

    /// The response head arrived (over HTTP `version`): its status, and for gRPC a
    /// trailers-only `grpc-status`.
    pub(crate) fn on_response(
        &mut self,
        status: http::StatusCode,
        version: http::Version,
        headers: &HeaderMap,
    ) {
        self.responded = true;
        self.http_status = Some(status.as_u16());
        match self.role {
            // On the span now: a panic while the body streams ends the span before `finish`.
            Role::HttpServer | Role::HttpClient => self
                .span
                .set_attribute("http.response.status_code", i64::from(status.as_u16())),
            Role::GrpcServer | Role::GrpcClient => self.on_grpc_head(version, headers),
        }
    }

    /// The request goes out (client) or came in (server) over HTTP `version`, with `method`
    /// and `headers`.
    pub(crate) fn on_request(
        &mut self,
        version: http::Version,
        method: &http::Method,
        headers: &HeaderMap,
    ) {
        self.request_version = version;
        self.head_request = method == http::Method::HEAD;
        self.takes_trailers = names_in(headers, http::header::TE, "trailers");
        self.from_grpc_web = self.role == Role::GrpcServer
            && version < http::Version::HTTP_2
            && from_grpc_web(headers);
    }

    /// Whether a response of `status` to this request has a body to send: not to a `HEAD`,
    /// nor a 204 or 304 (RFC 9110, 6.4.1), whatever length it declares.
    pub(crate) fn response_has_body(&self, status: http::StatusCode) -> bool {
        !self.head_request
            && status != http::StatusCode::NO_CONTENT
            && status != http::StatusCode::NOT_MODIFIED
    }

    /// A gRPC answer's head: a trailers-only status (which clients read, whatever follows),
    /// else where the status will come from: HTTP/2 trailers, or a gRPC-Web body's trailer
    /// frame. HTTP/1.1 carries no trailers after a declared length: such an answer is over
    /// there (its status then missing, UNKNOWN, as clients read it).
    fn on_grpc_head(&mut self, version: http::Version, headers: &HeaderMap) {
        self.on_trailers(headers);
        self.grpc_status_in_head = self.grpc_code.is_some();
        let web = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| grpc_web::encoding(value.as_bytes()));
        // A server's response says nothing of its connection: the request does.
        let version = match self.role {
            Role::GrpcServer => self.request_version,
            _ => version,
        };
        self.trailers_follow = web.is_none() && version >= http::Version::HTTP_2;
        // hyper's HTTP/1 server sends trailers only in a chunked answer (HTTP/1.1), to a
        // request that takes them (`TE: trailers`), and only those its head names.
        let trailers_sent = version == http::Version::HTTP_11
            && self.takes_trailers
            && names_in(headers, http::header::TRAILER, "grpc-status");
        self.trailers_dropped = self.role == Role::GrpcServer
            && !self.from_grpc_web
            && web.is_none()
            && version < http::Version::HTTP_2
            && !trailers_sent;
        let Some(encoding) = web else {
            return;
        };
        if self.grpc_code.is_some() {
            return;
        }
        // A body compressed as a whole (`content-encoding`) is not read here.
        let compressed = headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|value| !value.as_bytes().eq_ignore_ascii_case(b"identity"));
        if compressed {
            self.grpc_status_unread = true;
        } else {
            self.grpc_web = Some(StatusReader::new(encoding));
        }
    }

    /// Whether the response body's bytes are to be read ([`Exchange::on_body_bytes`]): a
    /// gRPC-Web answer's, whose status is in them.
    pub(crate) fn reads_body(&self) -> bool {
        self.grpc_web.is_some()
    }

    /// The next bytes of the response body, as sent (see [`Exchange::reads_body`]); `None`:
    /// some that cannot be read.
    pub(crate) fn on_body_bytes(&mut self, bytes: Option<&[u8]>) {
        let Some(reader) = &mut self.grpc_web else {
            return;
        };
        let found = match bytes {
            Some(bytes) => reader.read(bytes),
            None => reader.give_up(),
        };
        self.on_found(found);
    }

    /// What the gRPC-Web trailer frame said, once it is known.
    fn on_found(&mut self, found: Option<Found>) {
        match found {
            Some(Found::Status(code)) => self.grpc_code = Some(code),
            // An answer without a status, as one with no trailers: recorded now, as a client
            // that has read the trailer frame may drop the body before its end.
            Some(Found::NoStatus) => self.grpc_code = Some(semconv::GRPC_UNKNOWN),
            Some(Found::Unreadable) => self.grpc_status_unread = true,
            None => {}
        }
    }

    /// Trailers (or a trailers-only head) arrived: the gRPC status, when they hold one. A
    /// status that is not one of gRPC's codes reads as UNKNOWN, as gRPC clients read it.
    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(status) = trailers.get("grpc-status") {
            self.grpc_code =
                Some(semconv::grpc_status(status.as_bytes()).unwrap_or(semconv::GRPC_UNKNOWN));
        }
    }

    /// A trailers frame of the response's body: its gRPC status, unless the server drops it
    /// on the way (see `trailers_dropped`: the client then reads none, UNKNOWN), or the head
    /// gave one already (clients read that one).
    pub(crate) fn on_trailer_frame(&mut self, trailers: &HeaderMap) {
        if !self.trailers_dropped && !self.grpc_status_in_head {
            self.on_trailers(trailers);
        }
    }

    /// Whether the answer's end is its HTTP trailers: a gRPC call's over HTTP/2.
    pub(crate) fn awaits_trailers(&self) -> bool {
        self.trailers_follow
    }

    /// Whether the response is over once the length it declared is sent: an HTTP/1 server
    /// stops polling its body there (no trailers can follow a length over HTTP/1.1) and drops
    /// it. An HTTP/2 one polls on to the body's end (its trailers, an error, more data), which
    /// is the response's end, as it is a gRPC call's, whose status the trailers carry.
    pub(crate) fn ends_at_length(&self) -> bool {
        // (A gRPC call's trailers follow its length over HTTP/2 only.)
        self.request_version < http::Version::HTTP_2
    }

    /// The response body ended normally: its last frame came (or it had none). A gRPC-Web
    /// body that ends inside a frame was cut short.
    pub(crate) fn on_body_end(&mut self) {
        self.body_ended = true;
        if let Some(reader) = &mut self.grpc_web {
            let found = reader.at_end();
            self.on_found(found);
        }
    }

    /// The response body is being polled: its sending began.
    pub(crate) fn on_body_polled(&mut self) {
        self.body_polled = true;
    }

    /// The response body gave a frame of data.
    pub(crate) fn on_body_data(&mut self) {
        self.body_sent_data = true;
    }

    /// The inner service failed (no response): `error.type` is the error's type name, or a
    /// boxed error's innermost cause's (see `error_type::of_service_error`).
    #[cfg(feature = "tower")]
    pub(crate) fn on_service_error<E: 'static>(&mut self, error: &E) {
        self.responded = true;
        let name = crate::record::error_type::of_service_error(error);
        self.error_type = Some(Cow::Borrowed(semconv::cut(
            name,
            semconv::MAX_NAME_PART_LEN,
        )));
    }

    /// The request failed in transport (`timeout`, `connect`, ...): no response.
    pub(crate) fn on_transport_error(&mut self, error_type: &'static str) {
        self.responded = true;
        self.error_type = Some(Cow::Borrowed(error_type));
    }

    /// The response body failed while streaming: `error.type` `body`, the value the HTTP
    /// client gives a body that fails (reqwest's error kind).
    pub(crate) fn on_body_error(&mut self) {
        if self.error_type.is_none() {
            self.error_type = Some(Cow::Borrowed("body"));
        }
    }

    /// Sets the final status and attributes on the span and records the duration.
    fn finish(&mut self) {
        // A panic in the service or its body ended the request: one that unwound through
        // `in_scope` or `marks_panics` (then or earlier: an outer layer may have caught it),
        // or one that began as the future or body holding the exchange was dropped (their own
        // `Drop`'s). Not `thread::panicking()` alone: an exchange dropped while another one's
        // panic unwinds (two requests joined in one task) was cancelled. The histogram says
        // the same as the span, not `cancelled` nor, after a 200 head, a success.
        // A client's request that a panic below it broke off (a middleware's, a service's:
        // one that unwound through the inner call) failed too, as its caller sees it.
        let server = matches!(self.role, Role::HttpServer | Role::GrpcServer);
        let drop_panicked = self.unwinding_at_drop == Some(false) && std::thread::panicking();
        if *self.panicked.get_mut() || (drop_panicked && server) {
            self.responded = true;
            self.error_type = Some(Cow::Borrowed("panic"));
        }
        // A gRPC answer is cut too when its body is dropped before its first poll (a server's:
        // hyper drops it unsent once the client reset the call; a client's: tonic fails the
        // call from its head, an encoding it does not take): its status was still owed.
        let grpc = matches!(self.role, Role::GrpcServer | Role::GrpcClient);
        let sending = self.body_polled || grpc;
        if self.responded && sending && !self.body_ended && self.error_type.is_none() {
            self.on_body_cut();
        }
        if !self.responded {
            match self.role {
                // The caller dropped the call's future (its own timeout, a `select!` that went
                // another way): the HTTP conventions (v1.41+) say a client's intentional
                // cancellation is no error, so status unset and no `error.type`. The span is
                // marked as a dropped `#[traced]` future's is, so a reader still sees why it
                // has no response.
                Role::HttpClient | Role::GrpcClient => {
                    self.span.set_attribute(CANCELLED_ATTRIBUTE, true);
                }
                // A server cannot tell a client that gave up from one that failed, nor an
                // outer layer's timeout from a hang: it stays an error, with its own type.
                Role::HttpServer => self.error_type = Some(Cow::Borrowed(CANCELLED)),
                // gRPC tells which: `finish_grpc` gives the call its status.
                Role::GrpcServer => {}
            }
        }
        match self.role {
            Role::HttpServer => self.finish_http(semconv::server_status_is_error),
            Role::HttpClient => self.finish_http(semconv::client_status_is_error),
            Role::GrpcServer | Role::GrpcClient => self.finish_grpc(),
        }
        // One value for the span and the histogram, which would each cut it at their own
        // limit.
        self.error_type = (self.error_type.take()).map(crate::record::error_type::joinable_value);
        self.record_duration();
        if let Some(error_type) = &self.error_type {
            self.span.set_attribute("error.type", error_type.clone());
            // No description: all the layer knows is the status code or `error.type`, which
            // the conventions advise against repeating there (recording-errors.md; for HTTP,
            // "don't set it if the reason can be inferred from the status code"). A message
            // set before (a handler's panic) is kept: an Error with an empty description
            // replaces no other status (`Live::set_status`).
            self.span.set_error("");
        }
    }

    /// A server's response body dropped while being sent: the client went away (or an outer
    /// layer gave up) in the middle of the response. As for a request dropped before its
    /// head: `cancelled` over HTTP; over gRPC, the status [`Exchange::grpc_broken_off_code`]
    /// gives. (A client that drops the body it reads chose to.)
    fn on_body_cut(&mut self) {
        match self.role {
            Role::HttpServer => self.error_type = Some(Cow::Borrowed(CANCELLED)),
            Role::GrpcServer => {
                let code = self.grpc_broken_off_code();
                self.grpc_code.get_or_insert(code);
            }
            // The client stopped reading before the status (or tonic did, failing to decode
            // a message: the layer cannot tell): marked as a call dropped before its answer.
            // Not one whose status was sent where it could not be read (not known), nor an
            // answer that is not gRPC's (an HTTP error: the code gRPC's mapping gives).
            Role::GrpcClient
                if self.grpc_code.is_none()
                    && !self.grpc_status_unread
                    && self.http_status == Some(200) =>
            {
                self.span.set_attribute(CANCELLED_ATTRIBUTE, true);
            }
            Role::HttpClient | Role::GrpcClient => {}
        }
    }

    /// The status of a gRPC server call broken off before its end (its future or its
    /// response dropped), as gRPC servers report it: DEADLINE_EXCEEDED once the deadline its
    /// caller set has passed (a server error: tonic's own timeout, which reads `grpc-timeout`
    /// and sits outside the layer, drops the call then), else CANCELLED (the caller gave up:
    /// no server error). A call dropped within 5 ms plus 1% of its deadline counts as past
    /// it: the deadline's clocks (the server's timeout, started when the request came; the
    /// caller's, whose cancellation then travels here) are not this span's.
    fn grpc_broken_off_code(&self) -> i64 {
        const TIMER_SKEW: Duration = Duration::from_millis(5);
        match self.deadline {
            Some(deadline) if self.started.elapsed() + TIMER_SKEW + deadline / 100 >= deadline => {
                semconv::GRPC_DEADLINE_EXCEEDED
            }
            _ => semconv::GRPC_CANCELLED,
        }
    }

    fn finish_http(&mut self, is_error: fn(u16) -> bool) {
        if let Some(status) = self.http_status
            && is_error(status)
            && self.error_type.is_none()
        {
            self.error_type = Some(Cow::Owned(status.to_string()));
        }
    }

    /// Records the exchange's duration in its role's histogram (seconds, the conventions'
    /// buckets), with this request's span as the point's exemplar.
    fn record_duration(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        let exemplar = self.span.recording_span_context();
        let (histogram, status) = match self.role {
            Role::HttpServer => (semconv::HTTP_SERVER_DURATION, self.http_status_value()),
            Role::HttpClient => (semconv::HTTP_CLIENT_DURATION, self.http_status_value()),
            Role::GrpcServer => (semconv::RPC_SERVER_DURATION, self.grpc_status_value()),
            Role::GrpcClient => (semconv::RPC_CLIENT_DURATION, self.grpc_status_value()),
        };
        // Without the server layer (feature `tower`) there is only the one kind.
        #[cfg_attr(not(feature = "tower"), allow(clippy::infallible_destructuring_match))]
        let attributes = match &mut self.metric {
            #[cfg(feature = "tower")]
            MetricBase::Server {
                method,
                scheme,
                route,
                version,
            } => {
                let shape = super::series::ServerShape {
                    method,
                    scheme,
                    route: *route,
                    version: *version,
                    status: self.http_status,
                    error_type: self.error_type.clone(),
                };
                return super::series::record_server(shape, seconds, exemplar);
            }
            MetricBase::Attributes(attributes) => attributes,
        };
        attributes.extend(status);
        if let Some(error_type) = &self.error_type {
            attributes.push(KeyValue::new("error.type", error_type.clone()));
        }
        crate::metrics::record_histogram_for_span(
            histogram,
            seconds,
            attributes,
            semconv::DURATION_BUCKETS,
            semconv::duration_description(histogram),
            exemplar,
        );
    }

    /// `http.response.status_code`, when a response came.
    fn http_status_value(&self) -> Option<KeyValue> {
        let status = self.http_status?;
        Some(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ))
    }

    /// `rpc.response.status_code` (the code's name, as the current RPC conventions have it),
    /// when the call ended with one.
    fn grpc_status_value(&self) -> Option<KeyValue> {
        let code = self.grpc_code?;
        Some(KeyValue::new(
            "rpc.response.status_code",
            semconv::grpc_code_name(code),
        ))
    }

    fn finish_grpc(&mut self) {
        // What a gRPC handler answered: its status, or none at the end of a 200 response
        // (gRPC clients read UNKNOWN, gRPC's mapping of an HTTP 200 without one: it failed),
        // unless it was sent where it could not be read.
        let from_grpc = match (self.grpc_code, self.http_status) {
            (Some(code), _) => Some(code),
            (None, Some(200)) if self.body_ended && !self.grpc_status_unread => {
                Some(semconv::GRPC_UNKNOWN)
            }
            _ => None,
        };
        // Else an answer that is not gRPC's (a proxy's 503, a rate limiter's 429): the code
        // gRPC clients read from it.
        let answered = from_grpc.or_else(|| {
            self.http_status
                .filter(|status| *status != 200)
                .map(semconv::grpc_code_of_http_status)
        });
        // A server call broken off before its head: the status gRPC servers report then (not
        // an answer: it names no method below).
        let answered = answered.or_else(|| {
            (self.role == Role::GrpcServer && !self.responded).then(|| self.grpc_broken_off_code())
        });
        // Told to the duration histogram as to the span.
        self.grpc_code = answered;
        // Only a handler's answer names a method: what answered in front of the routing (a
        // rate limiter, a load shedder) says nothing of whether the path is one.
        #[cfg(feature = "tonic")]
        if self.role == Role::GrpcServer {
            self.finish_server_method(from_grpc);
        }
        // Broken off before its status: nothing more to say (the exchange's end says why).
        let Some(code) = answered else { return };
        self.span
            .set_attribute("rpc.response.status_code", semconv::grpc_code_name(code));
        let is_error = match self.role {
            Role::GrpcServer => semconv::grpc_server_code_is_error(code),
            _ => semconv::grpc_client_code_is_error(code),
        };
        if is_error && self.error_type.is_none() {
            self.error_type = Some(Cow::Borrowed(semconv::grpc_code_name(code)));
        }
    }
}

#[cfg(feature = "tonic")]
impl Exchange {
    /// A gRPC server span's `rpc.method`, set at its end: a call the server answers
    /// UNIMPLEMENTED names a method the server does not define, which the RPC conventions
    /// record as `_OTHER` (the original in `rpc.method_original`), the span named `grpc`; so
    /// does a gate's answer, or none, for a method never answered otherwise
    /// (`grpc_methods::names_method`). Otherwise every path a client makes up would be a span name and
    /// a histogram series.
    /// The method is the one in the histogram's attributes (`grpc::metric_attributes`);
    /// an `_OTHER` there was set on the span at its start, with its original.
    fn finish_server_method(&mut self, answered: Option<i64>) {
        let MetricBase::Attributes(attributes) = &mut self.metric else {
            return;
        };
        let Some(method) = attributes
            .iter_mut()
            .find(|kv| kv.key.as_str() == "rpc.method")
        else {
            return;
        };
        if method.value.as_str() == semconv::OTHER_METHOD {
            return;
        }
        // A message sent before the trailers shows a method's handler answered, whatever
        // ended the call after it (a panic, a cancelled stream): named, as a non-gate code
        // names it. (A gRPC-Web body's data holds its trailer frame too: not counted.)
        let answered = match answered {
            None if self.body_sent_data && self.trailers_follow => Some(semconv::GRPC_OK),
            answered => answered,
        };
        if !super::grpc_methods::names_method(method.value.as_str().as_ref(), answered) {
            let original = std::mem::replace(
                &mut method.value,
                opentelemetry::Value::from(semconv::OTHER_METHOD),
            );
            self.span.rename(semconv::GRPC_SYSTEM);
            self.span.set_attribute("rpc.method", semconv::OTHER_METHOD);
            self.span.set_attribute("rpc.method_original", original);
        } else {
            self.span.set_attribute("rpc.method", method.value.clone());
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.finish();
        // The span itself ends when `self.span` is dropped, right after.
    }
}

/// Whether `headers`' `header` fields list `name` (comma-separated, in any case, a `;q=`
/// parameter after it allowed: `TE: trailers, deflate;q=0.5`).
fn names_in(headers: &HeaderMap, header: http::header::HeaderName, name: &str) -> bool {
    headers.get_all(header).iter().any(|value| {
        value.to_str().is_ok_and(|names| {
            names.split(',').any(|item| {
                let item = item.split(';').next().unwrap_or("");
                item.trim().eq_ignore_ascii_case(name)
            })
        })
    })
}

/// Whether a gRPC request over HTTP/1 is a gRPC-Web one that tonic-web's `GrpcWebLayer`
/// turned into gRPC before this layer (the server layer placed inside it): that layer answers
/// any other HTTP/1 request itself (400), and marks the ones it converts with the
/// `accept-encoding` it sets. Such an answer's trailers reach the client in its body.
fn from_grpc_web(headers: &HeaderMap) -> bool {
    const SET_BY_TONIC_WEB: &str = "identity,deflate,gzip";
    let mut accepted = headers.get_all(http::header::ACCEPT_ENCODING).iter();
    accepted
        .next()
        .is_some_and(|value| value == SET_BY_TONIC_WEB)
        && accepted.next().is_none()
}

//! OTLP/HTTP options end to end in process: `/v1/traces` appended to the base endpoint,
//! headers (code over environment), gzip, resource.
use crate::support::otlp as otlp_support;

#[test]
fn http_exports_carry_path_headers_gzip_and_the_resource() {
    crate::support::own_process!();
    otlp_support::options::run(otlp_support::Kind::Http, "http/protobuf");
}

#[test]
fn spans_an_http_receiver_rejects_are_failed_not_exported() {
    crate::support::own_process!();
    otlp_support::options::rejected_spans_count_as_failed(
        otlp_support::Kind::HttpPartial,
        godtrace::Protocol::HttpProtobuf,
    );
}

/// A partial success that rejects nothing and says something is a warning (OTLP): every
/// span is exported, nothing failed, and the first warning is said on stderr.
#[test]
fn a_receivers_warning_is_said_and_every_span_is_exported() {
    crate::support::own_process!();
    use std::os::fd::AsRawFd as _;
    let path = std::env::temp_dir().join(format!("godtrace-warning-{}", std::process::id()));
    let file = std::fs::File::create(&path).expect("a file for stderr");
    let receiver = otlp_support::Receiver::start(otlp_support::Kind::HttpWarning);
    let restore = crate::faults_stderr::stderr_to(file.as_raw_fd());
    let guard = godtrace::init(
        godtrace::Config::new("warning")
            .endpoint(receiver.endpoint())
            .max_export_batch_size(3),
    )
    .expect("init");
    for _ in 0..10 {
        drop(godtrace::span("warned"));
    }
    guard.flush();
    let stats = godtrace::stats();
    drop(guard);
    drop(restore);
    let said = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(receiver.sink.requests().len() > 1, "{stats:?}");
    assert_eq!(stats.spans_exported, 10, "{stats:?}");
    assert_eq!(
        (stats.spans_failed, stats.failed_exports),
        (0, 0),
        "{stats:?}"
    );
    assert_eq!(
        said.matches("with a warning").count(),
        1,
        "said once: {said}"
    );
    assert!(said.contains("attribute values cut to 64 bytes"), "{said}");
}

/// A proxy from the environment is not taken to a collector on loopback: the spans and the
/// configured headers (an API key) go to the collector, and nothing reaches the proxy.
#[test]
fn a_loopback_collector_is_reached_without_the_environments_proxy() {
    crate::support::own_process!();
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "all_proxy",
    ] {
        // SAFETY: this test runs alone in its own process, before any thread is started.
        unsafe { std::env::set_var(var, &proxy_url) };
    }
    let receiver = otlp_support::Receiver::start(otlp_support::Kind::Http);
    let guard = godtrace::init(
        godtrace::Config::new("no-proxy-to-loopback")
            .endpoint(receiver.endpoint())
            .header("x-api-key", "secret"),
    )
    .expect("init");
    otlp_support::deliver::work_sync(1);
    guard.flush();
    let stats = godtrace::stats();
    drop(guard);
    assert_eq!(
        receiver.sink.span_names().len(),
        otlp_support::deliver::SPANS_PER_CALL,
        "{stats:?}"
    );
    let reached = what_reached(&proxy);
    assert!(
        reached.is_empty(),
        "the proxy got: {}",
        String::from_utf8_lossy(&reached)
    );
}

/// A proxy variable that is not UTF-8 is no proxy the client can use: an error naming it
/// (not its value, which may hold credentials), rather than an export that goes direct.
#[test]
fn a_proxy_variable_that_is_not_text_is_an_init_error() {
    use std::os::unix::ffi::OsStrExt as _;
    crate::support::own_process!();
    let value = std::ffi::OsStr::from_bytes(b"http://user:pw@127.0.0.1:9\xff\xfe");
    // SAFETY: this test runs alone in its own process, before any thread is started.
    unsafe { std::env::set_var("HTTPS_PROXY", value) };
    let error = godtrace::init(
        godtrace::Config::new("proxy-not-text")
            .endpoint("https://collector.example:4318")
            .protocol(godtrace::Protocol::HttpProtobuf),
    )
    .expect_err("a proxy variable that is not text");
    let error = error.to_string();
    assert!(error.contains("HTTPS_PROXY"), "{error}");
    assert!(!error.contains("pw"), "{error}");
}

/// `SSL_CERT_FILE` naming a file that is not there: an error naming the variable, for either
/// transport, rather than exports that fail with "unknown issuer" (it replaces the
/// platform's roots).
#[test]
fn a_root_certificate_file_that_cannot_be_read_is_an_init_error() {
    crate::support::own_process!();
    // SAFETY: this test runs alone in its own process, before any thread is started.
    unsafe { std::env::set_var("SSL_CERT_FILE", "/nonexistent/godtrace-roots.pem") };
    for protocol in [godtrace::Protocol::HttpProtobuf, godtrace::Protocol::Grpc] {
        let error = godtrace::init(
            godtrace::Config::new("roots-unreadable")
                .endpoint("https://collector.example:4318")
                .protocol(protocol),
        )
        .expect_err("roots that cannot be read")
        .to_string();
        assert!(
            error.contains("SSL_CERT_FILE=\"/nonexistent/godtrace-roots.pem\""),
            "{error}"
        );
    }
}

#[test]
fn the_endpoints_user_info_is_sent_as_basic_credentials() {
    crate::support::own_process!();
    otlp_support::options::user_info_is_sent_as_basic_credentials(
        otlp_support::Kind::Http,
        godtrace::Protocol::HttpProtobuf,
    );
}

/// `NO_PROXY=*` means no proxy for any endpoint, an IP address's too (the HTTP client's
/// matcher reads the `*` for host names only): nothing reaches the proxy the environment
/// names, whose export would carry the configured headers.
#[test]
fn no_proxy_star_keeps_an_ip_addresss_export_off_the_proxy() {
    crate::support::own_process!();
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    // SAFETY: this test runs alone in its own process, before any thread is started.
    unsafe { std::env::set_var("HTTP_PROXY", proxy_url) };
    // SAFETY: as above.
    unsafe { std::env::set_var("NO_PROXY", "*") };
    // An address nothing answers at (TEST-NET-1): the export goes there directly and fails.
    let guard = godtrace::init(
        godtrace::Config::new("no-proxy-star")
            .endpoint("http://192.0.2.2:4318")
            .protocol(godtrace::Protocol::HttpProtobuf)
            .timeout(std::time::Duration::from_millis(300))
            .header("x-api-key", "secret"),
    )
    .expect("init");
    otlp_support::deliver::work_sync(1);
    guard.flush();
    drop(guard);
    let reached = what_reached(&proxy);
    assert!(
        reached.is_empty(),
        "the proxy got: {}",
        String::from_utf8_lossy(&reached)
    );
}

/// What reached the proxy listening on `proxy` (non-blocking): the first connection's bytes,
/// and `(connected)` when a connection came at all; empty when none did.
fn what_reached(proxy: &std::net::TcpListener) -> Vec<u8> {
    use std::io::Read as _;
    let mut reached = Vec::new();
    if let Ok((mut stream, _)) = proxy.accept() {
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let _ = stream.read_to_end(&mut reached);
        reached.extend_from_slice(b"(connected)");
    }
    reached
}

/// A success whose body does not come by the request timeout is a success (what it said of
/// rejected spans unknown): every request's spans count exported. The export thread bounds
/// the request by the same timeout, and whichever bound came first decided, so some requests
/// counted failed ("no answer within ..") and others exported. (A race of two timers: the old
/// code lost it now and then, not in every run.)
#[test]
fn a_success_whose_body_never_ends_counts_its_spans_exported() {
    crate::support::own_process!();
    let receiver = otlp_support::Receiver::start(otlp_support::Kind::HttpStalledSuccess);
    let guard = godtrace::init(
        godtrace::Config::new("success-body-stalls")
            .endpoint(receiver.endpoint())
            .protocol(godtrace::Protocol::HttpProtobuf)
            .timeout(std::time::Duration::from_millis(500))
            .max_export_batch_size(10),
    )
    .expect("init");
    // Three requests or more: more than the two in flight at once.
    for _ in 0..30 {
        drop(godtrace::span("stalled.success"));
    }
    guard.flush();
    let stats = godtrace::stats();
    drop(guard);
    assert_eq!(
        (stats.spans_exported, stats.spans_failed),
        (30, 0),
        "{stats:?}"
    );
    // Every span arrived; in three requests at least (four when the export thread took a
    // batch before the loop had recorded the next ten).
    assert_eq!(receiver.sink.span_count(), 30);
    assert!(receiver.sink.requests().len() >= 3);
}

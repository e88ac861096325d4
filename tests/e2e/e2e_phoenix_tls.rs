//! End to end over TLS against the two TLS Phoenix instances `scripts/test` starts (one plain
//! TLS, one requiring a client certificate), with the throwaway PKI it made: spans arrive over
//! HTTPS and over gRPC with TLS; mTLS works with the client certificate and fails, counted,
//! without it; an unknown CA and a wrong host name fail with the reason on stderr, once.
//!
//! Metrics over TLS go to in-process receivers (Phoenix takes traces only): gRPC requiring a
//! client certificate, and HTTPS.
//!
//! Every case needs its own `init` (one per process): the one test runs each case in a child
//! process of this binary, all at once, and checks what each child asserted and printed.
use crate::support::e2e as e2e_support;
use e2e_support::{Phoenix, TlsQuery};
use godtrace::{Config, MetricsConfig, Protocol, traced};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Set in a child: the case it runs.
const CASE_VAR: &str = "GODTRACE_TLS_CASE";

/// The TLS backends and the PKI, from `scripts/backends/phoenix.sh`.
struct Backends {
    tls_http: String,
    tls_grpc: String,
    mtls_http: String,
    mtls_grpc: String,
    pki: PathBuf,
}

fn backends() -> Option<Backends> {
    let var = |name: &str| std::env::var(name).ok();
    let found = (|| {
        Some(Backends {
            tls_http: var("GODTRACE_PHOENIX_TLS_HTTP")?,
            tls_grpc: var("GODTRACE_PHOENIX_TLS_GRPC")?,
            mtls_http: var("GODTRACE_PHOENIX_MTLS_HTTP")?,
            mtls_grpc: var("GODTRACE_PHOENIX_MTLS_GRPC")?,
            pki: var("GODTRACE_TLS_DIR")?.into(),
        })
    })();
    if found.is_none() {
        assert!(
            var("GODTRACE_REQUIRE_E2E").as_deref() != Some("1"),
            "GODTRACE_REQUIRE_E2E=1 but the TLS Phoenix variables are not set: \
             scripts/backends/phoenix.sh did not start them"
        );
        eprintln!("skipped: this end-to-end test needs the TLS Phoenix backends; run scripts/test");
    }
    found
}

/// Which server a case talks to.
#[derive(Clone, Copy)]
enum Server {
    /// TLS, certificate valid for localhost and 127.0.0.1.
    Tls,
    /// TLS requiring a client certificate; its certificate names localhost only.
    Mtls,
    /// The mTLS server reached as 127.0.0.1: not a name its certificate holds.
    MtlsByIp,
}

/// How a case configures the exporter.
#[derive(Clone, Copy)]
enum Via {
    /// `OTEL_EXPORTER_OTLP_*` variables.
    GenericEnv,
    /// `OTEL_EXPORTER_OTLP_TRACES_*` variables.
    TracesEnv,
    /// `Config::certificate` / `Config::client_certificate`.
    Builder,
}

struct Case {
    name: &'static str,
    protocol: Protocol,
    server: Server,
    /// The CA file trusted (in the PKI directory); `None`: the platform's roots.
    ca: Option<&'static str>,
    client_cert: bool,
    via: Via,
    /// `None`: the spans arrive; `Some(reason)`: the export fails and stderr says `reason`.
    failure: Option<&'static str>,
}

const fn case(
    name: &'static str,
    protocol: Protocol,
    server: Server,
    ca: Option<&'static str>,
    client_cert: bool,
    via: Via,
    failure: Option<&'static str>,
) -> Case {
    Case {
        name,
        protocol,
        server,
        ca,
        client_cert,
        via,
        failure,
    }
}

const HTTP: Protocol = Protocol::HttpProtobuf;
const GRPC: Protocol = Protocol::Grpc;
const CA: Option<&str> = Some("ca.crt");
const OTHER_CA: Option<&str> = Some("other-ca.crt");
const UNKNOWN_ISSUER: Option<&str> = Some("unknown issuer");
const NAME_MISMATCH: Option<&str> = Some("name mismatch");
/// What a server requiring a client certificate none was sent for is reported as, whether
/// its alert arrived or it closed the connection first.
const NO_CLIENT_CERTIFICATE: Option<&str> = Some("client certificate");

const CASES: &[Case] = &[
    case("https", HTTP, Server::Tls, CA, false, Via::GenericEnv, None),
    case(
        "grpc_tls",
        GRPC,
        Server::Tls,
        CA,
        false,
        Via::TracesEnv,
        None,
    ),
    case(
        "mtls_http",
        HTTP,
        Server::Mtls,
        CA,
        true,
        Via::Builder,
        None,
    ),
    case(
        "mtls_grpc",
        GRPC,
        Server::Mtls,
        CA,
        true,
        Via::GenericEnv,
        None,
    ),
    case(
        "mtls_http_no_cert",
        HTTP,
        Server::Mtls,
        CA,
        false,
        Via::Builder,
        NO_CLIENT_CERTIFICATE,
    ),
    case(
        "mtls_grpc_no_cert",
        GRPC,
        Server::Mtls,
        CA,
        false,
        Via::TracesEnv,
        NO_CLIENT_CERTIFICATE,
    ),
    case(
        "wrong_ca_http",
        HTTP,
        Server::Tls,
        OTHER_CA,
        false,
        Via::GenericEnv,
        UNKNOWN_ISSUER,
    ),
    case(
        "wrong_ca_grpc",
        GRPC,
        Server::Tls,
        OTHER_CA,
        false,
        Via::Builder,
        UNKNOWN_ISSUER,
    ),
    // The platform's roots do not know the test CA: never a silent "trust anything".
    case(
        "platform_roots_http",
        HTTP,
        Server::Tls,
        None,
        false,
        Via::GenericEnv,
        UNKNOWN_ISSUER,
    ),
    case(
        "wrong_host_http",
        HTTP,
        Server::MtlsByIp,
        CA,
        true,
        Via::TracesEnv,
        NAME_MISMATCH,
    ),
    case(
        "wrong_host_grpc",
        GRPC,
        Server::MtlsByIp,
        CA,
        true,
        Via::Builder,
        NAME_MISMATCH,
    ),
];

/// Metrics cases: Phoenix takes traces only, so metrics go to an in-process gRPC receiver
/// serving TLS with the PKI's server certificate and requiring a client certificate.
const METRICS_WITH_CERT: &str = "metrics_mtls_grpc";
const METRICS_WITHOUT_CERT: &str = "metrics_mtls_grpc_no_cert";
/// Metrics over HTTPS, to an in-process receiver (rustls) with the PKI's server certificate.
const METRICS_HTTPS: &str = "metrics_https";

#[test]
fn spans_cross_tls_and_mtls_and_certificate_failures_say_why() {
    if let Ok(name) = std::env::var(CASE_VAR) {
        let backends = backends().expect("backends in the child");
        if name == METRICS_HTTPS {
            return run_https_metrics_case(&backends.pki);
        }
        if name.starts_with("metrics_") {
            return run_metrics_case(name == METRICS_WITH_CERT, &backends.pki);
        }
        let case = CASES.iter().find(|c| c.name == name).expect("known case");
        return run_case(case, &backends);
    }
    let Some(backends) = backends() else {
        return;
    };
    let children: Vec<_> = CASES
        .iter()
        .map(|case| (case, spawn_case(case, &backends)))
        .collect();
    let metrics: Vec<_> = [METRICS_WITH_CERT, METRICS_WITHOUT_CERT, METRICS_HTTPS]
        .into_iter()
        .map(|name| (name, spawn(name, |_| {})))
        .collect();
    let mut failed = Vec::new();
    for (name, child) in metrics {
        let output = child.wait_with_output().expect("wait for the case");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for line in stderr.lines().filter(|l| l.starts_with("godtrace:")) {
            eprintln!("case {name}: {line}");
        }
        let reports = stderr.matches("godtrace: metrics export to").count();
        let expected = usize::from(name == METRICS_WITHOUT_CERT);
        let ran = String::from_utf8_lossy(&output.stdout).contains("1 passed");
        if !output.status.success() || !ran || reports != expected {
            failed.push(format!(
                "case {name}: {} with {reports} failure reports (expected {expected})\n{stderr}",
                output.status
            ));
        }
    }
    for (case, child) in children {
        let output = child.wait_with_output().expect("wait for the case");
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            if line.starts_with("godtrace:") {
                eprintln!("case {}: {line}", case.name);
            }
        }
        if let Err(why) = check_output(case, &output) {
            failed.push(format!(
                "case {}: {why}\n--- stdout\n{}\n--- stderr\n{}",
                case.name,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Runs case `name` in a child process of this binary, its environment set by `set_env`.
fn spawn(name: &str, set_env: impl FnOnce(&mut Command)) -> std::process::Child {
    let test = "e2e_phoenix_tls::spans_cross_tls_and_mtls_and_certificate_failures_say_why";
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE_VAR, name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // A child reads only what its case sets.
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    set_env(&mut command);
    command.spawn().expect("spawn the case")
}

fn spawn_case(case: &Case, backends: &Backends) -> std::process::Child {
    spawn(case.name, |command| {
        set_case_env(case, &backends.pki, command)
    })
}

fn set_case_env(case: &Case, pki: &Path, command: &mut Command) {
    let prefix = match case.via {
        Via::GenericEnv => Some("OTEL_EXPORTER_OTLP_"),
        Via::TracesEnv => Some("OTEL_EXPORTER_OTLP_TRACES_"),
        Via::Builder => None,
    };
    if let Some(prefix) = prefix {
        if let Some(ca) = case.ca {
            command.env(format!("{prefix}CERTIFICATE"), pki.join(ca));
        }
        if case.client_cert {
            command.env(
                format!("{prefix}CLIENT_CERTIFICATE"),
                pki.join("client.crt"),
            );
            command.env(format!("{prefix}CLIENT_KEY"), pki.join("client.key"));
        }
    }
}

/// What the parent checks of a child: it passed, and a failure was reported once, with why.
fn check_output(case: &Case, output: &Output) -> Result<(), String> {
    if !output.status.success() {
        return Err(format!("the child failed ({})", output.status));
    }
    if !String::from_utf8_lossy(&output.stdout).contains("1 passed") {
        return Err("the child ran no test".to_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("godtrace: could not export"))
        .collect();
    match (case.failure, reports.as_slice()) {
        (None, []) => Ok(()),
        (None, _) => Err("an export failure was reported".into()),
        (Some(reason), [report]) if report.contains(reason) => Ok(()),
        (Some(reason), [_]) => Err(format!("the report does not say {reason:?}")),
        (Some(_), _) => Err(format!("{} failure reports, not 1", reports.len())),
    }
}

#[traced(operation = "tls.checkout")]
fn checkout(items: i64) -> i64 {
    godtrace::set_attribute("cart.items", items);
    items * 3
}

/// In the child: exports one span as the case says and checks where it went.
fn run_case(case: &Case, backends: &Backends) {
    let (http, grpc) = match case.server {
        Server::Tls => (backends.tls_http.clone(), backends.tls_grpc.clone()),
        Server::Mtls => (backends.mtls_http.clone(), backends.mtls_grpc.clone()),
        Server::MtlsByIp => (
            backends.mtls_http.replace("localhost", "127.0.0.1"),
            backends.mtls_grpc.replace("localhost", "127.0.0.1"),
        ),
    };
    let endpoint = match case.protocol {
        Protocol::Grpc => grpc.clone(),
        _ => http.clone(),
    };
    let project = e2e_support::unique_project(&format!("tls-{}", case.name));
    let pki = &backends.pki;
    let mut config = Config::from_env()
        .service_name("godtrace-e2e-tls")
        .endpoint(endpoint)
        .protocol(case.protocol)
        .timeout(Duration::from_secs(5))
        .export_timeout(Duration::from_secs(20))
        .resource_attribute("openinference.project.name", project.clone())
        // Phoenix takes no metrics: their push would only add failures of its own.
        .metrics(MetricsConfig::new().otlp(false));
    if let Via::Builder = case.via {
        if let Some(ca) = case.ca {
            config = config.certificate(pki.join(ca));
        }
        if case.client_cert {
            config = config.client_certificate(pki.join("client.crt"), pki.join("client.key"));
        }
    }
    let guard = godtrace::init(config).expect("init");
    let trace_id = {
        let _request = godtrace::span("tls.request");
        checkout(4);
        godtrace::trace_id().expect("inside a span")
    };
    guard.flush();
    let stats = godtrace::stats();
    drop(guard);
    if case.failure.is_some() {
        assert_eq!(stats.spans_exported, 0, "{stats:?}");
        assert!(
            stats.failed_exports >= 1 && stats.spans_failed == 2,
            "{stats:?}"
        );
        return;
    }
    assert_eq!(
        (stats.spans_exported, stats.spans_failed),
        (2, 0),
        "{stats:?}"
    );
    let phoenix = Phoenix {
        http: http.clone(),
        grpc,
        tls: Some(query_tls(pki, case)),
    };
    let spans = phoenix.wait_for(&project, Some(&trace_id), |s| s.len() >= 2);
    let child = e2e_support::named(&spans, "tls.checkout");
    let root = e2e_support::named(&spans, "tls.request");
    assert_eq!(child["parent_id"], root["context"]["span_id"]);
    assert_eq!(child["attributes"]["cart.items"], 4);
}

fn query_tls(pki: &Path, case: &Case) -> TlsQuery {
    TlsQuery {
        ca: pki.join("ca.crt"),
        client: matches!(case.server, Server::Mtls)
            .then(|| (pki.join("client.crt"), pki.join("client.key"))),
    }
}

use crate::support::otlp::metrics::{MetricsLog, MetricsReceiver};

/// A gRPC metrics receiver serving TLS (certificate for localhost) and requiring a client
/// certificate signed by the PKI's CA; returns its endpoint.
async fn start_mtls_receiver(log: MetricsLog, pki: &Path) -> String {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |name: &str| std::fs::read(pki.join(name)).unwrap();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read("server.crt"), read("server.key")))
        .client_ca_root(Certificate::from_pem(read("ca.crt")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(MetricsServiceServer::new(MetricsReceiver(log)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("https://localhost:{}", addr.port())
}

/// In the child: metrics pushed over gRPC with TLS arrive with the client certificate (given
/// through the environment), and fail, reported once, without it.
fn run_metrics_case(with_cert: bool, pki: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let log = MetricsLog::default();
    let endpoint = runtime.block_on(start_mtls_receiver(log.clone(), pki));
    let ca = pki.join("ca.crt").display().to_string();
    let (cert, key) = (pki.join("client.crt"), pki.join("client.key"));
    let mut vars = vec![("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", ca)];
    if with_cert {
        vars.push((
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
            cert.display().to_string(),
        ));
        vars.push((
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
            key.display().to_string(),
        ));
    }
    let guard = godtrace::init(
        Config::new("godtrace-e2e-tls-metrics")
            .local_tree(false)
            .with_env_vars(vars)
            .metrics(
                MetricsConfig::new()
                    .otlp_endpoint(endpoint)
                    .otlp_protocol(Protocol::Grpc)
                    .export_timeout(Duration::from_secs(5)),
            ),
    )
    .expect("init");
    checkout(2);
    guard.flush();
    drop(guard);
    let received = log.lock().unwrap().len();
    if with_cert {
        assert!(received >= 1, "no metrics request arrived");
    } else {
        assert_eq!(received, 0, "metrics arrived without a client certificate");
    }
}

/// An HTTPS receiver (rustls, the PKI's server certificate for localhost) counting the OTLP
/// metrics requests posted to it; returns its metrics URL.
fn start_https_receiver(pki: &Path) -> (String, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<_> = CertificateDer::pem_file_iter(pki.join("server.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(AtomicUsize::new(0));
    let count = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, count) = (config.clone(), count.clone());
            std::thread::spawn(move || {
                let tls = rustls::ServerConnection::new(config).unwrap();
                let mut reader = BufReader::new(rustls::StreamOwned::new(tls, stream));
                while answer_one(&mut reader, &count).unwrap_or(false) {}
            });
        }
    });
    (format!("https://localhost:{port}/v1/metrics"), received)
}

/// Reads one HTTP request, counts it when it is a metrics request, answers 200; false when
/// the connection is done.
fn answer_one(
    reader: &mut BufReader<impl Read + Write>,
    count: &AtomicUsize,
) -> std::io::Result<bool> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(false);
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end().to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if request_line.starts_with("POST /v1/metrics ") && !body.is_empty() {
        count.fetch_add(1, Ordering::Relaxed);
    }
    let stream = reader.get_mut();
    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")?;
    stream.flush()?;
    Ok(true)
}

/// In the child: metrics pushed over HTTPS, the CA given through the builder, arrive.
fn run_https_metrics_case(pki: &Path) {
    let (endpoint, received) = start_https_receiver(pki);
    let guard = godtrace::init(
        Config::new("godtrace-e2e-tls-metrics-http")
            .local_tree(false)
            .certificate(pki.join("ca.crt"))
            .metrics(
                MetricsConfig::new()
                    .otlp_endpoint(endpoint)
                    .otlp_protocol(Protocol::HttpProtobuf)
                    .export_timeout(Duration::from_secs(5)),
            ),
    )
    .expect("init");
    checkout(3);
    guard.flush();
    drop(guard);
    assert!(
        received.load(Ordering::Relaxed) >= 1,
        "no metrics request arrived"
    );
}

//! End to end over TLS against the two TLS Phoenix instances `scripts/test` starts (one plain
//! TLS, one requiring a client certificate), with the throwaway PKI it made: spans arrive over
//! HTTPS and over gRPC with TLS; mTLS works with the client certificate and fails, counted,
//! without it; an unknown CA and a wrong host name fail with the reason on stderr, once.
//!
//! A file of its own because every case needs its own `init` (one per process): the one test
//! runs each case in a child process of this binary, all at once, and checks what each child
//! asserted and printed.
mod e2e_support;

use e2e_support::{Phoenix, TlsQuery};
use godtrace::{Config, MetricsConfig, Protocol, traced};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
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
const REFUSED: Option<&str> = Some("could not export");

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
        REFUSED,
    ),
    case(
        "mtls_grpc_no_cert",
        GRPC,
        Server::Mtls,
        CA,
        false,
        Via::TracesEnv,
        REFUSED,
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

#[test]
fn spans_cross_tls_and_mtls_and_certificate_failures_say_why() {
    if let Ok(name) = std::env::var(CASE_VAR) {
        let case = CASES.iter().find(|c| c.name == name).expect("known case");
        return run_case(case, &backends().expect("backends in the child"));
    }
    let Some(backends) = backends() else {
        return;
    };
    let children: Vec<_> = CASES
        .iter()
        .map(|case| (case, spawn_case(case, &backends)))
        .collect();
    let mut failed = Vec::new();
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

fn spawn_case(case: &Case, backends: &Backends) -> std::process::Child {
    let test = "spans_cross_tls_and_mtls_and_certificate_failures_say_why";
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE_VAR, case.name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // A child reads only what its case sets.
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    let pki = &backends.pki;
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
    command.spawn().expect("spawn the case")
}

/// What the parent checks of a child: it passed, and a failure was reported once, with why.
fn check_output(case: &Case, output: &Output) -> Result<(), String> {
    if !output.status.success() {
        return Err(format!("the child failed ({})", output.status));
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
    let spans = phoenix.wait_for(&project, Some(&trace_id), Duration::from_secs(60), |s| {
        s.len() >= 2
    });
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

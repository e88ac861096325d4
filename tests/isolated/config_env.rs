//! Configuration from `OTEL_*` variables through `init`: a bad value is an `InitError` naming
//! the variable, the value and what is accepted (never a panic, never a silent default), and
//! `OTEL_SDK_DISABLED=true` turns everything off. The variables are given as pairs, so the
//! process environment is never changed.
use godtrace::{Config, InitError, testing};

fn init_error(vars: &[(&str, &str)]) -> InitError {
    match godtrace::init(Config::new("config-env").with_env_vars(vars.iter().copied())) {
        Ok(_) => panic!("{vars:?} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn the_issue_example_reads_exactly() {
    crate::support::own_process!();
    let err = init_error(&[("OTEL_TRACES_SAMPLER_ARG", "1.5")]);
    assert_eq!(
        err.to_string(),
        r#"OTEL_TRACES_SAMPLER_ARG="1.5": expected a number from 0 to 1"#
    );
}

#[test]
fn every_variable_rejects_bad_values_by_name() {
    crate::support::own_process!();
    let cases = [
        ("OTEL_SDK_DISABLED", "maybe", "true or false"),
        ("GODTRACE_OTEL_CONTEXT", "sometimes", "true or false"),
        ("OTEL_RESOURCE_ATTRIBUTES", "environment", "key=value"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "http://"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ftp://c/v1/traces",
            "http://",
        ),
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "http/json",
            "grpc or http/protobuf",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization", "key=value"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "milliseconds"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", "gzip or none"),
        (
            "OTEL_TRACES_SAMPLER",
            "sometimes",
            "parentbased_traceidratio",
        ),
        ("OTEL_TRACES_SAMPLER_ARG", "-0.1", "from 0 to 1"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "from 1 to 1048576"),
        (
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "lots",
            "from 1 to 1048576",
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "-5", "milliseconds"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "3600001", "milliseconds"),
        ("OTEL_PROPAGATORS", "tracecontext,b3", "tracecontext"),
        (
            "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS",
            "GET,PO ST",
            "comma-separated list of at most 64 HTTP methods",
        ),
        // Each signal's own OTLP variables are read and checked like the generic ones.
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "grpc"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "thrift", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5s", "milliseconds"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "-1", "milliseconds"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "zstd",
            "gzip or none",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "br",
            "gzip or none",
        ),
        ("OTEL_EXPORTER_OTLP_INSECURE", "yes", "true or false"),
        ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "1", "true or false"),
        ("OTEL_TRACES_EXPORTER", "jaeger", "otlp, console"),
        (
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "-1",
            "a whole number from 0",
        ),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many", "from 0 to 65536"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "-1", "from 0 to 65536"),
        (
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            "99999999",
            "from 0 to 65536",
        ),
    ];
    for (var, value, accepted) in cases {
        match init_error(&[(var, value)]) {
            InitError::InvalidValue {
                name,
                value: got,
                expected,
            } => {
                // What is not a `name=value` header may be a credential: it is redacted.
                let shown = if var.ends_with("_HEADERS") {
                    "<redacted>"
                } else {
                    value
                };
                assert_eq!((name.as_str(), got.as_str()), (var, shown));
                assert!(expected.contains(accepted), "{var}: {expected}");
            }
            other => panic!("{var}={value}: {other:?}"),
        }
    }
}

#[test]
fn bad_builder_values_are_named_too() {
    crate::support::own_process!();
    let err = |config: Config| godtrace::init(config).expect_err("rejected").to_string();
    assert_eq!(
        err(Config::new("c").sample_ratio(1.5)),
        r#"sample_ratio="1.5": expected a number from 0 to 1"#
    );
    assert!(err(Config::new("c").endpoint("localhost:4317")).starts_with("endpoint="));
    assert!(
        err(Config::new("c")
            .max_queue_size(10)
            .max_export_batch_size(11))
        .starts_with("max_export_batch_size=\"11\"")
    );
    assert!(err(Config::new("c").header("bad header", "x")).starts_with("header="));
    assert!(err(Config::new("c").timeout(std::time::Duration::ZERO)).starts_with("timeout="));
}

#[test]
fn ports_outside_1_to_65535_are_init_errors_on_both_signals() {
    crate::support::own_process!();
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ] {
        for url in ["http://localhost:70000", "http://localhost:0/v1/x"] {
            match init_error(&[(var, url)]) {
                InitError::InvalidValue { name, expected, .. } => {
                    assert_eq!(name, var);
                    assert!(expected.contains("1 to 65535"), "{var}: {expected}");
                }
                other => panic!("{var}={url}: {other:?}"),
            }
        }
    }
    let err = |config: Config| godtrace::init(config).expect_err("rejected").to_string();
    assert!(err(Config::new("c").endpoint("http://h:65536")).starts_with("endpoint="));
    let metrics = godtrace::MetricsConfig::new().otlp_endpoint("http://h:0/v1/metrics");
    assert!(err(Config::new("c").metrics(metrics)).starts_with("otlp_endpoint="));
}

/// A host no transport can connect to (a broken percent-escape, brackets around no IPv6
/// address) would fail every export: `init` refuses it by name, without the URL's secrets.
#[test]
fn hosts_that_fail_every_export_are_init_errors() {
    crate::support::own_process!();
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ] {
        for url in [
            "http://h%zz:4318",
            "http://[zz]:4318",
            "http://user:s3cr3t@h%zz:4318/v1/traces?api_key=s3cr3t",
        ] {
            match init_error(&[(var, url)]) {
                InitError::InvalidValue {
                    name,
                    value,
                    expected,
                } => {
                    assert_eq!(name, var);
                    assert!(expected.contains("valid host"), "{var}: {expected}");
                    assert!(!value.contains("s3cr3t"), "{var}: {value}");
                }
                other => panic!("{var}={url}: {other:?}"),
            }
        }
    }
    let err = godtrace::init(Config::new("c").endpoint("http://[zz]:4318"))
        .expect_err("rejected")
        .to_string();
    assert!(err.starts_with("endpoint="), "{err}");
}

#[test]
fn signal_headers_are_checked_and_never_shown() {
    for var in [
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    ] {
        match init_error(&[(var, "authorization=Bearer%0As3cr3t")]) {
            InitError::InvalidValue { name, value, .. } => {
                assert_eq!(name, var);
                assert_eq!(value, "authorization=<redacted>");
            }
            other => panic!("{var}: {other:?}"),
        }
    }
}

/// A scratch directory of this test process, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("godtrace-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn certificate_files_missing_or_broken_are_init_errors_naming_variable_and_file() {
    let scratch = Scratch::new("certs");
    let missing = scratch.0.join("missing.crt").display().to_string();
    let not_pem = scratch.file("not-pem.crt", "just text, no certificate\n");
    let broken = scratch.file(
        "broken.crt",
        "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n",
    );
    // Valid PEM and base64, but no X.509 certificate inside.
    let not_x509 = scratch.file(
        "not-x509.crt",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    );
    let https = ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318");
    for (var, file, accepted) in [
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &missing, "readable"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &not_x509, "X.509"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &not_pem, "CERTIFICATE"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            &broken,
            "certificates",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            &missing,
            "readable",
        ),
    ] {
        let client = [
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", file.as_str()),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", file.as_str()),
        ];
        for vars in [
            vec![https, (var, file.as_str())],
            vec![https, client[0], client[1]],
        ] {
            match init_error(&vars) {
                InitError::InvalidValue {
                    name,
                    value,
                    expected,
                } => {
                    assert!(name.ends_with("CERTIFICATE"), "{vars:?}: {name}");
                    assert_eq!(&value, file);
                    assert!(
                        expected.contains(accepted) || name.contains("CLIENT"),
                        "{name}: {expected}"
                    );
                }
                other => panic!("{vars:?}: {other:?}"),
            }
        }
    }
    // A key file that holds no key: named, and never quoted.
    let cert_only = scratch.file(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
    );
    let ca = std::env::var("GODTRACE_TLS_DIR").ok();
    if let Some(dir) = ca {
        let err = init_error(&[
            https,
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &format!("{dir}/client.crt"),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &cert_only),
        ])
        .to_string();
        assert!(err.starts_with("OTEL_EXPORTER_OTLP_CLIENT_KEY="), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
        // A real key, but not the certificate's.
        let err = init_error(&[
            https,
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &format!("{dir}/client.crt"),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                &format!("{dir}/server.key"),
            ),
        ])
        .to_string();
        assert!(err.starts_with("OTEL_EXPORTER_OTLP_CLIENT_KEY="), "{err}");
        // The right key in a certificate rustls cannot read (X.509 v1): the certificate is
        // named, not the key.
        let err = init_error(&[
            https,
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &format!("{dir}/client-v1.crt"),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                &format!("{dir}/client.key"),
            ),
        ])
        .to_string();
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=") && err.contains("X.509 v3"),
            "{err}"
        );
    }
}

#[test]
fn certificate_files_are_checked_when_nothing_is_exported_too() {
    crate::support::own_process!(); // init would succeed on the old code
    let scratch = Scratch::new("unused-certs");
    let missing = scratch.0.join("missing.crt").display().to_string();
    for var in [
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    ] {
        match init_error(&[(var, missing.as_str())]) {
            InitError::InvalidValue { name, value, .. } => {
                assert_eq!((name.as_str(), value.as_str()), (var, missing.as_str()));
            }
            other => panic!("{var}: {other:?}"),
        }
    }
    let from_code = godtrace::init(Config::new("config-env").certificate(&missing)).err();
    assert!(
        matches!(from_code, Some(InitError::InvalidValue { .. })),
        "{from_code:?}"
    );
}

/// A certificate path naming something that is not a file of bounded size is an error, at
/// once: a FIFO (opening it waits for a writer), a device that never ends, a directory, a
/// file over 1 MiB.
#[test]
fn certificate_paths_that_are_not_small_files_are_errors_at_once() {
    crate::support::own_process!(); // init would wait forever on the old code
    let scratch = Scratch::new("odd-certs");
    let fifo = scratch.0.join("cert.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let huge = scratch.file("huge.crt", &"A".repeat(2 << 20));
    let mut paths = vec![
        "/dev/zero".to_owned(),
        scratch.0.display().to_string(),
        huge,
    ];
    if made.is_ok_and(|s| s.success()) {
        paths.push(fifo.display().to_string());
    }
    for path in paths {
        let (done, result) = std::sync::mpsc::channel();
        let tried = path.clone();
        std::thread::spawn(move || {
            let _ = done.send(init_error(&[(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                tried.as_str(),
            )]));
        });
        match result.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(InitError::InvalidValue { name, value, .. }) => {
                assert_eq!(
                    (name.as_str(), value.as_str()),
                    ("OTEL_EXPORTER_OTLP_CERTIFICATE", path.as_str())
                );
            }
            Ok(other) => panic!("{path}: {other:?}"),
            Err(_) => panic!("{path}: init did not return within 10 s"),
        }
    }
}

#[test]
fn tls_settings_that_would_be_ignored_are_errors() {
    let dir = match std::env::var("GODTRACE_TLS_DIR") {
        Ok(dir) => dir,
        Err(_) => return eprintln!("skipped: needs the PKI of scripts/backends/phoenix.sh"),
    };
    let ca = format!("{dir}/ca.crt");
    // A certificate for a plaintext endpoint, a client certificate without its key.
    let plain = init_error(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
    ]);
    assert!(plain.to_string().contains("https://"), "{plain}");
    // A generic certificate the other signal's https:// endpoint needs: the message says
    // where it goes.
    let mixed = init_error(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "https://collector:4318/v1/metrics",
        ),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
    ]);
    assert!(
        mixed
            .to_string()
            .contains("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"),
        "{mixed}"
    );
    // The other way round: the https:// endpoint is the traces'; the hint names theirs.
    let mixed = init_error(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://collector:4318/v1/metrics",
        ),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
    ]);
    let mixed = mixed.to_string();
    assert!(
        mixed.contains("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")
            && !mixed.contains("METRICS_CERTIFICATE"),
        "{mixed}"
    );
    let half = init_error(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            &format!("{dir}/client.crt"),
        ),
    ]);
    assert!(half.to_string().contains("both"), "{half}");
    let builder = godtrace::init(
        Config::new("c")
            .endpoint("https://collector:4318")
            .certificate(format!("{dir}/missing.crt")),
    )
    .expect_err("rejected")
    .to_string();
    assert!(builder.starts_with("certificate="), "{builder}");
}

#[test]
fn secrets_never_appear_in_init_errors() {
    crate::support::own_process!();
    let secret = "s3cr3t";
    let errors = [
        init_error(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer s3cr3t,x",
        )]),
        init_error(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%0As3cr3t",
        )]),
        init_error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://user:s3cr3t@c:0")]),
        init_error(&[(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://user:s3cr3t@c:0",
        )]),
        godtrace::init(Config::new("c").header("authorization", "Bearer s3cr3t\n"))
            .expect_err("rejected"),
    ];
    for err in errors {
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }
}

#[test]
fn sdk_disabled_records_and_exports_nothing() {
    crate::support::own_process!();
    let guard = godtrace::init(Config::new("config-env").with_env_vars([
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
    ]))
    .expect("a disabled configuration still initializes");
    assert!(!godtrace::is_enabled());
    let capture = testing::capture();
    drop(godtrace::span("ignored"));
    assert!(capture.spans().is_empty());
    guard.flush();
    assert_eq!(godtrace::stats(), godtrace::Stats::default());
}

/// A generic gRPC endpoint without a scheme (`collector:4317`) that spans use over gRPC is
/// not refused because metrics, switched off, would speak HTTP to it: an unused signal's check
/// of an endpoint asks only what no protocol would take.
#[test]
fn a_grpc_endpoint_without_scheme_is_not_refused_for_an_unused_http_signal() {
    crate::support::own_process!();
    let guard = godtrace::init(Config::new("config-env").with_env_vars([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]))
    .expect("spans go over gRPC, where host:port is an endpoint");
    drop(guard);
}

//! One signal's OTLP target (protocol, endpoint, headers, timeout, compression, TLS), resolved
//! the same way for spans and metrics: the signal's own setting over the generic one, code over
//! the environment, then the default. A signal endpoint is used as it is; a base endpoint gets
//! `/v1/traces` or `/v1/metrics` over HTTP.
use super::{Compression, MAX_DURATION, Protocol, url};
use crate::InitError;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The default timeout of one export request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which telemetry a target carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    /// The signal's part of its variable names (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub(crate) fn env_infix(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES_",
            Signal::Metrics => "METRICS_",
        }
    }

    /// The path an HTTP base endpoint gets.
    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }
}

/// A value and the setting it came from (builder method or variable), for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Named<T> {
    pub(crate) value: T,
    pub(crate) name: String,
}

impl<T> Named<T> {
    pub(crate) fn new(value: T, name: impl Into<String>) -> Self {
        Named {
            value,
            name: name.into(),
        }
    }
}

/// The OTLP values one source gave: code or environment, generic or one signal's. `None`
/// means not given there.
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpLayer {
    /// As given (the environment's already checked when it has a scheme).
    pub(crate) endpoint: Option<Named<String>>,
    pub(crate) protocol: Option<Named<Protocol>>,
    pub(crate) headers: Vec<Named<(String, String)>>,
    pub(crate) timeout: Option<Named<Duration>>,
    pub(crate) compression: Option<Named<Compression>>,
    pub(crate) certificate: Option<Named<PathBuf>>,
    pub(crate) client_certificate: Option<Named<PathBuf>>,
    pub(crate) client_key: Option<Named<PathBuf>>,
    pub(crate) insecure: Option<Named<bool>>,
}

impl OtlpLayer {
    /// A copy safe to log: header values, names that are not header names (a mistyped
    /// `Authorization: Bearer …` given as a name) and endpoint user-info redacted.
    pub(crate) fn redacted(&self) -> OtlpLayer {
        let mut out = self.clone();
        for header in &mut out.headers {
            if !crate::text::is_token(&header.value.0) {
                header.value.0 = "<redacted>".to_owned();
            }
            header.value.1 = "<redacted>".to_owned();
        }
        if let Some(endpoint) = &mut out.endpoint {
            endpoint.value = url::redacted(&endpoint.value);
        }
        out
    }

    /// Whether this layer asks for OTLP export (an endpoint or a protocol).
    pub(crate) fn asks_for_export(&self) -> bool {
        self.endpoint.is_some() || self.protocol.is_some()
    }
}

/// Where and how one signal is sent over OTLP.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OtlpTarget {
    pub(crate) protocol: Protocol,
    /// The URL as the transport uses it (with `/v1/traces` or `/v1/metrics` for HTTP).
    pub(crate) endpoint: String,
    /// Headers (lowercase names), code over environment.
    pub(crate) headers: Vec<(String, String)>,
    /// Bounds each export request.
    pub(crate) timeout: Duration,
    pub(crate) compression: Compression,
    pub(crate) tls: Tls,
}

/// The TLS material of an `https://` target, read and checked at `init`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tls {
    /// The only CA trusted, instead of the platform's roots.
    pub(crate) ca: Option<PemFile>,
    /// The client certificate chain and its private key (mTLS).
    pub(crate) client: Option<(PemFile, PemFile)>,
}

/// A PEM file's content. Its `Debug` shows the path only: a key file is a secret.
#[derive(Clone, PartialEq)]
pub(crate) struct PemFile {
    pub(crate) path: PathBuf,
    pub(crate) pem: Arc<[u8]>,
}

impl std::fmt::Debug for PemFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PemFile({})", self.path.display())
    }
}

/// The four sources of one signal, in precedence order: code for the signal, code generic,
/// environment for the signal, environment generic.
pub(crate) struct Sources<'a> {
    pub(crate) code_signal: &'a OtlpLayer,
    pub(crate) code: &'a OtlpLayer,
    pub(crate) env_signal: &'a OtlpLayer,
    pub(crate) env: &'a OtlpLayer,
}

impl<'a> Sources<'a> {
    /// The layers in precedence order, each with whether it is the signal's own.
    fn ordered(&self) -> [(&'a OtlpLayer, bool); 4] {
        [
            (self.code_signal, true),
            (self.code, false),
            (self.env_signal, true),
            (self.env, false),
        ]
    }

    /// The first value `field` finds, by precedence.
    fn first<T>(
        &self,
        field: impl Fn(&'a OtlpLayer) -> Option<&'a Named<T>>,
    ) -> Option<&'a Named<T>> {
        self.first_and_whose(field).map(|(value, _)| value)
    }

    /// [`Sources::first`], with whether it is the signal's own (not a generic setting).
    fn first_and_whose<T>(
        &self,
        field: impl Fn(&'a OtlpLayer) -> Option<&'a Named<T>>,
    ) -> Option<(&'a Named<T>, bool)> {
        self.ordered()
            .into_iter()
            .find_map(|(layer, own)| field(layer).map(|value| (value, own)))
    }

    /// Whether any source asks for export of this signal.
    pub(crate) fn asks_for_export(&self) -> bool {
        self.ordered()
            .iter()
            .any(|(layer, _)| layer.asks_for_export())
    }
}

/// What a signal falls back to when no source sets its protocol or endpoint (metrics: the
/// trace export's).
pub(crate) struct Fallback<'a> {
    pub(crate) protocol: Option<Protocol>,
    pub(crate) endpoint: Option<&'a dyn Fn(Protocol) -> String>,
}

/// Checks every value of `sources` and resolves `signal`'s target.
pub(crate) fn resolve(
    signal: Signal,
    sources: &Sources<'_>,
    fallback: Fallback<'_>,
) -> Result<OtlpTarget, InitError> {
    let protocol = match sources.first(|l| l.protocol.as_ref()) {
        Some(p) => {
            check_compiled(p.value, &p.name)?;
            p.value
        }
        None => match fallback.protocol {
            Some(p) => p,
            None => {
                let asked_by = sources.first(|l| l.endpoint.as_ref());
                default_protocol(asked_by.map_or("protocol", |e| e.name.as_str()))?
            }
        },
    };
    let insecure = sources
        .first(|l| l.insecure.as_ref())
        .is_some_and(|i| i.value);
    let endpoint = match sources.first_and_whose(|l| l.endpoint.as_ref()) {
        Some((given, own)) => {
            let url = url::normalize_given(&given.name, &given.value, protocol, insecure)?;
            #[cfg(feature = "otlp-grpc")]
            if protocol == Protocol::Grpc {
                url::check_grpc_host(&given.name, &given.value, &url)?;
                url::check_grpc_path(&given.name, &given.value, &url)?;
            }
            if own {
                url
            } else {
                url::from_base(&url, protocol, signal.http_path())
            }
        }
        None => match fallback.endpoint {
            Some(derive) => {
                let url = derive(protocol);
                // Another signal's endpoint, over gRPC here (it passed its own check over
                // its own protocol): refused at `init` when gRPC cannot send to its host,
                // by the setting that asks for gRPC.
                #[cfg(feature = "otlp-grpc")]
                if protocol == Protocol::Grpc
                    && !url::grpc_can_send_to(&url)
                    && let Some(asked) = sources.first(|l| l.protocol.as_ref())
                {
                    return Err(InitError::invalid(
                        &asked.name,
                        "grpc",
                        &format!(
                            "a protocol the shared endpoint {} can be sent over: gRPC takes \
                             an IP address or an ASCII host name (an international one in its \
                             xn-- form), not this one (http/protobuf does)",
                            url::redacted(&url)
                        ),
                    ));
                }
                url
            }
            None => default_endpoint(protocol, signal),
        },
    };
    let timeout = match sources.first(|l| l.timeout.as_ref()) {
        Some(t) => bounded_duration(t.value, &t.name)?,
        None => DEFAULT_TIMEOUT,
    };
    let tls = resolve_tls(sources, signal, &endpoint)?;
    Ok(OtlpTarget {
        protocol,
        endpoint,
        headers: resolve_headers(sources, Some(protocol))?,
        timeout,
        compression: sources
            .first(|l| l.compression.as_ref())
            .map_or(Compression::None, |c| c.value),
        tls,
    })
}

/// Checks the values that `resolve` would, but which may go unused (headers, timeout, the
/// certificate files): a bad value is reported even when the signal is not exported.
pub(crate) fn check_unused(sources: &Sources<'_>) -> Result<(), InitError> {
    check_endpoints(sources)?;
    resolve_headers(sources, None)?;
    if let Some(t) = sources.first(|l| l.timeout.as_ref()) {
        bounded_duration(t.value, &t.name)?;
    }
    read_tls(sources)?;
    Ok(())
}

/// Checks every endpoint `sources` hold for what no protocol would take: a URL, or `host:port`
/// without a scheme (what a gRPC endpoint may be). Not against this signal's protocol: a
/// generic endpoint this signal leaves unused may be another's, over another protocol.
fn check_endpoints(sources: &Sources<'_>) -> Result<(), InitError> {
    for (layer, _) in sources.ordered() {
        let Some(given) = &layer.endpoint else {
            continue;
        };
        url::normalize_given(&given.name, &given.value, Protocol::Grpc, true)?;
    }
    Ok(())
}

/// The environment's headers (the signal's variable over the generic one, as a whole), then
/// code headers replacing the same (case-insensitive) names. Over gRPC (`protocol`), a name
/// ending in `-bin` is refused: gRPC sends such metadata as binary, which a text value is not.
pub(crate) fn resolve_headers(
    sources: &Sources<'_>,
    protocol: Option<Protocol>,
) -> Result<Vec<(String, String)>, InitError> {
    let env = if sources.env_signal.headers.is_empty() {
        &sources.env.headers
    } else {
        &sources.env_signal.headers
    };
    // A name given again replaces the earlier header, whose slot is emptied: with its index by
    // name, one pass however many headers there are.
    let mut headers: Vec<Option<(String, String)>> = Vec::new();
    let mut slot_of: HashMap<String, usize> = HashMap::new();
    for header in env
        .iter()
        .chain(&sources.code.headers)
        .chain(&sources.code_signal.headers)
    {
        let (name, value) = &header.value;
        // The value is a credential: the error names the header only.
        let shown = shown_header(name);
        check_header(&header.name, &shown, name, value)?;
        let name = name.to_ascii_lowercase();
        if protocol == Some(Protocol::Grpc) && name.ends_with("-bin") {
            return Err(InitError::invalid(
                &header.name,
                &shown,
                "over gRPC, header names that do not end in -bin (binary metadata)",
            ));
        }
        if let Some(earlier) = slot_of.insert(name.clone(), headers.len()) {
            headers[earlier] = None;
        }
        headers.push(Some((name, value.clone())));
    }
    Ok(headers.into_iter().flatten().collect())
}

/// `http://localhost:4317` over gRPC, `http://localhost:4318/v1/{signal}` over HTTP.
pub(crate) fn default_endpoint(protocol: Protocol, signal: Signal) -> String {
    match protocol {
        Protocol::Grpc => url::GRPC_DEFAULT.to_owned(),
        Protocol::HttpProtobuf => {
            url::from_base(url::HTTP_DEFAULT_BASE, protocol, signal.http_path())
        }
    }
}

/// The CA and client certificate files, read and parsed now: a missing or broken file is an
/// error naming its setting and path, not a failure on every export.
fn resolve_tls(sources: &Sources<'_>, signal: Signal, endpoint: &str) -> Result<Tls, InitError> {
    let tls = read_tls(sources)?;
    let ca = sources.first_and_whose(|l| l.certificate.as_ref());
    let cert = sources.first_and_whose(|l| l.client_certificate.as_ref());
    // A certificate for a plaintext endpoint would be ignored: say so instead. A generic one
    // may be meant for the other signal only: the message says how to give it that one.
    if let Some((set, own)) = ca.or(cert)
        && tls != Tls::default()
        && !endpoint.starts_with("https://")
    {
        let hint = if own {
            String::new()
        } else {
            let other = match signal {
                Signal::Traces => Signal::Metrics,
                Signal::Metrics => Signal::Traces,
            };
            let setting = if ca.is_some() {
                "CERTIFICATE"
            } else {
                "CLIENT_CERTIFICATE"
            };
            format!(
                "; a certificate for the other signal's https:// endpoint only goes in that \
                 signal's variable, OTEL_EXPORTER_OTLP_{}{setting}",
                other.env_infix()
            )
        };
        return Err(InitError::invalid(
            &set.name,
            &set.value.display().to_string(),
            &format!(
                "an https:// endpoint with a certificate (the endpoint is {}{hint})",
                url::redacted(endpoint)
            ),
        ));
    }
    Ok(tls)
}

/// The certificate files of [`resolve_tls`], read and checked, whatever the endpoint.
fn read_tls(sources: &Sources<'_>) -> Result<Tls, InitError> {
    let ca = sources.first(|l| l.certificate.as_ref());
    let cert = sources.first(|l| l.client_certificate.as_ref());
    let key = sources.first(|l| l.client_key.as_ref());
    let client = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let pair = (
                read_pem(cert, PemKind::Certificates)?,
                read_pem(key, PemKind::PrivateKey)?,
            );
            check_identity(&pair.0, &pair.1).map_err(|failure| match failure {
                IdentityFailure::Certificate(why) => InitError::invalid(
                    &cert.name,
                    &cert.value.display().to_string(),
                    &format!("an X.509 v3 client certificate that rustls can read ({why})"),
                ),
                IdentityFailure::Key(why) => InitError::invalid(
                    &key.name,
                    &key.value.display().to_string(),
                    &format!(
                        "the private key of the client certificate {} ({why})",
                        cert.value.display()
                    ),
                ),
            })?;
            Some(pair)
        }
        (Some(one), None) | (None, Some(one)) => {
            return Err(InitError::invalid(
                &one.name,
                &one.value.display().to_string(),
                "a client certificate and its key, both (the other is not set)",
            ));
        }
    };
    Ok(Tls {
        ca: ca
            .map(|ca| read_pem(ca, PemKind::Certificates))
            .transpose()?,
        client,
    })
}

#[derive(Clone, Copy)]
enum PemKind {
    Certificates,
    PrivateKey,
}

/// The largest certificate or key file read: a chain of a few dozen certificates fits many
/// times over.
const MAX_PEM_FILE: u64 = 1 << 20;

fn read_pem(file: &Named<PathBuf>, kind: PemKind) -> Result<PemFile, InitError> {
    use std::io::Read;
    let shown = file.value.display().to_string();
    let invalid = |why: &str| InitError::invalid(&file.name, &shown, why);
    // A regular file only, looked at before it is opened: opening a FIFO waits for a writer,
    // and a device (`/dev/zero`) never ends.
    let meta = std::fs::metadata(&file.value)
        .map_err(|e| invalid(&format!("a readable PEM file ({e})")))?;
    if !meta.is_file() {
        return Err(invalid("a readable PEM file (not a regular file)"));
    }
    let mut pem = Vec::new();
    std::fs::File::open(&file.value)
        .and_then(|f| f.take(MAX_PEM_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| invalid(&format!("a readable PEM file ({e})")))?;
    if pem.len() as u64 > MAX_PEM_FILE {
        return Err(invalid("a PEM file of at most 1 MiB"));
    }
    if let Err(problem) = check_pem(&pem, kind) {
        return Err(InitError::invalid(&file.name, &shown, &problem));
    }
    Ok(PemFile {
        path: file.value.clone(),
        pem: pem.into(),
    })
}

/// Whether `pem` holds what `kind` needs; what was expected otherwise.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn check_pem(pem: &[u8], kind: PemKind) -> Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    match kind {
        PemKind::Certificates => {
            let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
            match certs {
                // Each one an X.509 certificate: a block of valid base64 may still hold no
                // certificate, which the first connection would otherwise report, naming no
                // variable (reading it as a trust anchor parses it).
                Ok(certs) if !certs.is_empty() => {
                    let mut store = rustls::RootCertStore::empty();
                    for (at, cert) in certs.into_iter().enumerate() {
                        store.add(cert).map_err(|_| {
                            format!(
                                "a PEM file of X.509 certificates (certificate {} of the file \
                                 is not one)",
                                at + 1
                            )
                        })?;
                    }
                    Ok(())
                }
                Ok(_) => Err("a PEM file with at least one CERTIFICATE (none found)".into()),
                Err(e) => Err(format!("a PEM file of certificates ({})", pem_problem(&e))),
            }
        }
        // An encrypted key is a key the TLS library cannot read: said as such, rather than
        // as a file with no key in it.
        PemKind::PrivateKey if is_encrypted_key(pem) => Err(
            "an unencrypted private key (this one is encrypted, which the TLS library cannot \
             read: decrypt it first, e.g. `openssl pkey -in key.pem -out key-plain.pem`)"
                .into(),
        ),
        PemKind::PrivateKey => PrivateKeyDer::from_pem_slice(pem)
            .map(drop)
            .map_err(|_| "a PEM file with a PKCS#8, PKCS#1 or SEC1 private key".into()),
    }
}

/// What is wrong with a PEM file, in words of our own: the PEM reader's errors quote the
/// lines they stop at, which may be a private key's (a certificate and its key in one file,
/// its line breaks lost on the way through a variable or a secret store).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn pem_problem(error: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { .. } => "a section has no END line",
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        Error::Base64Decode(_) => "a section is not valid base64",
        Error::Io(_) => "it could not be read",
        Error::NoItemsFound => "no section found",
        Error::SectionTooLarge => "a section is too large",
        _ => "it is not valid PEM",
    }
}

/// Whether `pem` holds an encrypted private key: PKCS#8's `ENCRYPTED PRIVATE KEY`, or an
/// OpenSSL key with a `Proc-Type: 4,ENCRYPTED` header.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn is_encrypted_key(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|window| window == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
mod pem_tests {
    use super::{PemKind, check_pem};

    #[test]
    fn an_encrypted_key_is_said_to_be_encrypted() {
        let pkcs8 = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq\n\
                      -----END ENCRYPTED PRIVATE KEY-----\n";
        let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                       DEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\nbm90IGEga2V5\n\
                       -----END RSA PRIVATE KEY-----\n";
        for pem in [&pkcs8[..], &legacy[..]] {
            let err = check_pem(pem, PemKind::PrivateKey).unwrap_err();
            assert!(err.contains("encrypted"), "{err}");
        }
        let plain = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n";
        assert_eq!(check_pem(plain, PemKind::PrivateKey), Ok(()));
    }

    /// A key whose line breaks were lost (on the way through a variable or a secret store),
    /// in the file of certificates: the PEM reader's error quotes the line it stopped at,
    /// the key; what is said names the problem alone.
    #[test]
    fn a_broken_pem_file_is_described_without_its_content() {
        let mangled = b"-----BEGIN PRIVATE KEY----- TUlHSEFnRUFNQk1HU0VDUkVU \
                        -----END PRIVATE KEY-----\n";
        let unterminated = b"-----BEGIN CERTIFICATE-----\nTUlHSEFnRUFNQk1HU0VDUkVU\n";
        for pem in [&mangled[..], &unterminated[..]] {
            let err = check_pem(pem, PemKind::Certificates).unwrap_err();
            assert!(err.starts_with("a PEM file of certificates ("), "{err}");
            for leaked in ["TUlH", "84, 85", "PRIVATE"] {
                assert!(!err.contains(leaked), "{err}");
            }
        }
    }
}

/// The TLS provider of every connection and check: rustls with *ring*, which needs no C
/// toolchain beyond what *ring* builds with (README, "TLS"). rustls 0.23.48 deprecates it for
/// lacking post-quantum key exchange, which its other provider (aws-lc-rs) has at the cost of
/// CMake and a C compiler: the warning is allowed here, once, by choice.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    std::sync::Arc::new(provider)
}

/// Whether the client certificate chain and key (PEM) make an identity rustls accepts: a key
/// it can load, matching the certificate. An error says why, never quoting the key.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn check_identity(cert: &PemFile, key: &PemFile) -> Result<(), IdentityFailure> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&cert.pem)
        .collect::<Result<_, _>>()
        .map_err(|_| IdentityFailure::Certificate("a PEM file of certificates".to_owned()))?;
    let key = PrivateKeyDer::from_pem_slice(&key.pem)
        .map_err(|_| IdentityFailure::Key("a PEM private key".to_owned()))?;
    let provider = crypto_provider();
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| IdentityFailure::Key(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(drop)
        .map_err(|e| match e {
            // The certificate itself cannot be read (an X.509 v1 one, say): not the key's
            // fault, whatever key is given.
            rustls::Error::InvalidCertificate(why) => {
                IdentityFailure::Certificate(format!("{why:?}"))
            }
            other => IdentityFailure::Key(other.to_string()),
        })
}

/// Why a client certificate and its key cannot be used together: which of the two is at
/// fault, and the TLS library's words. (Without a transport, nothing is checked.)
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
enum IdentityFailure {
    Certificate(String),
    Key(String),
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn check_identity(_cert: &PemFile, _key: &PemFile) -> Result<(), IdentityFailure> {
    Ok(())
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn check_pem(_pem: &[u8], _kind: PemKind) -> Result<(), String> {
    // No transport to use it: `resolve` has already refused the protocol.
    Ok(())
}

/// `http/protobuf`, as the OpenTelemetry specification says, when that transport is built in.
fn default_protocol(requested_by: &str) -> Result<Protocol, InitError> {
    if cfg!(feature = "otlp-http") {
        Ok(Protocol::HttpProtobuf)
    } else if cfg!(feature = "otlp-grpc") {
        Ok(Protocol::Grpc)
    } else {
        Err(InitError::invalid(
            requested_by,
            "(set)",
            "no OTLP endpoint: this build has neither the otlp-grpc nor the otlp-http feature",
        ))
    }
}

fn check_compiled(protocol: Protocol, name: &str) -> Result<(), InitError> {
    let (compiled, value, feature) = match protocol {
        Protocol::Grpc => (cfg!(feature = "otlp-grpc"), "grpc", "otlp-grpc"),
        Protocol::HttpProtobuf => (cfg!(feature = "otlp-http"), "http/protobuf", "otlp-http"),
    };
    if compiled {
        Ok(())
    } else {
        Err(InitError::invalid(
            name,
            value,
            &format!("a protocol built into this godtrace (enable the {feature} feature)"),
        ))
    }
}

/// `d` if it is at least 1 ms and at most [`MAX_DURATION`]; an error naming `name` otherwise.
pub(crate) fn bounded_duration(d: Duration, name: &str) -> Result<Duration, InitError> {
    // The environment's durations are whole milliseconds from 1: code is held to the same
    // floor (a schedule delay of 1 ns would keep the export thread awake).
    if d < Duration::from_millis(1) {
        Err(InitError::invalid(
            name,
            &format!("{d:?}"),
            "a duration of at least 1 ms",
        ))
    } else if d > MAX_DURATION {
        Err(InitError::invalid(
            name,
            &format!("{d:?}"),
            "a duration of at most 1 hour (3600000 ms)",
        ))
    } else {
        Ok(d)
    }
}

/// What a message may show of a header: `name=<redacted>`, or `<redacted>` whole when the name
/// is not a header name (a token): a mistyped `Authorization: Basic dXNlcg==` splits at the
/// credential's own `=`, leaving it on the name's side.
pub(crate) fn shown_header(name: &str) -> String {
    if crate::text::is_token(name) {
        format!("{name}=<redacted>")
    } else {
        "<redacted>".to_owned()
    }
}

/// Headers that frame or describe a request's body, or belong to one connection
/// (hop-by-hop): set from the configuration, they would be sent beside or instead of the
/// transport's own and break every request (a wrong `content-length`, a second
/// `transfer-encoding`, protobuf labelled `application/json`, a body said to be gzip that is
/// not), and HTTP/2 refuses the connection-specific ones outright.
const FRAMING_HEADERS: [&str; 12] = [
    "content-length",
    "transfer-encoding",
    "content-type",
    "content-encoding",
    "grpc-encoding",
    "host",
    "te",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "trailer",
];

/// A header name must be an HTTP token (lowercase is sent), and not one of the
/// [`FRAMING_HEADERS`]; a value must be visible ASCII or spaces. `shown` is what the error
/// quotes: never a header value.
pub(crate) fn check_header(
    source: &str,
    shown: &str,
    name: &str,
    value: &str,
) -> Result<(), InitError> {
    let name_ok = crate::text::is_token(name);
    let value_ok = value
        .chars()
        .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic());
    if name_ok
        && let Some(framing) = FRAMING_HEADERS
            .iter()
            .find(|framing| name.eq_ignore_ascii_case(framing))
    {
        return Err(InitError::invalid(
            source,
            shown,
            &format!(
                "headers other than {framing}: the exporter frames its requests itself, and \
                 a configured {framing} would break them (also refused: {})",
                FRAMING_HEADERS.join(", ")
            ),
        ));
    }
    if name_ok && value_ok {
        Ok(())
    } else {
        Err(InitError::invalid(
            source,
            shown,
            "header names made of letters, digits and !#$%&'*+-.^_`|~, and values of visible \
             ASCII characters",
        ))
    }
}

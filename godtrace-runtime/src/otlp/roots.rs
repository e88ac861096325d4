//! The root certificates an `https://` target without a CA of its own is checked against: the
//! platform's, or, as OpenSSL reads them, those of the file `SSL_CERT_FILE` names and of the
//! directories `SSL_CERT_DIR` lists, instead. Refused at `init` when none can be trusted, or
//! when the file `SSL_CERT_FILE` names cannot be read: else every export would fail with
//! "unknown issuer", whose advice names a setting that is not the cause. `SSL_CERT_DIR` is a
//! search path, as for OpenSSL: a directory that is not there, or a file in one that is not a
//! certificate, is passed over.
use rustls::RootCertStore;
use rustls_native_certs::{CertificateResult, Error, ErrorKind, load_certs_from_paths};
use rustls_pki_types::CertificateDer;
use std::ffi::OsString;
use std::path::Path;

/// The roots loaded now, from the process environment's variables or the platform.
pub(crate) fn platform_roots() -> Result<RootCertStore, String> {
    roots_from(|name| std::env::var_os(name))
}

/// [`platform_roots`], with `var` reading the environment.
fn roots_from(var: impl Fn(&str) -> Option<OsString>) -> Result<RootCertStore, String> {
    let file = var("SSL_CERT_FILE");
    let dirs = var("SSL_CERT_DIR");
    if file.is_none() && dirs.is_none() {
        // An error reading the platform's store is left alone when it still gave roots (one
        // unreadable file among hundreds).
        let loaded = rustls_native_certs::load_native_certs();
        let why = loaded.errors.first().map(problem);
        return store(
            loaded.certs,
            "the platform's root certificates",
            why,
            ", or install the platform's CA bundle",
        );
    }
    let mut certs = Vec::new();
    let mut why = None;
    let mut looked = Vec::new();
    if let Some(file) = &file {
        let loaded = load_certs_from_paths(Some(Path::new(file)), None);
        if let Some(error) = loaded.errors.first() {
            return Err(format!(
                "SSL_CERT_FILE={file:?}: {} (it names root certificates to trust instead of \
                 the platform's)",
                problem(error)
            ));
        }
        certs.extend(loaded.certs);
        looked.push(format!("SSL_CERT_FILE={file:?}"));
    }
    if let Some(dirs) = &dirs {
        for dir in std::env::split_paths(dirs).filter(|d| !d.as_os_str().is_empty()) {
            let CertificateResult {
                certs: found,
                errors,
                ..
            } = load_certs_from_paths(None, Some(&dir));
            certs.extend(found);
            why = why.or_else(|| errors.first().map(problem));
        }
        looked.push(format!("SSL_CERT_DIR={dirs:?}"));
    }
    store(certs, &looked.join(" "), why, "")
}

/// The store of `certs`, loaded from `source`; an error when it holds none (`why`: the first
/// error met, if any; `hint`: where else roots may come from).
fn store(
    certs: Vec<CertificateDer<'static>>,
    source: &str,
    why: Option<String>,
    hint: &str,
) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    if !roots.is_empty() {
        return Ok(roots);
    }
    let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
    Err(format!(
        "{source}: no root certificate to check the server's against{why}: set \
         OTEL_EXPORTER_OTLP_CERTIFICATE, or the signal's own, to the CA of the collector's \
         certificate{hint}"
    ))
}

/// What went wrong, in words that quote no byte of a file (the variables may name any file).
fn problem(error: &Error) -> String {
    let what = match &error.kind {
        ErrorKind::Io { inner, path } => format!("{}: {inner}", path.display()),
        ErrorKind::Pem(error) => crate::config::otlp::pem_problem(error).to_owned(),
        _ => "the store could not be read".to_owned(),
    };
    format!("{}: {what}", error.context)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate (public, made for this test; its key was discarded).
    const TEST_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBkjCCATegAwIBAgIUTZIp1HF5ckkGXbnU7RKF6Jdv6dowCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSZ29kdHJhY2UgdGVzdCByb290MCAXDTI2MTIwNzA4MDMxMVoY
DzIxMjYxMTEzMDgwMzExWjAdMRswGQYDVQQDDBJnb2R0cmFjZSB0ZXN0IHJvb3Qw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARg2LMO+eVXEZc+OPao4H6z94t6YE+y
IlpDBuwTuwOVQ4Tv4A8KqfEgI5shzK6yTbUPeIIQC/WMVZ/G8lSXywXIo1MwUTAd
BgNVHQ4EFgQUKvNkDb+bWtgvbFwBA+h8RLGQBIkwHwYDVR0jBBgwFoAUKvNkDb+b
WtgvbFwBA+h8RLGQBIkwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBG
AiEA0fQwzAvYvvGjiwVban4ODxNeFFpSS/LlvWz6KCZDsgkCIQCzhnVu57LxAXyh
CZKeu/3nsN7bNbZ4f6+ZB9JuX9Ixcg==
-----END CERTIFICATE-----
";

    /// The environment `vars` give.
    fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.as_os_str().to_owned()))
            .collect();
        move |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// A fresh directory of this test's own.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("godtrace-roots-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_named_file_that_cannot_be_read_is_an_error_naming_the_variable() {
        let missing = Path::new("/nonexistent/godtrace-ca.pem");
        let dir = scratch("missing");
        std::fs::write(dir.join("ca.pem"), TEST_ROOT).unwrap();
        // Even beside a directory of roots: the file named is not used, so it is said.
        let error =
            roots_from(env(&[("SSL_CERT_FILE", missing), ("SSL_CERT_DIR", &dir)])).unwrap_err();
        assert!(
            error.starts_with("SSL_CERT_FILE=\"/nonexistent/godtrace-ca.pem\": "),
            "{error}"
        );
        assert!(error.contains("No such file"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_named_file_with_no_certificate_is_an_error_and_quotes_none_of_it() {
        let dir = scratch("junk");
        let file = dir.join("junk.pem");
        std::fs::write(&file, "SECRET-BYTES not a certificate\n").unwrap();
        let error = roots_from(env(&[("SSL_CERT_FILE", &file)])).unwrap_err();
        assert!(error.contains("no root certificate"), "{error}");
        assert!(!error.contains("SECRET"), "{error}");
        // A malformed section is named by what is wrong, not by its bytes.
        std::fs::write(
            &file,
            "-----BEGIN CERTIFICATE-----\nSECRET!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = roots_from(env(&[("SSL_CERT_FILE", &file)])).unwrap_err();
        assert!(error.contains("not valid base64"), "{error}");
        assert!(!error.contains("SECRET"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_list_is_a_search_path_that_must_give_a_root() {
        let dir = scratch("dirs");
        let list = |dirs: &[&Path]| std::env::join_paths(dirs).unwrap();
        // A directory that is not there, and a broken file beside a root, are passed over.
        std::fs::write(dir.join("ca.pem"), TEST_ROOT).unwrap();
        std::fs::write(dir.join("broken.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
        let dirs = list(&[Path::new("/nonexistent/certs"), &dir]);
        let roots = roots_from(env(&[("SSL_CERT_DIR", Path::new(&dirs))])).unwrap();
        assert_eq!(roots.len(), 1);
        // No root anywhere: an error saying where it looked and what it met.
        std::fs::remove_file(dir.join("ca.pem")).unwrap();
        let error = roots_from(env(&[("SSL_CERT_DIR", Path::new(&dirs))])).unwrap_err();
        assert!(
            error.starts_with("SSL_CERT_DIR=\"/nonexistent/certs:"),
            "{error}"
        );
        assert!(error.contains("no root certificate"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_platform_store_is_an_error() {
        let error = store(
            Vec::new(),
            "the platform's root certificates",
            None,
            ", or else",
        )
        .unwrap_err();
        assert!(
            error.starts_with("the platform's root certificates: no root certificate"),
            "{error}"
        );
    }
}

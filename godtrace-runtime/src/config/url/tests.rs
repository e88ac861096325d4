/// A cut of a peer's words may end inside a secret: what is left of it is redacted, also
/// when a shorter secret is its start (a header's value and the token it holds).
#[test]
fn the_start_of_a_secret_a_cut_ends_is_redacted() {
    let secrets = ["Bearer s3cr3t99xyz".to_owned(), "s3cr3t".to_owned()];
    assert_eq!(
        replace_all_at_once("auth=Bearer s3cr3t99…", &secrets),
        "auth=<redacted>…"
    );
    // (Longest first, as the callers give them.)
    let secrets = ["s3cr3t99xyz".to_owned(), "s3cr3t".to_owned()];
    assert_eq!(
        replace_all_at_once("token=s3cr3t99…", &secrets),
        "token=<redacted>…"
    );
    assert_eq!(
        replace_all_at_once("token=s3cr3t and s3cr3t99xyz", &secrets),
        "token=<redacted> and <redacted>"
    );
    // Without a cut's mark, nothing is taken for the start of a secret.
    assert_eq!(replace_all_at_once("token=s3c", &secrets), "token=s3c");
}

use super::*;

#[test]
fn http_base_endpoints_get_the_traces_path() {
    let (http, grpc) = (Protocol::HttpProtobuf, Protocol::Grpc);
    let t = "/v1/traces";
    for (base, protocol, path, url) in [
        ("http://h:4318", http, t, "http://h:4318/v1/traces"),
        ("http://h:4318/", http, t, "http://h:4318/v1/traces"),
        ("http://h/otel", http, t, "http://h/otel/v1/traces"),
        ("http://h:4317", grpc, t, "http://h:4317"),
        ("https://h", http, "/v1/metrics", "https://h/v1/metrics"),
        // The path goes before a query, not after it.
        (
            "http://h:4318?tenant=a",
            http,
            t,
            "http://h:4318/v1/traces?tenant=a",
        ),
        (
            "http://h/otel/?tenant=a/b",
            http,
            t,
            "http://h/otel/v1/traces?tenant=a/b",
        ),
    ] {
        assert_eq!(from_base(base, protocol, path), url, "{base}");
    }
}

#[test]
fn a_fragment_is_refused_as_it_is_never_sent() {
    let err = check("x", "http://u:s3cr3t@h:4318/#part")
        .unwrap_err()
        .to_string();
    assert!(err.contains("#fragment"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    // A token pasted after the `#` is not shown either, short or long.
    for url in ["http://h/#access_token=SECRETTOKEN123", "http://h/#k"] {
        let err = check("x", url).unwrap_err().to_string();
        assert!(err.contains("\"http://h/<redacted>\""), "{err}");
        assert!(!err.contains("SECRET") && !err.contains("#k"), "{err}");
    }
}

#[test]
fn schemeless_grpc_endpoints_are_secure_unless_insecure_is_set() {
    let grpc = Protocol::Grpc;
    // A mistyped scheme is said to be one (not a bad port of a host named `http`).
    for given in ["http:/127.0.0.1:14318", "HTTPS:h:1", "http:/u:s3cr3t@h:1"] {
        match normalize_given("E", given, grpc, true) {
            Err(InitError::InvalidValue {
                value, expected, ..
            }) => {
                assert!(
                    !value.contains("http://") && !value.contains("s3cr3t"),
                    "{value}"
                );
                assert!(expected.starts_with("an absolute URL"), "{expected}");
            }
            other => panic!("{given}: {other:?}"),
        }
    }
    for given in ["c:99999", "user:pa/ss@h:1"] {
        match normalize_given("E", given, grpc, true) {
            Err(InitError::InvalidValue {
                value, expected, ..
            }) => {
                assert!(!value.contains("http://"), "{given}: {value}");
                assert!(!value.contains("pa/ss"), "{given}: {value}");
                assert!(expected.contains("host:port"), "{given}: {expected}");
            }
            other => panic!("{given}: {other:?}"),
        }
    }
    assert_eq!(with_grpc_scheme("c:4317", grpc, false), "https://c:4317");
    assert_eq!(with_grpc_scheme("c:4317", grpc, true), "http://c:4317");
    assert_eq!(with_grpc_scheme("http://c:1", grpc, false), "http://c:1");
    let http = with_grpc_scheme("c:4318", Protocol::HttpProtobuf, true);
    assert!(check("x", &http).is_err(), "{http}");
}

/// A URL too long for any request is refused by name, the value quoted only in part.
#[test]
fn an_overlong_url_is_refused_by_name_and_quoted_in_part() {
    let long = format!("http://u:pw@127.0.0.1:4318/{}", "a".repeat(100_000));
    let err = check("OTEL_EXPORTER_OTLP_ENDPOINT", &long).unwrap_err();
    let InitError::InvalidValue { name, value, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(name, "OTEL_EXPORTER_OTLP_ENDPOINT");
    assert!(value.len() < 300, "{}", value.len());
    assert!(!err.to_string().contains("pw"), "{err}");
    assert!(err.to_string().len() < 600, "{}", err.to_string().len());
    let longest = format!("http://h:4318/{}", "a".repeat(MAX_URL_LEN - 14));
    assert_eq!(longest.len(), MAX_URL_LEN);
    assert!(check("x", &longest).is_ok());
}

fn check(name: &str, value: &str) -> Result<String, InitError> {
    normalize(name, value, EXAMPLE)
}

#[test]
fn urls_need_a_scheme_and_a_host() {
    assert!(check("x", "http://127.0.0.1:4317").is_ok());
    assert!(check("x", "http://[::1]:4317/").is_ok());
    for bad in [
        "127.0.0.1:4317",
        "http://",
        "http://:80",
        "ftp://h",
        "http://a b",
    ] {
        assert!(check("x", bad).is_err(), "{bad}");
    }
    // What is wrong is said: the URL starts with http:// but holds a space.
    for spaced in ["http://h:1/a b", "http://user:a b@h:1", "http://h:1/\tx"] {
        let err = check("x", spaced).unwrap_err().to_string();
        assert!(err.contains("without spaces"), "{spaced}: {err}");
        assert!(!err.contains("a b@"), "{err}");
    }
}

#[test]
fn ports_outside_1_to_65535_are_refused_by_name() {
    for bad in [
        "http://localhost:70000",
        "http://localhost:0",
        "http://localhost:65536/v1/traces",
        "http://localhost:-1",
        "http://localhost:+80",
        "http://localhost:4317x",
        "http://[::1]:99999",
        "http://[::1",
    ] {
        let err = check("OTEL_EXPORTER_OTLP_ENDPOINT", bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT="),
            "{bad}: {err}"
        );
    }
    let port = check("x", "http://h:0").unwrap_err().to_string();
    assert!(port.contains("from 1 to 65535"), "{port}");
    for good in [
        "http://h:1",
        "http://h:65535/p",
        "http://[::1]/",
        "http://h",
    ] {
        assert_eq!(check("x", good).unwrap(), good);
    }
}

#[test]
fn the_scheme_is_case_insensitive_and_sent_in_lower_case() {
    assert_eq!(
        check("x", "HTTP://localhost:4318").unwrap(),
        "http://localhost:4318"
    );
    assert_eq!(check("x", "Http://Host/A").unwrap(), "http://Host/A");
    assert_eq!(check("x", "HTTPS://h:443/p").unwrap(), "https://h:443/p");
}

#[test]
fn user_info_never_appears_in_errors_or_messages() {
    let url = "https://user:s3cr3t@collector:4318/v1/traces";
    let bad = "https://user:s3cr3t@collector:0/v1/traces";
    let err = check("endpoint", bad).unwrap_err().to_string();
    assert!(!err.contains("s3cr3t") && !err.contains("user:"), "{err}");
    assert!(err.contains("<redacted>@collector:0"), "{err}");
    let err = check("endpoint", "http://user:s3cr3t@h:70000").unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    let message = format!("error sending request for url ({url}): refused, s3cr3t");
    let scrubbed = scrub(&message, url);
    assert!(!scrubbed.contains("s3cr3t"), "{scrubbed}");
    assert_eq!(redacted("http://tok@h/"), "http://<redacted>@h/");
    // A password with a character that ends an authority: still redacted (and a path's
    // `@` is taken for the user-info's, which only redacts more).
    for bad in [
        "https://user:pa#s3cr3t@collector:4318",
        "https://user:pa/s3cr3t@h:0",
        "https://user:pa?s3cr3t@h:70000",
    ] {
        let err = check("endpoint", bad).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
    // A well-formed authority ends the user-info: an `@` after it is the path's.
    assert_eq!(redacted("http://h:1/p@x"), "http://h:1/p@x");
}

/// An `@` in the path or the query is data (RFC 3986, 3.2.1: the user-info is in the
/// authority): it was read as the end of a user-info, and `Basic` credentials made of the
/// host and path were sent, in place of the endpoint's own or where it has none.
#[test]
fn an_at_sign_past_the_authority_is_no_user_info() {
    let query = "http://127.0.0.1:18431/v1/traces?owner=ops@example.com";
    assert_eq!(basic_credentials(query), None);
    assert_eq!(basic_credentials("http://127.0.0.1:4317/@x"), None);
    assert_eq!(basic_credentials("http://127.0.0.1:4317\\@x"), None);
    assert_eq!(
        basic_credentials("http://alice:secret@127.0.0.1:1/v1/traces?owner=ops@example.com"),
        Some(format!("Basic {}", crate::base64::encode(b"alice:secret")))
    );
    // Messages show the host the exporter sends to, not a part of the query in its place.
    assert_eq!(
        redacted("http://127.0.0.1:1/otlp?owner=ops@example.com"),
        "http://127.0.0.1:1/otlp?<redacted>"
    );
    assert_eq!(
        redacted("http://alice:secret@h:1/p@x"),
        "http://<redacted>@h:1/p@x"
    );
}

/// Over gRPC, the request goes to HTTP's URI of the endpoint's scheme and host, which takes
/// ASCII hosts only: such an endpoint passed `init` and failed every export.
#[cfg(feature = "otlp-grpc")]
#[test]
fn a_grpc_host_http_cannot_send_to_is_refused_at_init() {
    for given in [
        "http://bücher.example:4317",
        "http://%41:4317",
        // Over TLS the host must also be a server name TLS takes.
        "https://127.1:4317",
        "https://a..b:4317",
    ] {
        let url = normalize_given("E", given, Protocol::Grpc, true).unwrap();
        match check_grpc_host("E", given, &url) {
            Err(InitError::InvalidValue { expected, .. }) => {
                assert!(expected.contains("xn--"), "{given}: {expected}");
            }
            other => panic!("{given}: {other:?}"),
        }
    }
    assert_eq!(
        scheme_and_host("https://alice:secret@h:1/p@x?q=@"),
        "https://h:1"
    );
    for fine in [
        "https://127.0.0.1:4317",
        "https://[::1]:4317",
        "https://collector:4317",
    ] {
        let url = normalize_given("E", fine, Protocol::Grpc, true).unwrap();
        assert!(check_grpc_host("E", fine, &url).is_ok(), "{fine}");
    }
}

/// Over gRPC the request's path is its method: a path or a query in the endpoint could not
/// be sent, and was left out of every request without a word (a proxy's prefix, a token).
#[cfg(feature = "otlp-grpc")]
#[test]
fn a_grpc_endpoint_with_a_path_or_a_query_is_refused_at_init() {
    for given in [
        "http://h:4317/some/prefix",
        "http://h:4317/v1/traces",
        "http://h:4317?token=s3cr3t",
        "http://h:4317/?token=x&x=\"s3cr3t\"",
    ] {
        let url = normalize_given("E", given, Protocol::Grpc, true).unwrap();
        match check_grpc_path("E", given, &url) {
            Err(e @ InitError::InvalidValue { .. }) => {
                let message = e.to_string();
                assert!(message.contains("no path or query"), "{given}: {message}");
                assert!(!message.contains("s3cr3t"), "{given}: {message}");
            }
            other => panic!("{given}: {other:?}"),
        }
    }
    for fine in [
        "http://h:4317",
        "http://h:4317/",
        "h:4317",
        "https://[::1]:4317/",
    ] {
        let url = normalize_given("E", fine, Protocol::Grpc, true).unwrap();
        assert!(check_grpc_path("E", fine, &url).is_ok(), "{fine}");
    }
}

/// A `%` that starts no escape (`pass%word`) is part of the password, as HTTP clients
/// and godtrace's proxies read it: the credentials were left out of every request.
#[test]
fn a_percent_that_starts_no_escape_is_sent_as_it_is() {
    let url = "http://u:pass%word1@127.0.0.1:4318";
    assert_eq!(
        basic_credentials(url),
        Some(format!("Basic {}", crate::base64::encode(b"u:pass%word1")))
    );
    assert_eq!(
        basic_credentials("http://user%:p%41ss%4@h:1"),
        Some(format!("Basic {}", crate::base64::encode(b"user%:pAss%4")))
    );
    assert_eq!(scrub("401 for pass%word1", url), "401 for <redacted>");
    assert_eq!(scrub("401 for pass%25word1", url), "401 for <redacted>");
}

/// A receiver may quote the credentials in the form they were sent: decoded, or as the
/// `Authorization: Basic` value.
#[test]
fn user_info_is_redacted_in_the_forms_it_is_sent_in() {
    let url = "http://user:p%40ss55word@127.0.0.1:4318";
    assert_eq!(
        basic_credentials(url).as_deref(),
        Some("Basic dXNlcjpwQHNzNTV3b3Jk")
    );
    assert_eq!(
        crate::base64::encode(b"user:pa55word"),
        "dXNlcjpwYTU1d29yZA=="
    );
    assert_eq!(crate::base64::encode(b"ab"), "YWI=");
    assert_eq!(crate::base64::encode(b""), "");
    let message = "401: authorization: Basic dXNlcjpwQHNzNTV3b3Jk; wrong p@ss55word";
    assert_eq!(
        scrub(message, url),
        "401: authorization: <redacted>; wrong <redacted>"
    );
    assert_eq!(scrub("token dXNlcjpwQHNzNTV3b3Jk", url), "token <redacted>");
    assert_eq!(basic_credentials("http://127.0.0.1:4318"), None);
    // Decoded whole, as a `Basic` value holds it, however short the password.
    let proxy = "http://puser:pw12@127.0.0.1:3128";
    assert_eq!(
        scrub("407: got puser:pw12, refused", proxy),
        "407: got <redacted>, refused"
    );
}

/// Some vendors take the key in the endpoint's query: it is a credential too.
#[test]
fn a_query_never_appears_in_messages() {
    let url = "https://collector:4318/v1/traces?api_key=s3cr3tkey&region=eu";
    assert_eq!(redacted(url), "https://collector:4318/v1/traces?<redacted>");
    let message = format!("error sending request for url ({url}): refused");
    let scrubbed = scrub(&message, url);
    assert!(!scrubbed.contains("s3cr3tkey"), "{scrubbed}");
    // Quoted decoded or alone.
    let scrubbed = scrub("invalid api key: s3cr3tkey", url);
    assert!(!scrubbed.contains("s3cr3tkey"), "{scrubbed}");
    assert_eq!(redacted("http://h:1/p"), "http://h:1/p");
}

/// Short credentials leave the rest of a message readable: a one-letter password or user
/// name is redacted where the URL holds it, not in every word that has its letter.
#[test]
fn short_credentials_are_redacted_where_the_url_holds_them() {
    let url = "http://u:e@127.0.0.1:9/v1/traces?k=secretvalue";
    let message = "godtrace: could not export 1 spans to http://u:e@127.0.0.1:9/v1/traces?\
                   k=secretvalue: error sending request";
    assert_eq!(
        scrub(message, url),
        "godtrace: could not export 1 spans to http://<redacted>@127.0.0.1:9/v1/traces?\
         <redacted>: error sending request"
    );
    assert_eq!(
        redacted("http://t@h:1/v1/traces"),
        "http://<redacted>@h:1/v1/traces"
    );
    // A short query is redacted where the URL holds it, with its `?`.
    let url = "http://127.0.0.1:9/v1/traces?o";
    let message = "error sending request for url (http://127.0.0.1:9/v1/traces?o): \
                   Connection refused (os error 111)";
    assert_eq!(
        scrub(message, url),
        "error sending request for url (http://127.0.0.1:9/v1/traces?<redacted>): \
         Connection refused (os error 111)"
    );
    assert_eq!(
        scrub(
            "could not export to http://h:9/p;SEKRET?x",
            "http://h:9/p;SEKRET?x"
        ),
        "could not export to http://h:9/p;SEKRET?<redacted>"
    );
    // A long password is still looked for on its own.
    let url = "http://user:hunter22@h:1";
    assert_eq!(
        scrub("bad password hunter22", url),
        "bad password <redacted>"
    );
}

/// An HTTP client quotes the URL it parsed: a query character the URL standard encodes
/// (`"`, `<`, `>`, a space, non-ASCII) appears encoded there, and is redacted so too.
#[test]
fn an_encoded_query_never_appears_in_messages() {
    for (url, quoted, secret) in [
        (
            "http://127.0.0.1:43199/v1/traces?api_key=s3cr3t\"k",
            "http://127.0.0.1:43199/v1/traces?api_key=s3cr3t%22k",
            "s3cr3t",
        ),
        (
            "http://127.0.0.1:43199/v1/metrics?k=ab<cd>efgh",
            "http://127.0.0.1:43199/v1/metrics?k=ab%3Ccd%3Eefgh",
            "efgh",
        ),
        (
            "http://h:1/v1/traces?k=s3cr3t\u{e9}x&a=b",
            "http://h:1/v1/traces?k=s3cr3t%C3%A9x&a=b",
            "s3cr3t",
        ),
    ] {
        let message = format!("error sending request for url ({quoted}): refused");
        let scrubbed = scrub(&message, url);
        assert!(!scrubbed.contains(secret), "{scrubbed}");
        assert!(scrubbed.contains("?<redacted>)"), "{scrubbed}");
        // A value quoted alone, encoded.
        let value = &quoted[quoted.find('=').unwrap() + 1..];
        let value = &value[..value.find('&').unwrap_or(value.len())];
        let scrubbed = scrub(&format!("bad key {value}"), url);
        assert!(!scrubbed.contains(secret), "{scrubbed}");
    }
    // Given encoded, quoted decoded.
    let url = "http://h:1/v1/traces?api_key=s3cr3t%22key";
    let scrubbed = scrub("bad key s3cr3t\"key", url);
    assert!(!scrubbed.contains("s3cr3t"), "{scrubbed}");
}

/// A host the transports would refuse on every export is refused by `init`, by name,
/// without the URL's secrets.
#[test]
fn hosts_no_transport_accepts_are_refused() {
    for bad in [
        "http://h%zz:4318",
        "http://h%:4318",
        "http://[zz]:4318",
        "http://[::1::2]:4318/v1/traces",
        "http://user:s3cr3t@h%zz:4318/v1/traces?api_key=s3cr3t",
        "http://h<x>:4318",
        "http://h%2F:4318",
    ] {
        let err = check("OTEL_EXPORTER_OTLP_ENDPOINT", bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT="),
            "{bad}: {err}"
        );
        assert!(err.contains("valid host"), "{bad}: {err}");
        assert!(!err.contains("s3cr3t"), "{bad}: {err}");
    }
    for good in [
        "http://h%41:4318",
        "http://[::1]:4318",
        "http://[2001:db8::1]/p",
        "http://collector.example:4318/v1/traces?k=a%zz",
    ] {
        assert_eq!(check("x", good).unwrap(), good);
    }
}

/// An endpoint given without a scheme but with what looks like one's slashes (`//user:pw@h`,
/// a typo of `http://`) is refused, and its message quotes no credential.
#[test]
fn user_info_after_leading_slashes_is_redacted() {
    for url in [
        "//user:SECRETPW5@127.0.0.1:4318",
        "/u:SECRETPW5@h:4318",
        "\\\\u:SECRETPW5@h:4318/v1/metrics",
        "///u:SECRETPW5@h",
    ] {
        let shown = redacted(url);
        assert!(!shown.contains("SECRETPW5"), "{url}: {shown}");
        assert!(shown.contains("<redacted>"), "{url}: {shown}");
        let message = format!("could not export to {url}: refused, password SECRETPW5");
        let scrubbed = scrub(&message, url);
        assert!(!scrubbed.contains("SECRETPW5"), "{url}: {scrubbed}");
    }
}

//! Shared by the end-to-end suites: finds the Phoenix backend `scripts/test` started, and
//! queries spans back from it.
#![allow(dead_code)]

use godtrace::{Config, Protocol};
use serde_json::Value as Json;
use std::time::{Duration, Instant};

/// The Phoenix instance started by `scripts/backends/phoenix.sh`.
pub struct Phoenix {
    /// Base URL: OTLP/HTTP at `/v1/traces`, the query API under `/v1/projects`.
    pub http: String,
    /// OTLP/gRPC endpoint.
    pub grpc: String,
    /// For a TLS Phoenix: how its query API is reached.
    pub tls: Option<TlsQuery>,
}

/// The certificates a TLS Phoenix's query API is queried with (by `curl`: the test build has
/// no TLS client of its own).
pub struct TlsQuery {
    /// The CA the server's certificate is checked against.
    pub ca: std::path::PathBuf,
    /// The client certificate and key, for a Phoenix that requires one.
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// The backend, or `None` (after printing why) when this run was not started by
/// `scripts/test`. Panics when `GODTRACE_REQUIRE_E2E=1` says the backend must be there.
pub fn phoenix() -> Option<Phoenix> {
    let required = std::env::var("GODTRACE_REQUIRE_E2E").is_ok_and(|v| v == "1");
    let (http, grpc) = match (
        std::env::var("GODTRACE_PHOENIX_HTTP"),
        std::env::var("GODTRACE_PHOENIX_GRPC"),
    ) {
        (Ok(http), Ok(grpc)) => (http, grpc),
        _ if required => panic!(
            "GODTRACE_REQUIRE_E2E=1 but GODTRACE_PHOENIX_HTTP/GODTRACE_PHOENIX_GRPC are not set: \
             scripts/backends/phoenix.sh did not start the Phoenix backend"
        ),
        _ => {
            eprintln!("skipped: this end-to-end test needs the Phoenix backend; run scripts/test");
            return None;
        }
    };
    let healthz = format!("{http}/healthz");
    if let Err(e) = ureq::get(&healthz).call() {
        panic!("the Phoenix backend at {http} does not answer {healthz}: {e}");
    }
    Some(Phoenix {
        http,
        grpc,
        tls: None,
    })
}

/// A project name of its own for this run, so that runs and suites never see each other's
/// spans.
pub fn unique_project(suite: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("godtrace-{suite}-{}-{nanos}", std::process::id())
}

impl Phoenix {
    /// The `Config` of service `service` that exports to this Phoenix over `protocol` into
    /// its project `project` (Phoenix files spans by the resource's project name).
    pub fn config(&self, service: &str, protocol: Protocol, project: &str) -> Config {
        let endpoint = match protocol {
            Protocol::Grpc => self.grpc.clone(),
            _ => self.http.clone(),
        };
        Config::new(service)
            .endpoint(endpoint)
            .protocol(protocol)
            .resource_attribute("openinference.project.name", project.to_owned())
    }

    /// Every span stored in `project`, optionally of one trace (follows pagination).
    pub fn spans(&self, project: &str, trace_id: Option<&str>) -> Vec<Json> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/projects/{project}/spans?limit=1000", self.http);
            if let Some(t) = trace_id {
                url.push_str(&format!("&trace_id={t}"));
            }
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            // The project does not exist until its first span has been stored.
            let Some(body) = self.get(&url) else {
                return out;
            };
            let page: Json = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{url} answered non-JSON ({e}): {body}"));
            out.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
                _ => return out,
            }
        }
    }

    /// The body of `url`, or `None` when it answers 404.
    fn get(&self, url: &str) -> Option<String> {
        let Some(tls) = &self.tls else {
            return match ureq::get(url).call() {
                Ok(mut response) => Some(response.body_mut().read_to_string().unwrap_or_default()),
                Err(ureq::Error::StatusCode(404)) => None,
                Err(e) => panic!("querying {url}: {e}"),
            };
        };
        let mut curl = std::process::Command::new("curl");
        curl.args(["-sS", "-w", "\n%{http_code}", "--cacert"])
            .arg(&tls.ca);
        if let Some((cert, key)) = &tls.client {
            curl.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let output = curl.arg(url).output().expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        match status {
            "200" => Some(body.to_owned()),
            "404" => None,
            _ => panic!(
                "querying {url}: HTTP {status} {body} {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    /// Polls `project` until `done` holds for its spans (of `trace_id` if given), at most
    /// [`STORED_WITHIN`]; returns the last spans seen either way.
    pub fn wait_for(
        &self,
        project: &str,
        trace_id: Option<&str>,
        done: impl Fn(&[Json]) -> bool,
    ) -> Vec<Json> {
        let deadline = Instant::now() + STORED_WITHIN;
        loop {
            let spans = self.spans(project, trace_id);
            if done(&spans) || Instant::now() >= deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(1000));
        }
    }

    /// How many spans `project` holds: one small GraphQL answer, where [`Phoenix::spans`]
    /// makes Phoenix serialise every span (seconds of its CPU for thousands of spans, taken
    /// from the ingestion of every other suite running at the same time).
    pub fn span_count(&self, project: &str) -> usize {
        let query = format!(r#"{{ getProjectByName(name: "{project}") {{ recordCount }} }}"#);
        let url = format!("{}/graphql?query={}", self.http, percent_encode(&query));
        let body = self
            .get(&url)
            .unwrap_or_else(|| panic!("{url} answered 404"));
        let answer: Json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{url} answered non-JSON ({e}): {body}"));
        // `null` until the project's first span has been stored.
        answer["data"]["getProjectByName"]["recordCount"]
            .as_u64()
            .unwrap_or(0) as usize
    }

    /// Polls the count of `project` until it reaches `count`, at most [`STORED_WITHIN`];
    /// returns the last count seen.
    pub fn wait_for_count(&self, project: &str, count: usize) -> usize {
        let deadline = Instant::now() + STORED_WITHIN;
        loop {
            let seen = self.span_count(project);
            if seen >= count || Instant::now() >= deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(1000));
        }
    }
}

/// How long a suite waits for its spans to be stored. Phoenix stores spans through one queue
/// shared by every suite running at once: behind the shutdown suite's 3,000 spans, on two
/// CPUs, three spans have been seen to wait more than 30 s. Waiting returns as soon as the
/// spans are there, so a long bound costs a passing run nothing.
pub const STORED_WITHIN: Duration = Duration::from_secs(120);

/// `text` with every byte but ASCII letters and digits as `%XX`, for a URL's query string.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The span named `name`, with a message listing what is there when it is missing.
pub fn named<'a>(spans: &'a [Json], name: &str) -> &'a Json {
    let mut found = spans.iter().filter(|s| s["name"] == name);
    match (found.next(), found.next()) {
        (Some(s), None) => s,
        (None, _) => panic!(
            "no span named {name:?} in the backend; got {:?}",
            names(spans)
        ),
        (Some(_), Some(_)) => panic!("more than one span named {name:?}"),
    }
}

/// The names of `spans`.
pub fn names(spans: &[Json]) -> Vec<&str> {
    spans.iter().filter_map(|s| s["name"].as_str()).collect()
}

pub mod tree;

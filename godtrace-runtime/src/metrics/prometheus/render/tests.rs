use super::*;
use crate::metrics::CounterPoint;
use opentelemetry::trace::{SpanId, TraceId};
use std::io::Write as _;
use std::time::Duration;

/// The scope labels every metric's series carries.
const SCOPE: &str = concat!(
    "otel_scope_name=\"godtrace\",otel_scope_version=\"",
    env!("CARGO_PKG_VERSION"),
    "\""
);

/// [`super::render`] without the scope labels (checked by
/// `every_series_carries_the_scope_and_target_info_does_not`), so that the other tests read
/// as the attributes alone.
fn render(snapshot: &MetricsSnapshot, format: Format, families: &mut Families) -> String {
    super::render(snapshot, format, families)
        .replace(&format!("{{{SCOPE}}}"), "")
        .replace(&format!("{{{SCOPE},"), "{")
        .replace(&format!(",{SCOPE}"), "")
}

/// OpenTelemetry's Prometheus compatibility rules: every metric point carries the scope's name
/// and version as `otel_scope_name` and `otel_scope_version` (after its attributes, before a
/// bucket's `le`); `target_info` carries the resource's attributes and nothing else.
#[test]
fn every_series_carries_the_scope_and_target_info_does_not() {
    let text = super::render(&sample(), Format::Text, &mut Families::default());
    let series: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!series.is_empty());
    for line in &series {
        assert!(line.contains(SCOPE), "{line}");
    }
    assert!(
        text.contains(&format!(
            "godtrace_operation_duration_seconds_bucket{{error_type=\"app::Error\",\
             operation=\"pay \\\"now\\\"\",{SCOPE},le=\"0.0001\"}} 1"
        )),
        "{text}"
    );
    let counter = super::render(
        &MetricsSnapshot {
            metrics: vec![counter("plain", 1.0)],
        },
        Format::Text,
        &mut Families::default(),
    );
    assert!(
        counter.contains(&format!("\nplain_total{{{SCOPE}}} 1\n")),
        "{counter}"
    );
    let info = target_info(&[KeyValue::new("service.name", "svc")], Format::Text);
    assert!(
        info.ends_with("\ntarget_info{service_name=\"svc\"} 1\n"),
        "{info}"
    );
}

fn sample() -> MetricsSnapshot {
    let ex = Exemplar {
        trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
        value: 0.0002,
        time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    };
    MetricsSnapshot {
        metrics: vec![
            MetricData {
                name: "godtrace.operation.duration".into(),
                description: "Duration of traced operations.".into(),
                unit: "s".into(),
                points: MetricPoints::Histogram(vec![HistogramPoint {
                    attributes: vec![
                        KeyValue::new("error.type", "app::Error"),
                        KeyValue::new("operation", "pay \"now\""),
                    ],
                    bounds: vec![0.0001, 0.00025],
                    bucket_counts: vec![1, 2, 0],
                    count: 3,
                    sum: 0.0005,
                    exemplars: vec![None, Some(ex), None],
                }]),
            },
            MetricData {
                name: "nft.mints.total".into(),
                description: String::new(),
                unit: String::new(),
                points: MetricPoints::Counter(vec![CounterPoint {
                    attributes: vec![KeyValue::new("chain", "sol")],
                    value: 3.0,
                }]),
            },
        ],
    }
}

#[test]
fn text_format() {
    let text = render(&sample(), Format::Text, &mut Families::default());
    let expected = "\
# HELP godtrace_operation_duration_seconds Duration of traced operations.
# TYPE godtrace_operation_duration_seconds histogram
godtrace_operation_duration_seconds_bucket{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\",le=\"0.0001\"} 1
godtrace_operation_duration_seconds_bucket{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\",le=\"0.00025\"} 3
godtrace_operation_duration_seconds_bucket{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\",le=\"+Inf\"} 3
godtrace_operation_duration_seconds_sum{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\"} 0.0005
godtrace_operation_duration_seconds_count{error_type=\"app::Error\",operation=\"pay \\\"now\\\"\"} 3
# TYPE nft_mints_total counter
nft_mints_total{chain=\"sol\"} 3
";
    assert_eq!(text, expected);
}

#[test]
fn openmetrics_format_carries_exemplars() {
    let text = render(&sample(), Format::OpenMetrics, &mut Families::default());
    assert!(text.contains("# TYPE godtrace_operation_duration_seconds histogram\n"));
    assert!(text.contains("# UNIT godtrace_operation_duration_seconds seconds\n"));
    assert!(text.contains(
        "le=\"0.00025\"} 3 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",\
         span_id=\"b7ad6b7169203331\"} 0.0002 1700000000.123\n"
    ));
    assert!(text.contains("# TYPE nft_mints counter\nnft_mints_total{chain=\"sol\"} 3\n"));
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches(" # {").count(), 1);
}

fn counter(name: &str, value: f64) -> MetricData {
    MetricData {
        name: name.into(),
        description: String::new(),
        unit: String::new(),
        points: MetricPoints::Counter(vec![CounterPoint {
            attributes: vec![],
            value,
        }]),
    }
}

fn histogram(name: &str, unit: &str, attributes: Vec<KeyValue>, sum: f64) -> MetricData {
    MetricData {
        name: name.into(),
        description: String::new(),
        unit: unit.into(),
        points: MetricPoints::Histogram(vec![HistogramPoint {
            attributes,
            bounds: vec![1.0],
            bucket_counts: vec![1, 1],
            count: 2,
            sum,
            exemplars: vec![None, None],
        }]),
    }
}

/// Instruments whose Prometheus names clash, each after the one that keeps the name; every
/// value tells which instrument a line comes from.
fn clashing() -> MetricsSnapshot {
    MetricsSnapshot {
        metrics: vec![
            histogram(DURATION_METRIC, "s", vec![], 1.5),
            counter("orders.placed", 1.0),
            counter("orders_placed", 102.0),
            counter("orders.placed.total", 103.0),
            histogram("godtrace.operation.duration.seconds", "", vec![], 104.5),
            histogram("latency", "", vec![], 5.5),
            counter("latency.count", 106.0),
            histogram("latency.bucket", "", vec![], 107.5),
            counter("hits", 8.0),
            histogram("hits.total", "", vec![], 109.5),
        ],
    }
}

#[test]
fn clashing_families_leave_the_first_instrument_only() {
    let refused = [
        "orders_placed",
        "orders.placed.total",
        "godtrace.operation.duration.seconds",
        "latency.count",
        "latency.bucket",
        "hits.total",
    ];
    let mut families = with_duration();
    for format in [Format::Text, Format::OpenMetrics, Format::Text] {
        let text = render(&clashing(), format, &mut families);
        assert!(text.contains("orders_placed_total 1\n"), "{text}");
        assert!(
            text.contains("godtrace_operation_duration_seconds_sum 1.5\n"),
            "{text}"
        );
        assert!(text.contains("latency_sum 5.5\n"), "{text}");
        assert!(text.contains("hits_total 8\n"), "{text}");
        for value in [
            " 102\n", " 103\n", " 104.5\n", " 106\n", " 107.5\n", " 109.5\n",
        ] {
            assert!(!text.contains(value), "a refused instrument in {text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 4, "{text}");
    }
    // Reported once each, whatever the number of scrapes.
    let reports = report::recent();
    for name in refused {
        let about = format!("metric {name:?} is not exposed to Prometheus");
        assert_eq!(
            reports.iter().filter(|m| m.starts_with(&about)).count(),
            1,
            "{about} in {reports:#?}"
        );
    }
}

#[test]
fn a_family_stays_with_the_instrument_exposed_first() {
    let mut families = with_duration();
    // `orders_placed` is scraped before `orders.placed` (which sorts first) exists.
    let first = MetricsSnapshot {
        metrics: vec![counter("orders_placed", 2.0)],
    };
    let _ = render(&first, Format::Text, &mut families);
    let later = MetricsSnapshot {
        metrics: vec![counter("orders.placed", 1.0), counter("orders_placed", 2.0)],
    };
    let text = render(&later, Format::Text, &mut families);
    assert_eq!(
        text,
        "# TYPE orders_placed_total counter\norders_placed_total 2\n"
    );
    // The duration histogram's family is its own even before it has a point.
    let early = MetricsSnapshot {
        metrics: vec![histogram(
            "godtrace.operation.duration.seconds",
            "",
            vec![],
            4.5,
        )],
    };
    assert_eq!(render(&early, Format::Text, &mut with_duration()), "");
}

#[test]
fn a_histogram_attribute_named_le_keeps_its_own_label() {
    let snapshot = MetricsSnapshot {
        metrics: vec![histogram("sizes", "", vec![KeyValue::new("le", "x")], 1.0)],
    };
    let text = render(&snapshot, Format::Text, &mut Families::default());
    assert!(
        text.contains("sizes_bucket{key_le=\"x\",le=\"1\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("sizes_sum{key_le=\"x\"} 1\n"), "{text}");
    // Not a histogram's: still its own label (`promtool` refuses `le` outside histograms).
    let info = target_info(
        &[KeyValue::new("le", "x"), KeyValue::new("quantile", "y")],
        Format::Text,
    );
    assert!(
        info.contains("target_info{key_le=\"x\",key_quantile=\"y\"} 1"),
        "{info}"
    );
}

#[test]
fn an_attribute_named_like_a_scope_label_keeps_its_own_label() {
    let snapshot = MetricsSnapshot {
        metrics: vec![MetricData {
            points: MetricPoints::Counter(vec![CounterPoint {
                attributes: vec![
                    KeyValue::new("otel_scope_name", "evil"),
                    KeyValue::new("otel.scope.version", "9"),
                ],
                value: 1.0,
            }]),
            ..counter("c.scope", 0.0)
        }],
    };
    // With the scope's labels: a query on `otel_scope_name="godtrace"` finds the series.
    let text = super::render(&snapshot, Format::Text, &mut Families::default());
    assert!(
        text.contains(&format!(
            "c_scope_total{{key_otel_scope_name=\"evil\",key_otel_scope_version=\"9\",{SCOPE}}} 1\n"
        )),
        "{text}"
    );
}

#[test]
fn attribute_sets_rendered_alike_are_one_series() {
    let counter_point = |attributes, value| CounterPoint { attributes, value };
    let counts = MetricData {
        points: MetricPoints::Counter(vec![
            counter_point(vec![KeyValue::new("code", 200)], 1.0),
            counter_point(vec![KeyValue::new("code", "200")], 2.0),
            counter_point(vec![KeyValue::new("code", "500")], 4.0),
            counter_point(vec![KeyValue::new("http.route", "/a")], 8.0),
            counter_point(vec![KeyValue::new("http_route", "/a")], 16.0),
            // Keys in order (as attribute sets hold them) whose labels sort the other way.
            counter_point(
                vec![KeyValue::new("x.y", "1"), KeyValue::new("x_a", "2")],
                32.0,
            ),
            counter_point(
                vec![KeyValue::new("x_a", "2"), KeyValue::new("x_y", "1")],
                64.0,
            ),
        ]),
        ..counter("hits", 0.0)
    };
    let late = Exemplar {
        trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
        value: 2.0,
        time: UNIX_EPOCH + Duration::from_secs(20),
    };
    let early = Exemplar {
        time: UNIX_EPOCH + Duration::from_secs(10),
        ..late
    };
    let mut sizes = histogram("sizes", "", vec![KeyValue::new("ok", true)], 1.5);
    if let MetricPoints::Histogram(points) = &mut sizes.points {
        points[0].exemplars[1] = Some(early);
        let mut other = points[0].clone();
        other.attributes = vec![KeyValue::new("ok", "true")];
        other.exemplars[1] = Some(late);
        points.push(other);
    }
    let snapshot = MetricsSnapshot {
        metrics: vec![counts, sizes],
    };
    let text = render(&snapshot, Format::OpenMetrics, &mut Families::default());
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "hits_total{code=\"200\"} 3",
            "hits_total{code=\"500\"} 4",
            "hits_total{http_route=\"/a\"} 24",
            "hits_total{x_a=\"2\",x_y=\"1\"} 96",
            "sizes_bucket{ok=\"true\",le=\"1\"} 2",
            "sizes_bucket{ok=\"true\",le=\"+Inf\"} 4 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",\
             span_id=\"b7ad6b7169203331\"} 2 20.000",
            "sizes_sum{ok=\"true\"} 3",
            "sizes_count{ok=\"true\"} 4",
        ],
        "{text}"
    );
}

/// Prometheus reads a label whose value is empty as no label: `{k=""}` and `{}` are one
/// series there, so they are one here (else a scrape holds two samples of one series, and
/// Prometheus keeps one of them).
#[test]
fn an_attribute_with_an_empty_value_is_no_label() {
    let counter_point = |attributes, value| CounterPoint { attributes, value };
    let counts = MetricData {
        points: MetricPoints::Counter(vec![
            counter_point(vec![], 1.0),
            counter_point(vec![KeyValue::new("k", "")], 2.0),
            counter_point(vec![KeyValue::new("k", ""), KeyValue::new("m", "x")], 4.0),
            counter_point(vec![KeyValue::new("m", "x")], 8.0),
        ]),
        ..counter("empty.val", 0.0)
    };
    let snapshot = MetricsSnapshot {
        metrics: vec![counts],
    };
    let text = render(&snapshot, Format::Text, &mut Families::default());
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        ["empty_val_total 3", "empty_val_total{m=\"x\"} 12"],
        "{text}"
    );
}

/// An array of strings is labelled as JSON, each string escaped (the attribute
/// specification's text of a non-string value), then escaped for the exposition.
#[test]
fn a_string_arrays_label_is_json() {
    use opentelemetry::{Array, StringValue, Value};
    let strings: Vec<StringValue> = vec!["q\"x".into(), "n\nl".into(), "b\\".into()];
    let snapshot = MetricsSnapshot {
        metrics: vec![MetricData {
            points: MetricPoints::Counter(vec![CounterPoint {
                attributes: vec![KeyValue::new("arr", Value::Array(Array::String(strings)))],
                value: 1.0,
            }]),
            ..counter("arrays", 0.0)
        }],
    };
    let text = render(&snapshot, Format::Text, &mut Families::default());
    // JSON `["q\"x","n\nl","b\\"]`, each backslash and quote escaped once more.
    assert!(
        text.contains(r#"arrays_total{arr="[\"q\\\"x\",\"n\\nl\",\"b\\\\\"]"} 1"#),
        "{text}"
    );
}

#[test]
fn the_exposition_follows_the_accept_header() {
    let om = prometheus_exposition(Some("application/openmetrics-text; version=1.0.0"));
    assert_eq!(
        om.content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    // A quality of 0 is "not acceptable", the parameter's name in any case.
    for accept in [
        None,
        Some("text/plain;version=0.0.4"),
        Some("*/*"),
        Some("application/openmetrics-text;Q=0, text/plain"),
        // A parameter starting with a character of several bytes: no panic.
        Some("text/plain;€=1"),
    ] {
        let text = prometheus_exposition(accept);
        assert_eq!(
            text.content_type,
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert!(!text.body.contains("# EOF"), "{}", text.body);
    }
}

/// What the `prometheus_client` Python package's parser for `format` makes of `exposition`:
/// one `name type samples` line per family. `None` (after saying why) when the package is
/// not installed and no CI requires it.
fn reference_parse(format: Format, exposition: &str) -> Option<String> {
    use std::process::{Command, Stdio};
    let python =
        std::env::var("GODTRACE_PROMETHEUS_CLIENT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let has_parser = Command::new(&python)
        .args(["-c", "import prometheus_client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_parser {
        let required = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
            || std::env::var("GODTRACE_REQUIRE_E2E").as_deref() == Ok("1");
        assert!(
            !required,
            "{python} cannot import prometheus_client: scripts/backends/prometheus_client.sh \
             installs it and sets GODTRACE_PROMETHEUS_CLIENT_PYTHON"
        );
        println!(
            "skipped: {python} cannot import prometheus_client (run scripts/test, or set \
             GODTRACE_PROMETHEUS_CLIENT_PYTHON to a python that can)"
        );
        return None;
    }
    let module = match format {
        Format::Text => "prometheus_client.parser",
        Format::OpenMetrics => "prometheus_client.openmetrics.parser",
    };
    let script = format!(
        "import sys\nfrom {module} import text_string_to_metric_families as parse\n\
         for f in parse(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n"
    );
    let mut child = Command::new(&python)
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{module} rejects:\n{exposition}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn the_reference_parsers_accept_both_formats() {
    let mut awkward = sample();
    // (The duration histogram is in both.)
    awkward
        .metrics
        .extend(clashing().metrics.into_iter().skip(1));
    awkward.metrics.push(MetricData {
        description: "line one\nline \\ two".into(),
        ..histogram(
            "odd.labels",
            "",
            vec![
                KeyValue::new("le", "x"),
                KeyValue::new("a.b", "back\\slash"),
                KeyValue::new("a_b", "new\nline"),
                KeyValue::new("9lives", "\"quoted\""),
            ],
            1e300,
        )
    });
    let families = "\
godtrace_operation_duration_seconds histogram 5
nft_mints counter 1
orders_placed counter 1
latency histogram 4
hits counter 1
odd_labels histogram 4
";
    for format in [Format::Text, Format::OpenMetrics] {
        let exposition = render(&awkward, format, &mut with_duration());
        let Some(parsed) = reference_parse(format, &exposition) else {
            return;
        };
        assert_eq!(parsed, families, "{format:?}:\n{exposition}");
        // And what the process serves now, whatever the other tests recorded.
        let _ = reference_parse(format, &render_registry(format));
    }
}

/// The lines of `points` (no `# HELP` or `# TYPE`), in `format`, under the name `name`.
fn series_lines(name: &str, points: MetricPoints, format: Format) -> Vec<String> {
    let snapshot = MetricsSnapshot {
        metrics: vec![MetricData {
            name: name.into(),
            description: String::new(),
            unit: String::new(),
            points,
        }],
    };
    render(&snapshot, format, &mut Families::default())
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_line_of_a_series_is_longer_than_its_bound_and_there_are_as_many_as_counted() {
    use crate::metrics::series::{CounterSeries, ValueSeries, rendered_line_bound};
    use opentelemetry::{Array, StringValue, Value};
    let name = format!("m{}", "x".repeat(254));
    let escaped = "\"\\\n".repeat(85);
    let extremes = [
        f64::MIN_POSITIVE / 2.0,
        -f64::MAX,
        -1.234_567_890_123_456_7e-8,
        0.0,
    ];
    let mut attributes: Vec<KeyValue> = (0..26)
        .map(|i| KeyValue::new(format!("{i:02}{}", "k".repeat(254)), escaped.clone()))
        .collect();
    attributes.push(KeyValue::new("le", -f64::MAX));
    attributes.push(KeyValue::new("2nd", i64::MIN));
    let floats: Vec<f64> = extremes.iter().cycle().take(32).copied().collect();
    attributes.push(KeyValue::new("floats", Value::Array(Array::F64(floats))));
    let strings: Vec<StringValue> = (0..32)
        .map(|_| StringValue::from("\u{1}\"\\\u{1f}"))
        .collect();
    attributes.push(KeyValue::new(
        "strings",
        Value::Array(Array::String(strings)),
    ));
    attributes.push(KeyValue::new(
        "ints",
        Value::Array(Array::I64(vec![i64::MIN; 32])),
    ));
    let ex = Exemplar {
        trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
        value: f64::MIN_POSITIVE / 2.0,
        time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    };
    let bounds: Vec<f64> = extremes
        .iter()
        .map(|b| b.abs())
        .filter(|b| *b > 0.0)
        .collect();
    let mut bounds = bounds;
    bounds.sort_by(f64::total_cmp);
    let histogram = ValueSeries::new(attributes.clone(), bounds.into());
    histogram.record(f64::MAX, None);
    histogram.record(f64::MAX, None);
    let mut point = histogram.snapshot();
    point.exemplars = vec![Some(ex); point.bucket_counts.len()];
    let counter = CounterSeries::new(attributes.clone());
    counter.add(f64::MIN_POSITIVE / 2.0);
    let bound = rendered_line_bound(&name, &attributes);
    for format in [Format::Text, Format::OpenMetrics] {
        let h = series_lines(&name, MetricPoints::Histogram(vec![point.clone()]), format);
        assert_eq!(h.len(), histogram.scrape_lines(), "{format:?}");
        let c = series_lines(
            &name,
            MetricPoints::Counter(vec![counter.snapshot()]),
            format,
        );
        assert_eq!(c.len(), counter.scrape_lines(), "{format:?}");
        for line in h.iter().chain(&c) {
            assert!(
                line.len() < bound, // and its newline
                "{format:?}: {} > {bound}: {line}",
                line.len() + 1
            );
        }
    }
}

#[test]
fn numbers_are_written_in_at_most_26_characters() {
    for v in [
        f64::MIN_POSITIVE / 2.0,
        -f64::MAX,
        -1.234_567_890_123_456_7e-7,
        1e21,
        -0.5,
    ] {
        let text = number(v);
        assert!(text.len() <= 26, "{text}");
        assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
    }
    assert_eq!(number(0.0005), "0.0005");
    assert_eq!(number(1e300), "1e300");
}

#[test]
fn a_scrape_of_a_budgeted_metric_is_bounded_by_its_budget() {
    use crate::metrics::series::ValueSeries;
    use crate::metrics::table::{Budget, SeriesTable};
    static BUDGET: Budget = Budget::new(1 << 20);
    let table = SeriesTable::budgeted("render.tests.wide", &BUDGET);
    let bounds: std::sync::Arc<[f64]> = crate::metrics::buckets::DEFAULT_BOUNDS.into();
    for i in 0..1000 {
        // 32 attributes of 256-byte keys and values that each escape to twice their size.
        let set: Vec<KeyValue> = (0..32)
            .map(|k| KeyValue::new(format!("{k:02}{i:04}{}", "k".repeat(250)), "\"".repeat(256)))
            .collect();
        table
            .get_or_insert(&set, |attrs| ValueSeries::new(attrs, bounds.clone()))
            .record(1.0, None);
    }
    let points = table.series().iter().map(|s| s.snapshot()).collect();
    let lines = series_lines(
        "render.tests.wide",
        MetricPoints::Histogram(points),
        Format::Text,
    );
    let scrape: usize = lines.iter().map(|line| line.len() + 1).sum();
    assert!(scrape <= 1 << 20, "a scrape of {scrape} bytes");
}

/// The resource is one `target_info` series (OpenTelemetry's Prometheus compatibility rules),
/// an info metric in OpenMetrics and a gauge in the text format, which both reference parsers
/// read; an instrument cannot take its names.
#[test]
fn the_resource_is_exposed_as_target_info() {
    let resource = [
        KeyValue::new("service.name", "wallet \"scanner\""),
        KeyValue::new("service.version", "1.2.0"),
    ];
    let text = target_info(&resource, Format::Text);
    assert_eq!(
        text,
        "# HELP target_info Target metadata\n# TYPE target_info gauge\n\
         target_info{service_name=\"wallet \\\"scanner\\\"\",service_version=\"1.2.0\"} 1\n"
    );
    let openmetrics = target_info(&resource, Format::OpenMetrics);
    assert!(openmetrics.contains("# TYPE target info\ntarget_info{service_name="));
    // Keys that make one label: their values in the order of the original keys, whatever
    // order the resource came in.
    let colliding = [
        KeyValue::new("zone", "eu"),
        KeyValue::new("service_name", "dup"),
        KeyValue::new("service.name", "svc"),
    ];
    assert!(
        target_info(&colliding, Format::Text)
            .contains("target_info{service_name=\"svc;dup\",zone=\"eu\"} 1\n"),
        "{}",
        target_info(&colliding, Format::Text)
    );
    assert_eq!(target_info(&[], Format::Text), "");
    for (format, exposition, family) in [
        (Format::Text, text, "target_info gauge 1\n"),
        (
            Format::OpenMetrics,
            openmetrics + "# EOF\n",
            "target info 1\n",
        ),
    ] {
        if let Some(parsed) = reference_parse(format, &exposition) {
            assert_eq!(parsed, family, "{exposition}");
        }
    }
    let taken = MetricsSnapshot {
        metrics: vec![counter("target.info", 1.0), counter("target", 2.0)],
    };
    assert_eq!(render(&taken, Format::Text, &mut with_duration()), "");
}

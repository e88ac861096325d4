//! `cargo run --example transaction_pipeline`: the scanner guide's pipeline. Without an
//! endpoint it prints one tree per transaction; with one it prints each trace's Jaeger link
//! (and, under scripts/test, the spans are read back from the real backend).
use crate::support::db;
use crate::support::e2e as e2e_support;
use crate::support::examples as examples_support;

use examples_support::{Tree, closed_port, local, parse_trees, run};
use std::collections::HashSet;

const STAGES: [&str; 7] = [
    "transaction.analyze",
    "wallet.analyze",
    "pattern.detect",
    "pattern.detect",
    "pattern.detect",
    "risk.score",
    "graph.traverse",
];

#[test]
fn prints_one_tree_per_transaction_with_every_stage_nested_and_the_failing_wallet_marked() {
    let (stdout, stderr) = run(local("transaction_pipeline"));
    let trees = parse_trees(&stderr);
    assert_eq!(trees.len(), 3, "one tree per transaction:\n{stderr}");
    for tree in &trees {
        assert_eq!(tree.root().name, "scanner.full_analysis", "{tree:#?}");
        assert!(tree.root().attr("transaction.signature").is_some());
        // The outcome line of each transaction names its trace.
        assert!(
            stdout.contains(&format!("trace id: {}", tree.trace_id)),
            "{stdout}"
        );
    }
    let (ok, failed): (Vec<&Tree>, Vec<&Tree>) =
        trees.iter().partition(|t| t.root().error.is_none());
    assert_eq!((ok.len(), failed.len()), (2, 1), "{stderr}");

    for tree in ok {
        assert_eq!(tree.children_of(tree.root()), STAGES, "{tree:#?}");
        let patterns: HashSet<&str> = tree
            .named("pattern.detect")
            .iter()
            .map(|n| n.attr("pattern.type").expect("pattern.type"))
            .collect();
        assert_eq!(
            patterns,
            HashSet::from(["dev_insider", "sybil_army", "wash_trading"])
        );
        for detect in tree.named("pattern.detect") {
            let confidence: f64 = detect
                .attr("detection.confidence")
                .unwrap()
                .parse()
                .unwrap();
            assert!((0.0..=1.0).contains(&confidence));
        }
        let risk = tree.one("risk.score");
        assert!(risk.attr("risk.score").unwrap().parse::<f64>().is_ok());
        assert!(["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&risk.attr("alert.level").unwrap()));
        assert_eq!(
            tree.children_of(tree.one("transaction.analyze")),
            ["rpc.get_transaction"]
        );
        assert_eq!(
            tree.children_of(tree.one("wallet.analyze")),
            ["rpc.get_account_info", "db.wallet_history"]
        );
        // The hops run as spawned tasks and still nest under the traversal.
        let traverse = tree.one("graph.traverse");
        assert_eq!(traverse.attr("graph.depth"), Some("3"));
        assert_eq!(tree.children_of(traverse), ["graph.hop"; 3]);
        let hops: i64 = tree
            .named("graph.hop")
            .iter()
            .map(|h| h.attr("nodes.discovered").unwrap().parse::<i64>().unwrap())
            .sum();
        assert_eq!(
            traverse.attr("nodes.discovered"),
            Some(hops.to_string().as_str())
        );
        for node in &tree.nodes {
            assert!(node.error.is_none(), "{node:?}");
        }
    }

    // The CRITICAL wallet raised an alert.
    let critical = trees
        .iter()
        .find(|t| {
            t.nodes
                .iter()
                .any(|n| n.attr("alert.level") == Some("CRITICAL"))
        })
        .expect("one wallet scores CRITICAL");
    let dispatch = critical.one("alert.dispatch");
    assert_eq!(critical.parent_name(dispatch), Some("risk.score"));
    assert_eq!(dispatch.events, ["alert.raised"]);

    // The failing wallet: marked at the RPC, the analysis and the root; the pipeline stopped.
    let failed = failed[0];
    let expected = "RPC getAccountInfo timed out after 3 attempts";
    assert_eq!(failed.root().error.as_deref(), Some(expected));
    assert_eq!(
        failed.one("wallet.analyze").error.as_deref(),
        Some(expected)
    );
    let rpc = failed.one("rpc.get_account_info");
    assert_eq!(rpc.error.as_deref(), Some(expected));
    assert_eq!(rpc.events, ["rpc.retry"; 3]);
    assert!(failed.named("pattern.detect").is_empty(), "{failed:#?}");
    assert!(
        failed
            .root()
            .attr("wallet.address")
            .unwrap()
            .contains("Timeout")
    );

    assert!(
        stdout.contains("analysis failed: RPC getAccountInfo timed out"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 transactions analysed, 1 failed"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("view at:"),
        "no link without an endpoint:\n{stdout}"
    );
}

/// The trace ids of the outcome lines, and the links printed under them.
fn ids_and_links(stdout: &str) -> (Vec<String>, Vec<String>) {
    let ids = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("trace id: "))
        .map(str::to_owned)
        .collect();
    let links = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("view at:"))
        .map(|l| l.trim().to_owned())
        .collect();
    (ids, links)
}

#[test]
fn with_an_endpoint_it_exports_and_prints_each_traces_jaeger_link() {
    let mut cmd = local("transaction_pipeline");
    let phoenix = e2e_support::phoenix();
    let project = e2e_support::unique_project("example-pipeline");
    match &phoenix {
        Some(p) => {
            cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", &p.http)
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .env("OTEL_METRICS_EXPORTER", "none")
                .env(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    format!("openinference.project.name={project}"),
                );
        }
        None => {
            // Nothing listens there: the export fails (quickly), the links are printed anyway.
            cmd.env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", closed_port()),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
            .env("OTEL_BSP_EXPORT_TIMEOUT", "2000");
        }
    }
    cmd.env("GODTRACE_JAEGER_UI", "http://jaeger.test:16686/");
    let (stdout, stderr) = run(cmd);
    assert!(
        parse_trees(&stderr).is_empty(),
        "no local tree when exporting:\n{stderr}"
    );
    let (ids, links) = ids_and_links(&stdout);
    assert_eq!(ids.len(), 3, "{stdout}");
    let expected: Vec<String> = ids
        .iter()
        .map(|id| format!("http://jaeger.test:16686/trace/{id}"))
        .collect();
    assert_eq!(links, expected, "{stdout}");

    let Some(phoenix) = phoenix else { return };
    let mut failed = 0;
    for id in &ids {
        let spans = phoenix.wait_for(&project, Some(id), |s| {
            s.iter().any(|s| s["name"] == "scanner.full_analysis")
        });
        let root = e2e_support::named(&spans, "scanner.full_analysis");
        assert!(root["parent_id"].is_null(), "{root:#}");
        assert!(root["attributes"]["wallet.address"].is_string(), "{root:#}");
        if root["status_code"] == "ERROR" {
            failed += 1;
            let wallet = e2e_support::named(&spans, "wallet.analyze");
            assert_eq!(wallet["parent_id"], root["context"]["span_id"]);
            assert_eq!(wallet["status_code"], "ERROR");
        } else {
            let spans = phoenix.wait_for(&project, Some(id), |s| {
                s.iter().any(|s| s["name"] == "graph.hop")
                    && s.iter().filter(|s| s["name"] == "graph.hop").count() == 3
            });
            let risk = e2e_support::named(&spans, "risk.score");
            assert_eq!(risk["parent_id"], root["context"]["span_id"]);
            assert!(risk["attributes"]["risk.score"].is_f64(), "{risk:#}");
            let traverse = e2e_support::named(&spans, "graph.traverse");
            assert_eq!(traverse["attributes"]["graph.depth"], 3, "{traverse:#}");
            for hop in spans.iter().filter(|s| s["name"] == "graph.hop") {
                assert_eq!(hop["parent_id"], traverse["context"]["span_id"], "{hop:#}");
            }
        }
    }
    assert_eq!(failed, 1, "one wallet fails");
}

/// With `DATABASE_URL` and `REDIS_URL` (the servers `scripts/test` starts): the reports are
/// stored and the wallet profiles cached, each query and command a span of its transaction's
/// trace; a second run reads the profiles from the cache instead of the RPC.
#[test]
fn with_a_database_and_a_cache_it_stores_reports_and_caches_wallet_profiles() {
    let (Some(database_url), Some(redis_url)) = (db::database_url(), db::redis_url()) else {
        return;
    };
    let wallets = [
        "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
        "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
    ];
    let mut cache = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    for wallet in wallets {
        redis::cmd("DEL")
            .arg(format!("scanner:wallet-profile:{wallet}"))
            .exec(&mut cache)
            .unwrap();
    }
    // The server's clock, so that only the reports these runs store are counted.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = runtime
        .block_on(sqlx::PgPool::connect(&database_url))
        .unwrap();
    let started: f64 = runtime
        .block_on(sqlx::query_scalar("SELECT extract(epoch FROM now())::float8").fetch_one(&pool))
        .unwrap();
    let with_storage = || {
        let mut cmd = local("transaction_pipeline");
        cmd.env("DATABASE_URL", &database_url)
            .env("REDIS_URL", &redis_url);
        run(cmd)
    };

    let (stdout, stderr) = with_storage();
    assert!(
        stdout.contains("storing reports in PostgreSQL (DATABASE_URL)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("caching wallet profiles in Redis (REDIS_URL)"),
        "{stdout}"
    );
    let trees = parse_trees(&stderr);
    let ok: Vec<&Tree> = trees.iter().filter(|t| t.root().error.is_none()).collect();
    assert_eq!(ok.len(), 2, "{stderr}");
    for tree in ok {
        assert_eq!(
            tree.children_of(tree.one("wallet.analyze")),
            ["GET", "rpc.get_account_info", "db.wallet_history", "SET"],
            "a cache miss, then the profile cached:\n{stderr}"
        );
        let store = tree.one("report.store");
        assert_eq!(tree.parent_name(store), Some("scanner.full_analysis"));
        assert_eq!(tree.children_of(store), ["INSERT scanner_reports"]);
        let insert = tree.one("INSERT scanner_reports");
        assert_eq!(insert.attr("db.system.name"), Some("postgresql"));
    }

    let (_, stderr) = with_storage();
    for tree in parse_trees(&stderr)
        .iter()
        .filter(|t| t.root().error.is_none())
    {
        assert_eq!(
            tree.children_of(tree.one("wallet.analyze")),
            ["GET"],
            "the second run reads the cached profile:\n{stderr}"
        );
    }

    let stored: i64 = runtime
        .block_on(
            sqlx::query_scalar(
                "SELECT count(*) FROM scanner_reports WHERE wallet = ANY($1) \
             AND extract(epoch FROM analysed_at) >= $2",
            )
            .bind(&wallets[..])
            .bind(started)
            .fetch_one(&pool),
        )
        .unwrap();
    assert_eq!(
        stored, 2,
        "one report per analysed transaction, stored by these runs"
    );
}

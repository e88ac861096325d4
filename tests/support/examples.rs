//! Shared by the example suites: runs an example binary and reads back the trees it printed.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Environment variables that would make an example export instead of printing its trees.
pub const EXPORT_VARS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SDK_DISABLED",
];

/// `cargo test` builds the examples beside the test binaries: target/<profile>/examples/.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = profile_dir.join("examples").join(name);
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: plain `cargo test` builds the examples, `cargo test --test X` \
                 does not (run `cargo build --examples` first)",
                path.display()
            )
        });
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    if let Ok(edited) = std::fs::metadata(&source).and_then(|m| m.modified()) {
        assert!(
            edited <= built,
            "{} is older than {}: run `cargo build --examples` (or plain `cargo test`)",
            path.display(),
            source.display()
        );
    }
    path
}

/// A command for example `name` with no exporter configured (so it prints its trees).
pub fn local(name: &str) -> Command {
    let mut cmd = Command::new(example(name));
    for var in EXPORT_VARS {
        cmd.env_remove(var);
    }
    cmd.env_remove("GODTRACE_JAEGER_UI");
    // The transaction_pipeline example stores and caches only when these are set.
    cmd.env_remove("DATABASE_URL");
    cmd.env_remove("REDIS_URL");
    cmd
}

/// Runs `cmd` and insists it succeeded; returns (stdout, stderr).
pub fn run(mut cmd: Command) -> (String, String) {
    let out: Output = cmd.output().expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// One span line of a printed tree, with the attribute and event lines under it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// 0 for a root.
    pub depth: usize,
    /// The index of the parent node in [`Tree::nodes`].
    pub parent: Option<usize>,
    /// The error description after `✗`, if the span failed.
    pub error: Option<String>,
    pub attrs: Vec<(String, String)>,
    pub events: Vec<String>,
}

impl Node {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One printed trace: `trace <id>` and its span lines.
#[derive(Debug, Clone)]
pub struct Tree {
    pub trace_id: String,
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The root span (the first line).
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    /// Every node named `name`.
    pub fn named(&self, name: &str) -> Vec<&Node> {
        self.nodes.iter().filter(|n| n.name == name).collect()
    }

    /// The one node named `name`.
    pub fn one(&self, name: &str) -> &Node {
        let found = self.named(name);
        assert_eq!(found.len(), 1, "one {name:?} expected in {self:#?}");
        found[0]
    }

    /// The names of the children of `parent`.
    pub fn children_of(&self, parent: &Node) -> Vec<&str> {
        let index = self
            .nodes
            .iter()
            .position(|n| std::ptr::eq(n, parent))
            .expect("a node of this tree");
        self.nodes
            .iter()
            .filter(|n| n.parent == Some(index))
            .map(|n| n.name.as_str())
            .collect()
    }

    /// The name of the parent of `node`.
    pub fn parent_name(&self, node: &Node) -> Option<&str> {
        node.parent.map(|i| self.nodes[i].name.as_str())
    }
}

/// Reads every tree the local exporter printed (other lines are ignored).
pub fn parse_trees(text: &str) -> Vec<Tree> {
    let mut trees: Vec<Tree> = Vec::new();
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("trace ") {
            trees.push(Tree {
                trace_id: id.trim().to_owned(),
                nodes: Vec::new(),
            });
            continue;
        }
        let Some(tree) = trees.last_mut() else {
            continue;
        };
        let body = line.trim_start_matches([' ', '│']);
        if let Some(attr) = body.strip_prefix("· ") {
            if let (Some(node), Some((k, v))) = (tree.nodes.last_mut(), attr.split_once(" = ")) {
                node.attrs.push((k.to_owned(), v.to_owned()));
            }
            continue;
        }
        if let Some(event) = body.strip_prefix("! ") {
            if let Some(node) = tree.nodes.last_mut() {
                node.events.push(event.to_owned());
            }
            continue;
        }
        let Some(branch) = ["├─ ", "└─ "].iter().find_map(|b| line.find(b)) else {
            continue;
        };
        let depth = line[..branch].chars().count() / 3;
        let rest = &line[branch + "├─ ".len()..];
        let name = rest.split("  ").next().unwrap_or_default().to_owned();
        let error = rest.split_once("✗ ").map(|(_, e)| e.trim().to_owned());
        let parent = tree.nodes.iter().rposition(|n| n.depth + 1 == depth);
        tree.nodes.push(Node {
            name,
            depth,
            parent: if depth == 0 { None } else { parent },
            error,
            attrs: Vec::new(),
            events: Vec::new(),
        });
    }
    trees
}

/// `key=value` fields of a line such as `risk-service: request wallet=… trace_id=…`.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// A loopback port held, bound but not listening, for as long as this lives: a connection
/// to it is refused, and no other test's listener can take it meanwhile (as it may take a
/// port that was merely closed, when tests run in parallel).
pub struct RefusingPort(#[allow(dead_code)] tokio::net::TcpSocket, u16);

impl RefusingPort {
    pub fn new() -> RefusingPort {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        RefusingPort(socket, port)
    }

    pub fn port(&self) -> u16 {
        self.1
    }
}

/// A free loopback port with nothing listening on it (for an endpoint that refuses).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

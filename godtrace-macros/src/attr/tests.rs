//! The option table is complete: every row parses, is checked for duplicates, and is
//! documented where users read about options.
use super::*;

fn parse(text: &str) -> Options {
    Options::parse(text.parse().expect("tokens"))
}

fn messages(options: &Options) -> Vec<String> {
    options.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn near_misses_are_suggested() {
    assert_eq!(nearest("inclde_args"), Some("include_args"));
    assert_eq!(nearest("operaton"), Some("operation"));
    assert_eq!(nearest("include_duraton"), Some("include_duration"));
    assert_eq!(nearest("verbose"), None);
    // One word of one option names it; of several, none.
    assert_eq!(nearest("sample"), Some("sample_rate"));
    assert_eq!(nearest("result"), Some("include_result"));
    assert_eq!(nearest("include"), None);
}

/// Every row of the table is an option `apply` knows: its example parses without error.
#[test]
fn every_option_in_the_table_parses() {
    for (name, _, example) in TABLE {
        let options = parse(example);
        assert!(
            options.errors.is_empty(),
            "{name}: {:?}",
            messages(&options)
        );
    }
}

/// Every option, written twice, is reported once at its second name.
#[test]
fn every_option_given_twice_is_an_error() {
    for (name, _, example) in TABLE {
        let options = parse(&format!("{example}, {example}"));
        assert_eq!(
            messages(&options),
            [format!("`{name}` is given more than once")],
            "{name}"
        );
    }
}

#[test]
fn unknown_options_list_every_valid_one() {
    let options = parse("verbose");
    let message = messages(&options).join("\n");
    for (_, syntax, _) in TABLE {
        assert!(message.contains(syntax), "{syntax} missing from: {message}");
    }
}

/// Where users read about the options: each one has a row in the README's table and in
/// the attribute's own documentation, and is written in the UI case that compiles every
/// option.
#[test]
fn every_option_is_documented_and_compiled() {
    let tables = [
        ("README.md", include_str!("../../../README.md")),
        ("src/lib.rs", include_str!("../../../src/lib.rs")),
    ];
    let pass = include_str!("../../tests/ui/pass/options.rs");
    for (name, _, _) in TABLE {
        for (file, text) in tables {
            let row = text.lines().any(|line| {
                let line = line.trim_start_matches(['/', '!', ' ']);
                line.starts_with(&format!("| `{name}"))
            });
            assert!(
                row,
                "option `{name}` has no row in the options table of {file}"
            );
        }
        let compiled = pass
            .lines()
            .filter(|line| line.contains("traced("))
            .any(|line| written_in(line, name));
        assert!(
            compiled,
            "option `{name}` is not compiled by godtrace-macros/tests/ui/pass/options.rs"
        );
    }
}

/// Whether `line` writes the option `name` (a whole word followed by `=`, `(`, `,` or `)`).
fn written_in(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].trim_start().chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && matches!(after, Some('=' | '(' | ',' | ')'))
    })
}

#[test]
fn field_names_are_bounded_and_dotted() {
    let long = "a".repeat(257);
    let options = parse(&format!("fields({long} = 1)"));
    assert_eq!(
        messages(&options),
        ["field name is 257 bytes long; at most 256"]
    );
    let options = parse("fields(r#type.name = 1, http.request.method = 2)");
    let keys: Vec<&str> = options
        .fields
        .get()
        .iter()
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(keys, ["type.name", "http.request.method"]);
}

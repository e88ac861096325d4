use super::*;

fn text(sql: &str) -> String {
    summarize(sql, Some(4096)).text.unwrap()
}

fn op_and_table(sql: &str) -> (Option<String>, Option<String>) {
    let s = summarize(sql, None);
    (s.operation, s.collection)
}

fn some(op: &str, table: Option<&str>) -> (Option<String>, Option<String>) {
    (Some(op.to_owned()), table.map(str::to_owned))
}

#[test]
fn literals_become_placeholders_and_parameters_stay() {
    assert_eq!(
        text("SELECT * FROM wallets WHERE id = 42 AND name = 'alice' AND k = $1"),
        "SELECT * FROM wallets WHERE id = ? AND name = ? AND k = $1"
    );
    assert_eq!(
        text("INSERT INTO t (a, b, c) VALUES (3.5e-3, 'it''s', .5)"),
        "INSERT INTO t (a, b, c) VALUES (?, ?, ?)"
    );
    assert_eq!(text("select 0x1F, -7"), "select ?, -?");
    assert_eq!(text("SELECT x::int FROM t2"), "SELECT x::int FROM t2");
}

#[test]
fn prefixed_and_dollar_quoted_strings_are_values() {
    assert_eq!(
        text(r"SELECT E'a\'secret', B'0101', X'ff', N'n', U&'d\0061'"),
        "SELECT ?, ?, ?, ?, ?"
    );
    assert_eq!(
        text("SELECT $$pass 'word'$$, $tag$ has $$ inside $tag$ FROM t"),
        "SELECT ?, ? FROM t"
    );
    // `$1` is a parameter; `a$b` is an identifier.
    assert_eq!(
        text("SELECT a$b FROM t WHERE x = $12"),
        "SELECT a$b FROM t WHERE x = $12"
    );
}

/// A prefixed string's body starts right after its quote: reading it one character late
/// put the quotes out of step, and the next literal was kept as SQL.
#[test]
fn empty_and_escape_led_prefixed_strings_end_where_they_end() {
    for sql in [
        "UPDATE t SET a = E'', b = 1 WHERE a = 'hunter2-s3cr3t'",
        "SELECT N'', 's3cr3t'",
        "SELECT B'', 's3cr3t'",
        "SELECT X'', 's3cr3t'",
        "SELECT U&'', 's3cr3t'",
        r"SELECT E'\\' AS backslash, 'p@ss s3cr3t' AS pw",
        r"SELECT E'\'' AS quote, 's3cr3t' AS pw",
        r"SELECT E'\'s3cr3t'",
        "SELECT E'', 'message from s3cr3t_device' AS m",
    ] {
        let summary = summarize(sql, Some(4096));
        let text = summary.text.unwrap();
        assert!(!text.contains("s3cr3t"), "{sql} -> {text}");
        let collection = summary.collection.unwrap_or_default();
        assert!(!collection.contains("s3cr3t"), "{sql} -> {collection}");
    }
    assert_eq!(text("SELECT E'', 'x' FROM t"), "SELECT ?, ? FROM t");
    assert_eq!(text(r"SELECT E'\'', 'x'"), "SELECT ?, ?");
}

/// PostgreSQL reads a setting's value as a string even when it is written as a word.
#[test]
fn a_settings_value_is_a_value_even_as_a_word() {
    assert_eq!(
        text("SET application_name = s3cr3t"),
        "SET application_name = ?"
    );
    assert_eq!(
        text(r#"SET SESSION myapp.token TO "s3cr3t"; SELECT a FROM t"#),
        "SET SESSION myapp.token TO ?; SELECT a FROM t"
    );
    assert_eq!(
        text("ALTER ROLE probe SET myapp.token = s3cr3t"),
        "ALTER ROLE probe SET myapp.token = ?"
    );
    assert_eq!(
        text("ALTER SYSTEM SET work_mem TO '64MB'"),
        "ALTER SYSTEM SET work_mem TO ?"
    );
    // A function's or procedure's `SET` clause is a setting too.
    for (sql, sanitized) in [
        (
            "ALTER FUNCTION f() SET myapp.token = s3cr3t",
            "ALTER FUNCTION f() SET myapp.token = ?",
        ),
        (
            "ALTER PROCEDURE p SET myapp.token TO s3cr3t",
            "ALTER PROCEDURE p SET myapp.token TO ?",
        ),
        (
            "ALTER ROUTINE r SET myapp.token = s3cr3t",
            "ALTER ROUTINE r SET myapp.token = ?",
        ),
    ] {
        assert_eq!(text(sql), sanitized);
    }
    // `TIME ZONE` takes its value with neither `=` nor `TO`.
    assert_eq!(text("SET TIME ZONE s3cr3t"), "SET TIME ZONE ?");
    assert_eq!(
        text("SET LOCAL TIME ZONE s3cr3t; SELECT a FROM t"),
        "SET LOCAL TIME ZONE ?; SELECT a FROM t"
    );
    assert_eq!(
        text("SELECT a AT TIME ZONE b FROM t"),
        "SELECT a AT TIME ZONE b FROM t"
    );
    let created =
        text("CREATE OR REPLACE FUNCTION f() RETURNS int SET myapp.token = s3cr3t AS 'SELECT 1'");
    assert!(!created.contains("s3cr3t"), "{created}");
    // Elsewhere a word after `=` is a column.
    assert_eq!(
        text("UPDATE t SET a = b WHERE c = d"),
        "UPDATE t SET a = b WHERE c = d"
    );
    assert_eq!(
        text("ALTER TABLE t ALTER COLUMN c SET DEFAULT now()"),
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT now()"
    );
    assert_eq!(
        op_and_table("ALTER TABLE t RENAME TO u"),
        some("ALTER TABLE", Some("t"))
    );
}

#[test]
fn comments_are_dropped_and_whitespace_collapsed() {
    assert_eq!(
        text("  SELECT /* token 'x' /* nested */ still */ a -- password=hunter2\n\n FROM\tt  "),
        "SELECT a FROM t"
    );
}

/// A `-` after a number's `e` is its exponent's sign only before a digit (as PostgreSQL reads
/// it), and a hex, octal or binary number (its prefix in either case) has no exponent: else
/// the first `-` of a `--` comment was read as the number's, and the comment kept as SQL.
#[test]
fn a_comment_right_after_a_number_is_dropped() {
    for (sql, sanitized) in [
        ("SELECT 0X1E--SECRET11 comment\n", "SELECT ?"),
        ("SELECT 0X1E+1, 0x1E--SECRET12\n", "SELECT ?+?, ?"),
        ("SELECT 1e--SECRET13\n", "SELECT ?"),
        ("SELECT 1.e-3--SECRET34\n", "SELECT ?"),
        ("SELECT 1e+9--SECRET36\n", "SELECT ?"),
        ("SELECT 0XABCDE--SECRET37\n", "SELECT ?"),
        ("SELECT 0XE-1--SECRET38\n", "SELECT ?-?"),
        ("SELECT 0O17--SECRET\n, 0B101E--SECRET\n", "SELECT ? , ?"),
        ("SELECT 2E+--SECRET\n", "SELECT ?+"),
        ("SELECT .5e-3, .5E--SECRET\n", "SELECT ?, ?"),
        ("SELECT 1e-/*SECRET*/2", "SELECT ?- ?"),
    ] {
        assert_eq!(text(sql), sanitized, "{sql:?}");
    }
    // An exponent with its sign is still one value.
    assert_eq!(text("SELECT 1.5e-3, 2E+10, 1e5"), "SELECT ?, ?, ?");
}

#[test]
fn quoted_identifiers_and_non_ascii_are_kept() {
    assert_eq!(
        text(r#"SELECT "Wallet ""Age""" FROM "Ünïcode" WHERE note = 'ü'"#),
        r#"SELECT "Wallet ""Age""" FROM "Ünïcode" WHERE note = ?"#
    );
    assert_eq!(text("SELECT prénom FROM gens"), "SELECT prénom FROM gens");
}

#[test]
fn operation_and_first_table() {
    assert_eq!(
        op_and_table("select * from Wallets w join Wallets v on true"),
        some("select", Some("Wallets")),
        "operations and tables as written: the conventions ask for no case normalization"
    );
    assert_eq!(
        op_and_table("select 1 from t; SELECT 2 from t"),
        some("select", Some("t")),
        "one kind of operation, in any case"
    );
    assert_eq!(
        op_and_table("SELECT count(*) FROM public.wallets"),
        some("SELECT", Some("public.wallets"))
    );
    assert_eq!(
        op_and_table(r#"SELECT 1 FROM "My Schema"."T""#),
        some("SELECT", Some(r#""My Schema"."T""#))
    );
    assert_eq!(
        op_and_table("INSERT INTO scans (id) VALUES (1)"),
        some("INSERT", Some("scans"))
    );
    assert_eq!(
        op_and_table("UPDATE ONLY scans SET a = 1"),
        some("UPDATE", Some("scans"))
    );
    assert_eq!(
        op_and_table("DELETE FROM scans WHERE a = 1"),
        some("DELETE", Some("scans"))
    );
    assert_eq!(
        op_and_table("CREATE TABLE IF NOT EXISTS scans (id int)"),
        some("CREATE TABLE", Some("scans"))
    );
    assert_eq!(
        op_and_table("CREATE UNLOGGED TABLE s2 (id int)"),
        some("CREATE TABLE", Some("s2"))
    );
    assert_eq!(
        op_and_table("DROP TABLE IF EXISTS s3"),
        some("DROP TABLE", Some("s3"))
    );
    assert_eq!(
        op_and_table("TRUNCATE TABLE s4"),
        some("TRUNCATE", Some("s4"))
    );
    assert_eq!(op_and_table("begin"), some("begin", None));
    assert_eq!(op_and_table("SELECT 1"), some("SELECT", None));
    // Every statement counts: one operation and one table across both.
    assert_eq!(
        op_and_table("SELECT 1; SELECT * FROM later"),
        some("SELECT", Some("later"))
    );
}

fn summary(sql: &str) -> Option<String> {
    summarize(sql, None).summary
}

/// The conventions' query summary: every operation, each followed by the tables it
/// names, in order; `WITH` definitions are read but not listed, aliases are skipped.
#[test]
fn the_summary_lists_every_operation_and_table_in_order() {
    for (sql, expected) in [
        ("INSERT INTO o SELECT id, id FROM w", "INSERT o SELECT w"),
        (
            "SELECT w.name, o.id FROM w JOIN o ON w.id = o.w",
            "SELECT w o",
        ),
        (
            "SELECT * FROM w AS a, public.o b, \"Q\" WHERE 1 = 1",
            "SELECT w public.o \"Q\"",
        ),
        ("SELECT * FROM (SELECT 1) AS sub", "SELECT SELECT"),
        (
            "WITH x AS (SELECT * FROM w), y AS (DELETE FROM o RETURNING id) \
             UPDATE w SET a = 1 FROM x, y WHERE w.id = x.id",
            "SELECT w DELETE o UPDATE w",
        ),
        (
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n FROM t) SELECT n FROM t",
            "SELECT SELECT SELECT",
        ),
        (
            "SELECT * FROM a WHERE id IN (SELECT a_id FROM b)",
            "SELECT a SELECT b",
        ),
        (
            "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2",
            "INSERT t",
        ),
        ("SELECT * FROM t FOR UPDATE", "SELECT t"),
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "MERGE t s",
        ),
        (
            "CREATE TABLE t AS SELECT * FROM w",
            "CREATE TABLE t SELECT w",
        ),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW"),
        ("CREATE UNIQUE INDEX i ON t (a)", "CREATE INDEX"),
        ("TRUNCATE TABLE s4", "TRUNCATE s4"),
        ("SELECT * FROM generate_series(1, 3)", "SELECT"),
        ("SELECT a IS DISTINCT FROM b FROM t", "SELECT t"),
        ("begin", "begin"),
        ("drop Table T", "drop Table T"),
        ("Create index i ON t (a)", "Create index"),
        ("SELECT 1; DELETE FROM later", "SELECT DELETE later"),
    ] {
        assert_eq!(summary(sql).as_deref(), Some(expected), "{sql}");
    }
    // A statement in parentheses is read from its first word inside.
    for (sql, expected) in [
        ("(SELECT 1)", "SELECT"),
        (
            "(SELECT id FROM users) UNION (SELECT id FROM admins)",
            "SELECT users SELECT admins",
        ),
        ("((SELECT a FROM t)) ORDER BY 1", "SELECT t"),
    ] {
        assert_eq!(summary(sql).as_deref(), Some(expected), "{sql}");
    }
    assert_eq!(summary("('x')"), None);
    assert_eq!(summary(""), None);
}

/// Parentheses where a table would be (a subquery, a parenthesized join, a function's
/// arguments, an alias's column list) end at their `)`: what follows is read as after a
/// table, so a `FROM` list goes on after them and a parenthesized join's tables are all read.
#[test]
fn tables_after_parentheses_in_a_from_list_are_read() {
    for (sql, expected, table) in [
        ("SELECT * FROM (a JOIN b ON true)", "SELECT a b", None),
        (
            "SELECT * FROM a, (SELECT 1) s, b",
            "SELECT a SELECT b",
            None,
        ),
        ("SELECT * FROM a x(c), b", "SELECT a b", None),
        ("SELECT * FROM a AS x (c, d), b y", "SELECT a b", None),
        (
            "SELECT * FROM generate_series(1,3) g, b",
            "SELECT b",
            Some("b"),
        ),
        (
            "SELECT * FROM generate_series(1,3) AS g(n), b",
            "SELECT b",
            Some("b"),
        ),
        (
            "SELECT * FROM t1 JOIN (t2 JOIN t3 ON true) ON true",
            "SELECT t1 t2 t3",
            None,
        ),
        (
            "SELECT * FROM t1, (SELECT * FROM t2) s, t3",
            "SELECT t1 SELECT t2 t3",
            None,
        ),
        (
            "SELECT * FROM ROWS FROM (generate_series(1,2)) g",
            "SELECT",
            None,
        ),
        (
            "SELECT * FROM ROWS FROM (f(1), g(2)) AS r(a, b), t",
            "SELECT t",
            Some("t"),
        ),
        (
            "SELECT * FROM ((a JOIN b ON true) JOIN c ON true)",
            "SELECT a b c",
            None,
        ),
        (
            "SELECT * FROM ((SELECT 1)) s, b",
            "SELECT SELECT b",
            Some("b"),
        ),
        (
            "SELECT * FROM (VALUES (1), (2)) v(x), b",
            "SELECT b",
            Some("b"),
        ),
        (
            "SELECT * FROM a, LATERAL (SELECT 1) s, b",
            "SELECT a SELECT b",
            None,
        ),
        (
            "SELECT * FROM a, (WITH w AS (SELECT 1) SELECT * FROM w) s, b",
            "SELECT a SELECT SELECT b",
            None,
        ),
        ("SELECT * FROM (a) x, b", "SELECT a b", None),
        (
            "SELECT * FROM unnest($1) WITH ORDINALITY AS u(x, n), t",
            "SELECT t",
            Some("t"),
        ),
        ("DELETE FROM t USING u, v WHERE true", "DELETE t u v", None),
        // The list goes on after a join's condition and a sample clause, not past the `FROM`
        // clause nor inside brackets.
        (
            "SELECT * FROM a JOIN b ON a.id = b.id, c",
            "SELECT a b c",
            None,
        ),
        (
            "SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1), u",
            "SELECT t u",
            None,
        ),
        (
            "SELECT * FROM a JOIN b ON b.tags = ARRAY[a.x, a.y] WHERE a.k = 1 ORDER BY a.x, a.y",
            "SELECT a b",
            None,
        ),
        (
            "SELECT a, b FROM t GROUP BY a, b HAVING count(*) > 1 ORDER BY a, b",
            "SELECT t",
            Some("t"),
        ),
        (
            "UPDATE t SET a = 1, b = 2 FROM u JOIN v ON true, w WHERE true RETURNING a, b",
            "UPDATE t u v w",
            None,
        ),
        (
            "INSERT INTO t SELECT a FROM u ON CONFLICT (a) DO UPDATE SET a = 1, b = 2",
            "INSERT t SELECT u",
            None,
        ),
        (
            "SELECT * FROM (t) WHERE x IN (SELECT 1)",
            "SELECT t SELECT",
            Some("t"),
        ),
        // A join's `USING (..)` names columns, not tables; a `(` after an `INSERT`'s table
        // does too.
        (
            "SELECT * FROM t1 JOIN t2 USING (id) JOIN t3 USING (id)",
            "SELECT t1 t2 t3",
            None,
        ),
        ("INSERT INTO t AS x (a) VALUES (1)", "INSERT t", Some("t")),
        (
            "MERGE INTO t USING (SELECT * FROM s) AS s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "MERGE t SELECT s",
            None,
        ),
    ] {
        let read = summarize(sql, None);
        assert_eq!(read.summary.as_deref(), Some(expected), "{sql}");
        assert_eq!(read.collection.as_deref(), table, "{sql}");
    }
    // Deeply nested table parentheses (past what is tracked) still cost one pass, and the
    // tables before them are kept.
    let nested = "SELECT * FROM a, ".to_owned() + &"(".repeat(10_000) + "b" + &")".repeat(10_000);
    let read = summarize(&nested, None);
    assert!(read.summary.unwrap().starts_with("SELECT a b"));
}

/// Parentheses and `USING` that name no table, and names compared as PostgreSQL compares them:
/// a partition's bounds (`FOR VALUES FROM (MINVALUE)`) were read as a table, `USING` outside
/// `DELETE`/`MERGE` named an access method, an expression or `INDEX`, a parenthesized join
/// after `USING` lost its first table, a quoted `WITH` name was told from a table by its quotes
/// and case, and past 32 `WITH` names one was taken for the only table.
#[test]
fn only_tables_are_read_as_tables() {
    for (sql, expected, table) in [
        (
            "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (MINVALUE) TO (MAXVALUE)",
            "CREATE TABLE p1",
            Some("p1"),
        ),
        (
            "ALTER TABLE p ATTACH PARTITION p1 FOR VALUES FROM (MINVALUE) TO (10)",
            "ALTER TABLE p",
            Some("p"),
        ),
        (
            "CREATE TABLE h (a int) USING heap",
            "CREATE TABLE h",
            Some("h"),
        ),
        (
            "ALTER TABLE h ALTER COLUMN a TYPE bigint USING a::bigint",
            "ALTER TABLE h",
            Some("h"),
        ),
        (
            "MERGE INTO t0 USING (t1 JOIN t0 ON true) ON a = b WHEN MATCHED THEN DELETE",
            "MERGE t0 t1 t0",
            None,
        ),
        (
            "DELETE FROM orders USING (archived a JOIN orders o ON a.id = o.id) WHERE true",
            "DELETE orders archived orders",
            None,
        ),
        (
            "DELETE FROM t USING a JOIN b USING (id) WHERE true",
            "DELETE t a b",
            None,
        ),
        (
            "WITH \"recent\" AS (SELECT 1) SELECT * FROM recent",
            "SELECT SELECT",
            None,
        ),
        (
            "WITH \"Recent\" AS (SELECT 1) SELECT * FROM \"recent\"",
            "SELECT SELECT \"recent\"",
            Some("\"recent\""),
        ),
        (
            "WITH Recent AS (SELECT 1) SELECT * FROM RECENT",
            "SELECT SELECT",
            None,
        ),
    ] {
        let read = summarize(sql, None);
        assert_eq!(read.summary.as_deref(), Some(expected), "{sql}");
        assert_eq!(read.collection.as_deref(), table, "{sql}");
    }
    let ctes = (0..40)
        .map(|i| format!("c{i} AS (VALUES (1))"))
        .collect::<Vec<_>>()
        .join(", ");
    let read = summarize(&format!("WITH {ctes} SELECT * FROM c39"), None);
    assert_eq!(read.collection, None);
}

/// A query of several statements (`sqlx::raw_sql`, a simple query) runs them all: the
/// summary names each in order, and an operation or a table is named only when all of them
/// share it (the conventions: not read from a query with several operations).
#[test]
fn every_statement_of_a_query_is_in_its_summary() {
    let sql = "CREATE TABLE IF NOT EXISTS victims (x int); SELECT 1; DELETE FROM victims; \
               DROP TABLE victims";
    let read = summarize(sql, None);
    assert_eq!(
        read.summary.as_deref(),
        Some("CREATE TABLE victims SELECT DELETE victims DROP TABLE victims")
    );
    assert_eq!((read.operation, read.collection), (None, None));
    for (sql, expected) in [
        (
            "SELECT a FROM t; SET application_name = 'x'",
            "SELECT t SET",
        ),
        ("BEGIN; UPDATE w SET a = 1; COMMIT", "BEGIN UPDATE w COMMIT"),
        (";; SELECT 1 ;", "SELECT"),
        (
            "SELECT 'a;b' FROM t; DELETE FROM \"q;r\"",
            "SELECT t DELETE \"q;r\"",
        ),
        ("SELECT (1; DELETE FROM t", "SELECT"),
    ] {
        assert_eq!(summary(sql).as_deref(), Some(expected), "{sql}");
    }
    assert_eq!(
        op_and_table("DELETE FROM t WHERE a = 1; DELETE FROM t"),
        some("DELETE", Some("t"))
    );
    // An unknown statement leaves the query's operation unknown.
    assert_eq!(op_and_table("('x'); DELETE FROM t").0, None);
    assert_eq!(op_and_table("BEGIN; SELEC 1").0, None);
}

/// What is left unread (a full summary, or past the scan limit) may hold another operation:
/// the attributes do not claim there is one.
#[test]
fn statements_left_unread_leave_the_operation_unknown() {
    let sql = format!(
        "{}DROP TABLE accounts",
        "SELECT * FROM accounts; ".repeat(30)
    );
    assert_eq!(op_and_table(&sql), (None, None));
    let note = "x".repeat(MAX_SCAN_LEN);
    let sql = format!("SELECT * FROM accounts WHERE note = '{note}'; DELETE FROM accounts");
    assert_eq!(op_and_table(&sql), (None, None));
    // Without a `;` after the limit, nothing else can follow: a long insert stays one.
    let sql = format!("INSERT INTO notes VALUES ('{note}')");
    assert_eq!(op_and_table(&sql), some("INSERT", Some("notes")));
}

/// The conventions: with several operations or tables, `db.operation.name` and
/// `db.collection.name` are not read from the text (the summary names them all).
#[test]
fn operation_and_table_only_when_there_is_one() {
    for sql in [
        "INSERT INTO o SELECT id FROM w",
        "WITH x AS (SELECT * FROM w) UPDATE w SET a = 1 FROM x",
        "DELETE FROM scans WHERE a IN (SELECT b FROM c)",
    ] {
        assert_eq!(op_and_table(sql), (None, None), "{sql}");
    }
    for sql in [
        "SELECT w.name, o.id FROM w JOIN o ON true",
        "SELECT * FROM a, b",
        "SELECT (SELECT max(a) FROM inner_t) FROM outer_t",
    ] {
        assert_eq!(op_and_table(sql), some("SELECT", None), "{sql}");
    }
    assert_eq!(
        op_and_table("SELECT * FROM a WHERE id IN (SELECT id FROM a)"),
        some("SELECT", Some("a"))
    );
    assert_eq!(
        op_and_table("WITH x AS (SELECT 1) SELECT * FROM w JOIN x ON true"),
        some("SELECT", Some("w"))
    );
}

#[test]
fn the_summary_is_bounded_and_so_is_its_work() {
    let many = (0..200)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT * FROM {many}");
    let s = summarize(&sql, None);
    let text = s.summary.unwrap();
    assert!(text.len() <= MAX_SUMMARY_LEN, "{}", text.len());
    assert!(text.starts_with("SELECT t0 t1 t2"));
    assert_eq!(s.collection, None);
    // Long names: the one that does not fit is still counted.
    let long = |c: &str| c.repeat(MAX_COLLECTION_LEN);
    let sql = format!("SELECT * FROM {} JOIN {} ON true", long("a"), long("b"));
    let s = summarize(&sql, None);
    assert_eq!(s.summary, Some(format!("SELECT {}", long("a"))));
    assert_eq!(s.collection, None);
    // An operation whose table does not fit goes with it: the summary does not end with an
    // operation that seems to name no table.
    let statements: String = (0..200)
        .map(|i| format!("SELECT * FROM table_with_long_name_{i}; "))
        .collect();
    let text = summary(&statements).unwrap();
    assert!(text.len() <= MAX_SUMMARY_LEN, "{}", text.len());
    assert!(
        text.rsplit(' ')
            .next()
            .unwrap()
            .starts_with("table_with_long_name_"),
        "{text}"
    );
    // A statement after the first that does not fit whole is left out whole: none ends
    // having lost a table (`SELECT a b SELECT a`) or with its operation alone.
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    for statement in [
        format!("SELECT * FROM {a} JOIN {b} ON true; "),
        format!("INSERT INTO {a} SELECT * FROM {b}; "),
    ] {
        let text = summary(&statement.repeat(4)).unwrap();
        let whole = summary(&statement).unwrap();
        assert!(text.len() <= MAX_SUMMARY_LEN, "{}", text.len());
        let words: Vec<&str> = text.split(' ').collect();
        let units: Vec<String> = words
            .chunks(whole.split(' ').count())
            .map(|unit| unit.join(" "))
            .collect();
        assert!(units.iter().all(|unit| *unit == whole), "{text}");
    }
    // 10,000 nested parentheses, then a 1 MB query: one pass, no recursion.
    let nested =
        "SELECT ".to_owned() + &"(".repeat(10_000) + "SELECT 1 FROM deep" + &")".repeat(10_000);
    assert_eq!(summary(&nested).as_deref(), Some("SELECT SELECT deep"));
    let huge = "SELECT * FROM t WHERE a IN (".to_owned() + &"(SELECT 1), ".repeat(90_000) + "1)";
    assert!(huge.len() > 1_000_000);
    let started = std::time::Instant::now();
    let text = summary(&huge).unwrap();
    assert!(text.len() <= MAX_SUMMARY_LEN && text.starts_with("SELECT t SELECT SELECT"));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Under an attribute limit shorter than [`MAX_SUMMARY_LEN`], the summary is built to fit it
/// as at 255 bytes, at whole parts: cut by the limit, `SELECT pg_class` would end `pg_cl`.
#[test]
fn the_summary_is_built_to_a_shorter_cap_at_whole_parts() {
    let to = |sql: &str, cap| summarize_to(sql, cap, None).summary;
    let sql = "SELECT * FROM pg_class";
    assert_eq!(to(sql, 15).as_deref(), Some("SELECT pg_class"));
    // The table does not fit: its operation goes with it, as at 255 bytes.
    assert_eq!(to(sql, 12), None);
    let sql = "BEGIN; SELECT * FROM pg_class; COMMIT";
    assert_eq!(to(sql, 12).as_deref(), Some("BEGIN"));
    assert_eq!(to(sql, 21).as_deref(), Some("BEGIN SELECT pg_class"));
    for cap in 0..=MAX_SUMMARY_LEN {
        let statements = "SELECT * FROM wallets JOIN scans ON true; ".repeat(20);
        let summary = to(&statements, cap).unwrap_or_default();
        assert!(summary.len() <= cap, "{cap}: {summary}");
        assert!(
            summary.is_empty() || summary.ends_with("wallets") || summary.ends_with("scans"),
            "{cap}: {summary}"
        );
    }
    // The summary the span's name and the metric take is still read to 255 bytes.
    assert_eq!(
        summarize(sql, None).summary.as_deref(),
        Some("BEGIN SELECT pg_class COMMIT")
    );
}

#[test]
fn a_from_in_a_subquery_or_function_is_not_the_statements_table() {
    assert_eq!(
        op_and_table("SELECT (SELECT max(a) FROM outer_t), extract(year FROM now()) FROM outer_t"),
        some("SELECT", Some("outer_t"))
    );
    assert_eq!(
        op_and_table("SELECT * FROM (SELECT 1) AS sub"),
        some("SELECT", None)
    );
    // `IS [NOT] DISTINCT FROM` compares; a function in FROM is not a table.
    assert_eq!(
        op_and_table("SELECT a IS NOT DISTINCT FROM b FROM wallets"),
        some("SELECT", Some("wallets"))
    );
    assert_eq!(
        op_and_table("SELECT * FROM generate_series(1, 10)"),
        some("SELECT", None)
    );
    assert_eq!(
        op_and_table("SELECT * FROM pg_catalog.generate_series(1, 10)"),
        some("SELECT", None)
    );
}

#[test]
fn no_operation_without_a_leading_word() {
    assert_eq!(op_and_table("(SELECT 1)"), some("SELECT", None));
    assert_eq!(
        op_and_table("(SELECT id FROM users) UNION (SELECT id FROM users)"),
        some("SELECT", Some("users"))
    );
    assert_eq!(op_and_table("(1)"), (None, None));
    assert_eq!(op_and_table(""), (None, None));
    assert_eq!(op_and_table("'x'"), (None, None));
    let long_word = "A".repeat(MAX_OPERATION_LEN + 1);
    assert_eq!(op_and_table(&long_word), (None, None));
    assert_eq!(op_and_table("SELECT1x FROM t"), (None, None));
}

#[test]
fn an_overlong_table_name_is_dropped_not_cut() {
    let sql = format!("SELECT * FROM {}", "t".repeat(MAX_COLLECTION_LEN + 1));
    assert_eq!(op_and_table(&sql), some("SELECT", None));
}

#[test]
fn unterminated_quotes_and_comments_hide_the_rest() {
    // Marked incomplete (`…`): what is hidden may hold another statement.
    assert_eq!(text("SELECT 'secret and more"), "SELECT ?…");
    assert_eq!(text(r"SELECT E'secret\' and more"), "SELECT ?…");
    assert_eq!(text("SELECT $x$ secret"), "SELECT ?…");
    assert_eq!(text("SELECT a /* secret"), "SELECT a…");
    assert_eq!(text("SELECT \"unterminated"), "SELECT ?…");
    // An unterminated quoted name hides literals too (the server refuses the statement, but
    // its span is still exported).
    assert_eq!(
        text("SELECT \"email FROM users WHERE password = 'hunter2-SECRET'"),
        "SELECT ?…"
    );
    // Neither the one operation nor the one table is claimed for a text partly hidden.
    for sql in [
        "SELECT * FROM t WHERE a = \"x; DELETE FROM users",
        "SELECT * FROM t WHERE a = 'x; DELETE FROM users",
        "SELECT * FROM t WHERE a = $x$ ; DELETE FROM users",
        "SELECT * FROM t /* ; DELETE FROM users",
    ] {
        assert_eq!(op_and_table(sql), (None, None), "{sql}");
    }
    // So does junk glued to a parameter, which PostgreSQL refuses as well: a `$` in it may
    // open a dollar quote, or close one that the glued part opened (marked incomplete).
    assert_eq!(text("SELECT $1a$SECRET$1a$, $2"), "SELECT ?…");
    for sql in [
        "SELECT $1$q$ hunter2 secret $q$",
        "SELECT $1$$ hunter2 secret $$",
        "SELECT $1$$hunter2 with spaces$$",
        "UPDATE u SET pw = $1$$ hunter2 $$ WHERE id = $2",
    ] {
        let shown = text(sql);
        assert!(!shown.contains("hunter2"), "{sql:?} shown as {shown:?}");
        assert!(shown.ends_with("?…"), "{sql:?} shown as {shown:?}");
    }
    assert_eq!(text("SELECT a --"), "SELECT a");
    assert_eq!(text("SELECT $"), "SELECT $");
    assert_eq!(text("SELECT 1e"), "SELECT ?");
    // Read either way (`\'` an escape or not), a backslash could let a value out.
    assert_eq!(
        text(r"SELECT * FROM t WHERE pw = 'it\'s hunter2' AND k = 'x'"),
        "SELECT * FROM t WHERE pw = ?…"
    );
    assert_eq!(
        text(r"SELECT * FROM t WHERE p = 'C:\' OR q = 'hunter2'"),
        "SELECT * FROM t WHERE p = ?…"
    );
    // A carriage return ends a line comment too.
    assert_eq!(text("SELECT a -- note\rFROM t"), "SELECT a FROM t");
}

/// A backslash in a plain string reads one way or the other by the server's
/// `standard_conforming_strings`. Where both readings end the string at one quote (the
/// common case: a path, a `LIKE` or regex escape), the statement is read whole; where they
/// end it apart, the rest is hidden, and the span no longer claimed the one operation and
/// table it had read before (nor a text that looked whole).
#[test]
fn a_backslash_hides_the_rest_only_where_its_readings_differ() {
    for sql in [
        r"UPDATE wallets SET name = 'C:\dir' WHERE id = 3",
        r"SELECT count(*) FROM wallets WHERE name LIKE '%\_%'",
        r"SELECT id FROM wallets WHERE name ~ '^\d+$'",
        r"SELECT id FROM wallets WHERE name = U&'d\0061t\+000061'",
        r"SELECT id FROM wallets WHERE name = N'a\\b'",
    ] {
        let s = summarize(sql, Some(4096));
        let text = s.text.unwrap();
        assert!(
            !text.ends_with('…') && text.contains('?'),
            "{sql} -> {text}"
        );
        assert_eq!(s.collection.as_deref(), Some("wallets"), "{sql}");
        assert!(s.operation.is_some(), "{sql}");
    }
    for (sql, summary) in [
        (
            r"UPDATE wallets SET name = 'C:\' WHERE id = 3; DELETE FROM wallets WHERE id = 9",
            "UPDATE wallets",
        ),
        (
            r"SELECT a FROM wallets WHERE b LIKE 'x' ESCAPE '\' AND c IN (SELECT c FROM archive)",
            "SELECT wallets",
        ),
    ] {
        let s = summarize(sql, Some(4096));
        let text = s.text.unwrap();
        assert!(text.ends_with("?…"), "{sql} -> {text}");
        assert_eq!((s.operation, s.collection), (None, None), "{sql}");
        assert_eq!(s.summary.as_deref(), Some(summary));
    }
    // Glued junk after a parameter (refused by the server) hides the rest the same way.
    let s = summarize("SELECT a FROM t WHERE b = $1x; DELETE FROM u", Some(4096));
    assert_eq!(s.text.as_deref(), Some("SELECT a FROM t WHERE b = ?…"));
    assert_eq!((s.operation, s.collection), (None, None));
}

/// `TABLE t` (PostgreSQL's `SELECT * FROM t`) starts a query wherever one may start, not
/// only a statement: its table was left out, and the other one claimed as the only one.
#[test]
fn a_table_query_inside_a_statement_names_its_table() {
    for (sql, summary) in [
        ("INSERT INTO a TABLE b", "INSERT a TABLE b"),
        ("INSERT INTO a (x) TABLE b", "INSERT a TABLE b"),
        ("SELECT * FROM a WHERE x IN (TABLE b)", "SELECT a TABLE b"),
        ("SELECT * FROM a UNION ALL (TABLE b)", "SELECT a TABLE b"),
        ("SELECT * FROM a UNION TABLE b", "SELECT a TABLE b"),
        (
            "SELECT * FROM (TABLE b) s JOIN a ON true",
            "SELECT TABLE b a",
        ),
        (
            "MERGE INTO a USING (TABLE b) s ON true WHEN MATCHED THEN DELETE",
            "MERGE a TABLE b",
        ),
        ("CREATE TABLE a AS TABLE b", "CREATE TABLE a TABLE b"),
        ("WITH c AS (TABLE b) SELECT * FROM c", "TABLE b SELECT"),
    ] {
        let s = summarize(sql, None);
        assert_eq!(s.summary.as_deref(), Some(summary), "{sql}");
        assert_eq!((s.operation, s.collection), (None, None), "{sql}");
    }
    // A column or an output named `table` (any keyword may name one after `.` or `AS`).
    for (sql, summary, table) in [
        (
            "SELECT a.table FROM accounts a JOIN users u ON u.id = a.uid",
            "SELECT accounts users",
            "",
        ),
        ("SELECT t.table FROM t", "SELECT t", "t"),
        (
            "SELECT count(*) AS table, b FROM orders",
            "SELECT orders",
            "orders",
        ),
        ("DELETE FROM t WHERE t.table = 1", "DELETE t", "t"),
        ("SELECT x FROM t ORDER BY t.table", "SELECT t", "t"),
        ("UPDATE t SET a = 1 RETURNING t.table", "UPDATE t", "t"),
        ("SELECT * FROM s.table", "SELECT s.table", "s.table"),
        ("INSERT INTO a AS x TABLE b", "INSERT a TABLE b", ""),
        // A label without `AS` after a call or parentheses (`f(x) table`).
        ("SELECT count(*) table FROM b", "SELECT b", "b"),
        ("SELECT (1) table FROM b", "SELECT b", "b"),
        ("SELECT coalesce(c, 0) table, 'x' s FROM b", "SELECT b", "b"),
        // The source of an `INSERT` or a `CREATE TABLE .. AS`, past their clauses.
        (
            "INSERT INTO a OVERRIDING SYSTEM VALUE TABLE b",
            "INSERT a TABLE b",
            "",
        ),
        (
            "INSERT INTO a (c) OVERRIDING USER VALUE TABLE b",
            "INSERT a TABLE b",
            "",
        ),
        (
            "CREATE TABLE a (c) AS TABLE b",
            "CREATE TABLE a TABLE b",
            "",
        ),
        (
            "CREATE TABLE a (c) WITH (fillfactor = 70) AS TABLE b",
            "CREATE TABLE a TABLE b",
            "",
        ),
        (
            "CREATE TABLE a USING heap AS TABLE b",
            "CREATE TABLE a TABLE b",
            "",
        ),
        (
            "CREATE TEMP TABLE a ON COMMIT DROP AS TABLE b",
            "CREATE TABLE a TABLE b",
            "",
        ),
        (
            "WITH x AS (SELECT 1 FROM c) TABLE b",
            "SELECT c TABLE b",
            "",
        ),
        (
            "INSERT INTO a VALUES (1) RETURNING a.table",
            "INSERT a",
            "a",
        ),
        // Other keywords as names after `.` and labels after `AS` or a `)`.
        (
            "SELECT m.from, m.to FROM messages m WHERE m.id = 1",
            "SELECT messages",
            "messages",
        ),
        ("SELECT t.join, t.into, t.select FROM a t", "SELECT a", "a"),
        ("SELECT 1 AS join, 2 AS from FROM a", "SELECT a", "a"),
        ("SELECT count(*) update FROM b", "SELECT b", "b"),
        ("SELECT coalesce(x, 0) merge FROM b", "SELECT b", "b"),
        (
            "DELETE FROM a WHERE c = 1 RETURNING (c) delete",
            "DELETE a",
            "a",
        ),
        // A `WITH` as an `INSERT`'s or a `CREATE TABLE .. AS`'s source.
        (
            "INSERT INTO a WITH w AS (SELECT 1) TABLE b",
            "INSERT a SELECT TABLE b",
            "",
        ),
        (
            "INSERT INTO a WITH w AS (SELECT 1 AS c) SELECT * FROM w",
            "INSERT a SELECT SELECT",
            "",
        ),
        (
            "CREATE TABLE n AS WITH w AS (SELECT 1) TABLE b",
            "CREATE TABLE n SELECT TABLE b",
            "",
        ),
        (
            "CREATE TABLE n AS SELECT * FROM b",
            "CREATE TABLE n SELECT b",
            "",
        ),
        // Still queries after a `WITH`'s definitions.
        (
            "WITH w AS (SELECT 1) UPDATE a SET c = 1",
            "SELECT UPDATE a",
            "",
        ),
        ("WITH w AS (SELECT 1) DELETE FROM a", "SELECT DELETE a", ""),
        ("SELECT a FROM b UNION ALL TABLE c", "SELECT b TABLE c", ""),
    ] {
        let s = summarize(sql, None);
        assert_eq!(s.summary.as_deref(), Some(summary), "{sql}");
        assert_eq!(s.collection.unwrap_or_default(), table, "{sql}");
    }
    // Where `TABLE` is a modifier, as before.
    for (sql, summary, table) in [
        ("TRUNCATE TABLE a", "TRUNCATE a", "a"),
        ("SELECT x INTO TEMP TABLE a FROM a", "SELECT a a", "a"),
        ("TABLE a", "TABLE a", "a"),
        ("LOCK TABLE a", "LOCK", ""),
    ] {
        let s = summarize(sql, None);
        assert_eq!(s.summary.as_deref(), Some(summary), "{sql}");
        assert_eq!(s.collection.unwrap_or_default(), table, "{sql}");
    }
}

/// PostgreSQL folds only the ASCII letters of an unquoted name: `é` is not the `WITH` name
/// `É` but a table, listed as one; `É` is.
#[test]
fn names_fold_their_ascii_letters_only() {
    for (sql, expected, table) in [
        (
            "WITH É AS (SELECT 1 AS x) SELECT * FROM é",
            "SELECT SELECT é",
            Some("é"),
        ),
        (
            "WITH É AS (SELECT 1 AS x) SELECT * FROM É",
            "SELECT SELECT",
            None,
        ),
        (
            "WITH Éa AS (SELECT 1) SELECT * FROM ÉA",
            "SELECT SELECT",
            None,
        ),
        (
            "WITH ǅ AS (SELECT 1) SELECT * FROM ǆ",
            "SELECT SELECT ǆ",
            Some("ǆ"),
        ),
    ] {
        let read = summarize(sql, None);
        assert_eq!(read.summary.as_deref(), Some(expected), "{sql}");
        assert_eq!(read.collection.as_deref(), table, "{sql}");
    }
}

#[test]
fn the_text_is_capped_on_a_char_boundary() {
    let sql = format!("SELECT {} FROM t", "é".repeat(100));
    let capped = summarize(&sql, Some(11)).text.unwrap();
    assert_eq!(capped, "SELECT…");
    assert!(summarize(&sql, Some(0)).text.unwrap() == "…");
}

/// The README: a cut text ends "at a token, as it is built to fit". A token that does not fit
/// whole is left out (a part of one reads as another name), and the text stays within its cap.
#[test]
fn the_text_is_cut_between_tokens() {
    let columns: Vec<String> = (0..100)
        .map(|i| format!("verylongcolumnname{i:03}"))
        .collect();
    let sql = format!("SELECT {} FROM t", columns.join(", "));
    for cap in 0..sql.len() {
        let text = summarize(&sql, Some(cap)).text.unwrap();
        let kept = text.strip_suffix('…').expect("cut");
        assert!(kept.len() <= cap, "{cap}: {text}");
        let last = kept.rsplit([' ', ',']).next().unwrap();
        assert!(
            ["", "SELECT", "FROM"].contains(&last) || columns.iter().any(|c| c == last),
            "{cap}: {text}"
        );
    }
    let cap = 20 - '…'.len_utf8();
    let text = summarize("SELECT 'abc', 1, 2 FROM pg_class", Some(cap)).text;
    assert_eq!(text.as_deref(), Some("SELECT ?, ?, ?…"));
    // A first token longer than the cap: nothing of it.
    let text = summarize(&format!("{} 1", "A".repeat(40)), Some(cap)).text;
    assert_eq!(text.as_deref(), Some("…"));
}

#[test]
fn huge_input_costs_bounded_work_and_keeps_no_value() {
    // A literal far longer than the scan limit: the text stops at the limit, marked cut.
    let secret = "s".repeat(10 * MAX_SCAN_LEN);
    let sql = format!("INSERT INTO big VALUES ('{secret}')");
    let s = summarize(&sql, Some(4096));
    assert_eq!(s.text.as_deref(), Some("INSERT INTO big VALUES (?…"));
    assert_eq!(s.collection.as_deref(), Some("big"));
    // Millions of tokens: only what fits the cap is produced.
    let many = "SELECT ".to_owned() + &"a, ".repeat(1_000_000) + "b FROM t";
    let s = summarize(&many, Some(64));
    let text = s.text.unwrap();
    assert!(
        text.len() <= 64 + '…'.len_utf8() && text.ends_with('…'),
        "{text}"
    );
    assert_eq!(s.collection, None, "FROM is past the scan limit");
    // Deeply nested comments and parentheses.
    let nested = "/*".repeat(MAX_SCAN_LEN) + &"(".repeat(MAX_SCAN_LEN);
    assert_eq!(summarize(&nested, Some(16)).text.as_deref(), Some("…"));
}

#[test]
fn the_scan_limit_inside_a_multibyte_char_is_no_panic() {
    // A word, a quoted identifier and a comment, each with a 2-byte char across the limit.
    for prefix in ["SELECT ", "SELECT \"", "SELECT /*", "SELECT '"] {
        let pad = "a".repeat(MAX_SCAN_LEN - prefix.len() - 1);
        let sql = format!("{prefix}{pad}é tail");
        assert!(!sql.is_char_boundary(MAX_SCAN_LEN));
        let text = summarize(&sql, Some(usize::MAX)).text.unwrap();
        assert!(text.ends_with('…') && !text.contains("tail"), "{prefix}");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Every prefix of a statement full of edge cases, cut at every char boundary.
    let sql = "SELECT E'\\'', $a$x$a$, $1, 1e+5, U&'x', \"q\"\"\", é /* /* */ -- \n'";
    for (i, _) in sql.char_indices() {
        let s = summarize(&sql[..i], Some(8));
        assert!(s.text.unwrap().len() <= 8 + '…'.len_utf8());
        summarize(&sql[i..], Some(4096));
    }
}

/// A word read as an object kind (`CREATE <kind>`) is bounded as an operation is: the
/// operation names the span and labels the duration histogram.
#[test]
fn an_object_kind_is_bounded_as_an_operation() {
    for sql in [
        format!("CREATE {} x", "A".repeat(60_000)),
        format!("ALTER {}", "A".repeat(300)),
    ] {
        let summary = summarize(&sql, None);
        let operation = summary.operation.unwrap_or_default();
        assert!(
            operation.len() <= 2 * MAX_OPERATION_LEN,
            "{} bytes",
            operation.len()
        );
    }
}

/// A `FROM` inside a function's arguments names no table: only a query's does.
#[test]
fn a_functions_from_is_no_table() {
    for sql in [
        "SELECT extract(epoch FROM created_at)::bigint AS ts FROM events WHERE id = $1",
        "SELECT trim(both ' ' from name) FROM events",
        "SELECT substring(name FROM 2 FOR 3) FROM events",
    ] {
        assert_eq!(summary(sql).as_deref(), Some("SELECT events"), "{sql}");
        assert_eq!(op_and_table(sql), some("SELECT", Some("events")), "{sql}");
    }
    // A subquery's `FROM` still does.
    assert_eq!(
        summary("SELECT a FROM t WHERE b IN (SELECT c FROM u WHERE d = extract(day FROM e))")
            .as_deref(),
        Some("SELECT t SELECT u")
    );
}

/// `TRUNCATE` and `DROP TABLE` name every table of their list; `COPY`'s `FROM` names none;
/// `TABLE` names its table.
#[test]
fn table_lists_and_copy_sources() {
    for (sql, want, table) in [
        ("TRUNCATE a, b", "TRUNCATE a b", None),
        (
            "TRUNCATE TABLE a, b RESTART IDENTITY CASCADE",
            "TRUNCATE a b",
            None,
        ),
        ("DROP TABLE IF EXISTS a, b CASCADE", "DROP TABLE a b", None),
        ("TRUNCATE a", "TRUNCATE a", Some("a")),
        // PostgreSQL's `TABLE t` (`SELECT * FROM t`) names its table.
        ("TABLE wallets", "TABLE wallets", Some("wallets")),
        (
            "table ONLY s.w ORDER BY id LIMIT 3",
            "table s.w",
            Some("s.w"),
        ),
        ("COPY t FROM STDIN", "COPY t", Some("t")),
        (
            "COPY t (a, b) FROM STDIN WITH (FORMAT binary)",
            "COPY t",
            Some("t"),
        ),
        ("COPY t FROM PROGRAM 'x'", "COPY t", Some("t")),
        ("COPY (SELECT a FROM t) TO STDOUT", "COPY SELECT t", None),
    ] {
        assert_eq!(summary(sql).as_deref(), Some(want), "{sql}");
        assert_eq!(summarize(sql, None).collection.as_deref(), table, "{sql}");
    }
}

/// `INTO TEMP` is no table's name, and a `WITH` of many definitions still names none.
#[test]
fn temp_tables_and_long_with_lists() {
    assert_eq!(
        summary("SELECT * INTO TEMP TABLE x FROM t").as_deref(),
        Some("SELECT x t")
    );
    let names: Vec<String> = (0..12).map(|i| format!("c{i} AS (SELECT 1)")).collect();
    let sql = format!("WITH {} SELECT * FROM c11", names.join(", "));
    assert_eq!(summarize(&sql, None).collection, None, "{sql}");
}

/// A stored procedure is the target of `CALL` (and of a `CREATE`/`ALTER`/`DROP PROCEDURE`):
/// in the summary, as the conventions' `call some_stored_procedure` example, and as
/// `db.stored_procedure.name`, never as a table.
#[test]
fn a_called_procedure_is_the_summarys_target_and_its_own_attribute() {
    let read = |sql: &str| {
        let s = summarize(sql, None);
        (s.summary, s.operation, s.collection, s.procedure)
    };
    let called = |summary: &str, op: &str, procedure: Option<&str>| {
        (
            Some(summary.to_owned()),
            Some(op.to_owned()),
            None,
            procedure.map(str::to_owned),
        )
    };
    assert_eq!(
        read("CALL touch_wallet($1)"),
        called("CALL touch_wallet", "CALL", Some("touch_wallet"))
    );
    assert_eq!(
        read("call app.\"Touch Wallet\"(1, 'x')"),
        called(
            "call app.\"Touch Wallet\"",
            "call",
            Some("app.\"Touch Wallet\"")
        )
    );
    assert_eq!(
        read("CALL refresh"),
        called("CALL refresh", "CALL", Some("refresh"))
    );
    // Its arguments name no table, even with a subquery.
    assert_eq!(
        read("CALL audit((SELECT max(id) FROM wallets))"),
        called("CALL audit", "CALL", Some("audit"))
    );
    assert_eq!(
        read(
            "CREATE OR REPLACE PROCEDURE touch_wallet(id int) LANGUAGE sql AS $$ UPDATE w SET t = now() $$"
        ),
        called(
            "CREATE PROCEDURE touch_wallet",
            "CREATE PROCEDURE",
            Some("touch_wallet")
        )
    );
    assert_eq!(
        read("DROP PROCEDURE IF EXISTS touch_wallet"),
        called(
            "DROP PROCEDURE touch_wallet",
            "DROP PROCEDURE",
            Some("touch_wallet")
        )
    );
    // A list names each, and no single one (as `DROP TABLE a, b`).
    assert_eq!(
        read("DROP PROCEDURE IF EXISTS a, s.b"),
        (
            Some("DROP PROCEDURE a s.b".to_owned()),
            Some("DROP PROCEDURE".to_owned()),
            None,
            None
        )
    );
    assert_eq!(
        read("DROP PROCEDURE \"Weird Proc\"(int, text), s.touch(int) CASCADE").0,
        Some("DROP PROCEDURE \"Weird Proc\" s.touch".to_owned())
    );
    assert_eq!(
        read("drop procedure touch(bigint)"),
        called("drop procedure touch", "drop procedure", Some("touch"))
    );
    // Two statements of one kind naming two procedures: no single one.
    assert_eq!(read("CALL a(); CALL b()").3, None);
    assert_eq!(read("CALL a(); CALL a()").3, Some("a".to_owned()));
    // A name past the bound is no procedure's, and no table follows as one.
    let long = format!("CALL {}(1)", "p".repeat(300));
    assert_eq!(read(&long).3, None);
    // Not a name: no procedure, and what follows is read as before.
    assert_eq!(read("CALL $1").3, None);
}

/// The server parses a statement up to its first NUL only (and refuses the message): what
/// follows is never SQL it read, so none of it is kept as written.
#[test]
fn nothing_past_a_nul_is_kept() {
    let summary = summarize("SELECT 1\0 s3cr3t FROM t", Some(4096));
    let text = summary.text.unwrap();
    assert!(!text.contains("s3cr3t") && !text.contains('\0'), "{text:?}");
    assert!(text.starts_with("SELECT ?"), "{text:?}");
}

//! What a SQL statement's span records: its operation (`SELECT`), the first table it names
//! (`db.collection.name`) and its text with every literal value replaced by `?`
//! (`db.query.text`).
//!
//! One pass over the bytes, no allocation but the output. The work is bounded for any input:
//! at most [`MAX_SCAN_LEN`] bytes are read, and scanning stops as soon as the caller has what
//! it asked for (the operation and table only, or the text up to its length cap). Comments
//! are dropped (they may hold anything), whitespace runs become one space. Bound parameters
//! (`$1`) are placeholders already: the values bound to them never reach this code.
use crate::value::floor_char_boundary;

/// Bytes of a statement read at most: a longer statement's text ends with `…`.
pub(crate) const MAX_SCAN_LEN: usize = 64 * 1024;
/// Longest `db.operation.name` taken from a statement's first word.
const MAX_OPERATION_LEN: usize = 32;
/// Longest `db.collection.name` (a table name, schema-qualified or quoted).
const MAX_COLLECTION_LEN: usize = 128;

/// The operation and table a statement names, and its sanitized text when asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SqlSummary {
    /// The first keyword, upper-cased (`SELECT`), when the statement starts with a word.
    pub(crate) operation: Option<String>,
    /// The first table of a `SELECT`/`DELETE ... FROM`, `INSERT INTO`, `UPDATE`, `MERGE INTO`,
    /// `COPY` or `CREATE`/`ALTER`/`DROP`/`TRUNCATE TABLE`.
    pub(crate) collection: Option<String>,
    /// The text with literals replaced by `?` (only when a cap was given).
    pub(crate) text: Option<String>,
}

/// Reads `sql` for its operation and table, and for its sanitized text (at most `text_cap`
/// bytes, then `…`) when `text_cap` is `Some`.
pub(crate) fn summarize(sql: &str, text_cap: Option<usize>) -> SqlSummary {
    let mut scanner = Scanner {
        sql,
        bytes: sql.as_bytes(),
        pos: 0,
        // On a char boundary: tokens are slices of `sql`.
        end: floor_char_boundary(sql, MAX_SCAN_LEN),
        out: text_cap.map(Output::new),
        parser: Parser::default(),
        settings: Settings::default(),
    };
    scanner.run();
    let truncated = scanner.end < sql.len();
    let text = scanner.out.map(|out| out.finish(truncated));
    SqlSummary {
        operation: scanner.parser.operation,
        collection: scanner.parser.collection,
        text,
    }
}

/// One lexical piece of SQL, as the table-name parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A keyword or unquoted identifier.
    Word(&'a str),
    /// A `"quoted identifier"`, quotes included.
    QuotedIdent(&'a str),
    /// A literal value (string, number, dollar-quoted body): `?` in the text.
    Value,
    /// A bound parameter (`$1`), kept in the text: its value is not in the statement.
    Param,
    /// One punctuation character.
    Punct(u8),
}

struct Scanner<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Where scanning stops: the end of the statement or [`MAX_SCAN_LEN`].
    end: usize,
    out: Option<Output>,
    parser: Parser,
    settings: Settings,
}

impl<'a> Scanner<'a> {
    fn run(&mut self) {
        while self.pos < self.end {
            let wanted_text = self.out.as_ref().is_some_and(|o| !o.full);
            if !wanted_text && self.parser.done {
                return;
            }
            self.step();
        }
    }

    /// Reads one token (or a run of whitespace or a comment) at `pos`.
    fn step(&mut self) {
        let start = self.pos;
        let b = self.bytes[start];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                self.pos = self.skip_while(start, |c| c.is_ascii_whitespace());
                self.space();
            }
            b'-' if self.peek(start + 1) == Some(b'-') => {
                // PostgreSQL ends a line comment at either line break.
                let line_end = self.bytes[(start + 2).min(self.end)..self.end]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r');
                self.pos = line_end.map_or(self.end, |i| start + 2 + i + 1);
                self.space();
            }
            b'/' if self.peek(start + 1) == Some(b'*') => {
                self.pos = self.block_comment_end(start + 2);
                self.space();
            }
            b'\'' => {
                self.pos = self.string_end(start + 1, false);
                self.value();
            }
            b'"' => {
                self.pos = self.quoted_end(start + 1, b'"');
                self.token(start, Token::QuotedIdent(&self.sql[start..self.pos]));
            }
            b'$' => self.dollar(start),
            b'0'..=b'9' => self.number(start),
            b'.' if self.peek(start + 1).is_some_and(|c| c.is_ascii_digit()) => self.number(start),
            _ if is_word_start(b) => self.word(start),
            _ => {
                self.pos = start + 1;
                self.token(start, Token::Punct(b));
            }
        }
    }

    fn peek(&self, at: usize) -> Option<u8> {
        (at < self.end).then(|| self.bytes[at])
    }

    fn skip_while(&self, mut at: usize, keep: impl Fn(u8) -> bool) -> usize {
        while at < self.end && keep(self.bytes[at]) {
            at += 1;
        }
        at
    }

    /// After `/*`: the end of the comment (PostgreSQL nests them), or the end of the input.
    fn block_comment_end(&self, mut at: usize) -> usize {
        let mut depth = 1_usize;
        while at < self.end {
            match (self.bytes[at], self.peek(at + 1)) {
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        return at;
                    }
                }
                (b'/', Some(b'*')) => {
                    depth += 1;
                    at += 2;
                }
                _ => at += 1,
            }
        }
        self.end
    }

    /// After an opening `'`: past the closing one (`''` is a quote inside; with `escapes`,
    /// as in `E'..'`, so is `\'`), or the end of the input when it is unterminated. A
    /// backslash in a plain string also hides the rest: whether it escapes a quote depends on
    /// the server's `standard_conforming_strings`, and either reading, if wrong, would put
    /// part of a value outside its string.
    fn string_end(&self, mut at: usize, escapes: bool) -> usize {
        while at < self.end {
            match self.bytes[at] {
                b'\\' if escapes => at += 2,
                b'\\' => return self.end,
                b'\'' if self.peek(at + 1) == Some(b'\'') => at += 2,
                b'\'' => return at + 1,
                _ => at += 1,
            }
        }
        self.end
    }

    /// After an opening `quote`: past the closing one (doubled inside), or the end.
    fn quoted_end(&self, mut at: usize, quote: u8) -> usize {
        while at < self.end {
            if self.bytes[at] == quote {
                if self.peek(at + 1) == Some(quote) {
                    at += 2;
                    continue;
                }
                return at + 1;
            }
            at += 1;
        }
        self.end
    }

    /// `$1` (a parameter, kept), `$tag$ body $tag$` or `$$ body $$` (a value), or a lone `$`.
    fn dollar(&mut self, start: usize) {
        if self.peek(start + 1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos = self.skip_while(start + 1, |c| c.is_ascii_digit());
            self.token(start, Token::Param);
            return;
        }
        let tag_end = self.skip_while(start + 1, |c| is_word_start(c) || c.is_ascii_digit());
        if self.peek(tag_end) != Some(b'$') {
            self.pos = start + 1;
            self.token(start, Token::Punct(b'$'));
            return;
        }
        let tag = &self.bytes[start..=tag_end];
        let body = tag_end + 1;
        self.pos = self.bytes[body.min(self.end)..self.end]
            .windows(tag.len())
            .position(|w| w == tag)
            .map_or(self.end, |i| body + i + tag.len());
        self.value();
    }

    /// A number (`42`, `3.5`, `.5`, `1e-3`, `0x1F`): a value.
    fn number(&mut self, start: usize) {
        let mut at = start;
        while at < self.end {
            let c = self.bytes[at];
            let exponent_sign = (c == b'+' || c == b'-')
                && matches!(self.bytes[at - 1], b'e' | b'E')
                && self.bytes[start].is_ascii_digit()
                && !self.sql[start..at].starts_with("0x");
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
                at += 1;
            } else {
                break;
            }
        }
        self.pos = at;
        self.value();
    }

    /// A word; `E'..'`, `B'..'`, `X'..'`, `N'..'` and `U&'..'` are prefixed string values.
    fn word(&mut self, start: usize) {
        let end = self.skip_while(start, |c| {
            is_word_start(c) || c.is_ascii_digit() || c == b'$'
        });
        let word = &self.sql[start..end];
        // Where the string's body starts (past its opening quote), and whether `\` escapes.
        let prefixed = match (word, self.peek(end), self.peek(end + 1)) {
            ("e" | "E", Some(b'\''), _) => Some((end + 1, true)),
            ("b" | "B" | "x" | "X" | "n" | "N", Some(b'\''), _) => Some((end + 1, false)),
            ("u" | "U", Some(b'&'), Some(b'\'')) => Some((end + 2, false)),
            _ => None,
        };
        match prefixed {
            Some((body, escapes)) => {
                self.pos = self.string_end(body, escapes);
                self.value();
            }
            None => {
                self.pos = end;
                self.token(start, Token::Word(word));
            }
        }
    }

    /// A literal ended at `pos`: `?` in the text.
    fn value(&mut self) {
        if let Some(out) = &mut self.out {
            out.push("?");
        }
        self.parser.feed(Token::Value);
    }

    /// A token kept as written (`start..pos`), but for a setting's value (see [`Settings`]).
    fn token(&mut self, start: usize, token: Token<'a>) {
        if self.settings.is_value(token) {
            return self.value();
        }
        if let Some(out) = &mut self.out {
            out.push(&self.sql[start..self.pos]);
        }
        self.parser.feed(token);
    }

    fn space(&mut self) {
        if let Some(out) = &mut self.out {
            out.space();
        }
    }
}

/// Which words of a statement are the value of a run-time setting: PostgreSQL reads the value
/// of `SET name = value` (or `TO value`, with `LOCAL`/`SESSION`, and in `ALTER ROLE`, `USER`,
/// `DATABASE` or `SYSTEM .. SET`) as a string even when it is written as a word or a quoted
/// identifier (`SET myapp.token = s3cr3t`), so those are values too. (In such statements,
/// `RENAME TO` and `OWNER TO` names become `?` as well.)
#[derive(Debug, Default)]
struct Settings {
    /// Words of the statement so far, up to 2.
    words: u8,
    kind: SettingsKind,
    /// Past the `=` or `TO` of a setting, until the statement ends.
    in_value: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SettingsKind {
    #[default]
    Other,
    /// `ALTER`: a settings statement if its next word is `ROLE`, `USER`, `DATABASE`, `SYSTEM`.
    Alter,
    Setting,
}

impl Settings {
    /// Whether `token`, the next one of the text, is part of a setting's value.
    fn is_value(&mut self, token: Token<'_>) -> bool {
        if token == Token::Punct(b';') {
            *self = Settings::default();
            return false;
        }
        if self.in_value {
            return matches!(token, Token::Word(_) | Token::QuotedIdent(_));
        }
        match token {
            Token::Word(word) => {
                self.words = self.words.saturating_add(1);
                let is = |keyword: &str| word.eq_ignore_ascii_case(keyword);
                match (self.words, self.kind) {
                    (1, _) if is("SET") => self.kind = SettingsKind::Setting,
                    (1, _) if is("ALTER") => self.kind = SettingsKind::Alter,
                    (2, SettingsKind::Alter) => {
                        let settings = ["ROLE", "USER", "DATABASE", "SYSTEM"].into_iter().any(is);
                        self.kind = if settings {
                            SettingsKind::Setting
                        } else {
                            SettingsKind::Other
                        };
                    }
                    (_, SettingsKind::Setting) if is("TO") => self.in_value = true,
                    _ => {}
                }
            }
            Token::Punct(b'=') if self.kind == SettingsKind::Setting => self.in_value = true,
            _ => {}
        }
        false
    }
}

/// Bytes that start an unquoted identifier: letters, `_`, and any non-ASCII byte (PostgreSQL
/// takes non-ASCII letters in identifiers).
fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

/// The sanitized text, capped.
struct Output {
    text: String,
    cap: usize,
    full: bool,
}

impl Output {
    fn new(cap: usize) -> Output {
        Output {
            text: String::with_capacity(cap.min(256)),
            cap,
            full: false,
        }
    }

    fn push(&mut self, piece: &str) {
        if self.full {
            return;
        }
        let room = self.cap - self.text.len();
        if piece.len() <= room {
            self.text.push_str(piece);
        } else {
            self.text
                .push_str(&piece[..floor_char_boundary(piece, room)]);
            self.full = true;
        }
    }

    /// One space between tokens, never at the start or twice.
    fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(' ') {
            self.push(" ");
        }
    }

    fn finish(mut self, truncated: bool) -> String {
        let cut = self.full || truncated;
        while self.text.ends_with(' ') {
            self.text.pop();
        }
        if cut {
            self.text.push('…');
        }
        self.text
    }
}

/// Finds the operation and first table of the first statement, token by token.
#[derive(Debug, Default)]
struct Parser {
    operation: Option<String>,
    collection: Option<String>,
    state: State,
    /// Parenthesis depth: a `FROM` inside a subquery or function call is not the statement's.
    depth: u32,
    /// The last token was the word `DISTINCT`: a `FROM` after it is `IS [NOT] DISTINCT FROM`.
    after_distinct: bool,
    /// The name follows `FROM`, where a `(` after it makes it a function's (elsewhere, as in
    /// `INSERT INTO t (a, b)` or `COPY t (a)`, a column list follows).
    after_from: bool,
    done: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first token.
    #[default]
    Start,
    /// Waiting for this keyword at depth 0, then the table name.
    UntilKeyword(&'static str),
    /// The next word (after optional modifiers) names the table.
    TableNext,
    /// Inside a table name: a `.` continues it.
    InName,
    /// After a `.` in a table name.
    AfterDot,
}

/// Words between a keyword and the table name that are not the name.
const MODIFIERS: [&str; 5] = ["ONLY", "IF", "NOT", "EXISTS", "LATERAL"];

impl Parser {
    fn feed(&mut self, token: Token<'_>) {
        if self.done {
            return;
        }
        match token {
            Token::Punct(b'(') => self.depth += 1,
            Token::Punct(b')') => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        let after_distinct = self.after_distinct;
        self.after_distinct = matches!(token, Token::Word(w) if w.eq_ignore_ascii_case("DISTINCT"));
        match self.state {
            State::Start => self.first(token),
            State::UntilKeyword(keyword) => {
                if self.depth == 0
                    && !after_distinct
                    && matches!(token, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
                {
                    self.after_from = keyword == "FROM";
                    self.state = State::TableNext;
                } else if token == Token::Punct(b';') && self.depth == 0 {
                    self.done = true;
                }
            }
            State::TableNext => self.table_start(token),
            State::InName => {
                match token {
                    Token::Punct(b'.') => self.state = State::AfterDot,
                    // `FROM generate_series(..)`: a function, not a table.
                    Token::Punct(b'(') if self.after_from => {
                        self.collection = None;
                        self.done = true;
                    }
                    _ => self.done = true,
                }
            }
            State::AfterDot => match token {
                Token::Word(part) | Token::QuotedIdent(part) => {
                    self.extend_name(".");
                    self.extend_name(part);
                    self.state = State::InName;
                }
                _ => self.done = true,
            },
        }
    }

    /// The first token: the operation, and where its table is named.
    fn first(&mut self, token: Token<'_>) {
        let Token::Word(word) = token else {
            self.done = true;
            return;
        };
        if word.len() > MAX_OPERATION_LEN || !word.bytes().all(|c| c.is_ascii_alphabetic()) {
            self.done = true;
            return;
        }
        let operation = word.to_ascii_uppercase();
        self.state = match operation.as_str() {
            "SELECT" | "DELETE" => State::UntilKeyword("FROM"),
            "INSERT" | "MERGE" => State::UntilKeyword("INTO"),
            "CREATE" | "ALTER" | "DROP" => State::UntilKeyword("TABLE"),
            "UPDATE" | "COPY" | "TRUNCATE" => State::TableNext,
            _ => {
                self.done = true;
                State::Start
            }
        };
        self.operation = Some(operation);
    }

    /// After the keyword that precedes a table: its first part, unless this is a subquery.
    fn table_start(&mut self, token: Token<'_>) {
        match token {
            Token::Word(w) if w.eq_ignore_ascii_case("TABLE") || is_modifier(w) => {}
            Token::Word(name) | Token::QuotedIdent(name) => {
                self.extend_name(name);
                self.state = State::InName;
            }
            _ => self.done = true,
        }
    }

    /// Appends to the table name; past [`MAX_COLLECTION_LEN`] the name is dropped (a cut
    /// name would name another table).
    fn extend_name(&mut self, part: &str) {
        let name = self.collection.get_or_insert_with(String::new);
        if name.len() + part.len() > MAX_COLLECTION_LEN {
            self.collection = None;
            self.done = true;
            return;
        }
        name.push_str(part);
    }
}

fn is_modifier(word: &str) -> bool {
    MODIFIERS.iter().any(|m| word.eq_ignore_ascii_case(m))
}

#[cfg(test)]
mod tests {
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
            some("ALTER", Some("t"))
        );
    }

    #[test]
    fn comments_are_dropped_and_whitespace_collapsed() {
        assert_eq!(
            text("  SELECT /* token 'x' /* nested */ still */ a -- password=hunter2\n\n FROM\tt  "),
            "SELECT a FROM t"
        );
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
            op_and_table("select * from Wallets w join b on true"),
            some("SELECT", Some("Wallets"))
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
            op_and_table("DELETE FROM scans WHERE a IN (SELECT b FROM c)"),
            some("DELETE", Some("scans"))
        );
        assert_eq!(
            op_and_table("CREATE TABLE IF NOT EXISTS scans (id int)"),
            some("CREATE", Some("scans"))
        );
        assert_eq!(
            op_and_table("CREATE UNLOGGED TABLE s2 (id int)"),
            some("CREATE", Some("s2"))
        );
        assert_eq!(
            op_and_table("DROP TABLE IF EXISTS s3"),
            some("DROP", Some("s3"))
        );
        assert_eq!(
            op_and_table("TRUNCATE TABLE s4"),
            some("TRUNCATE", Some("s4"))
        );
        assert_eq!(op_and_table("begin"), some("BEGIN", None));
        assert_eq!(op_and_table("SELECT 1"), some("SELECT", None));
        assert_eq!(
            op_and_table("SELECT 1; SELECT * FROM later"),
            some("SELECT", None)
        );
    }

    #[test]
    fn a_from_in_a_subquery_or_function_is_not_the_statements_table() {
        assert_eq!(
            op_and_table(
                "SELECT (SELECT max(a) FROM inner_t), extract(year FROM now()) FROM outer_t"
            ),
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
        assert_eq!(op_and_table("(SELECT 1)"), (None, None));
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
        assert_eq!(text("SELECT 'secret and more"), "SELECT ?");
        assert_eq!(text(r"SELECT E'secret\' and more"), "SELECT ?");
        assert_eq!(text("SELECT $x$ secret"), "SELECT ?");
        assert_eq!(text("SELECT a /* secret"), "SELECT a");
        assert_eq!(text("SELECT \"unterminated"), "SELECT \"unterminated");
        assert_eq!(text("SELECT a --"), "SELECT a");
        assert_eq!(text("SELECT $"), "SELECT $");
        assert_eq!(text("SELECT 1e"), "SELECT ?");
        // Read either way (`\'` an escape or not), a backslash could let a value out.
        assert_eq!(
            text(r"SELECT * FROM t WHERE pw = 'it\'s hunter2' AND k = 'x'"),
            "SELECT * FROM t WHERE pw = ?"
        );
        assert_eq!(
            text(r"SELECT * FROM t WHERE p = 'C:\' OR q = 'hunter2'"),
            "SELECT * FROM t WHERE p = ?"
        );
        // A carriage return ends a line comment too.
        assert_eq!(text("SELECT a -- note\rFROM t"), "SELECT a FROM t");
    }

    #[test]
    fn the_text_is_capped_on_a_char_boundary() {
        let sql = format!("SELECT {} FROM t", "é".repeat(100));
        let capped = summarize(&sql, Some(11)).text.unwrap();
        assert_eq!(capped, "SELECT éé…");
        assert!(summarize(&sql, Some(0)).text.unwrap() == "…");
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
}

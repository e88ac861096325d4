//! What a SQL statement's span records: its query summary (`db.query.summary`, also the
//! span's name: `SELECT wallets`), its operation and table when it has one of each
//! (`db.operation.name`, `db.collection.name`), and its text with every literal value
//! replaced by `?` (`db.query.text`).
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
/// Longest `db.query.summary`: the conventions say it SHOULD NOT exceed 255 characters.
pub(crate) const MAX_SUMMARY_LEN: usize = 255;
/// Names of `WITH` definitions remembered (so as not to list them as tables).
const MAX_CTE_NAMES: usize = 8;

/// The query summary of a statement, its operation and table when it has only one of each,
/// and its sanitized text when asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SqlSummary {
    /// `db.query.summary`, as the conventions build it: each operation (`SELECT`,
    /// `CREATE TABLE`) followed by the tables it names, in the order they appear, subqueries
    /// and `WITH` definitions included (`INSERT orders SELECT carts`), at most
    /// [`MAX_SUMMARY_LEN`] bytes.
    pub(crate) summary: Option<String>,
    /// The operation, when the statement has one kind only (a subquery's `SELECT` in a
    /// `SELECT` is the same): the conventions say not to read one from a query with several.
    pub(crate) operation: Option<String>,
    /// The table, when the statement has one operation and names one table.
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
    scanner.parser.finish();
    let truncated = scanner.end < sql.len();
    let text = scanner.out.map(|out| out.finish(truncated));
    let parser = scanner.parser;
    let operation = parser.operation.filter(|_| !parser.other_operation);
    let collection = parser
        .collection
        .filter(|_| operation.is_some() && !parser.other_collection);
    SqlSummary {
        summary: (!parser.summary.is_empty()).then_some(parser.summary),
        operation,
        collection,
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

/// Builds the query summary of the first statement, token by token, in one pass with no
/// recursion: parentheses are a depth counter, so any nesting costs the same per token.
#[derive(Debug, Default)]
struct Parser {
    /// `db.query.summary` so far: operations, each followed by its tables.
    summary: String,
    /// The first operation, and whether another one (a different word) followed.
    operation: Option<String>,
    other_operation: bool,
    /// The first table, and whether another one (a different name, or one not read) followed.
    collection: Option<String>,
    other_collection: bool,
    state: State,
    /// Parenthesis depth: a `WITH` list's commas are told from a subquery's by it.
    depth: u32,
    /// What the last token was, for the keywords whose meaning depends on it.
    last: Last,
    /// The table name being read (its parts joined by `.`).
    name: String,
    /// The name follows `FROM`, `JOIN` or `USING`, where a `(` after it makes it a function's
    /// (elsewhere, as in `INSERT INTO t (a, b)`, a column list follows).
    name_may_be_function: bool,
    /// The table follows `FROM`: a `,` after it (and its alias) names another.
    in_from_list: bool,
    /// The names a `WITH` defines: they are the statement's own, not tables.
    ctes: Vec<String>,
    /// The depth of the `WITH` being read, until its main statement starts.
    with_depth: Option<u32>,
    done: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first token.
    #[default]
    Start,
    /// Reading keywords for operations and the words that precede tables.
    Idle,
    /// After `CREATE`, `ALTER` or `DROP`: the kind of object follows (`TABLE`, `INDEX`).
    ObjectKind(&'static str),
    /// The next word (after optional modifiers) names a table.
    TableNext,
    /// Inside a table name: a `.` continues it.
    InName,
    /// After a `.` in a table name.
    AfterDot,
    /// After a table name: its alias (with or without `AS`), or a `,` in a `FROM` list.
    AfterTable { aliased: bool },
    /// After `WITH` or a `,` between its definitions: the next word is a name it defines.
    CteName,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Last {
    #[default]
    Start,
    Open,
    Close,
    Distinct,
    Other,
}

/// Words between a keyword and the table name that are not the name.
const MODIFIERS: [&str; 6] = ["ONLY", "IF", "NOT", "EXISTS", "LATERAL", "TABLE"];

/// Words between `CREATE`/`ALTER`/`DROP` and the kind of object.
const KIND_MODIFIERS: [&str; 9] = [
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "UNIQUE",
    "GLOBAL",
    "LOCAL",
    "MATERIALIZED",
];

/// Words after a table name that are never its alias.
const NOT_ALIASES: [&str; 32] = [
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "OUTER",
    "WHERE",
    "ON",
    "USING",
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "HAVING",
    "WINDOW",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "SET",
    "VALUES",
    "SELECT",
    "RETURNING",
    "FOR",
    "FROM",
    "INTO",
    "DEFAULT",
    "OVERRIDING",
    "FETCH",
    "TABLESAMPLE",
    "WITH",
];

/// Operations that start a statement or a subquery but are also words of other clauses
/// (`FOR UPDATE`, `ON DELETE`, `DO UPDATE`): operations only after `(`, `)` or at the start.
const STATEMENT_OPERATIONS: [&str; 4] = ["INSERT", "UPDATE", "DELETE", "MERGE"];

fn is_any(word: &str, set: &[&str]) -> bool {
    set.iter().any(|w| word.eq_ignore_ascii_case(w))
}

impl Parser {
    fn feed(&mut self, token: Token<'_>) {
        if self.done {
            return;
        }
        match token {
            Token::Punct(b'(') => self.depth = self.depth.saturating_add(1),
            Token::Punct(b')') => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.step(token);
        self.last = match token {
            Token::Punct(b'(') => Last::Open,
            Token::Punct(b')') => Last::Close,
            Token::Word(w) if w.eq_ignore_ascii_case("DISTINCT") => Last::Distinct,
            _ => Last::Other,
        };
    }

    fn step(&mut self, token: Token<'_>) {
        match self.state {
            State::Start => self.first(token),
            State::Idle => self.idle(token),
            State::ObjectKind(operation) => match token {
                Token::Word(w) if is_any(w, &KIND_MODIFIERS) => {}
                Token::Word(kind) if kind.bytes().all(|c| c.is_ascii_alphabetic()) => {
                    let kind = kind.to_ascii_uppercase();
                    self.add_operation(&format!("{operation} {kind}"));
                    if kind == "TABLE" {
                        self.table_next(false, false);
                    } else {
                        self.done = true;
                    }
                }
                _ => {
                    self.add_operation(operation);
                    self.done = true;
                }
            },
            State::TableNext => match token {
                Token::Word(w) if is_any(w, &MODIFIERS) => {}
                Token::Word(part) | Token::QuotedIdent(part) => {
                    self.name.clear();
                    self.state = State::InName;
                    self.extend_name(part);
                }
                // `FROM (SELECT ..)`: a subquery, read as the rest of the statement.
                _ => self.idle(token),
            },
            State::InName => match token {
                Token::Punct(b'.') => self.state = State::AfterDot,
                // `FROM generate_series(..)`: a function, not a table.
                Token::Punct(b'(') if self.name_may_be_function => self.state = State::Idle,
                _ => {
                    self.add_table();
                    self.state = State::AfterTable { aliased: false };
                    self.step(token);
                }
            },
            State::AfterDot => match token {
                Token::Word(part) | Token::QuotedIdent(part) => {
                    self.state = State::InName;
                    self.extend_name(".");
                    self.extend_name(part);
                }
                _ => self.idle(token),
            },
            State::AfterTable { aliased } => match token {
                Token::Word(w) if w.eq_ignore_ascii_case("AS") && !aliased => {}
                Token::Word(w) | Token::QuotedIdent(w) if !aliased && !is_any(w, &NOT_ALIASES) => {
                    self.state = State::AfterTable { aliased: true };
                }
                Token::Punct(b',') if self.in_from_list => self.table_next(true, true),
                _ => self.idle(token),
            },
            State::CteName => match token {
                Token::Word(w) if w.eq_ignore_ascii_case("RECURSIVE") => {}
                Token::Word(name) | Token::QuotedIdent(name) => {
                    // Past a few names, the rest are listed as if tables: bounded memory.
                    if self.ctes.len() < MAX_CTE_NAMES {
                        self.ctes.push(name.to_owned());
                    }
                    self.state = State::Idle;
                }
                _ => self.idle(token),
            },
        }
    }

    /// The first token: the operation when it is a word, and what follows it.
    fn first(&mut self, token: Token<'_>) {
        let Token::Word(word) = token else {
            self.done = true;
            return;
        };
        if word.len() > MAX_OPERATION_LEN || !word.bytes().all(|c| c.is_ascii_alphabetic()) {
            self.done = true;
            return;
        }
        self.state = State::Idle;
        let operation = word.to_ascii_uppercase();
        match operation.as_str() {
            "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "WITH" => self.idle(token),
            "CREATE" => self.state = State::ObjectKind("CREATE"),
            "ALTER" => self.state = State::ObjectKind("ALTER"),
            "DROP" => self.state = State::ObjectKind("DROP"),
            "COPY" | "TRUNCATE" => {
                self.add_operation(&operation);
                self.table_next(false, false);
            }
            // `BEGIN`, `SET`, `VACUUM`…: the operation alone.
            _ => {
                self.add_operation(&operation);
                self.done = true;
            }
        }
    }

    /// A token outside a table name: operations, the keywords before tables, `WITH`.
    fn idle(&mut self, token: Token<'_>) {
        self.state = State::Idle;
        let word = match token {
            Token::Punct(b';') if self.depth == 0 => {
                self.done = true;
                return;
            }
            Token::Punct(b',') if self.with_depth == Some(self.depth) => {
                self.state = State::CteName;
                return;
            }
            Token::Word(word) => word,
            _ => return,
        };
        let is = |keyword: &str| word.eq_ignore_ascii_case(keyword);
        let statement_start = matches!(self.last, Last::Start | Last::Open | Last::Close);
        if is("SELECT") || (statement_start && is_any(word, &STATEMENT_OPERATIONS)) {
            if self.with_depth == Some(self.depth) {
                self.with_depth = None;
            }
            self.add_operation(&word.to_ascii_uppercase());
            if is("UPDATE") {
                self.table_next(false, false);
            }
        } else if is("WITH") && statement_start {
            self.with_depth = Some(self.depth);
            self.state = State::CteName;
        } else if is("FROM") && self.last != Last::Distinct {
            // Not `IS [NOT] DISTINCT FROM`, a comparison.
            self.table_next(true, true);
        } else if is("JOIN") || is("USING") {
            self.table_next(true, false);
        } else if is("INTO") {
            self.table_next(false, false);
        }
    }

    /// A table name follows (after modifiers); `function` when a `(` after it would make it
    /// a function's name, `list` when a `,` after it names another (a `FROM` list).
    fn table_next(&mut self, function: bool, list: bool) {
        self.state = State::TableNext;
        self.name_may_be_function = function;
        self.in_from_list = list;
    }

    fn add_operation(&mut self, operation: &str) {
        match &self.operation {
            None => self.operation = Some(operation.to_owned()),
            Some(first) if first != operation => self.other_operation = true,
            Some(_) => {}
        }
        self.push(operation);
    }

    /// The table just read, unless it names one of the statement's `WITH` definitions.
    fn add_table(&mut self) {
        let name = std::mem::take(&mut self.name);
        if name.is_empty() || self.ctes.iter().any(|cte| cte.eq_ignore_ascii_case(&name)) {
            return;
        }
        match &self.collection {
            None => self.collection = Some(name.clone()),
            Some(first) if *first != name => self.other_collection = true,
            Some(_) => {}
        }
        self.push(&name);
    }

    /// Appends a word to the summary; one that would take it past [`MAX_SUMMARY_LEN`] ends
    /// the reading (counted first: what the attributes say about one or several still holds).
    fn push(&mut self, piece: &str) {
        let space = usize::from(!self.summary.is_empty());
        if self.summary.len() + space + piece.len() > MAX_SUMMARY_LEN {
            self.done = true;
            return;
        }
        if space == 1 {
            self.summary.push(' ');
        }
        self.summary.push_str(piece);
    }

    /// Appends to the table name; past [`MAX_COLLECTION_LEN`] the name is dropped (a cut
    /// name would name another table) and the statement's table is unknown.
    fn extend_name(&mut self, part: &str) {
        if self.name.len() + part.len() > MAX_COLLECTION_LEN {
            self.other_collection = true;
            self.name.clear();
            self.state = State::Idle;
            return;
        }
        self.name.push_str(part);
    }

    /// The end of the statement (or of what was read): a name being read is complete.
    fn finish(&mut self) {
        if !self.done && matches!(self.state, State::InName) {
            self.add_table();
        }
    }
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
        assert_eq!(op_and_table("begin"), some("BEGIN", None));
        assert_eq!(op_and_table("SELECT 1"), some("SELECT", None));
        assert_eq!(
            op_and_table("SELECT 1; SELECT * FROM later"),
            some("SELECT", None)
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
            ("begin", "BEGIN"),
            ("SELECT 1; DELETE FROM later", "SELECT"),
        ] {
            assert_eq!(summary(sql).as_deref(), Some(expected), "{sql}");
        }
        assert_eq!(summary("(SELECT 1)"), None);
        assert_eq!(summary(""), None);
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
        // 10,000 nested parentheses, then a 1 MB query: one pass, no recursion.
        let nested =
            "SELECT ".to_owned() + &"(".repeat(10_000) + "SELECT 1 FROM deep" + &")".repeat(10_000);
        assert_eq!(summary(&nested).as_deref(), Some("SELECT SELECT deep"));
        let huge =
            "SELECT * FROM t WHERE a IN (".to_owned() + &"(SELECT 1), ".repeat(90_000) + "1)";
        assert!(huge.len() > 1_000_000);
        let started = std::time::Instant::now();
        let text = summary(&huge).unwrap();
        assert!(text.len() <= MAX_SUMMARY_LEN && text.starts_with("SELECT t SELECT SELECT"));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_from_in_a_subquery_or_function_is_not_the_statements_table() {
        assert_eq!(
            op_and_table(
                "SELECT (SELECT max(a) FROM outer_t), extract(year FROM now()) FROM outer_t"
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

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
const MAX_CTE_NAMES: usize = 32;

/// The query summary of a statement, its operation and table when it has only one of each,
/// and its sanitized text when asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SqlSummary {
    /// `db.query.summary`, as the conventions build it: each operation (`SELECT`,
    /// `CREATE TABLE`) followed by the tables it names, in the order they appear, subqueries
    /// and `WITH` definitions included (`INSERT orders SELECT carts`), at most
    /// [`MAX_SUMMARY_LEN`] bytes (or the cap [`summarize_to`] is given).
    pub(crate) summary: Option<String>,
    /// The operation, when the statement has one kind only (a subquery's `SELECT` in a
    /// `SELECT` is the same): the conventions say not to read one from a query with several.
    pub(crate) operation: Option<String>,
    /// The table, when the statement has one operation and names one table.
    pub(crate) collection: Option<String>,
    /// The stored procedure a `CALL` (or a `CREATE`/`ALTER`/`DROP PROCEDURE`) names, when
    /// the statement has one operation: `db.stored_procedure.name`.
    pub(crate) procedure: Option<String>,
    /// The text with literals replaced by `?` (only when a cap was given).
    pub(crate) text: Option<String>,
}

/// Reads `sql` for its operation and table, and for its sanitized text (at most `text_cap`
/// bytes, then `…`) when `text_cap` is `Some`.
pub(crate) fn summarize(sql: &str, text_cap: Option<usize>) -> SqlSummary {
    summarize_to(sql, MAX_SUMMARY_LEN, text_cap)
}

/// The longest `db.query.summary` a span records: [`MAX_SUMMARY_LEN`], or the attribute
/// limit when it is shorter (the summary is then built to fit it, never cut by it).
pub(crate) fn summary_cap() -> usize {
    crate::limits::max_attribute_len().min(MAX_SUMMARY_LEN)
}

/// [`summarize`] with a summary of at most `summary_cap` bytes, built at whole parts as at
/// [`MAX_SUMMARY_LEN`]. The reading stops where the summary is full: the operation and table
/// of a summary shorter than [`MAX_SUMMARY_LEN`] may be unknown where the longer one knows
/// them, so only its summary and text are used.
pub(crate) fn summarize_to(sql: &str, summary_cap: usize, text_cap: Option<usize>) -> SqlSummary {
    let mut scanner = Scanner {
        sql,
        bytes: sql.as_bytes(),
        pos: 0,
        // On a char boundary: tokens are slices of `sql`.
        end: floor_char_boundary(sql, MAX_SCAN_LEN),
        out: text_cap.map(Output::new),
        parser: Parser {
            summary_cap,
            ..Parser::default()
        },
        settings: Settings::default(),
        rest_hidden: false,
    };
    scanner.run();
    scanner.parser.finish();
    let truncated = scanner.end < sql.len();
    let text = scanner
        .out
        .map(|out| out.finish(truncated || scanner.rest_hidden));
    let mut parser = scanner.parser;
    // What was left unread may hold other operations and tables: a full summary stops the
    // reading mid-statement, a value of no sure reading hides the rest; past the scan limit,
    // only a `;` can start another statement.
    if parser.done
        || scanner.rest_hidden
        || (truncated && sql.as_bytes()[scanner.end..].contains(&b';'))
    {
        parser.other_operation = true;
        parser.other_collection = true;
    }
    let operation = parser.operation.filter(|_| !parser.other_operation);
    let collection = parser
        .collection
        .filter(|_| operation.is_some() && !parser.other_collection);
    let procedure = parser
        .procedure
        .filter(|_| operation.is_some() && !parser.other_procedure);
    SqlSummary {
        summary: (!parser.summary.is_empty()).then_some(parser.summary),
        operation,
        collection,
        procedure,
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
    /// A value was read to the end of the input because no reading of it is sure (see
    /// [`Scanner::string_end`]): what it hid may hold other operations and tables, and the
    /// text is marked incomplete, as a cut one.
    rest_hidden: bool,
}

/// How a backslash reads in a string (see [`Scanner::string_end`]).
#[derive(Debug, Clone, Copy)]
enum Backslashes {
    /// An escape: `\'` is a quote inside (`E'..'`).
    Escape,
    /// A character (`U&'..'`).
    Character,
    /// Either, by the server's `standard_conforming_strings` (a plain string).
    Either,
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
                self.pos = self.string_end(start + 1, Backslashes::Either);
                self.value();
            }
            b'"' => match self.quoted_end(start + 1, b'"') {
                Some(end) => {
                    self.pos = end;
                    self.token(start, Token::QuotedIdent(&self.sql[start..end]));
                }
                // Unterminated: what follows may hold literals the quote hides from this
                // scan (`"email FROM t WHERE pw = 'x'`), so all of it is one value.
                None => {
                    self.pos = self.unterminated();
                    self.value();
                }
            },
            b'$' => self.dollar(start),
            // The server reads the statement as a C string: it parses nothing past a NUL (the
            // wire protocol refuses the message), so the rest is not taken for SQL: it is one
            // value, as an unterminated quote's.
            0 => {
                self.pos = self.unterminated();
                self.value();
            }
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
    fn block_comment_end(&mut self, mut at: usize) -> usize {
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
        self.unterminated()
    }

    /// After an opening `'`: past the closing one (`''` is a quote inside), or the end of the
    /// input when it is unterminated. How a backslash reads depends on `backslashes`: an
    /// escape (`E'..'`), a character (`U&'..'`, which the server takes only where that is
    /// so), or either (a plain string: it depends on the server's
    /// `standard_conforming_strings`). Where the two readings of a plain string end it apart
    /// (`'C:\'`), either, if wrong, would put part of a value outside its string: the rest of
    /// the input is then the value, and the reading is marked incomplete (see
    /// [`Scanner::rest_hidden`]).
    fn string_end(&mut self, at: usize, backslashes: Backslashes) -> usize {
        let end = match backslashes {
            Backslashes::Escape => self.string_end_read(at, true).0,
            Backslashes::Character => self.string_end_read(at, false).0,
            Backslashes::Either => match self.string_end_read(at, false) {
                (end, false) => end,
                (end, true) if self.string_end_read(at, true).0 == end => end,
                _ => {
                    self.rest_hidden = true;
                    return self.end;
                }
            },
        };
        end.unwrap_or_else(|| self.unterminated())
    }

    /// [`Scanner::string_end`] with `\` read as an escape or not (`None`: unterminated), and
    /// whether a backslash came before the end.
    fn string_end_read(&self, mut at: usize, escapes: bool) -> (Option<usize>, bool) {
        let mut backslash = false;
        while at < self.end {
            match self.bytes[at] {
                b'\\' if escapes => at += 2,
                b'\'' if self.peek(at + 1) == Some(b'\'') => at += 2,
                b'\'' => return (Some(at + 1), backslash),
                c => {
                    backslash |= c == b'\\';
                    at += 1;
                }
            }
        }
        (None, backslash)
    }

    /// Where a quote, a dollar quote or a comment left open ends: the end of what is read. It
    /// hides the rest of the statement (a `;` and another statement may be in it), so the
    /// reading is marked incomplete, unless the scan limit cut it (see [`summarize`]).
    fn unterminated(&mut self) -> usize {
        if self.end == self.bytes.len() {
            self.rest_hidden = true;
        }
        self.end
    }

    /// After an opening `quote`: past the closing one (doubled inside), or `None` when it is
    /// unterminated.
    fn quoted_end(&self, mut at: usize, quote: u8) -> Option<usize> {
        while at < self.end {
            if self.bytes[at] == quote {
                if self.peek(at + 1) == Some(quote) {
                    at += 2;
                    continue;
                }
                return Some(at + 1);
            }
            at += 1;
        }
        None
    }

    /// `$1` (a parameter, kept), `$tag$ body $tag$` or `$$ body $$` (a value), or a lone `$`.
    fn dollar(&mut self, start: usize) {
        if self.peek(start + 1).is_some_and(|c| c.is_ascii_digit()) {
            let digits_end = self.skip_while(start + 1, |c| c.is_ascii_digit());
            let glued = self
                .peek(digits_end)
                .is_some_and(|c| is_word_start(c) || c == b'$');
            if !glued {
                self.pos = digits_end;
                self.token(start, Token::Param);
            } else {
                // Junk glued to a parameter (`$1$q$ secret $q$`, which PostgreSQL refuses):
                // no reading of what follows is sure (a `$` in it may open or close a
                // dollar quote), so all of it is one value, and the reading is incomplete.
                self.rest_hidden = true;
                self.pos = self.end;
                self.value();
            }
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
        let closed = self.bytes[body.min(self.end)..self.end]
            .windows(tag.len())
            .position(|w| w == tag);
        self.pos = match closed {
            Some(i) => body + i + tag.len(),
            None => self.unterminated(),
        };
        self.value();
    }

    /// A number (`42`, `3.5`, `.5`, `1e-3`, `0x1F`, `0B101`): a value, with any letters glued
    /// to it (PostgreSQL refuses those).
    fn number(&mut self, start: usize) {
        let prefixed = self.bytes[start] == b'0'
            && self
                .peek(start + 1)
                .is_some_and(|c| matches!(c.to_ascii_lowercase(), b'x' | b'o' | b'b'));
        let mut at = start;
        while at < self.end {
            let c = self.bytes[at];
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
                at += 1;
            } else if !prefixed && self.is_exponent_sign(at) {
                at += 2;
            } else {
                break;
            }
        }
        self.pos = at;
        self.value();
    }

    /// Whether the `+` or `-` at `at`, inside a decimal number, is its exponent's sign: after
    /// an `e` and before a digit, as PostgreSQL reads it. Without the digit it is an operator
    /// or, in `1e--x`, the start of a comment, which must not be read as part of the number.
    fn is_exponent_sign(&self, at: usize) -> bool {
        matches!(self.bytes[at], b'+' | b'-')
            && matches!(self.bytes[at - 1], b'e' | b'E')
            && self.peek(at + 1).is_some_and(|c| c.is_ascii_digit())
    }

    /// A word; `E'..'`, `B'..'`, `X'..'`, `N'..'` and `U&'..'` are prefixed string values.
    fn word(&mut self, start: usize) {
        let end = self.skip_while(start, |c| {
            is_word_start(c) || c.is_ascii_digit() || c == b'$'
        });
        let word = &self.sql[start..end];
        // Where the string's body starts (past its opening quote), and how `\` reads there.
        let prefixed = match (word, self.peek(end), self.peek(end + 1)) {
            ("e" | "E", Some(b'\''), _) => Some((end + 1, Backslashes::Escape)),
            // Bits and hex digits have no backslash; a national string is a plain one.
            ("b" | "B" | "x" | "X" | "n" | "N", Some(b'\''), _) => {
                Some((end + 1, Backslashes::Either))
            }
            ("u" | "U", Some(b'&'), Some(b'\'')) => Some((end + 2, Backslashes::Character)),
            _ => None,
        };
        match prefixed {
            Some((body, backslashes)) => {
                self.pos = self.string_end(body, backslashes);
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
/// of `SET name = value` (or `TO value`, with `LOCAL`/`SESSION`, in `ALTER ROLE`, `USER`,
/// `DATABASE` or `SYSTEM .. SET`, and in a function's or procedure's `SET` clause) as a string even when it is written as a word or a quoted
/// identifier (`SET myapp.token = s3cr3t`), so those are values too. (In such statements,
/// `RENAME TO` and `OWNER TO` names become `?` as well.)
#[derive(Debug, Default)]
struct Settings {
    /// Words of the statement so far, up to 2.
    words: u8,
    kind: SettingsKind,
    /// Past the `=` or `TO` of a setting (or `TIME ZONE`, whose value needs neither), until
    /// the statement ends.
    in_value: bool,
    /// The last word was `TIME`.
    after_time: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SettingsKind {
    #[default]
    Other,
    /// `ALTER`: a settings statement if its next word is `ROLE`, `USER`, `DATABASE`, `SYSTEM`.
    Alter,
    /// `CREATE [OR REPLACE]`: maybe a function or procedure.
    Create,
    /// `CREATE`/`ALTER` of a `FUNCTION`, `PROCEDURE` or `ROUTINE`: its `SET name = value`
    /// clause is a setting.
    Routine,
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
                    (1, _) if is("CREATE") => self.kind = SettingsKind::Create,
                    (2, SettingsKind::Alter) => {
                        let settings = ["ROLE", "USER", "DATABASE", "SYSTEM"].into_iter().any(is);
                        let routine = ["FUNCTION", "PROCEDURE", "ROUTINE"].into_iter().any(is);
                        self.kind = match (settings, routine) {
                            (true, _) => SettingsKind::Setting,
                            (_, true) => SettingsKind::Routine,
                            _ => SettingsKind::Other,
                        };
                    }
                    (_, SettingsKind::Create) => {
                        self.kind = if is("FUNCTION") || is("PROCEDURE") {
                            SettingsKind::Routine
                        } else if is("OR") || is("REPLACE") {
                            SettingsKind::Create
                        } else {
                            SettingsKind::Other
                        };
                    }
                    (_, SettingsKind::Routine) if is("SET") => self.kind = SettingsKind::Setting,
                    (_, SettingsKind::Setting) if is("TO") => self.in_value = true,
                    // `SET TIME ZONE value`: a zone written as a word is a value too.
                    (_, SettingsKind::Setting) if self.after_time && is("ZONE") => {
                        self.in_value = true;
                    }
                    _ => {}
                }
                self.after_time = is("TIME");
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

/// The sanitized text, capped at a token.
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

    /// Appends a token whole, or, when it does not fit, nothing more: a cut token would read
    /// as another one (`verylongcolumn` as `ve`, `FROM` as `FR`), so the text ends with the
    /// tokens before it, then `…`. A first token longer than the whole cap leaves the text
    /// `…` alone: anything shorter would be a part of it.
    fn push(&mut self, piece: &str) {
        if self.full {
            return;
        }
        if self.text.len() + piece.len() <= self.cap {
            self.text.push_str(piece);
        } else {
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

/// Builds the query summary of every statement (`;` separates them), token by token, in one
/// pass with no recursion: parentheses are a depth counter, so any nesting costs the same per
/// token.
#[derive(Debug, Default)]
struct Parser {
    /// `db.query.summary` so far: operations, each followed by its tables.
    summary: String,
    /// The longest summary built (see [`summarize_to`]).
    summary_cap: usize,
    /// The first operation, and whether another one (a different word) followed.
    operation: Option<String>,
    other_operation: bool,
    /// `CREATE`, `ALTER` or `DROP` as written, while its object's kind is read.
    object_operation: String,
    /// The first table, and whether another one (a different name, or one not read) followed.
    collection: Option<String>,
    other_collection: bool,
    /// The first stored procedure named, and whether another one followed.
    procedure: Option<String>,
    other_procedure: bool,
    /// The name being read is a stored procedure's (after `CALL`), not a table's.
    name_is_procedure: bool,
    /// The procedures are a list (`DROP PROCEDURE a, b(int)`): a `,` names another.
    procedure_list: bool,
    state: State,
    /// Parenthesis depth: a `WITH` list's commas are told from a subquery's by it.
    depth: u32,
    /// Bit `d`: an operation started at depth `d` since its `(` (a query, not a function's
    /// arguments): a `FROM` there names tables, while in `extract(epoch FROM created_at)` or
    /// `trim(both FROM name)` it does not. Depths past 63 count as queries.
    queries: u64,
    /// What the last token was, for the keywords whose meaning depends on it.
    last: Last,
    /// The table name being read (its parts joined by `.`).
    name: String,
    /// The name follows `FROM`, `JOIN` or `USING`, where a `(` after it makes it a function's
    /// (elsewhere, as in `INSERT INTO t (a, b)`, a column list follows).
    name_may_be_function: bool,
    /// The table follows `FROM`: a `,` after it (and its alias) names another.
    in_from_list: bool,
    /// A `(` where the table would be opens a subquery or a parenthesized join (after
    /// `FROM`, `JOIN` or a `,` of a `FROM` list; after `USING` it is a column list).
    paren_may_be_table: bool,
    /// The parentheses opened where a table would be, whose `)` ends that table.
    table_parens: TableParens,
    /// Bit `d`: a `FROM` list is open at depth `d` (until a clause after it, such as
    /// `WHERE`): a `,` there names another table, after a join's condition too (`FROM a JOIN
    /// b ON a.id = b.id, c`). Depths past 63 are not tracked.
    from_lists: u64,
    /// `[` not yet closed: a `,` inside (`ARRAY[a, b]`) separates no tables.
    brackets: u32,
    /// The names a `WITH` defines: they are the statement's own, not tables.
    ctes: Vec<String>,
    /// More `WITH` names than are kept: a name read as a table may be one of them, so no
    /// table is the statement's only one (`db.collection.name`).
    ctes_overflowed: bool,
    /// The statement's latest operation is `DELETE` or `MERGE` and its `USING` has not come
    /// yet: that `USING` names tables (a join's `USING (a)` names columns, a `CREATE TABLE ..
    /// USING heap` an access method, an `ALTER .. TYPE .. USING` an expression).
    using_names_tables: bool,
    /// The depth of the `WITH` being read, until its main statement starts.
    with_depth: Option<u32>,
    /// The depth of an `INSERT` or `CREATE TABLE` whose source query has not come yet: a
    /// `TABLE b` there is that query, past the clauses before it (`INSERT INTO a (c)
    /// OVERRIDING SYSTEM VALUE TABLE b`, `CREATE TABLE a (c) WITH (..) AS TABLE b`).
    awaits_source: Option<u32>,
    /// The statement being read says nothing more (its operation alone, as `BEGIN`): the
    /// next `;` starts the next one.
    statement_done: bool,
    /// The summary is full: nothing more is read.
    done: bool,
    /// Where the summary ended before its last operation, while no table follows it yet: a
    /// table of it that does not fit takes the operation out too (`… SELECT` would read as
    /// one naming no table).
    bare_operation: Option<usize>,
    /// Where the summary ended when this statement began: when a later statement does not
    /// fit whole, the summary ends with the statements before it.
    statement_start: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first token.
    #[default]
    Start,
    /// Reading keywords for operations and the words that precede tables.
    Idle,
    /// After `CREATE`, `ALTER` or `DROP` (`Parser::object_operation`, as written): the kind
    /// of object follows (`TABLE`, `INDEX`).
    ObjectKind,
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
    /// After a procedure in a list: its argument types, then a `,` and another one.
    ProcedureListed,
    /// After `ROWS FROM` where a table would be: its `(` and list of functions follow.
    RowsFrom,
}

/// The parentheses at a table's place (a subquery, a parenthesized join, a function's
/// arguments, an alias's column list), one bit a depth as [`Parser::queries`]: at the `)` the
/// table ends, and what follows is read as after a table (its alias, a `,` of the `FROM`
/// list it is in). Depths past 63 are not tracked: their `)` ends nothing.
#[derive(Debug, Default)]
struct TableParens {
    /// Bit `d`: the `(` that opened depth `d` is at a table's place.
    open: u64,
    /// Bit `d`: that table is in a `FROM` list (a `,` after it names another).
    in_list: u64,
    /// Bit `d`: the parentheses are an alias's column list (no other alias follows).
    aliased: u64,
}

impl TableParens {
    /// Depth `depth` was just opened: nothing is known of it yet.
    fn clear(&mut self, depth: u32) {
        if let Some(bit) = 1u64.checked_shl(depth) {
            self.open &= !bit;
            self.in_list &= !bit;
            self.aliased &= !bit;
        }
    }

    /// The `(` that opened `depth` is at a table's place.
    fn mark(&mut self, depth: u32, in_list: bool, aliased: bool) {
        if let Some(bit) = 1u64.checked_shl(depth) {
            self.open |= bit;
            self.in_list |= if in_list { bit } else { 0 };
            self.aliased |= if aliased { bit } else { 0 };
        }
    }

    /// At the `)` closing `depth`: whether its `(` was at a table's place, and if so whether
    /// that table is in a `FROM` list and already aliased.
    fn close(&mut self, depth: u32) -> Option<(bool, bool)> {
        let bit = 1u64.checked_shl(depth)?;
        let closed =
            (self.open & bit != 0).then_some((self.in_list & bit != 0, self.aliased & bit != 0));
        self.clear(depth);
        closed
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Last {
    #[default]
    Start,
    Open,
    Close,
    Distinct,
    /// `FOR VALUES FROM (..) TO (..)`: a partition's bounds, not tables.
    Values,
    /// `UNION`, `INTERSECT`, `EXCEPT` (and their `ALL`): a query follows.
    SetOperator,
    /// A `.`: a name follows (`t.table`).
    Dot,
    /// `AS`: a name or a label follows (`1 AS join`), or a `CREATE TABLE`'s query.
    As,
    Other,
}

/// Words between a keyword and the table name that are not the name.
const MODIFIERS: [&str; 9] = [
    "ONLY",
    "IF",
    "NOT",
    "EXISTS",
    "LATERAL",
    "TABLE",
    // `SELECT .. INTO TEMP [TABLE] x`.
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
];

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
const NOT_ALIASES: [&str; 33] = [
    "TABLE",
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

/// Words that end a `FROM` list: the clauses after it, and another query's start.
const FROM_LIST_ENDS: [&str; 16] = [
    "WHERE",
    "GROUP",
    "HAVING",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FETCH",
    "FOR",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "RETURNING",
    "SELECT",
    "SET",
    "VALUES",
];

/// Words that join two queries, and the `ALL` after one: a query follows.
const SET_OPERATORS: [&str; 4] = ["UNION", "INTERSECT", "EXCEPT", "ALL"];

/// Words that start a query in parentheses where a table would be (`FROM (SELECT ..) s`).
const QUERY_STARTS: [&str; 3] = ["SELECT", "VALUES", "WITH"];

/// Operations that start a statement or a subquery but are also words of other clauses
/// (`FOR UPDATE`, `ON DELETE`, `DO UPDATE`): operations only after `(`, `)` or at the start.
const STATEMENT_OPERATIONS: [&str; 4] = ["INSERT", "UPDATE", "DELETE", "MERGE"];

/// Keeps `name` as the statement's first of its kind, or marks that another one followed.
fn note_first(first: &mut Option<String>, other: &mut bool, name: &str) {
    match first {
        None => *first = Some(name.to_owned()),
        Some(first) if first != name => *other = true,
        Some(_) => {}
    }
}

/// A name as PostgreSQL compares it: a quoted one as written inside its quotes (`""` is one
/// `"`), any other with its ASCII letters in lower case (`Recent` and `recent` are one name,
/// `"Recent"` another). PostgreSQL folds no other letter (with a UTF-8 server encoding): `É`
/// and `é` are two names, and Unicode lower-casing would take a table for a `WITH` name.
fn folded_name(name: &str) -> std::borrow::Cow<'_, str> {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) if quoted.contains("\"\"") => quoted.replace("\"\"", "\"").into(),
        Some(quoted) => quoted.into(),
        None => name.to_ascii_lowercase().into(),
    }
}

fn is_any(word: &str, set: &[&str]) -> bool {
    set.iter().any(|w| word.eq_ignore_ascii_case(w))
}

impl Parser {
    fn feed(&mut self, token: Token<'_>) {
        if self.done {
            return;
        }
        if token == Token::Punct(b';') && self.depth == 0 {
            self.end_statement();
            return;
        }
        let mut table_closed = None;
        match token {
            Token::Punct(b'(') => {
                self.depth = self.depth.saturating_add(1);
                if let Some(bit) = 1u64.checked_shl(self.depth) {
                    self.queries &= !bit;
                }
                self.table_parens.clear(self.depth);
                self.set_from_list(false);
            }
            Token::Punct(b'[') => self.brackets = self.brackets.saturating_add(1),
            Token::Punct(b']') => self.brackets = self.brackets.saturating_sub(1),
            Token::Punct(b')') if self.depth > 0 => {
                table_closed = self.table_parens.close(self.depth);
                self.depth -= 1;
            }
            _ => {}
        }
        if self.statement_done {
            return;
        }
        match table_closed {
            Some((in_list, aliased)) => self.table_paren_closed(in_list, aliased),
            None => self.step(token),
        }
        self.last = match token {
            Token::Punct(b'(') => Last::Open,
            Token::Punct(b')') => Last::Close,
            Token::Word(w) if w.eq_ignore_ascii_case("DISTINCT") => Last::Distinct,
            Token::Word(w) if w.eq_ignore_ascii_case("VALUES") => Last::Values,
            Token::Word(w) if is_any(w, &SET_OPERATORS) => Last::SetOperator,
            Token::Punct(b'.') => Last::Dot,
            Token::Word(w) if w.eq_ignore_ascii_case("AS") => Last::As,
            _ => Last::Other,
        };
    }

    fn step(&mut self, token: Token<'_>) {
        match self.state {
            State::Start => self.first(token),
            State::Idle => self.idle(token),
            State::ObjectKind => match token {
                Token::Word(w) if is_any(w, &KIND_MODIFIERS) => {}
                // Bounded as the operation is: the object kind is a keyword.
                Token::Word(kind)
                    if kind.len() <= MAX_OPERATION_LEN
                        && kind.bytes().all(|c| c.is_ascii_alphabetic()) =>
                {
                    let written = std::mem::take(&mut self.object_operation);
                    self.add_operation(&format!("{written} {kind}"));
                    if kind.eq_ignore_ascii_case("TABLE") {
                        // `DROP TABLE a, b` names two.
                        self.table_next(false, written.eq_ignore_ascii_case("DROP"));
                    } else if kind.eq_ignore_ascii_case("PROCEDURE") {
                        // `DROP PROCEDURE a, b` names two.
                        self.procedure_next(written.eq_ignore_ascii_case("DROP"));
                    } else {
                        self.statement_done = true;
                    }
                }
                _ => {
                    let written = std::mem::take(&mut self.object_operation);
                    self.add_operation(&written);
                    self.statement_done = true;
                }
            },
            State::TableNext => match token {
                // `FROM (TABLE b) s`: a query in the parentheses at a table's place.
                Token::Word(w) if w.eq_ignore_ascii_case("TABLE") && self.last == Last::Open => {
                    self.idle(token)
                }
                Token::Word(w) if is_any(w, &MODIFIERS) => {}
                // `FROM (SELECT ..)`, `FROM ((SELECT ..))`: a subquery, whose `(` was read
                // as a parenthesized join's.
                Token::Word(w) if is_any(w, &QUERY_STARTS) => self.idle(token),
                // `FROM (a JOIN b ..)` or a subquery: either way the table ends at its `)`.
                Token::Punct(b'(') if self.paren_may_be_table => self.open_table_paren(false),
                Token::Word(part) | Token::QuotedIdent(part) => {
                    self.name.clear();
                    self.state = State::InName;
                    self.extend_name(part);
                }
                // `USING (SELECT ..)`: a subquery, read as the rest of the statement.
                _ => self.idle(token),
            },
            State::InName => match token {
                Token::Punct(b'.') => self.state = State::AfterDot,
                // `FROM generate_series(..)`: a function, not a table; the `)` ends it.
                Token::Punct(b'(') if self.name_may_be_function => {
                    self.name.clear();
                    self.open_table_paren(false);
                    self.state = State::Idle;
                }
                // `FROM ROWS FROM (f(..), g(..))`: functions, not a table named `ROWS`.
                Token::Word(w)
                    if w.eq_ignore_ascii_case("FROM")
                        && self.name_may_be_function
                        && self.name.eq_ignore_ascii_case("ROWS") =>
                {
                    self.name.clear();
                    self.state = State::RowsFrom;
                }
                _ => {
                    let listed = self.name_is_procedure && self.procedure_list;
                    self.add_table();
                    self.state = match listed {
                        true => State::ProcedureListed,
                        false => State::AfterTable { aliased: false },
                    };
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
                // `INSERT INTO a TABLE b`, `CREATE TABLE a AS TABLE b`: the query after the
                // table (`TABLE` is no table's alias: a reserved word).
                Token::Word(w) if w.eq_ignore_ascii_case("TABLE") => self.table_query(w),
                Token::Word(w) if w.eq_ignore_ascii_case("AS") && !aliased => {}
                // `FROM unnest(..) WITH ORDINALITY AS u(x, n)`: right after a `)` at a table's
                // place, `WITH` starts no query.
                Token::Word(w)
                    if !aliased
                        && ((w.eq_ignore_ascii_case("WITH") && self.last == Last::Close)
                            || w.eq_ignore_ascii_case("ORDINALITY")) => {}
                Token::Word(w) | Token::QuotedIdent(w) if !aliased && !is_any(w, &NOT_ALIASES) => {
                    self.state = State::AfterTable { aliased: true };
                }
                Token::Punct(b',') if self.in_from_list => self.table_next(true, true),
                // `FROM a x(c)`: the alias's column list; the `)` ends the table.
                Token::Punct(b'(') if aliased => {
                    self.open_table_paren(true);
                    self.state = State::Idle;
                }
                _ => self.idle(token),
            },
            State::RowsFrom => match token {
                Token::Punct(b'(') => {
                    self.open_table_paren(false);
                    self.state = State::Idle;
                }
                _ => self.idle(token),
            },
            State::ProcedureListed => {
                if token == Token::Punct(b',') && self.depth == 0 {
                    self.procedure_next(true);
                }
            }
            State::CteName => match token {
                Token::Word(w) if w.eq_ignore_ascii_case("RECURSIVE") => {}
                Token::Word(name) | Token::QuotedIdent(name) => {
                    // Past a few names, the rest are listed as if tables (bounded memory), and
                    // no table is taken for the only one.
                    if self.ctes.len() < MAX_CTE_NAMES {
                        self.ctes.push(name.to_owned());
                    } else {
                        self.ctes_overflowed = true;
                    }
                    self.state = State::Idle;
                }
                _ => self.idle(token),
            },
        }
    }

    /// The first token: the operation when it is a word, and what follows it.
    fn first(&mut self, token: Token<'_>) {
        // `(SELECT ..) UNION (SELECT ..)`: the statement's first word is inside.
        if token == Token::Punct(b'(') {
            return;
        }
        let Token::Word(word) = token else {
            // Unknown (`(SELECT 1)`): no operation can be named for the query as a whole.
            self.other_operation = true;
            self.statement_done = true;
            return;
        };
        if word.len() > MAX_OPERATION_LEN || !word.bytes().all(|c| c.is_ascii_alphabetic()) {
            // Unknown: no operation can be named for the query as a whole.
            self.other_operation = true;
            self.statement_done = true;
            return;
        }
        self.state = State::Idle;
        // Matched in capitals, recorded as written (the conventions: no case normalization).
        let keyword = word.to_ascii_uppercase();
        match keyword.as_str() {
            "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "WITH" => self.idle(token),
            "CREATE" | "ALTER" | "DROP" => {
                self.object_operation = word.to_owned();
                self.state = State::ObjectKind;
            }
            "TRUNCATE" => {
                // `TRUNCATE a, b` names two.
                self.add_operation(word);
                self.table_next(false, true);
            }
            "CALL" => {
                self.add_operation(word);
                self.procedure_next(false);
            }
            // `TABLE t`: PostgreSQL's `SELECT * FROM t`.
            "TABLE" => self.table_query(word),
            "COPY" => {
                self.add_operation(word);
                // Its `FROM` names a file, `STDIN` or `PROGRAM`, not a table (a query in
                // parentheses is a query of its own).
                self.queries &= !1;
                self.table_next(false, false);
            }
            // `BEGIN`, `SET`, `VACUUM`…: the operation alone.
            _ => {
                self.add_operation(word);
                self.statement_done = true;
            }
        }
    }

    /// A token outside a table name: operations, the keywords before tables, `WITH`.
    fn idle(&mut self, token: Token<'_>) {
        self.state = State::Idle;
        // Whatever followed `CALL`, no name came: what comes next is no procedure's.
        self.name_is_procedure = false;
        let word = match token {
            Token::Punct(b',') if self.with_depth == Some(self.depth) => {
                self.state = State::CteName;
                return;
            }
            Token::Punct(b',') if self.brackets == 0 && self.in_open_from_list() => {
                self.table_next(true, true);
                return;
            }
            Token::Word(word) => word,
            _ => return,
        };
        let is = |keyword: &str| word.eq_ignore_ascii_case(keyword);
        // After `.` a word is a name (`m.from`); after `AS`, a label (`1 AS join`), but for a
        // `CREATE TABLE .. AS`'s query.
        let source_start = self.awaits_source == Some(self.depth);
        if self.last == Last::Dot || (self.last == Last::As && !source_start) {
            return;
        }
        // After a `)`, a query starts only where a `WITH`'s definitions or an `INSERT`'s
        // columns end: elsewhere a word there is an output's label (`count(*) update`).
        let after_close =
            self.last == Last::Close && (self.with_depth == Some(self.depth) || source_start);
        let statement_start = matches!(self.last, Last::Start | Last::Open) || after_close;
        if is_any(word, &FROM_LIST_ENDS) {
            self.set_from_list(false);
        }
        if is("SELECT") || (statement_start && is_any(word, &STATEMENT_OPERATIONS)) {
            if self.with_depth == Some(self.depth) {
                self.with_depth = None;
            }
            self.add_operation(word);
            if is("UPDATE") {
                self.table_next(false, false);
            }
        } else if is("WITH") && (statement_start || source_start) {
            self.with_depth = Some(self.depth);
            self.state = State::CteName;
        } else if is("FROM")
            && !matches!(self.last, Last::Distinct | Last::Values)
            && self.in_query()
        {
            // Not `IS [NOT] DISTINCT FROM`, a comparison, nor a function's `FROM`, nor a
            // partition's bounds.
            self.table_next(true, true);
            self.set_from_list(true);
        } else if is("JOIN") {
            self.table_next(true, false);
        } else if is("USING") && self.using_names_tables {
            // `MERGE .. USING s`, `DELETE .. USING s, t` (a list), `USING (a JOIN b ..)`.
            self.using_names_tables = false;
            self.table_next(true, true);
        } else if is("INTO") {
            self.table_next(false, false);
        } else if is("TABLE")
            && (statement_start
                || source_start
                || matches!(self.last, Last::SetOperator | Last::Distinct))
        {
            // Where a query may start (also after a set operator, and as an `INSERT`'s or a
            // `CREATE TABLE .. AS`'s source past their clauses), `TABLE b` is PostgreSQL's
            // `SELECT * FROM b`. Elsewhere the word is a column's name or an output's label
            // (`count(*) table`: any keyword may be one).
            self.table_query(word);
        } else if is("VALUES") || is("DEFAULT") {
            // An `INSERT`'s source that is no query: a `TABLE` after it is a name.
            self.awaits_source = None;
        }
    }

    /// `TABLE b` (PostgreSQL's `SELECT * FROM b`), at `TABLE`: a query naming one table.
    fn table_query(&mut self, word: &str) {
        self.add_operation(word);
        self.table_next(false, false);
    }

    /// A table name follows (after modifiers); `function` when a `(` after it would make it
    /// a function's name, `list` when a `,` after it names another (a `FROM` list).
    fn table_next(&mut self, function: bool, list: bool) {
        self.state = State::TableNext;
        self.name_may_be_function = function;
        self.paren_may_be_table = function;
        self.in_from_list = list;
    }

    /// Whether a `FROM` list is open at the current depth (see `from_lists`).
    fn in_open_from_list(&self) -> bool {
        1u64.checked_shl(self.depth)
            .is_some_and(|bit| self.from_lists & bit != 0)
    }

    /// Opens or closes the `FROM` list of the current depth.
    fn set_from_list(&mut self, open: bool) {
        if let Some(bit) = 1u64.checked_shl(self.depth) {
            match open {
                true => self.from_lists |= bit,
                false => self.from_lists &= !bit,
            }
        }
    }

    /// The `(` just read is at a table's place (`aliased`: an alias's column list): what is
    /// inside is read as any other text, until its `)` (see [`Parser::table_paren_closed`]).
    fn open_table_paren(&mut self, aliased: bool) {
        let in_list = self.in_from_list;
        self.table_parens.mark(self.depth, in_list, aliased);
        self.in_from_list = false;
    }

    /// The `)` of parentheses at a table's place: a name read up to it is complete (`(a JOIN
    /// b)`), and what follows is what may follow a table, an alias (unless it had one) or a
    /// `,` of the `FROM` list it was in.
    fn table_paren_closed(&mut self, in_list: bool, aliased: bool) {
        if self.state == State::InName {
            self.add_table();
        }
        self.state = State::AfterTable { aliased };
        self.in_from_list = in_list;
    }

    /// A stored procedure's name follows (the conventions' summary keeps it as the target,
    /// as a table's): the statement says nothing more after it (its arguments, or a
    /// procedure's definition) but, in a `list`, other procedures after a `,`.
    fn procedure_next(&mut self, list: bool) {
        self.table_next(false, false);
        self.name_is_procedure = true;
        self.procedure_list = list;
    }

    /// Whether the current depth holds a query (see `queries`).
    fn in_query(&self) -> bool {
        1u64.checked_shl(self.depth)
            .is_none_or(|bit| self.queries & bit != 0)
    }

    fn add_operation(&mut self, operation: &str) {
        if let Some(bit) = 1u64.checked_shl(self.depth) {
            self.queries |= bit;
        }
        let takes_source = operation.eq_ignore_ascii_case("INSERT")
            || operation.eq_ignore_ascii_case("CREATE TABLE");
        if takes_source {
            self.awaits_source = Some(self.depth);
        } else if self.awaits_source == Some(self.depth) {
            // The source came (a query in a `WITH` before it leaves it pending).
            self.awaits_source = None;
        }
        self.using_names_tables =
            operation.eq_ignore_ascii_case("DELETE") || operation.eq_ignore_ascii_case("MERGE");
        match &self.operation {
            None => self.operation = Some(operation.to_owned()),
            // `select ..; SELECT ..` is one kind of operation, named as first written.
            Some(first) if !first.eq_ignore_ascii_case(operation) => self.other_operation = true,
            Some(_) => {}
        }
        let before = self.summary.len();
        if self.push(operation) {
            self.bare_operation = Some(before);
        }
    }

    /// The table just read, unless it names one of the statement's `WITH` definitions.
    fn add_table(&mut self) {
        let name = std::mem::take(&mut self.name);
        if self.name_is_procedure {
            self.add_procedure(name);
            return;
        }
        let folded = folded_name(&name);
        if name.is_empty() || self.ctes.iter().any(|cte| folded_name(cte) == folded) {
            return;
        }
        note_first(&mut self.collection, &mut self.other_collection, &name);
        self.other_collection |= self.ctes_overflowed;
        self.push_target(&name);
    }

    /// The stored procedure just read: in the summary after its operation, and the end of
    /// what the statement says.
    fn add_procedure(&mut self, name: String) {
        self.name_is_procedure = false;
        self.statement_done = !self.procedure_list;
        if name.is_empty() {
            return;
        }
        note_first(&mut self.procedure, &mut self.other_procedure, &name);
        self.push_target(&name);
    }

    /// Appends an operation's target (a table, a procedure) to the summary; when it does not
    /// fit, the operation it would follow goes too.
    fn push_target(&mut self, name: &str) {
        if self.push(name) {
            self.bare_operation = None;
        } else if let Some(before) = self.bare_operation.take() {
            self.summary.truncate(before);
        }
    }

    /// Appends a word to the summary; one that would take it past its cap ends
    /// the reading (counted first: what the attributes say about one or several still holds).
    /// Whether it fitted.
    fn push(&mut self, piece: &str) -> bool {
        let space = usize::from(!self.summary.is_empty());
        if self.summary.len() + space + piece.len() > self.summary_cap {
            self.done = true;
            // A statement after the first that does not fit whole is left out whole: cut,
            // it would name fewer tables than it reads. The first is kept as far as it fits.
            if self.statement_start > 0 {
                self.summary.truncate(self.statement_start);
                self.bare_operation = None;
            }
            return false;
        }
        if space == 1 {
            self.summary.push(' ');
        }
        self.summary.push_str(piece);
        true
    }

    /// Appends to the table name; past [`MAX_COLLECTION_LEN`] the name is dropped (a cut
    /// name would name another table) and the statement's table is unknown.
    fn extend_name(&mut self, part: &str) {
        if self.name.len() + part.len() > MAX_COLLECTION_LEN {
            if std::mem::take(&mut self.name_is_procedure) {
                self.other_procedure = true;
            } else {
                self.other_collection = true;
            }
            self.name.clear();
            self.state = State::Idle;
            return;
        }
        self.name.push_str(part);
    }

    /// The end of what was read: a name being read is complete.
    fn finish(&mut self) {
        if !self.done && !self.statement_done && matches!(self.state, State::InName) {
            self.add_table();
        }
    }

    /// A `;` outside parentheses: the statement read so far is complete, and the next one
    /// starts (with what the summary, the operation and the table hold so far).
    fn end_statement(&mut self) {
        self.finish();
        let statement_start = self.summary.len();
        *self = Parser {
            summary: std::mem::take(&mut self.summary),
            summary_cap: self.summary_cap,
            operation: self.operation.take(),
            other_operation: self.other_operation,
            collection: self.collection.take(),
            other_collection: self.other_collection,
            procedure: self.procedure.take(),
            other_procedure: self.other_procedure,
            done: self.done,
            statement_start,
            ..Parser::default()
        };
    }
}

#[cfg(test)]
mod tests;

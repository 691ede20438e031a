//! Jepsen's EDN histories: the `history.edn` of Jepsen's Kafka, Redpanda and Bufstream tests.
//!
//! One operation is one EDN map, e.g.
//!
//! ```text
//! {:type :invoke, :f :send, :value [[:send 3 5]], :time 123, :process 0, :index 0}
//! {:type :ok, :f :send, :value [[:send 3 [12 5]]], :time 456, :process 0, :index 1}
//! {:type :ok, :f :poll, :value [[:poll {3 [[11 4] [12 5]]}]], :time 789, :process 1, :index 2}
//! ```
//!
//! Files hold one map per line, or one vector (or list) of maps; maps may be tagged records
//! (`#jepsen.history.Op{...}`). [`History::parse_edn`] turns them into eosim's [`Op`]s:
//! - keys (partitions) may be integers, keywords or strings, and become strings: `3` → "3", `:x` → "x";
//! - `:type` and `:f` are keywords; `:send`, `:poll`, `:txn`, `:assign`, `:subscribe` and `:crash` map to their
//!   [`OpFn`]s, micro-ops `[:send k v]`, `[:send k [offset v]]` (offset may be nil), `[:poll]` and `[:poll {k
//!   [[offset v] ...]}]`; a nil `:value` is an empty one;
//! - values may be integers, keywords or strings, as in Jepsen's own tests (`[:send :x :a]`); a keyword or string
//!   value stands for a number of its own, below [`NAMED_VALUE_MAX`], and its text is kept in
//!   [`History::value_names`] so that explanations show `:a`, not the number. Integer values in that range are
//!   refused, so that the two never collide;
//! - `:final? true` marks a final poll; `:rebalance-log [{:keys [k ...]} ...]` becomes [`Op::keys`] (the partitions
//!   rebalanced during the operation);
//! - every other key (`:error`, `:poll-ms`, ...) is ignored.
//!
//! Operation indices stay Jepsen's, so that a report's op numbers are the `:index`es of the file: an operation the
//! Kafka checker ignores — a nemesis op (whose `:process` is not an integer, e.g. `:nemesis`) or a client op with
//! another `:f` (e.g. `:debug-topic-partitions`) — is kept as an inert placeholder (an `info` `send` with no
//! micro-ops), and a gap in `:index`es (a history filtered to client ops) is filled with placeholders too.
//! Placeholders of non-client ops get process [`NON_CLIENT_PROCESS`], which no client has. A file may skip at most
//! [`INDEX_GAP_MAX`] indices in all, so that a single `{:index 100000000 ...}` cannot make the reader build a hundred
//! million placeholders.
//!
//! The reader reads each byte once (a `#_` discarded form is read once and dropped, and a mistake inside it is
//! reported where it is), and refuses forms nested deeper than 256, discarded ones included, so that no input
//! exhausts the stack or takes more than linear time.
//!
//! The reader is a small one written for this, rather than a crate: of the EDN crates on crates.io, `edn-rs` is
//! deprecated, and `clojure-reader` reports positions for syntax errors only, while a malformed history must be
//! reported as `FILE:LINE:COL: expected ...` at the offending value. It reads the EDN that Clojure's printer
//! writes — maps, vectors, lists, sets, keywords, symbols, strings, characters, numbers, `nil`, booleans, tagged
//! literals, `#_` discards and `;` comments — and never panics.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::history::{History, Key, MicroOp, Offset, Op, OpFn, OpType, ParseError, Value};

/// The process of placeholders standing for non-client operations (nemesis ops, index gaps).
pub const NON_CLIENT_PROCESS: u64 = u64::MAX;

/// How many indices a file may skip in all (each skipped index becomes a placeholder operation of about 100 bytes).
pub const INDEX_GAP_MAX: u64 = 1_000_000;

/// Keyword and string values are numbered from `i64::MIN` up to this bound (exclusive); integer values below it are
/// refused.
pub const NAMED_VALUE_MAX: Value = i64::MIN + (1 << 32);

/// Collections nested deeper than this are refused, so that hostile input cannot exhaust the stack.
const DEPTH_MAX: usize = 256;

impl History {
    /// Parses a Jepsen EDN history (see the module documentation); `file_name` is used only in error messages.
    ///
    /// # Errors
    /// The first malformed form or operation, as a [`ParseError`] naming its line, the column of the offending
    /// token, and what was expected there. Any input gives a history or an error; none makes the reader panic.
    pub fn parse_edn(file_name: &str, text: &str) -> Result<History, ParseError> {
        let mut reader = Reader::new(file_name, text);
        let mut history = History::new();
        reader.skip_ws(0)?;
        let closing = match reader.peek() {
            Some(b'[') => Some(b']'),
            Some(b'(') => Some(b')'),
            _ => None,
        };
        let opened = reader.pos;
        if closing.is_some() {
            reader.pos += 1;
        }
        loop {
            reader.skip_ws(0)?;
            match (reader.peek(), closing) {
                (None, None) => return Ok(reader.finish(history)),
                (None, Some(close)) => {
                    let message = format!("unexpected end of input (expected {} to close the history)", close as char);
                    return Err(reader.error_at(reader.pos, message).with_note(&reader, opened));
                }
                (Some(byte), Some(close)) if byte == close => {
                    reader.pos += 1;
                    reader.skip_ws(0)?;
                    if reader.peek().is_some() {
                        return Err(reader.error_at(reader.pos, "expected nothing after the history".to_string()));
                    }
                    return Ok(reader.finish(history));
                }
                _ => {}
            }
            let node = reader.node(0)?;
            reader.push_op(&mut history, &node)?;
        }
    }

    /// Parses JSON Lines or EDN, whichever `text` holds: EDN if its first non-blank character opens a vector, a
    /// list or a tagged form, or a map whose first key is a keyword (`{:`); JSON Lines otherwise (`{"`).
    ///
    /// # Errors
    /// As [`History::parse_jsonl`] or [`History::parse_edn`].
    pub fn parse_auto(file_name: &str, text: &str) -> Result<History, ParseError> {
        if looks_like_edn(text) {
            History::parse_edn(file_name, text)
        } else {
            History::parse_jsonl(file_name, text)
        }
    }
}

/// Whether `text` starts like EDN rather than JSON Lines.
fn looks_like_edn(text: &str) -> bool {
    let mut rest = text.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    match rest.as_bytes().first() {
        Some(b'[' | b'(' | b'#' | b';') => true,
        Some(b'{') => {
            rest = rest[1..].trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            matches!(rest.as_bytes().first(), Some(b':' | b'}'))
        }
        _ => false,
    }
}

impl ParseError {
    fn with_note(mut self, reader: &Reader<'_>, opened: usize) -> ParseError {
        let (line, column) = reader.line_column(opened);
        self.message.push_str(&format!(" (opened at {line}:{column})"));
        self
    }
}

/// One EDN form and where it starts and ends in the text (byte offsets).
#[derive(Debug)]
struct Node<'t> {
    start: usize,
    end: usize,
    kind: Kind<'t>,
}

#[derive(Debug)]
enum Kind<'t> {
    Nil,
    Bool(bool),
    Int(i64),
    /// Any other number: a float, a ratio, a big or out-of-range integer. Never needed as a value.
    OtherNumber,
    Str(String),
    Char,
    /// Without its colon.
    Keyword(&'t str),
    /// Any symbol but `nil`, `true` and `false`.
    Symbol,
    Vector(Vec<Node<'t>>),
    List(Vec<Node<'t>>),
    Set(Vec<Node<'t>>),
    Map(Vec<(Node<'t>, Node<'t>)>),
    Tagged(Box<Node<'t>>),
}

struct Reader<'t> {
    file: &'t str,
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    /// The number given to each keyword or string value, by its EDN text (`:a`, `"a"`).
    names: RefCell<BTreeMap<&'t str, Value>>,
    /// How many indices the file has skipped so far.
    gap_total: Cell<u64>,
}

/// Whether `byte` may appear in a symbol or keyword (after its first character).
fn symbol_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b".*+!-_?$%&=<>/:#'".contains(&byte) || byte >= 0x80
}

impl<'t> Reader<'t> {
    fn new(file: &'t str, text: &'t str) -> Reader<'t> {
        let names = RefCell::new(BTreeMap::new());
        Reader { file, text, bytes: text.as_bytes(), pos: 0, names, gap_total: Cell::new(0) }
    }

    /// The history, with the text of each keyword or string value it holds.
    fn finish(&self, mut history: History) -> History {
        history.value_names = self.names.borrow().iter().map(|(name, &value)| (value, (*name).to_string())).collect();
        history
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// 1-based line and character column of byte `pos`.
    fn line_column(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.text.len());
        let before = &self.bytes[..pos];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = self.text.get(line_start..pos).map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    fn error_at(&self, pos: usize, message: String) -> ParseError {
        let (line, column) = self.line_column(pos);
        ParseError { file: self.file.to_string(), line, column, message }
    }

    /// A short rendering of `node`'s text for messages, cut so that a huge form cannot flood the terminal.
    fn show(&self, node: &Node<'_>) -> String {
        let text = self.text.get(node.start..node.end).unwrap_or("");
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.chars().count() <= 40 {
            return flat;
        }
        let mut short: String = flat.chars().take(37).collect();
        short.push_str("...");
        short
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms, the latter read (once) as forms nested
    /// `depth` deep, so that a discard counts towards [`DEPTH_MAX`] like any other form and a mistake inside it is
    /// reported where it is.
    fn skip_ws(&mut self, depth: usize) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b'\x0c') => self.pos += 1,
                Some(b';') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'#') if self.bytes.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.node(depth + 1)?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads one form.
    fn node(&mut self, depth: usize) -> Result<Node<'t>, ParseError> {
        if depth > DEPTH_MAX {
            return Err(self.error_at(self.pos, format!("expected forms nested at most {DEPTH_MAX} deep")));
        }
        self.skip_ws(depth)?;
        let start = self.pos;
        let Some(byte) = self.peek() else {
            return Err(self.error_at(start, "unexpected end of input (expected a value)".to_string()));
        };
        let kind = match byte {
            b'[' => Kind::Vector(self.items(b']', depth)?),
            b'(' => Kind::List(self.items(b')', depth)?),
            b'{' => Kind::Map(self.map(depth)?),
            b'"' => Kind::Str(self.string()?),
            b':' => self.keyword()?,
            b'\\' => self.character()?,
            b'#' => self.dispatch(depth)?,
            b'0'..=b'9' => self.number(),
            b'+' | b'-' if self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit) => self.number(),
            b']' | b')' | b'}' => {
                return Err(self.error_at(start, format!("unexpected {} (expected a value)", byte as char)));
            }
            _ if symbol_byte(byte) => self.symbol(),
            _ => {
                let found = self.text[start..].chars().next().unwrap_or('?');
                return Err(self.error_at(start, format!("unexpected character {found:?} (expected a value)")));
            }
        };
        Ok(Node { start, end: self.pos, kind })
    }

    /// After an opening bracket: forms up to `close`.
    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Node<'t>>, ParseError> {
        let opened = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws(depth + 1)?;
            match self.peek() {
                Some(byte) if byte == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                None => {
                    let message = format!("unexpected end of input (expected {})", close as char);
                    return Err(self.error_at(self.pos, message).with_note(self, opened));
                }
                Some(b']' | b')' | b'}') => {
                    let message = format!("unexpected {} (expected {})", self.bytes[self.pos] as char, close as char);
                    return Err(self.error_at(self.pos, message).with_note(self, opened));
                }
                Some(_) => items.push(self.node(depth + 1)?),
            }
        }
    }

    fn map(&mut self, depth: usize) -> Result<Vec<(Node<'t>, Node<'t>)>, ParseError> {
        let opened = self.pos;
        let items = self.items(b'}', depth)?;
        if items.len() % 2 == 1 {
            let last = &items[items.len() - 1];
            let message = format!("expected a value after the key {} (a map holds pairs)", self.show(last));
            return Err(self.error_at(last.start, message).with_note(self, opened));
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            pairs.push((key, value));
        }
        Ok(pairs)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let opened = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(stop) = rest.find(['"', '\\']) else {
                let message = "unexpected end of input (expected \" to close the string)".to_string();
                return Err(self.error_at(self.text.len(), message).with_note(self, opened));
            };
            out.push_str(&rest[..stop]);
            self.pos += stop;
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                return Ok(out);
            }
            out.push(self.escape()?);
        }
    }

    /// At a backslash inside a string: the escaped character.
    fn escape(&mut self) -> Result<char, ParseError> {
        let at = self.pos;
        let escaped = self.bytes.get(self.pos + 1).copied();
        self.pos += 2;
        let simple = match escaped {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'n') => Some('\n'),
            Some(b't') => Some('\t'),
            Some(b'r') => Some('\r'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            _ => None,
        };
        if let Some(c) = simple {
            return Ok(c);
        }
        if escaped == Some(b'u') {
            let hex = self.text.get(self.pos..self.pos + 4).and_then(|h| u32::from_str_radix(h, 16).ok());
            if let Some(c) = hex.and_then(char::from_u32) {
                self.pos += 4;
                return Ok(c);
            }
        }
        Err(self.error_at(at, "expected an escape \\\" \\\\ \\n \\t \\r \\b \\f or \\uXXXX".to_string()))
    }

    fn token(&mut self) -> &'t str {
        let start = self.pos;
        while self.peek().is_some_and(symbol_byte) {
            self.pos += 1;
        }
        // Symbol bytes are ASCII or parts of multi-byte characters, which end where the run of them ends.
        self.text.get(start..self.pos).unwrap_or("")
    }

    fn keyword(&mut self) -> Result<Kind<'t>, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let name = self.token();
        let name = name.strip_prefix(':').unwrap_or(name);
        if name.is_empty() {
            return Err(self.error_at(start, "expected a keyword name after :".to_string()));
        }
        Ok(Kind::Keyword(name))
    }

    fn symbol(&mut self) -> Kind<'t> {
        match self.token() {
            "nil" => Kind::Nil,
            "true" => Kind::Bool(true),
            "false" => Kind::Bool(false),
            _ => Kind::Symbol,
        }
    }

    /// `\a`, `\newline`, `\u0041`: read as one token; their value never matters here.
    fn character(&mut self) -> Result<Kind<'t>, ParseError> {
        let start = self.pos;
        self.pos += 1;
        match self.text[self.pos..].chars().next() {
            Some(c) => {
                self.pos += c.len_utf8();
                self.token();
                Ok(Kind::Char)
            }
            None => Err(self.error_at(start, "unexpected end of input (expected a character after \\)".to_string())),
        }
    }

    /// After `#`: a set, a symbolic value (`##Inf`), or a tagged form (`#inst "..."`, `#jepsen.history.Op{...}`).
    fn dispatch(&mut self, depth: usize) -> Result<Kind<'t>, ParseError> {
        let start = self.pos;
        match self.bytes.get(self.pos + 1) {
            Some(b'{') => {
                self.pos += 1;
                Ok(Kind::Set(self.items(b'}', depth)?))
            }
            Some(b'#') => {
                self.pos += 2;
                self.token();
                Ok(Kind::OtherNumber)
            }
            Some(&b) if b.is_ascii_alphabetic() => {
                self.pos += 1;
                self.token();
                Ok(Kind::Tagged(Box::new(self.node(depth + 1)?)))
            }
            _ => Err(self.error_at(start, "expected #{, #_ or a tag such as #inst after #".to_string())),
        }
    }

    fn number(&mut self) -> Kind<'t> {
        let text = self.token();
        let digits = text.strip_suffix('N').unwrap_or(text);
        match digits.strip_prefix('+').unwrap_or(digits).parse::<i64>() {
            Ok(n) => Kind::Int(n),
            // Floats, ratios, big integers: nothing in a history needs their value, only that they are numbers.
            Err(_) => Kind::OtherNumber,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// From EDN forms to ops.

/// The fields of an operation map that matter, found by keyword.
struct OpFields<'n, 't> {
    op_type: Option<&'n Node<'t>>,
    f: Option<&'n Node<'t>>,
    process: Option<&'n Node<'t>>,
    time: Option<&'n Node<'t>>,
    index: Option<&'n Node<'t>>,
    value: Option<&'n Node<'t>>,
    final_poll: Option<&'n Node<'t>>,
    rebalance_log: Option<&'n Node<'t>>,
}

/// The map inside a tagged record, or the form itself.
fn untagged<'n, 't>(node: &'n Node<'t>) -> &'n Node<'t> {
    match &node.kind {
        Kind::Tagged(inner) => untagged(inner),
        _ => node,
    }
}

/// The items of a vector, list or set.
fn items<'n, 't>(node: &'n Node<'t>) -> Option<&'n [Node<'t>]> {
    match &untagged(node).kind {
        Kind::Vector(items) | Kind::List(items) | Kind::Set(items) => Some(items),
        _ => None,
    }
}

fn keyword<'t>(node: &Node<'t>) -> Option<&'t str> {
    match untagged(node).kind {
        Kind::Keyword(name) => Some(name),
        _ => None,
    }
}

impl<'t> Reader<'t> {
    fn fields<'n>(&self, node: &'n Node<'t>) -> Result<OpFields<'n, 't>, ParseError> {
        let Kind::Map(pairs) = &untagged(node).kind else {
            let message = format!("expected an operation map {{:type ..., :f ..., ...}}, found {}", self.show(node));
            return Err(self.error_at(node.start, message));
        };
        let mut fields = OpFields {
            op_type: None,
            f: None,
            process: None,
            time: None,
            index: None,
            value: None,
            final_poll: None,
            rebalance_log: None,
        };
        for (key, value) in pairs {
            let slot = match keyword(key) {
                Some("type") => &mut fields.op_type,
                Some("f") => &mut fields.f,
                Some("process") => &mut fields.process,
                Some("time") => &mut fields.time,
                Some("index") => &mut fields.index,
                Some("value") => &mut fields.value,
                Some("final?") => &mut fields.final_poll,
                Some("rebalance-log") => &mut fields.rebalance_log,
                _ => continue,
            };
            // The first of repeated keys wins, as a reader of the file would take it.
            slot.get_or_insert(value);
        }
        Ok(fields)
    }

    /// Converts one operation map and appends it, after any placeholders that keep indices Jepsen's.
    fn push_op(&self, history: &mut History, node: &Node<'t>) -> Result<(), ParseError> {
        let fields = self.fields(node)?;
        let position = history.ops.len();
        let index = match fields.index {
            None => position,
            Some(index) => match untagged(index).kind {
                Kind::Int(i) if i >= 0 && i as u64 >= position as u64 => {
                    let gap = i as u64 - position as u64;
                    let allowed = INDEX_GAP_MAX - self.gap_total.get();
                    if gap > allowed {
                        let message = format!(
                            "expected :index at most {} (a file may skip at most {INDEX_GAP_MAX} indices in all, \
                             {allowed} more here), found {i}",
                            position as u64 + allowed
                        );
                        return Err(self.error_at(index.start, message));
                    }
                    self.gap_total.set(self.gap_total.get() + gap);
                    i as usize
                }
                _ => {
                    let message = format!(
                        "expected :index {position} or more (indices ascend in file order), found {}",
                        self.show(index)
                    );
                    return Err(self.error_at(index.start, message));
                }
            },
        };
        let op_type = self.op_type(&fields, node)?;
        let time_ns = self.time(&fields)?;
        while history.ops.len() < index {
            history.push(placeholder(OpType::Info, NON_CLIENT_PROCESS, time_ns));
        }
        let op = self.op(&fields, op_type, time_ns)?;
        history.push(op);
        Ok(())
    }

    fn op_type(&self, fields: &OpFields<'_, 't>, node: &Node<'t>) -> Result<OpType, ParseError> {
        let expected = "(expected :invoke, :ok, :fail or :info)";
        let Some(op_type) = fields.op_type else {
            return Err(self.error_at(node.start, format!("missing :type {expected}")));
        };
        match keyword(op_type) {
            Some("invoke") => Ok(OpType::Invoke),
            Some("ok") => Ok(OpType::Ok),
            Some("fail") => Ok(OpType::Fail),
            Some("info") => Ok(OpType::Info),
            _ => Err(self.error_at(op_type.start, format!("unknown :type {} {expected}", self.show(op_type)))),
        }
    }

    fn time(&self, fields: &OpFields<'_, 't>) -> Result<u64, ParseError> {
        match fields.time.map(|t| (t, &untagged(t).kind)) {
            None | Some((_, Kind::Nil)) => Ok(0),
            Some((_, Kind::Int(t))) if *t >= 0 => Ok(*t as u64),
            Some((time, _)) => Err(self.error_at(
                time.start,
                format!("expected a non-negative integer :time (nanoseconds), found {}", self.show(time)),
            )),
        }
    }

    /// The op itself, or a placeholder for one the Kafka checker ignores.
    fn op(&self, fields: &OpFields<'_, 't>, op_type: OpType, time_ns: u64) -> Result<Op, ParseError> {
        let process = match fields.process.map(|p| &untagged(p).kind) {
            Some(Kind::Int(p)) if *p >= 0 => *p as u64,
            // Jepsen's nemesis is `:process :nemesis`; no process is not a client either.
            _ => return Ok(placeholder(op_type, NON_CLIENT_PROCESS, time_ns)),
        };
        let f = match fields.f.and_then(keyword) {
            Some("send") => OpFn::Send,
            Some("poll") => OpFn::Poll,
            Some("txn") => OpFn::Txn,
            Some("assign") => OpFn::Assign,
            Some("subscribe") => OpFn::Subscribe,
            Some("crash") => OpFn::Crash,
            _ => return Ok(placeholder(op_type, process, time_ns)),
        };
        let mut op = placeholder(op_type, process, time_ns);
        op.f = f;
        let value = fields.value.filter(|v| !matches!(untagged(v).kind, Kind::Nil));
        match f {
            OpFn::Crash => {}
            OpFn::Assign | OpFn::Subscribe => op.keys = self.keys(value, "the keys to assign")?,
            OpFn::Send | OpFn::Poll | OpFn::Txn => {
                op.mops = match value {
                    None => Vec::new(),
                    Some(value) => self.mops(value)?,
                };
                op.keys = self.rebalanced(fields.rebalance_log)?;
            }
        }
        op.final_poll = fields.final_poll.is_some_and(|f| matches!(untagged(f).kind, Kind::Bool(true)));
        Ok(op)
    }

    fn keys(&self, value: Option<&Node<'t>>, what: &str) -> Result<Vec<Key>, ParseError> {
        let Some(value) = value else { return Ok(Vec::new()) };
        let Some(items) = items(value) else {
            let message = format!("expected a vector of keys for {what}, found {}", self.show(value));
            return Err(self.error_at(value.start, message));
        };
        items.iter().map(|item| self.key(item)).collect()
    }

    /// A partition key: an integer, a keyword or a string.
    fn key(&self, node: &Node<'t>) -> Result<Key, ParseError> {
        match &untagged(node).kind {
            Kind::Int(k) => Ok(k.to_string()),
            Kind::Keyword(k) => Ok((*k).to_string()),
            Kind::Str(k) => Ok(k.clone()),
            _ => Err(self.error_at(
                node.start,
                format!("expected a key (integer, keyword or string), found {}", self.show(node)),
            )),
        }
    }

    /// `:rebalance-log [{:keys [k ...]} ...]`: every key named, sorted, once.
    fn rebalanced(&self, log: Option<&Node<'t>>) -> Result<Vec<Key>, ParseError> {
        let Some(entries) = log.and_then(items) else { return Ok(Vec::new()) };
        let mut keys = Vec::new();
        for entry in entries {
            if let Kind::Map(pairs) = &untagged(entry).kind {
                for (_, value) in pairs.iter().filter(|(k, _)| keyword(k) == Some("keys")) {
                    keys.extend(self.keys(Some(value), ":rebalance-log :keys")?);
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    fn mops(&self, value: &Node<'t>) -> Result<Vec<MicroOp>, ParseError> {
        let Some(items) = items(value) else {
            let message =
                format!("expected a vector of micro-ops [[:send ...] [:poll ...]], found {}", self.show(value));
            return Err(self.error_at(value.start, message));
        };
        items.iter().map(|mop| self.mop(mop)).collect()
    }

    fn mop(&self, mop: &Node<'t>) -> Result<MicroOp, ParseError> {
        let fail =
            |expected: &str| Err(self.error_at(mop.start, format!("expected {expected}, found {}", self.show(mop))));
        let Some(parts) = items(mop) else { return fail("a micro-op [:send ...] or [:poll ...]") };
        match (parts.first().and_then(keyword), parts) {
            (Some("send"), [_, key, sent]) => {
                let key = self.key(key)?;
                let (offset, value) = match items(sent) {
                    Some([offset, value]) => (self.offset(offset)?, self.value(value)?),
                    Some(_) => return fail("[:send key value] or [:send key [offset value]]"),
                    None => (None, self.value(sent)?),
                };
                Ok(MicroOp::Send { key, value, offset, source: None })
            }
            (Some("send"), _) => fail("[:send key value] or [:send key [offset value]]"),
            (Some("poll"), [_]) => Ok(MicroOp::Poll { reads: BTreeMap::new() }),
            (Some("poll"), [_, reads]) => Ok(MicroOp::Poll { reads: self.reads(reads)? }),
            (Some("poll"), _) => fail("[:poll] or [:poll {key [[offset value] ...]}]"),
            _ => fail("a micro-op [:send ...] or [:poll ...]"),
        }
    }

    fn reads(&self, node: &Node<'t>) -> Result<BTreeMap<Key, Vec<(Offset, Value)>>, ParseError> {
        let mut reads = BTreeMap::new();
        let pairs = match &untagged(node).kind {
            Kind::Nil => return Ok(reads),
            Kind::Map(pairs) => pairs,
            _ => {
                let message = format!("expected a map {{key [[offset value] ...]}}, found {}", self.show(node));
                return Err(self.error_at(node.start, message));
            }
        };
        for (key, records) in pairs {
            let key = self.key(key)?;
            let list = match (&untagged(records).kind, items(records)) {
                (Kind::Nil, _) => &[][..],
                (_, Some(list)) => list,
                (_, None) => {
                    let message = format!("expected [[offset value] ...], found {}", self.show(records));
                    return Err(self.error_at(records.start, message));
                }
            };
            let mut parsed = Vec::with_capacity(list.len());
            for record in list {
                match items(record) {
                    Some([offset, value]) => {
                        let Some(offset) = self.offset(offset)? else {
                            let message = "expected an offset (a non-negative integer), found nil".to_string();
                            return Err(self.error_at(offset.start, message));
                        };
                        parsed.push((offset, self.value(value)?));
                    }
                    _ => {
                        let message = format!("expected a read [offset value], found {}", self.show(record));
                        return Err(self.error_at(record.start, message));
                    }
                }
            }
            reads.entry(key).or_insert_with(Vec::new).extend(parsed);
        }
        Ok(reads)
    }

    /// An offset: a non-negative integer, or nil when unknown.
    fn offset(&self, node: &Node<'t>) -> Result<Option<Offset>, ParseError> {
        match untagged(node).kind {
            Kind::Nil => Ok(None),
            Kind::Int(o) if o >= 0 => Ok(Some(o as u64)),
            _ => Err(self.error_at(
                node.start,
                format!("expected an offset (a non-negative integer or nil), found {}", self.show(node)),
            )),
        }
    }

    /// A record's value: an integer, or a keyword or string numbered below [`NAMED_VALUE_MAX`].
    fn value(&self, node: &Node<'t>) -> Result<Value, ParseError> {
        let inner = untagged(node);
        match inner.kind {
            Kind::Int(v) if v >= NAMED_VALUE_MAX => Ok(v),
            Kind::Int(v) => Err(self.error_at(
                node.start,
                format!("expected an integer value of at least {NAMED_VALUE_MAX} (lower ones number keyword and string values), found {v}"),
            )),
            Kind::Keyword(_) | Kind::Str(_) => {
                let name = &self.text[inner.start..inner.end];
                let mut names = self.names.borrow_mut();
                let next = i64::MIN + names.len() as i64;
                assert!(next < NAMED_VALUE_MAX, "2^32 distinct names cannot fit in a text the reader accepts");
                Ok(*names.entry(name).or_insert(next))
            }
            _ => Err(self.error_at(
                node.start,
                format!("expected a value (an integer, a keyword or a string), found {}", self.show(node)),
            )),
        }
    }
}

/// An inert op: an `info` (or whatever `op_type`) `send` with no micro-ops, which no check looks at.
fn placeholder(op_type: OpType, process: u64, time_ns: u64) -> Op {
    Op { index: 0, time_ns, process, op_type, f: OpFn::Send, mops: Vec::new(), keys: Vec::new(), final_poll: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> History {
        History::parse_edn("h.edn", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> ParseError {
        match History::parse_edn("h.edn", text) {
            Ok(history) => panic!("expected an error for {text}, got {history:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn one_map_per_line_with_every_micro_op_shape() {
        let history = parse(
            r#"{:type :invoke, :f :txn, :value [[:send 3 5] [:send :x 6] [:poll]], :time 10, :process 0, :index 0}
{:type :ok, :f :txn, :value [[:send 3 [12 5]] [:send :x [nil 6]] [:poll {3 [[11 4] [12 5]], :y [], "z" nil}]], :time 20, :process 0, :index 1, :error "ignored" :poll-ms 1.5}
{:type :ok, :f :assign, :value [3 :x], :time 30, :process 1, :index 2}
{:type :info, :f :crash, :value nil, :time 40, :process 1, :index 3}
{:type :ok, :f :poll, :value [[:poll {3 [[12 5]]}]], :final? true, :rebalance-log [{:type :revoked, :keys [3 :y]} {:keys [3]}], :time 50, :process 2, :index 4}
"#,
        );
        assert_eq!(history.ops.len(), 5);
        let ok = &history.ops[1];
        assert_eq!((ok.op_type, ok.f, ok.time_ns, ok.process), (OpType::Ok, OpFn::Txn, 20, 0));
        assert_eq!(ok.mops[0], MicroOp::Send { key: "3".into(), value: 5, offset: Some(12), source: None });
        assert_eq!(ok.mops[1], MicroOp::Send { key: "x".into(), value: 6, offset: None, source: None });
        let MicroOp::Poll { reads } = &ok.mops[2] else { panic!("a poll") };
        let keys: Vec<&str> = reads.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["3", "y", "z"]);
        assert_eq!(reads["3"], vec![(11, 4), (12, 5)]);
        assert_eq!(history.ops[2].keys, vec!["3".to_string(), "x".to_string()]);
        assert_eq!(history.ops[3].f, OpFn::Crash);
        assert!(history.ops[4].final_poll);
        assert_eq!(history.ops[4].keys, vec!["3".to_string(), "y".to_string()]);
        // Everything read survives a round trip through JSON Lines.
        assert_eq!(History::parse_jsonl("h.jsonl", &history.to_jsonl()), Ok(history));
    }

    #[test]
    fn one_vector_of_tagged_records_comments_and_discards() {
        let history = parse(
            "; a Jepsen history\n[#jepsen.history.Op{:index 0, :time 1, :type :invoke, :process 0, :f :send, :value [[:send 1 2]]}\n \
             #_{:this :is, :discarded nil}\n #jepsen.history.Op{:index 1, :time 2, :type :ok, :process 0, :f :send, :value [[:send 1 [0 2]]]}]\n",
        );
        assert_eq!(history.ops.len(), 2);
        assert_eq!(history.ops[1].mops[0], MicroOp::Send { key: "1".into(), value: 2, offset: Some(0), source: None });
        let listed = parse("({:type :ok, :f :poll, :value [[:poll {}]], :process 3})");
        assert_eq!(listed.ops[0].time_ns, 0, "a missing :time reads as 0");
    }

    #[test]
    fn nemesis_and_other_ops_keep_their_index_as_placeholders() {
        let history = parse(
            r#"{:type :info, :f :start-partition, :value [:n1], :process :nemesis, :time 5, :index 0}
{:type :invoke, :f :debug-topic-partitions, :value [1 2], :process 4, :time 6, :index 1}
{:type :ok, :f :debug-topic-partitions, :value {1 {:leader "n1"}}, :process 4, :time 7, :index 2}
{:type :ok, :f :send, :value [[:send 1 [0 9]]], :process 5, :time 8, :index 5}
"#,
        );
        assert_eq!(history.ops.len(), 6);
        assert_eq!(history.ops[5].mops.len(), 1);
        assert_eq!(
            (history.ops[0].process, history.ops[0].f, history.ops[0].mops.len()),
            (NON_CLIENT_PROCESS, OpFn::Send, 0)
        );
        assert_eq!((history.ops[1].process, history.ops[1].op_type), (4, OpType::Invoke));
        assert_eq!((history.ops[3].process, history.ops[4].process), (NON_CLIENT_PROCESS, NON_CLIENT_PROCESS));
        assert!(history.ops.iter().take(5).all(|op| op.mops.is_empty() && op.keys.is_empty()));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = error("{:type :ok, :f :send\n :value [[:send 1 2]}\n");
        assert_eq!((e.line, e.column), (2, 21), "{e}");
        assert_eq!(e.message, "unexpected } (expected ]) (opened at 2:9)");
        let e = error("{:type :ok, :f :send, :value [[:send 1 2]]");
        assert_eq!(e.to_string(), "h.edn:1:43: unexpected end of input (expected }) (opened at 1:1)");
        let e = error("[{:type :ok, :f :poll, :process 1}");
        assert!(e.message.starts_with("unexpected end of input (expected ] to close the history)"), "{e}");
        assert_eq!(
            error("{:type :ok :f}").message,
            "expected a value after the key :f (a map holds pairs) (opened at 1:1)"
        );
        assert_eq!(
            error("{:type \"ok}").message,
            "unexpected end of input (expected \" to close the string) (opened at 1:8)"
        );
        assert_eq!(error("{:a \"\\q\"}").column, 6);
        assert_eq!(error("@").message, "unexpected character '@' (expected a value)");
        assert_eq!(error("#").message, "expected #{, #_ or a tag such as #inst after #");
        assert_eq!(error("[] []").message, "expected nothing after the history");
        let deep = "[".repeat(300);
        assert!(error(&deep).message.starts_with("expected forms nested at most"));
    }

    #[test]
    fn malformed_operations_point_at_the_bad_value() {
        let e = error("{:type :ok, :f :poll, :process 1}\n{:type :okay, :f :poll, :process 1}");
        assert_eq!(e.to_string(), "h.edn:2:8: unknown :type :okay (expected :invoke, :ok, :fail or :info)");
        assert_eq!(error("{:f :poll, :process 1}").message, "missing :type (expected :invoke, :ok, :fail or :info)");
        assert_eq!(error("[1 2]").message, "expected an operation map {:type ..., :f ..., ...}, found 1");
        let e = error("{:type :ok, :f :send, :process 1, :value [[:send 1 [0 1.5]]]}");
        assert_eq!(
            (e.column, e.message.as_str()),
            (55, "expected a value (an integer, a keyword or a string), found 1.5")
        );
        let e = error("{:type :ok, :f :send, :process 1, :value [[:send 1 [-1 2]]]}");
        assert_eq!(e.message, "expected an offset (a non-negative integer or nil), found -1");
        let e = error("{:type :ok, :f :send, :process 1, :value [[:send 1]]}");
        assert_eq!(e.message, "expected [:send key value] or [:send key [offset value]], found [:send 1]");
        let e = error("{:type :ok, :f :poll, :process 1, :value [[:poll {1 [[0]]}]]}");
        assert_eq!(e.message, "expected a read [offset value], found [0]");
        let e = error("{:type :ok, :f :poll, :process 1, :value [[:poll [1]]]}");
        assert_eq!(e.message, "expected a map {key [[offset value] ...]}, found [1]");
        let e = error("{:type :ok, :f :txn, :process 1, :value [[:append 1 2]]}");
        assert_eq!(e.message, "expected a micro-op [:send ...] or [:poll ...], found [:append 1 2]");
        let e = error("{:type :ok, :f :assign, :process 1, :value [1.5]}");
        assert_eq!(e.message, "expected a key (integer, keyword or string), found 1.5");
        let e = error("{:type :ok, :f :assign, :process 1, :time -3}");
        assert_eq!(e.message, "expected a non-negative integer :time (nanoseconds), found -3");
        let e = error("{:type :ok, :f :poll, :process 1, :index 1}\n{:type :ok, :f :poll, :process 1, :index 1}");
        assert_eq!(e.to_string(), "h.edn:2:42: expected :index 2 or more (indices ascend in file order), found 1");
    }

    #[test]
    fn other_edn_is_read_and_ignored() {
        let history = parse(
            r#"{:type :ok, :f :poll, :process 1, :value [[:poll]], :note #{1 2}, :x (1 2), :c \a, :d \newline, :r 1/2,
               :big 123456789012345678901234567890N, :n ##NaN, :inst #inst "2024-01-01", :s sym/bol, :k ::auto, :b false}"#,
        );
        assert_eq!(history.ops.len(), 1);
        assert_eq!(parse("").ops.len(), 0);
        assert_eq!(parse("  ; nothing\n").ops.len(), 0);
        assert_eq!(parse("[]").ops.len(), 0);
    }

    #[test]
    fn auto_detection() {
        assert!(looks_like_edn("{:type :ok}"));
        assert!(looks_like_edn("  \n{ :type :ok}"));
        assert!(looks_like_edn("[{:type :ok}]"));
        assert!(looks_like_edn("#jepsen.history.Op{}"));
        assert!(!looks_like_edn(r#"{"index":0}"#));
        assert!(!looks_like_edn(""));
        let json = r#"{"index":0,"time":1,"process":1,"type":"ok","f":"poll","value":[["poll",{"a":[[0,1]]}]]}"#;
        let edn = "{:index 0, :time 1, :process 1, :type :ok, :f :poll, :value [[:poll {:a [[0 1]]}]]}";
        assert_eq!(History::parse_auto("h", json), History::parse_auto("h", edn));
        assert!(History::parse_auto("h", json).is_ok());
    }
}

//! The history format (docs/history-format.md): operations, micro-operations, and the JSON Lines reader and writer.
//!
//! A history is a list of operation events. Each line of a history file is one JSON object:
//!
//! ```text
//! {"index":0,"time":1200,"process":3,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":5300,"process":3,"type":"ok","f":"send","value":[["send","orders-0",[4,17]]]}
//! {"index":2,"time":6100,"process":5,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[4,17]]}]]}
//! ```
//!
//! The reader never panics: every malformed line becomes a [`ParseError`] that reads
//! `FILE:LINE:COL: what was expected`, like a compiler's. Lines are read by a fast path first (`jsonl_fast.rs`,
//! on several threads for long files), and by the careful reader below when the fast path gives up — which it
//! does on anything unusual, and on every mistake, so that error messages come from one place. Fields it does not know (a real system's
//! `"error"` note, say) are ignored, so that histories from other tools can be checked as they are.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// A partition, named "topic-partition", e.g. "orders-0".
pub type Key = String;
/// A record's value; values are unique per key in a history.
pub type Value = i64;
/// A record's position in its partition's log.
pub type Offset = u64;

/// What an event says about its operation: started, or finished in one of three ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation started.
    Invoke,
    /// The operation happened.
    Ok,
    /// The operation certainly did not happen.
    Fail,
    /// The outcome is unknown (timed out, crashed): it may or may not have happened.
    Info,
}

/// Which operation a process performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpFn {
    /// Produce records (send micro-ops only).
    Send,
    /// Consume records (poll micro-ops only).
    Poll,
    /// A transaction mixing sends and polls.
    Txn,
    /// Assign the consumer a list of partitions by hand.
    Assign,
    /// Subscribe the consumer to a list of partitions through its group.
    Subscribe,
    /// The process died.
    Crash,
}

/// One step inside a send, poll or txn operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicroOp {
    /// `["send", key, value]` on invoke/fail/info; `["send", key, [offset, value]]` on ok (offset may be null);
    /// an optional 4th element `{"source": [key, offset]}` (consume-transform-produce provenance).
    Send {
        /// The partition written to.
        key: Key,
        /// The value written.
        value: Value,
        /// The offset the broker acknowledged, when known.
        offset: Option<Offset>,
        /// The input record this output was produced from, when the producer says.
        source: Option<(Key, Offset)>,
    },
    /// `["poll"]` on invoke, `["poll", {key: [[offset, value], ...]}]` on ok.
    Poll {
        /// The records read, per partition, in the order the consumer returned them.
        reads: BTreeMap<Key, Vec<(Offset, Value)>>,
    },
    /// `["sink", store, key, value]`: a write to an external store.
    Sink {
        /// The external store written to.
        store: String,
        /// The key in that store.
        key: Key,
        /// The value written.
        value: Value,
    },
}

/// One line of a history: an invocation or a completion of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: usize,
    /// Virtual time in nanoseconds (JSON field "time").
    pub time_ns: u64,
    /// The logical client that performed it.
    pub process: u64,
    /// Invoke, ok, fail or info (JSON field "type").
    pub op_type: OpType,
    /// Which operation.
    pub f: OpFn,
    /// The micro-ops, for send / poll / txn (JSON "value" is the list of micro-ops).
    pub mops: Vec<MicroOp>,
    /// For assign / subscribe, the partitions assigned (JSON "value" is the list of keys). For send / poll / txn,
    /// the partitions whose assignment changed while the operation ran (JSON `"rebalanced"`, Jepsen's
    /// `:rebalance-log`): where the consumer stood in them is not known, so their poll order is not judged.
    pub keys: Vec<Key>,
    /// JSON `"final": true`: this poll read each of its keys to the end of the log after the system quiesced.
    pub final_poll: bool,
}

/// A whole history, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The operations; `ops[i].index == i`.
    pub ops: Vec<Op>,
    /// The EDN text of values that were keywords or strings (`:a`, `"a"`) in a Jepsen history, by the number that
    /// stands for each (see [`crate::edn`]); empty for JSON Lines, whose values are integers.
    pub value_names: BTreeMap<Value, String>,
}

/// A line of a history file that could not be read, with the place and what was expected there.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ParseError {
    /// The file name given to the reader.
    pub file: String,
    /// The line number, from 1, counting blank lines.
    pub line: usize,
    /// The column of the offending token, from 1, in characters; 1 when it cannot be found.
    pub column: usize,
    /// What went wrong, and what was expected.
    pub message: String,
}

impl OpType {
    /// The JSON name: "invoke", "ok", "fail" or "info".
    pub fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    fn from_name(name: &str) -> Option<OpType> {
        [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info].into_iter().find(|t| t.name() == name)
    }
}

impl OpFn {
    /// The JSON name: "send", "poll", "txn", "assign", "subscribe" or "crash".
    pub fn name(self) -> &'static str {
        match self {
            OpFn::Send => "send",
            OpFn::Poll => "poll",
            OpFn::Txn => "txn",
            OpFn::Assign => "assign",
            OpFn::Subscribe => "subscribe",
            OpFn::Crash => "crash",
        }
    }

    fn from_name(name: &str) -> Option<OpFn> {
        [OpFn::Send, OpFn::Poll, OpFn::Txn, OpFn::Assign, OpFn::Subscribe, OpFn::Crash]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

impl Op {
    /// An operation of `process` at time 0 with no rebalanced keys, not a final poll; [`History::push`] gives it
    /// its index.
    pub fn new(process: u64, op_type: OpType, f: OpFn, mops: Vec<MicroOp>) -> Op {
        Op { index: 0, time_ns: 0, process, op_type, f, mops, keys: Vec::new(), final_poll: false }
    }

    /// Stands in for a line not read yet; allocates nothing.
    pub(crate) fn placeholder() -> Op {
        Op {
            index: usize::MAX,
            time_ns: 0,
            process: 0,
            op_type: OpType::Info,
            f: OpFn::Crash,
            mops: Vec::new(),
            keys: Vec::new(),
            final_poll: false,
        }
    }
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History { ops: Vec::new(), value_names: BTreeMap::new() }
    }

    /// How a person should see `value`: its keyword or string text if it had one, else the integer.
    pub fn value_text(&self, value: Value) -> String {
        self.value_names.get(&value).cloned().unwrap_or_else(|| value.to_string())
    }

    /// `text` with every number that stands for a keyword or string value replaced by that value's text.
    pub fn name_values(&self, text: &str) -> String {
        if self.value_names.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c == '-' || c.is_ascii_digit()) {
            out.push_str(&rest[..start]);
            let tail = &rest[start + 1..];
            let end = start + 1 + tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len());
            let token = &rest[start..end];
            match token.parse::<Value>().ok().and_then(|v| self.value_names.get(&v)) {
                Some(name) => out.push_str(name),
                None => out.push_str(token),
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    /// Appends an op, setting its index to its position; returns the index.
    pub fn push(&mut self, mut op: Op) -> usize {
        let index = self.ops.len();
        op.index = index;
        self.ops.push(op);
        assert_eq!(self.ops[index].index, index);
        index
    }

    /// Parses JSON Lines; `file_name` is used only in error messages. Blank lines are skipped.
    ///
    /// # Errors
    /// The first malformed line, as a [`ParseError`] naming its line, the column of the offending token, and what
    /// was expected there. Any input gives a history or an error; none makes the reader panic.
    pub fn parse_jsonl(file_name: &str, text: &str) -> Result<History, ParseError> {
        // The fast path reads almost every line, in parallel on long texts; the careful reader reads the rest, in
        // order, and every line with a mistake, so that the first mistake is the one reported.
        let mut ops: Vec<Op> = Vec::new();
        let mut first_line = 0;
        for mut chunk in crate::jsonl_fast::read_chunks(text) {
            let base = ops.len();
            let mut slow = chunk.slow.iter().peekable();
            for (i, op) in chunk.ops.iter_mut().enumerate() {
                let line = match slow.peek() {
                    Some(&&(at, number, line)) if at == i => {
                        slow.next();
                        (number, line)
                    }
                    _ if op.index == base + i => continue,
                    // The fast path read this line but its index is wrong: the careful reader says so.
                    _ => crate::jsonl_fast::lines(chunk.text).nth(i).unwrap_or((0, "")),
                };
                let ctx = LineCtx { file: file_name, line: first_line + line.0 + 1, text: line.1 };
                *op = parse_op(&ctx, base + i)?;
            }
            first_line += chunk.newline_count;
            if ops.is_empty() {
                ops = chunk.ops;
            } else {
                ops.append(&mut chunk.ops);
            }
        }
        let history = History { ops, value_names: BTreeMap::new() };
        assert!(history.ops.iter().enumerate().all(|(i, op)| op.index == i));
        Ok(history)
    }

    /// One JSON object per line, each line ending in '\n'; `parse_jsonl(to_jsonl(h)) == h`.
    /// Field order: index, time, process, type, f, value, final (only when true), rebalanced (only when not empty).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.ops.len() * 96);
        for op in &self.ops {
            write_op(&mut out, op);
            out.push('\n');
        }
        out
    }

    /// Writes one op as a single JSON line (no newline), used by `to_jsonl` and by streaming writers.
    pub fn op_to_json_line(op: &Op) -> String {
        let mut out = String::with_capacity(96);
        write_op(&mut out, op);
        out
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer. Hand-written rather than through serde so that the field order is fixed and no intermediate JSON tree is
// built: streaming writers call it once per event of a long run.

fn write_op(out: &mut String, op: &Op) {
    // Writing to a String cannot fail, so the fmt::Result values below carry no information.
    let _ = write!(
        out,
        "{{\"index\":{},\"time\":{},\"process\":{},\"type\":\"{}\",\"f\":\"{}\",\"value\":",
        op.index,
        op.time_ns,
        op.process,
        op.op_type.name(),
        op.f.name()
    );
    match op.f {
        OpFn::Assign | OpFn::Subscribe => write_keys(out, &op.keys),
        OpFn::Crash => out.push_str("null"),
        OpFn::Send | OpFn::Poll | OpFn::Txn => write_mops(out, op),
    }
    if op.final_poll {
        out.push_str(",\"final\":true");
    }
    if !op.keys.is_empty() && matches!(op.f, OpFn::Send | OpFn::Poll | OpFn::Txn) {
        out.push_str(",\"rebalanced\":");
        write_keys(out, &op.keys);
    }
    out.push('}');
}

fn write_keys(out: &mut String, keys: &[Key]) {
    out.push('[');
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, key);
    }
    out.push(']');
}

fn write_mops(out: &mut String, op: &Op) {
    out.push('[');
    for (i, mop) in op.mops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match mop {
            MicroOp::Send { key, value, offset, source } => {
                write_send(out, op.op_type, key, *value, *offset, source.as_ref())
            }
            MicroOp::Poll { reads } => write_poll(out, op.op_type, reads),
            MicroOp::Sink { store, key, value } => {
                out.push_str("[\"sink\",");
                write_str(out, store);
                out.push(',');
                write_str(out, key);
                let _ = write!(out, ",{value}]");
            }
        }
    }
    out.push(']');
}

fn write_send(
    out: &mut String,
    op_type: OpType,
    key: &str,
    value: Value,
    offset: Option<Offset>,
    source: Option<&(Key, Offset)>,
) {
    out.push_str("[\"send\",");
    write_str(out, key);
    // An ok completion always carries the [offset, value] pair, as Jepsen's does; other events carry the bare value
    // unless they somehow know an offset, which must then survive a round trip.
    match (op_type, offset) {
        (_, Some(offset)) => {
            let _ = write!(out, ",[{offset},{value}]");
        }
        (OpType::Ok, None) => {
            let _ = write!(out, ",[null,{value}]");
        }
        (_, None) => {
            let _ = write!(out, ",{value}");
        }
    }
    if let Some((source_key, source_offset)) = source {
        out.push_str(",{\"source\":[");
        write_str(out, source_key);
        let _ = write!(out, ",{source_offset}]}}");
    }
    out.push(']');
}

fn write_poll(out: &mut String, op_type: OpType, reads: &BTreeMap<Key, Vec<(Offset, Value)>>) {
    if op_type == OpType::Invoke && reads.is_empty() {
        out.push_str("[\"poll\"]");
        return;
    }
    out.push_str("[\"poll\",{");
    for (i, (key, pairs)) in reads.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, key);
        out.push_str(":[");
        for (j, (offset, value)) in pairs.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "[{offset},{value}]");
        }
        out.push(']');
    }
    out.push_str("}]");
}

/// Writes a JSON string literal, escaping what JSON requires.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------------------------
// Reader. Each line is parsed into a JSON tree first and then validated field by field, so that every mistake can
// be named precisely; the column is recovered by finding the offending token in the line's text.

const SEND_SHAPE: &str = r#"["send", key, value] or ["send", key, [offset, value]]"#;
const POLL_SHAPE: &str = r#"["poll"] or ["poll", {key: [[offset, value], ...]}]"#;
const SINK_SHAPE: &str = r#"["sink", store, key, value]"#;
const READ_SHAPE: &str = "[[offset, value], ...] with non-negative integer offsets and integer values";

/// The line being read, for error messages.
struct LineCtx<'a> {
    file: &'a str,
    line: usize,
    text: &'a str,
}

impl LineCtx<'_> {
    fn error(&self, column: usize, message: String) -> ParseError {
        ParseError { file: self.file.to_string(), line: self.line, column: column.max(1), message }
    }

    /// Byte position of the value of field `name` (just after `"name":`), if the field appears in the line.
    fn field_value_pos(&self, name: &str) -> Option<usize> {
        let needle = format!("\"{name}\"");
        let bytes = self.text.as_bytes();
        let mut from = 0;
        while let Some(found) = self.text.get(from..).and_then(|rest| rest.find(&needle)) {
            let after = from + found + needle.len();
            let colon = skip_ws(bytes, after);
            if bytes.get(colon) == Some(&b':') {
                return Some(skip_ws(bytes, colon + 1));
            }
            from = after;
        }
        None
    }

    /// Column of field `name`'s value, or 1.
    fn field_column(&self, name: &str) -> usize {
        self.field_value_pos(name).map_or(1, |pos| self.column_of(pos))
    }

    /// Column of `bad` (a part of field `name`'s value), found by its JSON text; else the field's value; else 1.
    fn locate(&self, name: &str, bad: &Json) -> usize {
        let start = self.field_value_pos(name);
        let mut needle = bad.to_string();
        // A bounded needle keeps the search linear in the line length even for huge values: a prefix still finds it.
        if needle.len() > 64 {
            let cut = (0..=64).rev().find(|&i| needle.is_char_boundary(i)).unwrap_or(0);
            needle.truncate(cut);
        }
        let found = find_ignoring_ws(self.text, start.unwrap_or(0), &needle);
        match (found, start) {
            (Some(pos), _) | (None, Some(pos)) => self.column_of(pos),
            (None, None) => 1,
        }
    }

    /// 1-based character column of byte position `pos`.
    fn column_of(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        self.text.char_indices().take_while(|(i, _)| *i < pos).count() + 1
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|b| b.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

/// Finds compact JSON `needle` in `hay` from byte `from`, letting `hay` hold whitespace between tokens.
fn find_ignoring_ws(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let hay_bytes = hay.as_bytes();
    let needle_bytes = needle.as_bytes();
    let first = *needle_bytes.first()?;
    (from..hay_bytes.len()).find(|&start| {
        if hay_bytes[start] != first {
            return false;
        }
        let mut h = start;
        for &n in needle_bytes {
            while !n.is_ascii_whitespace() && hay_bytes.get(h).is_some_and(|b| b.is_ascii_whitespace()) {
                h += 1;
            }
            if hay_bytes.get(h) != Some(&n) {
                return false;
            }
            h += 1;
        }
        true
    })
}

/// A short rendering of a JSON value for messages, cut so that a huge value cannot flood the terminal.
fn show(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() <= 40 {
        return text;
    }
    let mut short: String = text.chars().take(37).collect();
    short.push_str("...");
    short
}

fn parse_op(ctx: &LineCtx<'_>, expected_index: usize) -> Result<Op, ParseError> {
    let json: Json = serde_json::from_str(ctx.text).map_err(|e| json_error(ctx, &e))?;
    let Json::Object(obj) = &json else {
        let first = ctx.text.len() - ctx.text.trim_start().len();
        return Err(ctx.error(ctx.column_of(first), "expected a JSON object".to_string()));
    };
    let index = require_u64(ctx, obj, "index")?;
    if index != expected_index as u64 {
        return Err(ctx.error(
            ctx.field_column("index"),
            format!("expected index {expected_index} (the op's position in the file), found {index}"),
        ));
    }
    let time_ns = require_u64(ctx, obj, "time")?;
    let process = require_u64(ctx, obj, "process")?;
    let op_type = parse_name(ctx, obj, "type", OpType::from_name, "invoke|ok|fail|info")?;
    let f = parse_name(ctx, obj, "f", OpFn::from_name, "send|poll|txn|assign|subscribe|crash")?;
    let final_poll = parse_final(ctx, obj)?;
    let mut op =
        Op { index: expected_index, time_ns, process, op_type, f, mops: Vec::new(), keys: Vec::new(), final_poll };
    parse_op_value(ctx, obj, &mut op)?;
    Ok(op)
}

fn json_error(ctx: &LineCtx<'_>, error: &serde_json::Error) -> ParseError {
    // serde_json counts columns in bytes on its own line 1; convert to characters for the message.
    let text = error.to_string();
    let reason = text.rfind(" at line ").map_or(text.as_str(), |cut| &text[..cut]);
    let byte_column = error.column().saturating_sub(1);
    ctx.error(ctx.column_of(byte_column), format!("expected a valid JSON object ({reason})"))
}

fn require<'o>(
    ctx: &LineCtx<'_>,
    obj: &'o Map<String, Json>,
    name: &str,
    expected: &str,
) -> Result<&'o Json, ParseError> {
    obj.get(name).ok_or_else(|| ctx.error(1, format!("missing field \"{name}\" (expected {expected})")))
}

fn require_u64(ctx: &LineCtx<'_>, obj: &Map<String, Json>, name: &str) -> Result<u64, ParseError> {
    let value = require(ctx, obj, name, "a non-negative integer")?;
    value.as_u64().ok_or_else(|| {
        ctx.error(
            ctx.field_column(name),
            format!("expected a non-negative integer for \"{name}\", found {}", show(value)),
        )
    })
}

fn parse_name<T>(
    ctx: &LineCtx<'_>,
    obj: &Map<String, Json>,
    field: &str,
    from_name: fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ParseError> {
    let value = require(ctx, obj, field, expected)?;
    let Json::String(name) = value else {
        return Err(ctx.error(
            ctx.field_column(field),
            format!("expected a string for \"{field}\" ({expected}), found {}", show(value)),
        ));
    };
    // "type" names the event kind and "f" the operation; the messages use the words a reader knows them by.
    let what = if field == "f" { "op" } else { field };
    from_name(name).ok_or_else(|| {
        ctx.error(ctx.field_column(field), format!("unknown {what} {} (expected {expected})", show(value)))
    })
}

fn parse_final(ctx: &LineCtx<'_>, obj: &Map<String, Json>) -> Result<bool, ParseError> {
    match obj.get("final") {
        None | Some(Json::Null) => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(other) => Err(ctx
            .error(ctx.field_column("final"), format!("expected true or false for \"final\", found {}", show(other)))),
    }
}

fn parse_op_value(ctx: &LineCtx<'_>, obj: &Map<String, Json>, op: &mut Op) -> Result<(), ParseError> {
    let value = obj.get("value").unwrap_or(&Json::Null);
    match op.f {
        OpFn::Crash => match value {
            Json::Null => Ok(()),
            other => Err(ctx.error(
                ctx.field_column("value"),
                format!("expected null or no \"value\" for a crash, found {}", show(other)),
            )),
        },
        OpFn::Assign | OpFn::Subscribe => {
            op.keys = parse_keys(ctx, "value", value)?;
            Ok(())
        }
        OpFn::Send | OpFn::Poll | OpFn::Txn => {
            let Json::Array(items) = value else {
                let message = match obj.get("value") {
                    None => format!("missing field \"value\" (expected a list of micro-ops for {})", op.f.name()),
                    Some(_) => format!("expected a list of micro-ops for \"value\", found {}", show(value)),
                };
                return Err(ctx.error(ctx.field_column("value"), message));
            };
            op.mops = items.iter().map(|item| parse_mop(ctx, item)).collect::<Result<_, _>>()?;
            op.keys = match obj.get("rebalanced") {
                None | Some(Json::Null) => Vec::new(),
                Some(keys) => parse_keys(ctx, "rebalanced", keys)?,
            };
            Ok(())
        }
    }
}

fn parse_keys(ctx: &LineCtx<'_>, field: &str, value: &Json) -> Result<Vec<Key>, ParseError> {
    let expected = "expected a list of keys (strings)";
    let Json::Array(items) = value else {
        return Err(ctx.error(ctx.field_column(field), format!("{expected}, found {}", show(value))));
    };
    items
        .iter()
        .map(|item| match item {
            Json::String(key) => Ok(key.clone()),
            other => Err(ctx.error(ctx.locate(field, other), format!("{expected}, found {}", show(other)))),
        })
        .collect()
}

fn parse_mop(ctx: &LineCtx<'_>, mop: &Json) -> Result<MicroOp, ParseError> {
    let expected = "expected a micro-op [\"send\", ...], [\"poll\", ...] or [\"sink\", ...]";
    let fail = |message: String| ctx.error(ctx.locate("value", mop), message);
    let Some(items) = mop.as_array() else {
        return Err(fail(format!("{expected}, found {}", show(mop))));
    };
    let parsed = match items.first().and_then(Json::as_str) {
        Some("send") => parse_send(items),
        Some("poll") => parse_poll(items),
        Some("sink") => parse_sink(items),
        Some(other) => {
            return Err(fail(format!(
                "unknown micro-op {} (expected send|poll|sink)",
                show(&Json::String(other.to_string()))
            )))
        }
        None => return Err(fail(format!("{expected}, found {}", show(mop)))),
    };
    parsed.map_err(|shape| fail(format!("expected {shape}, found {}", show(mop))))
}

/// Parses a send micro-op; on error returns the shape that was expected.
fn parse_send(items: &[Json]) -> Result<MicroOp, &'static str> {
    if items.len() != 3 && items.len() != 4 {
        return Err(SEND_SHAPE);
    }
    let key = items[1].as_str().ok_or(SEND_SHAPE)?.to_string();
    let (offset, value) = match &items[2] {
        Json::Array(pair) if pair.len() == 2 => {
            let offset = match &pair[0] {
                Json::Null => None,
                other => Some(other.as_u64().ok_or(SEND_SHAPE)?),
            };
            (offset, pair[1].as_i64().ok_or(SEND_SHAPE)?)
        }
        other => (None, other.as_i64().ok_or(SEND_SHAPE)?),
    };
    let source = match items.get(3) {
        None => None,
        Some(extra) => parse_source(extra)?,
    };
    Ok(MicroOp::Send { key, value, offset, source })
}

fn parse_source(extra: &Json) -> Result<Option<(Key, Offset)>, &'static str> {
    const SOURCE_SHAPE: &str = r#"["send", key, value, {"source": [key, offset]}]"#;
    let obj = extra.as_object().ok_or(SOURCE_SHAPE)?;
    match obj.get("source") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Array(pair)) if pair.len() == 2 => {
            let key = pair[0].as_str().ok_or(SOURCE_SHAPE)?.to_string();
            let offset = pair[1].as_u64().ok_or(SOURCE_SHAPE)?;
            Ok(Some((key, offset)))
        }
        Some(_) => Err(SOURCE_SHAPE),
    }
}

/// Parses a poll micro-op; on error returns the shape that was expected.
fn parse_poll(items: &[Json]) -> Result<MicroOp, &'static str> {
    let mut reads = BTreeMap::new();
    match items {
        [_] => {}
        [_, Json::Object(by_key)] => {
            for (key, pairs) in by_key {
                let pairs = pairs.as_array().ok_or(READ_SHAPE)?;
                let parsed = pairs.iter().map(parse_read_pair).collect::<Option<Vec<_>>>().ok_or(READ_SHAPE)?;
                reads.insert(key.clone(), parsed);
            }
        }
        _ => return Err(POLL_SHAPE),
    }
    Ok(MicroOp::Poll { reads })
}

fn parse_read_pair(pair: &Json) -> Option<(Offset, Value)> {
    match pair.as_array()?.as_slice() {
        [offset, value] => Some((offset.as_u64()?, value.as_i64()?)),
        _ => None,
    }
}

/// Parses a sink micro-op; on error returns the shape that was expected.
fn parse_sink(items: &[Json]) -> Result<MicroOp, &'static str> {
    match items {
        [_, Json::String(store), Json::String(key), value] => {
            Ok(MicroOp::Sink { store: store.clone(), key: key.clone(), value: value.as_i64().ok_or(SINK_SHAPE)? })
        }
        _ => Err(SINK_SHAPE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"index":0,"time":1200,"process":3,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","audit-1",17]]}
{"index":1,"time":5300,"process":3,"type":"ok","f":"txn","value":[["send","orders-0",[4,17]],["send","audit-1",[9,17]]]}
{"index":2,"time":6100,"process":5,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[3,12],[4,17]]}]]}
"#;

    #[test]
    fn design_example_parses_and_round_trips_byte_for_byte() {
        let history = History::parse_jsonl("example.jsonl", EXAMPLE).expect("valid");
        assert_eq!(history.ops.len(), 3);
        assert_eq!(history.ops[1].op_type, OpType::Ok);
        assert_eq!(
            history.ops[1].mops[0],
            MicroOp::Send { key: "orders-0".into(), value: 17, offset: Some(4), source: None }
        );
        assert_eq!(history.to_jsonl(), EXAMPLE);
    }

    #[test]
    fn spaces_blank_lines_and_optional_parts_are_accepted() {
        let text = "\n{ \"index\": 0, \"time\": 1, \"process\": 1, \"type\": \"ok\", \"f\": \"send\", \
                    \"value\": [[\"send\", \"a-0\", [null, 5], {\"source\": [\"in-0\", 3]}], [\"sink\", \"db\", \"k\", 5]] }\r\n\n\
                    {\"index\":1,\"time\":2,\"process\":2,\"type\":\"info\",\"f\":\"crash\"}\n\
                    {\"index\":2,\"time\":3,\"process\":3,\"type\":\"ok\",\"f\":\"assign\",\"value\":[\"a-0\"]}\n\
                    {\"index\":3,\"time\":4,\"process\":3,\"type\":\"ok\",\"f\":\"poll\",\"value\":[[\"poll\",{\"a-0\":[]}]],\"final\":true,\"error\":\"ignored\"}";
        let history = History::parse_jsonl("h.jsonl", text).expect("valid");
        assert_eq!(history.ops.len(), 4);
        let MicroOp::Send { offset, source, .. } = &history.ops[0].mops[0] else {
            panic!("expected a send");
        };
        assert_eq!((*offset, source.clone()), (None, Some(("in-0".to_string(), 3))));
        assert_eq!(history.ops[1].f, OpFn::Crash);
        assert_eq!(history.ops[2].keys, vec!["a-0".to_string()]);
        assert!(history.ops[3].final_poll);
        let again = History::parse_jsonl("h2.jsonl", &history.to_jsonl()).expect("round trip");
        assert_eq!(again, history);
    }

    #[test]
    fn push_sets_the_index() {
        let mut history = History::new();
        let op = Op {
            index: 99,
            time_ns: 0,
            process: 0,
            op_type: OpType::Invoke,
            f: OpFn::Poll,
            mops: vec![MicroOp::Poll { reads: BTreeMap::new() }],
            keys: Vec::new(),
            final_poll: false,
        };
        assert_eq!(history.push(op.clone()), 0);
        assert_eq!(history.push(op), 1);
        assert_eq!(history.ops[1].index, 1);
        assert!(History::op_to_json_line(&history.ops[1]).contains("[\"poll\"]"));
    }

    #[test]
    fn keys_with_quotes_are_escaped() {
        let mut history = History::new();
        history.push(Op {
            index: 0,
            time_ns: 0,
            process: 0,
            op_type: OpType::Ok,
            f: OpFn::Assign,
            mops: Vec::new(),
            keys: vec!["we\"ird\\key\n\u{1}".to_string()],
            final_poll: false,
        });
        let again = History::parse_jsonl("e.jsonl", &history.to_jsonl()).expect("round trip");
        assert_eq!(again, history);
    }

    /// Lines in every shape the writer produces, and some it does not (spaces, other field orders, extra fields).
    const TEMPLATES: &[&str] = &[
        r#"{"index":7,"time":1200,"process":3,"type":"invoke","f":"txn","value":[["send","orders-0",17],["poll"]]}"#,
        r#"{"index":7,"time":5300,"process":3,"type":"ok","f":"txn","value":[["send","orders-0",[4,-17]],["send","a-1",[null,9],{"source":["in-0",3]}],["poll",{"a-0":[[0,1],[2,3]],"b":[]}],["sink","db","k",5]],"final":true,"rebalanced":["a-0"]}"#,
        r#"{"index":7,"time":1,"process":2,"type":"info","f":"crash","value":null}"#,
        r#"{"index":7,"time":1,"process":2,"type":"ok","f":"subscribe","value":["a-0","b-1"],"rebalanced":7}"#,
        r#" { "value" : [ [ "poll" , { "k" : [ [ 1 , 2 ] ] } ] ] , "f" : "poll" , "type":"fail", "process":1, "time":0, "index":7, "note":{"x":[1.5,true,"y\n"]} } "#,
    ];

    const EDIT_BYTES: &[u8] = b"\"\\,:[]{} -019.eEnultrux";

    proptest::proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_careful_reader(
            template in 0..TEMPLATES.len(),
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0..EDIT_BYTES.len(), 0..3u8), 0..4),
        ) {
            let mut bytes = TEMPLATES[template].as_bytes().to_vec();
            for (at, byte, kind) in edits {
                let at = at.index(bytes.len() + 1);
                match kind {
                    0 if at < bytes.len() => bytes[at] = EDIT_BYTES[byte],
                    1 => bytes.insert(at, EDIT_BYTES[byte]),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            let line = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(op) = crate::jsonl_fast::parse_line_any_index(&line) {
                let careful = parse_op(&LineCtx { file: "f.jsonl", line: 1, text: &line }, op.index);
                proptest::prop_assert_eq!(careful, Ok(op), "{}", line);
            }
        }
    }

    #[test]
    fn every_template_takes_the_fast_path() {
        for template in TEMPLATES {
            let fast = crate::jsonl_fast::parse_line_any_index(template);
            assert!(fast.is_some(), "{template}");
            let careful = parse_op(&LineCtx { file: "f.jsonl", line: 1, text: template }, 7);
            assert_eq!(careful.as_ref().ok(), fast.as_ref(), "{template}");
        }
    }
}

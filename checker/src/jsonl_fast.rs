//! The fast path of the JSON Lines reader: one pass over each line's bytes, straight into an [`Op`], with no JSON
//! tree in between.
//!
//! It accepts the lines eosim writes and everything shaped like them (any field order, any whitespace, unknown
//! fields), and gives up — returns `None` — on anything unusual: a string with an escape, a number with a fraction
//! or a leading zero, a duplicated field, a shape it does not expect. The careful reader in `history.rs` then reads
//! the line again and either accepts it or says precisely what is wrong, so that the fast path never has to
//! produce an error message, and never decides alone that a line is bad. The property that matters, tested below
//! on random and mutated lines: whenever the fast path returns an op, the careful reader returns the same op.
//!
//! Long texts are cut into runs of whole lines read on several threads ([`read_chunks`]); the caller then settles,
//! in file order, the lines the fast path left alone and checks every op's index against its position.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use crate::history::{Key, MicroOp, Offset, Op, OpFn, OpType, Value};

/// Texts shorter than this are read on the calling thread: a thread costs more than it saves.
const PARALLEL_BYTES_MIN: usize = 4 << 20;
/// At most this many threads read one text.
const THREAD_COUNT_MAX: usize = 8;

/// What one thread read of its chunk of the text: a run of whole lines.
pub(crate) struct Chunk<'t> {
    /// The chunk's text; every chunk but the last ends with a newline.
    pub(crate) text: &'t str,
    /// One op per non-blank line, in order; a line the fast path left alone holds a placeholder.
    pub(crate) ops: Vec<Op>,
    /// For each such line: its position in `ops`, its line number in the chunk (from 0), and its text.
    pub(crate) slow: Vec<(usize, usize, &'t str)>,
    /// How many newlines the chunk holds, so that the next chunk knows its first line number.
    pub(crate) newline_count: usize,
}

/// The non-blank lines of `text`, each with its line number (from 0) and without its `\r\n` or `\n` (as
/// `read_chunk` reads them).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').enumerate().filter_map(|(number, raw)| {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        (!line.trim().is_empty()).then_some((number, line))
    })
}

/// Reads `text` with the fast path, in chunks of whole lines on as many threads as help; the caller settles the
/// lines the fast path left alone, and checks each op's index against its position.
pub(crate) fn read_chunks(text: &str) -> Vec<Chunk<'_>> {
    let thread_count = if text.len() < PARALLEL_BYTES_MIN {
        1
    } else {
        std::thread::available_parallelism().map_or(1, NonZeroUsize::get).clamp(1, THREAD_COUNT_MAX)
    };
    let texts = split_at_lines(text, thread_count);
    if texts.len() == 1 {
        return texts.into_iter().map(read_chunk).collect();
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = texts.iter().map(|&chunk| scope.spawn(move || read_chunk(chunk))).collect();
        // A worker only panics if the fast path has a bug; then the careful reader reads its chunk instead.
        workers
            .into_iter()
            .zip(texts)
            .map(|(worker, text)| worker.join().unwrap_or_else(|_| Chunk::unread(text)))
            .collect()
    })
}

/// `text` cut into `count` runs of whole lines of about equal length (fewer if it is short).
fn split_at_lines(text: &str, count: usize) -> Vec<&str> {
    let mut chunks = Vec::with_capacity(count);
    let mut start = 0;
    for k in 1..count {
        let target = (text.len() * k / count).max(start);
        let Some(newline) = text.as_bytes()[target..].iter().position(|&b| b == b'\n') else { break };
        let end = target + newline + 1;
        chunks.push(&text[start..end]);
        start = end;
    }
    chunks.push(&text[start..]);
    assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), text.len());
    chunks
}

fn read_chunk(text: &str) -> Chunk<'_> {
    // Lines are rarely shorter than this, and reserving too much costs only address space.
    let ops = Vec::with_capacity(text.len() / 48 + 1);
    let mut chunk = Chunk { text, ops, slow: Vec::new(), newline_count: 0 };
    for (number, raw) in text.split('\n').enumerate() {
        chunk.newline_count = number;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        match parse_line_any_index(line) {
            Some(op) => chunk.ops.push(op),
            None => {
                chunk.slow.push((chunk.ops.len(), number, line));
                chunk.ops.push(Op::placeholder());
            }
        }
    }
    chunk
}

impl<'t> Chunk<'t> {
    /// `text` with every line left to the careful reader.
    fn unread(text: &'t str) -> Chunk<'t> {
        let slow: Vec<(usize, usize, &str)> = lines(text).enumerate().map(|(i, (n, l))| (i, n, l)).collect();
        let ops = slow.iter().map(|_| Op::placeholder()).collect();
        Chunk { text, ops, slow, newline_count: text.bytes().filter(|&b| b == b'\n').count() }
    }
}

/// Unknown fields nested deeper than this are left to the careful reader (serde_json stops at 128).
const DEPTH_MAX: usize = 64;

/// Reads one line holding op number `expected_index`, or `None` if the careful reader must look at it.
#[cfg(test)]
pub(crate) fn parse_line(line: &str, expected_index: usize) -> Option<Op> {
    let op = parse_line_any_index(line)?;
    (op.index == expected_index).then_some(op)
}

/// Reads one line, taking its `"index"` as it is: the caller checks it against the op's position.
pub(crate) fn parse_line_any_index(line: &str) -> Option<Op> {
    let mut cursor = Cursor { text: line, bytes: line.as_bytes(), pos: 0 };
    let fields = cursor.top_level()?;
    cursor.ws();
    if cursor.pos != cursor.bytes.len() {
        return None;
    }
    let f = fields.f?;
    let mut op = Op {
        index: usize::try_from(fields.index?).ok()?,
        time_ns: fields.time?,
        process: fields.process?,
        op_type: fields.op_type?,
        f,
        mops: Vec::new(),
        keys: Vec::new(),
        final_poll: fields.final_poll.unwrap_or(false),
    };
    let sub = |(start, end): (usize, usize)| Cursor { text: &line[..end], bytes: &line.as_bytes()[..end], pos: start };
    let value = match fields.value {
        Some(ValueField::Parsed(value)) => Some(value),
        Some(ValueField::Span(span)) => Some(sub(span).whole_value(f)?),
        None => None,
    };
    match (f, value) {
        (OpFn::Crash, None | Some(Parsed::Null)) => {}
        (OpFn::Assign | OpFn::Subscribe, Some(Parsed::Keys(keys))) => op.keys = keys,
        (OpFn::Send | OpFn::Poll | OpFn::Txn, Some(Parsed::Mops(mops))) => {
            op.mops = mops;
            if let Some(span) = fields.rebalanced {
                let mut keys = sub(span);
                if keys.peek() == Some(b'n') {
                    keys.null()?;
                } else {
                    op.keys = keys.keys()?;
                }
                keys.end()?;
            }
        }
        _ => return None,
    }
    Some(op)
}

/// An op's `"value"`, read as its `"f"` says.
enum Parsed {
    Null,
    Keys(Vec<Key>),
    Mops(Vec<MicroOp>),
}

/// `"value"` read on the spot when `"f"` came first (as eosim writes it), else its byte range, read afterwards.
enum ValueField {
    Parsed(Parsed),
    Span((usize, usize)),
}

/// The top-level fields, each read at most once; `value` and `rebalanced` are byte ranges read once `f` is known.
#[derive(Default)]
struct Fields {
    index: Option<u64>,
    time: Option<u64>,
    process: Option<u64>,
    op_type: Option<OpType>,
    f: Option<OpFn>,
    final_poll: Option<bool>,
    value: Option<ValueField>,
    rebalanced: Option<(usize, usize)>,
}

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips whitespace, then consumes `byte` or gives up.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    /// Consumes `byte` if it comes next (after whitespace).
    fn eat(&mut self, byte: u8) -> bool {
        self.ws();
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Only whitespace may remain.
    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.pos == self.bytes.len()).then_some(())
    }

    fn top_level(&mut self) -> Option<Fields> {
        let mut fields = Fields::default();
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(fields);
        }
        loop {
            let name = self.string()?;
            self.expect(b':')?;
            self.ws();
            match name {
                "index" => set(&mut fields.index, self.unsigned()?)?,
                "time" => set(&mut fields.time, self.unsigned()?)?,
                "process" => set(&mut fields.process, self.unsigned()?)?,
                "type" => set(&mut fields.op_type, op_type(self.string()?)?)?,
                "f" => set(&mut fields.f, op_fn(self.string()?)?)?,
                "final" => set(&mut fields.final_poll, self.final_flag()?)?,
                "value" => {
                    let value = match fields.f {
                        Some(f) => ValueField::Parsed(self.value(f)?),
                        None => ValueField::Span(self.span()?),
                    };
                    set(&mut fields.value, value)?;
                }
                "rebalanced" => set(&mut fields.rebalanced, self.span()?)?,
                _ => {
                    self.skip(0)?;
                }
            }
            if !self.eat(b',') {
                self.expect(b'}')?;
                return Some(fields);
            }
        }
    }

    /// The value of an op whose `"f"` is `f`.
    fn value(&mut self, f: OpFn) -> Option<Parsed> {
        match f {
            OpFn::Crash => self.null().map(|()| Parsed::Null),
            OpFn::Assign | OpFn::Subscribe => self.keys().map(Parsed::Keys),
            OpFn::Send | OpFn::Poll | OpFn::Txn => self.mops().map(Parsed::Mops),
        }
    }

    /// The value of an op whose `"f"` is `f`, filling the cursor.
    fn whole_value(mut self, f: OpFn) -> Option<Parsed> {
        let value = self.value(f)?;
        self.end()?;
        Some(value)
    }

    /// The byte range of the value that starts here (validated by skipping it).
    fn span(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        self.skip(0)?;
        Some((start, self.pos))
    }

    /// `true`, `false` or `null` (which means false).
    fn final_flag(&mut self) -> Option<bool> {
        let rest = &self.bytes[self.pos..];
        for (word, flag) in [(&b"true"[..], true), (b"false", false), (b"null", false)] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return Some(flag);
            }
        }
        None
    }

    fn null(&mut self) -> Option<()> {
        self.ws();
        self.bytes[self.pos..].starts_with(b"null").then(|| self.pos += 4)
    }

    /// A string with no escapes and no control characters, borrowed from the line.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let length = self.bytes[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.bytes[start + length] != b'"' {
            return None;
        }
        self.pos = start + length + 1;
        // The cuts are at ASCII quotes, so they are character boundaries and the slice is free.
        self.text.get(start..start + length)
    }

    /// A JSON integer in 0..=u64::MAX, with no sign, fraction, exponent or leading zero.
    fn unsigned(&mut self) -> Option<u64> {
        self.ws();
        self.digits()
    }

    /// The digits of a non-negative integer, right here (no whitespace skipped).
    fn digits(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut number: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            number = number.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            self.pos += 1;
        }
        let length = self.pos - start;
        let leading_zero = length > 1 && self.bytes[start] == b'0';
        let continues = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (length > 0 && !leading_zero && !continues).then_some(number)
    }

    /// A JSON integer in i64's range; "-0" is left to the careful reader.
    fn signed(&mut self) -> Option<i64> {
        self.ws();
        if self.peek() == Some(b'-') {
            self.pos += 1;
            let magnitude = self.digits()?;
            if magnitude == 0 {
                return None;
            }
            return 0i64.checked_sub_unsigned(magnitude);
        }
        i64::try_from(self.digits()?).ok()
    }

    /// `[key, ...]`.
    fn keys(&mut self) -> Option<Vec<Key>> {
        self.expect(b'[')?;
        let mut keys = Vec::new();
        if self.eat(b']') {
            return Some(keys);
        }
        loop {
            keys.push(self.string()?.to_string());
            if !self.eat(b',') {
                self.expect(b']')?;
                return Some(keys);
            }
        }
    }

    /// `[mop, ...]`.
    fn mops(&mut self) -> Option<Vec<MicroOp>> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(Vec::new());
        }
        // Pushing onto an empty vector reserves room for four micro-ops, which on a long history is hundreds of
        // megabytes held for the whole check. Most ops hold one micro-op and most others two (a transaction): both
        // are built at their exact size, and a longer list is copied to its size by `exact`.
        let first = self.mop()?;
        if self.eat(b']') {
            return Some(vec![first]);
        }
        self.expect(b',')?;
        let second = self.mop()?;
        if self.eat(b']') {
            return Some(vec![first, second]);
        }
        let mut mops = vec![first, second];
        loop {
            self.expect(b',')?;
            mops.push(self.mop()?);
            if self.eat(b']') {
                break;
            }
        }
        Some(exact(mops))
    }

    fn mop(&mut self) -> Option<MicroOp> {
        self.expect(b'[')?;
        let mop = match self.string()? {
            "send" => self.send()?,
            "poll" => self.poll()?,
            "sink" => {
                self.expect(b',')?;
                let store = self.string()?.to_string();
                self.expect(b',')?;
                let key = self.string()?.to_string();
                self.expect(b',')?;
                MicroOp::Sink { store, key, value: self.signed()? }
            }
            _ => return None,
        };
        self.expect(b']')?;
        Some(mop)
    }

    /// After `["send"`: `, key, value` or `, key, [offset|null, value]`, then maybe `, {"source": [key, offset]}`.
    fn send(&mut self) -> Option<MicroOp> {
        self.expect(b',')?;
        let key = self.string()?.to_string();
        self.expect(b',')?;
        let (offset, value) = if self.eat(b'[') {
            self.ws();
            let offset = if self.peek() == Some(b'n') {
                self.null()?;
                None
            } else {
                Some(self.unsigned()?)
            };
            self.expect(b',')?;
            let value = self.signed()?;
            self.expect(b']')?;
            (offset, value)
        } else {
            (None, self.signed()?)
        };
        let mut source = None;
        if self.eat(b',') {
            self.expect(b'{')?;
            if self.string()? != "source" {
                return None;
            }
            self.expect(b':')?;
            self.expect(b'[')?;
            let source_key = self.string()?.to_string();
            self.expect(b',')?;
            source = Some((source_key, self.unsigned()?));
            self.expect(b']')?;
            self.expect(b'}')?;
        }
        Some(MicroOp::Send { key, value, offset, source })
    }

    /// After `["poll"`: nothing, or `, {key: [[offset, value], ...], ...}`.
    fn poll(&mut self) -> Option<MicroOp> {
        let mut reads = BTreeMap::new();
        if !self.eat(b',') {
            return Some(MicroOp::Poll { reads });
        }
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(MicroOp::Poll { reads });
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            let records = self.records()?;
            // A repeated key is the careful reader's call.
            if reads.insert(key.to_string(), records).is_some() {
                return None;
            }
            if !self.eat(b',') {
                self.expect(b'}')?;
                return Some(MicroOp::Poll { reads });
            }
        }
    }

    /// `[[offset, value], ...]`.
    fn records(&mut self) -> Option<Vec<(Offset, Value)>> {
        self.expect(b'[')?;
        let mut records = Vec::new();
        if self.eat(b']') {
            return Some(records);
        }
        loop {
            self.expect(b'[')?;
            let offset = self.unsigned()?;
            self.expect(b',')?;
            let value = self.signed()?;
            self.expect(b']')?;
            records.push((offset, value));
            if !self.eat(b',') {
                self.expect(b']')?;
                return Some(exact(records));
            }
        }
    }

    /// Skips one JSON value, checking its syntax as strictly as serde_json would, or gives up.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > DEPTH_MAX {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.skip_string(),
            b'[' | b'{' => self.skip_collection(depth),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b't' | b'f' | b'n' => {
                let rest = &self.bytes[self.pos..];
                let word: &[u8] = [&b"true"[..], b"false", b"null"].into_iter().find(|w| rest.starts_with(w))?;
                self.pos += word.len();
                Some(())
            }
            _ => None,
        }
    }

    fn skip_collection(&mut self, depth: usize) -> Option<()> {
        let object = self.peek() == Some(b'{');
        let close = if object { b'}' } else { b']' };
        self.pos += 1;
        if self.eat(close) {
            return Some(());
        }
        loop {
            if object {
                self.skip_string()?;
                self.expect(b':')?;
            }
            self.skip(depth + 1)?;
            if !self.eat(b',') {
                return self.expect(close);
            }
        }
    }

    /// A string with simple escapes only: `\u` escapes (and their surrogate rules) are the careful reader's call.
    fn skip_string(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            match *self.bytes.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => {
                    let escaped = *self.bytes.get(self.pos + 1)?;
                    if !matches!(escaped, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') {
                        return None;
                    }
                    self.pos += 2;
                }
                byte if byte < 0x20 => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// A number with at most 18 integer digits and no exponent: serde_json rejects numbers beyond f64's range,
    /// and those are left to it.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |cursor: &mut Cursor<'_>| {
            let start = cursor.pos;
            while matches!(cursor.peek(), Some(b'0'..=b'9')) {
                cursor.pos += 1;
            }
            cursor.pos - start
        };
        let start = self.pos;
        let integer = digits(self);
        if integer == 0 || integer > 18 || (integer > 1 && self.bytes[start] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        (!matches!(self.peek(), Some(b'e' | b'E'))).then_some(())
    }
}

/// `items` in a block of exactly its length: the history keeps every vector the reader builds for the whole check,
/// and mimalloc's realloc keeps a block that shrinks by half or less where it is, so `shrink_to_fit` would not do.
fn exact<T>(mut items: Vec<T>) -> Vec<T> {
    if items.len() == items.capacity() {
        return items;
    }
    let mut exact = Vec::with_capacity(items.len());
    exact.append(&mut items);
    exact
}

/// Sets a field read for the first time; a repeated field is the careful reader's call.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

fn op_type(name: &str) -> Option<OpType> {
    match name {
        "invoke" => Some(OpType::Invoke),
        "ok" => Some(OpType::Ok),
        "fail" => Some(OpType::Fail),
        "info" => Some(OpType::Info),
        _ => None,
    }
}

fn op_fn(name: &str) -> Option<OpFn> {
    match name {
        "send" => Some(OpFn::Send),
        "poll" => Some(OpFn::Poll),
        "txn" => Some(OpFn::Txn),
        "assign" => Some(OpFn::Assign),
        "subscribe" => Some(OpFn::Subscribe),
        "crash" => Some(OpFn::Crash),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_writer_writes() {
        let line = r#"{"index":3,"time":5300,"process":3,"type":"ok","f":"txn","value":[["send","orders-0",[4,-17]],["poll",{"a-0":[[0,1],[2,3]],"b-0":[]}],["sink","db","k",5],["send","o-0",[null,9],{"source":["in-0",3]}]],"final":true,"rebalanced":["a-0"]}"#;
        let op = parse_line(line, 3).expect("fast path");
        assert_eq!(op.mops.len(), 4);
        assert_eq!(op.mops[0], MicroOp::Send { key: "orders-0".into(), value: -17, offset: Some(4), source: None });
        assert!(op.final_poll);
        assert_eq!(op.keys, vec!["a-0".to_string()]);
        assert_eq!(crate::History::op_to_json_line(&op), line);
    }

    #[test]
    fn gives_up_on_anything_unusual() {
        let base = r#"{"index":0,"time":1,"process":1,"type":"ok","f":"send","value":[["send","k",[0,17]]]}"#;
        assert!(parse_line(base, 0).is_some());
        assert!(parse_line(base, 1).is_none(), "wrong index");
        for (from, to) in [
            (r#""time":1"#, r#""time":01"#),
            (r#""time":1"#, r#""time":1.0"#),
            (r#""time":1"#, r#""time":1,"time":2"#),
            (r#""k""#, r#""\u006b""#),
            ("17", "-0"),
            ("17", "- 5"),
            ("17", "99999999999999999999"),
            (r#""send","k""#, r#""sned","k""#),
            ("]]}", "]]} x"),
            (r#""type":"ok""#, r#""type":"okay""#),
        ] {
            let line = base.replace(from, to);
            assert!(parse_line(&line, 0).is_none(), "{line}");
        }
        let extra = base.replace(r#""time":1"#, r#""time":1,"note":{"a":[1,-2.5,true,null,"x\n",{}]}"#);
        assert!(parse_line(&extra, 0).is_some());
        assert!(parse_line(&base.replace(r#""time":1"#, r#""time":1,"note":1e999"#), 0).is_none());
        let spaced = r#" { "index" : 0 , "time":1, "process":1, "f":"crash" , "type":"info" } "#;
        assert_eq!(parse_line(spaced, 0).map(|op| op.f), Some(OpFn::Crash));
        assert_eq!(parse_line("{}", 0), None);
        assert_eq!(parse_line("", 0), None);
    }
}

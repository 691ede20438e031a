//! An opt-in recording of a run, for pictures of it: every message with its send time and its fate, every
//! fault with its start and its end, and which node observed something when.
//!
//! Recording is off by default and then costs nothing but one untaken branch where a message is sent or
//! arrives: no event grows, no allocation happens. It never draws from a random stream and never touches the
//! trace, so a recorded run has the trace hash of the same run unrecorded, which is how a caller proves the
//! recording shows the run it means.
//!
//! Two ways to turn it on:
//!
//! - [`World::enable_recording`](crate::World::enable_recording) and
//!   [`World::take_recording`](crate::World::take_recording), for code that owns its [`World`](crate::World);
//! - [`capture`], for code that builds its worlds out of reach (a model's `simulate`): every world created on
//!   this thread while `capture` runs records itself, and hands its [`Recording`] over when it is consumed or
//!   dropped, even while a panic unwinds.
//!
//! A message names itself with [`Label`], a trait whose default says only `"message"`: the kernel stays
//! ignorant of what the messages mean, and [`debug_label`] gives any `Debug` type its variant name for free.
//!
//! ```
//! use eosim_sim::recording::{capture, MessageFate};
//! use eosim_sim::{Actor, Context, NodeId, NodeRole, World, WorldOptions};
//!
//! struct Echo;
//! impl Actor for Echo {
//!     type Msg = u64;
//!     type Shared = ();
//!     fn on_start(&mut self, ctx: &mut Context<'_, u64, ()>) {
//!         if ctx.node() == NodeId(0) { ctx.send(NodeId(1), 1); }
//!     }
//!     fn on_message(&mut self, _ctx: &mut Context<'_, u64, ()>, _source: NodeId, _n: u64) {}
//!     fn on_timer(&mut self, _ctx: &mut Context<'_, u64, ()>, _tag: u64) {}
//!     fn on_crash(&mut self, _ctx: &mut Context<'_, u64, ()>) {}
//!     fn on_restart(&mut self, _ctx: &mut Context<'_, u64, ()>) {}
//! }
//!
//! let (hash, recordings) = capture(|| {
//!     let nodes = vec![(Echo, NodeRole::Server), (Echo, NodeRole::Client)];
//!     let mut world = World::new(WorldOptions::default(), nodes, ());
//!     world.run_until(1_000_000_000);
//!     let hash = world.trace_hash();
//!     world.into_parts();
//!     hash
//! });
//! assert_eq!(recordings.len(), 1);
//! assert_eq!(recordings[0].trace_hash.as_deref(), Some(hash.as_str()));
//! assert!(matches!(recordings[0].messages[0].fate, MessageFate::Delivered { .. }));
//! ```

use crate::fault::{FaultAction, FaultKind};
use crate::network::NodeRole;
use crate::NodeId;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// How a message names itself in a recording: its kind ("ProduceRequest") in a few characters, and for a
/// page's tooltips the protocol API it belongs to and the fields that matter. Only recordings ask, so the
/// defaults cost nothing; implement them to make diagrams readable.
pub trait Label {
    /// The message's kind; [`debug_label`] derives it from a `Debug` implementation.
    fn label(&self) -> Cow<'static, str> {
        Cow::Borrowed("message")
    }

    /// The protocol's name for what the message does ("Produce", "EndTxn"); `None` by default, and for a
    /// response that alone cannot tell which of several APIs it answers (its request, paired by
    /// [`Label::correlation_id`], can).
    fn api(&self) -> Option<&'static str> {
        None
    }

    /// The fields worth showing a person ("partition 1, producerId 7, baseSequence 3"); empty by default.
    fn fields(&self) -> String {
        String::new()
    }

    /// The id a response shares with its request (Kafka's correlation id), so that a picture can pair them.
    fn correlation_id(&self) -> Option<u64> {
        None
    }
}

macro_rules! label_by_type_name {
    ($($type:ty),*) => {
        $(impl Label for $type {
            fn label(&self) -> Cow<'static, str> {
                Cow::Borrowed(stringify!($type))
            }
        })*
    };
}

label_by_type_name!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, char, (), String);

/// Longest label [`debug_label`] keeps, in bytes.
pub const LABEL_BYTES_MAX: usize = 40;

/// The leading identifier of `value`'s `Debug` output: an enum's variant or a struct's name, so
/// `ProduceRequest { request_id: 3, .. }` gives `ProduceRequest`. Formatting stops at the first other
/// character, so a large message costs no more than its name.
pub fn debug_label<T: fmt::Debug + ?Sized>(value: &T) -> Cow<'static, str> {
    let mut writer = IdentifierWriter { text: String::new() };
    // The writer refuses everything past the identifier; that refusal is how formatting stops early.
    let _ = fmt::write(&mut writer, format_args!("{value:?}"));
    if writer.text.is_empty() {
        return Cow::Borrowed("message");
    }
    Cow::Owned(writer.text)
}

/// Keeps the leading run of identifier characters and fails at the first other one.
struct IdentifierWriter {
    text: String,
}

impl fmt::Write for IdentifierWriter {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        for character in piece.chars() {
            let identifier = character.is_alphanumeric() || character == '_';
            if !identifier || self.text.len() + character.len_utf8() > LABEL_BYTES_MAX {
                return Err(fmt::Error);
            }
            self.text.push(character);
        }
        Ok(())
    }
}

/// Why a message never reached its target's handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropCause {
    /// A loss window (lost request, lost ack, baseline loss) dropped it when it was sent.
    Lost,
    /// A partition blocked the link when it was sent.
    Partitioned,
    /// A partition began while it was in flight.
    PartitionedInFlight,
    /// The target was down when it arrived.
    TargetDown,
    /// The target crashed after it was sent (its connection died), even if it restarted since.
    ConnectionLost,
    /// It waited at a paused target, which then crashed.
    HeldAtCrash,
}

impl DropCause {
    /// True when the message was dropped at the moment it was sent, so it has no arrival time.
    pub fn at_send(self) -> bool {
        matches!(self, DropCause::Lost | DropCause::Partitioned)
    }

    /// A few words for a person.
    pub fn describe(self) -> &'static str {
        match self {
            DropCause::Lost => "lost by the network",
            DropCause::Partitioned => "blocked by a partition",
            DropCause::PartitionedInFlight => "cut by a partition in flight",
            DropCause::TargetDown => "target was down",
            DropCause::ConnectionLost => "target crashed after the send",
            DropCause::HeldAtCrash => "held at a paused target that crashed",
        }
    }
}

/// What became of one message copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageFate {
    /// The target handled it at `at_ns` (later than its arrival when the target was paused).
    Delivered {
        /// When the target's handler ran, in nanoseconds.
        at_ns: u64,
    },
    /// It was lost at `at_ns`.
    Dropped {
        /// When it was lost, in nanoseconds: the send time for causes that act [at send](DropCause::at_send).
        at_ns: u64,
        /// Why.
        cause: DropCause,
    },
    /// The run ended with it still in flight or waiting at a paused node.
    InFlight,
}

/// One copy of one message (a duplicated message has two records with the same send time).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageRecord {
    /// When it was sent, in nanoseconds.
    pub send_ns: u64,
    /// The sender.
    pub source: NodeId,
    /// The addressee.
    pub target: NodeId,
    /// Index of its label in [`Recording::labels`].
    pub label: u32,
    /// 0 for the original, 1 for a duplicate the network made.
    pub copy: u8,
    /// Its protocol API ([`Label::api`]).
    pub api: Option<&'static str>,
    /// Its fields ([`Label::fields`]).
    pub fields: String,
    /// The id it shares with its request or response ([`Label::correlation_id`]).
    pub correlation_id: Option<u64>,
    /// What became of it.
    pub fate: MessageFate,
}

/// One fault of the schedule, from its start to its end.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultRecord {
    /// Its index in the installed fault schedule.
    pub index: usize,
    /// The kind it counts as.
    pub kind: FaultKind,
    /// What it did.
    pub action: FaultAction,
    /// When it began, in nanoseconds.
    pub start_ns: u64,
    /// When it ended (healed, restarted, resumed), in nanoseconds; `None` if it outlasted the run.
    pub end_ns: Option<u64>,
    /// The nodes it struck: the crashed or paused node, both sides of a partition; empty for a link window,
    /// which strikes every link of its direction.
    pub nodes: Vec<NodeId>,
}

/// A node observed something (a client wrote to the history) at this instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Observation {
    /// When, in nanoseconds.
    pub time_ns: u64,
    /// Which node.
    pub node: NodeId,
}

/// Everything a recorded run did that a picture of it needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    /// Each node's role, by node id.
    pub roles: Vec<NodeRole>,
    /// Distinct message labels, in order of first use; [`MessageRecord::label`] indexes it.
    pub labels: Vec<String>,
    /// Every message copy, in send order.
    pub messages: Vec<MessageRecord>,
    /// Every fault that started, in start order.
    pub faults: Vec<FaultRecord>,
    /// Every instant a node observed something, in time order, each (time, node) once.
    pub observations: Vec<Observation>,
    /// Virtual time when the recording ended, in nanoseconds.
    pub end_ns: u64,
    /// The run's trace hash when the recording ended; `None` when the world was dropped unfinished (a panic).
    pub trace_hash: Option<String>,
}

impl Recording {
    /// The label of a message.
    pub fn label(&self, message: &MessageRecord) -> &str {
        &self.labels[message.label as usize]
    }
}

/// Builds a [`Recording`] while the world runs.
#[derive(Debug)]
pub(crate) struct Recorder {
    recording: Recording,
    label_ids: BTreeMap<Cow<'static, str>, u32>,
    /// Messages in the queue by (arrival time, target, source), in push order: the queue pops equal times in
    /// push order too, so the front is always the copy that arrives. Keyed this way, events carry no id.
    pending: BTreeMap<(u64, NodeId, NodeId), VecDeque<usize>>,
    /// Per node, the messages waiting for it while it is paused, in arrival order, with their sources.
    held: Vec<VecDeque<(NodeId, usize)>>,
    /// Faults that started and have not ended: schedule index to record index.
    open_faults: BTreeMap<usize, usize>,
    /// Latest time seen, for a recording cut short by a panic.
    last_ns: u64,
}

/// What happened to a message when its arrival event came up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The target handled it.
    Delivered,
    /// The target is paused: it waits.
    Held,
    /// It was lost.
    Dropped(DropCause),
}

impl Recorder {
    pub(crate) fn new(roles: Vec<NodeRole>) -> Recorder {
        let held = vec![VecDeque::new(); roles.len()];
        let recording = Recording { roles, ..Recording::default() };
        Recorder {
            recording,
            label_ids: BTreeMap::new(),
            pending: BTreeMap::new(),
            held,
            open_faults: BTreeMap::new(),
            last_ns: 0,
        }
    }

    fn label_id<M: Label>(&mut self, msg: &M) -> u32 {
        let label = msg.label();
        if let Some(id) = self.label_ids.get(&label) {
            return *id;
        }
        let id = self.recording.labels.len() as u32;
        self.recording.labels.push(label.to_string());
        self.label_ids.insert(label, id);
        id
    }

    /// A message left `source`, and the network scheduled one copy at each of `arrivals_ns`.
    // Cold: called only while recording, so the untaken branch that reaches it stays off the hot path.
    #[cold]
    pub(crate) fn sent<M: Label>(&mut self, now_ns: u64, source: NodeId, target: NodeId, msg: &M, arrivals_ns: &[u64]) {
        assert!(!arrivals_ns.is_empty(), "a message that arrives has an arrival time");
        self.last_ns = now_ns;
        let label = self.label_id(msg);
        let (api, fields, correlation_id) = (msg.api(), msg.fields(), msg.correlation_id());
        // The same order as Context::send pushes: the duplicate copies first, then the original.
        let order = (1..arrivals_ns.len()).chain([0]);
        for copy in order {
            let record = self.recording.messages.len();
            let fate = MessageFate::InFlight;
            let copy_number = u8::try_from(copy).expect("at most a few copies");
            self.recording.messages.push(MessageRecord {
                send_ns: now_ns,
                source,
                target,
                label,
                copy: copy_number,
                api,
                fields: fields.clone(),
                correlation_id,
                fate,
            });
            self.pending.entry((arrivals_ns[copy], target, source)).or_default().push_back(record);
        }
    }

    /// A message was dropped the moment it was sent.
    // Cold: called only while recording, so the untaken branch that reaches it stays off the hot path.
    #[cold]
    pub(crate) fn lost<M: Label>(&mut self, now_ns: u64, source: NodeId, target: NodeId, msg: &M, cause: DropCause) {
        assert!(cause.at_send(), "only causes that act at send time drop a message in send");
        self.last_ns = now_ns;
        let label = self.label_id(msg);
        let fate = MessageFate::Dropped { at_ns: now_ns, cause };
        self.recording.messages.push(MessageRecord {
            send_ns: now_ns,
            source,
            target,
            label,
            copy: 0,
            api: msg.api(),
            fields: msg.fields(),
            correlation_id: msg.correlation_id(),
            fate,
        });
    }

    /// A message's arrival event came up at `now_ns`, and this is what the world did with it.
    // Cold: called only while recording, so the untaken branch that reaches it stays off the hot path.
    #[cold]
    pub(crate) fn arrived(&mut self, now_ns: u64, source: NodeId, target: NodeId, arrival: Arrival) {
        self.last_ns = now_ns;
        let key = (now_ns, target, source);
        let record = {
            let queue = self.pending.get_mut(&key).expect("every arrival was recorded when it was sent");
            let record = queue.pop_front().expect("an arrival key holds a message");
            if queue.is_empty() {
                self.pending.remove(&key);
            }
            record
        };
        let fate = &mut self.recording.messages[record].fate;
        assert_eq!(*fate, MessageFate::InFlight, "a message arrives once");
        match arrival {
            Arrival::Delivered => *fate = MessageFate::Delivered { at_ns: now_ns },
            Arrival::Dropped(cause) => *fate = MessageFate::Dropped { at_ns: now_ns, cause },
            Arrival::Held => self.held[target.index()].push_back((source, record)),
        }
    }

    /// `node` resumed at `now_ns`: what waited for it is queued again at that instant, in arrival order.
    pub(crate) fn resumed(&mut self, now_ns: u64, node: NodeId) {
        self.last_ns = now_ns;
        for (source, record) in std::mem::take(&mut self.held[node.index()]) {
            self.pending.entry((now_ns, node, source)).or_default().push_back(record);
        }
    }

    /// `node` crashed at `now_ns`: what waited for it while it was paused is lost.
    pub(crate) fn crashed(&mut self, now_ns: u64, node: NodeId) {
        self.last_ns = now_ns;
        for (_, record) in std::mem::take(&mut self.held[node.index()]) {
            let fate = MessageFate::Dropped { at_ns: now_ns, cause: DropCause::HeldAtCrash };
            self.recording.messages[record].fate = fate;
        }
    }

    /// Fault `index` of the schedule began.
    pub(crate) fn fault_started(&mut self, now_ns: u64, index: usize, action: &FaultAction) {
        self.last_ns = now_ns;
        let nodes = match action {
            FaultAction::Link { .. } => Vec::new(),
            FaultAction::Partition { side_a, side_b, .. } => side_a.iter().chain(side_b).copied().collect(),
            FaultAction::Crash { node, .. } | FaultAction::Pause { node, .. } => vec![*node],
        };
        let record =
            FaultRecord { index, kind: action.kind(), action: action.clone(), start_ns: now_ns, end_ns: None, nodes };
        self.open_faults.insert(index, self.recording.faults.len());
        self.recording.faults.push(record);
    }

    /// Fault `index` of the schedule ended.
    pub(crate) fn fault_ended(&mut self, now_ns: u64, index: usize) {
        self.last_ns = now_ns;
        if let Some(record) = self.open_faults.remove(&index) {
            self.recording.faults[record].end_ns = Some(now_ns);
        }
    }

    /// Every fault ended at once (the world healed).
    pub(crate) fn healed(&mut self, now_ns: u64) {
        self.last_ns = now_ns;
        for (_, record) in std::mem::take(&mut self.open_faults) {
            self.recording.faults[record].end_ns = Some(now_ns);
        }
    }

    /// `node` observed something at `now_ns`.
    // Cold: called only while recording, so the untaken branch that reaches it stays off the hot path.
    #[cold]
    pub(crate) fn observed(&mut self, now_ns: u64, node: NodeId) {
        self.last_ns = now_ns;
        let observation = Observation { time_ns: now_ns, node };
        if self.recording.observations.last() != Some(&observation) {
            self.recording.observations.push(observation);
        }
    }

    /// The finished recording; `end_ns` defaults to the latest time seen.
    pub(crate) fn finish(mut self, end_ns: Option<u64>, trace_hash: Option<String>) -> Recording {
        self.recording.end_ns = end_ns.unwrap_or(self.last_ns).max(self.last_ns);
        self.recording.trace_hash = trace_hash;
        self.recording
    }
}

/// A world's recorder, if it records. When it is dropped inside [`capture`] with the recorder still in it
/// (the world was dropped, or a panic unwound through it), the recording is handed over unfinished.
#[derive(Debug, Default)]
pub(crate) struct RecorderSlot(pub(crate) Option<Box<Recorder>>);

impl RecorderSlot {
    /// A recorder when this thread is inside [`capture`], else none.
    pub(crate) fn for_new_world(roles: &[NodeRole]) -> RecorderSlot {
        let capturing = CAPTURED.with(|captured| captured.borrow().is_some());
        RecorderSlot(capturing.then(|| Box::new(Recorder::new(roles.to_vec()))))
    }

    /// Takes the recorder out and hands its recording to [`capture`], if one is running.
    pub(crate) fn hand_over(&mut self, end_ns: Option<u64>, trace_hash: Option<String>) {
        let Some(recorder) = self.0.take() else { return };
        let recording = recorder.finish(end_ns, trace_hash);
        CAPTURED.with(|captured| {
            if let Some(recordings) = captured.borrow_mut().as_mut() {
                recordings.push(recording);
            }
        });
    }
}

impl Drop for RecorderSlot {
    fn drop(&mut self) {
        self.hand_over(None, None);
    }
}

thread_local! {
    /// While [`capture`] runs on this thread: the recordings of the worlds finished so far.
    static CAPTURED: RefCell<Option<Vec<Recording>>> = const { RefCell::new(None) };
}

/// Runs `work` with recording on for every world created on this thread meanwhile, and returns its result with
/// their recordings, in the order the worlds finished. A world finishes when it is consumed with
/// [`World::into_parts`](crate::World::into_parts) (the recording then carries the trace hash) or dropped.
pub fn capture<T>(work: impl FnOnce() -> T) -> (T, Vec<Recording>) {
    /// Restores the enclosing capture (or none) even if `work` panics.
    struct Restore(Option<Vec<Recording>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            CAPTURED.with(|captured| *captured.borrow_mut() = outer);
        }
    }
    let outer = CAPTURED.with(|captured| captured.borrow_mut().replace(Vec::new()));
    let restore = Restore(outer);
    let result = work();
    let recordings = CAPTURED.with(|captured| captured.borrow_mut().take()).unwrap_or_default();
    drop(restore);
    (result, recordings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum Sample {
        ProduceRequest { request_id: u64, payload: Vec<u8> },
        Heartbeat(u32),
        Tick,
    }

    #[test]
    fn debug_label_keeps_the_variant_name() {
        let big = Sample::ProduceRequest { request_id: 3, payload: vec![0; 10_000] };
        assert_eq!(debug_label(&big), "ProduceRequest");
        assert_eq!(debug_label(&Sample::Heartbeat(1)), "Heartbeat");
        assert_eq!(debug_label(&Sample::Tick), "Tick");
        assert_eq!(debug_label(&"quoted"), "message", "no leading identifier: the default");
        assert_eq!(debug_label(&"x".repeat(100)), "message", "a quoted string has none either");
        assert_eq!(7u64.label(), "u64");
    }

    #[test]
    fn arrivals_match_sends_in_push_order_and_held_messages_follow_their_node() {
        let mut recorder = Recorder::new(vec![NodeRole::Server, NodeRole::Client]);
        let (a, b) = (NodeId(0), NodeId(1));
        recorder.sent(0, a, b, &1u64, &[10]);
        recorder.sent(1, a, b, &2u64, &[10, 12]);
        recorder.arrived(10, a, b, Arrival::Delivered);
        recorder.arrived(10, a, b, Arrival::Held);
        recorder.resumed(15, b);
        recorder.arrived(15, a, b, Arrival::Delivered);
        recorder.sent(16, b, a, &3u64, &[20]);
        let recording = recorder.finish(Some(30), None);
        let fates: Vec<(u64, u8, MessageFate)> =
            recording.messages.iter().map(|message| (message.send_ns, message.copy, message.fate)).collect();
        assert_eq!(
            fates,
            vec![
                (0, 0, MessageFate::Delivered { at_ns: 10 }),
                (1, 1, MessageFate::InFlight),
                (1, 0, MessageFate::Delivered { at_ns: 15 }),
                (16, 0, MessageFate::InFlight),
            ],
            "the copy pushed first at time 10 arrives first; the duplicate at 12 never came up"
        );
        assert_eq!(recording.end_ns, 30);
    }

    /// A message that describes itself, as a model's messages do.
    struct Described(u64);

    impl Label for Described {
        fn api(&self) -> Option<&'static str> {
            Some("Produce")
        }
        fn fields(&self) -> String {
            format!("baseSequence {}", self.0)
        }
        fn correlation_id(&self) -> Option<u64> {
            Some(self.0 + 100)
        }
    }

    #[test]
    fn every_copy_keeps_its_api_fields_and_correlation_id_and_the_defaults_say_nothing() {
        let mut recorder = Recorder::new(vec![NodeRole::Client, NodeRole::Server]);
        let (a, b) = (NodeId(0), NodeId(1));
        recorder.sent(0, a, b, &Described(3), &[10, 11]);
        recorder.lost(1, a, b, &Described(4), DropCause::Lost);
        recorder.sent(2, a, b, &7u64, &[12]);
        let recording = recorder.finish(None, None);
        let described: Vec<(Option<&str>, &str, Option<u64>)> = (recording.messages.iter())
            .map(|message| (message.api, message.fields.as_str(), message.correlation_id))
            .collect();
        let produce = |sequence: u64| (Some("Produce"), sequence, Some(sequence + 100));
        let expected = [produce(3), produce(3), produce(4)];
        for (got, (api, sequence, id)) in described.iter().zip(expected) {
            assert_eq!(*got, (api, format!("baseSequence {sequence}").as_str(), id), "the duplicate copy too");
        }
        assert_eq!(described[3], (None, "", None), "a message without a description");
        assert_eq!(recording.label(&recording.messages[0]), "message");
    }

    #[test]
    fn capture_nests_and_restores() {
        let ((inner, inner_recordings), outer_recordings) = capture(|| capture(|| 5));
        assert_eq!(inner, 5);
        assert!(inner_recordings.is_empty() && outer_recordings.is_empty());
        assert!(CAPTURED.with(|captured| captured.borrow().is_none()), "capture ends with none running");
        assert!(RecorderSlot::for_new_world(&[NodeRole::Server]).0.is_none(), "off outside capture");
    }
}

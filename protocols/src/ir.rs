//! The checked, lowered form of a description that code generation and the graph use.
//!
//! It mirrors `asyncore_runtime::wire` (whose [`Op`]s the generated code contains) with
//! owned data, plus what the generated types need: field names, Rust types, docs.

use crate::ast::{Action, Cmp, CondValue, Dir, Event, Span};

/// A checked protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol {
    /// The protocol's name.
    pub name: String,
    /// Doc comments.
    pub docs: Vec<String>,
    /// The framing.
    pub framing: Framing,
    /// Further framings, declared `framing NAME = ...`, which messages choose by name.
    pub framings: Vec<NamedFraming>,
    /// Literal keywords match case-insensitively.
    pub nocase: bool,
    /// Every message, in declaration order.
    pub messages: Vec<Message>,
    /// Every state, in declaration order (one implicit `Ready` state when none is declared).
    pub states: Vec<State>,
    /// Index of the initial state.
    pub initial: usize,
    /// What to do on bad input, per event.
    pub policies: Policies,
    /// `greeting A | B`: the server messages one of which the server sends first.
    pub greeting: Vec<usize>,
}

/// Actions for each kind of bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    /// Over a limit.
    pub oversize: Action,
    /// No message matches.
    pub unknown: Action,
    /// Not allowed in the state.
    pub not_allowed: Action,
    /// Malformed fields.
    pub invalid: Action,
    /// A request not whole within the request timeout: the reply before the close, if
    /// any (`on timeout reply "..." close`).
    pub timeout: Option<Vec<u8>>,
}

/// The policies a state declares for itself; `None`: the protocol's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatePolicies {
    /// Over a limit, where no message's own `on oversize` applies (a first line too long
    /// to be told which message it is).
    pub oversize: Option<Action>,
    /// No message matches.
    pub unknown: Option<Action>,
    /// A message of another state.
    pub not_allowed: Option<Action>,
    /// Malformed, where no message's own `on invalid` applies.
    pub invalid: Option<Action>,
}

/// A framing of its own, for the messages that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFraming {
    /// Its name.
    pub name: String,
    /// Doc comments.
    pub docs: Vec<String>,
    /// The framing.
    pub framing: Framing,
}

/// The framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Lines.
    Line {
        /// Terminator.
        term: Vec<u8>,
        /// Longest line.
        max: u64,
        /// Bare LF accepted.
        bare_lf: bool,
        /// With the terminator "\n": "\r\n" also ends a line (sent lines end in "\n").
        crlf: bool,
        /// Spaces and tabs at either end of a line are padding (`Op::Trim` after each
        /// `Op::Line`).
        padding: bool,
    },
    /// Length-prefixed frames.
    Length {
        /// Bytes before the length field.
        offset: u8,
        /// Width (0: varint).
        width: u8,
        /// Big-endian.
        big_endian: bool,
        /// Added to the value.
        adjust: i64,
        /// Where the messages' ops start: 0 when the message writes the `offset` bytes
        /// before the length field itself, else the whole header (they see the body).
        skip: u8,
        /// Longest body.
        max: u64,
    },
    /// Units of exactly `size` bytes.
    Fixed {
        /// The size.
        size: u64,
    },
}

impl Framing {
    /// The most bytes a line terminator takes on the wire (2 for `crlf accept`).
    pub fn term_len(&self) -> u64 {
        match self {
            Framing::Line { crlf: true, .. } => 2,
            Framing::Line { term, .. } => term.len() as u64,
            Framing::Length { .. } | Framing::Fixed { .. } => 0,
        }
    }

    /// The largest unit: a line, a frame body, or a fixed unit.
    pub fn unit_max(&self) -> u64 {
        match self {
            Framing::Line { max, .. } | Framing::Length { max, .. } => *max,
            Framing::Fixed { size } => *size,
        }
    }

    /// The bytes of one frame header (0 for lines).
    pub fn header_len(&self) -> u64 {
        match self {
            Framing::Line { .. } | Framing::Fixed { .. } => 0,
            Framing::Length { offset, width, .. } => {
                u64::from(*offset) + if *width == 0 { 10 } else { u64::from(*width) }
            }
        }
    }
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its name.
    pub name: String,
    /// Doc comments.
    pub docs: Vec<String>,
    /// Who sends it.
    pub dir: Dir,
    /// The decoding ops.
    pub ops: Vec<Op>,
    /// Number of message slots.
    pub slots: u16,
    /// The fields, in order (derived ones included, marked).
    pub fields: Vec<FieldInfo>,
    /// Item types of its repetitions, indexed by `FieldKind::Seq`.
    pub items: Vec<ItemType>,
    /// The most bytes one message spans.
    pub max: u64,
    /// A policy for malformed input of this message, overriding the protocol's.
    pub invalid: Option<Action>,
    /// The message's own `on oversize` policy, if any.
    pub oversize: Option<Action>,
    /// Parameters (`Body(length)`): values the channel supplies, read by `Op::Param`.
    pub params: Vec<String>,
    /// The named framing it uses (an index into [`Protocol::framings`]), or `None` for
    /// the protocol's framing.
    pub framing: Option<usize>,
    /// `replies A | B`: the server messages (indices) one of which answers this client
    /// message; empty when not declared.
    pub replies: Vec<usize>,
    /// `continues if COND`: while it holds, this reply goes on with another message.
    pub continues: Option<Guard>,
    /// Where it is declared.
    pub span: Span,
    /// Its first part is a literal (it is tried before the others).
    pub literal_lead: bool,
    /// A one-line message whose `limit` exceeds the framing's line maximum: its line limit.
    pub line_max: Option<u64>,
    /// The policies its parts declare (`else`), each for the ops whose failure it answers.
    pub part_policies: Vec<PartPolicy>,
}

/// A part's own answer to bad input (`else ACTION`, `else oversize ACTION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPolicy {
    /// `Invalid`: the part does not match; `Oversize`: the line it starts is too long.
    pub event: Event,
    /// The first and last index of the ops it answers for (the part's separator, its
    /// ops, and the end of its line when it is the line's last part; for `Oversize`, the
    /// op that opens the line).
    pub ops: (u16, u16),
    /// What to do.
    pub action: Action,
}

/// A field of a message or item.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// Its name.
    pub name: String,
    /// Doc comments.
    pub docs: Vec<String>,
    /// Its slot.
    pub slot: u16,
    /// Its kind.
    pub kind: FieldKind,
    /// For optional fields: the slot of the presence flag.
    pub presence: Option<u16>,
    /// The field is computed on encoding from another one: the length of a byte field or
    /// the count of a repetition (its slot).
    pub derived_from: Option<u16>,
    /// For integers: the largest value the encoder accepts.
    pub max: u64,
}

/// The Rust shape of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// `&[u8]`.
    Bytes,
    /// An integer.
    Int {
        /// Signed.
        signed: bool,
        /// Bits.
        bits: u8,
    },
    /// `bool`.
    Flag,
    /// A repetition; the item type's index.
    Seq(usize),
    /// A quoted word (`wire::Quoted`), the item of `quoted*`.
    Quoted,
    /// Dot-stuffed lines.
    Lines {
        /// The unstuff prefix.
        unstuff: Option<Vec<u8>>,
    },
}

/// The item type of a repetition.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemType {
    /// The Rust name of a generated item struct (`None`: the item is its single field).
    pub struct_name: Option<String>,
    /// The fields of one item.
    pub fields: Vec<FieldInfo>,
    /// Slots per item.
    pub stride: u16,
}

/// A state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Its name.
    pub name: String,
    /// Doc comments.
    pub docs: Vec<String>,
    /// Message index and next states.
    pub transitions: Vec<(usize, Vec<Target>)>,
    /// Messages whose next state the message itself says (`by message`): their sender
    /// knows it, so the duality check does not apply to their choice.
    pub by_message: Vec<usize>,
    /// Messages whose next state their reply says (`Transaction on Ok | ...`): the
    /// message, and in order the cases: a reply (server message index), a condition on
    /// its fields, and the target they lead to. The first case that matches wins.
    pub by_reply: Vec<(usize, Vec<ReplyCase>)>,
    /// The cases of transitions by reply that start TLS (`T on Reply if code == 220
    /// starttls`): the message, and the index of the case among its cases in
    /// [`by_reply`](Self::by_reply). The reply goes out (and comes in) in plaintext, then
    /// both sides start TLS, and the connection is in the case's target state.
    pub starttls: Vec<(usize, usize)>,
    /// Its own policies for bad input, before the protocol's.
    pub policies: StatePolicies,
}

/// A case of a transition by reply: the reply (a server message index), a condition on its
/// fields, and where they lead.
pub type ReplyCase = (usize, Option<Guard>, Target);

/// A condition on a field of a decoded message: `code < 400`, `more == "-"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// The field.
    pub field: String,
    /// The comparison.
    pub cmp: Cmp,
    /// The value.
    pub value: CondValue,
}

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A state (index).
    State(usize),
    /// The connection closes once the replies are sent.
    Close,
}

/// A decoding op; see `asyncore_runtime::wire::Op` for the meaning of each.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Line,
    EndLine,
    Frame,
    /// A frame of the named framing with this index.
    FrameWith(usize),
    Fixed(u32),
    LengthField,
    EndFrame,
    Lit(Vec<u8>),
    Sep,
    Ows,
    /// Right after `Line`: the spaces and tabs at either end of the line are padding.
    Trim,
    Word {
        slot: u16,
    },
    Token {
        slot: u16,
    },
    Quoted {
        slot: u16,
        sep: bool,
        min: u32,
        max: u32,
    },
    Commit,
    Rest {
        slot: u16,
    },
    OneOf {
        slot: u16,
        lits: Vec<Vec<u8>>,
    },
    Uint {
        slot: u16,
        max: u64,
    },
    Int {
        slot: u16,
        min: i64,
        max: i64,
    },
    Hex {
        slot: u16,
        max: u64,
    },
    Bin {
        slot: u16,
        width: u8,
        big_endian: bool,
        signed: bool,
    },
    Param {
        slot: u16,
        param: u8,
    },
    Bits {
        slot: u16,
        shift: u8,
        bits: u8,
    },
    BitsLit {
        shift: u8,
        bits: u8,
        value: u8,
    },
    Varint {
        slot: u16,
        max: u64,
    },
    CStr {
        slot: u16,
    },
    If {
        slot: u16,
        test: u16,
        test_in_message: bool,
        cmp: Cmp,
        value: u64,
        len: u16,
    },
    Bytes {
        slot: u16,
        len: u16,
        len_in_message: bool,
        max: u32,
    },
    LinesUntil {
        slot: u16,
        marker: Vec<u8>,
        max: u32,
    },
    Opt {
        slot: u16,
        len: u16,
    },
    Repeat {
        slot: u16,
        count: u16,
        len: u16,
        stride: u16,
        max: u32,
        signed: bool,
    },
    Many {
        slot: u16,
        len: u16,
        stride: u16,
        min: u32,
        max: u32,
    },
    ManyUntil {
        slot: u16,
        marker: Vec<u8>,
        len: u16,
        stride: u16,
        max: u32,
    },
}

impl Protocol {
    /// The longest line of the messages one side sends: the framing's maximum, or more for
    /// one-line messages with a larger `limit`.
    pub fn line_max(&self, from_client: bool) -> Option<u64> {
        let Framing::Line { max, .. } = &self.framing else {
            return None;
        };
        let raised = self
            .messages
            .iter()
            .filter(|m| {
                if from_client {
                    m.dir.from_client()
                } else {
                    m.dir.from_server()
                }
            })
            .filter_map(|m| m.line_max)
            .max();
        Some(raised.map_or(*max, |r| r.max(*max)))
    }

    /// Indices of the messages the given side receives.
    pub fn received_by_server(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.messages.len()).filter(|&i| self.messages[i].dir.from_client())
    }

    /// Indices of the messages the client receives.
    pub fn received_by_client(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.messages.len()).filter(|&i| self.messages[i].dir.from_server())
    }

    /// Whether any client message declares its replies: then the client reads each reply
    /// knowing the request it answers.
    pub fn has_replies(&self) -> bool {
        self.messages.iter().any(|m| !m.replies.is_empty()) || !self.greeting.is_empty()
    }

    /// Server messages that answer no request and greet no one: sent at any time.
    pub fn unsolicited(&self) -> Vec<usize> {
        self.received_by_client()
            .filter(|&i| {
                !self.greeting.contains(&i) && !self.messages.iter().any(|m| m.replies.contains(&i))
            })
            .collect()
    }

    /// Whether message `m`'s next state is said by its reply (in any state).
    pub fn is_by_reply(&self, m: usize) -> bool {
        self.states
            .iter()
            .any(|s| s.by_reply.iter().any(|(x, _)| *x == m))
    }

    /// Whether a transition starts TLS (`starttls`) anywhere in the protocol.
    ///
    /// ```
    /// let p = asyncore_protocol::compile(concat!(
    ///     "protocol p framing line \"\\r\\n\" max 1KiB ",
    ///     "client Tls = \"STARTTLS\" replies Reply client Quit = \"QUIT\" replies Reply ",
    ///     "server Reply = code:u16 ~ \" \" ~ text:rest ",
    ///     "state Plain initial { Tls -> Secure on Reply if code == 220 starttls | Plain on Reply if code != 220  Quit -> close } ",
    ///     "state Secure { Quit -> close }",
    /// )).unwrap();
    /// assert!(p.has_starttls());
    /// assert!(p.starts_tls(0, 0) && !p.starts_tls(0, 1)); // `Tls` in `Plain`, not `Quit`
    /// assert!(p.case_starts_tls(0, 0, 0) && !p.case_starts_tls(0, 0, 1)); // `220`, not the rest
    /// assert_eq!(p.starttls_targets(), [1]); // `Secure`
    /// ```
    pub fn has_starttls(&self) -> bool {
        self.states.iter().any(|s| !s.starttls.is_empty())
    }

    /// Whether message `m` may start TLS in state `s` (one of its replies there does).
    /// Once TLS is on, such a message is not allowed in that state: TLS starts once.
    /// See [`has_starttls`](Self::has_starttls) for an example.
    pub fn starts_tls(&self, s: usize, m: usize) -> bool {
        self.states[s].starttls.iter().any(|(x, _)| *x == m)
    }

    /// Whether the reply case number `case` of message `m` in state `s` starts TLS. See
    /// [`has_starttls`](Self::has_starttls) for an example.
    pub fn case_starts_tls(&self, s: usize, m: usize, case: usize) -> bool {
        self.states[s].starttls.contains(&(m, case))
    }

    /// The states a transition that starts TLS leads to. See
    /// [`has_starttls`](Self::has_starttls) for an example.
    pub fn starttls_targets(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for s in &self.states {
            for &(m, ci) in &s.starttls {
                let to = s
                    .by_reply
                    .iter()
                    .find(|(x, _)| *x == m)
                    .and_then(|(_, cases)| cases.get(ci))
                    .map(|c| c.2);
                if let Some(Target::State(n)) = to {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        out
    }

    /// The next states of message `m` (the same in every state that allows it; checked),
    /// or `None` if no state mentions it.
    pub fn targets_of(&self, m: usize) -> Option<&[Target]> {
        self.states
            .iter()
            .flat_map(|s| s.transitions.iter())
            .find(|(msg, _)| *msg == m)
            .map(|(_, t)| t.as_slice())
    }
}

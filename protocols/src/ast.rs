//! The syntax tree of a description, with byte spans into its source text.

/// A byte range of the description source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span from the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A name with its place in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A whole description.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// `///` comments before `protocol`.
    pub docs: Vec<String>,
    /// The protocol's name.
    pub name: Ident,
    /// `framing ...`, if given.
    pub framing: Option<(FramingDecl, Span)>,
    /// `framing NAME = ...`: further framings, which messages choose by name.
    pub framings: Vec<NamedFraming>,
    /// `keywords nocase` was given.
    pub nocase: bool,
    /// `on EVENT ACTION` declarations.
    pub policies: Vec<Policy>,
    /// `greeting A | B`: what the server sends first, before any request.
    pub greeting: Option<Replies>,
    /// The messages, in order.
    pub messages: Vec<MessageDecl>,
    /// The states, in order.
    pub states: Vec<StateDecl>,
}

/// `framing NAME = ...`: a framing of its own, for the messages that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFraming {
    /// `///` comments.
    pub docs: Vec<String>,
    /// Its name.
    pub name: Ident,
    /// The framing.
    pub decl: FramingDecl,
    /// The whole declaration.
    pub span: Span,
}

/// How the stream is cut into units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingDecl {
    /// `line "TERM" max SIZE [bare_lf accept|reject] [crlf accept|reject]
    /// [padding accept|reject]`.
    Line {
        /// The terminator.
        term: Vec<u8>,
        /// The longest line.
        max: (u64, Span),
        /// A bare LF ends a CRLF line.
        bare_lf: bool,
        /// `crlf accept` with the terminator "\n": a CR before the LF is part of the
        /// terminator (lines are sent with "\n").
        crlf: bool,
        /// `padding accept`: spaces and tabs at either end of a line are not part of it.
        padding: bool,
    },
    /// `length TYPE max SIZE [offset N] [adjust N] [includes_header] [skip N]`.
    Length {
        /// Width in bytes (0: varint).
        width: u8,
        /// Big-endian.
        big_endian: bool,
        /// The type as written, for messages.
        ty: Ident,
        /// The longest body.
        max: (u64, Span),
        /// Bytes before the length field.
        offset: u64,
        /// Added to the field's value.
        adjust: i64,
        /// The length counts the whole header.
        includes_header: bool,
        /// The length counts the length field itself (but not the bytes before it).
        includes_length: bool,
        /// `skip N` as written: no longer accepted (the bytes before the length field
        /// are the messages' own), kept to say so at its place.
        skip: Option<(u64, Span)>,
    },
    /// `fixed SIZE`: units of exactly this many bytes (a one-byte answer).
    Fixed {
        /// The size.
        size: (u64, Span),
    },
}

/// What happens on bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Which event.
    pub event: Event,
    /// What to do.
    pub action: Action,
    /// The whole declaration.
    pub span: Span,
}

/// A kind of bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A line, frame, run of bytes or repetition over its limit.
    Oversize,
    /// A message that matches no message of the protocol.
    Unknown,
    /// A message that is not allowed in the current state.
    NotAllowed,
    /// A message whose fields are malformed (bad number, bare LF...).
    Invalid,
    /// A request that did not arrive whole within the channel's request timeout (a
    /// slowloris), or a connection idle in the middle of one.
    Timeout,
}

impl Event {
    /// The keyword of this event.
    pub fn keyword(self) -> &'static str {
        match self {
            Event::Oversize => "oversize",
            Event::Unknown => "unknown",
            Event::NotAllowed => "not_allowed",
            Event::Invalid => "invalid",
            Event::Timeout => "timeout",
        }
    }
}

/// The answer to bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Close the connection.
    Close,
    /// Drop the offending input and go on.
    Discard,
    /// Send these bytes (a line: the terminator is added), then close or go on.
    Reply {
        /// The reply.
        text: Vec<u8>,
        /// Close after sending.
        close: bool,
    },
}

/// Who sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// The client.
    Client,
    /// The server.
    Server,
    /// Either side.
    Both,
}

impl Dir {
    /// True if the client sends this message.
    pub fn from_client(self) -> bool {
        matches!(self, Dir::Client | Dir::Both)
    }
    /// True if the server sends this message.
    pub fn from_server(self) -> bool {
        matches!(self, Dir::Server | Dir::Both)
    }
}

/// `client|server|both NAME = units`.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDecl {
    /// `///` comments.
    pub docs: Vec<String>,
    /// Who sends it.
    pub dir: Dir,
    /// Its name.
    pub name: Ident,
    /// `(NAME, ...)`: values the channel supplies before the message is read.
    pub params: Vec<Ident>,
    /// `framing NAME`: the message uses this named framing instead of the protocol's.
    pub framing: Option<Ident>,
    /// The units, separated by `then`.
    pub units: Vec<Unit>,
    /// A policy for this message only (`on invalid ...`).
    pub policies: Vec<Policy>,
    /// `limit SIZE`: the most bytes the whole message may span.
    pub limit: Option<(u64, Span)>,
    /// `replies A | B`: the server messages that answer this client message.
    pub replies: Option<Replies>,
    /// `continues if COND` (server messages): while the condition holds, the reply goes on
    /// with another message (`250-PIPELINING` before `250 OK`).
    pub continues: Option<Cond>,
    /// The whole declaration.
    pub span: Span,
}

/// A reply after `on`, with an optional condition on its fields: `Reply if code < 400`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyCase {
    /// The reply.
    pub reply: Ident,
    /// The condition on the reply's fields, if any.
    pub guard: Option<Cond>,
}

/// `replies A | B` (or `greeting A | B`): server messages, one of which answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replies {
    /// The messages.
    pub names: Vec<Ident>,
    /// The whole clause.
    pub span: Span,
}

/// A sequence of parts: one line (or frame), or a run of raw parts after `then`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// The parts.
    pub parts: Vec<Part>,
    /// Where the unit is written.
    pub span: Span,
}

/// One element of a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// What it is.
    pub kind: PartKind,
    /// Where it is written.
    pub span: Span,
    /// `else ACTION` (event `Invalid`: the part does not match) and `else oversize
    /// ACTION` (event `Oversize`: the line it starts is over its limit) after it: its own
    /// answers to bad input, before the message's, the state's and the protocol's.
    pub policies: Vec<Policy>,
}

/// The kinds of parts.
#[derive(Debug, Clone, PartialEq)]
pub enum PartKind {
    /// A literal keyword or byte string.
    Lit(Vec<u8>),
    /// `0b0011`: literal bits, as many as the digits (in binary frames).
    Bits {
        /// The value.
        value: u64,
        /// How many bits.
        width: u8,
    },
    /// `~`: no separator between the neighbouring parts.
    Glue,
    /// `ows`: optional spaces or tabs.
    Ows,
    /// `NAME:TYPE`.
    Field(Box<Field>),
}

/// A named field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// `///` comments.
    pub docs: Vec<String>,
    /// Its name.
    pub name: Ident,
    /// Its type.
    pub ty: Type,
    /// Where the type is written.
    pub ty_span: Span,
    /// Followed by `?`.
    pub optional: bool,
    /// `max N` after the type.
    pub max: Option<(u64, Span)>,
    /// `nullable` after a `bytes[i32be]`: a length of -1 means no value (`Option`).
    pub nullable: Option<Span>,
    /// `if FIELD CMP VALUE`: the field is there only when the condition holds.
    pub cond: Option<Cond>,
}

/// `if FIELD [CMP VALUE]`: a condition on an earlier integer field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// The field tested.
    pub field: Ident,
    /// The comparison (`if flag` alone is `flag != 0`).
    pub cmp: Cmp,
    /// The value compared with.
    pub value: CondValue,
    /// The whole condition.
    pub span: Span,
}

/// What a condition compares a field with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondValue {
    /// A number (an integer field).
    Int(i64),
    /// A literal (a field of one of several literals, or bytes): `more == "-"`.
    Lit(Vec<u8>),
}

/// A comparison of a [`Cond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// The type of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// `word`: bytes up to a space.
    Word,
    /// `token`: an RFC 9110 token.
    Token,
    /// `rest`: the rest of the line or frame.
    Rest,
    /// A decimal (or `hex`) integer: `u8`..`u64`, `usize`, `i8`..`i64`, `hex`.
    Int {
        /// Signed.
        signed: bool,
        /// Bits (8..64).
        bits: u8,
        /// Hexadecimal digits.
        hex: bool,
    },
    /// A binary integer: `u16be`, `i32le`, `u8`...
    Bin {
        /// Signed.
        signed: bool,
        /// Bytes.
        width: u8,
        /// Big-endian.
        big_endian: bool,
    },
    /// `bytes[LEN]`: as many bytes as the earlier integer field LEN says.
    Bytes(Ident),
    /// `bytes[u16be]`: bytes preceded by their length, a binary integer of this type.
    Prefixed {
        /// Signed length (`i32be`: -1 is a null with `nullable`).
        signed: bool,
        /// Width of the length in bytes.
        width: u8,
        /// Big-endian length.
        big_endian: bool,
    },
    /// `u1` to `u7`: bits of a byte (in binary frames).
    Bits(u8),
    /// `varint`: an unsigned LEB128 integer (MQTT's variable byte integer).
    Varint,
    /// `cstr`: bytes up to a NUL byte, which ends them (C strings, PostgreSQL's strings).
    CStr,
    /// `quoted`: a word that may be quoted, as Redis reads inline commands; only as
    /// `quoted*` or `quoted+`, the words of the rest of the line.
    Quoted,
    /// `"lit"?` as a field: whether the literal is present.
    Flag(Vec<u8>),
    /// `("a" | "b")`: one of these literals.
    OneOf(Vec<Vec<u8>>),
    /// `lines until "MARKER" [unstuff "PREFIX"]`.
    Lines {
        /// The line that ends the run.
        marker: Vec<u8>,
        /// The prefix removed from lines that start with it.
        unstuff: Option<Vec<u8>>,
    },
    /// `TYPE+`, `TYPE*`, `(PARTS)+`, `(PARTS)*`: repeated to the end of the unit.
    Many {
        /// The item.
        item: Vec<Unit>,
        /// At least one item (`+`).
        at_least_one: bool,
    },
    /// `COUNT * (UNITS)`: exactly COUNT items.
    Repeat {
        /// The field holding the count.
        count: Ident,
        /// The item.
        item: Vec<Unit>,
    },
    /// `(UNITS)* until "MARKER"`: items until a line equal to MARKER.
    Until {
        /// The item.
        item: Vec<Unit>,
        /// The line that ends the repetition.
        marker: Vec<u8>,
    },
}

/// `state NAME [initial] { MSG -> TARGET | TARGET ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDecl {
    /// `///` comments.
    pub docs: Vec<String>,
    /// Its name.
    pub name: Ident,
    /// Marked `initial` (the span of the keyword).
    pub initial: Option<Span>,
    /// The transitions.
    pub transitions: Vec<Transition>,
    /// Policies of its own (`on oversize ...` after the braces): for bad input that
    /// arrives in this state and that no message's own policy answers.
    pub policies: Vec<Policy>,
    /// The whole declaration.
    pub span: Span,
}

/// `MSG -> TARGET ( | TARGET )*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The message received.
    pub message: Ident,
    /// The possible next states; `close` is written as a target named `close`.
    pub targets: Vec<Ident>,
    /// Per target, the replies after which it follows (`Transaction on Ok`): the reply
    /// decides the state, and the client learns it. Empty lists when not by reply.
    pub on: Vec<Vec<ReplyCase>>,
    /// `by message`: the message says which target follows, so its sender knows it.
    pub by_message: Option<Span>,
    /// Per target, `starttls` after its replies (the keyword's span): the reply that
    /// leads there starts TLS, and the target is the state once TLS is on.
    pub starttls: Vec<Option<Span>>,
}

//! [`Decoder`]: runs the ops of a [`Program`] over a byte stream, resumably and within
//! the program's limits.

use std::fmt;

mod binary;
mod bodies;
mod units;

use super::error::{DecodeError, DecodeErrorKind, Limit};
use super::{quoted, Framing, LengthHeader, Message, Op, Program, Slot, MAX_PARAMS};
pub(crate) use units::memchr;
use units::{opener, read_uint, Opener};

// ===== Decoded =====

/// What one call of [`Decoder::decode`] found at the front of the buffer.
///
/// | outcome                                  | the caller then                                   |
/// |------------------------------------------|---------------------------------------------------|
/// | [`NeedMore`](Decoded::NeedMore)          | appends input, calls again with the same bytes in front |
/// | [`Message`](Decoded::Message)            | reads the message (its slots index the first `len` bytes), drops `len` bytes, calls again |
/// | [`Skip`](Decoded::Skip)                  | drops `len` bytes, calls again                    |
///
/// ```
/// use asyncore_runtime::wire::Decoded;
///
/// assert_eq!(Decoded::Message { index: 0, len: 6 }.consumed(), 6);
/// assert_eq!(Decoded::Skip { len: 3 }.consumed(), 3);
/// assert_eq!(Decoded::NeedMore.consumed(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "a Message or Skip outcome tells how many bytes to drop from the buffer"]
pub enum Decoded {
    /// No whole message yet; nothing to drop. Call again once more input is appended.
    NeedMore,
    /// A whole message: [`Program::messages`]`[index]`, the first `len` bytes of the
    /// buffer (`len` ≥ 1). Its fields are in [`Decoder::slots`] and [`Decoder::items`]
    /// until the next call.
    Message {
        /// The index of the message in the program.
        index: u16,
        /// How many bytes the message spans.
        len: usize,
    },
    /// The first `len` bytes (`len` ≥ 1) belong to no message: they are the rest of an
    /// input the decoder reported an error for, being skipped to resynchronise.
    Skip {
        /// How many bytes to drop.
        len: usize,
    },
}

impl Decoded {
    /// How many bytes to drop from the front of the buffer: `len` for a message or a
    /// skip, 0 for [`NeedMore`](Decoded::NeedMore).
    ///
    /// ```
    /// use asyncore_runtime::wire::Decoded;
    ///
    /// assert_eq!(Decoded::Message { index: 2, len: 10 }.consumed(), 10);
    /// ```
    pub fn consumed(&self) -> usize {
        match *self {
            Decoded::NeedMore => 0,
            Decoded::Message { len, .. } | Decoded::Skip { len } => len,
        }
    }
}

// ===== Decoder =====

/// Byte classes, for the scans of words, tokens and separators.
const SPACE: u8 = 1;
const TERM: u8 = 2;
const TCHAR: u8 = 4;

/// Spaces and tabs, and RFC 9110 token characters.
static BASE_CLASSES: [u8; 256] = base_classes();

const fn base_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b == b' ' || b == b'\t' {
            table[i] = SPACE;
        }
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            table[i] |= TCHAR;
        }
        i += 1;
    }
    table
}

/// Decodes the messages of a [`Program`] from a byte stream: resumable, linear-time and
/// bounded by the program's limits.
///
/// Keep one per connection. Call [`decode`](Self::decode) with the unconsumed input and
/// the messages allowed in the current state; it returns a [`Decoded`] outcome or a
/// [`DecodeError`]. Fields of a decoded message are [`Slot`]s, read through
/// [`slots`](Self::slots) and [`items`](Self::items).
///
/// # How a message is chosen
///
/// Every message starts with an op that opens a unit: [`Op::Line`], [`Op::Frame`] (a
/// frame with the program's header), [`Op::FrameWith`] (a frame with the message's own
/// header) or [`Op::Fixed`] (so many bytes). The unit waited for is the one the first
/// allowed message that opens a unit starts with. Once it is buffered, the decoder tries
/// the `allowed` messages that open the same kind of unit (a line, a frame with the same
/// header, the same number of bytes) on it, in order: the first whose ops match up to the
/// end of the unit wins and the decoder commits to it (a later mismatch is an
/// [`Invalid`](DecodeErrorKind::Invalid) error of that message, not a reason to try
/// another). If none matches, the program's other messages of that kind are tried, to
/// report [`NotAllowed`](DecodeErrorKind::NotAllowed) rather than
/// [`Unknown`](DecodeErrorKind::Unknown); if none of those matches either, the error is
/// the mismatch that got furthest into the unit, or `Unknown` if every message failed at
/// its first byte. Messages that open another kind of unit are never tried on it: a
/// state that expects PostgreSQL's one-byte answer to an SSLRequest lists that message
/// first, and the next state its framed messages.
///
/// A message whose ops start with another op (a DATA body read in a state of its own, as
/// [`Op::LinesUntil`]) is chosen without looking at the input when its turn comes in
/// `allowed`; list it alone, or last.
///
/// # Resumable and linear
///
/// Decoding stops only between units (waiting for a line's terminator, a frame's body,
/// the bytes of a fixed unit, a counted run of bytes or a literal between units) and resumes there: the op, the byte
/// offset and, for a line, where the terminator search stopped. Each byte is scanned for
/// a terminator once, however the input is split.
///
/// # Bounded
///
/// Every limit of the program is checked as the bytes arrive: a line is over its maximum
/// as soon as that many bytes and one more are buffered with no terminator among them
/// that could end it in time; a frame, a counted run or a repetition count is checked as
/// soon as its length or count is read, before any of it is buffered. The caller's buffer
/// never needs more than [`buffer_limit`](Self::buffer_limit) bytes, and the slot and item
/// vectors are reused, so the steady state allocates nothing.
///
/// # Recovery
///
/// After an error, [`DecodeError::can_continue`] tells whether the stream can be
/// resynchronised. If it can and the caller goes on calling `decode`, the decoder first
/// returns [`Decoded::Skip`] steps that drop the offending input, then decodes normally.
/// What is dropped:
///
/// * an error in the first unit of a message (unknown or not allowed message, invalid
///   field, over-long line, bare LF, oversize frame): that unit — the rest of the line
///   through its terminator (scanned in bounded chunks, never buffered whole), or the
///   frame's announced length;
/// * a counted run of bytes between units over its limit (memcached `set` with too large
///   a value): the announced bytes as they arrive, then the rest of the message;
/// * a literal that ends a message after a counted run but does not match (memcached's
///   `\r\n` after a data block, as memcached does): as many bytes as the literal has;
/// * an error inside an [`Op::LinesUntil`] run (an over-long line, a bare LF, the run over
///   its limit): every line up to and including the marker line, then the rest of the
///   message.
///
/// Other errors cannot be recovered from (`can_continue()` is `false`, and `decode` keeps
/// returning the same error until [`reset`](Self::reset)): a frame length that is
/// negative after adjustment or a varint over 64 bits, any other error after the first
/// unit of a multi-unit message (its remaining units could not be told apart from new
/// messages), and a malformed program.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::wire::{bytes_at, Decoded, Decoder, Framing, Message, Op, Program};
///
/// // `client Echo = "ECHO" text:rest` and `client Quit = "QUIT"`, over CRLF lines.
/// static PROGRAM: Program = Program {
///     name: "echo",
///     framing: Framing::Line { term: b"\r\n", max: 100, bare_lf: false, nocase: true },
///     messages: &[
///         Message { name: "Echo", slots: 1, max: 102,
///                   ops: &[Op::Line, Op::Lit(b"ECHO"), Op::Sep, Op::Rest { slot: 0 }, Op::EndLine] },
///         Message { name: "Quit", slots: 0, max: 102,
///                   ops: &[Op::Line, Op::Lit(b"QUIT"), Op::EndLine] },
///     ],
/// };
///
/// let mut decoder = Decoder::new(&PROGRAM);
/// let mut input: &[u8] = b"echo hi there\r\nquit\r\n";
/// assert_eq!(decoder.decode(&input[..8], &[0, 1])?, Decoded::NeedMore);
/// assert_eq!(decoder.decode(input, &[0, 1])?, Decoded::Message { index: 0, len: 15 });
/// assert_eq!(bytes_at(input, decoder.slots()[0]), b"hi there");
/// input = &input[15..];
/// assert_eq!(decoder.decode(input, &[0, 1])?, Decoded::Message { index: 1, len: 6 });
/// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
/// ```
pub struct Decoder {
    program: &'static Program,
    // The framing, unpacked.
    /// The line terminator; empty for a length-prefixed protocol.
    term: &'static [u8],
    /// The byte the terminator search looks for: the terminator's last byte.
    needle: u8,
    /// The terminator is "\r\n".
    crlf: bool,
    /// ... and a bare "\n" ends a line too.
    lenient: bool,
    nocase: bool,
    line_max: usize,
    /// A rest of line must be checked for terminator bytes (multi-byte terminators, so a
    /// lone CR in strict CRLF; a lenient CRLF line takes a lone CR as data).
    check_rest: bool,
    header: Option<LengthHeader>,
    /// Byte classes: `BASE_CLASSES` plus `TERM` for the terminator's bytes.
    class: [u8; 256],

    // Progress through the current message.
    state: State,
    /// The message being decoded (or tried).
    msg: u16,
    /// The next op.
    pc: usize,
    /// The cursor, from the message's first byte.
    pos: usize,
    /// The current unit.
    unit: Unit,
    /// Trying a message: stop when its first unit ends.
    first: bool,
    /// No line terminator ends before this offset (where the last search stopped).
    scan: usize,
    /// The state of an op that waits for input in the middle of its work.
    resume: Resume,
    /// Recovering from an error in the middle of a message: decode the rest of it without
    /// keeping it, handing back its bytes as `Skip` steps.
    discard: bool,
    /// Open optional parts and repetitions, innermost last.
    stack: Vec<Ctl>,
    /// The slots of the current repetition item.
    item: Option<ItemAt>,
    slots: Vec<Slot>,
    items: Vec<Slot>,
    /// Bytes examined by terminator searches, for the linear-time tests.
    scanned: u64,
    /// The values [`Op::Param`] reads, from [`Decoder::set_params`].
    params: [u64; MAX_PARAMS],
    /// An [`Op::Commit`] ran: a failure of the current message is its own error.
    committed: bool,
}

/// Where the decoder is between calls.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Before the first byte of a message.
    Start,
    /// Waiting for the first unit, before a message is chosen.
    First,
    /// Committed to `msg`, running its ops.
    Run,
    /// Skipping the rest of a line, searching for its terminator from `from`.
    SkipLine { from: usize },
    /// Skipping `left` more bytes.
    SkipBytes { left: u64 },
    /// Stopped by an error that cannot be recovered from.
    Failed(DecodeError),
}

/// The current line, frame or fixed unit.
#[derive(Debug, Clone, Copy, Default)]
struct Unit {
    open: bool,
    /// A frame or a fixed unit (closed by `EndFrame`), not a line.
    frame: bool,
    /// End of the content (before the terminator).
    end: usize,
    /// After the terminator.
    next: usize,
    /// A frame's length field: where it starts and where it ends.
    field: Option<(usize, usize)>,
}

/// The state of an op that stopped in the middle (only between units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    None,
    /// Discarding a counted run: `left` bytes to go.
    Bytes {
        pc: usize,
        left: u64,
    },
    /// Reading lines until a marker line: the run started at `run`; `long` while skipping
    /// the rest of an over-long line.
    Lines {
        pc: usize,
        run: usize,
        long: bool,
    },
}

/// The slots of one repetition item in the item list.
#[derive(Debug, Clone, Copy)]
struct ItemAt {
    base: usize,
    stride: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Opt,
    Repeat,
    Many,
    ManyUntil,
}

/// An open optional part or repetition.
#[derive(Debug, Clone, Copy)]
struct Ctl {
    kind: Kind,
    slot: u16,
    /// The first op of the body, and the op after it.
    body: usize,
    end: usize,
    /// `Opt`: the cursor at its start; repetitions: at the current item's start.
    pos: usize,
    /// `Opt`: the item list's length at its start; repetitions: the first item's index.
    mark: usize,
    /// Items so far.
    count: u32,
    /// `Repeat`: the count; `Many`: the minimum.
    target: u32,
    max: u32,
    stride: u16,
    marker: &'static [u8],
    /// The item whose slots were current outside.
    outer: Option<ItemAt>,
}

/// How far a line may reach: `bytes` from its start, terminator included, as the
/// `what` limit of value `limit` allows.
#[derive(Debug, Clone, Copy)]
struct Room {
    bytes: usize,
    what: Limit,
    limit: u32,
}

impl Room {
    const ANY: Room = Room {
        bytes: usize::MAX,
        what: Limit::Message,
        limit: u32::MAX,
    };
}

/// How a decoding step went wrong.
#[derive(Debug, Clone, Copy)]
struct Fail {
    kind: DecodeErrorKind,
    at: usize,
    /// The op that failed, once known.
    op: Option<u16>,
    /// A mismatch an optional part or a repetition may absorb.
    catchable: bool,
    /// How to go on after reporting it.
    then: Then,
}

#[derive(Debug, Clone, Copy)]
enum Then {
    Close,
    SkipLine(usize),
    SkipBytes(u64),
    Discard(Resume),
}

impl Fail {
    fn miss(kind: DecodeErrorKind, at: usize) -> Self {
        Fail {
            kind,
            at,
            op: None,
            catchable: true,
            then: Then::Close,
        }
    }

    fn hard(kind: DecodeErrorKind, at: usize) -> Self {
        Fail {
            kind,
            at,
            op: None,
            catchable: false,
            then: Then::Close,
        }
    }

    fn bad(what: &'static str, at: usize) -> Self {
        Fail::hard(DecodeErrorKind::Program { what }, at)
    }

    fn invalid(what: &'static str, at: usize) -> Self {
        Fail::miss(DecodeErrorKind::Invalid { what }, at)
    }

    fn oversize(what: Limit, limit: u32, size: Option<u64>, at: usize) -> Self {
        Fail::hard(
            DecodeErrorKind::Oversize {
                what,
                limit: limit as usize,
                size,
            },
            at,
        )
    }

    fn then(self, then: Then) -> Self {
        Fail { then, ..self }
    }

    /// The failure, at op `pc` unless it knows its op already.
    fn at_op(self, pc: usize) -> Self {
        Fail {
            op: self.op.or(u16::try_from(pc).ok()),
            ..self
        }
    }
}

/// What a run of ops stopped at.
enum Flow {
    /// The message's last op.
    Done,
    /// The end of the first unit of a message being tried.
    FirstUnit,
    /// More input is needed.
    Wait,
}

type Step = Result<Option<Flow>, Fail>;

fn opens_unit(m: &Message) -> bool {
    matches!(
        m.ops.first(),
        Some(Op::Line | Op::Frame | Op::FrameWith(_) | Op::Fixed(_))
    )
}

fn is_repetition(c: &Ctl) -> bool {
    c.kind != Kind::Opt
}

/// The slot an op writes, if any.
fn slot_of(op: Op) -> Option<u16> {
    match op {
        Op::Word { slot }
        | Op::Token { slot }
        | Op::Rest { slot }
        | Op::OneOf { slot, .. }
        | Op::Uint { slot, .. }
        | Op::Int { slot, .. }
        | Op::Hex { slot, .. }
        | Op::Bin { slot, .. }
        | Op::Bits { slot, .. }
        | Op::Varint { slot, .. }
        | Op::CStr { slot }
        | Op::If { slot, .. }
        | Op::Param { slot, .. }
        | Op::Bytes { slot, .. }
        | Op::LinesUntil { slot, .. }
        | Op::Opt { slot, .. }
        | Op::Repeat { slot, .. }
        | Op::Many { slot, .. }
        | Op::ManyUntil { slot, .. }
        | Op::Quoted { slot, .. } => Some(slot),
        _ => None,
    }
}

/// The longest header of frames with header `h`, and the longest such frame (at least
/// the bytes the ops skip).
fn frame_limit(h: &LengthHeader) -> (usize, usize) {
    let width = if h.width == 0 {
        10
    } else {
        usize::from(h.width)
    };
    let header = usize::from(h.offset) + width;
    let frame = header
        .saturating_add(h.max as usize)
        .max(usize::from(h.skip));
    (header, frame)
}

/// A byte range as a slot.
fn range(start: usize, end: usize) -> Result<Slot, Fail> {
    match (u32::try_from(start), u32::try_from(end)) {
        (Ok(s), Ok(e)) => Ok(Slot::Range(s, e)),
        _ => Err(Fail::oversize(
            Limit::Message,
            u32::MAX,
            Some(end as u64),
            start,
        )),
    }
}

/// The digits at the front of `hay` in `radix` (10 or 16): how many, and their value
/// (`None` past `u64::MAX`).
fn digits(hay: &[u8], radix: u64) -> (usize, Option<u64>) {
    let mut value = Some(0u64);
    let mut n = 0;
    for &b in hay {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' if radix == 16 => b - b'a' + 10,
            b'A'..=b'F' if radix == 16 => b - b'A' + 10,
            _ => break,
        };
        value = value
            .and_then(|v| v.checked_mul(radix))
            .and_then(|v| v.checked_add(u64::from(d)));
        n += 1;
    }
    (n, value)
}

impl Decoder {
    /// A decoder for `program`, at the start of a stream. Nothing is allocated until the
    /// first message.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    ///
    /// static PROGRAM: Program = Program {
    ///     name: "ping",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// };
    /// let decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.program().name, "ping");
    /// ```
    pub fn new(program: &'static Program) -> Self {
        let mut class = BASE_CLASSES;
        let (term, nocase, line_max, bare_lf, header) = match program.framing {
            Framing::Line {
                term,
                max,
                bare_lf,
                nocase,
            } => (term, nocase, max as usize, bare_lf, None),
            Framing::Length(h) => (&b""[..], false, 0, false, Some(h)),
        };
        for &b in term {
            class[usize::from(b)] |= TERM;
        }
        let crlf = term == b"\r\n";
        Decoder {
            program,
            term,
            needle: term.last().copied().unwrap_or(0),
            crlf,
            lenient: crlf && bare_lf,
            nocase,
            line_max,
            check_rest: term.len() > 1 && !(crlf && bare_lf),
            header,
            class,
            state: State::Start,
            msg: 0,
            pc: 0,
            pos: 0,
            unit: Unit::default(),
            first: false,
            scan: 0,
            resume: Resume::None,
            discard: false,
            stack: Vec::new(),
            item: None,
            slots: Vec::new(),
            items: Vec::new(),
            scanned: 0,
            params: [0; MAX_PARAMS],
            committed: false,
        }
    }

    /// Sets the values the [`Op::Param`] ops of the next messages read (the first
    /// `params.len()`, at most [`MAX_PARAMS`]; the others keep their values). Generated
    /// channels call it when a handler moves to a state whose message takes parameters
    /// (an HTTP body whose length the request's headers gave).
    ///
    /// ```
    /// use asyncore_runtime::wire::{bytes_at, Decoded, Decoder, Framing, Message, Op, Program};
    ///
    /// // `client Body(length) = data:bytes[length] max 64`
    /// static PROGRAM: Program = Program {
    ///     name: "body",
    ///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Body", slots: 2, max: 64, ops: &[
    ///         Op::Param { slot: 0, param: 0 },
    ///         Op::Bytes { slot: 1, len: 0, len_in_message: true, max: 64 },
    ///     ] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// decoder.set_params(&[5]);
    /// let input = b"hello, and the next request";
    /// assert_eq!(decoder.decode(input, &[0])?, Decoded::Message { index: 0, len: 5 });
    /// assert_eq!(bytes_at(input, decoder.slots()[1]), b"hello");
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn set_params(&mut self, params: &[u64]) {
        for (to, from) in self.params.iter_mut().zip(params) {
            *to = *from;
        }
    }

    /// The program this decoder runs.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Program};
    /// static EMPTY: Program = Program {
    ///     name: "empty",
    ///     framing: Framing::Line { term: b"\n", max: 8, bare_lf: false, nocase: false },
    ///     messages: &[],
    /// };
    /// assert!(Decoder::new(&EMPTY).program().messages.is_empty());
    /// ```
    pub fn program(&self) -> &'static Program {
        self.program
    }

    /// The slots of the message [`decode`](Self::decode) just returned, as many as its
    /// [`Message::slots`]. Ranges are offsets into the buffer passed to `decode`.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Decoded, Decoder, Framing, Message, Op, Program, Slot};
    ///
    /// static PROGRAM: Program = Program {
    ///     name: "kv",
    ///     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Set", slots: 2, max: 65,
    ///         ops: &[Op::Line, Op::Word { slot: 0 }, Op::Sep, Op::Uint { slot: 1, max: 999 }, Op::EndLine] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.decode(b"x 42\n", &[0])?, Decoded::Message { index: 0, len: 5 });
    /// assert_eq!(decoder.slots(), [Slot::Range(0, 1), Slot::Int(42)]);
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The repetition items of the message [`decode`](Self::decode) just returned; a
    /// [`Slot::Seq`] in [`slots`](Self::slots) points into them (read them with
    /// [`seq_at`](super::seq_at)).
    ///
    /// ```
    /// use asyncore_runtime::wire::{seq_at, Decoded, Decoder, Framing, Message, Op, Program, Seq};
    ///
    /// // `get keys:word+`
    /// static PROGRAM: Program = Program {
    ///     name: "get",
    ///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Get", slots: 1, max: 66, ops: &[
    ///         Op::Line, Op::Lit(b"get"),
    ///         Op::Many { slot: 0, len: 2, stride: 1, min: 1, max: 8 }, Op::Sep, Op::Word { slot: 0 },
    ///         Op::EndLine,
    ///     ] }],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// let buf = b"get a bc\r\n";
    /// assert_eq!(decoder.decode(buf, &[0])?, Decoded::Message { index: 0, len: 10 });
    /// let keys: Seq<'_, &[u8]> = seq_at(buf, decoder.items(), decoder.slots()[0]);
    /// assert_eq!(keys, [&b"a"[..], b"bc"]);
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn items(&self) -> &[Slot] {
        &self.items
    }

    /// Forgets any partial message, any recovery in progress and any error: the next call
    /// of [`decode`](Self::decode) starts a new message at the first byte of its buffer.
    /// For a new stream, or a buffer the caller has emptied itself.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoded, Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.decode(b"PI", &[0])?, Decoded::NeedMore);
    /// decoder.reset();
    /// assert_eq!(decoder.decode(b"PING\n", &[0])?, Decoded::Message { index: 0, len: 5 });
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.discard = false;
        self.resume = Resume::None;
        self.stack.clear();
        self.item = None;
        self.unit = Unit::default();
        self.pos = 0;
        self.scan = 0;
    }

    /// Whether the decoder is between messages: no partial message, no input being
    /// skipped. The fast path of generated decoders only runs then.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "p",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert!(decoder.is_idle());
    /// assert_eq!(decoder.decode(b"PI", &[0])?, asyncore_runtime::wire::Decoded::NeedMore);
    /// assert!(!decoder.is_idle());
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    #[inline]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Start)
    }

    /// Whether nothing of the next message has been taken in: the decoder is between
    /// messages, or has begun one (waiting for its first byte, as after the last message
    /// of a read) without a byte of it. Such a decoder can be dropped and made again
    /// (with the same parameters) without changing what it decodes next: generated
    /// channels give theirs back between messages.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoded, Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "p",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 65, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert_eq!(decoder.decode(b"", &[0])?, Decoded::NeedMore);
    /// assert!(decoder.holds_nothing() && !decoder.is_idle());
    /// assert_eq!(decoder.decode(b"PI", &[0])?, Decoded::NeedMore);
    /// assert!(!decoder.holds_nothing());
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn holds_nothing(&self) -> bool {
        match self.state {
            State::Start => true,
            State::First | State::Run => {
                self.pos == 0 && self.scan == 0 && !self.discard && self.unit.next == 0
            }
            _ => false,
        }
    }

    /// For the fast path: makes message `index` the current one, with its `N` slots (the
    /// message's [`Message::slots`]) and no items, and returns the slots and the item
    /// vector to fill; `None` if the message is not in the program or has another number of
    /// slots. The slots hold whatever the last message left there: the fast path must write
    /// every one of them (generated fast paths do, emptying those a matching path may
    /// skip). The decoder stays between messages, so a fast path that gives up leaves
    /// nothing behind.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program, Slot};
    /// # static PROGRAM: Program = Program {
    /// #     name: "p",
    /// #     framing: Framing::Line { term: b"\n", max: 64, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Say", slots: 1, max: 65, ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// let (slots, items) = decoder.fast_begin::<1>(0).unwrap();
    /// slots[0] = Slot::Range(0, 2);
    /// assert!(items.is_empty());
    /// assert_eq!(decoder.slots(), [Slot::Range(0, 2)]);
    /// assert!(decoder.fast_begin::<2>(0).is_none());
    /// ```
    #[inline]
    pub fn fast_begin<const N: usize>(
        &mut self,
        index: u16,
    ) -> Option<(&mut [Slot; N], &mut Vec<Slot>)> {
        // Resizing only when the message changes: emptying the slots of every message
        // costs the fast path a tenth of its time, and it writes them all anyway.
        if (self.slots.len() != N || self.msg != index) && !self.fast_resize(index, N) {
            return None;
        }
        self.msg = index;
        self.items.clear();
        let slots = <&mut [Slot; N]>::try_from(&mut self.slots[..]).ok()?;
        Some((slots, &mut self.items))
    }

    /// [`fast_begin`](Self::fast_begin) for another message than the last: `n` empty
    /// slots, if message `index` has that many. Out of line, so that the code of each
    /// message's fast decoder holds one call rather than a copy of the resizing.
    #[inline(never)]
    fn fast_resize(&mut self, index: u16, n: usize) -> bool {
        match self.program.messages.get(usize::from(index)) {
            Some(m) if usize::from(m.slots) == n => {
                self.slots.clear();
                self.slots.resize(n, Slot::Empty);
                true
            }
            _ => false,
        }
    }

    /// The most bytes the caller's buffer must be able to hold for this decoder to decide
    /// on every message: the largest [`Message::max`] (plus the frame header in a
    /// length-prefixed protocol), and at least one whole first unit. Size a
    /// [`FrameBuf`](crate::codec::FrameBuf) with it.
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// static PROGRAM: Program = Program {
    ///     name: "ping",
    ///     framing: Framing::Line { term: b"\r\n", max: 64, bare_lf: false, nocase: false },
    ///     messages: &[Message { name: "Ping", slots: 0, max: 66, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// };
    /// assert_eq!(Decoder::new(&PROGRAM).buffer_limit(), 66);
    /// ```
    pub fn buffer_limit(&self) -> usize {
        let messages = self.program.messages;
        let largest = messages.iter().map(|m| m.max as usize).max().unwrap_or(0);
        // First units of other framings are waited for whole before a message is chosen.
        let others = messages
            .iter()
            .map(|m| match m.ops.first() {
                Some(Op::FrameWith(h)) => frame_limit(h).1,
                Some(&Op::Fixed(n)) => n as usize,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let own = match self.program.framing {
            Framing::Line { term, max, .. } => {
                largest.max((max as usize).saturating_add(term.len()))
            }
            Framing::Length(h) => {
                let (header, frame) = frame_limit(&h);
                largest.saturating_add(header).max(frame)
            }
        };
        own.max(others)
    }

    /// Whether the decoder is dropping input after an error (the next calls return
    /// [`Decoded::Skip`] steps before any message).
    ///
    /// ```
    /// # use asyncore_runtime::wire::{Decoder, Framing, Message, Op, Program};
    /// # static PROGRAM: Program = Program {
    /// #     name: "ping",
    /// #     framing: Framing::Line { term: b"\n", max: 4, bare_lf: false, nocase: false },
    /// #     messages: &[Message { name: "Ping", slots: 0, max: 5, ops: &[Op::Line, Op::Lit(b"PING"), Op::EndLine] }],
    /// # };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// assert!(decoder.decode(b"PINGPONG", &[0]).is_err()); // a line over 4 bytes
    /// assert!(decoder.is_recovering());
    /// ```
    pub fn is_recovering(&self) -> bool {
        self.discard || matches!(self.state, State::SkipLine { .. } | State::SkipBytes { .. })
    }

    /// Bytes examined by terminator searches since the decoder was made (a test hook for
    /// the linear-time guarantee).
    #[doc(hidden)]
    pub fn scanned_bytes(&self) -> u64 {
        self.scanned
    }

    /// Decodes the message at the front of `buf`.
    ///
    /// `buf` holds the buffered input starting at the first byte of the current message.
    /// The caller appends input and calls again with the same prefix until a message or
    /// an error is returned; after [`Decoded::Message`] or [`Decoded::Skip`] it drops
    /// `len` bytes from the front of its buffer and calls again. `allowed` lists the
    /// indices (into [`Program::messages`]) of the messages allowed in the current state,
    /// in the order to try them. See [`Decoder`] for how a message is chosen, what the
    /// limits are and how errors are recovered from.
    ///
    /// Never panics, loops or overflows, whatever the bytes (or the program).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Decoded, Decoder, DecodeErrorKind, Framing, Message, Op, Program};
    ///
    /// static PROGRAM: Program = Program {
    ///     name: "smtp",
    ///     framing: Framing::Line { term: b"\r\n", max: 998, bare_lf: false, nocase: true },
    ///     messages: &[
    ///         Message { name: "Helo", slots: 1, max: 1000, ops: &[Op::Line, Op::Lit(b"HELO"), Op::Sep, Op::Rest { slot: 0 }, Op::EndLine] },
    ///         Message { name: "Quit", slots: 0, max: 1000, ops: &[Op::Line, Op::Lit(b"QUIT"), Op::EndLine] },
    ///     ],
    /// };
    /// let mut decoder = Decoder::new(&PROGRAM);
    /// // Only QUIT is allowed here: HELO is recognised, but refused.
    /// let err = decoder.decode(b"HELO x\r\nQUIT\r\n", &[1]).unwrap_err();
    /// assert_eq!(*err.kind(), DecodeErrorKind::NotAllowed { message: "Helo" });
    /// assert!(err.can_continue());
    /// // Going on drops the refused line, then decodes the next one.
    /// assert_eq!(decoder.decode(b"HELO x\r\nQUIT\r\n", &[1])?, Decoded::Skip { len: 8 });
    /// assert_eq!(decoder.decode(b"QUIT\r\n", &[1])?, Decoded::Message { index: 1, len: 6 });
    /// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
    /// ```
    pub fn decode(&mut self, buf: &[u8], allowed: &[u16]) -> Result<Decoded, DecodeError> {
        loop {
            let outcome = match self.state {
                State::Failed(e) => return Err(e),
                State::SkipBytes { left } => Some(self.skip_bytes(buf, left)),
                State::SkipLine { from } => Some(self.skip_line(buf, from)),
                State::Start => {
                    self.start(allowed);
                    None
                }
                State::First => self.first(buf, allowed)?,
                State::Run => self.run(buf)?,
            };
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
        }
    }

    // ----- phases -----

    /// A new message: forget the last one and choose how to begin.
    fn start(&mut self, allowed: &[u16]) {
        self.pos = 0;
        self.scan = 0;
        self.unit = Unit::default();
        self.first = false;
        self.discard = false;
        self.resume = Resume::None;
        self.stack.clear();
        self.item = None;
        let messages = self.program.messages;
        match allowed.first() {
            Some(&idx)
                if messages
                    .get(usize::from(idx))
                    .is_some_and(|m| !opens_unit(m)) =>
            {
                self.begin(idx, 0);
                self.state = State::Run;
            }
            _ => self.state = State::First,
        }
    }

    /// Sets up the slots and the cursor to run message `idx` from op `pc`.
    fn begin(&mut self, idx: u16, pc: usize) {
        let slots = self
            .program
            .messages
            .get(usize::from(idx))
            .map_or(0, |m| usize::from(m.slots));
        self.msg = idx;
        self.pc = pc;
        self.committed = false;
        self.slots.clear();
        self.slots.resize(slots, Slot::Empty);
        self.items.clear();
        self.stack.clear();
        self.item = None;
        self.resume = Resume::None;
    }

    /// Waits for the first unit, then chooses the message.
    fn first(&mut self, buf: &[u8], allowed: &[u16]) -> Result<Option<Decoded>, DecodeError> {
        let kind = self.first_opener(allowed);
        match self.find_first(buf, kind) {
            Ok(None) => Ok(Some(Decoded::NeedMore)),
            Ok(Some((start, unit))) => self.choose(buf, allowed, kind, start, unit),
            Err(fail) => {
                // A first line over its limit is the error of the message whose leading
                // literal it starts with (`*` then 64 KiB: a RESP command), if any.
                let message = match (fail.kind, kind) {
                    (DecodeErrorKind::Oversize { .. }, Opener::Line) => self.lead_of(buf, allowed),
                    _ => None,
                };
                Err(self.raise(buf, fail.at_op(0), message))
            }
        }
    }

    /// The first allowed line message whose leading literal `buf` starts with.
    fn lead_of(&self, buf: &[u8], allowed: &[u16]) -> Option<&'static str> {
        let messages = self.program.messages;
        allowed
            .iter()
            .filter_map(|&idx| messages.get(usize::from(idx)))
            .find(|m| {
                let lit = match (m.ops.first(), m.ops.get(1), m.ops.get(2)) {
                    (Some(Op::Line), Some(&Op::Lit(lit)), _) => lit,
                    (Some(Op::Line), Some(Op::Trim), Some(&Op::Lit(lit))) => lit,
                    _ => return false,
                };
                let hay = if matches!(m.ops.get(1), Some(Op::Trim)) {
                    &buf[self.count(buf, SPACE)..]
                } else {
                    buf
                };
                !lit.is_empty() && self.starts(hay, lit)
            })
            .map(|m| m.name)
    }

    /// The unit to wait for: the one the first allowed message that opens a unit starts
    /// with, else the program's.
    fn first_opener(&self, allowed: &[u16]) -> Opener {
        let messages = self.program.messages;
        allowed
            .iter()
            .filter_map(|&idx| messages.get(usize::from(idx)))
            .find_map(|m| opener(m, self.header))
            .unwrap_or(match self.header {
                Some(h) => Opener::Frame(Some(h)),
                None => Opener::Line,
            })
    }

    /// Tries the allowed messages that open a unit of this kind on the first unit, then
    /// the others.
    fn choose(
        &mut self,
        buf: &[u8],
        allowed: &[u16],
        kind: Opener,
        start: usize,
        unit: Unit,
    ) -> Result<Option<Decoded>, DecodeError> {
        let messages = self.program.messages;
        let skip_unit = Then::SkipBytes(unit.next as u64);
        let mut best: Option<(Fail, &'static str)> = None;
        for &idx in allowed {
            let Some(m) = messages.get(usize::from(idx)) else {
                let fail = Fail::bad("an allowed message index is out of range", 0);
                return Err(self.raise(buf, fail, None));
            };
            if !opens_unit(m) {
                // Chosen without looking: it reads the input from its first byte.
                self.pos = 0;
                self.scan = 0;
                self.unit = Unit::default();
                self.first = false;
                self.begin(idx, 0);
                self.state = State::Run;
                return self.run(buf);
            }
            if opener(m, self.header) != Some(kind) {
                continue; // another kind of unit
            }
            if self.misses_at_once(buf, m, start, unit) {
                continue;
            }
            match self.trial(buf, idx, start, unit) {
                Ok(()) => {
                    if unit.next > m.max as usize {
                        let size = Some(unit.next as u64);
                        let fail = Fail::oversize(Limit::Message, m.max, size, 0).then(skip_unit);
                        return Err(self.raise(buf, fail, Some(m.name)));
                    }
                    self.state = State::Run;
                    return self.run(buf);
                }
                Err(fail) if fail.catchable => {
                    if best.is_none_or(|(b, _)| fail.at > b.at) {
                        best = Some((fail, m.name));
                    }
                }
                Err(fail) => return Err(self.raise(buf, fail.then(skip_unit), Some(m.name))),
            }
        }
        // Is it a message of another state?
        for (i, m) in messages.iter().enumerate() {
            let Ok(idx) = u16::try_from(i) else { break };
            if opener(m, self.header) != Some(kind)
                || self.misses_at_once(buf, m, start, unit)
                || allowed.contains(&idx)
            {
                continue;
            }
            match self.trial(buf, idx, start, unit) {
                Err(fail) if fail.catchable => continue,
                Err(Fail {
                    kind: DecodeErrorKind::Program { .. },
                    ..
                }) => continue,
                _ => {
                    let kind = DecodeErrorKind::NotAllowed { message: m.name };
                    let fail = Fail::hard(kind, 0).then(skip_unit);
                    return Err(self.raise(buf, fail, None));
                }
            }
        }
        let (fail, message) = match best {
            Some((fail, name)) if fail.at > start => (fail, Some(name)),
            _ => (Fail::hard(DecodeErrorKind::Unknown, 0), None),
        };
        Err(self.raise(buf, fail.then(skip_unit), message))
    }

    /// Whether trying message `m` on the first unit would fail on its first op: a literal
    /// the unit does not start with. That miss is at the unit's start, where no failure
    /// is reported (nothing of the message was recognised), so [`choose`](Self::choose)
    /// passes over such a message without running it: most units are tried against
    /// many messages, and most of them differ in their first bytes.
    fn misses_at_once(&self, buf: &[u8], m: &Message, start: usize, unit: Unit) -> bool {
        // After `Trim`, the literal comes after the line's leading spaces.
        let (lit, padded) = match m.ops.get(1) {
            Some(&Op::Lit(lit)) => (lit, false),
            Some(Op::Trim) => match m.ops.get(2) {
                Some(&Op::Lit(lit)) => (lit, true),
                _ => return false,
            },
            _ => return false,
        };
        match buf.get(start..unit.end) {
            Some(hay) if unit.open && padded => !self.starts(&hay[self.count(hay, SPACE)..], lit),
            Some(hay) if unit.open => !self.starts(hay, lit),
            _ => false,
        }
    }

    /// Runs message `idx` on the first unit, up to the unit's end.
    fn trial(&mut self, buf: &[u8], idx: u16, start: usize, unit: Unit) -> Result<(), Fail> {
        self.begin(idx, 1);
        self.pos = start;
        self.unit = unit;
        self.first = true;
        match self.exec(buf) {
            Ok(Flow::FirstUnit) => Ok(()),
            Ok(_) => Err(Fail::bad(
                "a message's first unit does not end before the message does",
                self.pos,
            )),
            Err(fail) => Err(fail),
        }
    }

    /// Runs the committed message on.
    fn run(&mut self, buf: &[u8]) -> Result<Option<Decoded>, DecodeError> {
        let name = self
            .program
            .messages
            .get(usize::from(self.msg))
            .map(|m| m.name);
        match self.exec(buf) {
            Ok(Flow::Done) => {
                let len = self.pos;
                self.state = State::Start;
                if self.discard {
                    self.discard = false;
                    return Ok((len > 0).then_some(Decoded::Skip { len }));
                }
                if len == 0 {
                    return Err(self.raise(buf, Fail::bad("a message of no bytes", 0), name));
                }
                Ok(Some(Decoded::Message {
                    index: self.msg,
                    len,
                }))
            }
            Ok(Flow::Wait) => {
                if self.discard && self.pos > 0 {
                    let len = self.pos;
                    self.rebase(len);
                    return Ok(Some(Decoded::Skip { len }));
                }
                Ok(Some(Decoded::NeedMore))
            }
            Ok(Flow::FirstUnit) => {
                Err(self.raise(buf, Fail::bad("a unit ended twice", self.pos), name))
            }
            Err(fail) => Err(self.raise(buf, fail, name)),
        }
    }

    /// Moves everything `n` bytes back, after the caller dropped `n` discarded bytes.
    fn rebase(&mut self, n: usize) {
        self.pos -= n;
        self.scan = self.scan.saturating_sub(n);
        if let Resume::Lines { pc, run, long } = self.resume {
            self.resume = Resume::Lines {
                pc,
                run: run.saturating_sub(n),
                long,
            };
        }
    }

    fn skip_bytes(&mut self, buf: &[u8], left: u64) -> Decoded {
        if left == 0 {
            self.state = State::Start;
            return Decoded::NeedMore;
        }
        if buf.is_empty() {
            return Decoded::NeedMore;
        }
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let left = left - n as u64;
        self.state = if left == 0 {
            State::Start
        } else {
            State::SkipBytes { left }
        };
        Decoded::Skip { len: n }
    }

    fn skip_line(&mut self, buf: &[u8], from: usize) -> Decoded {
        if let Some(next) = self.find_term(buf, from.min(buf.len())) {
            self.state = State::Start;
            return Decoded::Skip { len: next };
        }
        // Keep the bytes that may begin a terminator.
        let keep = self.term.len().saturating_sub(1);
        let n = buf.len().saturating_sub(keep);
        if n == 0 {
            self.state = State::SkipLine { from: buf.len() };
            return Decoded::NeedMore;
        }
        self.state = State::SkipLine {
            from: buf.len() - n,
        };
        Decoded::Skip { len: n }
    }

    /// Turns a failure into the error returned, and sets up what follows it.
    fn raise(&mut self, buf: &[u8], fail: Fail, message: Option<&'static str>) -> DecodeError {
        let then = match (fail.kind, self.state, fail.then) {
            (DecodeErrorKind::Program { .. }, _, _) => Then::Close,
            _ if self.discard => Then::Close,
            (_, State::Run, Then::Discard(resume)) => Then::Discard(resume),
            (_, State::Run, _) => Then::Close,
            (_, _, Then::Discard(_)) => Then::Close,
            (_, _, then) => then,
        };
        let error = DecodeError {
            kind: fail.kind,
            protocol: self.program.name,
            message,
            offset: fail.at,
            can_continue: !matches!(then, Then::Close),
            op: fail.op.filter(|_| message.is_some()),
            found: buf.get(fail.at).copied(),
        };
        self.state = match then {
            Then::Close => State::Failed(error),
            Then::SkipLine(from) => State::SkipLine { from },
            Then::SkipBytes(n) => State::SkipBytes { left: n.max(1) },
            Then::Discard(resume) => {
                self.discard = true;
                self.resume = resume;
                State::Run
            }
        };
        error
    }

    // ----- the op interpreter -----

    /// Runs ops from `pc` until the message ends, the first unit ends (when trying), more
    /// input is needed, or a failure no optional part absorbs.
    fn exec(&mut self, buf: &[u8]) -> Result<Flow, Fail> {
        if self.pos > buf.len() {
            // The caller broke the contract (a shorter buffer); wait for the bytes.
            return Ok(Flow::Wait);
        }
        let Some(m) = self.program.messages.get(usize::from(self.msg)) else {
            return Err(Fail::bad("a message index is out of range", self.pos));
        };
        let ops = m.ops;
        loop {
            let step = match self.stack.last() {
                Some(top) if self.pc >= top.end => self.close_body(),
                _ => match ops.get(self.pc) {
                    Some(&op) => self.step(buf, op, m),
                    None if self.unit.open || !self.stack.is_empty() => Err(Fail::bad(
                        "a message ends inside a unit or a repetition",
                        self.pos,
                    )),
                    None => return Ok(Flow::Done),
                },
            };
            match step {
                Ok(None) => {}
                Ok(Some(flow)) => return Ok(flow),
                Err(fail) => {
                    let fail = fail.at_op(self.pc);
                    if !fail.catchable {
                        return Err(fail);
                    }
                    if let Err(fail) = self.catch(fail, ops) {
                        // Past an `Op::Commit`, a mismatch no optional part absorbs is
                        // this message's error: no other message is tried.
                        return Err(Fail {
                            catchable: !self.committed,
                            ..fail
                        });
                    }
                }
            }
        }
    }

    /// Runs one op.
    fn step(&mut self, buf: &[u8], op: Op, m: &'static Message) -> Step {
        let at = self.pos;
        match op {
            Op::Line => {
                if self.unit.open {
                    return Err(Fail::bad("a line starts inside a unit", at));
                }
                let room = self.line_room(m);
                match self.find_line(buf, at, room, false)? {
                    Some((end, next)) => {
                        self.unit = Unit {
                            open: true,
                            frame: false,
                            end,
                            next,
                            field: None,
                        };
                    }
                    None => return Ok(Some(Flow::Wait)),
                }
            }
            Op::Frame | Op::FrameWith(_) => {
                if self.unit.open {
                    return Err(Fail::bad("a frame starts inside a unit", at));
                }
                let header = match op {
                    Op::FrameWith(h) => Some(*h),
                    _ => self.header,
                };
                let room = self.room(m);
                match self.find_frame(buf, at, room, header)? {
                    Some((start, unit)) => {
                        self.unit = unit;
                        self.pos = start;
                    }
                    None => return Ok(Some(Flow::Wait)),
                }
            }
            Op::Fixed(n) => return self.fixed(buf, n, m),
            Op::Commit => self.committed = true,
            Op::Quoted {
                slot,
                sep,
                min,
                max,
            } => self.quoted(buf, slot, sep, min, max, m)?,
            Op::LengthField => self.length_field()?,
            Op::EndLine | Op::EndFrame => {
                let frame = op == Op::EndFrame;
                if !self.unit.open || self.unit.frame != frame {
                    return Err(Fail::bad("a unit ends that is not open", at));
                }
                if self
                    .stack
                    .iter()
                    .any(|c| matches!(c.kind, Kind::Opt | Kind::Many))
                {
                    return Err(Fail::bad(
                        "a unit ends inside an optional part or a repetition within it",
                        at,
                    ));
                }
                if at != self.unit.end {
                    if let Some(fail) = self.keyword_runs_on(buf, m, at) {
                        return Err(fail);
                    }
                    let what = if frame {
                        "the end of the frame"
                    } else {
                        "the end of the line"
                    };
                    return Err(Fail::invalid(what, at));
                }
                self.pos = self.unit.next;
                self.unit.open = false;
                self.pc += 1;
                if self.first {
                    self.first = false;
                    return Ok(Some(Flow::FirstUnit));
                }
                return Ok(None);
            }
            Op::Lit(lit) => {
                if !self.unit.open {
                    return self.lit_between(buf, lit, m);
                }
                if !self.starts(self.content(buf)?, lit) {
                    return Err(Fail::miss(DecodeErrorKind::Literal { expected: lit }, at));
                }
                self.pos += lit.len();
            }
            Op::Sep | Op::Ows => {
                let n = self.count(self.content(buf)?, SPACE);
                if n == 0 && op == Op::Sep {
                    if let Some(fail) = self.keyword_runs_on(buf, m, at) {
                        return Err(fail);
                    }
                    return Err(Fail::invalid("a space or a tab", at));
                }
                self.pos += n;
            }
            Op::Trim => {
                if !self.unit.open || self.unit.frame {
                    return Err(Fail::bad("padding trimmed outside a line", at));
                }
                let hay = self.content(buf)?;
                let lead = self.count(hay, SPACE);
                let trail = hay[lead..]
                    .iter()
                    .rev()
                    .take_while(|&&b| self.class[usize::from(b)] & SPACE != 0)
                    .count();
                self.pos += lead;
                self.unit.end -= trail;
            }
            Op::Word { slot } => {
                let hay = self.content(buf)?;
                let n = hay
                    .iter()
                    .position(|&b| self.class[usize::from(b)] & (SPACE | TERM) != 0)
                    .unwrap_or(hay.len());
                if n == 0 {
                    return Err(Fail::invalid("a word", at));
                }
                self.put(slot, range(at, at + n)?)?;
                self.pos += n;
            }
            Op::Token { slot } => {
                let n = self.count(self.content(buf)?, TCHAR);
                if n == 0 {
                    return Err(Fail::invalid("a token", at));
                }
                self.put(slot, range(at, at + n)?)?;
                self.pos += n;
            }
            Op::Rest { slot } => {
                let hay = self.content(buf)?;
                if self.check_rest
                    && !self.unit.frame
                    && hay.iter().any(|&b| self.class[usize::from(b)] & TERM != 0)
                {
                    return Err(Fail::invalid(
                        "the rest of the line without a byte of the terminator",
                        at,
                    ));
                }
                self.put(slot, range(at, at + hay.len())?)?;
                self.pos += hay.len();
            }
            Op::OneOf { slot, lits } => {
                let hay = self.content(buf)?;
                let Some(lit) = lits.iter().find(|lit| self.starts(hay, lit)) else {
                    return Err(Fail::invalid("one of the listed literals", at));
                };
                self.put(slot, range(at, at + lit.len())?)?;
                self.pos += lit.len();
            }
            Op::Uint { slot, max } => {
                let (n, value) = digits(self.content(buf)?, 10);
                self.number(slot, n, value, max, "an unsigned integer")?;
            }
            Op::Hex { slot, max } => {
                let (n, value) = digits(self.content(buf)?, 16);
                self.number(slot, n, value, max, "a hexadecimal integer")?;
            }
            Op::Int { slot, min, max } => {
                let hay = self.content(buf)?;
                let negative = hay.first() == Some(&b'-');
                let sign = usize::from(negative);
                let (n, magnitude) = digits(&hay[sign..], 10);
                if n == 0 {
                    return Err(Fail::invalid("an integer", at));
                }
                let value = magnitude
                    .map(|v| {
                        if negative {
                            -i128::from(v)
                        } else {
                            i128::from(v)
                        }
                    })
                    .filter(|&v| v >= i128::from(min) && v <= i128::from(max));
                let Some(value) = value else {
                    return Err(Fail::miss(
                        DecodeErrorKind::OutOfRange {
                            min: min.into(),
                            max: max.into(),
                        },
                        at,
                    ));
                };
                self.put(slot, Slot::Int(value as i64 as u64))?;
                self.pos += sign + n;
            }
            Op::Bin {
                slot,
                width,
                big_endian,
                signed,
            } => {
                if !matches!(width, 1 | 2 | 4 | 8) {
                    return Err(Fail::bad(
                        "a binary integer width other than 1, 2, 4 or 8",
                        at,
                    ));
                }
                let w = usize::from(width);
                let Some(bytes) = self.content(buf)?.get(..w) else {
                    return Err(Fail::invalid("a binary integer", at));
                };
                let mut value = read_uint(bytes, big_endian);
                if signed && w < 8 {
                    let shift = 64 - 8 * w as u32;
                    value = ((value << shift) as i64 >> shift) as u64;
                }
                self.put(slot, Slot::Int(value))?;
                self.pos += w;
            }
            Op::Bits { slot, shift, bits } => self.bits(buf, Some(slot), shift, bits, 0)?,
            Op::BitsLit { shift, bits, value } => self.bits(buf, None, shift, bits, value)?,
            Op::Varint { slot, max } => self.varint(buf, slot, max)?,
            Op::CStr { slot } => self.cstr(buf, slot)?,
            Op::If { .. } => return self.cond(op, m),
            Op::Param { slot, param } => {
                let Some(&value) = self.params.get(usize::from(param)) else {
                    return Err(Fail::bad("a parameter number out of range", at));
                };
                self.put(slot, Slot::Int(value))?;
            }
            Op::Bytes {
                slot,
                len,
                len_in_message,
                max,
            } => {
                let n = self.length(len, len_in_message, at)?;
                if !self.unit.open {
                    return self.bytes_between(buf, slot, n, max, m);
                }
                if n > u64::from(max) {
                    return Err(Fail::oversize(Limit::Bytes, max, Some(n), at));
                }
                let room = self.unit.end.saturating_sub(at);
                if n > room as u64 {
                    return Err(Fail::invalid("a counted run of bytes within the unit", at));
                }
                let n = n as usize;
                self.put(slot, range(at, at + n)?)?;
                self.pos += n;
            }
            Op::LinesUntil { slot, marker, max } => {
                if self.unit.open {
                    return Err(Fail::bad("lines until a marker start inside a unit", at));
                }
                return self.lines_until(buf, slot, marker, max, m);
            }
            Op::Opt { slot, len } => {
                if !self.unit.open {
                    return Err(Fail::bad("an optional part outside a unit", at));
                }
                let end = self.body_end(len, m)?;
                self.stack.push(Ctl {
                    kind: Kind::Opt,
                    slot,
                    body: self.pc + 1,
                    end,
                    pos: at,
                    mark: self.items.len(),
                    count: 0,
                    target: 0,
                    max: 0,
                    stride: 0,
                    marker: b"",
                    outer: self.item,
                });
            }
            Op::Repeat {
                slot,
                count,
                len,
                stride,
                max,
                signed,
            } => {
                if self.stack.iter().any(is_repetition) {
                    return Err(Fail::bad("a repetition inside a repetition", at));
                }
                let end = self.body_end(len, m)?;
                let n = match self.slots.get(usize::from(count)) {
                    // A negative count (`*-1`) is no items.
                    Some(&Slot::Int(n)) if signed && (n as i64) < 0 => 0,
                    Some(&Slot::Int(n)) => n,
                    Some(&Slot::Empty) => 0,
                    _ => return Err(Fail::bad("a repetition count slot without an integer", at)),
                };
                if n > u64::from(max) {
                    return Err(Fail::oversize(Limit::Items, max, Some(n), at));
                }
                self.push_repetition(Kind::Repeat, slot, end, n as u32, max, stride, b"");
                return if n == 0 {
                    self.finish_seq().map(|()| None)
                } else {
                    self.start_item();
                    Ok(None)
                };
            }
            Op::Many {
                slot,
                len,
                stride,
                min,
                max,
            } => {
                if !self.unit.open || self.stack.iter().any(is_repetition) {
                    return Err(Fail::bad(
                        "a repetition to the end of a unit outside a unit or inside a repetition",
                        at,
                    ));
                }
                let end = self.body_end(len, m)?;
                self.push_repetition(Kind::Many, slot, end, min, max, stride, b"");
                return self.next_many().map(|()| None);
            }
            Op::ManyUntil {
                slot,
                marker,
                len,
                stride,
                max,
            } => return self.many_until(buf, slot, marker, len, stride, max, m),
        }
        self.pc += 1;
        Ok(None)
    }

    /// Keywords match as whole words: where a separator or the end of the line should
    /// follow a keyword that ends in a letter or digit, and a letter or digit follows
    /// instead (`reservex` for `reserve`), the line is not this message at all. The miss
    /// is placed at the keyword's first byte, so that a line that matches no message is
    /// reported as unknown rather than as a malformed one of the message whose keyword is
    /// its prefix.
    fn keyword_runs_on(&self, buf: &[u8], m: &Message, at: usize) -> Option<Fail> {
        if self.unit.frame {
            return None;
        }
        // The op before, past the openings of optional parts and repetitions whose first
        // item starts here (`"get" keys:word+`).
        let before = m.ops[..self.pc.min(m.ops.len())]
            .iter()
            .rev()
            .find(|o| !matches!(o, Op::Opt { .. } | Op::Many { .. } | Op::Repeat { .. }));
        let Some(Op::Lit(lit)) = before else {
            return None;
        };
        let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        if !lit.last().is_some_and(word) || !buf.get(at).is_some_and(word) {
            return None;
        }
        let start = at.checked_sub(lit.len())?;
        // The keyword really ends here (not an optional part's field after it).
        if !self.starts(buf.get(start..at)?, lit) {
            return None;
        }
        Some(Fail::miss(
            DecodeErrorKind::Literal { expected: lit },
            start,
        ))
    }

    /// [`Op::Quoted`]: the rest of the line as words, quoted as Redis reads them.
    fn quoted(
        &mut self,
        buf: &[u8],
        slot: u16,
        sep: bool,
        min: u32,
        max: u32,
        m: &Message,
    ) -> Result<(), Fail> {
        let at = self.pos;
        if self.unit.frame || self.item.is_some() || self.stack.iter().any(is_repetition) {
            return Err(Fail::bad(
                "quoted words outside a line, or inside a repetition",
                at,
            ));
        }
        let hay = self.content(buf)?;
        // A NUL byte ends the words, as it ends the C string Redis splits.
        let hay = &hay[..memchr(0, hay).unwrap_or(hay.len())];
        if sep && hay.first().is_some_and(|&b| !quoted::is_space(b)) {
            if let Some(fail) = self.keyword_runs_on(buf, m, at) {
                return Err(fail);
            }
            return Err(Fail::invalid("a space or a tab", at));
        }
        let start = self.items.len();
        let (mut p, mut count) = (0, 0u32);
        let outcome = loop {
            while hay.get(p).is_some_and(|&b| quoted::is_space(b)) {
                p += 1;
            }
            if p == hay.len() {
                break Ok(());
            }
            let end = match quoted::word_end(hay, p) {
                Ok(end) => end,
                Err(bad) => break Err(Fail::invalid("balanced quotes", at + bad)),
            };
            if count == max {
                break Err(Fail::oversize(Limit::Items, max, None, at + p));
            }
            match range(at + p, at + end) {
                Ok(r) => self.items.push(r),
                Err(fail) => break Err(fail),
            }
            count += 1;
            p = end;
        };
        let outcome = outcome.and_then(|()| {
            if count < min {
                return Err(Fail::invalid("a word", at + p));
            }
            let start = u32::try_from(start).map_err(|_| Fail::bad("too many items", at))?;
            self.put(slot, Slot::Seq { start, len: count })
        });
        if outcome.is_err() {
            self.items.truncate(start);
        }
        outcome?;
        self.pos = self.unit.end;
        Ok(())
    }

    /// The end of an op's body of `len` ops: within the message and the enclosing body.
    fn body_end(&self, len: u16, m: &Message) -> Result<usize, Fail> {
        let end = self.pc + 1 + usize::from(len);
        if end > m.ops.len() || self.stack.last().is_some_and(|top| end > top.end) {
            return Err(Fail::bad("a body runs past its enclosing ops", self.pos));
        }
        Ok(end)
    }

    /// The bytes left in the current unit.
    fn content<'b>(&self, buf: &'b [u8]) -> Result<&'b [u8], Fail> {
        if !self.unit.open {
            return Err(Fail::bad("a field outside a unit", self.pos));
        }
        buf.get(self.pos..self.unit.end)
            .ok_or(Fail::bad("a cursor outside its unit", self.pos))
    }

    /// How many bytes the message may still span.
    fn room(&self, m: &Message) -> usize {
        if self.discard {
            usize::MAX
        } else {
            (m.max as usize).saturating_sub(self.pos)
        }
    }

    /// [`room`](Self::room) as a line's limit.
    fn line_room(&self, m: &Message) -> Room {
        Room {
            bytes: self.room(m),
            what: Limit::Message,
            limit: m.max,
        }
    }

    /// The number of leading bytes of class `class`.
    fn count(&self, hay: &[u8], class: u8) -> usize {
        hay.iter()
            .position(|&b| self.class[usize::from(b)] & class == 0)
            .unwrap_or(hay.len())
    }

    /// Whether `hay` starts with `lit` (ASCII case-insensitively in a `nocase` protocol).
    fn starts(&self, hay: &[u8], lit: &[u8]) -> bool {
        if self.nocase {
            hay.get(..lit.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(lit))
        } else {
            hay.starts_with(lit)
        }
    }

    /// Records a parsed unsigned integer.
    fn number(
        &mut self,
        slot: u16,
        n: usize,
        value: Option<u64>,
        max: u64,
        what: &'static str,
    ) -> Result<(), Fail> {
        if n == 0 {
            return Err(Fail::invalid(what, self.pos));
        }
        match value {
            Some(v) if v <= max => {
                self.put(slot, Slot::Int(v))?;
                self.pos += n;
                Ok(())
            }
            _ => Err(Fail::miss(
                DecodeErrorKind::OutOfRange {
                    min: 0,
                    max: max.into(),
                },
                self.pos,
            )),
        }
    }

    /// The length a `Bytes` op reads from a slot.
    fn length(&self, len: u16, in_message: bool, at: usize) -> Result<u64, Fail> {
        self.int_slot(len, in_message)
            .ok_or(Fail::bad("a length slot without an integer", at))
    }

    /// The integer in a slot of the message (`in_message`) or of the current item; an
    /// empty slot is 0. `None` for a slot of another kind, or out of range.
    fn int_slot(&self, slot: u16, in_message: bool) -> Option<u64> {
        let slot = if in_message {
            self.slots.get(usize::from(slot))
        } else {
            self.item
                .filter(|item| slot < item.stride)
                .and_then(|item| self.items.get(item.base + usize::from(slot)))
        };
        match slot {
            Some(&Slot::Int(n)) => Some(n),
            Some(&Slot::Empty) => Some(0),
            _ => None,
        }
    }

    /// Writes a slot of the current space (the message, or the current item).
    fn put(&mut self, slot: u16, value: Slot) -> Result<(), Fail> {
        self.put_in(self.item, slot, value)
    }

    fn put_in(&mut self, space: Option<ItemAt>, slot: u16, value: Slot) -> Result<(), Fail> {
        let cell = match space {
            None => self.slots.get_mut(usize::from(slot)),
            Some(item) if slot < item.stride => self.items.get_mut(item.base + usize::from(slot)),
            Some(_) => None,
        };
        match cell {
            Some(cell) => {
                *cell = value;
                Ok(())
            }
            None => Err(Fail::bad("a slot number out of range", self.pos)),
        }
    }

    /// A literal between units: waits for it in the stream.
    fn lit_between(&mut self, buf: &[u8], lit: &'static [u8], m: &Message) -> Step {
        let at = self.pos;
        if lit.len() > self.room(m) {
            let size = Some((at + lit.len()) as u64);
            return Err(Fail::oversize(Limit::Message, m.max, size, at));
        }
        let have = buf.get(at..).unwrap_or(&[]);
        let k = have.len().min(lit.len());
        if self.discard {
            // Recovering from a wrong literal that ends the message: its length goes by.
            if k < lit.len() {
                return Ok(Some(Flow::Wait));
            }
            self.pos += lit.len();
            self.pc += 1;
            return Ok(None);
        }
        if !self.starts(&have[..k], &lit[..k]) {
            let fail = Fail::miss(DecodeErrorKind::Literal { expected: lit }, at);
            if self.stack.is_empty() && self.pc + 1 == m.ops.len() {
                // The literal that ends a message after a counted run (memcached's `\r\n`
                // after a data block): the message's length is known, so as memcached
                // does, its bytes go by and the stream goes on after them.
                return Err(fail.then(Then::Discard(Resume::None)));
            }
            return Err(fail);
        }
        if k < lit.len() {
            return Ok(Some(Flow::Wait));
        }
        self.pos += lit.len();
        self.pc += 1;
        Ok(None)
    }

    /// A counted run of bytes between units: waits for all of it (or, when discarding,
    /// lets it go by as it arrives).
    fn bytes_between(&mut self, buf: &[u8], slot: u16, n: u64, max: u32, m: &Message) -> Step {
        let at = self.pos;
        if self.discard {
            let mut left = match self.resume {
                Resume::Bytes { pc, left } if pc == self.pc => left,
                _ => n,
            };
            let avail = buf.len().saturating_sub(at);
            let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
            self.pos += take;
            left -= take as u64;
            if left > 0 {
                self.resume = Resume::Bytes { pc: self.pc, left };
                return Ok(Some(Flow::Wait));
            }
            self.resume = Resume::None;
            self.pc += 1;
            return Ok(None);
        }
        let skip = Then::Discard(Resume::Bytes {
            pc: self.pc,
            left: n,
        });
        if n > u64::from(max) {
            return Err(Fail::oversize(Limit::Bytes, max, Some(n), at).then(skip));
        }
        if n > self.room(m) as u64 {
            let size = Some((at as u64).saturating_add(n));
            return Err(Fail::oversize(Limit::Message, m.max, size, at).then(skip));
        }
        let n = n as usize;
        if buf.len().saturating_sub(at) < n {
            return Ok(Some(Flow::Wait));
        }
        self.put(slot, range(at, at + n)?)?;
        self.pos += n;
        self.pc += 1;
        Ok(None)
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("program", &self.program.name)
            .field("state", &self.state)
            .field("message", &self.msg)
            .field("op", &self.pc)
            .field("pos", &self.pos)
            .field("discard", &self.discard)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_stop_at_the_first_non_digit_and_saturate_to_none() {
        assert_eq!(digits(b"123 ", 10), (3, Some(123)));
        assert_eq!(digits(b"ff\r", 16), (2, Some(255)));
        assert_eq!(digits(b"FfG", 16), (2, Some(255)));
        assert_eq!(digits(b"ff", 10), (0, Some(0)));
        assert_eq!(digits(b"18446744073709551615", 10), (20, Some(u64::MAX)));
        assert_eq!(digits(b"18446744073709551616", 10), (20, None));
        assert_eq!(digits(b"00000000000000000000000001", 10), (26, Some(1)));
    }

    #[test]
    fn read_uint_in_both_orders() {
        assert_eq!(read_uint(&[1, 2], true), 0x0102);
        assert_eq!(read_uint(&[1, 2], false), 0x0201);
        assert_eq!(read_uint(&[0xff; 8], true), u64::MAX);
        assert_eq!(read_uint(&[], true), 0);
    }

    #[test]
    fn byte_classes() {
        assert_eq!(BASE_CLASSES[usize::from(b' ')], SPACE);
        assert_eq!(BASE_CLASSES[usize::from(b'\t')], SPACE);
        for b in b"!#$%&'*+-.^_`|~09azAZ" {
            assert_eq!(BASE_CLASSES[usize::from(*b)], TCHAR, "{}", *b as char);
        }
        for b in b"\"(),/:;<=>?@[\\]{}\r\n\x7f\x80" {
            assert_eq!(BASE_CLASSES[usize::from(*b)], 0, "{:#x}", *b);
        }
    }
}

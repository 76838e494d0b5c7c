//! [`Decoder`]: runs the ops of a [`Program`] over a byte stream, resumably and within
//! the program's limits.

use std::fmt;

mod binary;
mod bodies;
mod choose;
mod state;
mod step;
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

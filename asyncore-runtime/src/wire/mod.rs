//! The runtime of generated protocol code: a resumable, bounded message decoder driven by
//! a static [`Program`], the encoding helpers, and the borrowed views ([`Seq`], [`Lines`])
//! that generated message types hand to handlers.
//!
//! A protocol description (see the `protocol!` macro) is compiled into one [`Program`]:
//! the framing of the protocol and, per message, a short list of [`Op`]s. Generated code
//! keeps a [`Decoder`] per connection and calls [`Decoder::decode`] with the bytes read so
//! far and the messages allowed in the current state. The decoder
//!
//! - never re-parses a message from its first byte when more input arrives: it resumes at
//!   the op and the byte offset where it stopped;
//! - never holds more than the limits of the program: every line, frame, counted run of
//!   bytes and repetition has a maximum, and going over it is an [`DecodeError`] that
//!   names the limit, the message and the byte offset;
//! - records each field as a [`Slot`] (a byte range of the input or an integer) in a
//!   vector it reuses, so decoding a message allocates nothing once the vectors have grown
//!   to the largest message seen.
//!
//! Most users never name these items: they are what the generated code is made of, shown
//! here so that `protocol-tool expand` output can be followed.
//!
//! # A protocol by hand
//!
//! What generated code does, written out for a two-message protocol: a `SET key value`
//! line, and a `DATA n` line followed by `n` raw bytes and a CRLF.
//!
//! ```
//! use asyncore_runtime::codec::FrameBuf;
//! use asyncore_runtime::wire::{
//!     bytes_at, int_at, Decoded, Decoder, Encoder, Framing, Message, Op, Program,
//! };
//!
//! static PROGRAM: Program = Program {
//!     name: "demo",
//!     framing: Framing::Line { term: b"\r\n", max: 256, bare_lf: false, nocase: false },
//!     messages: &[
//!         // client Set = "SET" key:word value:rest
//!         Message { name: "Set", slots: 2, max: 258, ops: &[
//!             Op::Line, Op::Lit(b"SET"), Op::Sep, Op::Word { slot: 0 }, Op::Sep,
//!             Op::Rest { slot: 1 }, Op::EndLine,
//!         ] },
//!         // client Data = "DATA" n:usize then data:bytes[n] "\r\n"
//!         Message { name: "Data", slots: 2, max: 258 + 4096 + 2, ops: &[
//!             Op::Line, Op::Lit(b"DATA"), Op::Sep, Op::Uint { slot: 0, max: 4096 }, Op::EndLine,
//!             Op::Bytes { slot: 1, len: 0, len_in_message: true, max: 4096 }, Op::Lit(b"\r\n"),
//!         ] },
//!     ],
//! };
//!
//! // Encoding: straight-line calls, one per element.
//! let mut wire = Vec::new();
//! let mut e = Encoder::new(&mut wire, &PROGRAM.framing);
//! e.lit(b"SET");
//! e.sep();
//! e.word("key", b"greeting")?;
//! e.sep();
//! e.rest("value", b"hello world")?;
//! e.end_line();
//! e.finish()?;
//! let mut e = Encoder::new(&mut wire, &PROGRAM.framing);
//! e.lit(b"DATA");
//! e.sep();
//! e.uint("n", 5, 4096)?;
//! e.end_line();
//! e.bytes("data", b"a\r\nbc", 4096)?;
//! e.lit(b"\r\n");
//! e.finish()?;
//! assert_eq!(wire, b"SET greeting hello world\r\nDATA 5\r\na\r\nbc\r\n");
//!
//! // Decoding: the input arrives in pieces; messages come out whole.
//! let mut decoder = Decoder::new(&PROGRAM);
//! let mut input = FrameBuf::new(decoder.buffer_limit());
//! let mut got = Vec::new();
//! for piece in wire.chunks(7) {
//!     input.extend_from_slice(piece)?;
//!     loop {
//!         match decoder.decode(input.data(), &[0, 1])? {
//!             Decoded::NeedMore => break,
//!             Decoded::Skip { len } => input.consume(len),
//!             Decoded::Message { index, len } => {
//!                 let (buf, slots) = (input.data(), decoder.slots());
//!                 got.push(match index {
//!                     0 => format!("set {:?}", bytes_at(buf, slots[0]).escape_ascii().to_string()),
//!                     _ => format!("data {} {:?}", int_at(slots[0]), bytes_at(buf, slots[1])),
//!                 });
//!                 input.consume(len);
//!             }
//!         }
//!     }
//! }
//! assert_eq!(got, ["set \"greeting\"", "data 5 [97, 13, 10, 98, 99]"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Frames
//!
//! A binary protocol cuts its stream into length-prefixed frames ([`Framing::Length`]),
//! and its messages read binary fields: [`Op::Bin`] integers, bit fields packed in a byte
//! ([`Op::Bits`], [`Op::BitsLit`]), [`Op::Varint`]s, NUL-terminated strings
//! ([`Op::CStr`]), counted [`Op::Bytes`], and parts present only when an earlier integer
//! says so ([`Op::If`]). A header may let the messages read the bytes before its length
//! field (an MQTT packet's type and flags): they step over the field with
//! [`Op::LengthField`]. A protocol with several framings gives its other messages their
//! own header ([`Op::FrameWith`]) or size ([`Op::Fixed`]).
//!
//! MQTT's PUBLISH, without its properties: the packet type 3 and three flags in the
//! first byte, a varint length, a topic, and a packet id only when the QoS is above 0.
//!
//! ```
//! use asyncore_runtime::wire::{
//!     bytes_at, int_at, present, Cmp, Decoded, Decoder, Encoder, Framing, LengthHeader,
//!     Message, Op, Program,
//! };
//!
//! static MQTT: Program = Program {
//!     name: "mqtt",
//!     framing: Framing::Length(LengthHeader {
//!         offset: 1, width: 0, big_endian: true, adjust: 0, skip: 0, max: 4096,
//!     }),
//!     messages: &[Message { name: "Publish", slots: 7, max: 4101, ops: &[
//!         Op::Frame,
//!         Op::BitsLit { shift: 4, bits: 4, value: 3 },
//!         Op::Bits { slot: 0, shift: 3, bits: 1 }, // dup
//!         Op::Bits { slot: 1, shift: 1, bits: 2 }, // qos
//!         Op::Bits { slot: 2, shift: 0, bits: 1 }, // retain
//!         Op::LengthField,
//!         Op::Bin { slot: 3, width: 2, big_endian: true, signed: false },
//!         Op::Bytes { slot: 3, len: 3, len_in_message: true, max: 4096 }, // topic
//!         Op::If { slot: 4, test: 1, test_in_message: true, cmp: Cmp::Gt, value: 0, len: 1 },
//!         Op::Bin { slot: 5, width: 2, big_endian: true, signed: false }, // packet id
//!         Op::Rest { slot: 6 }, // payload
//!         Op::EndFrame,
//!     ] }],
//! };
//!
//! let (qos, packet_id): (u64, Option<u64>) = (1, Some(10));
//! let mut wire = Vec::new();
//! let mut e = Encoder::new(&mut wire, &MQTT.framing);
//! e.begin_frame();
//! e.bits_lit(3, 4, 4);
//! e.bits("dup", 0, 3, 1)?;
//! e.bits("qos", qos, 1, 2)?;
//! e.bits("retain", 0, 0, 1)?;
//! e.length_field();
//! e.bin("topic_len", 3, 2, true)?;
//! e.bytes("topic", b"a/b", 4096)?;
//! e.present("packet_id", packet_id.is_some(), qos > 0)?;
//! if let Some(id) = packet_id {
//!     e.bin("packet_id", id, 2, true)?;
//! }
//! e.rest("payload", b"hi")?;
//! e.end_frame()?;
//! e.finish()?;
//! assert_eq!(wire, b"\x32\x09\0\x03a/b\0\x0ahi");
//!
//! let mut decoder = Decoder::new(&MQTT);
//! assert_eq!(decoder.decode(&wire, &[0])?, Decoded::Message { index: 0, len: 11 });
//! let s = decoder.slots();
//! assert_eq!((int_at(s[1]), bytes_at(&wire, s[3])), (1, &b"a/b"[..]));
//! assert!(present(s[4]));
//! assert_eq!((int_at(s[5]), bytes_at(&wire, s[6])), (10, &b"hi"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod error;
pub mod fast;
mod io;
mod quoted;
mod tls;
mod view;

pub use decode::{Decoded, Decoder};
pub use encode::{EncodeError, EncodeErrorKind, EncodePart, EncodeValue, Encoder};
pub use error::{DecodeError, DecodeErrorKind, Limit};
pub use io::{
    budget_yields, close_channel, close_reason, log_bad_input, reply_text, Cx, Event, Io, Policy,
    MESSAGE_BUDGET, REPLY_BATCH,
};
pub use quoted::Quoted;
pub use tls::{is_tls, start_tls_client, start_tls_server, ClientTls, ServerTls};
pub use view::{bytes_at, int_at, lines_at, present, seq_at, Item, Lines, LinesIter, Seq, SeqIter};

/// A compiled protocol: its framing and the decoding program of every message one role
/// receives.
///
/// Message indices used by [`Decoder::decode`] are indices into `messages`.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The protocol's name, for error messages.
    pub name: &'static str,
    /// How the byte stream is cut into units (lines or length-prefixed frames).
    pub framing: Framing,
    /// The messages this program decodes.
    pub messages: &'static [Message],
}

/// One message of a [`Program`].
#[derive(Debug, Clone, Copy)]
pub struct Message {
    /// The message's name in the description, for error messages.
    pub name: &'static str,
    /// The number of slots its ops write (`slot` fields are below this).
    pub slots: u16,
    /// The decoding program. It starts with an op that opens a unit ([`Op::Line`],
    /// [`Op::Frame`], [`Op::FrameWith`] or [`Op::Fixed`]), the message's first unit, on
    /// which the decoder recognises it. A message read in a state of its own with nothing
    /// to recognise it by (an SMTP DATA body: [`Op::LinesUntil`]) may start with another
    /// op; the decoder then chooses it without looking at the input when its turn comes
    /// among the allowed messages (see [`Decoder`]).
    pub ops: &'static [Op],
    /// The most bytes one message may span, all units and raw runs included.
    pub max: u32,
}

/// How a protocol cuts its byte stream into units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Lines ending with `term`.
    Line {
        /// The terminator, one or more bytes (`b"\r\n"`, `b"\n"`, `b"\0"`, ...).
        term: &'static [u8],
        /// The longest line, terminator excluded.
        max: u32,
        /// With the terminator `b"\r\n"`: also accept a bare `b"\n"` as the end of a line.
        /// Off (strict CRLF) unless the description says `bare_lf accept`; a bare LF is
        /// then a [`DecodeErrorKind::BareLf`] error. With the terminator `b"\n"` it only
        /// matters to the [`Encoder`]: the peer also reads `b"\r\n"` as a terminator
        /// (`crlf accept`), so a rest of line cannot hold a CR (see [`Encoder::rest`]).
        bare_lf: bool,
        /// Literal keywords match ASCII case-insensitively.
        nocase: bool,
    },
    /// Frames preceded by a length header.
    Length(LengthHeader),
}

/// The header of a length-prefixed frame.
///
/// A frame is `offset` bytes, the length field (`width` bytes, or a LEB128 varint when
/// `width` is 0), then `value + adjust` bytes of body. The compiler folds "the length
/// counts the header" into `adjust`, so the runtime only adds. The message ops see the
/// frame from byte `skip` on (by default the whole header is skipped).
///
/// A header whose `skip` is at most `offset` lets the ops read the bytes before the
/// length field (MQTT's type and flags byte, PostgreSQL's message type): they read them,
/// then step over the length field with [`Op::LengthField`], and the [`Encoder`] writes
/// them the same way ([`Encoder::length_field`]).
///
/// ```
/// use asyncore_runtime::wire::{Decoded, Decoder, Framing, LengthHeader, Message, Op, Program};
///
/// // PostgreSQL's typed messages: a type byte, then a length that counts itself.
/// static PG: Program = Program {
///     name: "pg",
///     framing: Framing::Length(LengthHeader {
///         offset: 1, width: 4, big_endian: true, adjust: -4, skip: 0, max: 1 << 20,
///     }),
///     messages: &[Message { name: "Sync", slots: 0, max: 5, ops: &[
///         Op::Frame, Op::Lit(b"S"), Op::LengthField, Op::EndFrame,
///     ] }],
/// };
/// let mut decoder = Decoder::new(&PG);
/// assert_eq!(decoder.decode(b"S\0\0\0\x04", &[0])?, Decoded::Message { index: 0, len: 5 });
/// # Ok::<(), asyncore_runtime::wire::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthHeader {
    /// Bytes before the length field.
    pub offset: u8,
    /// Width of the length field in bytes: 1, 2, 4, 8, or 0 for a varint.
    pub width: u8,
    /// Big-endian length field (ignored for width 1 and varints).
    pub big_endian: bool,
    /// Added to the length field's value to get the body length; may be negative.
    pub adjust: i64,
    /// Bytes of the frame the message ops skip (usually `offset + width`): the ops see
    /// the frame from this byte on, or from the end of the length field if that comes
    /// first. A varint's length varies, so `offset + 10` skips the whole header whatever
    /// its length; a value of at most `offset` lets the ops see the bytes before the
    /// length field, which they then step over with [`Op::LengthField`].
    pub skip: u8,
    /// The longest body, after adjustment.
    pub max: u32,
}

/// One decoding step of a [`Message`].
///
/// Ops run in order on a cursor into the bytes of the message. "The unit" is the current
/// line (between [`Op::Line`] and [`Op::EndLine`]), frame (between [`Op::Frame`] or
/// [`Op::FrameWith`] and [`Op::EndFrame`]) or run of a fixed number of bytes (between
/// [`Op::Fixed`] and [`Op::EndFrame`]). Slot numbers index the message's slots, except
/// inside the body of a repetition, where they index the slots of one item (`0..stride`).
///
/// Text protocols use lines and the text fields (`Word`, `Uint`...); binary protocols
/// use frames or fixed units and the binary fields: [`Op::Bin`] integers, [`Op::Bits`]
/// fields packed in a byte, [`Op::Varint`]s, [`Op::CStr`] strings, counted
/// [`Op::Bytes`], and [`Op::If`] for the fields present only when an earlier integer
/// says so.
///
/// Structure the decoder relies on (a program that breaks it gets a
/// [`DecodeErrorKind::Program`] error, never a panic): `Opt` and `Many` lie within one
/// unit (no `EndLine`/`EndFrame` in their bodies); the body of a repetition (`Repeat`,
/// `Many`, `ManyUntil`) contains no other repetition, so that the items of one sequence
/// are contiguous in the item list; a body (of a repetition, an `Opt` or an `If`) never
/// runs past the enclosing one; the bit fields of one byte ([`Op::Bits`],
/// [`Op::BitsLit`]) go from its high bits to its low ones and fill it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Start a line: wait until its terminator is buffered (scanning each byte once across
    /// calls); a line longer than the framing's maximum is an `Oversize` error.
    Line,
    /// End of a line: the cursor must be at the end of the line; it moves past the
    /// terminator.
    EndLine,
    /// Start a length-prefixed frame: wait until the header and the whole body are
    /// buffered; a body over the maximum is an `Oversize` error, a negative adjusted length
    /// an `Invalid` error.
    Frame,
    /// End of a frame or of a fixed unit ([`Op::Fixed`]): the cursor must be at its end.
    EndFrame,
    /// Start a length-prefixed frame whose header is this one instead of the program's
    /// framing: otherwise exactly [`Op::Frame`]. One protocol may so have several framings
    /// (PostgreSQL's untyped startup packets next to its typed messages), and a line
    /// protocol may have framed messages. When choosing a message, only the messages
    /// that open the same kind of unit (the same header) are tried on a unit (see
    /// [`Decoder`]).
    FrameWith(&'static LengthHeader),
    /// Start a unit of exactly this many bytes (at least one): wait until they are
    /// buffered. Closed by [`Op::EndFrame`]. For a message of a fixed size with no
    /// framing of its own, such as PostgreSQL's one-byte answer `N` to an SSLRequest.
    /// More than the message's room is an `Oversize` error.
    Fixed(u32),
    /// Inside a frame whose header lets the ops see the bytes before the length field
    /// ([`LengthHeader::skip`] at most `offset`): move from the start of the length field
    /// to the first byte after it (after a varint, however many bytes it took). The
    /// cursor must be at the start of the length field.
    LengthField,
    /// These bytes, at the cursor (case-insensitively in a `nocase` line protocol, for
    /// ASCII letters). Between units (after `EndLine`), waits for them in the stream.
    Lit(&'static [u8]),
    /// One or more spaces (0x20) or tabs.
    Sep,
    /// Zero or more spaces or tabs.
    Ows,
    /// Right after [`Op::Line`]: the spaces and tabs at either end of the line are
    /// padding, not part of it. The cursor moves past the leading ones and the line's end
    /// comes before the trailing ones (memcached reads ` get k ` as `get k`). Lowered
    /// from a framing's `padding accept`.
    Trim,
    /// The rest of the unit as words, some of them quoted, as Redis reads an inline
    /// command (`sdssplitargs`): each word's bytes, quotes and escapes included, is a
    /// [`Slot::Range`] item, which [`Quoted`] reads; the slot receives [`Slot::Seq`].
    /// Words are separated by whitespace (space, tab, CR, LF, vertical tab, form feed);
    /// a word in `"double quotes"` takes the escapes `\xHH`, `\n`, `\r`, `\t`, `\b`,
    /// `\a`, `\\` and `\"`, one in `'single quotes'` takes `\'`; a NUL byte ends the
    /// words, as it ends a C string. A quote left open, or a closing quote followed by
    /// anything but whitespace, is an `Invalid` error at the byte after the word's
    /// start. With `sep`, the first word must follow whitespace (the part before it is
    /// separated from it). Fewer than `min` or more than `max` words is an error.
    Quoted {
        /// The slot that receives the sequence.
        slot: u16,
        /// A separator must come before the first word.
        sep: bool,
        /// The fewest words accepted.
        min: u32,
        /// The most words accepted.
        max: u32,
    },
    /// From here on, the message is committed: a part that does not match is this
    /// message's error (with the index of the op that failed, [`DecodeError::op`]), and
    /// no other message is tried on the unit. Lowered before a part with its own policy
    /// (`else`), whose failure the description answers itself.
    Commit,
    /// A word: one or more bytes up to a space, a tab, a byte of the line terminator (a
    /// lone CR in a CRLF line) or the end of the unit.
    Word {
        /// The slot that receives the byte range.
        slot: u16,
    },
    /// An RFC 9110 token (`!#$%&'*+-.^_`|~`, digits, letters), one or more bytes.
    Token {
        /// The slot that receives the byte range.
        slot: u16,
    },
    /// The rest of the unit, possibly empty. In a line protocol whose terminator has more
    /// than one byte, it does not match if it contains one of them (a lone CR in a CRLF
    /// line): a rest of line never carries terminator bytes.
    Rest {
        /// The slot that receives the byte range.
        slot: u16,
    },
    /// One of these literals (tried in order, the first that matches wins: list a literal
    /// before its prefixes); the slot receives the range matched.
    OneOf {
        /// The slot that receives the byte range.
        slot: u16,
        /// The literals.
        lits: &'static [&'static [u8]],
    },
    /// A decimal unsigned integer (digits only, at least one) of at most `max`.
    Uint {
        /// The slot that receives the value.
        slot: u16,
        /// The largest value accepted.
        max: u64,
    },
    /// A decimal signed integer (an optional `-`, then digits) within `min..=max`.
    Int {
        /// The slot that receives the value (two's complement in a `u64`).
        slot: u16,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A hexadecimal unsigned integer (digits and `a-f`/`A-F`, at least one) of at most
    /// `max`.
    Hex {
        /// The slot that receives the value.
        slot: u16,
        /// The largest value accepted.
        max: u64,
    },
    /// A binary integer of `width` bytes (1, 2, 4 or 8).
    Bin {
        /// The slot that receives the value (sign-extended when `signed`).
        slot: u16,
        /// Width in bytes.
        width: u8,
        /// Big-endian (network order).
        big_endian: bool,
        /// Sign-extend the value.
        signed: bool,
    },
    /// A bit field: inside a unit, `(byte >> shift) & ((1 << bits) - 1)` of the byte at
    /// the cursor, as an integer. The cursor moves past the byte only when `shift` is 0:
    /// the fields of one byte come from its high bits to its low ones, the last at
    /// shift 0. `bits` is 1 to 8 and `shift + bits` at most 8. No byte left in the unit
    /// is an `Invalid` error.
    Bits {
        /// The slot that receives the value.
        slot: u16,
        /// How far the field is from the byte's low bit.
        shift: u8,
        /// Its width in bits.
        bits: u8,
    },
    /// Bits of the byte at the cursor that must equal `value` (a message type in the high
    /// bits of MQTT's first byte), else the message does not match; moves like
    /// [`Op::Bits`].
    BitsLit {
        /// How far the field is from the byte's low bit.
        shift: u8,
        /// Its width in bits.
        bits: u8,
        /// The value it must have.
        value: u8,
    },
    /// An unsigned LEB128 varint inside a unit (7 bits a byte, the least significant
    /// first, the high bit set on every byte but the last; MQTT's "variable byte
    /// integer"), of at most 10 bytes and 64 bits. Over `max` is an `OutOfRange`
    /// mismatch; the unit ending inside it, or more than 64 bits, an `Invalid` one.
    Varint {
        /// The slot that receives the value.
        slot: u16,
        /// The largest value accepted.
        max: u64,
    },
    /// A NUL-terminated string inside a unit: the bytes up to the next 0x00, which the
    /// cursor moves past. The slot receives the bytes without the NUL. No NUL in the rest
    /// of the unit is an `Invalid` error.
    CStr {
        /// The slot that receives the byte range.
        slot: u16,
    },
    /// The next `len` ops, only if the integer in slot `test` (an earlier op of the
    /// message when `test_in_message`, else of the current repetition item, as for
    /// [`Op::Bytes`]; [`Slot::Empty`] counts as 0) compares with `value` as `cmp` says.
    /// The comparison is on the `u64` stored, so a signed -1 is `u64::MAX`. The slot
    /// receives `Int(1)` when the ops ran and `Int(0)` when they were skipped, leaving
    /// their slots [`Slot::Empty`]. For MQTT's packet id, present when the QoS is above
    /// 0, and PostgreSQL's nullable values (absent when the length is -1).
    If {
        /// The slot that receives the presence flag.
        slot: u16,
        /// The slot holding the integer tested.
        test: u16,
        /// Whether `test` is a slot of the message (`false`: of the current item).
        test_in_message: bool,
        /// How the integer compares with `value`.
        cmp: Cmp,
        /// The value compared with.
        value: u64,
        /// How many ops follow that belong to the conditional part.
        len: u16,
    },
    /// A value the channel supplies before the message is read (a message parameter, such
    /// as the length of an HTTP body, which the request's headers give): parameter `param`
    /// of [`Decoder::set_params`] goes into the slot as an integer. It reads no input, so
    /// a message that starts with it is chosen without looking at the input (see
    /// [`Message::ops`]).
    Param {
        /// The slot that receives the value.
        slot: u16,
        /// Which parameter (below [`MAX_PARAMS`]).
        param: u8,
    },
    /// A run of raw bytes whose length is the integer in slot `len` (an earlier op of the
    /// same message, or of the same repetition item). Inside a unit it must fit in the
    /// unit; between units it is read from the stream (a mode switch: line, then counted
    /// bytes, then line...). More than `max` is an `Oversize` error.
    ///
    /// `slot` may be `len` itself: the length is read first, then replaced by the range,
    /// so an item `"$" len:usize then bytes[len] "\r\n"` (RESP) is one slot, and its
    /// sequence a [`Seq`]`<&[u8]>`.
    Bytes {
        /// The slot that receives the byte range.
        slot: u16,
        /// The slot holding the length.
        len: u16,
        /// Whether `len` is a slot of the message (`false`: of the current item).
        len_in_message: bool,
        /// The longest run accepted.
        max: u32,
    },
    /// Lines (between units) up to a line equal to `marker`; the slot receives the range
    /// from the first line to the end of the last line before the marker (terminators
    /// included), which [`Lines`] iterates with the `unstuff` prefix removed. Each line
    /// obeys the framing's line maximum; the whole run at most `max` bytes.
    LinesUntil {
        /// The slot that receives the byte range.
        slot: u16,
        /// The line that ends the run, without its terminator (`b"."` for SMTP).
        marker: &'static [u8],
        /// The longest run accepted, terminators included.
        max: u32,
    },
    /// Zero or one time the next `len` ops, within the current unit: if they do not
    /// match, the cursor goes back and their slots are left [`Slot::Empty`]. The slot
    /// receives `Int(1)` when they matched and `Int(0)` when not.
    Opt {
        /// The slot that receives the presence flag.
        slot: u16,
        /// How many ops follow that belong to the optional part.
        len: u16,
    },
    /// Exactly `count` times the next `len` ops, where `count` is the integer in message
    /// slot `count`. Each item appends `stride` slots to the item list; the slot receives
    /// [`Slot::Seq`]. More than `max` items is an `Oversize` error; with `signed`, a
    /// negative count is no items.
    Repeat {
        /// The slot that receives the sequence.
        slot: u16,
        /// The message slot holding the count.
        count: u16,
        /// How many ops follow that form one item.
        len: u16,
        /// Slots per item.
        stride: u16,
        /// The most items accepted.
        max: u32,
        /// The count is a signed integer: a negative count is no items (RESP's `*-1`).
        signed: bool,
    },
    /// The next `len` ops, again and again until the end of the current unit, at least
    /// `min` and at most `max` times (`word+` is `Many { min: 1, .. }` over `[Sep, Word]`).
    /// An item that consumes nothing is an `Invalid` error, never a loop.
    ///
    /// Precisely: once `min` items matched, the repetition stops at the end of the unit
    /// or at the first item that does not match, which is undone (cursor and slots), and
    /// the ops after the repetition go on from there: `[Sep, Word]` items then `Ows`
    /// accept trailing spaces. An item that matches past `max` is an `Oversize` error.
    Many {
        /// The slot that receives the sequence.
        slot: u16,
        /// How many ops follow that form one item.
        len: u16,
        /// Slots per item.
        stride: u16,
        /// The fewest items accepted.
        min: u32,
        /// The most items accepted.
        max: u32,
    },
    /// Between units: items of the next `len` ops (each starting with [`Op::Line`]) until
    /// a line equal to `marker` (consumed); `b""` stops at an empty line, as HTTP headers
    /// do. At most `max` items.
    ManyUntil {
        /// The slot that receives the sequence.
        slot: u16,
        /// The line that ends the repetition.
        marker: &'static [u8],
        /// How many ops follow that form one item.
        len: u16,
        /// Slots per item.
        stride: u16,
        /// The most items accepted.
        max: u32,
    },
}

/// The most parameters a message takes (see [`Op::Param`]).
pub const MAX_PARAMS: usize = 4;

/// How [`Op::If`] compares an integer slot `a` with its value `b`, on `u64`s.
///
/// ```
/// use asyncore_runtime::wire::Cmp;
///
/// assert!(Cmp::Gt.holds(1, 0));
/// assert!(!Cmp::Gt.holds(0, 0));
/// assert!(Cmp::Ne.holds(5, u64::MAX)); // a length that is not -1
/// assert!(Cmp::Le.holds(3, 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

impl Cmp {
    /// Whether `a` compares with `b` this way.
    ///
    /// ```
    /// use asyncore_runtime::wire::Cmp;
    ///
    /// assert!(Cmp::Lt.holds(1, 2) && Cmp::Ge.holds(2, 2) && Cmp::Eq.holds(7, 7));
    /// ```
    pub fn holds(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }

    /// Whether `a` compares with `b` this way, as signed numbers (the conditions on the
    /// fields of a decoded reply: `code < 400`).
    ///
    /// ```
    /// use asyncore_runtime::wire::Cmp;
    ///
    /// assert!(Cmp::Lt.holds_signed(-1, 2) && !Cmp::Lt.holds(u64::MAX, 2));
    /// ```
    pub fn holds_signed(self, a: i64, b: i64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// The mask of a bit field of `bits` bits at `shift` within a byte (shifted down), or
/// `None` unless `bits` is 1 to 8 and the field fits in the byte.
pub(crate) fn bit_mask(shift: u8, bits: u8) -> Option<u8> {
    if bits == 0 || u16::from(shift) + u16::from(bits) > 8 {
        return None;
    }
    Some(((1u16 << bits) - 1) as u8)
}

/// What one op recorded: the value of a field of a decoded message.
///
/// Byte ranges are offsets from the first byte of the message, so they stay valid when
/// more input is appended to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Slot {
    /// Nothing recorded (an optional part that was absent).
    #[default]
    Empty,
    /// Bytes `start..end` of the message.
    Range(u32, u32),
    /// An integer (signed values in two's complement).
    Int(u64),
    /// Items `start..start + len * stride` of the decoder's item list.
    Seq {
        /// Index of the first item slot.
        start: u32,
        /// Number of items.
        len: u32,
    },
}

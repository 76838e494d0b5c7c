//! The `wire` runtime on hand-written programs: RESP-, memcached-, SMTP- and HTTP-like
//! line protocols and a binary length-prefixed one.
//!
//! Every sample conversation is decoded whole, split at every byte and fed byte by byte,
//! with the same messages and slots each way. Then: limits reported early with their value
//! and offset, strict CRLF, message choice (not allowed vs unknown), recovery by skipping,
//! linear-time scanning, encoder round trips and refusals, the views, and pseudo-random
//! garbage (and malformed programs) that must never panic, loop or depend on the split.

use asyncore_runtime::wire::{
    bytes_at, int_at, lines_at, present, seq_at, DecodeError, DecodeErrorKind, Decoded, Decoder,
    EncodeError, EncodeErrorKind, Encoder, Framing, Item, LengthHeader, Limit, Lines, Message, Op,
    Program, Seq, Slot,
};

const U32: u64 = u32::MAX as u64;

// ===== programs =====

/// RESP: `*<argc>` then argc × (`$<len>`, bytes[len], CRLF), or an inline command;
/// replies `+text` and `:int`.
static RESP: Program = Program {
    name: "resp",
    framing: Framing::Line {
        term: b"\r\n",
        max: 1024,
        bare_lf: false,
        nocase: false,
    },
    messages: &[
        Message {
            name: "Command",
            slots: 2,
            max: 64 * 1024,
            ops: &[
                Op::Line,
                Op::Lit(b"*"),
                Op::Uint { slot: 0, max: U32 },
                Op::EndLine,
                Op::Repeat {
                    slot: 1,
                    count: 0,
                    len: 6,
                    stride: 1,
                    max: 16,
                    signed: false,
                },
                Op::Line,
                Op::Lit(b"$"),
                Op::Uint { slot: 0, max: U32 },
                Op::EndLine,
                // The length slot becomes the data's range: one slot per argument.
                Op::Bytes {
                    slot: 0,
                    len: 0,
                    len_in_message: false,
                    max: 4096,
                },
                Op::Lit(b"\r\n"),
            ],
        },
        Message {
            name: "Simple",
            slots: 1,
            max: 1026,
            ops: &[Op::Line, Op::Lit(b"+"), Op::Rest { slot: 0 }, Op::EndLine],
        },
        Message {
            name: "Integer",
            slots: 1,
            max: 1026,
            ops: &[
                Op::Line,
                Op::Lit(b":"),
                Op::Int {
                    slot: 0,
                    min: i64::MIN,
                    max: i64::MAX,
                },
                Op::EndLine,
            ],
        },
        Message {
            name: "Inline",
            slots: 1,
            max: 1026,
            ops: &[
                Op::Line,
                Op::Many {
                    slot: 0,
                    len: 2,
                    stride: 1,
                    min: 1,
                    max: 16,
                },
                Op::Ows,
                Op::Word { slot: 0 },
                Op::Ows,
                Op::EndLine,
            ],
        },
    ],
};
const COMMAND: u16 = 0;
const SIMPLE: u16 = 1;
const INTEGER: u16 = 2;
const INLINE: u16 = 3;

/// memcached: `get keys:word+`, `set key flags exptime bytes [noreply]` then
/// data:bytes[bytes] CRLF, `delete key [noreply]`, `quit`.
static MEMCACHE: Program = Program {
    name: "memcache",
    framing: Framing::Line {
        term: b"\r\n",
        max: 2048,
        bare_lf: false,
        nocase: false,
    },
    messages: &[
        Message {
            name: "Get",
            slots: 1,
            max: 2050,
            ops: &[
                Op::Line,
                Op::Lit(b"get"),
                Op::Many {
                    slot: 0,
                    len: 2,
                    stride: 1,
                    min: 1,
                    max: 24,
                },
                Op::Sep,
                Op::Word { slot: 0 },
                Op::Ows,
                Op::EndLine,
            ],
        },
        Message {
            name: "Set",
            slots: 6,
            max: 2050 + (1 << 20) + 2,
            ops: &[
                Op::Line,
                Op::Lit(b"set"),
                Op::Sep,
                Op::Word { slot: 0 },
                Op::Sep,
                Op::Uint { slot: 1, max: U32 },
                Op::Sep,
                Op::Int {
                    slot: 2,
                    min: i64::MIN,
                    max: i64::MAX,
                },
                Op::Sep,
                Op::Uint {
                    slot: 3,
                    max: u64::MAX,
                },
                Op::Opt { slot: 4, len: 2 },
                Op::Sep,
                Op::Lit(b"noreply"),
                Op::Ows,
                Op::EndLine,
                Op::Bytes {
                    slot: 5,
                    len: 3,
                    len_in_message: true,
                    max: 1 << 20,
                },
                Op::Lit(b"\r\n"),
            ],
        },
        Message {
            name: "Delete",
            slots: 2,
            max: 2050,
            ops: &[
                Op::Line,
                Op::Lit(b"delete"),
                Op::Sep,
                Op::Word { slot: 0 },
                Op::Opt { slot: 1, len: 2 },
                Op::Sep,
                Op::Lit(b"noreply"),
                Op::Ows,
                Op::EndLine,
            ],
        },
        Message {
            name: "Quit",
            slots: 0,
            max: 2050,
            ops: &[Op::Line, Op::Lit(b"quit"), Op::EndLine],
        },
    ],
};
const GET: u16 = 0;
const SET: u16 = 1;

/// SMTP commands (case-insensitive) and the DATA body, lines until "." with
/// dot-unstuffing, in a state of its own.
macro_rules! smtp {
    ($name:ident, $bare_lf:expr) => {
        static $name: Program = Program {
            name: "smtp",
            framing: Framing::Line {
                term: b"\r\n",
                max: 998,
                bare_lf: $bare_lf,
                nocase: true,
            },
            messages: &[
                Message {
                    name: "Helo",
                    slots: 1,
                    max: 1000,
                    ops: &[
                        Op::Line,
                        Op::Lit(b"HELO"),
                        Op::Sep,
                        Op::Rest { slot: 0 },
                        Op::EndLine,
                    ],
                },
                Message {
                    name: "Mail",
                    slots: 1,
                    max: 1000,
                    ops: &[
                        Op::Line,
                        Op::Lit(b"MAIL FROM:"),
                        Op::Ows,
                        Op::Rest { slot: 0 },
                        Op::EndLine,
                    ],
                },
                Message {
                    name: "Rcpt",
                    slots: 1,
                    max: 1000,
                    ops: &[
                        Op::Line,
                        Op::Lit(b"RCPT TO:"),
                        Op::Ows,
                        Op::Rest { slot: 0 },
                        Op::EndLine,
                    ],
                },
                Message {
                    name: "Data",
                    slots: 0,
                    max: 1000,
                    ops: &[Op::Line, Op::Lit(b"DATA"), Op::EndLine],
                },
                Message {
                    name: "Quit",
                    slots: 0,
                    max: 1000,
                    ops: &[Op::Line, Op::Lit(b"QUIT"), Op::EndLine],
                },
                Message {
                    name: "Body",
                    slots: 1,
                    max: 4096 + 3,
                    ops: &[Op::LinesUntil {
                        slot: 0,
                        marker: b".",
                        max: 4096,
                    }],
                },
            ],
        };
    };
}
smtp!(SMTP, false);
smtp!(SMTP_BARE_LF, true);
const COMMANDS: &[u16] = &[0, 1, 2, 3, 4];
const BODY: u16 = 5;

/// The SMTP states: the body after DATA, commands otherwise.
fn smtp_state(last: Option<&str>) -> Vec<u16> {
    match last {
        Some("Data") => vec![BODY],
        _ => COMMANDS.to_vec(),
    }
}

/// HTTP/1.x: a request line, then `name: value` headers until an empty line.
static HTTP: Program = Program {
    name: "http",
    framing: Framing::Line {
        term: b"\r\n",
        max: 8190,
        bare_lf: false,
        nocase: false,
    },
    messages: &[Message {
        name: "Request",
        slots: 4,
        max: 64 * 1024,
        ops: &[
            Op::Line,
            Op::Token { slot: 0 },
            Op::Sep,
            Op::Word { slot: 1 },
            Op::Sep,
            Op::Lit(b"HTTP/1."),
            Op::OneOf {
                slot: 2,
                lits: &[b"1", b"0"],
            },
            Op::EndLine,
            Op::ManyUntil {
                slot: 3,
                marker: b"",
                len: 6,
                stride: 2,
                max: 100,
            },
            Op::Line,
            Op::Token { slot: 0 },
            Op::Lit(b":"),
            Op::Ows,
            Op::Rest { slot: 1 },
            Op::EndLine,
        ],
    }],
};

/// An HTTP header, an item of stride 2, as generated code would declare it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Header<'a> {
    name: &'a [u8],
    value: &'a [u8],
}

impl<'a> Item<'a> for Header<'a> {
    const STRIDE: usize = 2;
    fn from_slots(buf: &'a [u8], slots: &'a [Slot]) -> Self {
        let slot = |i: usize| slots.get(i).copied().unwrap_or_default();
        Header {
            name: bytes_at(buf, slot(0)),
            value: bytes_at(buf, slot(1)),
        }
    }
}

const KV_HEADER: LengthHeader = LengthHeader {
    offset: 0,
    width: 4,
    big_endian: true,
    adjust: 0,
    skip: 4,
    max: 1 << 20,
};

/// A binary key-value protocol: u32be length, an op byte, then fields.
static KV: Program = Program {
    name: "kv",
    framing: Framing::Length(KV_HEADER),
    messages: &[
        Message {
            name: "Get",
            slots: 1,
            max: (1 << 20) + 4,
            ops: &[
                Op::Frame,
                Op::Lit(&[0x01]),
                Op::Rest { slot: 0 },
                Op::EndFrame,
            ],
        },
        Message {
            name: "Put",
            slots: 3,
            max: (1 << 20) + 4,
            ops: &[
                Op::Frame,
                Op::Lit(&[0x02]),
                Op::Bin {
                    slot: 0,
                    width: 2,
                    big_endian: true,
                    signed: false,
                },
                Op::Bytes {
                    slot: 1,
                    len: 0,
                    len_in_message: true,
                    max: 1024,
                },
                Op::Rest { slot: 2 },
                Op::EndFrame,
            ],
        },
        Message {
            name: "Found",
            slots: 1,
            max: (1 << 20) + 4,
            ops: &[
                Op::Frame,
                Op::Lit(&[0x81]),
                Op::Rest { slot: 0 },
                Op::EndFrame,
            ],
        },
        Message {
            name: "NotFound",
            slots: 0,
            max: (1 << 20) + 4,
            ops: &[Op::Frame, Op::Lit(&[0x82]), Op::EndFrame],
        },
    ],
};

/// Lines of up to 2 MiB, for the linear-time tests.
macro_rules! big_lines {
    ($name:ident, $term:expr) => {
        static $name: Program = Program {
            name: "big",
            framing: Framing::Line {
                term: $term,
                max: 2 << 20,
                bare_lf: false,
                nocase: false,
            },
            messages: &[Message {
                name: "Line",
                slots: 1,
                max: (2 << 20) + 8,
                ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine],
            }],
        };
    };
}
big_lines!(BIG_CRLF, b"\r\n");
big_lines!(BIG_TRIPLE, b"<!>");

/// Lines of at most 16 bytes.
macro_rules! short_lines {
    ($name:ident, $term:expr) => {
        static $name: Program = Program {
            name: "lines",
            framing: Framing::Line {
                term: $term,
                max: 16,
                bare_lf: false,
                nocase: false,
            },
            messages: &[Message {
                name: "Line",
                slots: 1,
                max: 20,
                ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine],
            }],
        };
    };
}
short_lines!(SHORT_CRLF, b"\r\n");
short_lines!(SHORT_LF, b"\n");

mod support;
use support::{all, check_everywhere, decode_once, fixed, render};

// ===== harness =====

/// Drops every `Skip` the decoder hands out from the front of `buf`, then returns the
/// first other outcome.
fn skip_then_decode(
    dec: &mut Decoder,
    buf: &mut Vec<u8>,
    allowed: &[u16],
) -> Result<Decoded, DecodeError> {
    loop {
        match dec.decode(buf, allowed)? {
            Decoded::Skip { len } => {
                buf.drain(..len);
            }
            other => return Ok(other),
        }
    }
}

// ===== conversations, split everywhere =====

#[test]
fn resp_commands_split_everywhere() {
    let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n\
                  *1\r\n$4\r\nPING\r\n\
                  PING\r\n\
                  \x20 SET  a   b  \r\n\
                  *0\r\n\
                  \r\n\
                  *2\r\n$0\r\n\r\n$1\r\nx\r\n\
                  *1\r\n$2\r\nab";
    check_everywhere(
        &RESP,
        input,
        &fixed(&[COMMAND, INLINE]),
        &[
            "Command(3, seq 0+3)[SET, key, va\\r\\nl]",
            "Command(1, seq 0+1)[PING]",
            "Inline(seq 0+1)[PING]",
            "Inline(seq 0+3)[SET, a, b]",
            "Command(0, seq 0+0)",
            "error resp: unknown message (byte 0)",
            "Command(2, seq 0+2)[, x]",
            "left 10",
        ],
    );
}

#[test]
fn resp_replies_split_everywhere() {
    let input = b"+OK\r\n:-42\r\n:9223372036854775807\r\n+\r\n:9223372036854775808\r\n+a b\r\n";
    check_everywhere(
        &RESP,
        input,
        &fixed(&[SIMPLE, INTEGER]),
        &[
            "Simple(OK)",
            "Integer(18446744073709551574)",
            "Integer(9223372036854775807)",
            "Simple()",
            // Out of range for an integer, but a word of an inline command.
            "error resp: message Inline not allowed in this state (byte 0)",
            "Simple(a b)",
        ],
    );
}

#[test]
fn memcache_split_everywhere() {
    let input = b"get a bb ccc\r\n\
                  set k 5 -1 5 noreply\r\nhello\r\n\
                  set k2 0 0 4\r\nab\r\n\r\n\
                  get\r\n\
                  set k 4294967296 0 1\r\nx\r\n\
                  delete k noreply\r\n\
                  bogus\r\n\
                  delete k\r\n\
                  get x \r\n\
                  quit\r\n";
    check_everywhere(
        &MEMCACHE,
        input,
        &all(&MEMCACHE),
        &[
            "Get(seq 0+3)[a, bb, ccc]",
            "Set(k, 5, 18446744073709551615, 5, 1, hello)",
            "Set(k2, 0, 0, 4, 0, ab\\r\\n)",
            "error memcache: expected a space or a tab (message Get, byte 3)",
            "error memcache: integer out of the range 0..=4294967295 (message Set, byte 6)",
            "error memcache: unknown message (byte 0)",
            "Delete(k, 1)",
            "error memcache: unknown message (byte 0)",
            "Delete(k, 0)",
            "Get(seq 0+1)[x]",
            "Quit()",
        ],
    );
}

#[test]
fn smtp_split_everywhere() {
    let input = b"HELO client.example\r\n\
                  mail from:<a@b>\r\n\
                  RCPT TO: <c@d>\r\n\
                  DATA\r\n\
                  Subject: hi\r\n\r\n..leading dot\r\nplain\r\n.\r\n\
                  DATA\r\n\
                  .\r\n\
                  HELO a\nQUIT\r\n\
                  NOOP\r\n\
                  QUIT\r\n";
    check_everywhere(
        &SMTP,
        input,
        &smtp_state,
        &[
            "Helo(client.example)",
            "Mail(<a@b>)",
            "Rcpt(<c@d>)",
            "Data()",
            "Body(Subject: hi\\r\\n\\r\\n..leading dot\\r\\nplain\\r\\n)",
            "Data()",
            "Body()",
            "error smtp: bare LF (\"\\n\" without \"\\r\") in a line (byte 6)",
            "error smtp: unknown message (byte 0)",
            "Quit()",
        ],
    );
}

#[test]
fn smtp_accepting_bare_lf_split_everywhere() {
    let input = b"HELO a\nQUIT\r\nDATA\nline\n..dot\r\n.\nQUIT\n";
    check_everywhere(
        &SMTP_BARE_LF,
        input,
        &smtp_state,
        &[
            "Helo(a)",
            "Quit()",
            "Data()",
            "Body(line\\n..dot\\r\\n)",
            "Quit()",
        ],
    );
}

#[test]
fn http_split_everywhere() {
    let input = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept:  */*\r\n\r\n\
                  POST /x HTTP/1.0\r\n\r\n\
                  GET / HTTP/2.0\r\n\r\n\
                  GET / HTTP/1.1\r\nBad Header\r\n\r\n";
    check_everywhere(
        &HTTP,
        input,
        &all(&HTTP),
        &[
            "Request(GET, /index.html, 1, seq 0+2)[Host, example.com, Accept, */*]",
            "Request(POST, /x, 0, seq 0+0)",
            "error http: expected \"HTTP/1.\" (message Request, byte 6)",
            "error http: unknown message (byte 0)",
            "fatal http: expected \":\" (message Request, byte 19)",
        ],
    );
}

#[test]
fn kv_frames_split_everywhere() {
    let input = b"\0\0\0\x04\x01key\
                  \0\0\0\x09\x02\0\x03abcval\
                  \0\0\0\x03\x81hi\
                  \0\0\0\x01\x82\
                  \0\0\0\x02\x07x\
                  \0\0\0\x01\x01\
                  \0\0\0\x04\x02\0\x09a\
                  \0\0\0\x02\x82!\
                  \0\0\0\x03\x81";
    check_everywhere(
        &KV,
        input,
        &all(&KV),
        &[
            "Get(key)",
            "Put(3, abc, val)",
            "Found(hi)",
            "NotFound()",
            "error kv: unknown message (byte 0)",
            "Get()",
            "error kv: expected a counted run of bytes within the unit (message Put, byte 7)",
            "error kv: expected the end of the frame (message NotFound, byte 5)",
            "left 5",
        ],
    );
}

#[test]
fn kv_allowed_subsets_report_not_allowed() {
    let input = b"\0\0\0\x04\x01key\0\0\0\x01\x82";
    check_everywhere(
        &KV,
        input,
        &fixed(&[2, 3]),
        &[
            "error kv: message Get not allowed in this state (byte 0)",
            "NotFound()",
        ],
    );
}

// ===== limits =====

#[test]
fn an_over_long_line_is_reported_once_the_limit_and_one_more_byte_are_in() {
    for (program, term) in [(&SHORT_LF, &b"\n"[..]), (&SHORT_CRLF, b"\r\n")] {
        let mut dec = Decoder::new(program);
        let mut buf = Vec::new();
        for _ in 0..16 {
            buf.push(b'a');
            assert_eq!(dec.decode(&buf, &[0]), Ok(Decoded::NeedMore));
        }
        if term == b"\r\n" {
            // 16 bytes and a CR: the line may still end in time.
            buf.push(b'\r');
            assert_eq!(dec.decode(&buf, &[0]), Ok(Decoded::NeedMore));
            buf.pop();
        }
        buf.push(b'b');
        let err = dec.decode(&buf, &[0]).unwrap_err();
        assert_eq!(
            *err.kind(),
            DecodeErrorKind::Oversize {
                what: Limit::Line,
                limit: 16,
                size: None
            }
        );
        assert_eq!((err.offset(), err.message()), (0, None));
        assert_eq!(
            err.to_string(),
            "lines: line over the limit of 16 bytes (byte 0)"
        );
        assert!(err.can_continue());
        // The rest of the line is skipped as it comes, never buffered whole.
        assert_eq!(
            dec.decode(&buf, &[0]),
            Ok(Decoded::Skip {
                len: 18 - term.len()
            })
        );
        buf.clear();
        if term.len() == 2 {
            assert_eq!(dec.decode(b"b", &[0]), Ok(Decoded::NeedMore));
        }
        buf.extend_from_slice(b"ccc");
        buf.extend_from_slice(term);
        buf.extend_from_slice(b"ok");
        buf.extend_from_slice(term);
        let got = skip_then_decode(&mut dec, &mut buf, &[0]).unwrap();
        assert_eq!(
            got,
            Decoded::Message {
                index: 0,
                len: 2 + term.len()
            }
        );
        assert_eq!(bytes_at(&buf, dec.slots()[0]), b"ok");
    }
}

#[test]
fn a_line_of_exactly_the_limit_is_accepted() {
    let mut line = vec![b'x'; 16];
    line.extend_from_slice(b"\r\n");
    let (dec, got) = decode_once(&SHORT_CRLF, &line, &[0]);
    assert_eq!(got, Ok(Decoded::Message { index: 0, len: 18 }));
    assert_eq!(bytes_at(&line, dec.slots()[0]).len(), 16);
    assert_eq!(Decoder::new(&SHORT_CRLF).buffer_limit(), 20);
}

#[test]
fn an_oversize_frame_is_reported_from_its_header_and_skipped_unbuffered() {
    let mut dec = Decoder::new(&KV);
    let header = (3u32 << 20).to_be_bytes();
    assert_eq!(dec.decode(&header[..3], &[0]), Ok(Decoded::NeedMore));
    let err = dec.decode(&header, &[0]).unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Frame,
            limit: 1 << 20,
            size: Some(3 << 20)
        }
    );
    assert_eq!(
        err.to_string(),
        "kv: frame of 3145728 bytes is over the limit of 1048576 bytes (byte 0)"
    );
    assert!(err.can_continue());
    // Feed the body 64 KiB at a time: it is skipped as it comes.
    let mut buf = header.to_vec();
    let mut skipped = 0;
    let mut sent = 0;
    let chunk = vec![0xab; 64 * 1024];
    loop {
        match dec.decode(&buf, &[0]).unwrap() {
            Decoded::Skip { len } => {
                skipped += len;
                buf.drain(..len);
            }
            Decoded::NeedMore if sent < 3 << 20 => {
                buf.extend_from_slice(&chunk);
                sent += chunk.len();
            }
            other => panic!("{other:?}"),
        }
        assert!(buf.len() <= chunk.len() + 4);
        if skipped == 4 + (3 << 20) {
            break;
        }
    }
    assert!(buf.is_empty());
    let frame = b"\0\0\0\x02\x01k";
    assert_eq!(
        dec.decode(frame, &[0]),
        Ok(Decoded::Message { index: 0, len: 6 })
    );
}

#[test]
fn an_oversize_counted_run_is_reported_from_its_length_and_skipped() {
    let mut dec = Decoder::new(&MEMCACHE);
    let line = b"set k 0 0 2000000\r\n";
    let err = dec.decode(line, &[GET, SET]).unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Bytes,
            limit: 1 << 20,
            size: Some(2_000_000)
        }
    );
    assert_eq!(
        err.to_string(),
        "memcache: counted run of 2000000 bytes is over the limit of 1048576 bytes \
         (message Set, byte 19)"
    );
    assert!(err.can_continue());
    // The value goes by in chunks, then its CRLF, then the next command decodes.
    let mut buf = line.to_vec();
    let mut data = vec![b'v'; 2_000_000];
    data.extend_from_slice(b"\r\nget k\r\n");
    let mut rest = &data[..];
    let mut largest = 0;
    let got = loop {
        match dec.decode(&buf, &[GET, SET]).unwrap() {
            Decoded::Skip { len } => {
                buf.drain(..len);
            }
            Decoded::NeedMore => {
                let n = rest.len().min(10_000);
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
            message => break message,
        }
        largest = largest.max(buf.len());
    };
    assert_eq!(got, Decoded::Message { index: GET, len: 7 });
    assert!(largest <= 10_000 + line.len(), "buffered {largest} bytes");
}

#[test]
fn repetitions_over_their_maximum() {
    // A count read before the items: reported at once, and fatal mid-message.
    let (_, got) = decode_once(&RESP, b"*17\r\n", &[COMMAND, INLINE]);
    let err = got.unwrap_err();
    assert_eq!(
        err.to_string(),
        "resp: repetition of 17 items is over the limit of 16 items (message Command, byte 5)"
    );
    assert!(!err.can_continue());

    // Items to the end of the line: the 25th key is one too many; the line is skipped.
    let mut line = b"get".to_vec();
    for i in 0..25 {
        line.extend_from_slice(format!(" k{i}").as_bytes());
    }
    line.extend_from_slice(b"\r\nquit\r\n");
    let mut dec = Decoder::new(&MEMCACHE);
    let err = dec.decode(&line, &[0, 1, 2, 3]).unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Items,
            limit: 24,
            size: None
        }
    );
    assert_eq!(err.offset(), line.len() - 12); // the 25th key, " k24"
    assert!(err.can_continue());
    let mut buf = line.clone();
    let got = skip_then_decode(&mut dec, &mut buf, &[0, 1, 2, 3]);
    assert_eq!(got, Ok(Decoded::Message { index: 3, len: 6 }));

    // Items until a marker line: the 101st header.
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..101 {
        request.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let (_, got) = decode_once(&HTTP, &request, &[0]);
    let err = got.unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Items,
            limit: 100,
            size: None
        }
    );
    assert!(!err.can_continue());
}

#[test]
fn a_body_over_its_limit_is_skipped_to_the_marker() {
    let mut dec = Decoder::new(&SMTP);
    let mut input = b"DATA\r\n".to_vec();
    for _ in 0..100 {
        input.extend_from_slice(&[b'x'; 60]);
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b".\r\nQUIT\r\n");
    let mut buf = input.clone();
    assert_eq!(
        dec.decode(&buf, COMMANDS),
        Ok(Decoded::Message { index: 3, len: 6 })
    );
    buf.drain(..6);
    let err = dec.decode(&buf, &[BODY]).unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Lines,
            limit: 4096,
            size: None
        }
    );
    assert_eq!(err.message(), Some("Body"));
    assert_eq!(err.offset(), 66 * 62); // the line that would not fit
    assert!(err.can_continue());
    // The generated channel replies (552) and goes back to commands: the rest of the body
    // is skipped whatever the allowed messages, then QUIT decodes.
    let got = skip_then_decode(&mut dec, &mut buf, COMMANDS);
    assert_eq!(got, Ok(Decoded::Message { index: 4, len: 6 }));
    assert_eq!(buf, b"QUIT\r\n");
}

#[test]
fn a_message_over_its_own_maximum() {
    static SMALL: Program = Program {
        name: "small",
        framing: Framing::Line {
            term: b"\n",
            max: 100,
            bare_lf: false,
            nocase: false,
        },
        messages: &[Message {
            name: "Pair",
            slots: 2,
            max: 10,
            ops: &[
                Op::Line,
                Op::Rest { slot: 0 },
                Op::EndLine,
                Op::Line,
                Op::Rest { slot: 1 },
                Op::EndLine,
            ],
        }],
    };
    let (_, got) = decode_once(&SMALL, b"0123456789abc\n", &[0]);
    let err = got.unwrap_err();
    assert_eq!(
        err.to_string(),
        "small: message of 14 bytes is over the limit of 10 bytes (message Pair, byte 0)"
    );
    assert!(err.can_continue());
    // The second line may only take what the first left: reported before its end.
    let mut dec = Decoder::new(&SMALL);
    assert_eq!(dec.decode(b"0123\n4567", &[0]), Ok(Decoded::NeedMore));
    let err = dec.decode(b"0123\n45678", &[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "small: message over the limit of 10 bytes (message Pair, byte 5)"
    );
    assert!(!err.can_continue());
}

// ===== strict CRLF =====

#[test]
fn a_bare_lf_is_an_error_in_strict_crlf_and_a_line_end_when_accepted() {
    let input = b"HELO a\nQUIT\r\nQUIT\r\n";
    let mut dec = Decoder::new(&SMTP);
    let err = dec.decode(input, COMMANDS).unwrap_err();
    assert_eq!(*err.kind(), DecodeErrorKind::BareLf);
    assert_eq!(err.offset(), 6);
    assert!(err.can_continue());
    // The offending line runs to the CRLF: "QUIT" after the bare LF is not a command.
    assert_eq!(dec.decode(input, COMMANDS), Ok(Decoded::Skip { len: 13 }));
    assert_eq!(
        dec.decode(&input[13..], COMMANDS),
        Ok(Decoded::Message { index: 4, len: 6 })
    );

    let mut dec = Decoder::new(&SMTP_BARE_LF);
    assert_eq!(
        dec.decode(input, COMMANDS),
        Ok(Decoded::Message { index: 0, len: 7 })
    );
    assert_eq!(bytes_at(input, dec.slots()[0]), b"a");
    assert_eq!(
        dec.decode(&input[7..], COMMANDS),
        Ok(Decoded::Message { index: 4, len: 6 })
    );
}

#[test]
fn a_lone_cr_is_a_byte_of_the_line_but_never_of_a_word_or_rest() {
    static ANY: Program = Program {
        name: "any",
        framing: Framing::Line {
            term: b"\r\n",
            max: 64,
            bare_lf: false,
            nocase: false,
        },
        messages: &[Message {
            name: "Raw",
            slots: 1,
            max: 66,
            ops: &[
                Op::Line,
                Op::Bytes {
                    slot: 0,
                    len: 0,
                    len_in_message: true,
                    max: 0,
                },
                Op::Ows,
                Op::EndLine,
            ],
        }],
    };
    // The line is "a\rb" (the CR is not a terminator) ...
    let (_, got) = decode_once(&SMTP, b"HELO a\rb\r\n", COMMANDS);
    let err = got.unwrap_err();
    assert_eq!(
        err.to_string(),
        "smtp: expected the rest of the line without a byte of the terminator \
         (message Helo, byte 5)"
    );
    // ... a word stops at the CR ...
    let (_, got) = decode_once(&MEMCACHE, b"get a\rb\r\n", &[GET]);
    assert_eq!(
        got.unwrap_err().to_string(),
        "memcache: expected the end of the line (message Get, byte 5)"
    );
    // ... and the line is found at the real CRLF.
    let (_, got) = decode_once(&ANY, b" \r \r\n", &[0]);
    assert_eq!(
        got.unwrap_err().to_string(),
        "any: expected the end of the line (message Raw, byte 1)"
    );
}

#[test]
fn smtp_smuggling_a_bare_lf_dot_does_not_end_the_body() {
    let body = b"Hi\n.\nMAIL FROM:<evil@x>\r\n.\r\nQUIT\r\n";
    let mut dec = Decoder::new(&SMTP);
    let mut buf = body.to_vec();
    let err = dec.decode(&buf, &[BODY]).unwrap_err();
    assert_eq!(*err.kind(), DecodeErrorKind::BareLf);
    assert_eq!((err.message(), err.offset()), (Some("Body"), 2));
    assert!(err.can_continue());
    // Only the real CRLF "." CRLF ends it; the smuggled MAIL is never a command.
    let got = skip_then_decode(&mut dec, &mut buf, COMMANDS);
    assert_eq!(got, Ok(Decoded::Message { index: 4, len: 6 }));

    // Accepting bare LF, the same bytes end the body early, as the description asked.
    let mut dec = Decoder::new(&SMTP_BARE_LF);
    assert_eq!(
        dec.decode(body, &[BODY]),
        Ok(Decoded::Message {
            index: BODY,
            len: 5
        })
    );
}

// ===== message choice =====

#[test]
fn not_allowed_and_unknown() {
    let mut dec = Decoder::new(&SMTP);
    let err = dec.decode(b"DATA\r\n", &[0, 4]).unwrap_err();
    assert_eq!(*err.kind(), DecodeErrorKind::NotAllowed { message: "Data" });
    assert_eq!(
        err.to_string(),
        "smtp: message Data not allowed in this state (byte 0)"
    );
    assert!(err.can_continue());
    assert_eq!(
        dec.decode(b"DATA\r\n", &[0, 4]),
        Ok(Decoded::Skip { len: 6 })
    );

    let err = dec.decode(b"EHLO x\r\n", &[0, 4]).unwrap_err();
    assert_eq!(*err.kind(), DecodeErrorKind::Unknown);
    assert_eq!(err.to_string(), "smtp: unknown message (byte 0)");
    assert_eq!(err.message(), None);

    // A message that matched furthest is named, with what it expected.
    dec.reset();
    let err = dec.decode(b"HELO\r\n", &[0, 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "smtp: expected a space or a tab (message Helo, byte 4)"
    );
}

#[test]
fn the_order_of_messages_that_miss_on_their_first_literal_changes_nothing() {
    // Messages that cannot start the line are passed over without being run: whatever the
    // order they come in, the message chosen and the error reported are the same.
    let orders: [&[u16]; 3] = [&[0, 1, 2, 3, 4], &[4, 3, 2, 1, 0], &[2, 4, 0, 3, 1]];
    for allowed in orders {
        // Case-insensitive keywords.
        let (dec, got) = decode_once(&SMTP, b"rcpt to:<a@b>\r\n", allowed);
        assert_eq!(got, Ok(Decoded::Message { index: 2, len: 15 }));
        assert_eq!(dec.slots(), [Slot::Range(8, 13)]);
        // The message that matched furthest is named.
        let (_, got) = decode_once(&SMTP, b"helo\r\n", allowed);
        assert_eq!(
            got.unwrap_err().to_string(),
            "smtp: expected a space or a tab (message Helo, byte 4)"
        );
        // A keyword cut short is no message.
        let (_, got) = decode_once(&SMTP, b"MAIL FROM\r\n", allowed);
        assert_eq!(*got.unwrap_err().kind(), DecodeErrorKind::Unknown);
    }
    // A message of another state is recognised among those passed over.
    for allowed in [&[0, 4][..], &[4, 0], &[4]] {
        let (_, got) = decode_once(&SMTP, b"data\r\n", allowed);
        let kind = *got.unwrap_err().kind();
        assert_eq!(kind, DecodeErrorKind::NotAllowed { message: "Data" });
    }
}

#[test]
fn the_first_allowed_message_that_matches_wins() {
    // "*1" is not a multi-bulk command once its first line is known to be inline.
    let (dec, got) = decode_once(&RESP, b"*x y\r\n", &[COMMAND, INLINE]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: INLINE,
            len: 6
        })
    );
    assert_eq!(dec.items().len(), 2);
    // The order of `allowed` decides between messages that both match.
    let (_, got) = decode_once(&RESP, b"+OK\r\n", &[INLINE, SIMPLE]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: INLINE,
            len: 5
        })
    );
    let (_, got) = decode_once(&RESP, b"+OK\r\n", &[SIMPLE, INLINE]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: SIMPLE,
            len: 5
        })
    );
}

#[test]
fn a_committed_message_reports_later_mismatches_as_fatal() {
    let input = b"*2\r\n$3\r\nGET\r\n$x\r\n";
    let mut dec = Decoder::new(&RESP);
    let err = dec.decode(input, &[COMMAND, INLINE]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resp: expected an unsigned integer (message Command, byte 14)"
    );
    assert!(!err.can_continue());
    // The stream is lost: the same error until reset.
    assert_eq!(dec.decode(input, &[COMMAND, INLINE]), Err(err));
    dec.reset();
    assert_eq!(
        dec.decode(b"PING\r\n", &[COMMAND, INLINE]),
        Ok(Decoded::Message {
            index: INLINE,
            len: 6
        })
    );

    // A bulk string without its CRLF after the announced length.
    let (_, got) = decode_once(&RESP, b"*1\r\n$2\r\nabc\r\n", &[COMMAND]);
    assert_eq!(
        got.unwrap_err().to_string(),
        "resp: expected \"\\r\\n\" (message Command, byte 10)"
    );
}

#[test]
fn invalid_frame_lengths_are_fatal() {
    static SELF_COUNTING: Program = Program {
        name: "counted",
        framing: Framing::Length(LengthHeader {
            offset: 1,
            width: 2,
            big_endian: false,
            adjust: -3,
            skip: 3,
            max: 100,
        }),
        messages: &[Message {
            name: "Any",
            slots: 1,
            max: 103,
            ops: &[Op::Frame, Op::Rest { slot: 0 }, Op::EndFrame],
        }],
    };
    // The length counts the whole frame: 5 is two bytes of body.
    let (dec, got) = decode_once(&SELF_COUNTING, b"T\x05\0hi", &[0]);
    assert_eq!(got, Ok(Decoded::Message { index: 0, len: 5 }));
    assert_eq!(bytes_at(b"T\x05\0hi", dec.slots()[0]), b"hi");
    let (_, got) = decode_once(&SELF_COUNTING, b"T\x02\0", &[0]);
    let err = got.unwrap_err();
    assert_eq!(
        err.to_string(),
        "counted: expected a frame length that is not negative once adjusted (byte 1)"
    );
    assert!(!err.can_continue());

    static VARINT: Program = Program {
        name: "varint",
        framing: Framing::Length(LengthHeader {
            offset: 0,
            width: 0,
            big_endian: false,
            adjust: 0,
            skip: 0,
            max: 1000,
        }),
        messages: &[Message {
            name: "Any",
            slots: 1,
            max: 1010,
            ops: &[Op::Frame, Op::Rest { slot: 0 }, Op::EndFrame],
        }],
    };
    // The ops see the header too (skip 0): 300 is `ac 02`.
    let mut frame = vec![0xac, 0x02];
    frame.extend_from_slice(&[b'z'; 300]);
    let mut dec = Decoder::new(&VARINT);
    assert_eq!(dec.decode(&frame[..1], &[0]), Ok(Decoded::NeedMore));
    assert_eq!(
        dec.decode(&frame, &[0]),
        Ok(Decoded::Message { index: 0, len: 302 })
    );
    assert_eq!(dec.slots()[0], Slot::Range(0, 302));
    let (_, got) = decode_once(&VARINT, &[0xff; 11], &[0]);
    let err = got.unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Invalid {
            what: "a length varint of at most 64 bits"
        }
    );
    assert!(!err.can_continue());
}

// ===== linear time =====

/// Feeds `line` then `term` one byte at a time; the bytes the terminator search
/// examined.
fn scan_cost_byte_at_a_time(program: &'static Program, len: usize, term: &[u8]) -> u64 {
    let mut dec = Decoder::new(program);
    let mut buf = Vec::with_capacity(len + term.len());
    for _ in 0..len {
        buf.push(b'a');
        assert_eq!(dec.decode(&buf, &[0]), Ok(Decoded::NeedMore));
    }
    for (i, &b) in term.iter().enumerate() {
        buf.push(b);
        let got = dec.decode(&buf, &[0]).unwrap();
        if i + 1 < term.len() {
            assert_eq!(got, Decoded::NeedMore);
        } else {
            assert_eq!(
                got,
                Decoded::Message {
                    index: 0,
                    len: buf.len()
                }
            );
        }
    }
    assert_eq!(bytes_at(&buf, dec.slots()[0]).len(), len);
    dec.scanned_bytes()
}

#[test]
fn a_one_megabyte_line_byte_at_a_time_is_scanned_once() {
    let n = 1 << 20;
    assert!(scan_cost_byte_at_a_time(&BIG_CRLF, n, b"\r\n") <= n as u64 + 2);
    assert!(scan_cost_byte_at_a_time(&BIG_TRIPLE, n, b"<!>") <= n as u64 + 3);
}

#[test]
fn a_long_body_byte_at_a_time_is_scanned_once() {
    let mut body = Vec::new();
    for i in 0..60 {
        body.extend_from_slice(format!("line {i:02} of the body, long enough\r\n").as_bytes());
    }
    body.extend_from_slice(b".\r\n");
    let mut dec = Decoder::new(&SMTP);
    let mut buf = Vec::new();
    for (i, &b) in body.iter().enumerate() {
        buf.push(b);
        let got = dec.decode(&buf, &[BODY]).unwrap();
        if i + 1 < body.len() {
            assert_eq!(got, Decoded::NeedMore);
        } else {
            assert_eq!(
                got,
                Decoded::Message {
                    index: BODY,
                    len: body.len()
                }
            );
        }
    }
    assert!(dec.scanned_bytes() <= body.len() as u64);
}

#[test]
fn skipping_an_over_long_line_byte_at_a_time_is_linear() {
    let mut dec = Decoder::new(&SHORT_CRLF);
    let mut buf = Vec::new();
    let mut errors = 0;
    let n = 100_000;
    for i in 0..n + 2 {
        buf.push(if i < n { b'z' } else { b"\r\n"[i - n] });
        loop {
            match dec.decode(&buf, &[0]) {
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Skip { len }) => {
                    buf.drain(..len);
                }
                Ok(other) => panic!("{other:?}"),
                Err(_) => errors += 1,
            }
        }
        assert!(buf.len() <= 18);
    }
    assert_eq!(errors, 1);
    assert!(buf.is_empty());
    assert!(dec.scanned_bytes() <= n as u64 + 4);
}

#[test]
fn slots_and_items_are_reused_across_messages() {
    let command = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    let mut dec = Decoder::new(&RESP);
    assert!(dec.decode(command, &[COMMAND]).is_ok());
    let (slots, items) = (dec.slots().as_ptr(), dec.items().as_ptr());
    for _ in 0..1000 {
        assert_eq!(
            dec.decode(command, &[COMMAND]),
            Ok(Decoded::Message {
                index: COMMAND,
                len: command.len()
            })
        );
        assert_eq!((dec.slots().as_ptr(), dec.items().as_ptr()), (slots, items));
    }
}

// ===== encoders, as generated code writes them =====

fn resp_command(out: &mut Vec<u8>, args: Seq<'_, &[u8]>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &RESP.framing);
    e.lit(b"*");
    e.uint("argc", args.len() as u64, U32)?;
    e.end_line();
    for arg in &args {
        e.lit(b"$");
        e.uint("len", arg.len() as u64, U32)?;
        e.end_line();
        e.bytes("data", arg, 4096)?;
        e.lit(b"\r\n");
    }
    e.finish()
}

fn resp_integer(out: &mut Vec<u8>, v: i64) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &RESP.framing);
    e.lit(b":");
    e.int("value", v, i64::MIN, i64::MAX)?;
    e.end_line();
    e.finish()
}

fn memcache_set(
    out: &mut Vec<u8>,
    key: &[u8],
    flags: u32,
    exptime: i64,
    noreply: bool,
    data: &[u8],
) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MEMCACHE.framing);
    e.lit(b"set");
    e.sep();
    e.word("key", key)?;
    e.sep();
    e.uint("flags", flags.into(), U32)?;
    e.sep();
    e.int("exptime", exptime, i64::MIN, i64::MAX)?;
    e.sep();
    e.uint("bytes", data.len() as u64, u64::MAX)?;
    if noreply {
        e.sep();
        e.lit(b"noreply");
    }
    e.end_line();
    e.bytes("data", data, 1 << 20)?;
    e.lit(b"\r\n");
    e.finish()
}

fn memcache_get(out: &mut Vec<u8>, keys: Seq<'_, &[u8]>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MEMCACHE.framing);
    e.lit(b"get");
    for key in &keys {
        e.sep();
        e.word("keys", key)?;
    }
    e.end_line();
    e.finish()
}

fn smtp_helo(out: &mut Vec<u8>, domain: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &SMTP.framing);
    e.lit(b"HELO");
    e.sep();
    e.rest("domain", domain)?;
    e.end_line();
    e.finish()
}

fn smtp_body(out: &mut Vec<u8>, body: &Lines<'_>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &SMTP.framing);
    e.lines("body", body, b".", Some(b"."), 4096)?;
    e.finish()
}

fn http_request(
    out: &mut Vec<u8>,
    method: &[u8],
    target: &[u8],
    minor: &[u8],
    headers: Seq<'_, Header<'_>>,
) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &HTTP.framing);
    e.token("method", method)?;
    e.sep();
    e.word("target", target)?;
    e.sep();
    e.lit(b"HTTP/1.");
    e.one_of("minor", minor, &[b"1", b"0"])?;
    e.end_line();
    for h in &headers {
        e.token("name", h.name)?;
        e.lit(b":");
        e.sep();
        e.rest("value", h.value)?;
        e.end_line();
    }
    e.lit(b"");
    e.end_line();
    e.finish()
}

fn kv_put(out: &mut Vec<u8>, key: &[u8], value: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &KV.framing);
    e.begin_frame();
    e.lit(&[0x02]);
    e.bin("klen", key.len() as u64, 2, true)?;
    e.bytes("key", key, 1024)?;
    e.rest("value", value)?;
    e.end_frame()?;
    e.finish()
}

#[test]
fn resp_round_trips() {
    let mut out = Vec::new();
    let big = vec![b'\n'; 4096];
    let args: [&[u8]; 4] = [b"SET", b"", b"a\r\nb", &big];
    resp_command(&mut out, Seq::from(&args[..])).unwrap();
    let (dec, got) = decode_once(&RESP, &out, &[COMMAND]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: COMMAND,
            len: out.len()
        })
    );
    let decoded: Seq<'_, &[u8]> = seq_at(&out, dec.items(), dec.slots()[1]);
    assert_eq!(decoded, args);
    assert_eq!(int_at(dec.slots()[0]), 4);

    for v in [0, -1, i64::MIN, i64::MAX, 42] {
        out.clear();
        resp_integer(&mut out, v).unwrap();
        let (dec, got) = decode_once(&RESP, &out, &[INTEGER]);
        assert_eq!(
            got,
            Ok(Decoded::Message {
                index: INTEGER,
                len: out.len()
            })
        );
        assert_eq!(int_at(dec.slots()[0]) as i64, v);
    }
}

#[test]
fn memcache_round_trips() {
    let mut out = Vec::new();
    memcache_set(&mut out, b"user:1", 7, -5, true, b"bytes\r\nwith CRLF").unwrap();
    memcache_set(&mut out, b"k", u32::MAX, 0, false, b"").unwrap();
    let keys: [&[u8]; 3] = [b"a", b"b", b"c"];
    memcache_get(&mut out, Seq::from(&keys)).unwrap();

    let mut buf = &out[..];
    let (mut dec, got) = decode_once(&MEMCACHE, buf, &[GET, SET]);
    let Ok(Decoded::Message { index: SET, len }) = got else {
        panic!("{got:?}")
    };
    let s = dec.slots();
    assert_eq!(bytes_at(buf, s[0]), b"user:1");
    assert_eq!(int_at(s[1]), 7);
    assert_eq!(int_at(s[2]) as i64, -5);
    assert!(present(s[4]));
    assert_eq!(bytes_at(buf, s[5]), b"bytes\r\nwith CRLF");
    buf = &buf[len..];
    let Ok(Decoded::Message { index: SET, len }) = dec.decode(buf, &[GET, SET]) else {
        panic!()
    };
    let s = dec.slots();
    assert_eq!((int_at(s[1]), present(s[4])), (U32, false));
    assert_eq!(bytes_at(buf, s[5]), b"");
    buf = &buf[len..];
    assert_eq!(
        dec.decode(buf, &[GET, SET]),
        Ok(Decoded::Message {
            index: GET,
            len: buf.len()
        })
    );
    let got: Seq<'_, &[u8]> = seq_at(buf, dec.items(), dec.slots()[0]);
    assert_eq!(got, keys);
}

#[test]
fn smtp_round_trips_byte_exact_after_unstuffing() {
    let mut out = Vec::new();
    smtp_helo(&mut out, b"mail.example").unwrap();
    let text: &[u8] = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nend";
    smtp_body(&mut out, &Lines::Text(text)).unwrap();
    assert!(out.ends_with(b"\r\n..\r\n...\r\n..leading\r\nend\r\n.\r\n"));

    let mut dec = Decoder::new(&SMTP);
    let Ok(Decoded::Message { index: 0, len }) = dec.decode(&out, COMMANDS) else {
        panic!()
    };
    assert_eq!(bytes_at(&out, dec.slots()[0]), b"mail.example");
    let buf = &out[len..];
    assert_eq!(
        dec.decode(buf, &[BODY]),
        Ok(Decoded::Message {
            index: BODY,
            len: buf.len()
        })
    );
    let body = lines_at(buf, dec.slots()[0], b"\r\n", Some(b"."));
    let mut expected = text.to_vec();
    expected.extend_from_slice(b"\r\n"); // the last line gained its terminator
    assert_eq!(body.to_vec(), expected);
    assert_eq!(body, Lines::Text(text));

    // Re-encoding the decoded body gives the same bytes on the wire.
    let mut again = Vec::new();
    smtp_body(&mut again, &body).unwrap();
    assert_eq!(again, buf);

    // An empty body.
    let mut empty = Vec::new();
    smtp_body(&mut empty, &Lines::Text(b"")).unwrap();
    assert_eq!(empty, b".\r\n");
}

#[test]
fn http_round_trips() {
    let mut out = Vec::new();
    let headers = [
        Header {
            name: b"Host",
            value: b"example.com",
        },
        Header {
            name: b"X-Empty",
            value: b"",
        },
        Header {
            name: b"Host",
            value: b"again, repeated",
        },
    ];
    http_request(&mut out, b"GET", b"/a?b=c", b"1", Seq::from(&headers)).unwrap();
    let (dec, got) = decode_once(&HTTP, &out, &[0]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: 0,
            len: out.len()
        })
    );
    let s = dec.slots();
    assert_eq!(bytes_at(&out, s[0]), b"GET");
    assert_eq!(bytes_at(&out, s[1]), b"/a?b=c");
    assert_eq!(bytes_at(&out, s[2]), b"1");
    let decoded: Seq<'_, Header<'_>> = seq_at(&out, dec.items(), s[3]);
    assert_eq!(decoded, headers);
    assert_eq!(
        decoded.get(2).map(|h| h.value),
        Some(&b"again, repeated"[..])
    );
    assert_eq!(decoded.iter().next_back(), Some(headers[2]));
}

#[test]
fn kv_round_trips() {
    let mut out = Vec::new();
    kv_put(&mut out, b"key", b"\0\r\n binary value").unwrap();
    assert_eq!(&out[..7], b"\0\0\0\x16\x02\0\x03");
    let (dec, got) = decode_once(&KV, &out, &[0, 1]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: 1,
            len: out.len()
        })
    );
    let s = dec.slots();
    assert_eq!(int_at(s[0]), 3);
    assert_eq!(bytes_at(&out, s[1]), b"key");
    assert_eq!(bytes_at(&out, s[2]), b"\0\r\n binary value");

    // A signed binary field, and other header layouts.
    static SIGNED: Program = Program {
        name: "signed",
        framing: Framing::Length(LengthHeader {
            offset: 2,
            width: 0,
            big_endian: false,
            adjust: 1,
            skip: 12, // the whole header, whatever the varint's length
            max: 1000,
        }),
        messages: &[Message {
            name: "Delta",
            slots: 2,
            max: 1013,
            ops: &[
                Op::Frame,
                Op::Bin {
                    slot: 0,
                    width: 2,
                    big_endian: false,
                    signed: true,
                },
                Op::Bin {
                    slot: 1,
                    width: 8,
                    big_endian: true,
                    signed: true,
                },
                Op::EndFrame,
            ],
        }],
    };
    for (a, b) in [(-2i64, i64::MIN), (32767, -1), (-32768, i64::MAX)] {
        let mut out = b"prefix".to_vec();
        let mut e = Encoder::new(&mut out, &SIGNED.framing);
        e.begin_frame();
        e.bin_signed("a", a, 2, false).unwrap();
        e.bin_signed("b", b, 8, true).unwrap();
        e.end_frame().unwrap();
        e.finish().unwrap();
        let frame = &out[6..];
        // Two zero bytes, then a varint of 9 (10 body bytes, adjust 1).
        assert_eq!((&frame[..3], frame.len()), (&b"\0\0\x09"[..], 13));
        let (dec, got) = decode_once(&SIGNED, frame, &[0]);
        assert_eq!(
            got,
            Ok(Decoded::Message {
                index: 0,
                len: frame.len()
            })
        );
        assert_eq!(int_at(dec.slots()[0]) as i64, a);
        assert_eq!(int_at(dec.slots()[1]) as i64, b);
    }
}

// ===== encoder refusals =====

#[test]
fn encoder_refusals_name_the_field_and_leave_nothing_half_written() {
    let mut out = b"earlier message\r\n".to_vec();
    let before = out.clone();

    let err = memcache_set(&mut out, b"a key", 0, 0, false, b"x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `key`: a word cannot contain a space (byte 1)"
    );
    assert_eq!(err.field(), "key");
    assert_eq!(out, before);

    let err = smtp_helo(&mut out, b"evil\r\nMAIL FROM:<x>").unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `domain`: a rest of line cannot contain a carriage return (byte 4)"
    );
    assert_eq!(out, before);
    let err = smtp_helo(&mut out, b"evil\nx").unwrap_err();
    assert!(matches!(
        err.kind(),
        EncodeErrorKind::Byte {
            byte: b'\n',
            position: 4,
            ..
        }
    ));

    let mut e = Encoder::new(&mut out, &KV.framing);
    e.begin_frame();
    e.lit(&[0x02]);
    let err = e.bin("klen", 65_536, 2, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `klen`: 65536 is out of the range 0..=65535"
    );
    drop(e);
    assert_eq!(out, before);

    let err = smtp_body(&mut out, &Lines::Text(b"one\r\ntwo\rthree\r\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `body`: a body line cannot contain a carriage return (byte 3)"
    );
    assert_eq!(out, before);
    let err = smtp_body(&mut out, &Lines::Text(b"bare\nLF\r\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `body`: a body line cannot contain a line feed (byte 4)"
    );
    let long = vec![b'x'; 999];
    let err = smtp_body(&mut out, &Lines::Text(&long)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `body`: a body line of 999 bytes is over the limit of 998 bytes"
    );
    let big = b"0123456789\r\n".repeat(400);
    let err = smtp_body(&mut out, &Lines::Text(&big)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `body`: a body of 4800 bytes is over the limit of 4096 bytes"
    );
    assert_eq!(out, before);

    // Without unstuffing, a line equal to the marker would end the body early.
    let mut e = Encoder::new(&mut out, &SMTP.framing);
    let err = e
        .lines("body", &Lines::Text(b"a\r\n.\r\n"), b".", None, 100)
        .unwrap_err();
    assert_eq!(*err.kind(), EncodeErrorKind::Marker);
    drop(e);

    let headers = [Header {
        name: b"Bad Name",
        value: b"v",
    }];
    let err = http_request(&mut out, b"GET", b"/", b"1", Seq::from(&headers)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `name`: a token cannot contain a space (byte 3)"
    );
    let err = http_request(&mut out, b"GET", b"/", b"2", Seq::from(&headers)).unwrap_err();
    assert_eq!(*err.kind(), EncodeErrorKind::NotOneOf);
    assert_eq!(out, before);

    let err = resp_command(&mut out, Seq::from(&[&[0u8; 4097][..]])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `data`: a run of 4097 bytes is over the limit of 4096 bytes"
    );
    assert_eq!(out, before);
}

/// The framing of a line protocol ending its lines with `term`, whose readers also take
/// `"\r\n"` when `bare_lf`.
const fn line_framing(term: &'static [u8], max: u32, bare_lf: bool) -> Framing {
    Framing::Line {
        term,
        max,
        bare_lf,
        nocase: false,
    }
}

#[test]
fn a_rest_of_line_follows_the_terminator() {
    static LF: Framing = line_framing(b"\n", 80, false);
    // Readers also take "\r\n" (`crlf accept`): no CR at the end, where they would take
    // it for part of the terminator; inside the line it is data to them.
    static LF_CRLF_READERS: Framing = line_framing(b"\n", 80, true);
    static NUL: Framing = line_framing(b"\0", 80, false);
    let rest = |framing: &'static Framing, v: &[u8]| {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, framing);
        e.rest("text", v).map(|()| e.written().to_vec())
    };
    // With "\n", a CR is data, as the decoder reads it back.
    assert_eq!(rest(&LF, b"a\rb\r").unwrap(), b"a\rb\r");
    assert!(rest(&LF, b"a\nb").is_err());
    assert_eq!(rest(&LF_CRLF_READERS, b"a\rb").unwrap(), b"a\rb");
    assert!(rest(&LF_CRLF_READERS, b"ab\r").is_err());
    assert_eq!(rest(&NUL, b"two\r\nlines").unwrap(), b"two\r\nlines");
    assert!(rest(&NUL, b"a\0").is_err());
    assert!(rest(&SMTP.framing, b"a\rb").is_err());
    // A word never holds a CR or LF, whatever the terminator.
    let mut out = Vec::new();
    assert!(Encoder::new(&mut out, &LF).word("w", b"a\rb").is_err());
}

#[test]
fn encoder_frame_misuse_and_limits() {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out, &KV.framing);
    let err = e.end_frame().unwrap_err();
    assert_eq!(err.to_string(), "no frame was started");
    e.begin_frame();
    e.begin_frame();
    assert_eq!(
        e.end_frame().unwrap_err().to_string(),
        "a frame cannot start inside another"
    );
    drop(e);

    let mut e = Encoder::new(&mut out, &SMTP.framing);
    e.begin_frame();
    assert_eq!(
        e.finish().unwrap_err().to_string(),
        "a frame cannot be written in a line protocol"
    );

    let mut e = Encoder::new(&mut out, &KV.framing);
    e.begin_frame();
    e.lit(&vec![0; (1 << 20) + 1]);
    assert_eq!(
        e.end_frame().unwrap_err().to_string(),
        "a frame body of 1048577 bytes is over the limit of 1048576 bytes"
    );
    drop(e);
    assert!(out.is_empty());

    // A message left unfinished (an error propagated by `?`) is removed.
    let mut out = b"keep".to_vec();
    {
        let mut e = Encoder::new(&mut out, &RESP.framing);
        e.lit(b"+half");
    }
    assert_eq!(out, b"keep");
}

// ===== views =====

#[test]
fn views_never_panic_on_odd_slots() {
    let buf = b"abc";
    assert_eq!(bytes_at(buf, Slot::Range(2, 1)), b"");
    assert_eq!(bytes_at(buf, Slot::Range(u32::MAX, u32::MAX)), b"");
    assert_eq!(int_at(Slot::Range(0, 1)), 0);
    let items = [Slot::Range(0, 1), Slot::Int(5)];
    let odd: Seq<'_, Header<'_>> = seq_at(buf, &items, Slot::Seq { start: 1, len: 1 });
    assert!(odd.is_empty());
    let huge: Seq<'_, &[u8]> = seq_at(
        buf,
        &items,
        Slot::Seq {
            start: u32::MAX,
            len: u32::MAX,
        },
    );
    assert_eq!(huge.len(), 0);
    let mixed: Seq<'_, &[u8]> = seq_at(buf, &items, Slot::Seq { start: 0, len: 2 });
    assert_eq!(mixed.to_vec(), [&b"a"[..], b""]);
    assert_eq!(mixed.get(5), None);
    let mut it = mixed.iter();
    assert_eq!(it.nth(1), Some(&b""[..]));
    assert_eq!(it.next(), None);
    assert!(!present(Slot::Empty));
    assert_eq!(format!("{:?}", mixed), "[[97], []]");
}

#[test]
fn lines_views_split_decoded_runs_and_text() {
    // With "\r\n", a decoded run may hold bare-LF lines when the framing accepts them.
    let raw = b"a\r\nb\n..c\r\n";
    let lines = lines_at(raw, Slot::Range(0, raw.len() as u32), b"\r\n", Some(b"."));
    assert_eq!(lines.iter().collect::<Vec<_>>(), [&b"a"[..], b"b", b".c"]);
    assert_eq!(lines.to_vec(), b"a\r\nb\r\n.c\r\n");
    // Another terminator.
    let nul = Lines::Decoded {
        raw: b"x\0y\0",
        term: b"\0",
        unstuff: None,
    };
    assert_eq!(nul.iter().collect::<Vec<_>>(), [&b"x"[..], b"y"]);
    assert!(Lines::Text(b"").is_empty());
    assert_eq!(Lines::from("a\r\n").iter().count(), 1);
    // A malformed view (empty terminator) still ends.
    let odd = Lines::Decoded {
        raw: b"abc",
        term: b"",
        unstuff: Some(b""),
    };
    assert_eq!(odd.iter().collect::<Vec<_>>(), [&b"abc"[..]]);
}

#[test]
fn decoder_is_send_and_debug() {
    fn assert_send<T: Send>() {}
    assert_send::<Decoder>();
    assert_send::<DecodeError>();
    assert_send::<EncodeError>();
    let dec = Decoder::new(&RESP);
    assert!(format!("{dec:?}").contains("resp"));
}

#[test]
fn buffer_limits_cover_the_largest_message() {
    assert_eq!(Decoder::new(&RESP).buffer_limit(), 64 * 1024);
    assert_eq!(Decoder::new(&KV).buffer_limit(), (1 << 20) + 8);
    assert_eq!(Decoder::new(&HTTP).buffer_limit(), 64 * 1024);
}

#[test]
fn errors_convert_for_handlers() {
    let (_, got) = decode_once(&SMTP, b"FOO\r\n", COMMANDS);
    let err = got.unwrap_err();
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
    let err: asyncore_runtime::Error = err.into();
    assert_eq!(err.to_string(), "smtp: unknown message (byte 0)");
    let mut out = Vec::new();
    let enc = smtp_helo(&mut out, b"a\rb").unwrap_err();
    let io: std::io::Error = enc.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    let err: asyncore_runtime::Error = enc.into();
    assert!(err.to_string().starts_with("field `domain`"));
}

// ===== garbage =====

/// A xorshift64 generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces random inputs are made of, per program: whole messages, likely tokens.
fn tokens(program: &Program) -> &'static [&'static [u8]] {
    match program.name {
        "resp" => &[
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"PING x\r\n",
            b"+OK\r\n",
            b":12\r\n",
            b"*",
            b"$",
            b"+",
            b":",
            b"-",
            b"1",
            b"2",
            b"17",
            b"\r\n",
            b"\r",
            b"\n",
            b" ",
        ],
        "memcache" => &[
            b"get a b\r\n",
            b"set k 0 0 3\r\nabc\r\n",
            b"set k 1 -1 2 noreply\r\nxy\r\n",
            b"delete k noreply\r\n",
            b"quit\r\n",
            b"get",
            b"set",
            b" ",
            b"\t",
            b"k",
            b"0",
            b"5",
            b"-1",
            b"noreply",
            b"\r\n",
            b"\n",
            b"\r",
        ],
        "smtp" => &[
            b"HELO x\r\n",
            b"mail from:<a>\r\n",
            b"RCPT TO:<b>\r\n",
            b"DATA\r\n",
            b"line\r\n..dot\r\n.\r\n",
            b"QUIT\r\n",
            b".",
            b" ",
            b"\r\n",
            b"\n",
            b"\r",
            b"x",
        ],
        "http" => &[
            b"GET / HTTP/1.1\r\n",
            b"POST /a HTTP/1.0\r\n",
            b"Host: x\r\n",
            b"A:b\r\n",
            b"\r\n",
            b"GET",
            b" ",
            b"/",
            b"HTTP/1.",
            b":",
            b"\n",
            b"\r",
        ],
        _ => &[
            b"\0\0\0\x04\x01key",
            b"\0\0\0\x09\x02\0\x03abcval",
            b"\0\0\0\x03\x81hi",
            b"\0\0\0\x01\x82",
            b"\0\0\0",
            b"\0",
            b"\x01",
            b"\x02",
            b"\x81",
            b"\x04",
            b"\xff",
        ],
    }
}

/// Decodes `input` fed in random chunks with fixed `allowed`, reading every slot through
/// the views; the transcript.
fn fuzz_run(
    program: &'static Program,
    input: &[u8],
    allowed: &[u16],
    rng: Option<&mut Rng>,
) -> Vec<String> {
    let mut dec = Decoder::new(program);
    let mut buf = Vec::new();
    let mut fed = 0;
    let mut out = Vec::new();
    let mut rng = rng;
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(calls < 8 * input.len() + 64, "no progress on {input:?}");
        match dec.decode(&buf, allowed) {
            Ok(Decoded::NeedMore) => {
                if fed == input.len() {
                    break;
                }
                let n = match rng.as_deref_mut() {
                    Some(rng) => 1 + rng.below(6),
                    None => input.len(),
                };
                let to = (fed + n).min(input.len());
                buf.extend_from_slice(&input[fed..to]);
                fed = to;
            }
            Ok(Decoded::Message { index, len }) => {
                assert!((1..=buf.len()).contains(&len));
                assert!((usize::from(index)) < program.messages.len());
                let msg = &buf[..len];
                for &slot in dec.slots() {
                    let _ = (bytes_at(msg, slot), int_at(slot), present(slot));
                    let a: Seq<'_, &[u8]> = seq_at(msg, dec.items(), slot);
                    let b: Seq<'_, Header<'_>> = seq_at(msg, dec.items(), slot);
                    let c: Seq<'_, u64> = seq_at(msg, dec.items(), slot);
                    let _ = (a.to_vec(), b.to_vec(), c.to_vec());
                    let _ = lines_at(msg, slot, b"\r\n", Some(b".")).to_vec();
                }
                out.push(render(&dec, msg, index));
                buf.drain(..len);
            }
            Ok(Decoded::Skip { len }) => {
                assert!((1..=buf.len()).contains(&len));
                buf.drain(..len);
            }
            Err(e) => {
                let _ = e.to_string();
                if !e.can_continue() {
                    out.push(format!("fatal {e}"));
                    return out;
                }
                out.push(format!("error {e}"));
            }
        }
    }
    out.push(format!("left {}", buf.len()));
    out
}

#[test]
fn garbage_never_panics_and_never_depends_on_the_split() {
    let programs: [&'static Program; 6] = [&RESP, &MEMCACHE, &SMTP, &SMTP_BARE_LF, &HTTP, &KV];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut input = Vec::new();
    let mut messages = 0;
    for round in 0..300_000 {
        let program = programs[round % programs.len()];
        let pieces = tokens(program);
        input.clear();
        for _ in 0..rng.below(16) {
            match rng.below(8) {
                0 => input.push(rng.next() as u8),
                1 if !input.is_empty() => {
                    // Change one byte of what is there.
                    let i = rng.below(input.len());
                    input[i] = rng.next() as u8;
                }
                _ => input.extend_from_slice(pieces[rng.below(pieces.len())]),
            }
        }
        let n = program.messages.len();
        let mut allowed: Vec<u16> = (0..n as u16).filter(|_| rng.below(3) != 0).collect();
        if allowed.len() > 1 && rng.below(2) == 0 {
            allowed.swap(0, 1);
        }
        if rng.below(200) == 0 {
            allowed.push(n as u16 + 3); // an index past the program: an error, not a panic
        }
        let whole = fuzz_run(program, &input, &allowed, None);
        if round % 4 == 0 {
            let mut chunks = Rng(rng.next() | 1);
            let split = fuzz_run(program, &input, &allowed, Some(&mut chunks));
            assert_eq!(
                split,
                whole,
                "{} input {:?}",
                program.name,
                input.escape_ascii().to_string()
            );
        }
        messages += whole
            .iter()
            .filter(|s| !s.starts_with(['e', 'f', 'l']))
            .count();
    }
    // The inputs are not all rejected at the first byte.
    assert!(messages > 100_000, "only {messages} messages decoded");
}

/// Random, mostly malformed programs: the decoder reports them, never panics.
#[test]
fn malformed_programs_never_panic() {
    static LITS: &[&[u8]] = &[b"a", b"ab", b""];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let framings = [
        Framing::Line {
            term: b"\r\n",
            max: 32,
            bare_lf: false,
            nocase: true,
        },
        Framing::Line {
            term: b"",
            max: 32,
            bare_lf: false,
            nocase: false,
        },
        Framing::Line {
            term: b"ab",
            max: 4,
            bare_lf: true,
            nocase: false,
        },
        Framing::Length(LengthHeader {
            offset: 1,
            width: 3,
            big_endian: true,
            adjust: -2,
            skip: 9,
            max: 16,
        }),
        Framing::Length(LengthHeader {
            offset: 0,
            width: 1,
            big_endian: true,
            adjust: 0,
            skip: 0,
            max: 16,
        }),
    ];
    for round in 0..3000 {
        let mut messages = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let mut ops = Vec::new();
            if rng.below(5) != 0 {
                ops.push(if rng.below(2) == 0 {
                    Op::Line
                } else {
                    Op::Frame
                });
            }
            for _ in 0..rng.below(10) {
                let slot = rng.below(4) as u16;
                let len = rng.below(4) as u16;
                let small = rng.below(5) as u32;
                ops.push(match rng.below(24) {
                    0 => Op::Line,
                    1 | 2 => Op::EndLine,
                    3 => Op::Frame,
                    4 => Op::EndFrame,
                    5 => Op::Lit(LITS[rng.below(3)]),
                    6 => Op::Sep,
                    7 => Op::Ows,
                    8 => Op::Word { slot },
                    9 => Op::Token { slot },
                    10 => Op::Rest { slot },
                    11 => Op::OneOf { slot, lits: LITS },
                    12 => Op::Uint { slot, max: 99 },
                    13 => Op::Int {
                        slot,
                        min: -5,
                        max: 5,
                    },
                    14 => Op::Hex { slot, max: 0xff },
                    15 => Op::Bin {
                        slot,
                        width: rng.below(9) as u8,
                        big_endian: rng.below(2) == 0,
                        signed: rng.below(2) == 0,
                    },
                    16 => Op::Bytes {
                        slot,
                        len: rng.below(4) as u16,
                        len_in_message: rng.below(2) == 0,
                        max: small,
                    },
                    17 => Op::LinesUntil {
                        slot,
                        marker: LITS[rng.below(3)],
                        max: small * 4,
                    },
                    18 => Op::Opt { slot, len },
                    19 => Op::Repeat {
                        slot,
                        count: rng.below(4) as u16,
                        len,
                        stride: rng.below(3) as u16,
                        max: small,
                        signed: rng.below(2) == 0,
                    },
                    20 => Op::Many {
                        slot,
                        len,
                        stride: rng.below(3) as u16,
                        min: rng.below(2) as u32,
                        max: small,
                    },
                    21 => Op::ManyUntil {
                        slot,
                        marker: LITS[rng.below(3)],
                        len,
                        stride: rng.below(3) as u16,
                        max: small,
                    },
                    22 => Op::Quoted {
                        slot,
                        sep: rng.below(2) == 0,
                        min: rng.below(2) as u32,
                        max: small,
                    },
                    23 => Op::Commit,
                    _ => Op::EndLine,
                });
            }
            messages.push(Message {
                name: "M",
                slots: rng.below(5) as u16,
                ops: Vec::leak(ops),
                max: 8 + rng.below(64) as u32,
            });
        }
        let program: &'static Program = Box::leak(Box::new(Program {
            name: "random",
            framing: framings[round % framings.len()],
            messages: Vec::leak(messages),
        }));
        let n = program.messages.len() as u16;
        let allowed: Vec<u16> = (0..n).rev().collect();
        let alphabet: &[u8] = b"aab \t1-2\r\n\0\x05\xff.:";
        for _ in 0..20 {
            let input: Vec<u8> = (0..rng.below(40))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let whole = fuzz_run(program, &input, &allowed, None);
            let mut chunks = Rng(rng.next() | 1);
            assert_eq!(
                fuzz_run(program, &input, &allowed, Some(&mut chunks)),
                whole
            );
        }
    }
}

#[test]
fn a_lone_cr_is_data_when_bare_lf_is_accepted() {
    static LENIENT: Program = Program {
        name: "lenient",
        framing: Framing::Line {
            term: b"\r\n",
            max: 64,
            bare_lf: true,
            nocase: false,
        },
        messages: &[Message {
            name: "Say",
            slots: 1,
            max: 66,
            ops: &[Op::Line, Op::Rest { slot: 0 }, Op::EndLine],
        }],
    };
    let mut dec = Decoder::new(&LENIENT);
    let input = b"a\rb\nc\r\r\n";
    assert_eq!(
        dec.decode(input, &[0]).unwrap(),
        Decoded::Message { index: 0, len: 4 }
    );
    assert_eq!(bytes_at(input, dec.slots()[0]), b"a\rb");
    let rest = &input[4..];
    assert_eq!(
        dec.decode(rest, &[0]).unwrap(),
        Decoded::Message { index: 0, len: 4 }
    );
    assert_eq!(bytes_at(rest, dec.slots()[0]), b"c\r");
}

/// A rest of line is searched for terminator bytes byte by byte when short and with a
/// vector search when long: both find a CR or LF at every position, with the same error.
#[test]
fn rest_refuses_terminator_bytes_at_every_length() {
    static CRLF: Framing = line_framing(b"\r\n", 4096, false);
    static LF: Framing = line_framing(b"\n", 4096, false);
    for len in 1..40 {
        for at in 0..len {
            for (framing, bad) in [(&CRLF, b'\r'), (&CRLF, b'\n'), (&LF, b'\n')] {
                let mut v = vec![b'a'; len];
                v[at] = bad;
                let mut out = Vec::new();
                let err = Encoder::new(&mut out, framing)
                    .rest("text", &v)
                    .unwrap_err();
                assert!(
                    matches!(err.kind(), EncodeErrorKind::Byte { byte, position, .. }
                        if *byte == bad && *position == at),
                    "{len} bytes, {bad} at {at}: {err}"
                );
            }
        }
        let clean = vec![b'a'; len];
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, &CRLF);
        e.rest("text", &clean).unwrap();
        e.finish().unwrap();
        assert_eq!(out, clean);
    }
}

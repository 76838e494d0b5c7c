//! The `wire` runtime on binary protocols, with hand-written programs: MQTT-like frames
//! (bit fields in the first byte, a varint length the messages step over, a packet id
//! present only when the QoS is above 0) and PostgreSQL-like ones (typed frames,
//! NUL-terminated strings, nullable values, untyped startup packets and a one-byte answer
//! next to them), and a line protocol with framed and fixed-size messages.
//!
//! Every conversation is encoded with the `Encoder`, decoded whole, split at every byte
//! and fed in chunks, with the same messages each way. Then: bad input (each error named,
//! and recovered from when it can be), message choice across framings, malformed programs
//! (an error, never a panic), encoder refusals, and random programs and inputs that must
//! never panic or depend on the split.

use asyncore_runtime::wire::{
    bytes_at, int_at, present, seq_at, Cmp, DecodeErrorKind, Decoded, Decoder, EncodeError,
    EncodeErrorKind, Encoder, Framing, Item, LengthHeader, Limit, Message, Op, Program, Seq, Slot,
};

// ===== programs =====

/// MQTT's fixed header: a type and flags byte the messages read, then a varint length.
const MQTT_HEADER: LengthHeader = LengthHeader {
    offset: 1,
    width: 0,
    big_endian: true,
    adjust: 0,
    skip: 0,
    max: 300,
};

/// MQTT, as a broker reads it: PUBLISH (without properties), PINGREQ, and an AUTH-like
/// packet whose body starts with a varint.
static MQTT: Program = Program {
    name: "mqtt",
    framing: Framing::Length(MQTT_HEADER),
    messages: &[
        Message {
            name: "Publish",
            slots: 7,
            max: 303,
            ops: &[
                Op::Frame,
                Op::BitsLit {
                    shift: 4,
                    bits: 4,
                    value: 3,
                },
                Op::Bits {
                    slot: 0, // dup
                    shift: 3,
                    bits: 1,
                },
                Op::Bits {
                    slot: 1, // qos
                    shift: 1,
                    bits: 2,
                },
                Op::Bits {
                    slot: 2, // retain
                    shift: 0,
                    bits: 1,
                },
                Op::LengthField,
                Op::Bin {
                    slot: 3,
                    width: 2,
                    big_endian: true,
                    signed: false,
                },
                Op::Bytes {
                    slot: 3, // the topic replaces its length
                    len: 3,
                    len_in_message: true,
                    max: 300,
                },
                Op::If {
                    slot: 4,
                    test: 1,
                    test_in_message: true,
                    cmp: Cmp::Gt,
                    value: 0,
                    len: 1,
                },
                Op::Bin {
                    slot: 5, // packet id
                    width: 2,
                    big_endian: true,
                    signed: false,
                },
                Op::Rest { slot: 6 }, // payload
                Op::EndFrame,
            ],
        },
        Message {
            name: "PingReq",
            slots: 0,
            max: 2,
            ops: &[Op::Frame, Op::Lit(&[0xc0]), Op::LengthField, Op::EndFrame],
        },
        Message {
            name: "Auth",
            slots: 2,
            max: 303,
            ops: &[
                Op::Frame,
                Op::BitsLit {
                    shift: 4,
                    bits: 4,
                    value: 15,
                },
                Op::BitsLit {
                    shift: 0,
                    bits: 4,
                    value: 0,
                },
                Op::LengthField,
                Op::Varint { slot: 0, max: 1000 },
                Op::Rest { slot: 1 },
                Op::EndFrame,
            ],
        },
    ],
};
const PUBLISH: u16 = 0;
const PINGREQ: u16 = 1;
const AUTH: u16 = 2;

/// PostgreSQL's typed messages: a type byte, then a 4-byte length that counts itself.
const TYPED: LengthHeader = LengthHeader {
    offset: 1,
    width: 4,
    big_endian: true,
    adjust: -4,
    skip: 0,
    max: 1000,
};

/// PostgreSQL's untyped startup packets: a 4-byte length that counts itself.
static STARTUP: LengthHeader = LengthHeader {
    offset: 0,
    width: 4,
    big_endian: true,
    adjust: -4,
    skip: 4,
    max: 1000,
};

const SSL_REQUEST_CODE: [u8; 4] = [0x04, 0xd2, 0x16, 0x2f];

/// PostgreSQL, as the server reads it.
static PG_FRONTEND: Program = Program {
    name: "pg",
    framing: Framing::Length(TYPED),
    messages: &[
        Message {
            name: "Startup",
            slots: 1,
            max: 1004,
            ops: &[
                Op::FrameWith(&STARTUP),
                Op::Lit(&[0, 3, 0, 0]),
                Op::Many {
                    slot: 0,
                    len: 2,
                    stride: 2,
                    min: 0,
                    max: 16,
                },
                Op::CStr { slot: 0 },
                Op::CStr { slot: 1 },
                Op::Lit(b"\0"),
                Op::EndFrame,
            ],
        },
        Message {
            name: "SslRequest",
            slots: 0,
            max: 8,
            ops: &[
                Op::FrameWith(&STARTUP),
                Op::Lit(&SSL_REQUEST_CODE),
                Op::EndFrame,
            ],
        },
        Message {
            name: "Query",
            slots: 1,
            max: 1005,
            ops: &[
                Op::Frame,
                Op::Lit(b"Q"),
                Op::LengthField,
                Op::CStr { slot: 0 },
                Op::EndFrame,
            ],
        },
        Message {
            name: "Terminate",
            slots: 0,
            max: 5,
            ops: &[Op::Frame, Op::Lit(b"X"), Op::LengthField, Op::EndFrame],
        },
    ],
};
const STARTUP_MSG: u16 = 0;
const SSL_REQUEST: u16 = 1;
const QUERY: u16 = 2;
const TERMINATE: u16 = 3;

/// PostgreSQL, as the client reads it.
static PG_BACKEND: Program = Program {
    name: "pg",
    framing: Framing::Length(TYPED),
    messages: &[
        Message {
            name: "SslNo",
            slots: 0,
            max: 1,
            ops: &[Op::Fixed(1), Op::Lit(b"N"), Op::EndFrame],
        },
        Message {
            name: "SslYes",
            slots: 0,
            max: 1,
            ops: &[Op::Fixed(1), Op::Lit(b"S"), Op::EndFrame],
        },
        Message {
            name: "DataRow",
            slots: 2,
            max: 1005,
            ops: &[
                Op::Frame,
                Op::Lit(b"D"),
                Op::LengthField,
                Op::Bin {
                    slot: 0,
                    width: 2,
                    big_endian: true,
                    signed: false,
                },
                Op::Repeat {
                    slot: 1,
                    count: 0,
                    len: 3,
                    stride: 3,
                    max: 16,
                    signed: false,
                },
                Op::Bin {
                    slot: 0,
                    width: 4,
                    big_endian: true,
                    signed: true,
                },
                // A length of -1 is a NULL: no bytes follow.
                Op::If {
                    slot: 1,
                    test: 0,
                    test_in_message: false,
                    cmp: Cmp::Ne,
                    value: u64::MAX,
                    len: 1,
                },
                Op::Bytes {
                    slot: 2,
                    len: 0,
                    len_in_message: false,
                    max: 1000,
                },
                Op::EndFrame,
            ],
        },
        Message {
            name: "ReadyForQuery",
            slots: 1,
            max: 6,
            ops: &[
                Op::Frame,
                Op::Lit(b"Z"),
                Op::LengthField,
                Op::OneOf {
                    slot: 0,
                    lits: &[b"I", b"T", b"E"],
                },
                Op::EndFrame,
            ],
        },
        Message {
            name: "CommandComplete",
            slots: 1,
            max: 1005,
            ops: &[
                Op::Frame,
                Op::Lit(b"C"),
                Op::LengthField,
                Op::CStr { slot: 0 },
                Op::EndFrame,
            ],
        },
    ],
};
const SSL_NO: u16 = 0;
const SSL_YES: u16 = 1;
const DATA_ROW: u16 = 2;
const READY: u16 = 3;
const COMPLETE: u16 = 4;

/// A 2-byte length, for the framed messages of a line protocol.
static BLOB: LengthHeader = LengthHeader {
    offset: 0,
    width: 2,
    big_endian: true,
    adjust: 0,
    skip: 2,
    max: 200,
};

/// A line protocol with a one-byte acknowledgement, a framed blob, and a line followed by
/// two raw bytes.
static MIXED: Program = Program {
    name: "mixed",
    framing: Framing::Line {
        term: b"\r\n",
        max: 64,
        bare_lf: false,
        nocase: false,
    },
    messages: &[
        Message {
            name: "Hello",
            slots: 0,
            max: 66,
            ops: &[Op::Line, Op::Lit(b"HELLO"), Op::EndLine],
        },
        Message {
            name: "Ack",
            slots: 1,
            max: 1,
            ops: &[
                Op::Fixed(1),
                Op::BitsLit {
                    shift: 7,
                    bits: 1,
                    value: 1,
                },
                Op::Bits {
                    slot: 0,
                    shift: 0,
                    bits: 7,
                },
                Op::EndFrame,
            ],
        },
        Message {
            name: "Blob",
            slots: 1,
            max: 50, // less than the header allows
            ops: &[Op::FrameWith(&BLOB), Op::Rest { slot: 0 }, Op::EndFrame],
        },
        Message {
            name: "Bin2",
            slots: 1,
            max: 7,
            ops: &[
                Op::Line,
                Op::Lit(b"BIN"),
                Op::EndLine,
                Op::Fixed(2),
                Op::Bin {
                    slot: 0,
                    width: 2,
                    big_endian: true,
                    signed: false,
                },
                Op::EndFrame,
            ],
        },
    ],
};
const HELLO: u16 = 0;
const ACK: u16 = 1;
const BLOB_MSG: u16 = 2;
const BIN2: u16 = 3;

// ===== harness =====

mod support;
use support::{all, check_everywhere, decode_once, fixed, render};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ===== encoders, as generated code writes them =====

#[allow(clippy::too_many_arguments)]
fn mqtt_publish(
    out: &mut Vec<u8>,
    dup: bool,
    qos: u64,
    retain: bool,
    topic: &[u8],
    packet_id: Option<u64>,
    payload: &[u8],
) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MQTT.framing);
    e.begin_frame();
    e.bits_lit(3, 4, 4);
    e.bits("dup", dup.into(), 3, 1)?;
    e.bits("qos", qos, 1, 2)?;
    e.bits("retain", retain.into(), 0, 1)?;
    e.length_field();
    e.bin("topic_len", topic.len() as u64, 2, true)?;
    e.bytes("topic", topic, 300)?;
    e.present("packet_id", packet_id.is_some(), qos > 0)?;
    if let Some(id) = packet_id {
        e.bin("packet_id", id, 2, true)?;
    }
    e.rest("payload", payload)?;
    e.end_frame()?;
    e.finish()
}

fn mqtt_pingreq(out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MQTT.framing);
    e.begin_frame();
    e.bits_lit(12, 4, 4);
    e.bits_lit(0, 0, 4);
    e.length_field();
    e.end_frame()?;
    e.finish()
}

fn mqtt_auth(out: &mut Vec<u8>, n: u64, data: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MQTT.framing);
    e.begin_frame();
    e.bits_lit(15, 4, 4);
    e.bits_lit(0, 0, 4);
    e.length_field();
    e.varint("n", n, 1000)?;
    e.rest("data", data)?;
    e.end_frame()?;
    e.finish()
}

fn pg_ssl_request(out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_FRONTEND.framing);
    e.begin_frame_with(&STARTUP);
    e.lit(&SSL_REQUEST_CODE);
    e.end_frame()?;
    e.finish()
}

fn pg_startup(out: &mut Vec<u8>, params: &[(&[u8], &[u8])]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_FRONTEND.framing);
    e.begin_frame_with(&STARTUP);
    e.lit(&[0, 3, 0, 0]);
    for (name, value) in params {
        e.cstr("name", name)?;
        e.cstr("value", value)?;
    }
    e.lit(b"\0");
    e.end_frame()?;
    e.finish()
}

fn pg_query(out: &mut Vec<u8>, sql: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_FRONTEND.framing);
    e.begin_frame();
    e.lit(b"Q");
    e.length_field();
    e.cstr("query", sql)?;
    e.end_frame()?;
    e.finish()
}

fn pg_terminate(out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_FRONTEND.framing);
    e.begin_frame();
    e.lit(b"X");
    e.length_field();
    e.end_frame()?;
    e.finish()
}

fn pg_ssl_no(out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_BACKEND.framing);
    e.begin_fixed();
    e.lit(b"N");
    e.end_fixed(1)?;
    e.finish()
}

fn pg_data_row(out: &mut Vec<u8>, values: &[Option<&[u8]>]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_BACKEND.framing);
    e.begin_frame();
    e.lit(b"D");
    e.length_field();
    e.bin("count", values.len() as u64, 2, true)?;
    for value in values {
        let len = value.map_or(-1, |v| v.len() as i64);
        e.bin_signed("len", len, 4, true)?;
        e.present(
            "value",
            value.is_some(),
            Cmp::Ne.holds(len as u64, u64::MAX),
        )?;
        if let Some(v) = value {
            e.bytes("value", v, 1000)?;
        }
    }
    e.end_frame()?;
    e.finish()
}

fn pg_ready(out: &mut Vec<u8>, status: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_BACKEND.framing);
    e.begin_frame();
    e.lit(b"Z");
    e.length_field();
    e.one_of("status", status, &[b"I", b"T", b"E"])?;
    e.end_frame()?;
    e.finish()
}

fn pg_complete(out: &mut Vec<u8>, tag: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &PG_BACKEND.framing);
    e.begin_frame();
    e.lit(b"C");
    e.length_field();
    e.cstr("tag", tag)?;
    e.end_frame()?;
    e.finish()
}

fn mixed_blob(out: &mut Vec<u8>, data: &[u8]) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MIXED.framing);
    e.begin_frame_with(&BLOB);
    e.rest("data", data)?;
    e.end_frame()?;
    e.finish()
}

fn mixed_ack(out: &mut Vec<u8>, n: u64) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MIXED.framing);
    e.begin_fixed();
    e.bits_lit(1, 7, 1);
    e.bits("n", n, 0, 7)?;
    e.end_fixed(1)?;
    e.finish()
}

fn mixed_bin2(out: &mut Vec<u8>, v: u64) -> Result<(), EncodeError> {
    let mut e = Encoder::new(out, &MIXED.framing);
    e.lit(b"BIN");
    e.end_line();
    e.begin_fixed();
    e.bin("v", v, 2, true)?;
    e.end_fixed(2)?;
    e.finish()
}

// ===== conversations, encoded, then decoded split everywhere =====

#[test]
fn mqtt_split_everywhere() {
    let mut input = Vec::new();
    mqtt_publish(&mut input, false, 0, false, b"a/b", None, b"hi").unwrap();
    assert_eq!(input, b"\x30\x07\0\x03a/bhi");
    mqtt_pingreq(&mut input).unwrap();
    assert_eq!(input[9..], [0xc0, 0x00]);
    let payload = [b'x'; 130];
    mqtt_publish(&mut input, true, 2, true, b"t", Some(0x1234), &payload).unwrap();
    // dup, QoS 2 and retain; a body of 2 + 1 + 2 + 130 = 135 bytes: a 2-byte varint.
    assert_eq!(input[11..14], [0x3d, 0x87, 0x01]);
    mqtt_auth(&mut input, 300, b"ok").unwrap();
    assert_eq!(
        input[input.len() - 6..],
        [0xf0, 0x04, 0xac, 0x02, b'o', b'k']
    );
    mqtt_publish(&mut input, false, 1, false, b"", Some(0), b"").unwrap();

    let expected = vec![
        "Publish(0, 0, 0, a/b, 0, -, hi)".to_string(),
        "PingReq()".to_string(),
        format!("Publish(1, 2, 1, t, 1, 4660, {})", "x".repeat(130)),
        "Auth(300, ok)".to_string(),
        "Publish(0, 1, 0, , 1, 0, )".to_string(),
    ];
    check_everywhere(&MQTT, &input, &all(&MQTT), &expected);
}

#[test]
fn pg_frontend_split_everywhere() {
    let mut input = Vec::new();
    pg_ssl_request(&mut input).unwrap();
    assert_eq!(input, b"\0\0\0\x08\x04\xd2\x16\x2f");
    pg_startup(&mut input, &[(b"user", b"alice"), (b"database", b"db")]).unwrap();
    pg_query(&mut input, b"SELECT 1").unwrap();
    pg_terminate(&mut input).unwrap();
    assert_eq!(
        input[input.len() - 19..],
        *b"Q\0\0\0\x0dSELECT 1\0X\0\0\0\x04"
    );

    // Untyped packets first, typed messages once started up.
    let state = |last: Option<&str>| match last {
        None | Some("SslRequest") => vec![STARTUP_MSG, SSL_REQUEST],
        _ => vec![QUERY, TERMINATE],
    };
    let expected = strings(&[
        "SslRequest()",
        "Startup(seq 0+2)[user, alice, database, db]",
        "Query(SELECT 1)",
        "Terminate()",
    ]);
    check_everywhere(&PG_FRONTEND, &input, &state, &expected);
}

#[test]
fn pg_backend_split_everywhere() {
    let mut input = Vec::new();
    pg_ssl_no(&mut input).unwrap();
    assert_eq!(input, b"N");
    pg_data_row(&mut input, &[Some(b"1"), None, Some(b"")]).unwrap();
    assert_eq!(
        input[1..],
        *b"D\0\0\0\x13\0\x03\0\0\0\x011\xff\xff\xff\xff\0\0\0\0"
    );
    pg_complete(&mut input, b"SELECT 1").unwrap();
    pg_ready(&mut input, b"I").unwrap();

    // The one-byte answer to SSLRequest, then typed messages.
    let state = |last: Option<&str>| match last {
        None => vec![SSL_NO, SSL_YES],
        _ => vec![DATA_ROW, READY, COMPLETE],
    };
    let expected = strings(&[
        "SslNo()",
        // Items of 3 slots: the length, the presence flag, the bytes. The NULL leaves its
        // bytes empty, and its length is -1.
        "DataRow(3, seq 0+3)[1, 1, 1, 18446744073709551615, 0, -, 0, 1, ]",
        "CommandComplete(SELECT 1)",
        "ReadyForQuery(I)",
    ]);
    check_everywhere(&PG_BACKEND, &input, &state, &expected);
}

#[test]
fn a_line_protocol_with_fixed_and_framed_messages_split_everywhere() {
    let mut input = Vec::new();
    mixed_bin2(&mut input, 258).unwrap();
    assert_eq!(input, b"BIN\r\n\x01\x02");
    input.extend_from_slice(b"HELLO\r\n");
    mixed_ack(&mut input, 5).unwrap();
    assert_eq!(input[input.len() - 1], 0x85);
    // A frame's rest takes CR and LF, even in a line protocol.
    mixed_blob(&mut input, b"a\r\nb").unwrap();
    assert_eq!(input[input.len() - 6..], *b"\0\x04a\r\nb");
    input.extend_from_slice(b"HELLO\r\n");

    let state = |last: Option<&str>| match last {
        Some("Hello") => vec![ACK],
        Some("Ack") => vec![BLOB_MSG],
        _ => vec![HELLO, BIN2],
    };
    let expected = strings(&[
        "Bin2(258)",
        "Hello()",
        "Ack(5)",
        "Blob(a\\r\\nb)",
        "Hello()",
    ]);
    check_everywhere(&MIXED, &input, &state, &expected);
    // The blob's header allows more than any line: the buffer must hold such a frame.
    assert_eq!(Decoder::new(&MIXED).buffer_limit(), 202);
}

// ===== round trips =====

#[test]
fn mqtt_publish_round_trips_across_varint_lengths() {
    for qos in 0..=2u64 {
        for len in 0..=280usize {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let id = (qos > 0).then_some(len as u64 * 7);
            let mut out = Vec::new();
            mqtt_publish(
                &mut out,
                len % 2 == 0,
                qos,
                len % 3 == 0,
                b"top/ic",
                id,
                &payload,
            )
            .unwrap();
            let body = 2 + 6 + if qos > 0 { 2 } else { 0 } + len;
            let varint = if body < 128 { 1 } else { 2 };
            assert_eq!(out.len(), 1 + varint + body, "qos {qos} len {len}");
            let (dec, got) = decode_once(&MQTT, &out, &[PINGREQ, PUBLISH]);
            assert_eq!(
                got,
                Ok(Decoded::Message {
                    index: PUBLISH,
                    len: out.len()
                })
            );
            let s = dec.slots();
            assert_eq!(int_at(s[0]), u64::from(len % 2 == 0));
            assert_eq!(int_at(s[1]), qos);
            assert_eq!(int_at(s[2]), u64::from(len % 3 == 0));
            assert_eq!(bytes_at(&out, s[3]), b"top/ic");
            assert_eq!(present(s[4]), qos > 0);
            match id {
                Some(id) => assert_eq!(s[5], Slot::Int(id)),
                None => assert_eq!(s[5], Slot::Empty),
            }
            assert_eq!(bytes_at(&out, s[6]), payload);
        }
    }
}

#[test]
fn pg_data_rows_round_trip_with_nulls() {
    let rows: [&[Option<&[u8]>]; 4] = [
        &[],
        &[None],
        &[Some(b"\0\xff binary"), None, None, Some(b"")],
        &[Some(&[7; 500])],
    ];
    for row in rows {
        let mut out = Vec::new();
        pg_data_row(&mut out, row).unwrap();
        let (dec, got) = decode_once(&PG_BACKEND, &out, &[DATA_ROW, READY]);
        assert_eq!(
            got,
            Ok(Decoded::Message {
                index: DATA_ROW,
                len: out.len()
            })
        );
        assert_eq!(int_at(dec.slots()[0]), row.len() as u64);
        let Slot::Seq { start, len } = dec.slots()[1] else {
            panic!("not a sequence: {:?}", dec.slots()[1]);
        };
        assert_eq!((start, len as usize), (0, row.len()));
        for (i, value) in row.iter().enumerate() {
            let item = &dec.items()[3 * i..3 * i + 3];
            match value {
                Some(v) => {
                    assert_eq!(item[0], Slot::Int(v.len() as u64));
                    assert_eq!(item[1], Slot::Int(1));
                    assert_eq!(bytes_at(&out, item[2]), *v);
                }
                None => {
                    assert_eq!(item, [Slot::Int(u64::MAX), Slot::Int(0), Slot::Empty]);
                    assert_eq!(int_at(item[0]) as i64, -1);
                }
            }
        }
    }
}

#[test]
fn startup_parameters_read_as_a_sequence_of_pairs() {
    let mut out = Vec::new();
    let params: [(&[u8], &[u8]); 3] = [(b"user", b"bob"), (b"options", b""), (b"a", b"b")];
    pg_startup(&mut out, &params).unwrap();
    assert_eq!(&out[..8], b"\0\0\0\x1f\0\x03\0\0");
    let (dec, got) = decode_once(&PG_FRONTEND, &out, &[STARTUP_MSG]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: STARTUP_MSG,
            len: out.len()
        })
    );
    let got: Seq<'_, Param<'_>> = seq_at(&out, dec.items(), dec.slots()[0]);
    let want: Vec<Param<'_>> = params
        .iter()
        .map(|&(name, value)| Param { name, value })
        .collect();
    assert_eq!(got.to_vec(), want);
}

/// A startup parameter: an item of two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Param<'a> {
    name: &'a [u8],
    value: &'a [u8],
}

impl<'a> Item<'a> for Param<'a> {
    const STRIDE: usize = 2;

    fn from_slots(buf: &'a [u8], slots: &'a [Slot]) -> Self {
        let at = |i: usize| slots.get(i).map_or(&[][..], |&s| bytes_at(buf, s));
        Param {
            name: at(0),
            value: at(1),
        }
    }
}

// ===== bad input =====

#[test]
fn mqtt_bad_input() {
    let allowed = all(&MQTT);
    let mut ping = Vec::new();
    mqtt_pingreq(&mut ping).unwrap();
    let then_ping = |bad: &[u8]| [bad, &ping[..]].concat();

    // A packet type no message has (PUBACK): unknown, its frame skipped.
    let input = then_ping(&[0x40, 0x02, 0x00, 0x01]);
    let expected = strings(&["error mqtt: unknown message (byte 0)", "PingReq()"]);
    check_everywhere(&MQTT, &input, &allowed, &expected);

    // A frame over its limit: reported from its header, then skipped unbuffered.
    let mut input = vec![0x30, 0xad, 0x02]; // 301
    input.extend_from_slice(&[b'z'; 301]);
    let input = then_ping(&input);
    let expected = strings(&[
        "error mqtt: frame of 301 bytes is over the limit of 300 bytes (byte 0)",
        "PingReq()",
    ]);
    check_everywhere(&MQTT, &input, &allowed, &expected);
    let (_, got) = decode_once(&MQTT, &input[..3], &[PUBLISH]);
    let err = got.unwrap_err();
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Frame,
            limit: 300,
            size: Some(301)
        }
    );

    // A varint over 64 bits inside a frame: ten bytes, the last above 1.
    let mut bad = vec![0xf0, 0x0a];
    bad.extend_from_slice(&[0xff; 9]);
    bad.push(0x02);
    let expected = strings(&[
        "error mqtt: expected a varint of at most 64 bits (message Auth, byte 2)",
        "PingReq()",
    ]);
    check_everywhere(&MQTT, &then_ping(&bad), &allowed, &expected);
    // Ten bytes ending in 1 are exactly 64 bits: u64::MAX, over Auth's maximum.
    let mut max = vec![0xf0, 0x0a];
    max.extend_from_slice(&[0xff; 9]);
    max.push(0x01);
    let (_, got) = decode_once(&MQTT, &max, &[AUTH]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::OutOfRange { min: 0, max: 1000 }
    );
    let (dec, got) = decode_once(&MQTT, &[0xf0, 0x02, 0xe8, 0x07], &[AUTH]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: AUTH,
            len: 4
        })
    );
    assert_eq!(dec.slots()[0], Slot::Int(1000));
    let (_, got) = decode_once(&MQTT, &[0xf0, 0x02, 0xe9, 0x07], &[AUTH]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::OutOfRange { min: 0, max: 1000 }
    );
    // The frame ending inside the varint.
    let expected = strings(&[
        "error mqtt: expected a varint within the unit (message Auth, byte 2)",
        "PingReq()",
    ]);
    check_everywhere(&MQTT, &then_ping(&[0xf0, 0x01, 0x80]), &allowed, &expected);

    // A topic longer than its frame; a packet id cut short.
    let expected = strings(&[
        "error mqtt: expected a counted run of bytes within the unit (message Publish, byte 4)",
        "PingReq()",
    ]);
    check_everywhere(
        &MQTT,
        &then_ping(&[0x30, 0x03, 0x00, 0x05, b'a']),
        &allowed,
        &expected,
    );
    let expected = strings(&[
        "error mqtt: expected a binary integer (message Publish, byte 5)",
        "PingReq()",
    ]);
    let cut = [0x32, 0x04, 0x00, 0x01, b'a', 0x00];
    check_everywhere(&MQTT, &then_ping(&cut), &allowed, &expected);

    // PINGREQ with flags: the literal's other bits do not match.
    let (_, got) = decode_once(&MQTT, &[0xc1, 0x00], &[PINGREQ]);
    assert_eq!(*got.unwrap_err().kind(), DecodeErrorKind::Unknown);
    // A length varint over 64 bits is fatal: the stream cannot be resynchronised.
    let (_, got) = decode_once(
        &MQTT,
        &[
            0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ],
        &[PUBLISH],
    );
    let err = got.unwrap_err();
    assert!(!err.can_continue());
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::Invalid {
            what: "a length varint of at most 64 bits"
        }
    );
}

#[test]
fn an_if_that_does_not_hold_leaves_its_slots_empty() {
    let mut out = Vec::new();
    mqtt_publish(&mut out, false, 0, false, b"t", None, b"\x01\x02").unwrap();
    let (dec, got) = decode_once(&MQTT, &out, &[PUBLISH]);
    assert!(matches!(got, Ok(Decoded::Message { index: PUBLISH, .. })));
    let s = dec.slots();
    assert_eq!((s[4], s[5]), (Slot::Int(0), Slot::Empty));
    // Not read: the two bytes are the payload.
    assert_eq!(bytes_at(&out, s[6]), b"\x01\x02");

    // The same bytes as QoS 1: they are the packet id, and the payload is empty.
    out[0] |= 0x02;
    let (dec, _) = decode_once(&MQTT, &out, &[PUBLISH]);
    let s = dec.slots();
    assert_eq!((s[4], s[5]), (Slot::Int(1), Slot::Int(0x0102)));
    assert_eq!(bytes_at(&out, s[6]), b"");

    // Slots of a skipped part are emptied even when a slot was written before.
    static REUSED: Program = Program {
        name: "reused",
        framing: Framing::Length(TYPED),
        messages: &[Message {
            name: "M",
            slots: 3,
            max: 100,
            ops: &[
                Op::Frame,
                Op::Lit(b"M"),
                Op::LengthField,
                Op::Bin {
                    slot: 0,
                    width: 1,
                    big_endian: true,
                    signed: false,
                },
                Op::Bin {
                    slot: 2,
                    width: 1,
                    big_endian: true,
                    signed: false,
                },
                Op::If {
                    slot: 1,
                    test: 0,
                    test_in_message: true,
                    cmp: Cmp::Eq,
                    value: 1,
                    len: 1,
                },
                Op::Bin {
                    slot: 2,
                    width: 1,
                    big_endian: true,
                    signed: false,
                },
                Op::Rest { slot: 0 },
                Op::EndFrame,
            ],
        }],
    };
    let (dec, got) = decode_once(&REUSED, b"M\0\0\0\x07\x00\x09\x05", &[0]);
    assert_eq!(got, Ok(Decoded::Message { index: 0, len: 8 }));
    assert_eq!(dec.slots()[1..], [Slot::Int(0), Slot::Empty]);
    let (dec, _) = decode_once(&REUSED, b"M\0\0\0\x07\x01\x09\x05", &[0]);
    assert_eq!(dec.slots()[1..], [Slot::Int(1), Slot::Int(5)]);
}

#[test]
fn pg_bad_input() {
    let typed = fixed(&[QUERY, TERMINATE]);
    let mut terminate = Vec::new();
    pg_terminate(&mut terminate).unwrap();
    let then_terminate = |bad: &[u8]| [bad, &terminate[..]].concat();

    // A type no message has.
    let expected = strings(&["error pg: unknown message (byte 0)", "Terminate()"]);
    check_everywhere(
        &PG_FRONTEND,
        &then_terminate(b"W\0\0\0\x04"),
        &typed,
        &expected,
    );

    // A string without its NUL: the frame is skipped.
    let expected = strings(&[
        "error pg: expected a NUL-terminated string (message Query, byte 5)",
        "Terminate()",
    ]);
    check_everywhere(
        &PG_FRONTEND,
        &then_terminate(b"Q\0\0\0\x07abc"),
        &typed,
        &expected,
    );

    // Bytes after the string's NUL.
    let expected = strings(&[
        "error pg: expected the end of the frame (message Query, byte 7)",
        "Terminate()",
    ]);
    check_everywhere(
        &PG_FRONTEND,
        &then_terminate(b"Q\0\0\0\x07a\0c"),
        &typed,
        &expected,
    );

    // A frame over its limit.
    let mut big = b"Q\0\0\x03\xed".to_vec(); // 1005: a body of 1001
    big.extend_from_slice(&[b'x'; 1001]);
    let expected = strings(&[
        "error pg: frame of 1001 bytes is over the limit of 1000 bytes (byte 0)",
        "Terminate()",
    ]);
    check_everywhere(&PG_FRONTEND, &then_terminate(&big), &typed, &expected);

    // A length that does not count itself: fatal.
    let (_, got) = decode_once(&PG_FRONTEND, b"Q\0\0\0\x03", &[QUERY]);
    let err = got.unwrap_err();
    assert!(!err.can_continue());

    // A value length below -1: a counted run far over its limit.
    let row = b"D\0\0\0\x0a\0\x01\xff\xff\xff\xfe";
    let (_, got) = decode_once(&PG_BACKEND, row, &[DATA_ROW]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Bytes,
            limit: 1000,
            size: Some(u64::MAX - 1)
        }
    );
    // More values announced than the row holds.
    let (_, got) = decode_once(&PG_BACKEND, b"D\0\0\0\x0a\0\x02\0\0\0\0", &[DATA_ROW]);
    assert_eq!(
        got.unwrap_err().to_string(),
        "pg: expected a binary integer (message DataRow, byte 11)"
    );
    // An SSL answer other than N or S.
    let (_, got) = decode_once(&PG_BACKEND, b"E", &[SSL_NO, SSL_YES]);
    let err = got.unwrap_err();
    assert_eq!(*err.kind(), DecodeErrorKind::Unknown);
    assert!(err.can_continue());
}

// ===== message choice across framings =====

#[test]
fn a_state_whose_only_message_is_framed_with_its_own_header_reads_that_header() {
    let mut startup = Vec::new();
    pg_startup(&mut startup, &[(b"user", b"u")]).unwrap();
    let (dec, got) = decode_once(&PG_FRONTEND, &startup, &[STARTUP_MSG]);
    assert_eq!(
        got,
        Ok(Decoded::Message {
            index: STARTUP_MSG,
            len: startup.len()
        })
    );
    assert_eq!(dec.slots()[0], Slot::Seq { start: 0, len: 1 });
    // Waits for the whole untyped frame.
    let (_, got) = decode_once(&PG_FRONTEND, &startup[..startup.len() - 1], &[STARTUP_MSG]);
    assert_eq!(got, Ok(Decoded::NeedMore));

    // The same bytes where typed messages are expected: read with the typed header, a
    // type 0 and a length of 0x1000 bytes, over the limit.
    let (_, got) = decode_once(&PG_FRONTEND, &startup, &[QUERY, TERMINATE]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Frame,
            limit: 1000,
            size: Some(0x1000 - 4)
        }
    );
    // A typed message where the startup packet is expected: 'Q' is the first byte of a
    // length.
    let mut query = Vec::new();
    pg_query(&mut query, b"SELECT 1").unwrap();
    let (_, got) = decode_once(&PG_FRONTEND, &query, &[STARTUP_MSG, SSL_REQUEST]);
    assert!(matches!(
        got.unwrap_err().kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Frame,
            ..
        }
    ));
}

#[test]
fn messages_of_another_framing_are_not_tried() {
    let mut row = Vec::new();
    pg_data_row(&mut row, &[Some(b"x")]).unwrap();
    // The first allowed message opens a one-byte unit: the frame's first byte is read as
    // that unit, and the typed messages, allowed or not, are not tried on it.
    let (_, got) = decode_once(&PG_BACKEND, &row, &[SSL_NO, DATA_ROW]);
    let err = got.unwrap_err();
    assert_eq!(*err.kind(), DecodeErrorKind::Unknown);
    assert!(err.can_continue());
    // And the other way round: "N" is the start of a typed frame, which needs more bytes.
    let (_, got) = decode_once(&PG_BACKEND, b"N", &[DATA_ROW, SSL_NO]);
    assert_eq!(got, Ok(Decoded::NeedMore));
    // A fixed-size message not allowed is reported as such, not as unknown.
    let (_, got) = decode_once(&PG_BACKEND, b"S", &[SSL_NO]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::NotAllowed { message: "SslYes" }
    );
    // A typed frame of a message not allowed here.
    let (_, got) = decode_once(&PG_BACKEND, &row, &[READY]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::NotAllowed { message: "DataRow" }
    );
    // In a line protocol: only Ack allowed, a line comes; its first byte is the unit.
    let input = b"HELLO\r\n";
    let expected = strings(&[
        "error mixed: unknown message (byte 0)",
        "error mixed: unknown message (byte 0)",
        "error mixed: unknown message (byte 0)",
        "Ack(10)",
    ]);
    check_everywhere(&MIXED, &input[..3], &fixed(&[ACK]), &expected[..3]);
    let mut with_ack = input[..3].to_vec();
    with_ack.push(0x8a);
    check_everywhere(&MIXED, &with_ack, &fixed(&[ACK]), &expected);
}

#[test]
fn fixed_and_framed_units_obey_the_message_maximum() {
    // A blob frame within its header's limit but over its message's.
    let mut out = Vec::new();
    mixed_blob(&mut out, &[b'b'; 100]).unwrap();
    out.extend_from_slice(b"\0\x01z");
    let expected = strings(&[
        "error mixed: message of 102 bytes is over the limit of 50 bytes (message Blob, byte 0)",
        "Blob(z)",
    ]);
    check_everywhere(&MIXED, &out, &fixed(&[BLOB_MSG]), &expected);

    // A fixed unit after a line, past the message's room.
    static SMALL: Program = Program {
        name: "small",
        framing: Framing::Line {
            term: b"\n",
            max: 16,
            bare_lf: false,
            nocase: false,
        },
        messages: &[Message {
            name: "M",
            slots: 1,
            max: 5,
            ops: &[
                Op::Line,
                Op::Lit(b"A"),
                Op::EndLine,
                Op::Fixed(10),
                Op::Rest { slot: 0 },
                Op::EndFrame,
            ],
        }],
    };
    let (_, got) = decode_once(&SMALL, b"A\n", &[0]);
    assert_eq!(
        *got.unwrap_err().kind(),
        DecodeErrorKind::Oversize {
            what: Limit::Message,
            limit: 5,
            size: Some(12)
        }
    );
}

// ===== malformed programs =====

/// A one-message program over fixed units of `n` bytes.
fn fixed_program(n: u32, ops: &[Op]) -> &'static Program {
    let mut all = vec![Op::Fixed(n)];
    all.extend_from_slice(ops);
    all.push(Op::EndFrame);
    Box::leak(Box::new(Program {
        name: "bad",
        framing: Framing::Length(TYPED),
        messages: Vec::leak(vec![Message {
            name: "M",
            slots: 2,
            max: 100,
            ops: Vec::leak(all),
        }]),
    }))
}

#[test]
fn malformed_programs_are_errors() {
    static COVERED: Program = Program {
        name: "covered",
        framing: Framing::Length(LengthHeader {
            offset: 0,
            width: 1,
            big_endian: true,
            adjust: 0,
            skip: 1,
            max: 10,
        }),
        messages: &[Message {
            name: "M",
            slots: 0,
            max: 11,
            ops: &[Op::Frame, Op::LengthField, Op::EndFrame],
        }],
    };
    static AWAY: Program = Program {
        name: "away",
        framing: Framing::Length(MQTT_HEADER),
        messages: &[Message {
            name: "M",
            slots: 0,
            max: 11,
            ops: &[Op::Frame, Op::LengthField, Op::EndFrame],
        }],
    };
    static LINE_FRAME: Program = Program {
        name: "line",
        framing: Framing::Line {
            term: b"\n",
            max: 8,
            bare_lf: false,
            nocase: false,
        },
        messages: &[Message {
            name: "M",
            slots: 0,
            max: 11,
            ops: &[Op::Frame, Op::EndFrame],
        }],
    };
    static OUTSIDE: Program = Program {
        name: "outside",
        framing: Framing::Length(TYPED),
        messages: &[Message {
            name: "M",
            slots: 1,
            max: 11,
            ops: &[Op::Varint { slot: 0, max: 9 }],
        }],
    };
    let if_op = |test: u16, in_message: bool, len: u16| Op::If {
        slot: 1,
        test,
        test_in_message: in_message,
        cmp: Cmp::Eq,
        value: 0,
        len,
    };
    let bits = |shift: u8, bits: u8| Op::Bits {
        slot: 0,
        shift,
        bits,
    };
    let cases: Vec<(&'static Program, &[u8], &str)> = vec![
        (fixed_program(1, &[bits(0, 0)]), b"x", "bit field"),
        (fixed_program(1, &[bits(5, 4)]), b"x", "bit field"),
        (fixed_program(1, &[bits(8, 1)]), b"x", "bit field"),
        (fixed_program(1, &[bits(255, 8)]), b"x", "bit field"),
        (fixed_program(1, &[bits(0, 9)]), b"x", "bit field"),
        (
            fixed_program(
                1,
                &[Op::BitsLit {
                    shift: 0,
                    bits: 1,
                    value: 2,
                }],
            ),
            b"x",
            "bit literal",
        ),
        (fixed_program(1, &[Op::LengthField]), b"x", "length field"),
        (&COVERED, b"\x00", "length field"),
        (&AWAY, b"\x30\x00", "length field"),
        (fixed_program(0, &[]), b"x", "fixed unit of no bytes"),
        (fixed_program(1, &[if_op(0, true, 5)]), b"x", "runs past"),
        (
            fixed_program(2, &[Op::CStr { slot: 0 }, if_op(0, true, 0)]),
            b"\0x",
            "condition slot",
        ),
        (
            fixed_program(1, &[if_op(0, false, 0)]),
            b"x",
            "condition slot",
        ),
        (
            fixed_program(1, &[if_op(9, true, 0)]),
            b"x",
            "condition slot",
        ),
        (fixed_program(1, &[Op::Fixed(1)]), b"x", "inside a unit"),
        (&LINE_FRAME, b"x\n", "frame in a line protocol"),
        (&OUTSIDE, b"\x01", "outside a unit"),
    ];
    for (i, (program, input, what)) in cases.into_iter().enumerate() {
        let (_, got) = decode_once(program, input, &[0]);
        let Err(err) = got else {
            panic!("case {i}: not an error: {got:?}");
        };
        match err.kind() {
            DecodeErrorKind::Program { what: w } => {
                assert!(w.contains(what), "case {i}: {w:?} does not say {what:?}")
            }
            other => panic!("case {i}: {other:?}"),
        }
        assert!(!err.can_continue(), "case {i}");
    }
    // A fine bit field, for contrast.
    let (dec, got) = decode_once(fixed_program(1, &[bits(0, 8)]), b"\xab", &[0]);
    assert_eq!(got, Ok(Decoded::Message { index: 0, len: 1 }));
    assert_eq!(dec.slots()[0], Slot::Int(0xab));
}

#[test]
fn cmp_compares_the_stored_u64() {
    let cases = [
        (Cmp::Eq, [false, true, false]),
        (Cmp::Ne, [true, false, true]),
        (Cmp::Lt, [true, false, false]),
        (Cmp::Le, [true, true, false]),
        (Cmp::Gt, [false, false, true]),
        (Cmp::Ge, [false, true, true]),
    ];
    for (cmp, want) in cases {
        assert_eq!(
            [cmp.holds(1, 2), cmp.holds(2, 2), cmp.holds(3, 2)],
            want,
            "{cmp:?}"
        );
    }
    // A signed -1 is the largest value.
    assert!(Cmp::Gt.holds(-1i64 as u64, 5));
    assert!(Cmp::Eq.holds(-1i64 as u64, u64::MAX));
}

// ===== encoder refusals =====

/// Runs `f` on an encoder of `framing` appending to a buffer that already holds a
/// message; returns the error and checks nothing was left.
#[track_caller]
fn refused(
    framing: &'static Framing,
    f: impl FnOnce(&mut Encoder<'_>) -> Result<(), EncodeError>,
) -> EncodeError {
    let mut out = b"earlier".to_vec();
    let err = {
        let mut e = Encoder::new(&mut out, framing);
        match f(&mut e) {
            Err(err) => err,
            Ok(()) => match e.finish() {
                Err(err) => err,
                Ok(()) => panic!("not refused"),
            },
        }
    };
    assert_eq!(out, b"earlier", "the refused message left bytes");
    err
}

#[test]
fn encoder_refusals_of_binary_fields() {
    let mqtt = &MQTT.framing;
    let err = refused(mqtt, |e| {
        e.bits_lit(3, 4, 4);
        e.bits("qos", 4, 1, 2)
    });
    assert_eq!(err.to_string(), "field `qos`: 4 is out of the range 0..=3");
    let err = refused(mqtt, |e| e.bits("x", 0, 5, 4));
    assert_eq!(*err.kind(), EncodeErrorKind::BitField { shift: 5, bits: 4 });
    assert_eq!(
        err.to_string(),
        "field `x`: a bit field of 4 bits at shift 5 does not fit in a byte"
    );
    assert_eq!(
        *refused(mqtt, |e| e.bits("x", 0, 0, 0)).kind(),
        EncodeErrorKind::BitField { shift: 0, bits: 0 }
    );
    // A field that does not start a byte, with no byte started.
    let err = refused(mqtt, |e| e.bits("x", 1, 0, 1));
    assert_eq!(*err.kind(), EncodeErrorKind::BitOrder);
    // Another byte written between the fields of one byte.
    let err = refused(mqtt, |e| {
        e.bits_lit(3, 4, 4);
        e.lit(b"?");
        e.bits("dup", 0, 3, 1)
    });
    assert_eq!(*err.kind(), EncodeErrorKind::BitOrder);
    // A gap between fields.
    let err = refused(mqtt, |e| {
        e.bits_lit(3, 4, 4);
        e.bits("retain", 0, 0, 1)
    });
    assert_eq!(*err.kind(), EncodeErrorKind::BitOrder);
    // A byte left half filled, found by finish.
    let err = refused(mqtt, |e| {
        e.bits_lit(3, 4, 4);
        Ok(())
    });
    assert_eq!(
        err.to_string(),
        "bit fields must fill each byte exactly, from its high bits to its low ones"
    );
    // A literal that does not fit, found by finish.
    let err = refused(mqtt, |e| {
        e.bits_lit(16, 4, 4);
        e.bits_lit(0, 0, 4);
        Ok(())
    });
    assert_eq!(err.to_string(), "a bit literal wider than its field");

    let err = refused(mqtt, |e| e.varint("n", 1001, 1000));
    assert_eq!(
        err.to_string(),
        "field `n`: 1001 is out of the range 0..=1000"
    );
    let err = refused(mqtt, |e| e.cstr("s", b"ab\0"));
    assert_eq!(
        *err.kind(),
        EncodeErrorKind::Byte {
            what: "a NUL-terminated string",
            byte: 0,
            position: 2
        }
    );
    let err = refused(mqtt, |e| e.present("packet_id", false, true));
    assert_eq!(err.field(), "packet_id");
    assert_eq!(*err.kind(), EncodeErrorKind::Condition { present: true });
    assert_eq!(
        err.to_string(),
        "field `packet_id`: must be present: its condition holds"
    );
    let err = refused(mqtt, |e| e.present("packet_id", true, false));
    assert_eq!(
        err.to_string(),
        "field `packet_id`: must be absent: its condition does not hold"
    );
    // Through the message encoder: QoS 1 without a packet id.
    let mut out = Vec::new();
    let err = mqtt_publish(&mut out, false, 1, false, b"t", None, b"").unwrap_err();
    assert_eq!(err.field(), "packet_id");
    assert!(out.is_empty());
    let err = mqtt_publish(&mut out, false, 0, false, b"t", Some(1), b"").unwrap_err();
    assert_eq!(*err.kind(), EncodeErrorKind::Condition { present: false });
    assert!(out.is_empty());
    // A body over the frame's limit.
    let err = mqtt_publish(&mut out, false, 0, false, b"t", None, &[0; 298]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a frame body of 301 bytes is over the limit of 300 bytes"
    );
    mqtt_publish(&mut out, false, 0, false, b"t", None, &[0; 297]).unwrap();
    assert_eq!(out[..3], [0x30, 0xac, 0x02]);
}

#[test]
fn encoder_refusals_of_length_fields_and_units() {
    let mqtt = &MQTT.framing;
    let frame_error = |err: EncodeError| match *err.kind() {
        EncodeErrorKind::Frame { what } => what,
        other => panic!("{other:?}"),
    };
    // The message writes the type byte, but never says where the length goes.
    let err = refused(mqtt, |e| {
        e.begin_frame();
        e.lit(&[0xc0]);
        e.end_frame()
    });
    assert_eq!(
        frame_error(err),
        "the length field of a frame was not marked"
    );
    let err = refused(mqtt, |e| {
        e.begin_frame();
        e.length_field(); // before the type byte
        e.end_frame()
    });
    assert_eq!(
        frame_error(err),
        "a length field away from its offset in the header"
    );
    let err = refused(mqtt, |e| {
        e.begin_frame();
        e.lit(&[0xc0]);
        e.length_field();
        e.length_field();
        e.end_frame()
    });
    assert_eq!(frame_error(err), "a length field written twice");
    let err = refused(mqtt, |e| {
        e.length_field();
        Ok(())
    });
    assert_eq!(frame_error(err), "a length field outside a frame");
    // In a frame whose header begin_frame writes whole.
    let err = refused(&PG_FRONTEND.framing, |e| {
        e.begin_frame_with(&STARTUP);
        e.length_field();
        e.end_frame()
    });
    assert_eq!(
        frame_error(err),
        "a length field in a frame whose header the message does not write"
    );

    // Fixed units.
    let pg = &PG_BACKEND.framing;
    let err = refused(pg, |e| {
        e.begin_fixed();
        e.lit(b"NO");
        e.end_fixed(1)
    });
    assert_eq!(
        frame_error(err),
        "a fixed unit holds another number of bytes than its size"
    );
    let err = refused(pg, |e| {
        e.begin_fixed();
        e.end_fixed(0)
    });
    assert_eq!(frame_error(err), "a fixed unit cannot be empty");
    let err = refused(pg, |e| {
        e.begin_fixed();
        e.lit(b"N");
        Ok(())
    });
    assert_eq!(frame_error(err), "a fixed unit was not ended");
    let err = refused(pg, |e| e.end_fixed(1));
    assert_eq!(frame_error(err), "no fixed unit was started");
    let err = refused(pg, |e| {
        e.begin_frame();
        e.begin_fixed();
        e.end_frame()
    });
    assert_eq!(
        frame_error(err),
        "a fixed unit cannot start inside another unit"
    );
    let err = refused(pg, |e| {
        e.begin_fixed();
        e.begin_frame_with(&STARTUP);
        e.end_fixed(4)
    });
    assert_eq!(frame_error(err), "a frame cannot start inside another");
}

#[test]
fn headers_whose_ops_start_inside_the_length_field_are_refused() {
    // A varint after one byte, and ops from byte 2: fine while the varint takes one byte.
    static SHORT: Framing = Framing::Length(LengthHeader {
        offset: 1,
        width: 0,
        big_endian: true,
        adjust: 0,
        skip: 2,
        max: 1000,
    });
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out, &SHORT);
    e.begin_frame();
    e.rest("body", &[b'a'; 127]).unwrap();
    e.end_frame().unwrap();
    e.finish().unwrap();
    assert_eq!(out[..2], [0, 127]);
    let err = refused(&SHORT, |e| {
        e.begin_frame();
        e.rest("body", &[b'a'; 128])?;
        e.end_frame()
    });
    assert_eq!(
        err.to_string(),
        "a frame whose ops start inside its length field cannot be encoded"
    );
    // A 4-byte field and ops from its third byte.
    static INSIDE: Framing = Framing::Length(LengthHeader {
        offset: 0,
        width: 4,
        big_endian: true,
        adjust: 0,
        skip: 2,
        max: 1000,
    });
    let err = refused(&INSIDE, |e| {
        e.begin_frame();
        e.end_frame()
    });
    assert_eq!(
        err.to_string(),
        "a frame whose ops start inside its length field cannot be encoded"
    );
}

#[test]
fn the_bytes_a_header_hides_are_written_as_zeros() {
    // The ops see the second byte of a 2-byte prefix, then the length.
    static PARTLY: Program = Program {
        name: "partly",
        framing: Framing::Length(LengthHeader {
            offset: 2,
            width: 2,
            big_endian: false,
            adjust: 0,
            skip: 1,
            max: 100,
        }),
        messages: &[Message {
            name: "M",
            slots: 1,
            max: 104,
            ops: &[
                Op::Frame,
                Op::Lit(b"T"),
                Op::LengthField,
                Op::Rest { slot: 0 },
                Op::EndFrame,
            ],
        }],
    };
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out, &PARTLY.framing);
    e.begin_frame();
    e.lit(b"T");
    e.length_field();
    e.rest("data", b"abc").unwrap();
    e.end_frame().unwrap();
    e.finish().unwrap();
    assert_eq!(out, b"\0T\x03\0abc");
    let (dec, got) = decode_once(&PARTLY, &out, &[0]);
    assert_eq!(got, Ok(Decoded::Message { index: 0, len: 7 }));
    assert_eq!(bytes_at(&out, dec.slots()[0]), b"abc");
}

#[test]
fn a_rest_of_line_is_still_checked_outside_frames() {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out, &MIXED.framing);
    assert!(e.rest("text", b"a\rb").is_err());
    e.begin_frame_with(&BLOB);
    e.rest("text", b"a\rb").unwrap();
    e.end_frame().unwrap();
    assert!(e.rest("text", b"\n").is_err());
}

// ===== random input and programs =====

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

/// Decodes `input` with `allowed`, whole or in random chunks: the messages and errors.
fn fuzz_run(
    program: &'static Program,
    input: &[u8],
    allowed: &[u16],
    rng: Option<&mut Rng>,
) -> Vec<String> {
    let mut dec = Decoder::new(program);
    let _ = dec.buffer_limit();
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
                assert!(usize::from(index) < program.messages.len());
                let msg = &buf[..len];
                for &slot in dec.slots() {
                    let _ = (bytes_at(msg, slot), int_at(slot), present(slot));
                    let a: Seq<'_, &[u8]> = seq_at(msg, dec.items(), slot);
                    let _ = a.to_vec();
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
fn mutated_conversations_never_panic_and_never_depend_on_the_split() {
    let mut mqtt = Vec::new();
    mqtt_publish(&mut mqtt, false, 1, false, b"a", Some(2), b"xy").unwrap();
    mqtt_pingreq(&mut mqtt).unwrap();
    mqtt_auth(&mut mqtt, 200, b"z").unwrap();
    let mut front = Vec::new();
    pg_ssl_request(&mut front).unwrap();
    pg_startup(&mut front, &[(b"u", b"v")]).unwrap();
    pg_query(&mut front, b"q").unwrap();
    let mut back = Vec::new();
    pg_ssl_no(&mut back).unwrap();
    pg_data_row(&mut back, &[None, Some(b"ab")]).unwrap();
    pg_ready(&mut back, b"T").unwrap();
    let mut mixed = Vec::new();
    mixed_bin2(&mut mixed, 7).unwrap();
    mixed.extend_from_slice(b"HELLO\r\n");
    mixed_ack(&mut mixed, 1).unwrap();
    mixed_blob(&mut mixed, b"b").unwrap();
    let samples: [(&'static Program, &[u8]); 4] = [
        (&MQTT, &mqtt),
        (&PG_FRONTEND, &front),
        (&PG_BACKEND, &back),
        (&MIXED, &mixed),
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut messages = 0;
    for round in 0..20_000 {
        let (program, sample) = samples[round % samples.len()];
        let mut input = sample.to_vec();
        for _ in 0..rng.below(4) {
            let i = rng.below(input.len());
            match rng.below(3) {
                0 => input[i] = rng.next() as u8,
                1 => input[i] ^= 1 << rng.below(8),
                _ => {
                    input.remove(i);
                }
            }
        }
        let n = program.messages.len() as u16;
        let mut allowed: Vec<u16> = (0..n).filter(|_| rng.below(3) != 0).collect();
        if allowed.len() > 1 && rng.below(2) == 0 {
            allowed.swap(0, 1);
        }
        let whole = fuzz_run(program, &input, &allowed, None);
        let mut chunks = Rng(rng.next() | 1);
        let split = fuzz_run(program, &input, &allowed, Some(&mut chunks));
        assert_eq!(split, whole, "{} input {:?}", program.name, input);
        messages += whole
            .iter()
            .filter(|s| !s.starts_with(['e', 'f', 'l']))
            .count();
    }
    assert!(messages > 5_000, "only {messages} messages decoded");
}

/// Random, mostly malformed programs with the binary ops: reported, never a panic.
#[test]
fn malformed_binary_programs_never_panic() {
    static LITS: &[&[u8]] = &[b"a", b"\0", b""];
    let framings = [
        Framing::Length(MQTT_HEADER),
        Framing::Length(TYPED),
        Framing::Length(STARTUP),
        Framing::Line {
            term: b"\r\n",
            max: 32,
            bare_lf: false,
            nocase: false,
        },
    ];
    let cmps = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..3000 {
        let mut messages = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let mut ops = Vec::new();
            ops.push(match rng.below(5) {
                0 => Op::Frame,
                1 => Op::FrameWith(&STARTUP),
                2 => Op::Fixed(rng.below(4) as u32),
                3 => Op::Line,
                _ => Op::FrameWith(&BLOB),
            });
            for _ in 0..rng.below(10) {
                let slot = rng.below(4) as u16;
                let len = rng.below(4) as u16;
                ops.push(match rng.below(18) {
                    0 => Op::Bits {
                        slot,
                        shift: rng.below(10) as u8,
                        bits: rng.below(10) as u8,
                    },
                    1 => Op::BitsLit {
                        shift: rng.below(10) as u8,
                        bits: rng.below(10) as u8,
                        value: rng.below(4) as u8,
                    },
                    2 => Op::Varint {
                        slot,
                        max: [0, 127, u64::MAX][rng.below(3)],
                    },
                    3 => Op::CStr { slot },
                    4 | 5 => Op::If {
                        slot,
                        test: rng.below(4) as u16,
                        test_in_message: rng.below(2) == 0,
                        cmp: cmps[rng.below(cmps.len())],
                        value: [0, 1, u64::MAX][rng.below(3)],
                        len,
                    },
                    6 | 7 => Op::LengthField,
                    8 => Op::EndFrame,
                    9 => Op::Fixed(rng.below(3) as u32),
                    10 => Op::FrameWith(&STARTUP),
                    11 => Op::Bin {
                        slot,
                        width: [1, 2, 4][rng.below(3)],
                        big_endian: true,
                        signed: rng.below(2) == 0,
                    },
                    12 => Op::Bytes {
                        slot,
                        len: rng.below(4) as u16,
                        len_in_message: rng.below(2) == 0,
                        max: rng.below(8) as u32,
                    },
                    13 => Op::Opt { slot, len },
                    14 => Op::Repeat {
                        slot,
                        count: rng.below(4) as u16,
                        len,
                        stride: rng.below(3) as u16,
                        max: 4,
                        signed: rng.below(2) == 0,
                    },
                    15 => Op::Lit(LITS[rng.below(LITS.len())]),
                    16 => Op::Rest { slot },
                    _ => Op::EndLine,
                });
            }
            if rng.below(3) != 0 {
                ops.push(Op::EndFrame);
            }
            messages.push(Message {
                name: "M",
                slots: rng.below(5) as u16,
                ops: Vec::leak(ops),
                max: 4 + rng.below(64) as u32,
            });
        }
        let program: &'static Program = Box::leak(Box::new(Program {
            name: "random",
            framing: framings[round % framings.len()],
            messages: Vec::leak(messages),
        }));
        let n = program.messages.len() as u16;
        let allowed: Vec<u16> = (0..n).rev().collect();
        let alphabet: &[u8] = b"\0\0\x01\x02\x04\x30\x80\xff\xc0aQ\r\n";
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

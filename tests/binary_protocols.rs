//! The binary descriptions, MQTT 3.1.1 and PostgreSQL's protocol 3.0, compiled by
//! `protocol!` from `protocols/descriptions/`: every message survives encode-then-decode,
//! whole, split at every byte and one byte at a time; recorded packets of the real
//! programs decode; bad input is an error, never a panic.

#[macro_use]
#[path = "support/roundtrip.rs"]
mod roundtrip;
mod support;

use asyncore_runtime::protocol;
use asyncore_runtime::wire::{DecodeErrorKind, Decoded, Seq};

protocol!(pub mod mqtt = "../protocols/descriptions/mqtt.aproto");
protocol!(pub mod pg = "../protocols/descriptions/pg.aproto");

const UNSUBSCRIBE: &[&[u8]] = &[b"a/#"];
const CODES: &[mqtt::SubAckCodes] = &[
    mqtt::SubAckCodes { item: 0 },
    mqtt::SubAckCodes { item: 1 },
    mqtt::SubAckCodes { item: 0x80 },
];

#[test]
fn mqtt_client_packets_round_trip() {
    let bytes = round_trip!(
        mqtt,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            mqtt::Connect {
                level: 4,
                username: 1,
                password: 1,
                will_retain: 0,
                will_qos: 1,
                will: 1,
                clean_session: 1,
                keep_alive: 60,
                client_id: b"sensor-1",
                will_topic: Some(b"status/sensor-1"),
                will_message: Some(b"gone"),
                user: Some(b"alice"),
                pass: Some(b"secret"),
            },
            mqtt::Connect {
                level: 4,
                username: 0,
                password: 0,
                will_retain: 0,
                will_qos: 0,
                will: 0,
                clean_session: 1,
                keep_alive: 0,
                client_id: b"",
                will_topic: None,
                will_message: None,
                user: None,
                pass: None,
            },
            mqtt::Publish {
                dup: 0,
                qos: 0,
                retain: 1,
                topic: b"a/b",
                packet_id: None,
                payload: b"hello",
            },
            mqtt::Publish {
                dup: 1,
                qos: 1,
                retain: 0,
                topic: b"a/b",
                packet_id: Some(7),
                payload: &[0u8; 300],
            },
            mqtt::PubAck { packet_id: 7 },
            mqtt::PubRec { packet_id: 8 },
            mqtt::PubRel { packet_id: 8 },
            mqtt::PubComp { packet_id: 8 },
            mqtt::Subscribe {
                packet_id: 1,
                filters: Seq::from(
                    &[
                        mqtt::SubscribeFilters {
                            filter: b"a/#",
                            qos: 1,
                        },
                        mqtt::SubscribeFilters {
                            filter: b"+/b",
                            qos: 0,
                        },
                    ][..]
                ),
            },
            mqtt::Unsubscribe {
                packet_id: 2,
                filters: Seq::from(UNSUBSCRIBE),
            },
            mqtt::PingReq {},
            mqtt::Disconnect {},
        ]
    );
    // The first CONNECT as the MQTT 3.1.1 specification lays it out.
    let connect: &[u8] = b"\x10\x3a\x00\x04MQTT\x04\xce\x00\x3c\x00\x08sensor-1\
        \x00\x0fstatus/sensor-1\x00\x04gone\x00\x05alice\x00\x06secret";
    assert_eq!(&bytes[..connect.len()], connect);
    // A PUBLISH of 300 bytes: a remaining length of two varint bytes.
    let at = bytes
        .windows(3)
        .position(|w| w == b"\x3a\xb3\x02")
        .expect("QoS 1 PUBLISH");
    assert_eq!(&bytes[at + 3..at + 10], b"\x00\x03a/b\x00\x07");
    assert!(bytes.ends_with(b"\xc0\x00\xe0\x00"));
}

#[test]
fn mqtt_server_packets_round_trip() {
    let bytes = round_trip!(
        mqtt,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [
            mqtt::ConnAck {
                session_present: 0,
                code: 0
            },
            mqtt::ConnAck {
                session_present: 1,
                code: 5
            },
            mqtt::Publish {
                dup: 0,
                qos: 2,
                retain: 0,
                topic: b"t",
                packet_id: Some(65535),
                payload: b"",
            },
            mqtt::SubAck {
                packet_id: 1,
                codes: Seq::from(CODES),
            },
            mqtt::UnsubAck { packet_id: 2 },
            mqtt::PingResp {},
        ]
    );
    assert!(bytes.starts_with(b"\x20\x02\x00\x00\x20\x02\x01\x05"));
    assert!(bytes.ends_with(b"\xd0\x00"));
}

const PARAMS: &[pg::StartupParams<'_>] = &[
    pg::StartupParams {
        name: b"user",
        value: b"postgres",
    },
    pg::StartupParams {
        name: b"database",
        value: b"postgres",
    },
];

#[test]
fn pg_frontend_messages_round_trip() {
    // The untyped packets first: a state of their own reads them.
    let bytes = round_trip!(
        pg,
        ClientMessage,
        allowed = CONNECTING,
        [
            pg::SslRequest {},
            pg::GssEncRequest {},
            pg::Startup {
                params: Seq::from(PARAMS)
            },
            pg::CancelRequest { pid: 42, key: -7 },
        ]
    );
    assert_eq!(&bytes[..8], b"\x00\x00\x00\x08\x04\xd2\x16\x2f");
    let startup = b"\x00\x00\x00\x29\x00\x03\x00\x00user\0postgres\0database\0postgres\0\0";
    assert_eq!(&bytes[16..16 + startup.len()], startup);
    let bytes = round_trip!(
        pg,
        ClientMessage,
        allowed = READY,
        [
            pg::Query {
                sql: b"SELECT 1; SELECT 'a'"
            },
            pg::Parse {
                body: b"\0SELECT 1\0\0\0"
            },
            pg::Bind {
                body: b"\0\0\0\0\0\0\0\0"
            },
            pg::Describe { body: b"P\0" },
            pg::Execute {
                body: b"\0\0\0\0\0"
            },
            pg::CloseStatement { body: b"S\0" },
            pg::Flush {},
            pg::Sync {},
            pg::Terminate {},
        ]
    );
    assert_eq!(&bytes[..6], b"Q\x00\x00\x00\x19S");
    assert!(bytes.ends_with(b"H\x00\x00\x00\x04S\x00\x00\x00\x04X\x00\x00\x00\x04"));
}

/// The states' allowed lists, as the server's decoder takes them.
const CONNECTING: &[u16] = pg::State::Connecting.allowed();
const READY: &[u16] = pg::State::Ready.allowed();

const COLUMNS: &[pg::RowDescriptionColumns<'_>] = &[pg::RowDescriptionColumns {
    name: b"a",
    table: 0,
    column: 0,
    type_oid: 25,
    type_size: -1,
    type_modifier: -1,
    format: 0,
}];
const VALUES: &[pg::DataRowValues<'_>] = &[
    pg::DataRowValues { value: Some(b"x") },
    pg::DataRowValues { value: None },
    pg::DataRowValues { value: Some(b"") },
];
const FIELDS: &[pg::ErrorResponseFields<'_>] = &[
    pg::ErrorResponseFields {
        code: b'S',
        value: b"ERROR",
    },
    pg::ErrorResponseFields {
        code: b'C',
        value: b"42P01",
    },
    pg::ErrorResponseFields {
        code: b'M',
        value: b"relation \"t\" does not exist",
    },
];

const NOTICE: &[pg::NoticeResponseFields<'_>] = &[pg::NoticeResponseFields {
    code: b'S',
    value: b"NOTICE",
}];

#[test]
fn pg_backend_messages_round_trip() {
    let bytes = round_trip!(
        pg,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [
            pg::AuthCleartext {},
            pg::AuthOk {},
            pg::ParameterStatus {
                name: b"server_version",
                value: b"15.0"
            },
            pg::BackendKeyData { pid: 1, key: 2 },
            pg::ReadyForQuery { status: b"I" },
            pg::RowDescription {
                columns: Seq::from(COLUMNS)
            },
            pg::DataRow {
                values: Seq::from(VALUES)
            },
            pg::CommandComplete { tag: b"SELECT 1" },
            pg::EmptyQueryResponse {},
            pg::ErrorResponse {
                fields: Seq::from(FIELDS)
            },
            pg::NoticeResponse {
                fields: Seq::from(NOTICE)
            },
        ]
    );
    assert!(
        bytes.starts_with(b"R\x00\x00\x00\x08\x00\x00\x00\x03R\x00\x00\x00\x08\x00\x00\x00\x00")
    );
    // A NULL is a length of -1; an empty value a length of 0.
    let row = b"D\x00\x00\x00\x13\x00\x03\x00\x00\x00\x01x\xff\xff\xff\xff\x00\x00\x00\x00";
    assert!(bytes.windows(row.len()).any(|w| w == row), "{bytes:?}");
}

#[test]
fn pg_answer_to_ssl_request_is_one_byte_read_when_expected() {
    let mut out = Vec::new();
    pg::EncryptionAnswer { answer: b"N" }
        .encode(&mut out)
        .unwrap();
    assert_eq!(out, b"N");
    // N is also the type byte of NoticeResponse: the client reads the one-byte answer
    // only when it expects it.
    let idx = pg::ServerMessage::decoder()
        .program()
        .messages
        .iter()
        .position(|m| m.name == "EncryptionAnswer")
        .unwrap() as u16;
    let mut dec = pg::ServerMessage::decoder();
    let input = b"NR\x00\x00\x00\x08\x00\x00\x00\x00";
    assert_eq!(
        dec.decode(input, &[idx]).unwrap(),
        Decoded::Message { index: idx, len: 1 }
    );
    let m = pg::ServerMessage::from_decoder(&dec, &input[..1], idx).unwrap();
    assert_eq!(
        format!("{m:?}"),
        format!(
            "{:?}",
            pg::ServerMessage::from(pg::EncryptionAnswer { answer: b"N" })
        )
    );
    let rest = &input[1..];
    match dec.decode(rest, pg::SERVER_MESSAGES_ALL).unwrap() {
        Decoded::Message { len, .. } => assert_eq!(len, 9),
        other => panic!("{other:?}"),
    }
    assert!(pg::EncryptionAnswer { answer: b"X" }
        .encode(&mut out)
        .is_err());
}

#[test]
fn bad_binary_input_is_an_error_never_a_panic() {
    let session = mqtt::State::Session.allowed();
    let fresh = mqtt::State::Fresh.allowed();
    let cases: &[(&[u8], &[u16], &str)] = &[
        // A PUBLISH whose topic runs past the packet.
        (b"\x30\x03\x00\x09a", session, "invalid"),
        // A remaining length of more than 64 bits.
        (
            b"\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
            session,
            "invalid",
        ),
        // A packet type nobody sends.
        (b"\xf0\x00", session, "unknown"),
        // CONNECT with the reserved flag bit set.
        (
            b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00",
            fresh,
            "invalid",
        ),
        // SUBSCRIBE with a QoS byte whose reserved bits are set.
        (b"\x82\x06\x00\x01\x00\x01a\x04", session, "invalid"),
        // A second CONNECT.
        (
            b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
            session,
            "not allowed",
        ),
    ];
    for (input, allowed, what) in cases {
        let mut dec = mqtt::ClientMessage::decoder();
        let err = dec.decode(input, allowed).expect_err("bad input");
        let kind = match err.kind() {
            DecodeErrorKind::Unknown => "unknown",
            DecodeErrorKind::NotAllowed { .. } => "not allowed",
            DecodeErrorKind::Oversize { .. } => "oversize",
            _ => "invalid",
        };
        assert_eq!(kind, *what, "{input:?}: {err}");
    }
    // A frame over the limit is refused as soon as its length is read.
    let mut dec = pg::ClientMessage::decoder();
    let err = dec.decode(b"Q\x7f\xff\xff\xff", READY).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Oversize { .. }),
        "{err}"
    );
    // A truncated string: no NUL before the end of the frame.
    let mut dec = pg::ClientMessage::decoder();
    let err = dec.decode(b"Q\x00\x00\x00\x07abc", READY).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Invalid { .. }),
        "{err}"
    );
}

/// Random bytes for one case, consumed from the front.
struct Dice(Vec<u8>, usize);

impl Dice {
    fn new(seed: u64) -> Dice {
        Dice(support::pseudo_random(4096, seed), 0)
    }
    fn byte(&mut self) -> u8 {
        let b = self.0[self.1 % self.0.len()];
        self.1 += 1;
        b
    }
    fn below(&mut self, n: u32) -> u32 {
        let v = u32::from(self.byte()) << 8 | u32::from(self.byte());
        v % n.max(1)
    }
    fn bytes(&mut self, max: u32) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.byte()).collect()
    }
    /// Bytes with no NUL (a C string's).
    fn text(&mut self, max: u32) -> Vec<u8> {
        self.bytes(max).into_iter().map(|b| b.max(1)).collect()
    }
}

/// Encodes `messages`, then decodes the bytes whole, split at every byte and one byte at
/// a time with both decoding paths, and compares with what was encoded.
fn encode_and_split<'m, M>(
    messages: &[M],
    encode: fn(&M, &mut Vec<u8>) -> Result<(), asyncore_runtime::wire::EncodeError>,
    make: &dyn Fn() -> asyncore_runtime::wire::Decoder,
    fast: roundtrip::DecodeFn,
    allowed: &'static [u16],
    show: &dyn Fn(&asyncore_runtime::wire::Decoder, &[u8], u16) -> String,
) where
    M: std::fmt::Debug + 'm,
{
    let mut input = Vec::new();
    for m in messages {
        encode(m, &mut input).unwrap_or_else(|e| panic!("encoding {m:?}: {e}"));
    }
    let expected: Vec<String> = messages.iter().map(|m| format!("{m:?}")).collect();
    roundtrip::check_splits(
        make,
        fast,
        &input,
        &expected,
        &|_| allowed,
        &roundtrip::no_params,
        show,
    );
}

/// Property: any PUBLISH, CONNECT, SUBSCRIBE, SUBACK and UNSUBSCRIBE, with random flags,
/// QoS, topics, payloads and optional fields, decodes to itself however it is split.
#[test]
fn random_mqtt_packets_round_trip() {
    for seed in 1..=60u64 {
        let mut d = Dice::new(seed);
        let topics: Vec<Vec<u8>> = (0..8).map(|_| d.bytes(24)).collect();
        let payloads: Vec<Vec<u8>> = (0..4)
            .map(|_| d.bytes(if seed % 7 == 0 { 400 } else { 40 }))
            .collect();
        let filters: Vec<mqtt::SubscribeFilters<'_>> = (0..1 + d.below(4) as usize)
            .map(|i| mqtt::SubscribeFilters {
                filter: &topics[i],
                qos: d.byte() % 3,
            })
            .collect();
        let unsub: Vec<&[u8]> = (0..1 + d.below(3) as usize)
            .map(|i| &topics[i][..])
            .collect();
        let mut client: Vec<mqtt::ClientMessage<'_>> = Vec::new();
        for i in 0..4 {
            let qos = d.byte() % 3;
            client.push(
                mqtt::Publish {
                    dup: d.byte() & 1,
                    qos,
                    retain: d.byte() & 1,
                    topic: &topics[i],
                    packet_id: (qos > 0).then(|| d.below(65536) as u16),
                    payload: &payloads[i],
                }
                .into(),
            );
        }
        let (will, username, password) = (d.byte() & 1, d.byte() & 1, d.byte() & 1);
        client.push(
            mqtt::Connect {
                level: d.byte(),
                username,
                password,
                will_retain: d.byte() & 1,
                will_qos: d.byte() % 4,
                will,
                clean_session: d.byte() & 1,
                keep_alive: d.below(65536) as u16,
                client_id: &topics[4],
                will_topic: (will == 1).then_some(&topics[5][..]),
                will_message: (will == 1).then_some(&payloads[0][..]),
                user: (username == 1).then_some(&topics[6][..]),
                pass: (password == 1).then_some(&topics[7][..]),
            }
            .into(),
        );
        client.push(
            mqtt::Subscribe {
                packet_id: d.below(65536) as u16,
                filters: Seq::from(&filters[..]),
            }
            .into(),
        );
        client.push(
            mqtt::Unsubscribe {
                packet_id: 1,
                filters: Seq::from(&unsub[..]),
            }
            .into(),
        );
        let show = |dec: &asyncore_runtime::wire::Decoder, buf: &[u8], index: u16| {
            format!(
                "{:?}",
                mqtt::ClientMessage::from_decoder(dec, buf, index).expect("an index")
            )
        };
        encode_and_split(
            &client,
            |m, out| m.encode(out),
            &mqtt::ClientMessage::decoder,
            mqtt::ClientMessage::decode,
            mqtt::CLIENT_MESSAGES_ALL,
            &show,
        );
        let codes: Vec<mqtt::SubAckCodes> = (0..1 + d.below(6))
            .map(|_| mqtt::SubAckCodes { item: d.byte() })
            .collect();
        let server: Vec<mqtt::ServerMessage<'_>> = vec![
            mqtt::ConnAck {
                session_present: d.byte() & 1,
                code: d.byte(),
            }
            .into(),
            mqtt::SubAck {
                packet_id: d.below(65536) as u16,
                codes: Seq::from(&codes[..]),
            }
            .into(),
            mqtt::PubAck {
                packet_id: d.below(65536) as u16,
            }
            .into(),
        ];
        let show = |dec: &asyncore_runtime::wire::Decoder, buf: &[u8], index: u16| {
            format!(
                "{:?}",
                mqtt::ServerMessage::from_decoder(dec, buf, index).expect("an index")
            )
        };
        encode_and_split(
            &server,
            |m, out| m.encode(out),
            &mqtt::ServerMessage::decoder,
            mqtt::ServerMessage::decode,
            mqtt::SERVER_MESSAGES_ALL,
            &show,
        );
    }
}

/// The encoder refuses a packet identifier that its QoS does not call for, and the other
/// way round: what it writes always decodes to itself.
#[test]
fn mqtt_conditions_are_enforced_when_encoding() {
    let mut out = Vec::new();
    let err = mqtt::Publish {
        dup: 0,
        qos: 1,
        retain: 0,
        topic: b"t",
        packet_id: None,
        payload: b"",
    }
    .encode(&mut out)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `packet_id`: must be present: its condition holds"
    );
    let err = mqtt::Publish {
        dup: 0,
        qos: 0,
        retain: 0,
        topic: b"t",
        packet_id: Some(1),
        payload: b"",
    }
    .encode(&mut out)
    .unwrap_err();
    assert!(err.to_string().contains("must be absent"), "{err}");
    let err = mqtt::Publish {
        dup: 0,
        qos: 4,
        retain: 0,
        topic: b"t",
        packet_id: Some(1),
        payload: b"",
    }
    .encode(&mut out)
    .unwrap_err();
    assert!(err.to_string().contains("qos"), "{err}");
    assert!(out.is_empty(), "nothing half-written");
}

/// Property: any DataRow (values and NULLs), RowDescription, ErrorResponse, startup packet
/// and query decodes to itself however it is split.
#[test]
fn random_pg_messages_round_trip() {
    for seed in 1..=60u64 {
        let mut d = Dice::new(seed + 1000);
        let texts: Vec<Vec<u8>> = (0..12).map(|_| d.text(16)).collect();
        let names: Vec<Vec<u8>> = (0..6).map(|_| [&[b'n'][..], &d.text(8)].concat()).collect();
        let values: Vec<pg::DataRowValues<'_>> = (0..d.below(7) as usize)
            .map(|i| pg::DataRowValues {
                value: (!d.byte().is_multiple_of(3)).then_some(&texts[i][..]),
            })
            .collect();
        let columns: Vec<pg::RowDescriptionColumns<'_>> = (0..d.below(5) as usize)
            .map(|i| pg::RowDescriptionColumns {
                name: &texts[i],
                table: d.below(1 << 16) as i32,
                column: d.byte() as i16,
                type_oid: 25,
                type_size: -1,
                type_modifier: -(d.byte() as i32),
                format: 0,
            })
            .collect();
        let fields: Vec<pg::ErrorResponseFields<'_>> = (0..d.below(6) as usize)
            .map(|i| pg::ErrorResponseFields {
                code: b'A' + d.byte() % 26,
                value: &texts[i],
            })
            .collect();
        let server: Vec<pg::ServerMessage<'_>> = vec![
            pg::RowDescription {
                columns: Seq::from(&columns[..]),
            }
            .into(),
            pg::DataRow {
                values: Seq::from(&values[..]),
            }
            .into(),
            pg::CommandComplete { tag: &texts[8] }.into(),
            pg::ErrorResponse {
                fields: Seq::from(&fields[..]),
            }
            .into(),
            pg::ParameterStatus {
                name: &names[0],
                value: &texts[9],
            }
            .into(),
            pg::ReadyForQuery {
                status: [&b"I"[..], b"T", b"E"][d.below(3) as usize],
            }
            .into(),
        ];
        let show = |dec: &asyncore_runtime::wire::Decoder, buf: &[u8], index: u16| {
            format!(
                "{:?}",
                pg::ServerMessage::from_decoder(dec, buf, index).expect("an index")
            )
        };
        encode_and_split(
            &server,
            |m, out| m.encode(out),
            &pg::ServerMessage::decoder,
            pg::ServerMessage::decode,
            pg::SERVER_MESSAGES_ALL,
            &show,
        );
        let params: Vec<pg::StartupParams<'_>> = (0..d.below(4) as usize)
            .map(|i| pg::StartupParams {
                name: &names[i + 1],
                value: &texts[i + 4],
            })
            .collect();
        let startup: Vec<pg::ClientMessage<'_>> = vec![
            pg::SslRequest {}.into(),
            pg::Startup {
                params: Seq::from(&params[..]),
            }
            .into(),
        ];
        let show = |dec: &asyncore_runtime::wire::Decoder, buf: &[u8], index: u16| {
            format!(
                "{:?}",
                pg::ClientMessage::from_decoder(dec, buf, index).expect("an index")
            )
        };
        encode_and_split(
            &startup,
            |m, out| m.encode(out),
            &pg::ClientMessage::decoder,
            pg::ClientMessage::decode,
            CONNECTING,
            &show,
        );
        let queries: Vec<pg::ClientMessage<'_>> = vec![
            pg::Query { sql: &texts[10] }.into(),
            pg::Password {
                password: &texts[11],
            }
            .into(),
            pg::Terminate {}.into(),
        ];
        encode_and_split(
            &queries,
            |m, out| m.encode(out),
            &pg::ClientMessage::decoder,
            pg::ClientMessage::decode,
            &[5, 4, 6],
            &show,
        );
    }
}

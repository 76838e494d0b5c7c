//! The shipped descriptions, compiled by `protocol!` from `protocols/descriptions/`:
//! recorded conversations decode the same split at every byte position, and every message
//! type survives encode-then-decode.

#[macro_use]
#[path = "support/roundtrip.rs"]
mod roundtrip;

use asyncore_runtime::protocol;
use asyncore_runtime::wire::{DecodeErrorKind, Decoded, Decoder, Lines, Quoted, Seq, MAX_PARAMS};
use roundtrip::{check_splits, resumable, DecodeFn};

protocol!(pub mod echo = "../protocols/descriptions/echo.aproto");
protocol!(pub mod chat = "../protocols/descriptions/chat.aproto");
protocol!(pub mod resp = "../protocols/descriptions/resp.aproto");
protocol!(pub mod memcache = "../protocols/descriptions/memcache.aproto");
protocol!(pub mod smtp = "../protocols/descriptions/smtp.aproto");
protocol!(pub mod http = "../protocols/descriptions/http.aproto");
protocol!(pub mod kv = "../protocols/descriptions/kv.aproto");

/// The words of a RESP inline command, as values to send.
fn words(items: &'static [&'static [u8]]) -> Seq<'static, Quoted<'static>> {
    Seq::Slice(Vec::leak(items.iter().map(|w| Quoted::new(w)).collect()))
}

/// A sequence of byte strings from constants (so it lives as long as the test).
fn seq(items: &'static [&'static [u8]]) -> Seq<'static, &'static [u8]> {
    Seq::from(items)
}

fn names(list: &[String]) -> Vec<&str> {
    list.iter()
        .map(|s| s.split(['(', ' ', '{']).next().unwrap_or(""))
        .collect()
}

#[test]
fn echo_round_trips() {
    let bytes = round_trip!(
        echo,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            echo::Line { text: b"hello" },
            echo::Line { text: b"" },
            echo::Line {
                text: b"with spaces\tand tabs"
            },
        ]
    );
    assert_eq!(bytes, b"hello\n\nwith spaces\tand tabs\n");
    round_trip!(
        echo,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [echo::Echo { text: b"hello" }]
    );
}

#[test]
fn chat_round_trips() {
    let bytes = round_trip!(
        chat,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            chat::Nick {
                name: Some(b"alice")
            },
            chat::Say {
                text: b"hello everyone"
            },
            chat::Quit {},
        ]
    );
    assert_eq!(bytes, b"/nick alice\nhello everyone\n/quit\n");
    round_trip!(
        chat,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [chat::Notice { text: b"bob: hi" }]
    );
}

#[test]
fn resp_round_trips() {
    let bytes = round_trip!(
        resp,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            resp::Command {
                args: seq(&[b"SET", b"key", b"va\r\nlue"])
            },
            resp::Inline {
                args: words(&[b"PING"])
            },
            resp::Command {
                args: seq(&[b"GET", b""])
            },
        ]
    );
    assert_eq!(
        bytes,
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$7\r\nva\r\nlue\r\nPING\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
    );
    let bytes = round_trip!(
        resp,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [
            resp::Simple { text: b"OK" },
            resp::Error {
                text: b"ERR wrong number of arguments for 'get' command"
            },
            resp::Integer { value: -42 },
            resp::Bulk { data: b"hello" },
            resp::Nil {},
            resp::Array { count: 2 },
            resp::NilArray {},
        ]
    );
    assert_eq!(
        bytes,
        b"+OK\r\n-ERR wrong number of arguments for 'get' command\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n*-1\r\n"
    );
}

#[test]
fn long_runs_of_digits_decode_the_same_on_both_paths() {
    let got = decode_recorded!(
        resp,
        ServerMessage,
        b":0000000000000000000000042\r\n:-00000000000000000009223372036854775808\r\n\
          $00000000000000000000003\r\nabc\r\n*0000000000000000000004294967295\r\n",
        |_| resp::SERVER_MESSAGES_ALL
    );
    assert_eq!(
        got,
        [
            format!(
                "{:?}",
                resp::ServerMessage::from(resp::Integer { value: 42 })
            ),
            format!(
                "{:?}",
                resp::ServerMessage::from(resp::Integer { value: i64::MIN })
            ),
            format!(
                "{:?}",
                resp::ServerMessage::from(resp::Bulk { data: b"abc" })
            ),
            format!(
                "{:?}",
                resp::ServerMessage::from(resp::Array { count: u32::MAX })
            ),
        ]
    );
    // Numbers over their maximum, however written, are refused by both paths alike.
    for input in [
        &b":99999999999999999999\r\n"[..],
        b":-9223372036854775809\r\n",
        b"*4294967296\r\n",
        b"*000000000000000000000004294967296\r\n",
    ] {
        for (how, decode) in [
            ("resumable", resumable as DecodeFn),
            ("fast path", resp::ServerMessage::decode),
        ] {
            let mut dec = resp::ServerMessage::decoder();
            let got = decode(&mut dec, input, resp::SERVER_MESSAGES_ALL);
            assert!(
                got.is_err(),
                "{} ({how}): {got:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn resp_decodes_what_redis_cli_sends() {
    // Bytes redis-cli 7 writes for `COMMAND DOCS` at start-up and `SET a b`, and an inline
    // command as telnet users type it.
    let got = decode_recorded!(
        resp,
        ClientMessage,
        b"*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\nPING\r\n",
        |_| resp::CLIENT_MESSAGES_ALL
    );
    assert_eq!(names(&got), ["Command", "Command", "Inline"]);
    assert!(got[1].contains("[115, 101, 116]"), "{}", got[1]);
    // What redis-server answers to `SET`, `GET missing`, `INCR`, `LRANGE` and a bad command.
    let got = decode_recorded!(
        resp,
        ServerMessage,
        b"+OK\r\n$-1\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n-ERR unknown command 'FOO'\r\n",
        |_| resp::SERVER_MESSAGES_ALL
    );
    assert_eq!(
        names(&got),
        ["Simple", "Nil", "Integer", "Array", "Bulk", "Bulk", "Error"]
    );
}

#[test]
fn memcache_round_trips() {
    let bytes = round_trip!(
        memcache,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            memcache::Get {
                keys: seq(&[b"a", b"b"])
            },
            memcache::Gets { keys: seq(&[b"a"]) },
            memcache::Gat {
                exptime: 10,
                keys: seq(&[b"a"])
            },
            memcache::Gats {
                exptime: -1,
                keys: seq(&[b"a"])
            },
            memcache::Set {
                key: b"k",
                flags: 5,
                exptime: 0,
                noreply: false,
                data: b"hel\r\nlo"
            },
            memcache::Add {
                key: b"k",
                flags: 0,
                exptime: 0,
                noreply: true,
                data: b""
            },
            memcache::Replace {
                key: b"k",
                flags: 0,
                exptime: 0,
                noreply: false,
                data: b"x"
            },
            memcache::Append {
                key: b"k",
                flags: 0,
                exptime: 0,
                noreply: false,
                data: b"x"
            },
            memcache::Prepend {
                key: b"k",
                flags: 0,
                exptime: 0,
                noreply: false,
                data: b"x"
            },
            memcache::Cas {
                key: b"k",
                flags: 0,
                exptime: 0,
                unique: 99,
                noreply: false,
                data: b"x"
            },
            memcache::Delete {
                key: b"k",
                hold: false,
                noreply: true
            },
            memcache::Incr {
                key: b"n",
                value: 5,
                noreply: false
            },
            memcache::Decr {
                key: b"n",
                value: 1,
                noreply: false
            },
            memcache::Touch {
                key: b"k",
                exptime: 100,
                noreply: false
            },
            memcache::FlushAll {
                delay: Some(10),
                noreply: false
            },
            memcache::FlushAll {
                delay: None,
                noreply: true
            },
            memcache::Version {},
            memcache::Verbosity {
                level: 1,
                noreply: false
            },
            memcache::Stats {
                args: seq(&[b"items"])
            },
            memcache::Stats {
                args: Seq::default()
            },
            memcache::SlabsAutomove { level: 1 },
            memcache::Watch {
                kinds: seq(&[b"fetchers", b"mutations"])
            },
            memcache::Shutdown {
                args: Seq::default()
            },
            memcache::Quit {},
        ]
    );
    assert!(bytes.starts_with(b"get a b\r\ngets a\r\ngat 10 a\r\ngats -1 a\r\nset k 5 0 7\r\nhel\r\nlo\r\nadd k 0 0 0 noreply\r\n\r\n"));
    round_trip!(
        memcache,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [
            memcache::Value {
                key: b"k",
                flags: 5,
                unique: None,
                data: b"hello"
            },
            memcache::Value {
                key: b"k",
                flags: 5,
                unique: Some(7),
                data: b""
            },
            memcache::End {},
            memcache::Stored {},
            memcache::NotStored {},
            memcache::Exists {},
            memcache::NotFound {},
            memcache::Deleted {},
            memcache::Touched {},
            memcache::Ok {},
            memcache::Number { value: 42 },
            memcache::Stat {
                name: b"pid",
                value: b"1234"
            },
            memcache::VersionReply { version: b"1.6.18" },
            memcache::Error {},
            memcache::ClientError {
                message: b"bad data chunk"
            },
            memcache::ServerError {
                message: b"out of memory"
            },
            memcache::ErrorReason {
                reason: b"shutdown not enabled"
            },
            memcache::Prefix {
                prefix: b"foo",
                get: 2,
                hit: 1,
                set: 1,
                del: 0
            },
            memcache::CacheItem {
                key: b"foo",
                bytes: 6,
                exptime: 0
            },
        ]
    );
}

/// A data block not followed by `\r\n`: the error, then (as memcached) the block and two
/// bytes go by and what follows is read as commands, fed whole, split at every byte, one
/// byte at a time, on both decoding paths.
#[test]
fn memcache_goes_on_after_a_bad_data_chunk() {
    let input = b"set k 0 0 2\r\nabcdef\r\nget k\r\nset k 0 0 5\r\nhelloXYget j\r\n";
    let expected = [
        "error: Literal",
        "error: Unknown",
        "Get",
        "error: Literal",
        "Get",
    ];
    for (how, decode) in [
        ("resumable", resumable as DecodeFn),
        ("fast path", memcache::ClientMessage::decode),
    ] {
        let mut plans: Vec<Vec<usize>> = vec![vec![], (1..input.len()).collect()];
        plans.extend((1..input.len()).map(|cut| vec![cut]));
        for cuts in plans {
            let mut dec = Decoder::new(&memcache::CLIENT_MESSAGES);
            let mut buf = Vec::new();
            let mut got: Vec<String> = Vec::new();
            let mut fed = 0;
            for end in cuts.iter().copied().chain([input.len()]) {
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
                loop {
                    match decode(&mut dec, &buf, memcache::CLIENT_MESSAGES_ALL) {
                        Ok(Decoded::NeedMore) => break,
                        Ok(Decoded::Skip { len }) => {
                            buf.drain(..len);
                        }
                        Ok(Decoded::Message { index, len }) => {
                            let m = memcache::ClientMessage::from_decoder(&dec, &buf[..len], index)
                                .expect("a message");
                            got.push(
                                format!("{m:?}")
                                    .split(['(', ' ', '{'])
                                    .next()
                                    .unwrap_or("")
                                    .to_string(),
                            );
                            buf.drain(..len);
                        }
                        Err(e) => {
                            assert!(e.can_continue(), "{e} ({how}, cuts {cuts:?})");
                            let kind = format!("{:?}", e.kind());
                            got.push(format!(
                                "error: {}",
                                kind.split([' ', '{']).next().unwrap_or("")
                            ));
                        }
                    }
                }
            }
            assert_eq!(got, expected, "{how}, cuts {cuts:?}");
            assert!(
                buf.is_empty(),
                "left over: {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    }
}

/// `padding accept` (memcache.aproto): the spaces and tabs before a command and after its
/// last argument are not part of the line, as memcached reads it; the same on both
/// decoding paths, split at every byte. A `get` line may be far longer than the framing's
/// 2 KiB (its `limit`), and a length past what memcached counts is a bad number.
#[test]
fn memcache_lines_take_spaces_around_them() {
    let long_get = [&b"get "[..], &b"k ".repeat(1100), b"\r\n"].concat();
    let input = [
        &b" get a \r\n  gets  a  b\t\r\ndelete k 0 \r\n set k 0 0 1 noreply \r\nx\r\n"[..],
        &long_get,
    ]
    .concat();
    let got = decode_recorded!(memcache, ClientMessage, &input, |_| {
        memcache::CLIENT_MESSAGES_ALL
    });
    let show = |m: memcache::ClientMessage<'_>| format!("{m:?}");
    let keys: Vec<&[u8]> = vec![b"k"; 1100];
    let mut dec = memcache::ClientMessage::decoder();
    let Ok(Decoded::Message { len, .. }) =
        memcache::ClientMessage::decode(&mut dec, &long_get, memcache::CLIENT_MESSAGES_ALL)
    else {
        panic!("a long get decodes");
    };
    assert_eq!(len, long_get.len());
    assert_eq!(
        got,
        [
            show(memcache::Get { keys: seq(&[b"a"]) }.into()),
            show(
                memcache::Gets {
                    keys: seq(&[b"a", b"b"])
                }
                .into()
            ),
            show(
                memcache::Delete {
                    key: b"k",
                    hold: true,
                    noreply: false
                }
                .into()
            ),
            show(
                memcache::Set {
                    key: b"k",
                    flags: 0,
                    exptime: 0,
                    noreply: true,
                    data: b"x"
                }
                .into()
            ),
            show(
                memcache::Get {
                    keys: Seq::from(&keys[..])
                }
                .into()
            ),
        ]
    );
    for refused in [&b"set k 0 0 2147483646\r\n"[..], b"get \r\n"] {
        let mut dec = memcache::ClientMessage::decoder();
        let got = memcache::ClientMessage::decode(&mut dec, refused, memcache::CLIENT_MESSAGES_ALL);
        assert!(
            got.is_err(),
            "{}: {got:?}",
            String::from_utf8_lossy(refused)
        );
    }
}

#[test]
fn memcache_decodes_what_memcached_sends() {
    let got = decode_recorded!(
        memcache,
        ServerMessage,
        b"VALUE foo 0 3\r\nbar\r\nVALUE baz 2 0 17\r\n\r\nEND\r\nSTORED\r\n6\r\nSTAT pid 1\r\nSTAT uptime 5\r\nEND\r\n",
        |_| memcache::SERVER_MESSAGES_ALL
    );
    assert_eq!(
        names(&got),
        ["Value", "Value", "End", "Stored", "Number", "Stat", "Stat", "End"]
    );
}

#[test]
fn smtp_round_trips_a_session() {
    let body = Lines::from(
        &b"Subject: hi\r\n\r\n.leading dot\r\n..two dots\r\n8-bit: \xc3\xa9t\xc3\xa9\r\n"[..],
    );
    let bytes = round_trip!(
        smtp,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            smtp::Helo {
                domain: b"old.example"
            },
            smtp::Ehlo {
                domain: b"client.example"
            },
            smtp::Mail {
                path: b"<a@example.com> SIZE=100"
            },
            smtp::Rcpt {
                path: b"<b@example.com>"
            },
            smtp::Rset {},
            smtp::Noop { text: None },
            smtp::Noop {
                text: Some(b"hello")
            },
            smtp::Vrfy { who: b"postmaster" },
            smtp::StartTls {},
            smtp::Quit {},
        ]
    );
    assert!(bytes.ends_with(b"STARTTLS\r\nQUIT\r\n"));
    assert!(bytes.starts_with(
        b"HELO old.example\r\nEHLO client.example\r\nMAIL FROM:<a@example.com> SIZE=100\r\n"
    ));
    // The body is only allowed after DATA: decode with the states' lists.
    let mut input = Vec::new();
    smtp::Data {}.encode(&mut input).unwrap();
    smtp::Body { text: body }.encode(&mut input).unwrap();
    smtp::Quit {}.encode(&mut input).unwrap();
    assert_eq!(
        input,
        b"DATA\r\nSubject: hi\r\n\r\n..leading dot\r\n...two dots\r\n8-bit: \xc3\xa9t\xc3\xa9\r\n.\r\nQUIT\r\n"
    );
    let allowed = |seen: &[String]| match seen.last().map(|s| names(std::slice::from_ref(s))[0]) {
        Some("Data") => smtp::State::Body.allowed(),
        _ => smtp::State::Recipients.allowed(),
    };
    let got = decode_recorded!(smtp, ClientMessage, &input, allowed);
    assert_eq!(names(&got), ["Data", "Body", "Quit"]);
    // Dot-unstuffing gives the message back byte for byte.
    let mut dec = smtp::ClientMessage::decoder();
    let after_data = &input[6..];
    let Ok(Decoded::Message { index, len }) = dec.decode(after_data, smtp::State::Body.allowed())
    else {
        panic!("no body")
    };
    let Some(smtp::ClientMessage::Body(b)) =
        smtp::ClientMessage::from_decoder(&dec, &after_data[..len], index)
    else {
        panic!("not a body")
    };
    assert_eq!(b.text.to_vec(), body.to_vec());
    assert_eq!(
        b.text.to_vec(),
        b"Subject: hi\r\n\r\n.leading dot\r\n..two dots\r\n8-bit: \xc3\xa9t\xc3\xa9\r\n"
    );
    round_trip!(
        smtp,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [
            smtp::Reply {
                code: 250,
                more: b"-",
                text: b"mail.example"
            },
            smtp::Reply {
                code: 250,
                more: b" ",
                text: b"PIPELINING"
            },
            smtp::Reply {
                code: 354,
                more: b" ",
                text: b"End data with <CR><LF>.<CR><LF>"
            },
        ]
    );
}

/// `STARTTLS` is allowed in `Greeted` until TLS is on, and its reply says whether TLS
/// starts: `220` does, anything else does not; in no other state does it start TLS.
#[test]
fn smtp_starttls_tables() {
    use smtp::State;
    let bit = |s: State| 1u64 << State::ALL.iter().position(|x| *x == s).unwrap();
    let start = smtp::ClientMessage::from(smtp::StartTls {}).index();
    assert!(State::Greeted.allowed().contains(&start));
    assert!(!State::Greeted.allowed_with_tls().contains(&start));
    for s in State::ALL {
        let others: Vec<u16> = s
            .allowed()
            .iter()
            .copied()
            .filter(|&m| m != start)
            .collect();
        assert_eq!(s.allowed_with_tls(), others, "{s:?}");
        assert_eq!(
            smtp::may_start_tls(bit(*s), start),
            *s == State::Greeted,
            "{s:?}"
        );
    }
    let reply = |code| {
        smtp::ServerMessage::from(smtp::Reply {
            code,
            more: b" ",
            text: b"",
        })
    };
    let greeted = bit(State::Greeted);
    assert!(smtp::starts_tls_after(greeted, start, &reply(220)));
    for code in [454, 502, 503, 221, 250] {
        assert!(
            !smtp::starts_tls_after(greeted, start, &reply(code)),
            "{code}"
        );
    }
    assert!(!smtp::starts_tls_after(
        bit(State::Fresh),
        start,
        &reply(220)
    ));
    let ehlo = smtp::ClientMessage::from(smtp::Ehlo { domain: b"x" }).index();
    assert!(!smtp::starts_tls_after(greeted, ehlo, &reply(220)));
    // Once TLS is on, STARTTLS in `Greeted` is a command out of sequence.
    let mut dec = smtp::ClientMessage::decoder();
    let err = dec
        .decode(b"STARTTLS\r\n", State::Greeted.allowed_with_tls())
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            DecodeErrorKind::NotAllowed {
                message: "StartTls"
            }
        ),
        "{err}"
    );
}

#[test]
fn smtp_commands_are_case_insensitive_and_crlf_is_strict() {
    let got = decode_recorded!(
        smtp,
        ClientMessage,
        b"ehlo x\r\nmail from:<a@b>\r\n",
        |_| smtp::State::Greeted.allowed()
    );
    assert_eq!(names(&got), ["Ehlo", "Mail"]);
    let mut dec = smtp::ClientMessage::decoder();
    let err = dec
        .decode(b"EHLO x\nQUIT\r\n", smtp::State::Fresh.allowed())
        .unwrap_err();
    assert!(err.to_string().contains("LF"), "{err}");
}

#[test]
fn http_round_trips() {
    let headers = [
        http::RequestHeaders {
            name: b"Host",
            value: b"example.com",
        },
        http::RequestHeaders {
            name: b"Content-Length",
            value: b"0",
        },
    ];
    let trailer = [http::TrailerFields {
        name: b"X-Sum",
        value: b"1",
    }];
    let bytes = round_trip!(
        http,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            http::Request {
                method: b"GET",
                target: b"/index.html",
                version: b"HTTP/1.1",
                headers: Seq::from(&headers)
            },
            http::Blank {},
            http::ChunkSize {
                size: 5,
                ext: b";x=1"
            },
            http::Trailer {
                fields: Seq::from(&trailer)
            },
        ]
    );
    assert_eq!(
        bytes,
        b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n\r\n5;x=1\r\nX-Sum: 1\r\n\r\n"
    );
    let rh = [http::ResponseHeaders {
        name: b"Server",
        value: b"nginx",
    }];
    round_trip!(
        http,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [http::Response {
            version: b"HTTP/1.1",
            status: 200,
            reason: b"OK",
            headers: Seq::from(&rh)
        },]
    );
}

#[test]
fn http_decodes_what_curl_sends() {
    let got = decode_recorded!(
        http,
        ClientMessage,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        |_| http::CLIENT_MESSAGES_ALL
    );
    assert_eq!(names(&got), ["Request"]);
    assert!(
        got[0].contains("User-Agent") || got[0].contains("85, 115, 101, 114"),
        "{}",
        got[0]
    );
}

/// Requests with bodies, as curl sends them: the request's handler reads the length from
/// the headers and passes it to the body (a message parameter), and chunked bodies come as
/// size lines, each followed by its data (the size a parameter), up to the size 0 and the
/// trailer section; a stray empty line, then a pipelined GET follow.
#[test]
fn http_bodies_decode_with_parameters_at_every_split() {
    let input: &[u8] =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\nhello\r\nworld!\
        POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n\
        \r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    // The states the handlers of the messages seen so far chose, and the lengths.
    let allowed = |seen: &[String]| match seen.len() {
        1 => http::State::Sized.allowed(),
        3 | 5 | 7 => http::State::Chunked.allowed(),
        4 | 6 => http::State::InChunk.allowed(),
        8 => http::State::Trailers.allowed(),
        _ => http::State::Idle.allowed(),
    };
    let params = |seen: &[String]| {
        let mut p = [0; MAX_PARAMS];
        p[0] = match seen.len() {
            1 => 13,
            4 => 5,
            6 => 6,
            _ => 0,
        };
        p
    };
    let show = |dec: &Decoder, buf: &[u8], index: u16| {
        let m = http::ClientMessage::from_decoder(dec, buf, index).expect("a message index");
        match m {
            http::ClientMessage::Body(b) => format!("Body {:?}", String::from_utf8_lossy(b.data)),
            http::ClientMessage::ChunkSize(c) => format!("ChunkSize {}", c.size),
            http::ClientMessage::ChunkData(c) => {
                format!("ChunkData {:?}", String::from_utf8_lossy(c.data))
            }
            http::ClientMessage::Trailer(t) => format!("Trailer {}", t.fields.len()),
            http::ClientMessage::Blank(_) => "Blank".to_string(),
            http::ClientMessage::Request(r) => {
                format!("Request {}", String::from_utf8_lossy(r.method))
            }
        }
    };
    let expected = [
        "Request POST",
        "Body \"hello\\r\\nworld!\"",
        "Request POST",
        "ChunkSize 5",
        "ChunkData \"hello\"",
        "ChunkSize 6",
        "ChunkData \" world\"",
        "ChunkSize 0",
        "Trailer 1",
        "Blank",
        "Request GET",
    ];
    check_splits(
        &http::ClientMessage::decoder,
        http::ClientMessage::decode,
        input,
        &expected.map(String::from),
        &allowed,
        &params,
        &show,
    );
    // The encoder writes a body as its bytes alone: the length travels in the headers.
    let mut out = Vec::new();
    http::ClientMessage::from(http::Body {
        data: b"hello\r\nworld!",
    })
    .encode(&mut out)
    .unwrap();
    assert_eq!(out, b"hello\r\nworld!");
}

/// The client's view: a response's `Content-Length` body is read when the client expects
/// it, with its length as the parameter.
#[test]
fn http_response_bodies_decode_when_expected() {
    let content = http::SERVER_MESSAGES
        .messages
        .iter()
        .position(|m| m.name == "Content")
        .expect("a Content message") as u16;
    assert!(
        !http::SERVER_MESSAGES_ALL.contains(&content),
        "a message with parameters is never tried on its own"
    );
    let expect_content: &'static [u16] = Box::leak(Box::new([content]));
    let input: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nHTTP/1.\
        HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let allowed = move |seen: &[String]| match seen.len() {
        1 => expect_content,
        _ => http::SERVER_MESSAGES_ALL,
    };
    let params = |seen: &[String]| {
        let mut p = [0; MAX_PARAMS];
        p[0] = 7 * u64::from(seen.len() == 1);
        p
    };
    let show = |dec: &Decoder, buf: &[u8], index: u16| {
        let m = http::ServerMessage::from_decoder(dec, buf, index).expect("a message index");
        match m {
            http::ServerMessage::Content(c) => {
                format!("Content {:?}", String::from_utf8_lossy(c.data))
            }
            http::ServerMessage::Chunk(c) => format!("Chunk {:?}", String::from_utf8_lossy(c.data)),
            http::ServerMessage::Response(r) => format!("Response {}", r.status),
        }
    };
    let expected = [
        "Response 200",
        "Content \"HTTP/1.\"",
        "Response 200",
        "Chunk \"abc\"",
        "Chunk \"\"",
    ];
    check_splits(
        &http::ServerMessage::decoder,
        http::ServerMessage::decode,
        input,
        &expected.map(String::from),
        &allowed,
        &params,
        &show,
    );
}

#[test]
fn kv_round_trips() {
    let bytes = round_trip!(
        kv,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            kv::Get { key: b"k" },
            kv::Put {
                key: b"key",
                value: b"value"
            },
            kv::Del { key: b"" },
        ]
    );
    assert_eq!(&bytes[..6], b"\0\0\0\x02\x01k");
    assert_eq!(&bytes[6..21], b"\0\0\0\x0b\x02\0\x03keyvalue");
    round_trip!(
        kv,
        ServerMessage,
        SERVER_MESSAGES_ALL,
        [
            kv::Found { value: b"v" },
            kv::NotFound {},
            kv::Ok {},
            kv::Failed { reason: b"too big" },
        ]
    );
}

#[test]
fn encoders_refuse_what_the_framing_cannot_carry() {
    let mut out = Vec::new();
    assert!(memcache::Get {
        keys: seq(&[b"two words"])
    }
    .encode(&mut out)
    .is_err());
    assert!(echo::Echo {
        text: b"line\nbreak"
    }
    .encode(&mut out)
    .is_err());
    assert!(smtp::Helo {
        domain: b"x\r\nMAIL FROM:<evil>"
    }
    .encode(&mut out)
    .is_err());
    assert!(out.is_empty(), "nothing is written on an error");
}

#[test]
fn a_repetition_that_starts_its_line_separates_its_items() {
    // RESP inline commands: words from the start of the line, quoted where a value
    // needs it.
    let bytes = round_trip!(
        resp,
        ClientMessage,
        CLIENT_MESSAGES_ALL,
        [
            resp::Inline {
                args: words(&[b"SET", b"a b", b""])
            },
            resp::Inline {
                args: words(&[b"PING"])
            },
        ]
    );
    assert_eq!(bytes, b"SET \"a b\" \"\"\r\nPING\r\n");
    let got = decode_recorded!(resp, ClientMessage, b"SET  a\tb\r\n", |_| {
        resp::CLIENT_MESSAGES_ALL
    });
    assert_eq!(got.len(), 1);
    assert!(got[0].contains(r#"["SET", "a", "b"]"#), "{}", got[0]);
}

/// Keywords match as whole words: a line that only starts with a keyword is an unknown
/// command, not a malformed one of the message whose keyword it starts with.
#[test]
fn keywords_match_as_whole_words() {
    use asyncore_runtime::wire::DecodeErrorKind;
    for (line, want) in [
        (&b"getx key\r\n"[..], "unknown"),
        (b"quitx\r\n", "unknown"),
        (b"quit now\r\n", "invalid"),
        (b"get\r\n", "invalid"),
    ] {
        for decode in [resumable as DecodeFn, memcache::ClientMessage::decode] {
            let mut dec = memcache::ClientMessage::decoder();
            let err = decode(&mut dec, line, memcache::CLIENT_MESSAGES_ALL).expect_err("bad input");
            let kind = match err.kind() {
                DecodeErrorKind::Unknown => "unknown",
                _ => "invalid",
            };
            assert_eq!(kind, want, "{:?}: {err}", String::from_utf8_lossy(line));
        }
    }
    // Keywords that end in punctuation still glue: SMTP's `MAIL FROM:<a@b>`.
    let mut dec = smtp::ClientMessage::decoder();
    assert!(matches!(
        dec.decode(b"MAIL FROM:<a@b>\r\n", smtp::State::Greeted.allowed()),
        Ok(Decoded::Message { .. })
    ));
}

/// An input, the message it fails in, and the op and byte where it fails.
type ErrorCase<'a> = (&'a [u8], &'a str, Option<usize>, Option<u8>);

/// RESP's bad input is an error of the part that failed: the message, the op and the
/// byte found there, as the server's policies (`else`) read them, on both decoding
/// paths; a count below one is a command of no arguments, and inline words are unquoted.
#[test]
fn resp_errors_name_the_part_that_failed() {
    use asyncore_runtime::wire::DecodeErrorKind;
    let ops = |name: &str| {
        resp::CLIENT_MESSAGES
            .messages
            .iter()
            .find(|m| m.name == name)
            .expect("a message")
            .ops
    };
    let command = ops("Command");
    // The op of the count, of the `$` literal and of the length.
    let argc = command
        .iter()
        .position(|o| matches!(o, asyncore_runtime::wire::Op::Int { .. }))
        .expect("the count");
    let dollar = command
        .iter()
        .position(|o| *o == asyncore_runtime::wire::Op::Lit(b"$"))
        .expect("the `$`");
    let len = command
        .iter()
        .position(|o| matches!(o, asyncore_runtime::wire::Op::Uint { .. }))
        .expect("the length");
    let too_long = {
        let mut v = b"*".to_vec();
        v.resize(70_000, b'1');
        v
    };
    let cases: Vec<ErrorCase<'_>> = vec![
        (b"*abc\r\n", "Command", Some(argc), Some(b'a')),
        (b"*3000000000\r\n", "Command", Some(argc), Some(b'3')),
        (b"*3 x\r\n", "Command", Some(argc + 1), Some(b' ')),
        (b"*1\r\nfoo\r\n", "Command", Some(dollar), Some(b'f')),
        (b"*1\r\n\r\n", "Command", Some(dollar), Some(b'\r')),
        (b"*1\r\n$-1\r\n", "Command", Some(len), Some(b'-')),
        (b"*1\r\n$600000000\r\n", "Command", Some(len), Some(b'6')),
        (&too_long, "Command", Some(0), Some(b'*')),
        (b"set \"a\"b c\r\n", "Inline", None, Some(b'b')),
    ];
    for (input, message, op, found) in cases {
        let shown = String::from_utf8_lossy(&input[..input.len().min(30)]);
        for (how, decode) in [
            ("resumable", resumable as DecodeFn),
            ("fast path", resp::ClientMessage::decode),
        ] {
            let mut dec = resp::ClientMessage::decoder();
            let err = decode(&mut dec, input, resp::CLIENT_MESSAGES_ALL)
                .expect_err(&format!("{shown:?} ({how}) is bad input"));
            assert_eq!(err.message(), Some(message), "{shown:?} ({how}): {err}");
            if op.is_some() {
                assert_eq!(err.op(), op, "{shown:?} ({how}): {err}");
            }
            assert_eq!(err.found(), found, "{shown:?} ({how}): {err}");
            assert_ne!(*err.kind(), DecodeErrorKind::Unknown);
        }
    }
    // `*0` and `*-1`: commands of no arguments; quoted inline words.
    let got = decode_recorded!(
        resp,
        ClientMessage,
        b"*0\r\n*-1\r\nset \"a b\" 'it\\'s' \"\\x41\\n\"\r\n\r\n",
        |_| resp::CLIENT_MESSAGES_ALL
    );
    assert_eq!(
        got,
        [
            "Command(Command { args: [] })",
            "Command(Command { args: [] })",
            r#"Inline(Inline { args: ["set", "a b", "it's", "A\n"] })"#,
            "Inline(Inline { args: [] })",
        ]
    );
}

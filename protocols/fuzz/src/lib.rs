//! Fuzzing the decoders generated from the shipped descriptions.
//!
//! Each target takes arbitrary bytes: the first byte picks the state (for the client
//! messages the server decodes), where the input is split in two reads, and whether the
//! client expects a server message with parameters; the second gives the parameters'
//! value (an HTTP body's length) and which of the messages read only when expected
//! (with parameters, or a framing of their own) the client expects; the rest is the
//! input. Both directions are decoded, with the resumable decoder alone and as channels
//! do (the generated fast path first), side by side: each step must give the same
//! message, slots, items or error. Every decoded message is built, encoded again, and,
//! when the encoding succeeds, decoded again to the same message. Nothing may panic or
//! loop, and the decoder may not ask for more input once it holds its buffer limit (a
//! channel's read buffer would be full).

use std::fmt::{self, Write};

use asyncore_runtime::protocol;
use asyncore_runtime::wire::{DecodeError, Decoded, Decoder, Op, Program, MAX_PARAMS};

/// The generated `decode` of a direction (fast path first, then the resumable decoder).
type DecodeFn = fn(&mut Decoder, &[u8], &[u16]) -> Result<Decoded, DecodeError>;

protocol!(pub mod echo_p = "../descriptions/echo.aproto");
protocol!(pub mod chat_p = "../descriptions/chat.aproto");
protocol!(pub mod resp_p = "../descriptions/resp.aproto");
protocol!(pub mod memcache_p = "../descriptions/memcache.aproto");
protocol!(pub mod smtp_p = "../descriptions/smtp.aproto");
protocol!(pub mod http_p = "../descriptions/http.aproto");
protocol!(pub mod kv_p = "../descriptions/kv.aproto");
protocol!(pub mod mqtt_p = "../descriptions/mqtt.aproto");
protocol!(pub mod pg_p = "../descriptions/pg.aproto");
protocol!(pub mod pop3_p = "../descriptions/pop3.aproto");

/// A `fmt::Write` that keeps nothing: formatting an error into it checks that
/// `Display` does not panic, without allocating.
struct Discard;

impl Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

/// Decodes `input`, arriving in two reads split at `cut`, with the resumable decoder
/// alone and with `decode` (as channels do) side by side: every step must give the same
/// outcome, and every message the same slots and items (`side` names the direction in
/// failures). `each` is called on every message. The buffer is the input itself: what the decoders have consumed is dropped by
/// moving the start, not by copying the rest.
#[allow(clippy::too_many_arguments)]
fn run(
    side: &str,
    mut plain: Decoder,
    mut fast: Decoder,
    decode: DecodeFn,
    input: &[u8],
    cut: usize,
    allowed: &[u16],
    params: &[u64; MAX_PARAMS],
    mut each: impl FnMut(&Decoder, &[u8], u16),
) {
    plain.set_params(params);
    fast.set_params(params);
    let limit = plain.buffer_limit();
    let cut = cut.min(input.len());
    let mut start = 0;
    for end in [cut, input.len()] {
        // Bounded: every step consumes bytes or waits.
        for _ in 0..=end - start + 1 {
            let buf = &input[start..end];
            let got = plain.decode(buf, allowed);
            let also = decode(&mut fast, buf, allowed);
            assert_eq!(
                got, also,
                "the fast path and the resumable decoder disagree ({side})"
            );
            match got {
                Ok(Decoded::NeedMore) => {
                    // A channel's read buffer holds `buffer_limit` bytes: asking for more
                    // with it full would stall the connection.
                    assert!(
                        buf.len() < limit,
                        "more input wanted with {} of {limit} bytes buffered ({side})",
                        buf.len()
                    );
                    break;
                }
                Ok(Decoded::Skip { len }) => {
                    assert!(
                        len > 0 && len <= buf.len(),
                        "skip of {len} in {}",
                        buf.len()
                    );
                    start += len;
                }
                Ok(Decoded::Message { index, len }) => {
                    assert!(
                        len > 0 && len <= buf.len(),
                        "message of {len} in {}",
                        buf.len()
                    );
                    assert_eq!(
                        plain.slots(),
                        fast.slots(),
                        "the two decoders' slots differ ({side})"
                    );
                    assert_eq!(
                        plain.items(),
                        fast.items(),
                        "the two decoders' items differ ({side})"
                    );
                    each(&fast, &buf[..len], index);
                    start += len;
                }
                Err(e) => {
                    let _ = write!(Discard, "{e}");
                    if !e.can_continue() {
                        return;
                    }
                }
            }
        }
    }
}

/// A message of `program` that a client reads only when its handler expects it (one that
/// takes parameters, or has a framing of its own), chosen by `pick`.
fn expected(program: &Program, all: &[u16], pick: u8) -> Option<u16> {
    let only_expected = || {
        (0..program.messages.len())
            .filter_map(|i| u16::try_from(i).ok())
            .filter(|i| !all.contains(i))
            .filter(|&i| {
                !matches!(
                    program.messages[usize::from(i)].ops.first(),
                    None | Some(Op::Lit(_))
                )
            })
    };
    let n = only_expected().count();
    only_expected().nth(usize::from(pick) % n.max(1))
}

macro_rules! target {
    ($name:ident, $m:ident) => {
        /// The fuzz body for this protocol.
        pub fn $name(data: &[u8]) {
            let Some((&first, input)) = data.split_first() else {
                return;
            };
            let Some((&second, input)) = input.split_first() else {
                return;
            };
            let params = [u64::from(second) * 5 + 1; MAX_PARAMS];
            let state = $m::State::ALL[first as usize % $m::State::ALL.len()];
            let cut = (first as usize * 7) % (input.len() + 1);
            let mut out = Vec::new();
            run(
                "client messages",
                $m::ClientMessage::decoder(),
                $m::ClientMessage::decoder(),
                $m::ClientMessage::decode,
                input,
                cut,
                state.allowed(),
                &params,
                |dec, buf, index| {
                    let msg =
                        $m::ClientMessage::from_decoder(dec, buf, index).expect("index in range");
                    out.clear();
                    if msg.encode(&mut out).is_ok() {
                        let mut again = $m::ClientMessage::decoder();
                        again.set_params(&params);
                        if let Ok(Decoded::Message { index: i2, len }) =
                            again.decode(&out, &[index])
                        {
                            let back = $m::ClientMessage::from_decoder(&again, &out[..len], i2);
                            assert_eq!(
                                back,
                                Some(msg),
                                "re-encoded as {:?}",
                                String::from_utf8_lossy(&out)
                            );
                        }
                    }
                },
            );
            let one: [u16; 1];
            let allowed: &[u16] =
                match expected(&$m::SERVER_MESSAGES, $m::SERVER_MESSAGES_ALL, second) {
                    Some(index) if first & 0x80 != 0 => {
                        one = [index];
                        &one
                    }
                    _ => $m::SERVER_MESSAGES_ALL,
                };
            run(
                "server messages",
                $m::ServerMessage::decoder(),
                $m::ServerMessage::decoder(),
                $m::ServerMessage::decode,
                input,
                cut,
                allowed,
                &params,
                |dec, buf, index| {
                    let msg =
                        $m::ServerMessage::from_decoder(dec, buf, index).expect("index in range");
                    out.clear();
                    if msg.encode(&mut out).is_ok() {
                        let mut again = $m::ServerMessage::decoder();
                        again.set_params(&params);
                        if let Ok(Decoded::Message { index: i2, len }) =
                            again.decode(&out, &[index])
                        {
                            let back = $m::ServerMessage::from_decoder(&again, &out[..len], i2);
                            assert_eq!(
                                back,
                                Some(msg),
                                "re-encoded as {:?}",
                                String::from_utf8_lossy(&out)
                            );
                        }
                    }
                },
            );
        }
    };
}

target!(echo, echo_p);
target!(chat, chat_p);
target!(resp, resp_p);
target!(memcache, memcache_p);
target!(smtp, smtp_p);
target!(http, http_p);
target!(kv, kv_p);
target!(mqtt, mqtt_p);
target!(pg, pg_p);
target!(pop3, pop3_p);

//! Fuzzing the decoders generated from the shipped descriptions.
//!
//! Each target takes arbitrary bytes: the first byte picks the state (for the client
//! messages the server decodes), where the input is split in two reads, and whether the
//! client expects a server message with parameters; the second gives the parameters'
//! value (an HTTP body's length) and which of the messages read only when expected
//! (with parameters, or a framing of their own) the client expects; the rest is the input. Both directions are decoded, once with the resumable decoder alone and once
//! as channels do (the generated fast path first): both must give the same messages,
//! slots and errors. Every decoded message is built, encoded again, and, when the encoding
//! succeeds, decoded again to the same message. Nothing may panic, loop or grow past the
//! description's limits.

use asyncore_runtime::protocol;
use asyncore_runtime::wire::{DecodeError, Decoded, Decoder, Op, Program, Slot, MAX_PARAMS};

/// How to decode: the resumable decoder alone, or the generated `decode` (fast path first).
type DecodeFn = fn(&mut Decoder, &[u8], &[u16]) -> Result<Decoded, DecodeError>;

fn resumable(dec: &mut Decoder, buf: &[u8], allowed: &[u16]) -> Result<Decoded, DecodeError> {
    dec.decode(buf, allowed)
}

/// One decoding step's outcome, comparable across the two paths.
#[derive(Debug, PartialEq)]
enum Seen {
    Message(u16, usize, Vec<Slot>, Vec<Slot>),
    Skip(usize),
    Error(String),
}

protocol!(pub mod echo_p = "../descriptions/echo.proto");
protocol!(pub mod chat_p = "../descriptions/chat.proto");
protocol!(pub mod resp_p = "../descriptions/resp.proto");
protocol!(pub mod memcache_p = "../descriptions/memcache.proto");
protocol!(pub mod smtp_p = "../descriptions/smtp.proto");
protocol!(pub mod http_p = "../descriptions/http.proto");
protocol!(pub mod kv_p = "../descriptions/kv.proto");
protocol!(pub mod mqtt_p = "../descriptions/mqtt.proto");
protocol!(pub mod pg_p = "../descriptions/pg.proto");

/// Decodes `input` in two reads split at `cut` with `decode`, calling `each` on every
/// message; what it saw.
fn run(
    mut dec: Decoder,
    decode: DecodeFn,
    input: &[u8],
    cut: usize,
    allowed: &[u16],
    params: &[u64; MAX_PARAMS],
    mut each: impl FnMut(&Decoder, &[u8], u16),
) -> Vec<Seen> {
    dec.set_params(params);
    let cut = cut.min(input.len());
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = Vec::new();
    for chunk in [&input[..cut], &input[cut..]] {
        buf.extend_from_slice(chunk);
        // Bounded: every step consumes bytes or waits.
        for _ in 0..=buf.len() + 1 {
            match decode(&mut dec, &buf, allowed) {
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Skip { len }) => {
                    assert!(len > 0 && len <= buf.len(), "skip of {len} in {}", buf.len());
                    seen.push(Seen::Skip(len));
                    buf.drain(..len);
                }
                Ok(Decoded::Message { index, len }) => {
                    assert!(len > 0 && len <= buf.len(), "message of {len} in {}", buf.len());
                    seen.push(Seen::Message(index, len, dec.slots().to_vec(), dec.items().to_vec()));
                    each(&dec, &buf[..len], index);
                    buf.drain(..len);
                }
                Err(e) => {
                    seen.push(Seen::Error(e.to_string()));
                    if !e.can_continue() {
                        return seen;
                    }
                }
            }
        }
        assert!(buf.len() <= dec.buffer_limit() + input.len(), "buffer over its limit");
    }
    seen
}

/// A message of `program` that a client reads only when its handler expects it (one that
/// takes parameters, or has a framing of its own), chosen by `pick`.
fn expected(program: &Program, all: &[u16], pick: u8) -> Option<u16> {
    let only_expected: Vec<u16> = (0..program.messages.len())
        .filter_map(|i| u16::try_from(i).ok())
        .filter(|i| !all.contains(i))
        .filter(|&i| !matches!(program.messages[usize::from(i)].ops.first(), None | Some(Op::Lit(_))))
        .collect();
    only_expected.get(usize::from(pick) % only_expected.len().max(1)).copied()
}

macro_rules! target {
    ($name:ident, $m:ident) => {
        /// The fuzz body for this protocol.
        pub fn $name(data: &[u8]) {
            let Some((&first, input)) = data.split_first() else { return };
            let Some((&second, input)) = input.split_first() else { return };
            let params = [u64::from(second) * 5 + 1; MAX_PARAMS];
            let state = $m::State::ALL[first as usize % $m::State::ALL.len()];
            let cut = (first as usize * 7) % (input.len() + 1);
            let plain = run($m::ClientMessage::decoder(), resumable, input, cut, state.allowed(), &params, |_, _, _| {});
            let fast = run($m::ClientMessage::decoder(), $m::ClientMessage::decode, input, cut, state.allowed(), &params, |dec, buf, index| {
                let msg = $m::ClientMessage::from_decoder(dec, buf, index).expect("index in range");
                let mut out = Vec::new();
                if msg.encode(&mut out).is_ok() {
                    let mut again = $m::ClientMessage::decoder();
                    again.set_params(&params);
                    if let Ok(Decoded::Message { index: i2, len }) = again.decode(&out, &[index]) {
                        let back = $m::ClientMessage::from_decoder(&again, &out[..len], i2);
                        assert_eq!(back, Some(msg), "re-encoded as {:?}", String::from_utf8_lossy(&out));
                    }
                }
            });
            assert_eq!(plain, fast, "the fast path and the resumable decoder disagree (client messages)");
            let one: [u16; 1];
            let allowed: &[u16] = match expected(&$m::SERVER_MESSAGES, $m::SERVER_MESSAGES_ALL, second) {
                Some(index) if first & 0x80 != 0 => {
                    one = [index];
                    &one
                }
                _ => $m::SERVER_MESSAGES_ALL,
            };
            let plain = run($m::ServerMessage::decoder(), resumable, input, cut, allowed, &params, |_, _, _| {});
            let fast = run($m::ServerMessage::decoder(), $m::ServerMessage::decode, input, cut, allowed, &params, |dec, buf, index| {
                let msg = $m::ServerMessage::from_decoder(dec, buf, index).expect("index in range");
                let mut out = Vec::new();
                if msg.encode(&mut out).is_ok() {
                    let mut again = $m::ServerMessage::decoder();
                    again.set_params(&params);
                    if let Ok(Decoded::Message { index: i2, len }) = again.decode(&out, &[index]) {
                        let back = $m::ServerMessage::from_decoder(&again, &out[..len], i2);
                        assert_eq!(back, Some(msg), "re-encoded as {:?}", String::from_utf8_lossy(&out));
                    }
                }
            });
            assert_eq!(plain, fast, "the fast path and the resumable decoder disagree (server messages)");
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

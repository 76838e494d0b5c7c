//! Fuzzing the decoders generated from the shipped descriptions.
//!
//! Each target takes arbitrary bytes: the first byte picks the state (for the client
//! messages the server decodes) and where the input is split in two reads; the rest is
//! the input. Both directions are decoded. Every decoded message is built, encoded again,
//! and, when the encoding succeeds, decoded again to the same message. Nothing may panic,
//! loop or grow past the description's limits.

use asyncore_runtime::protocol;
use asyncore_runtime::wire::{Decoded, Decoder};

protocol!(pub mod echo_p = "../descriptions/echo.proto");
protocol!(pub mod chat_p = "../descriptions/chat.proto");
protocol!(pub mod resp_p = "../descriptions/resp.proto");
protocol!(pub mod memcache_p = "../descriptions/memcache.proto");
protocol!(pub mod smtp_p = "../descriptions/smtp.proto");
protocol!(pub mod http_p = "../descriptions/http.proto");
protocol!(pub mod kv_p = "../descriptions/kv.proto");

/// Decodes `input` in two reads split at `cut`, calling `each` on every message.
fn run(mut dec: Decoder, input: &[u8], cut: usize, allowed: &[u16], mut each: impl FnMut(&Decoder, &[u8], u16)) {
    let cut = cut.min(input.len());
    let mut buf: Vec<u8> = Vec::new();
    for chunk in [&input[..cut], &input[cut..]] {
        buf.extend_from_slice(chunk);
        // Bounded: every step consumes bytes or waits.
        for _ in 0..=buf.len() + 1 {
            match dec.decode(&buf, allowed) {
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Skip { len }) => {
                    assert!(len > 0 && len <= buf.len(), "skip of {len} in {}", buf.len());
                    buf.drain(..len);
                }
                Ok(Decoded::Message { index, len }) => {
                    assert!(len > 0 && len <= buf.len(), "message of {len} in {}", buf.len());
                    each(&dec, &buf[..len], index);
                    buf.drain(..len);
                }
                Err(e) => {
                    let _ = e.to_string();
                    if !e.can_continue() {
                        return;
                    }
                }
            }
        }
        assert!(buf.len() <= dec.buffer_limit() + input.len(), "buffer over its limit");
    }
}

macro_rules! target {
    ($name:ident, $m:ident) => {
        /// The fuzz body for this protocol.
        pub fn $name(data: &[u8]) {
            let Some((&first, input)) = data.split_first() else { return };
            let state = $m::State::ALL[first as usize % $m::State::ALL.len()];
            let cut = (first as usize * 7) % (input.len() + 1);
            run($m::ClientMessage::decoder(), input, cut, state.allowed(), |dec, buf, index| {
                let msg = $m::ClientMessage::from_decoder(dec, buf, index).expect("index in range");
                let mut out = Vec::new();
                if msg.encode(&mut out).is_ok() {
                    let mut again = $m::ClientMessage::decoder();
                    if let Ok(Decoded::Message { index: i2, len }) = again.decode(&out, &[index]) {
                        let back = $m::ClientMessage::from_decoder(&again, &out[..len], i2);
                        assert_eq!(back, Some(msg), "re-encoded as {:?}", String::from_utf8_lossy(&out));
                    }
                }
            });
            run($m::ServerMessage::decoder(), input, cut, $m::SERVER_MESSAGES_ALL, |dec, buf, index| {
                let msg = $m::ServerMessage::from_decoder(dec, buf, index).expect("index in range");
                let mut out = Vec::new();
                if msg.encode(&mut out).is_ok() {
                    let mut again = $m::ServerMessage::decoder();
                    if let Ok(Decoded::Message { index: i2, len }) = again.decode(&out, &[index]) {
                        let back = $m::ServerMessage::from_decoder(&again, &out[..len], i2);
                        assert_eq!(back, Some(msg), "re-encoded as {:?}", String::from_utf8_lossy(&out));
                    }
                }
            });
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

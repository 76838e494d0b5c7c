//! The decoder generated from `resp.aproto` allocates nothing per message once warmed up:
//! a counting global allocator watches a steady stream of SET and GET commands.

use asyncore_runtime::protocol;
use asyncore_runtime::wire::Decoded;

protocol!(mod resp = "../protocols/descriptions/resp.aproto");

#[path = "support/counting.rs"]
mod counting;

fn commands(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        if i % 2 == 0 {
            let value = "v".repeat(64);
            out.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                    key.len(),
                    value.len()
                )
                .as_bytes(),
            );
        } else {
            out.extend_from_slice(
                format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
            );
        }
    }
    out
}

/// Decodes every message of `input` fed in reads of `chunk` bytes; returns the number of
/// messages and the total length of their arguments.
fn decode(
    dec: &mut asyncore_runtime::wire::Decoder,
    buf: &mut Vec<u8>,
    input: &[u8],
    chunk: usize,
) -> (usize, usize) {
    let (mut messages, mut bytes) = (0, 0);
    buf.clear();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        let mut start = 0;
        loop {
            match resp::ClientMessage::decode(dec, &buf[start..], resp::CLIENT_MESSAGES_ALL) {
                Ok(Decoded::Message { index, len }) => {
                    let msg =
                        resp::ClientMessage::from_decoder(dec, &buf[start..start + len], index);
                    if let Some(resp::ClientMessage::Command(c)) = msg {
                        messages += 1;
                        bytes += c.args.iter().map(<[u8]>::len).sum::<usize>();
                    }
                    start += len;
                }
                Ok(Decoded::Skip { len }) => start += len,
                Ok(Decoded::NeedMore) => break,
                Err(e) => panic!("{e}"),
            }
        }
        // Keep the unread tail at the front; the buffer's capacity is reused.
        buf.copy_within(start.., 0);
        let keep = buf.len() - start;
        buf.truncate(keep);
    }
    (messages, bytes)
}

#[test]
fn resp_decoding_allocates_nothing_per_message() {
    let input = commands(10_000);
    let mut dec = resp::ClientMessage::decoder();
    let mut buf = Vec::with_capacity(64 * 1024);
    // Warm up: the decoder's slot vectors grow to the largest message.
    let warm = decode(&mut dec, &mut buf, &input, 4096);
    assert_eq!(warm.0, 10_000);

    let _one = counting::exclusive();
    counting::watch_this_thread();
    for chunk in [4096, 1000, 7] {
        let (n, got) = counting::count_during(|| decode(&mut dec, &mut buf, &input, chunk));
        assert_eq!(got, warm, "reads of {chunk} bytes");
        assert_eq!(
            n, 0,
            "{n} allocations for 10 000 messages in reads of {chunk} bytes"
        );
    }
}

#[test]
fn the_counter_sees_allocations() {
    // The allocator counts: a Vec allocation is seen (so a 0 is a real 0).
    let _one = counting::exclusive();
    counting::watch_this_thread();
    let (n, v) = counting::count_during(|| Vec::<u8>::with_capacity(100));
    drop(v);
    assert!(n >= 1);
}

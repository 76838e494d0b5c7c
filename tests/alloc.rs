//! The decoder generated from `resp.aproto` allocates nothing per message once warmed up:
//! a counting global allocator watches a steady stream of SET and GET commands.

use std::alloc::{GlobalAlloc, Layout, System};

use asyncore_runtime::protocol;
use asyncore_runtime::wire::Decoded;

protocol!(mod resp = "../protocols/descriptions/resp.aproto");

/// Counts allocations made by this thread while `COUNTING` is set.
struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

fn allocations() -> usize {
    ALLOCATIONS.with(|a| a.get())
}

fn reset() {
    ALLOCATIONS.with(|a| a.set(0));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// side effect that touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

    for chunk in [4096, 1000, 7] {
        reset();
        COUNTING.with(|c| c.set(true));
        let got = decode(&mut dec, &mut buf, &input, chunk);
        COUNTING.with(|c| c.set(false));
        assert_eq!(got, warm, "reads of {chunk} bytes");
        let n = allocations();
        assert_eq!(
            n, 0,
            "{n} allocations for 10 000 messages in reads of {chunk} bytes"
        );
    }
}

#[test]
fn the_counter_sees_allocations() {
    // The allocator above counts: a Vec allocation is seen (so a 0 is a real 0).
    reset();
    COUNTING.with(|c| c.set(true));
    let v: Vec<u8> = Vec::with_capacity(100);
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert!(allocations() >= 1);
}

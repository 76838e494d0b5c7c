//! AsyncChat input cost is linear: a long line arriving one byte per read, and many
//! short lines arriving in one read, cost the same per byte whatever their size.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench asynchat
//! ```
//!
//! Each case feeds the bytes through a Unix socket pair into a real `AsyncChat` channel
//! on the epoll backend, one loop pass per write, and reports nanoseconds per byte for
//! growing sizes. A quadratic implementation (re-scanning or re-copying the buffered
//! line on every read) would show the per-byte cost growing with the size; the last
//! column is the ratio of the largest size's per-byte cost to the smallest's.

use std::cell::RefCell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncore_runtime::{AsyncChat, Backend, Chat, ChatHandler, Map, Result};

struct Lines {
    records: Rc<RefCell<usize>>,
    bytes: Rc<RefCell<usize>>,
}

impl ChatHandler for Lines {
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        chat.set_max_collect(usize::MAX);
        Ok(())
    }
    fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
        chat.collect(data)?;
        Ok(())
    }
    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        *self.bytes.borrow_mut() += chat.take_collected().len();
        *self.records.borrow_mut() += 1;
        Ok(())
    }
}

/// Feed `pieces` (each written then read in one pass); returns ns per byte.
fn run(pieces: &[Vec<u8>], terminator: &[u8], expect_records: usize) -> f64 {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut map = Map::new();
    let records = Rc::new(RefCell::new(0));
    let bytes = Rc::new(RefCell::new(0));
    map.add(
        a.into(),
        AsyncChat::with_terminator(
            Lines {
                records: records.clone(),
                bytes: bytes.clone(),
            },
            terminator,
        ),
    )
    .unwrap();
    // Let the channel's first (greeting) write event pass.
    map.run_with(Some(Duration::ZERO), Backend::Epoll, Some(1))
        .unwrap();
    let total: usize = pieces.iter().map(Vec::len).sum();
    let start = Instant::now();
    for p in pieces {
        b.write_all(p).unwrap();
        map.run_with(Some(Duration::from_secs(1)), Backend::Epoll, Some(1))
            .unwrap();
    }
    let elapsed = start.elapsed();
    assert_eq!(*records.borrow(), expect_records, "records");
    elapsed.as_nanos() as f64 / total as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[1_000, 10_000, 50_000]
    } else {
        &[1_000, 10_000, 100_000, 400_000]
    };
    println!(
        "AsyncChat input cost per byte (epoll backend, Unix socket pair, one pass per write)\n"
    );
    println!(
        "{:<44} {:>10} {:>12} {:>14}",
        "case", "bytes", "ns/byte", "vs smallest"
    );
    // 1. One long line, one byte per read, terminator "\r\n".
    let mut base = 0.0;
    for (i, &n) in sizes.iter().enumerate() {
        let mut pieces: Vec<Vec<u8>> = (0..n).map(|_| vec![b'x']).collect();
        pieces.push(b"\r\n".to_vec());
        let ns = (0..3)
            .map(|_| run(&pieces, b"\r\n", 1))
            .fold(f64::INFINITY, f64::min);
        if i == 0 {
            base = ns;
        }
        println!(
            "{:<44} {:>10} {:>12.1} {:>13.2}x",
            "one line, 1 byte per read, \"\\r\\n\"",
            n,
            ns,
            ns / base
        );
    }
    // 2. The same with a 3-byte terminator whose prefix keeps appearing ("qqa" in "qqqq...").
    for (i, &n) in sizes.iter().enumerate() {
        let mut pieces: Vec<Vec<u8>> = (0..n).map(|_| vec![b'q']).collect();
        pieces.push(b"a".to_vec());
        let ns = (0..3)
            .map(|_| run(&pieces, b"qqa", 1))
            .fold(f64::INFINITY, f64::min);
        if i == 0 {
            base = ns;
        }
        println!(
            "{:<44} {:>10} {:>12.1} {:>13.2}x",
            "one line of prefixes, 1 byte per read, \"qqa\"",
            n,
            ns,
            ns / base
        );
    }
    // 3. Many 16-byte lines arriving 64 KiB at a time.
    for (i, &n) in sizes.iter().enumerate() {
        let lines = (n * 16).div_ceil(16);
        let data: Vec<u8> = (0..lines)
            .flat_map(|_| b"0123456789abcde\n".to_vec())
            .collect();
        let pieces: Vec<Vec<u8>> = data.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
        let ns = (0..3)
            .map(|_| run(&pieces, b"\n", lines))
            .fold(f64::INFINITY, f64::min);
        if i == 0 {
            base = ns;
        }
        println!(
            "{:<44} {:>10} {:>12.2} {:>13.2}x",
            "16-byte lines, 64 KiB per read, \"\\n\"",
            data.len(),
            ns,
            ns / base
        );
    }
}

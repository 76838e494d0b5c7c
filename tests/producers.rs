//! Replies produced as the client reads them (`cx.produce_later()` and `on_produce`, as
//! asynchat's producers), on every backend: a reply far larger than the channel's output
//! limit arrives whole and in order, the output never holds much more than its high-water
//! mark, the requests pipelined after it are answered after it, a client that half-closes
//! while it is produced still gets all of it, and the reply checks still apply. A handler
//! that waits (`cx.wait()`) for one of its timers holds the requests after it the same
//! way, and is not asked to produce meanwhile.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
#[path = "support/inproc.rs"]
mod inproc;

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;
use std::time::Duration;

use asyncore_runtime::{dispatcher, protocol, Backend, Map, Result, TimerId, DEFAULT_HIGH_WATER};
use inproc::{listen_small, serve_until, LineClient};

protocol! {
    pub mod counter {
        /// `COUNT n` is answered by n numbered lines of a multi-line reply, `PING` by one.
        protocol counter
        framing line "\r\n" max 2KiB
        on unknown reply "0 unknown" continue

        client Count = "COUNT" n:u32 replies Item
        client Ping = "PING" replies Item
        client Twice = "TWICE" replies Item
        client Later = "LATER" replies Item
        server Item = n:u32 ~ more:("-" | " ") ~ text:rest continues if more == "-"

        state Ready initial { Count -> Ready  Ping -> Ready  Twice -> Ready  Later -> Ready }
    }
}

/// The text of every line but the last: 1,000 bytes.
const PAD: &[u8] = &[b'x'; 1000];

/// Answers `COUNT n` lazily; records the most output it ever saw waiting.
struct Counter {
    left: u32,
    next: u32,
    /// The most bytes waiting in the output when it produced a line.
    peak: Rc<Cell<usize>>,
    /// `TWICE`: a second complete reply to the same request, which the checks refuse.
    twice: bool,
}

impl Counter {
    fn produce(&mut self, cx: &mut counter::ServerCx<'_, '_>) -> Result {
        while self.left > 0 {
            if cx.output_full() {
                cx.produce_later();
                return Ok(());
            }
            self.peak.set(self.peak.get().max(cx.waiting_output()));
            self.next += 1;
            self.left -= 1;
            cx.send(counter::Item {
                n: self.next,
                more: b"-",
                text: PAD,
            })?;
        }
        cx.send(counter::Item {
            n: self.next,
            more: b" ",
            text: b"end",
        })?;
        if std::mem::take(&mut self.twice) {
            // A second reply: the generated checks refuse it, and the connection ends.
            cx.send(counter::Item {
                n: 0,
                more: b" ",
                text: b"again",
            })?;
        }
        Ok(())
    }
}

#[dispatcher(protocol = counter, role = server)]
impl Counter {
    fn on_count(&mut self, cx: &mut counter::ServerCx<'_, '_>, msg: counter::Count) -> Result {
        self.left = msg.n;
        self.next = 0;
        self.produce(cx)
    }
    fn on_ping(&mut self, cx: &mut counter::ServerCx<'_, '_>, _msg: counter::Ping) -> Result {
        cx.send(counter::Item {
            n: 0,
            more: b" ",
            text: b"pong",
        })
    }
    fn on_twice(&mut self, cx: &mut counter::ServerCx<'_, '_>, _msg: counter::Twice) -> Result {
        self.left = 1000;
        self.next = 0;
        self.twice = true;
        self.produce(cx)
    }
    fn on_produce(&mut self, cx: &mut counter::ServerCx<'_, '_>) -> Result {
        self.produce(cx)
    }
    /// `LATER` is answered by a timer: the handler waits until then.
    fn on_later(&mut self, cx: &mut counter::ServerCx<'_, '_>, _msg: counter::Later) -> Result {
        cx.channel().set_timer(Duration::from_millis(20));
        cx.wait();
        Ok(())
    }
    fn on_timer(&mut self, cx: &mut counter::ServerCx<'_, '_>, _id: TimerId) -> Result {
        if cx.is_waiting() {
            cx.send(counter::Item {
                n: 0,
                more: b" ",
                text: b"later",
            })?;
            cx.end_wait();
        }
        Ok(())
    }
}

/// Lines in the large reply: 20,000 of 1 KB, 20 MB, five times the channel's default
/// output limit (4 MiB).
const LINES: u32 = 20_000;

/// Serves `Counter` with a 4 KiB socket send buffer; the client runs `client`.
fn serve<T: Send + 'static>(
    backend: Backend,
    client: impl FnOnce(LineClient) -> T + Send + 'static,
) -> (T, usize) {
    let peak = Rc::new(Cell::new(0));
    let seen = peak.clone();
    let mut map = Map::new();
    let addr = listen_small(&mut map, move || {
        counter::ServerChannel::new(Counter {
            left: 0,
            next: 0,
            peak: seen.clone(),
            twice: false,
        })
    });
    let client = std::thread::spawn(move || client(LineClient::connect(addr)));
    (serve_until(&mut map, backend, client), peak.get())
}

/// Reads the reply to `COUNT LINES`: every line, numbered in order.
fn read_count(c: &mut LineClient) {
    let pad = String::from_utf8(PAD.to_vec()).unwrap();
    for i in 1..=LINES {
        let line = c.line();
        assert_eq!(line, format!("{i}-{pad}"), "line {i} of the reply");
        if i % 2000 == 0 {
            // A slow reader.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(c.line(), format!("{LINES} end"));
}

fn a_large_reply_is_produced_as_the_client_reads(backend: Backend) {
    let ((), peak) = serve(backend, |mut c| {
        // The requests after it wait for it, and are answered in order.
        c.say(format!("COUNT {LINES}\r\nPING\r\nCOUNT 2\r\n").as_bytes());
        std::thread::sleep(Duration::from_millis(100));
        read_count(&mut c);
        assert_eq!(c.line(), "0 pong");
        assert_eq!(c.line(), format!("1-{}", String::from_utf8_lossy(PAD)));
        assert_eq!(c.line(), format!("2-{}", String::from_utf8_lossy(PAD)));
        assert_eq!(c.line(), "2 end");
    });
    // The output never held much more than the high-water mark.
    assert!(
        peak <= DEFAULT_HIGH_WATER + 2 * PAD.len(),
        "{peak} bytes waited in the output while the reply was produced"
    );
}

fn a_half_closed_client_gets_the_whole_produced_reply(backend: Backend) {
    serve(backend, |mut c| {
        c.say(format!("COUNT {LINES}\r\nPING\r\n").as_bytes());
        c.stream.shutdown(std::net::Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        read_count(&mut c);
        assert_eq!(c.line(), "0 pong");
        assert!(c.eof(), "the server closes after the last reply");
    });
}

fn the_reply_checks_apply_to_produced_replies(backend: Backend) {
    serve(backend, |mut c| {
        c.say(b"TWICE\r\nPING\r\n");
        let mut got = Vec::new();
        let _ = c.reader.read_to_end(&mut got);
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.starts_with("1-xxx"),
            "the reply is produced: {:?}",
            &got[..got.len().min(80)]
        );
        // The second reply was refused: the handler's error ends the connection at once
        // (what was still queued is dropped), and the request after it is not answered.
        assert!(
            !got.contains("again"),
            "a second reply to one request went out"
        );
        assert!(
            !got.contains("pong"),
            "the connection went on after a refused reply"
        );
    });
}

/// The requests after a `LATER` wait for its timer; `on_produce` is not called in the
/// meantime (it would send an `end` line).
fn a_waiting_handler_holds_the_requests_after_it(backend: Backend) {
    serve(backend, |mut c| {
        c.say(b"LATER\r\nPING\r\nLATER\r\nCOUNT 1\r\n");
        assert_eq!(c.line(), "0 later");
        assert_eq!(c.line(), "0 pong");
        assert_eq!(c.line(), "0 later");
        assert_eq!(c.line(), format!("1-{}", String::from_utf8_lossy(PAD)));
        assert_eq!(c.line(), "1 end");
    });
}

on_every_backend!(
    a_large_reply_is_produced_as_the_client_reads,
    a_half_closed_client_gets_the_whole_produced_reply,
    the_reply_checks_apply_to_produced_replies,
    a_waiting_handler_holds_the_requests_after_it,
);

//! Conformance with asynchat's `async_chat` (asyncore-semantics.md §3 and §4.6), on
//! every backend.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use asyncore_runtime::{
    find_prefix_at_end, AsyncChat, Backend, Chat, ChatHandler, Map, Result, SimpleProducer,
    Terminator, Token,
};

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Collect(Vec<u8>),
    Found,
}

type Events = Rc<RefCell<Vec<Ev>>>;
type OnFound = Box<dyn FnMut(&mut Chat<'_, '_>, usize)>;
type Script = Box<dyn FnOnce(&mut Chat<'_, '_>)>;

/// Records every callback; optionally switches terminators in found_terminator.
struct Rec {
    ev: Events,
    on_found: Option<OnFound>,
    found: usize,
}

impl ChatHandler for Rec {
    fn collect_incoming_data(&mut self, _c: &mut Chat<'_, '_>, data: &[u8]) -> Result {
        assert!(!data.is_empty(), "collect_incoming_data got empty data");
        self.ev.borrow_mut().push(Ev::Collect(data.to_vec()));
        Ok(())
    }
    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        self.ev.borrow_mut().push(Ev::Found);
        self.found += 1;
        if let Some(f) = self.on_found.as_mut() {
            f(chat, self.found);
        }
        Ok(())
    }
}

fn rec(ev: &Events) -> Rec {
    Rec {
        ev: ev.clone(),
        on_found: None,
        found: 0,
    }
}

/// Records (collected data between terminators) and what is left after the last one.
fn records(ev: &[Ev]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for e in ev {
        match e {
            Ev::Collect(d) => cur.extend_from_slice(d),
            Ev::Found => out.push(std::mem::take(&mut cur)),
        }
    }
    (out, cur)
}

struct Harness {
    map: Map,
    peer: UnixStream,
    token: Token,
    backend: Backend,
}

impl Harness {
    fn new(backend: Backend, chat: AsyncChat<Rec>) -> Self {
        let (a, peer) = UnixStream::pair().unwrap();
        let mut map = Map::new();
        let token = map.add(a.into(), chat).unwrap();
        Harness {
            map,
            peer,
            token,
            backend,
        }
    }

    /// Write one piece and let the loop read it.
    fn feed(&mut self, piece: &[u8]) {
        self.peer.write_all(piece).unwrap();
        self.map
            .run_with(Some(Duration::from_millis(100)), self.backend, Some(1))
            .unwrap();
    }
}

fn run_pieces(backend: Backend, term: Terminator, pieces: &[&[u8]]) -> Vec<Ev> {
    let ev = Events::default();
    let mut h = Harness::new(backend, AsyncChat::with_terminator(rec(&ev), term));
    for p in pieces {
        h.feed(p);
    }
    let out = ev.borrow().clone();
    out
}

on_every_backend!(
    line_terminators_of_1_2_3_bytes_split_at_every_position,
    line_terminators_in_chunks_of_1_2_3_bytes,
    split_terminator_trace_matches_asynchat,
    held_back_prefix_is_completed_by_the_next_read,
    numeric_terminator_counts_down_across_reads,
    numeric_terminators_1_and_6_fire_once,
    none_terminator_collects_everything,
    empty_lines_give_empty_records,
    terminator_switches_inside_found_terminator,
    producers_and_push_deliver_in_order,
    close_when_done_flushes_then_closes,
    push_with_large_data_arrives_intact,
    spurious_read_event_is_not_an_error,
);

const LINES: [&[u8]; 3] = [b"hello ", b"world", b"I'm not dead yet!"];

fn line_input(term: &[u8]) -> Vec<u8> {
    // "hello world<T>I'm not dead yet!<T>" as tch:139 builds it.
    let mut v = Vec::new();
    v.extend_from_slice(LINES[0]);
    v.extend_from_slice(LINES[1]);
    v.extend_from_slice(term);
    v.extend_from_slice(LINES[2]);
    v.extend_from_slice(term);
    v
}

fn line_terminators_of_1_2_3_bytes_split_at_every_position(backend: Backend) {
    for term in [&b"\n"[..], b"\r\n", b"qqq"] {
        let data = line_input(term);
        for p in 0..=data.len() {
            let ev = run_pieces(backend, term.into(), &[&data[..p], &data[p..]]);
            let (recs, rest) = records(&ev);
            assert_eq!(
                recs,
                vec![b"hello world".to_vec(), b"I'm not dead yet!".to_vec()],
                "terminator {term:?}, split at {p}"
            );
            assert!(rest.is_empty());
        }
    }
}

fn line_terminators_in_chunks_of_1_2_3_bytes(backend: Backend) {
    // 32-34: the echo server of tch sends in chunks of 1, 2 or 3 bytes.
    for term in [&b"\n"[..], b"\r\n", b"qqq"] {
        let data = line_input(term);
        for chunk in 1..=3 {
            let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
            let ev = run_pieces(backend, term.into(), &pieces);
            let (recs, _) = records(&ev);
            assert_eq!(
                recs,
                vec![b"hello world".to_vec(), b"I'm not dead yet!".to_vec()],
                "terminator {term:?}, chunks of {chunk}"
            );
        }
    }
}

fn split_terminator_trace_matches_asynchat(backend: Backend) {
    // §3.5 observed: "xy\r" then "\nz\r\n\r\nw".
    let ev = run_pieces(backend, b"\r\n".into(), &[b"xy\r", b"\nz\r\n\r\nw"]);
    assert_eq!(
        ev,
        vec![
            Ev::Collect(b"xy".to_vec()),
            Ev::Found,
            Ev::Collect(b"z".to_vec()),
            Ev::Found,
            Ev::Found,
            Ev::Collect(b"w".to_vec()),
        ]
    );
}

fn held_back_prefix_is_completed_by_the_next_read(backend: Backend) {
    // §3.5: terminator "aab", input "xaaa" collects "xa" and keeps "aa"; "b" finds it.
    let ev = run_pieces(backend, b"aab".into(), &[b"xaaa"]);
    assert_eq!(ev, vec![Ev::Collect(b"xa".to_vec())]);
    let ev = run_pieces(backend, b"aab".into(), &[b"xaaa", b"b"]);
    assert_eq!(ev, vec![Ev::Collect(b"xa".to_vec()), Ev::Found]);
}

fn numeric_terminator_counts_down_across_reads(backend: Backend) {
    // §3.6 observed: 5, "abc" then "defgh".
    let ev = run_pieces(backend, 5usize.into(), &[b"abc", b"defgh"]);
    assert_eq!(
        ev,
        vec![
            Ev::Collect(b"abc".to_vec()),
            Ev::Collect(b"de".to_vec()),
            Ev::Found,
            Ev::Collect(b"fgh".to_vec()),
        ]
    );
}

fn numeric_terminators_1_and_6_fire_once(backend: Backend) {
    // 35-36.
    let data = line_input(b"\n");
    for n in [1usize, 6] {
        let ev = run_pieces(backend, n.into(), &[&data]);
        let founds = ev.iter().filter(|e| **e == Ev::Found).count();
        assert_eq!(founds, 1);
        let (recs, rest) = records(&ev);
        assert_eq!(recs, vec![data[..n].to_vec()]);
        assert_eq!(rest, data[n..].to_vec());
    }
}

fn none_terminator_collects_everything(backend: Backend) {
    // 37.
    let data = line_input(b"\n");
    let ev = run_pieces(backend, Terminator::None, &[&data[..7], &data[7..]]);
    let (recs, rest) = records(&ev);
    assert!(recs.is_empty());
    assert_eq!(rest, data);
}

fn empty_lines_give_empty_records(backend: Backend) {
    // 40: "hello world\n\nI'm not dead yet!\n".
    let ev = run_pieces(
        backend,
        b"\n".into(),
        &[b"hello world\n\nI'm not dead yet!\n"],
    );
    let (recs, _) = records(&ev);
    assert_eq!(
        recs,
        vec![
            b"hello world".to_vec(),
            b"".to_vec(),
            b"I'm not dead yet!".to_vec()
        ]
    );
    // The empty record has no collect before its Found.
    assert_eq!(ev[1], Ev::Found);
    assert_eq!(ev[2], Ev::Found);
}

fn terminator_switches_inside_found_terminator(backend: Backend) {
    // A line carrying a length, then that many raw bytes (which contain the line
    // terminator), then lines again: the switch applies to the very next byte.
    let ev = Events::default();
    let mut r = rec(&ev);
    r.on_found = Some(Box::new(|chat: &mut Chat<'_, '_>, n: usize| match n {
        1 => chat.set_terminator(7usize),
        _ => chat.set_terminator(b"\r\n"),
    }));
    let input = b"LEN 7\r\nab\r\ncd!tail\r\n";
    for p in 0..=input.len() {
        ev.borrow_mut().clear();
        let mut r2 = rec(&ev);
        r2.on_found = Some(Box::new(|chat: &mut Chat<'_, '_>, n: usize| match n {
            1 => chat.set_terminator(7usize),
            _ => chat.set_terminator(b"\r\n"),
        }));
        let mut h = Harness::new(backend, AsyncChat::with_terminator(r2, b"\r\n"));
        h.feed(&input[..p]);
        h.feed(&input[p..]);
        let (recs, rest) = records(&ev.borrow());
        assert_eq!(
            recs,
            vec![b"LEN 7".to_vec(), b"ab\r\ncd!".to_vec(), b"tail".to_vec()],
            "split at {p}"
        );
        assert!(rest.is_empty());
    }
    drop(r);
}

/// Pushes through the given script when connected, then nothing.
struct Pusher {
    script: Option<Script>,
}

impl ChatHandler for Pusher {
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        if let Some(s) = self.script.take() {
            s(chat);
        }
        Ok(())
    }
    fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result {
        Ok(())
    }
    fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result {
        Ok(())
    }
}

/// Run a Pusher on one end of a pair and read everything from the other end until EOF or
/// `want` bytes.
fn push_and_read(
    backend: Backend,
    script: impl FnOnce(&mut Chat<'_, '_>) + 'static,
    want: usize,
) -> (Vec<u8>, Map) {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut map = Map::new();
    map.add(
        a.into(),
        AsyncChat::new(Pusher {
            script: Some(Box::new(script)),
        }),
    )
    .unwrap();
    b.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    for _ in 0..100_000 {
        map.run_with(Some(Duration::from_millis(5)), backend, Some(1))
            .unwrap();
        let mut buf = [0u8; 65536];
        match b.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        if got.len() >= want && !map.is_empty() && want > 0 {
            break;
        }
    }
    (got, map)
}

fn producers_and_push_deliver_in_order(backend: Backend) {
    // 38-39: simple_producer with buffer_size 8, and pushes around it stay in order.
    let (got, _map) = push_and_read(
        backend,
        |chat| {
            chat.push(b"first\n").unwrap();
            chat.push_with_producer(SimpleProducer::new(
                b"hello world\nI'm not dead yet!\n".to_vec(),
                8,
            ))
            .unwrap();
            chat.push(b"last\n").unwrap();
        },
        6 + 30 + 5,
    );
    assert_eq!(got, b"first\nhello world\nI'm not dead yet!\nlast\n");
}

fn close_when_done_flushes_then_closes(backend: Backend) {
    // 41: data pushed before close_when_done goes out, then the channel closes; a push
    // after it is refused, not lost silently.
    let refused = Rc::new(RefCell::new(None));
    let r2 = refused.clone();
    let payload = vec![b'z'; 300_000];
    let p2 = payload.clone();
    let (got, map) = push_and_read(
        backend,
        move |chat| {
            chat.push(&p2).unwrap();
            chat.push_with_producer(SimpleProducer::new(b"QUIT\n".to_vec(), 2))
                .unwrap();
            chat.close_when_done();
            *r2.borrow_mut() = Some(chat.push(b"too late").is_err());
        },
        0,
    );
    let mut want = payload;
    want.extend_from_slice(b"QUIT\n");
    assert_eq!(got.len(), want.len());
    assert!(got == want);
    assert!(map.is_empty(), "channel not closed after its output");
    assert_eq!(*refused.borrow(), Some(true));
}

fn push_with_large_data_arrives_intact(backend: Backend) {
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    let d2 = data.clone();
    let (got, _map) = push_and_read(
        backend,
        move |chat| {
            // Past the default 4 MiB limit a push is refused (checked below), so raise it.
            chat.channel().set_output_limits(256 * 1024, 8 << 20);
            for piece in d2.chunks(100_000) {
                chat.push(piece).unwrap();
            }
        },
        data.len(),
    );
    assert_eq!(got.len(), data.len());
    assert!(got == data);
}

#[test]
fn push_over_the_output_limit_is_refused_with_the_limit_in_the_message() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut map = Map::new();
    let t = map
        .add(a.into(), AsyncChat::new(Pusher { script: None }))
        .unwrap();
    let err = AsyncChat::<Pusher>::with_chat(&mut map, t, |_, chat| {
        chat.channel().set_output_limits(1024, 4096);
        chat.push(&[b'x'; 1 << 20]).unwrap_err().to_string()
    })
    .unwrap();
    assert!(err.contains("limit of 4096 bytes"), "{err}");
}

fn spurious_read_event_is_not_an_error(backend: Backend) {
    // 43: a read event with nothing to read returns quietly.
    let ev = Events::default();
    let mut h = Harness::new(backend, AsyncChat::with_terminator(rec(&ev), b"\n"));
    h.map.with::<AsyncChat<Rec>, _>(h.token, |c, ch| {
        use asyncore_runtime::Dispatcher;
        c.handle_read(ch).unwrap();
        assert!(!ch.is_closing());
    });
    assert!(h.map.contains(h.token));
    assert!(ev.borrow().is_empty());
}

#[test]
fn find_prefix_at_end_examples() {
    // 44.
    assert_eq!(find_prefix_at_end(b"qwerty\r", b"\r\n"), 1);
    assert_eq!(find_prefix_at_end(b"qwertydkjf", b"\r\n"), 0);
    assert_eq!(find_prefix_at_end(b"xaaa", b"aab"), 2);
    assert_eq!(find_prefix_at_end(b"", b"aab"), 0);
    assert_eq!(find_prefix_at_end(b"a", b"a"), 0);
}

#[test]
fn default_terminator_is_none() {
    // §5.32: asynchat had no default and failed on the first read.
    assert_eq!(Terminator::default(), Terminator::None);
    let ev = Events::default();
    let mut h = Harness::new(Backend::Epoll, AsyncChat::new(rec(&ev)));
    h.feed(b"abc\n");
    assert_eq!(&*ev.borrow(), &[Ev::Collect(b"abc\n".to_vec())]);
}

#[test]
fn collector_refuses_records_over_its_limit() {
    struct Collect(Rc<RefCell<Vec<String>>>);
    impl ChatHandler for Collect {
        fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
            chat.set_max_collect(10);
            Ok(())
        }
        fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
            chat.collect(data)?;
            Ok(())
        }
        fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
            let r = chat.take_collected();
            self.0
                .borrow_mut()
                .push(String::from_utf8_lossy(&r).into_owned());
            Ok(())
        }
        fn handle_error(
            &mut self,
            chat: &mut Chat<'_, '_>,
            err: asyncore_runtime::Error,
        ) -> Result {
            self.0.borrow_mut().push(format!("error: {err}"));
            chat.close();
            Ok(())
        }
    }
    let got = Rc::new(RefCell::new(Vec::new()));
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut map = Map::new();
    map.add(
        a.into(),
        AsyncChat::with_terminator(Collect(got.clone()), b"\n"),
    )
    .unwrap();
    b.write_all(b"short\nthis line is far too long\n").unwrap();
    map.run_with(Some(Duration::from_millis(50)), Backend::Epoll, Some(3))
        .unwrap();
    let got = got.borrow();
    assert_eq!(got[0], "short");
    assert!(got[1].contains("longer than 10 bytes"), "{got:?}");
    assert!(map.is_empty());
}

//! Framer benchmark: our `LineFramer` and `LengthFramer` decoders against tokio-util's
//! `LinesCodec` and `LengthDelimitedCodec` on the same input, in one run.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench framers              # 64 MiB inputs, best of 7
//! cargo bench -p asyncore-examples --bench framers -- --quick   # 16 MiB, best of 3
//! ```
//!
//! Options (after `--`): `--quick`, `--mib N` (size of each input), `--reps N`,
//! `--chunk BYTES` (read size, default 16 KiB). The `--bench` cargo passes is ignored.
//!
//! Inputs (generated with a fixed seed): lines of 1 to 200 bytes, the "\n" included, of
//! printable ASCII; the same with "\r\n" (2 to 200 bytes; LinesCodec splits at "\n" and
//! strips the "\r", ours searches for "\r\n"); length-prefixed frames of 1 to 1000
//! bytes after a 4-byte big-endian length. Each decoder gets the input in chunks as a
//! socket would deliver them: every chunk is appended to its buffer
//! (`FrameBuf::extend_from_slice` for ours, `BytesMut::extend_from_slice` for
//! tokio-util's), then every whole frame is decoded and looked at (length and first
//! byte). Each repetition runs every decoder once, in an order that rotates; the table
//! shows each decoder's best repetition.

use std::hint::black_box;
use std::time::{Duration, Instant};

use asyncore_runtime::codec::{FrameBuf, LengthFramer, LineFramer};
use bytes::BytesMut;
use tokio_util::codec::{AnyDelimiterCodec, Decoder as _, LengthDelimitedCodec, LinesCodec};

/// The line length limit given to every line decoder.
const MAX_LINE: usize = 8 * 1024;

/// What a decoder saw: frames, payload bytes, and a checksum of first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Tally {
    frames: u64,
    bytes: u64,
    check: u64,
}

impl Tally {
    #[inline]
    fn add(&mut self, frame: &[u8]) {
        self.frames += 1;
        self.bytes += frame.len() as u64;
        self.check = self
            .check
            .wrapping_mul(31)
            .wrapping_add(u64::from(frame.first().copied().unwrap_or(0)));
    }
}

type Run = fn(&[u8], usize) -> Tally;

struct Case {
    name: &'static str,
    run: Run,
}

// ===== the decoders, fed chunk by chunk =====

fn ours_lines(input: &[u8], chunk: usize) -> Tally {
    let mut framer = LineFramer::builder(MAX_LINE).new_framer();
    let mut buf = FrameBuf::new(framer.buffer_limit() + chunk);
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece).expect("buffer limit");
        for line in buf.frames(&mut framer) {
            t.add(line.expect("valid input"));
        }
    }
    t
}

fn ours_lines_utf8(input: &[u8], chunk: usize) -> Tally {
    let mut framer = LineFramer::builder(MAX_LINE).new_framer();
    let mut buf = FrameBuf::new(framer.buffer_limit() + chunk);
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece).expect("buffer limit");
        for line in buf.frames(&mut framer) {
            let line = std::str::from_utf8(line.expect("valid input")).expect("utf-8");
            t.add(line.as_bytes());
        }
    }
    t
}

fn ours_lines_crlf(input: &[u8], chunk: usize) -> Tally {
    let mut framer = LineFramer::builder(MAX_LINE)
        .terminator(b"\r\n")
        .new_framer();
    let mut buf = FrameBuf::new(framer.buffer_limit() + chunk);
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece).expect("buffer limit");
        for line in buf.frames(&mut framer) {
            t.add(line.expect("valid input"));
        }
    }
    t
}

fn tokio_lines(input: &[u8], chunk: usize) -> Tally {
    let mut codec = LinesCodec::new_with_max_length(MAX_LINE);
    let mut buf = BytesMut::new();
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(line) = codec.decode(&mut buf).expect("valid input") {
            t.add(line.as_bytes());
        }
    }
    t
}

fn tokio_any_delimiter(input: &[u8], chunk: usize) -> Tally {
    let mut codec =
        AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), b"\n".to_vec(), MAX_LINE);
    let mut buf = BytesMut::new();
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(line) = codec.decode(&mut buf).expect("valid input") {
            t.add(&line);
        }
    }
    t
}

fn ours_length(input: &[u8], chunk: usize) -> Tally {
    let mut framer = LengthFramer::new();
    let mut buf = FrameBuf::new(framer.buffer_limit() + chunk);
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece).expect("buffer limit");
        for frame in buf.frames(&mut framer) {
            t.add(frame.expect("valid input"));
        }
    }
    t
}

fn tokio_length(input: &[u8], chunk: usize) -> Tally {
    let mut codec = LengthDelimitedCodec::new();
    let mut buf = BytesMut::new();
    let mut t = Tally::default();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(frame) = codec.decode(&mut buf).expect("valid input") {
            t.add(&frame);
        }
    }
    t
}

// ===== inputs =====

/// xorshift64*: a fixed, fast input generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Lines of 1..=200 bytes (`terminator` included) of printable ASCII, about `size` bytes.
fn lines_input(size: usize, terminator: &[u8]) -> Vec<u8> {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut v = Vec::with_capacity(size + 200);
    while v.len() < size {
        let len = terminator.len() + rng.below(201 - terminator.len() as u64) as usize;
        let fill = b' ' + rng.below(95) as u8;
        let start = v.len();
        let end = start + len - terminator.len();
        v.resize(end, fill);
        // A few varying bytes, so the lines are not all one letter.
        for i in (start..end).step_by(16) {
            v[i] = b'!' + rng.below(90) as u8;
        }
        v.extend_from_slice(terminator);
    }
    v
}

/// Frames of 1..=1000 bytes after a u32 big-endian length, about `size` bytes.
fn length_input(size: usize) -> Vec<u8> {
    let mut rng = Rng(0x0fed_cba9_8765_4321);
    let mut v = Vec::with_capacity(size + 1004);
    while v.len() < size {
        let len = 1 + rng.below(1000) as usize;
        v.extend_from_slice(&(len as u32).to_be_bytes());
        let start = v.len();
        v.resize(start + len, rng.below(256) as u8);
    }
    v
}

// ===== measuring =====

struct Options {
    mib: usize,
    reps: usize,
    chunk: usize,
}

fn options() -> Options {
    let mut o = Options {
        mib: 64,
        reps: 7,
        chunk: 16 * 1024,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--quick" => {
                o.mib = 16;
                o.reps = 3;
            }
            "--mib" => o.mib = value("--mib"),
            "--reps" => o.reps = value("--reps"),
            "--chunk" => o.chunk = value("--chunk"),
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    assert!(
        o.mib > 0 && o.reps > 0 && o.chunk > 0,
        "options must be > 0"
    );
    o
}

/// Runs every case `reps` times, interleaved, rotating the order; returns the best time
/// of each and its tally (checked equal across repetitions).
fn measure(cases: &[Case], input: &[u8], o: &Options) -> Vec<(Duration, Tally)> {
    let mut best = vec![(Duration::MAX, Tally::default()); cases.len()];
    // One warm-up pass each (page faults, caches, allocator).
    for (i, case) in cases.iter().enumerate() {
        best[i].1 = black_box((case.run)(black_box(input), o.chunk));
    }
    for rep in 0..o.reps {
        for k in 0..cases.len() {
            let i = (k + rep) % cases.len();
            let start = Instant::now();
            let tally = black_box((cases[i].run)(black_box(input), o.chunk));
            let elapsed = start.elapsed();
            assert_eq!(tally, best[i].1, "{} is not deterministic", cases[i].name);
            best[i].0 = best[i].0.min(elapsed);
        }
    }
    best
}

/// Prints the table of one input; case 0 is ours, the reference of the ratios.
fn report(title: &str, cases: &[Case], input: &[u8], results: &[(Duration, Tally)]) {
    println!("\n== {title} ==");
    let frames = results[0].1.frames;
    println!(
        "input {:.1} MiB, {} frames (mean {:.1} bytes on the wire)",
        input.len() as f64 / (1 << 20) as f64,
        frames,
        input.len() as f64 / frames as f64
    );
    println!(
        "{:<44} {:>9} {:>9} {:>11} {:>12}",
        "decoder", "best ms", "MB/s", "Mframes/s", "ours/this"
    );
    let ours = results[0].0.as_secs_f64();
    for (case, (time, tally)) in cases.iter().zip(results) {
        let secs = time.as_secs_f64();
        println!(
            "{:<44} {:>9.2} {:>9.0} {:>11.2} {:>11.2}x",
            case.name,
            secs * 1e3,
            input.len() as f64 / secs / 1e6,
            tally.frames as f64 / secs / 1e6,
            secs / ours
        );
    }
}

fn main() {
    let o = options();
    let size = o.mib << 20;
    println!(
        "framers benchmark: {} MiB per input, fed in {}-byte chunks, best of {} interleaved runs",
        o.mib, o.chunk, o.reps
    );
    println!("MB = 10^6 bytes of input; ours/this = this decoder's best time / ours (higher: ours faster)");

    let lines = lines_input(size, b"\n");
    let line_cases = [
        Case {
            name: "ours LineFramer (\\n, max 8192)",
            run: ours_lines,
        },
        Case {
            name: "ours LineFramer + str::from_utf8",
            run: ours_lines_utf8,
        },
        Case {
            name: "tokio-util LinesCodec (max 8192)",
            run: tokio_lines,
        },
        Case {
            name: "tokio-util AnyDelimiterCodec (\\n, max 8192)",
            run: tokio_any_delimiter,
        },
    ];
    let line_results = measure(&line_cases, &lines, &o);
    // Every decoder must see the same lines (LinesCodec also strips a "\r", but the
    // input has none).
    for (case, (_, tally)) in line_cases.iter().zip(&line_results) {
        assert_eq!(*tally, line_results[0].1, "{} disagrees", case.name);
    }
    report("lines: 1..=200 bytes", &line_cases, &lines, &line_results);
    drop(lines);

    let crlf = lines_input(size, b"\r\n");
    let crlf_cases = [
        Case {
            name: "ours LineFramer (\\r\\n, max 8192)",
            run: ours_lines_crlf,
        },
        Case {
            name: "tokio-util LinesCodec (max 8192, strips \\r)",
            run: tokio_lines,
        },
    ];
    let crlf_results = measure(&crlf_cases, &crlf, &o);
    assert_eq!(crlf_results[0].1, crlf_results[1].1, "decoders disagree");
    report(
        "CRLF lines: 2..=200 bytes",
        &crlf_cases,
        &crlf,
        &crlf_results,
    );
    drop(crlf);

    let frames = length_input(size);
    let length_cases = [
        Case {
            name: "ours LengthFramer (u32 BE, max 8 MiB)",
            run: ours_length,
        },
        Case {
            name: "tokio-util LengthDelimitedCodec (same)",
            run: tokio_length,
        },
    ];
    let length_results = measure(&length_cases, &frames, &o);
    assert_eq!(
        length_results[0].1, length_results[1].1,
        "decoders disagree"
    );
    report(
        "length-prefixed: 1..=1000-byte payloads, u32 BE header",
        &length_cases,
        &frames,
        &length_results,
    );

    let ratio = |r: &[(Duration, Tally)], i: usize| r[i].0.as_secs_f64() / r[0].0.as_secs_f64();
    let verdict = |x: f64| if x >= 1.0 { "PASS" } else { "MISS" };
    let lines_ratio = ratio(&line_results, 2);
    let utf8_ratio = line_results[2].0.as_secs_f64() / line_results[1].0.as_secs_f64();
    let any_ratio = ratio(&line_results, 3);
    let crlf_ratio = ratio(&crlf_results, 1);
    let length_ratio = ratio(&length_results, 1);
    println!("\n== verdict (throughput ours / tokio-util, target >= 1.0x) ==");
    println!(
        "LineFramer   vs LinesCodec:           {lines_ratio:.2}x {}  (with from_utf8: {utf8_ratio:.2}x; vs AnyDelimiterCodec: {any_ratio:.2}x)",
        verdict(lines_ratio)
    );
    println!(
        "LineFramer   vs LinesCodec, CRLF:     {crlf_ratio:.2}x {}",
        verdict(crlf_ratio)
    );
    println!(
        "LengthFramer vs LengthDelimitedCodec: {length_ratio:.2}x {}",
        verdict(length_ratio)
    );
}

//! The RESP decoder generated from `protocols/descriptions/resp.aproto` against a
//! hand-written RESP decoder, in one run.
//!
//! Both decode the same buffer of pipelined SET and GET commands (the shape of a
//! redis-benchmark load) into their arguments, zero-copy, and add up the argument
//! lengths so neither can skip work. Rounds alternate (generated, hand-written,
//! hand-written, generated, ...) so drift hits both; the ratio is taken per pair and the
//! median is reported, with the 25th and 75th percentiles.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench resp
//! cargo bench -p asyncore-examples --bench resp -- --quick
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use asyncore_runtime::protocol;
use asyncore_runtime::wire::{Decoded, Decoder};

protocol!(mod resp = "../protocols/descriptions/resp.aproto");

/// `n` commands: SET with a 16-byte key and a `value`-byte value, then GET of that key.
fn commands(n: usize, value: usize) -> Vec<u8> {
    let v = "x".repeat(value);
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        if i % 2 == 0 {
            out.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{v}\r\n",
                    key.len(),
                    v.len()
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

/// How the generated side decodes: as channels do (the fast path first), or with the
/// resumable decoder alone. A generic parameter, not a function pointer, so that the
/// call is direct, as the hand-written decoder's is.
trait DecodeFn:
    Fn(&mut Decoder, &[u8], &[u16]) -> Result<Decoded, asyncore_runtime::wire::DecodeError>
{
}
impl<
        F: Fn(&mut Decoder, &[u8], &[u16]) -> Result<Decoded, asyncore_runtime::wire::DecodeError>,
    > DecodeFn for F
{
}

fn resumable_only(
    dec: &mut Decoder,
    buf: &[u8],
    allowed: &[u16],
) -> Result<Decoded, asyncore_runtime::wire::DecodeError> {
    dec.decode(buf, allowed)
}

/// The generated decoder: messages and the sum of argument lengths.
fn generated(dec: &mut Decoder, input: &[u8], decode: impl DecodeFn) -> (usize, usize) {
    let (mut n, mut total) = (0, 0);
    let mut start = 0;
    loop {
        match decode(dec, &input[start..], resp::CLIENT_MESSAGES_ALL) {
            Ok(Decoded::Message { index, len }) => {
                if let Some(resp::ClientMessage::Command(c)) =
                    resp::ClientMessage::from_decoder(dec, &input[start..start + len], index)
                {
                    n += 1;
                    for a in c.args.iter() {
                        total += a.len();
                    }
                }
                start += len;
            }
            Ok(Decoded::Skip { len }) => start += len,
            Ok(Decoded::NeedMore) => break,
            Err(e) => panic!("generated decoder: {e}"),
        }
    }
    (n, total)
}

/// A hand-written RESP multibulk decoder of the usual kind: parse `*N`, then N times
/// `$len` and the bytes, returning slices of the input in a reused vector; `None` when the
/// command is not complete yet. Limits as in the description (64 KiB lines, 512 MiB bulk,
/// 1M arguments).
mod hand {
    pub enum Error {
        Protocol(&'static str),
    }

    fn line(buf: &[u8], at: usize) -> Option<(usize, usize)> {
        let rel = memchr(b'\r', &buf[at..])?;
        let end = at + rel;
        if buf.get(end + 1)? != &b'\n' {
            return None;
        }
        Some((end, end + 2))
    }

    fn memchr(b: u8, s: &[u8]) -> Option<usize> {
        s.iter().position(|&c| c == b)
    }

    fn number(s: &[u8]) -> Result<usize, Error> {
        if s.is_empty() || s.len() > 19 {
            return Err(Error::Protocol("bad length"));
        }
        let mut v: usize = 0;
        for &c in s {
            if !c.is_ascii_digit() {
                return Err(Error::Protocol("bad length"));
            }
            v = v * 10 + usize::from(c - b'0');
        }
        Ok(v)
    }

    /// Decodes one command at the front of `buf` into `args`; returns its length.
    pub fn decode<'a>(buf: &'a [u8], args: &mut Vec<&'a [u8]>) -> Result<Option<usize>, Error> {
        args.clear();
        if buf.first() != Some(&b'*') {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(Error::Protocol("expected '*'"))
            };
        }
        let Some((end, mut at)) = line(buf, 1) else {
            return Ok(None);
        };
        let argc = number(&buf[1..end])?;
        if argc > 1024 * 1024 {
            return Err(Error::Protocol("too many arguments"));
        }
        for _ in 0..argc {
            if at >= buf.len() {
                return Ok(None);
            }
            if buf[at] != b'$' {
                return Err(Error::Protocol("expected '$'"));
            }
            let Some((end, next)) = line(buf, at + 1) else {
                return Ok(None);
            };
            let len = number(&buf[at + 1..end])?;
            if len > 512 * 1024 * 1024 {
                return Err(Error::Protocol("bulk too long"));
            }
            if buf.len() < next + len + 2 {
                return Ok(None);
            }
            if &buf[next + len..next + len + 2] != b"\r\n" {
                return Err(Error::Protocol("expected CRLF"));
            }
            args.push(&buf[next..next + len]);
            at = next + len + 2;
        }
        Ok(Some(at))
    }
}

fn handwritten<'a>(args: &mut Vec<&'a [u8]>, input: &'a [u8]) -> (usize, usize) {
    let (mut n, mut total) = (0, 0);
    let mut start = 0;
    loop {
        match hand::decode(&input[start..], args) {
            Ok(Some(len)) => {
                n += 1;
                for a in args.iter() {
                    total += a.len();
                }
                start += len;
            }
            Ok(None) => break,
            Err(hand::Error::Protocol(e)) => panic!("hand-written decoder: {e}"),
        }
    }
    (n, total)
}

/// A hand-written decoder in the style of tokio's mini-redis (`Frame::check`, then
/// `Frame::parse`): a first pass checks that a whole command is buffered, a second builds
/// it with owned arguments (`Vec<Vec<u8>>`). Shown for reference: the comparison that
/// counts is against the zero-copy decoder above.
mod owned {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let rel = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[at..at + rel], at + rel + 2))
    }

    fn number(s: &[u8]) -> Option<usize> {
        std::str::from_utf8(s).ok()?.parse().ok()
    }

    /// Whether a whole command starts the buffer (its length).
    fn check(buf: &[u8]) -> Option<usize> {
        let (head, mut at) = line(buf, 0)?;
        let argc = number(head.strip_prefix(b"*")?)?;
        for _ in 0..argc {
            let (head, next) = line(buf, at)?;
            let len = number(head.strip_prefix(b"$")?)?;
            if buf.len() < next + len + 2 {
                return None;
            }
            at = next + len + 2;
        }
        Some(at)
    }

    /// The command at the front of `buf`, with its arguments copied, and its length.
    pub fn decode(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
        let total = check(buf)?;
        let (head, mut at) = line(buf, 0)?;
        let argc = number(&head[1..])?;
        let mut args = Vec::with_capacity(argc);
        for _ in 0..argc {
            let (head, next) = line(buf, at)?;
            let len = number(&head[1..])?;
            args.push(buf[next..next + len].to_vec());
            at = next + len + 2;
        }
        Some((args, total))
    }
}

fn owned_args(input: &[u8]) -> (usize, usize) {
    let (mut n, mut total) = (0, 0);
    let mut start = 0;
    while let Some((args, len)) = owned::decode(&input[start..]) {
        n += 1;
        total += args.iter().map(Vec::len).sum::<usize>();
        start += len;
    }
    (n, total)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// `--only generated|hand VALUE REPS`: one decoder alone, a fixed number of passes over
/// the input for `VALUE`-byte values, for an instruction-counting profiler.
fn only(args: &[String]) {
    let [which, value, reps] = args else {
        panic!("usage: --only generated|hand VALUE REPS");
    };
    let value: usize = value.parse().expect("VALUE: a number of bytes");
    let reps: u32 = reps.parse().expect("REPS: a number of passes");
    let input = commands(20_000, value);
    let mut dec = resp::ClientMessage::decoder();
    let mut args: Vec<&[u8]> = Vec::with_capacity(8);
    for _ in 0..reps {
        match which.as_str() {
            "generated" => black_box(generated(
                &mut dec,
                black_box(&input),
                resp::ClientMessage::decode,
            )),
            "hand" => black_box(handwritten(&mut args, black_box(&input))),
            other => panic!("--only {other}: expected generated or hand"),
        };
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(at) = argv.iter().position(|a| a == "--only") {
        return only(&argv[at + 1..]);
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 10 } else { 60 };
    let mut report = Vec::new();
    for (label, value) in [
        ("SET/GET, 64-byte values", 64usize),
        ("SET/GET, 3-byte values", 3),
        ("SET/GET, 4 KiB values", 4096),
    ] {
        let n = if value > 1024 { 2_000 } else { 20_000 };
        let input = commands(n, value);
        let mut dec = resp::ClientMessage::decoder();
        let mut args: Vec<&[u8]> = Vec::with_capacity(8);
        let want = generated(&mut dec, &input, resp::ClientMessage::decode);
        assert_eq!(want, generated(&mut dec, &input, resumable_only));
        assert_eq!(
            want,
            handwritten(&mut args, &input),
            "the decoders disagree"
        );
        assert_eq!(want.0, n);
        let time = |f: &mut dyn FnMut() -> (usize, usize)| {
            let start = Instant::now();
            let mut reps = 0u32;
            while start.elapsed() < Duration::from_millis(if quick { 20 } else { 50 }) {
                black_box(f());
                reps += 1;
            }
            start.elapsed().as_secs_f64() / f64::from(reps)
        };
        // The resumable decoder alone, for reference (a shorter run).
        let mut resumable = Vec::new();
        for _ in 0..rounds.min(10) {
            let mut r = || generated(&mut dec, black_box(&input), resumable_only);
            let mut h = || handwritten(&mut args, black_box(&input));
            let a = time(&mut r);
            resumable.push(time(&mut h) / a);
        }
        resumable.sort_by(f64::total_cmp);
        // A mini-redis-style decoder (check, then parse into owned arguments), for reference.
        assert_eq!(owned_args(&input), want);
        let mut owned_ratio = Vec::new();
        for _ in 0..rounds.min(10) {
            let mut g = || generated(&mut dec, black_box(&input), resp::ClientMessage::decode);
            let mut o = || owned_args(black_box(&input));
            let a = time(&mut g);
            owned_ratio.push(time(&mut o) / a);
        }
        owned_ratio.sort_by(f64::total_cmp);
        let mut ratios = Vec::new();
        let (mut tg, mut th) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let mut g = || generated(&mut dec, black_box(&input), resp::ClientMessage::decode);
            let mut h = || handwritten(&mut args, black_box(&input));
            let (a, b) = if r % 2 == 0 {
                let a = time(&mut g);
                (a, time(&mut h))
            } else {
                let b = time(&mut h);
                (time(&mut g), b)
            };
            tg.push(a);
            th.push(b);
            ratios.push(b / a); // > 1: the generated decoder is faster
        }
        ratios.sort_by(f64::total_cmp);
        tg.sort_by(f64::total_cmp);
        th.sort_by(f64::total_cmp);
        let mb = input.len() as f64 / 1e6;
        let line = format!(
            "{label:<26} {:>6} msgs  generated {:>7.0} MB/s {:>5.1} Mmsg/s  hand-written {:>7.0} MB/s {:>5.1} Mmsg/s  ratio {:.3}x [{:.3}-{:.3}]  (resumable decoder alone {:.3}x; against a mini-redis-style decoder {:.2}x)",
            n,
            mb / percentile(&tg, 0.5),
            n as f64 / percentile(&tg, 0.5) / 1e6,
            mb / percentile(&th, 0.5),
            n as f64 / percentile(&th, 0.5) / 1e6,
            percentile(&ratios, 0.5),
            percentile(&ratios, 0.25),
            percentile(&ratios, 0.75),
            percentile(&resumable, 0.5),
            percentile(&owned_ratio, 0.5),
        );
        println!("{line}");
        report.push(line);
    }
    println!("\nratio = generated throughput / hand-written throughput (median of {rounds} alternating rounds, 25th-75th percentile)");
}

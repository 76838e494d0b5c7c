//! The decoding harness the wire tests share: render decoded messages as text, and
//! decode a conversation whole, split at every byte and in chunks.

#![allow(dead_code)]

use asyncore_runtime::wire::{bytes_at, DecodeError, Decoded, Decoder, Program, Slot};

/// Which messages are allowed, from the name of the last message decoded.
pub type Allowed<'a> = &'a dyn Fn(Option<&str>) -> Vec<u16>;

/// A slot as text: bytes escaped, integers in decimal, `-` for empty.
pub fn show(buf: &[u8], slot: Slot) -> String {
    match slot {
        Slot::Empty => "-".into(),
        Slot::Int(v) => v.to_string(),
        Slot::Range(..) => bytes_at(buf, slot).escape_ascii().to_string(),
        Slot::Seq { start, len } => format!("seq {start}+{len}"),
    }
}

/// The message just decoded as text: `Name(slot, ...)[item slot, ...]`.
pub fn render(dec: &Decoder, buf: &[u8], index: u16) -> String {
    let name = dec.program().messages[usize::from(index)].name;
    let slots: Vec<String> = dec.slots().iter().map(|&s| show(buf, s)).collect();
    let mut out = format!("{name}({})", slots.join(", "));
    if !dec.items().is_empty() {
        let items: Vec<String> = dec.items().iter().map(|&s| show(buf, s)).collect();
        out += &format!("[{}]", items.join(", "));
    }
    out
}

/// Decodes `input` fed in chunks ending at `cuts` (then the rest), the allowed messages
/// given by `allowed` from the last message's name. Returns the messages and errors in
/// order, then `left N` if bytes are left over (unless a fatal error stopped it).
pub fn run(
    program: &'static Program,
    input: &[u8],
    cuts: &[usize],
    allowed: Allowed<'_>,
) -> Vec<String> {
    let mut dec = Decoder::new(program);
    let mut buf = Vec::new();
    let mut fed = 0;
    let mut cuts = cuts.iter().copied().filter(|&c| c > 0 && c < input.len());
    let mut out = Vec::new();
    let mut last = None;
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(
            calls < 8 * input.len() + 64,
            "no progress after {calls} calls"
        );
        match dec.decode(&buf, &allowed(last)) {
            Ok(Decoded::NeedMore) => {
                if fed == input.len() {
                    break;
                }
                let to = cuts.next().unwrap_or(input.len());
                buf.extend_from_slice(&input[fed..to]);
                fed = to;
            }
            Ok(Decoded::Message { index, len }) => {
                assert!((1..=buf.len()).contains(&len), "message of {len} bytes");
                out.push(render(&dec, &buf[..len], index));
                last = Some(program.messages[usize::from(index)].name);
                buf.drain(..len);
            }
            Ok(Decoded::Skip { len }) => {
                assert!((1..=buf.len()).contains(&len), "skip of {len} bytes");
                buf.drain(..len);
            }
            Err(e) => {
                if !e.can_continue() {
                    out.push(format!("fatal {e}"));
                    return out;
                }
                out.push(format!("error {e}"));
            }
        }
    }
    if !buf.is_empty() {
        out.push(format!("left {}", buf.len()));
    }
    out
}

/// Checks `input` against `expected` decoded whole, then split at every byte position,
/// then byte by byte, then in chunks of 2, 3 and 7.
#[track_caller]
pub fn check_everywhere<S>(
    program: &'static Program,
    input: &[u8],
    allowed: Allowed<'_>,
    expected: &[S],
) where
    String: PartialEq<S>,
    S: std::fmt::Debug,
{
    let whole = run(program, input, &[], allowed);
    assert_eq!(whole, expected, "decoded whole");
    for k in 0..=input.len() {
        assert_eq!(run(program, input, &[k], allowed), whole, "split at {k}");
    }
    for step in [1, 2, 3, 7] {
        let cuts: Vec<usize> = (1..input.len()).step_by(step).collect();
        assert_eq!(
            run(program, input, &cuts, allowed),
            whole,
            "chunks of {step}"
        );
    }
}

pub fn all(program: &'static Program) -> impl Fn(Option<&str>) -> Vec<u16> {
    move |_| (0..program.messages.len() as u16).collect()
}

pub fn fixed(allowed: &'static [u16]) -> impl Fn(Option<&str>) -> Vec<u16> {
    move |_| allowed.to_vec()
}

/// Decodes `input` whole with `allowed`; the one outcome, or the error.
pub fn decode_once(
    program: &'static Program,
    input: &[u8],
    allowed: &[u16],
) -> (Decoder, Result<Decoded, DecodeError>) {
    let mut dec = Decoder::new(program);
    let got = dec.decode(input, allowed);
    (dec, got)
}

//! Round trips of generated message types: encode, then decode the bytes whole, split at
//! every byte and one byte at a time, with both decoding paths.
//!
//! Include it with `#[macro_use] #[path = "support/roundtrip.rs"] mod roundtrip;`.

#![allow(dead_code)]

use asyncore_runtime::wire::{Decoded, Decoder, MAX_PARAMS};

/// Decodes `input` fed in `chunks` (the input split at the given positions), with the
/// allowed list chosen per message by `allowed(previous message names)`, and returns each
/// message rendered by `show`.
/// How a test decodes: the resumable decoder alone, or the generated `decode` that
/// channels use (the fast path first).
pub type DecodeFn =
    fn(&mut Decoder, &[u8], &[u16]) -> Result<Decoded, asyncore_runtime::wire::DecodeError>;

/// The message parameters to set before decoding the message after `seen`.
pub type Params<'a> = &'a dyn Fn(&[String]) -> [u64; MAX_PARAMS];

pub fn no_params(_seen: &[String]) -> [u64; MAX_PARAMS] {
    [0; MAX_PARAMS]
}

pub fn resumable(
    dec: &mut Decoder,
    buf: &[u8],
    allowed: &[u16],
) -> Result<Decoded, asyncore_runtime::wire::DecodeError> {
    dec.decode(buf, allowed)
}

pub fn decode_split(
    mut dec: Decoder,
    decode: DecodeFn,
    input: &[u8],
    cuts: &[usize],
    allowed: &dyn Fn(&[String]) -> &'static [u16],
    params: Params<'_>,
    show: &dyn Fn(&Decoder, &[u8], u16) -> String,
) -> Result<Vec<String>, String> {
    let mut buf: Vec<u8> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut bounds: Vec<usize> = cuts.to_vec();
    bounds.push(input.len());
    let mut fed = 0;
    for end in bounds {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            dec.set_params(&params(&out));
            match decode(&mut dec, &buf, allowed(&out)) {
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Skip { len }) => {
                    buf.drain(..len);
                }
                Ok(Decoded::Message { index, len }) => {
                    out.push(show(&dec, &buf[..len], index));
                    buf.drain(..len);
                }
                Err(e) => return Err(format!("{e} (after {out:?})")),
            }
        }
    }
    if !buf.is_empty() {
        return Err(format!(
            "{} bytes left over: {:?}",
            buf.len(),
            String::from_utf8_lossy(&buf)
        ));
    }
    Ok(out)
}

/// Checks that `input` decodes to `expected` whole, split at every byte position, and fed
/// one byte at a time, with the resumable decoder alone and with the fast path first.
pub fn check_splits(
    make: &dyn Fn() -> Decoder,
    fast: DecodeFn,
    input: &[u8],
    expected: &[String],
    allowed: &dyn Fn(&[String]) -> &'static [u16],
    params: Params<'_>,
    show: &dyn Fn(&Decoder, &[u8], u16) -> String,
) {
    for (how, decode) in [("resumable", resumable as DecodeFn), ("fast path", fast)] {
        let whole = decode_split(make(), decode, input, &[], allowed, params, show).unwrap();
        assert_eq!(
            whole,
            expected,
            "decoding {:?} whole ({how})",
            String::from_utf8_lossy(input)
        );
        for cut in 1..input.len() {
            let got = decode_split(make(), decode, input, &[cut], allowed, params, show).unwrap();
            assert_eq!(got, expected, "split at byte {cut} ({how})");
        }
        let all: Vec<usize> = (1..input.len()).collect();
        let got = decode_split(make(), decode, input, &all, allowed, params, show).unwrap();
        assert_eq!(got, expected, "one byte at a time ({how})");
    }
}

/// The test body for one protocol and one direction: encodes `messages`, checks the
/// encoding of each against the recorded bytes where given, then decodes the
/// concatenation at every split.
#[allow(unused_macros)]
macro_rules! round_trip {
    ($module:ident, $enum:ident, $all:ident, [$($msg:expr),* $(,)?]) => {
        round_trip!($module, $enum, allowed = $module::$all, [$($msg),*])
    };
    ($module:ident, $enum:ident, allowed = $allowed:expr, [$($msg:expr),* $(,)?]) => {{
        let messages: Vec<$module::$enum<'_>> = vec![$($msg.into()),*];
        let mut input = Vec::new();
        for m in &messages {
            m.encode(&mut input).unwrap_or_else(|e| panic!("encoding {m:?}: {e}"));
        }
        let expected: Vec<String> = messages.iter().map(|m| format!("{m:?}")).collect();
        let show = |dec: &::asyncore_runtime::wire::Decoder, buf: &[u8], index: u16| {
            let m = $module::$enum::from_decoder(dec, buf, index).expect("a message index");
            format!("{m:?}")
        };
        $crate::roundtrip::check_splits(
            &$module::$enum::decoder,
            $module::$enum::decode,
            &input,
            &expected,
            &|_| $allowed,
            &$crate::roundtrip::no_params,
            &show,
        );
        input
    }};
}

/// Decodes recorded bytes and returns the messages' Debug forms.
#[allow(unused_macros)]
macro_rules! decode_recorded {
    ($module:ident, $enum:ident, $input:expr, $allowed:expr) => {{
        let show = |dec: &::asyncore_runtime::wire::Decoder, buf: &[u8], index: u16| {
            let m = $module::$enum::from_decoder(dec, buf, index).expect("a message index");
            format!("{m:?}")
        };
        let input: &[u8] = $input;
        let whole = $crate::roundtrip::decode_split(
            $module::$enum::decoder(),
            $crate::roundtrip::resumable,
            input,
            &[],
            &$allowed,
            &$crate::roundtrip::no_params,
            &show,
        )
        .unwrap();
        $crate::roundtrip::check_splits(
            &$module::$enum::decoder,
            $module::$enum::decode,
            input,
            &whole,
            &$allowed,
            &$crate::roundtrip::no_params,
            &show,
        );
        whole
    }};
}

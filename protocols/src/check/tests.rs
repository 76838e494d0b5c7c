//! Each check of the language, at the token it concerns.

use crate::compile;

/// Compiles `src` and returns the first error's message and the source text it points at.
fn first_error(src: &str) -> (String, String) {
    let errors = compile(src).expect_err("the description should not compile");
    let e = &errors[0];
    (e.message.clone(), src[e.span.start..e.span.end].to_string())
}

const HEAD: &str = "protocol p framing line \"\\r\\n\" max 1KiB\n";

#[test]
fn each_check_reports_at_the_offending_token() {
    let cases: &[(&str, &str, &str)] = &[
        ("client A = \"a\" state S initial { A -> Nowhere }", "unknown state `Nowhere`", "Nowhere"),
        ("client A = \"a\" state S initial { B -> S }", "unknown message `B`", "B"),
        ("client A = \"a\" state S { A -> S }", "no state is marked `initial`", "S"),
        ("client A = \"a\" state S initial { A -> T } state T initial { A -> S }", "a second initial state `T`", "initial"),
        ("client A = \"a\" state S initial { A -> S } state T { A -> S }", "state `T` is unreachable", "T"),
        ("client A = \"get\" k:word client B = \"get\" n:word", "messages `A` and `B` cannot be told apart in state `Ready`", "B"),
        ("client A = \"a\" then d:bytes[n] max 10 \"\\r\\n\"", "the length field `n` is used before it is read", "n"),
        ("client A = \"a\" n:u8 then d:bytes[n] max 1000 \"\\r\\n\"", "the length field `n` is too narrow for the maximum 1000 of `d`: it holds at most 255", "1000"),
        ("client A = \"a\" n:usize then d:bytes[n] \"\\r\\n\"", "the field `d` is unbounded", "d"),
        ("client A = \"a\" xs:(x:rest)+", "the repetition `xs` can consume nothing, so it would never end", "xs:(x:rest)+"),
        ("client A = \"a\" client B = \"b\" client C = \"c\" state S initial { A -> T | U } state T { B -> T  C -> T } state U { B -> U }",
         "the client may send `C` after `A` (the server may have chosen `T`), but the server cannot receive `C` in state `U`", "U"),
        ("client A = \"a\" state S initial { }", "state `S` has no way out", "S"),
        ("server R = \"r\" client A = \"a\" state S initial { R -> S }", "`R` is sent by the server, but states move on messages the client sends", "R"),
        ("client A = \"a\" n:word then d:bytes[n] max 10 \"\\r\\n\"", "the length field `n` is not an integer", "n"),
    ];
    for (body, message, at) in cases {
        let src = format!("{HEAD}{body}");
        let (m, text) = first_error(&src);
        assert_eq!((m.as_str(), text.as_str()), (*message, *at), "in {body}");
    }
}

#[test]
fn framing_arithmetic_is_checked() {
    let (m, at) = first_error("protocol p framing length u8 max 1KiB client A = 0x01");
    assert_eq!(m, "the length field `u8` is too narrow for the maximum 1024: it can announce at most 255 bytes");
    assert_eq!(at, "1KiB");
    // When the length counts the 2-byte header, the field announces 2 bytes less of body.
    let (m, _) = first_error(
        "protocol p framing length u8 max 255 offset 1 includes_header client A = 0x01",
    );
    assert!(m.contains("at most 253 bytes"), "{m}");
    assert!(compile("protocol p framing length u16be max 65535 client A = 0x01").is_ok());
    let (m, _) = first_error("protocol p framing length u16be max 10 skip 9 client A = 0x01");
    assert!(m.contains("cannot skip 9 bytes of a 2-byte header"), "{m}");
}

#[test]
fn a_missing_framing_is_an_error() {
    let (m, at) = first_error("protocol p client A = \"a\"");
    assert_eq!(m, "protocol `p` has no framing");
    assert_eq!(at, "p");
}

#[test]
fn a_unit_less_message_must_be_alone() {
    let (m, _) = first_error(&format!(
        "{HEAD}client A = \"a\" client B = t:lines until \".\" max 1KiB"
    ));
    assert!(m.contains("starts without a line"), "{m}");
}

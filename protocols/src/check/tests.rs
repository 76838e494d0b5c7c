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
fn an_optional_part_must_not_swallow_the_next_required_one() {
    let (m, at) = first_error(&format!(
        "{HEAD}client Pub = \"PUB\" subject:word reply:word? bytes:u32"
    ));
    assert_eq!(
        m,
        "the optional `reply` can take what `bytes` needs, so a line without it would not decode"
    );
    assert_eq!(at, "reply:word?");
    let (m, _) = first_error(&format!("{HEAD}client A = \"A\" n:u32? m:u16"));
    assert!(
        m.contains("the optional `n` can take what `m` needs"),
        "{m}"
    );
    // A literal the required part cannot start with is fine, and so is an optional part
    // at the end of its line.
    assert!(compile(&format!("{HEAD}client A = \"A\" flag:\"noreply\"? n:u32")).is_ok());
    assert!(compile(&format!("{HEAD}client A = \"A\" n:u32 reply:word?")).is_ok());
    assert!(compile(&format!("{HEAD}client A = \"A\" n:u32? \"x\" m:u16")).is_ok());
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
    let (m, at) = first_error("protocol p framing length u16be max 10 skip 9 client A = 0x01");
    assert_eq!(m, "`skip` is not part of the language any more");
    assert_eq!(at, "9");
    let (m, _) =
        first_error("protocol p framing length varint max 10 includes_length client A = 0x01");
    assert!(m.contains("needs a length field of fixed width"), "{m}");
    // PostgreSQL's length counts itself: 4 bytes less of body than the field can hold.
    let (m, _) = first_error(
        "protocol p framing length u8 max 255 offset 1 includes_length client A = 0x01",
    );
    assert!(m.contains("at most 254 bytes"), "{m}");
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

const FRAMES: &str = "protocol p framing length varint max 1KiB offset 1\n";

#[test]
fn each_binary_check_reports_at_the_offending_token() {
    let cases: &[(&str, &str, &str)] = &[
        ("client A = 0x01 x:u4", "the bit fields of `A` do not fill their byte: 4 bit(s) are left", "0x01 x:u4"),
        ("client A = 0x01 x:u4 y:u8", "bit fields do not fill their byte: 4 bit(s) are left before this part", "y:u8"),
        ("client A = 0x01 x:u4 y:u6", "these 6 bits cross a byte boundary: 4 bit(s) of the byte are left", "y:u6"),
        ("client A = 0x01 p:u16be if q > 0 q:u8", "the condition field `q` is used before it is read", "q"),
        ("client A = 0x01 t:cstr p:u16be if t", "the condition field `t` is not an integer", "t"),
        ("client A = t:cstr", "the 1 byte(s) before the length field must be filled by parts of a fixed size, but this part has no fixed size", "t:cstr"),
        ("client A = 0x0102 x:u8", "the 1 byte(s) before the length field must be filled by parts of a fixed size, but this part runs over the length field", "0x0102"),
        ("client A = 0x01 x:u8 client B = 0x01 y:u16be", "messages `A` and `B` cannot be told apart in state `Ready`", "B"),
        ("client A = 0b0011 x:u4 client B = 0x30", "messages `A` and `B` cannot be told apart in state `Ready`", "B"),
        ("client A = 0x01 x:u8 client B = 0x01 x:u8 y:u8", "messages `A` and `B` cannot be told apart in state `Ready`", "B"),
        ("client A = 0x01 n:u16", "`u16` is a decimal number, for lines; a binary frame needs a byte order", "u16"),
        ("client A = 0x01 v:bytes[u32be] nullable", "`nullable` applies to bytes with a signed length, like `v:bytes[i32be] nullable`", "nullable"),
        ("client A = 0x01 n:i8 p:u8 if n > 0", "`>` compares a signed field by order", "if n > 0"),
        ("client A = 0x01 q:u2 0b000000 p:u8 if q > 7", "`q` holds 0..=3, so comparing it with 7 decides nothing", "if q > 7"),
        ("client A = 0x01 x:u8? ", "optional parts are for lines", "x:u8?"),
        ("framing startup = length u32be max 100 includes_header client A framing strtup = 0x01", "unknown framing `strtup`", "strtup"),
        ("framing one = fixed 1 server N framing one = 0x4e00", "`N` must be exactly 1 byte(s) in its `fixed 1` framing, but it is 2 byte(s)", "0x4e00"),
        ("framing startup = length u32be max 100 includes_header client A = 0x01 client B framing startup = 0x02 state S initial { A -> S B -> S }",
         "state `S` receives `A` in the protocol's framing and `B` in the framing `startup`: a state reads one kind of unit", "B"),
        ("framing bad = line \"\\n\" max 10 client A = 0x01", "a named framing is `length ...` or `fixed N`", "framing bad = line \"\\n\" max 10"),
        ("client A = 0x01 n:u8 xs: n * (x:u16be) max 1000", "the count field `n` is too narrow for the maximum 1000: it holds at most 255", "1000"),
    ];
    for (body, message, at) in cases {
        let src = format!("{FRAMES}{body}");
        let (m, text) = first_error(&src);
        assert_eq!((m.as_str(), text.as_str()), (*message, *at), "in {body}");
    }
}

#[test]
fn a_binary_message_without_a_tag_is_a_catch_all() {
    // PostgreSQL's server names the type byte it does not know: a message with no literal
    // tag is tried after the tagged ones.
    let p = compile(
        "protocol p framing length u32be max 1KiB offset 1 includes_length
         client Query = \"Q\" sql:cstr
         client Other = kind:u8 body:rest",
    );
    assert!(p.is_ok(), "{p:?}");
}

#[test]
fn binary_types_are_for_frames() {
    for (ty, what) in [
        ("x:varint", "`varint` is for binary frames"),
        ("x:cstr", "`cstr` is for binary frames"),
        ("x:u3", "bit fields are for binary frames"),
        (
            "x:bytes[u16be]",
            "length-prefixed bytes are for binary frames",
        ),
        (
            "n:u8 x:word if n",
            "conditions (`if`) are for binary frames",
        ),
    ] {
        let (m, _) = first_error(&format!("{HEAD}client A = \"a\" {ty}"));
        assert_eq!(m, what, "{ty}");
    }
    let (m, _) = first_error("protocol p framing answer = fixed 1 framing fixed 1 client A = 0x01");
    assert!(
        m.contains("a second `framing`") || m.contains("`line` or `length`"),
        "{m}"
    );
    let (m, _) = first_error("protocol p framing fixed 1 client A = 0x01");
    assert_eq!(m, "a protocol's framing is `line` or `length`");
}

#[test]
fn binary_descriptions_lower_to_header_bits_and_conditions() {
    use crate::ir::Op;
    let p = compile(
        "protocol m framing length varint max 1KiB offset 1
         both Publish = 0b0011 dup:u1 qos:u2 retain:u1 topic:bytes[u16be] id:u16be if qos > 0 payload:rest",
    )
    .unwrap();
    let ops = &p.messages[0].ops;
    assert_eq!(ops[0], Op::Frame);
    assert_eq!(
        ops[1],
        Op::BitsLit {
            shift: 4,
            bits: 4,
            value: 3
        }
    );
    assert_eq!(
        ops[2],
        Op::Bits {
            slot: 0,
            shift: 3,
            bits: 1
        }
    );
    assert_eq!(
        ops[3],
        Op::Bits {
            slot: 1,
            shift: 1,
            bits: 2
        }
    );
    assert_eq!(
        ops[4],
        Op::Bits {
            slot: 2,
            shift: 0,
            bits: 1
        }
    );
    assert_eq!(ops[5], Op::LengthField);
    assert!(
        matches!(
            ops[8],
            Op::If {
                test: 1,
                cmp: crate::ast::Cmp::Gt,
                value: 0,
                len: 1,
                ..
            }
        ),
        "{:?}",
        ops[8]
    );
    // The messages write the header byte: they see the frame from its first byte.
    assert!(matches!(
        p.framing,
        crate::ir::Framing::Length {
            skip: 0,
            offset: 1,
            width: 0,
            ..
        }
    ));
    // The topic's length is derived from the topic, not a field of the struct.
    let visible: Vec<&str> = p.messages[0]
        .fields
        .iter()
        .filter(|f| f.derived_from.is_none())
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(visible, ["dup", "qos", "retain", "topic", "id", "payload"]);
}

/// A state's own policies answer bad input that no message's own policy answers; `""`
/// alone is the empty line, and an empty literal anywhere else is an error.
#[test]
fn state_policies_and_the_empty_line() {
    let src = format!(
        "{HEAD}on oversize reply \"proto\" close \
         client Blank = \"\" \
         client A = \"a\" x:word then items: (n:word)* until \"\" max 3 \
             on oversize reply \"message\" close \
         state S initial {{ Blank -> S A -> S }} on oversize reply \"state\" close \
             on unknown discard"
    );
    let p = compile(&src).expect("compiles");
    let s = &p.states[0];
    assert!(matches!(
        &s.policies.oversize,
        Some(crate::ast::Action::Reply { text, close: true }) if text == b"state"
    ));
    assert_eq!(s.policies.unknown, Some(crate::ast::Action::Discard));
    assert_eq!(s.policies.invalid, None);
    assert!(p.messages[0].ops.contains(&crate::ir::Op::Lit(Vec::new())));
    let twice = format!(
        "{HEAD}client A = \"a\" state S initial {{ A -> S }} on invalid close on invalid discard"
    );
    assert_eq!(
        first_error(&twice),
        (
            "a second policy for `invalid`".into(),
            "on invalid discard".into()
        )
    );
    for not_alone in ["client A = \"\" x:word", "client A = \"a\" ~ \"\""] {
        let (message, at) = first_error(&format!("{HEAD}{not_alone}"));
        assert_eq!(
            (message.as_str(), at.as_str()),
            ("an empty literal matches nothing", "\"\"")
        );
    }
}

/// A dialogue with a request that may start TLS: `Tls` answered by `Reply`.
const TLS_HEAD: &str = "protocol p framing line \"\\r\\n\" max 1KiB\n\
    client Tls = \"STARTTLS\" replies Reply\n\
    client Quit = \"QUIT\" replies Reply\n\
    client Plain = \"PLAIN\"\n\
    server Reply = code:u16 ~ \" \" ~ text:rest\n";

/// `starttls`: each check at its token, and what a description that passes them says.
#[test]
fn starttls_checks_and_ir() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "state S initial { Tls -> T starttls | S  Quit -> close } state T { Quit -> close }",
            "`starttls` needs the reply that agrees to it, but no reply decides the next state of `Tls` in state `S`",
            "starttls",
        ),
        (
            "state S initial { Plain -> T starttls | S  Quit -> close } state T { Quit -> close }",
            "`Plain` declares no replies, so no reply can agree to start TLS",
            "starttls",
        ),
        (
            "state S initial { Tls -> close on Reply if code == 220 starttls | S on Reply if code != 220  Quit -> close }",
            "a connection that closes cannot start TLS",
            "starttls",
        ),
        (
            "state S initial { Tls -> T on Reply starttls  Quit -> close } state T { Quit -> close }",
            "every reply to `Tls` starts TLS in state `S`, so a server without TLS could not refuse it",
            "Tls",
        ),
        (
            "state S initial { Tls -> T on Reply if code == 220 starttls | S on Reply if code != 220  Quit -> close } \
             state T { Tls -> T on Reply if code == 220 starttls | T on Reply if code != 220 }",
            "once TLS is on, state `T` allows no message: `Tls` starts TLS, which happens once per connection",
            "T",
        ),
        (
            "state S initial { Plain -> A | B  Quit -> close } \
             state A { Tls -> S on Reply if code == 220 starttls | A on Reply if code != 220  Quit -> close  Plain -> A | B } \
             state B { Tls -> B on Reply  Quit -> close  Plain -> A | B }",
            "the client may send `Tls` after `Plain` without knowing whether the server chose `A` or `B`, and its reply starts TLS differently in them",
            "B",
        ),
    ];
    for (body, message, at) in cases {
        let src = format!("{TLS_HEAD}{body}");
        let (m, text) = first_error(&src);
        assert_eq!((m.as_str(), text.as_str()), (*message, *at), "in {body}");
    }
    // Accepted: the agreeing case starts TLS, the refusal does not; a target may be
    // reached both ways; the state after the upgrade allows another message.
    let src = format!(
        "{TLS_HEAD}state S initial {{ Tls -> T on Reply if code == 220 starttls | S on Reply if code != 220  Quit -> close }} \
         state T {{ Tls -> T on Reply if code == 220 starttls | T on Reply if code != 220  Quit -> close }}"
    );
    let p = compile(&src).expect("compiles");
    assert!(p.has_starttls());
    let (tls, quit) = (0, 1);
    assert_eq!(p.states[0].starttls, [(tls, 0)]);
    assert_eq!(p.states[1].starttls, [(tls, 0)]);
    assert!(p.starts_tls(0, tls) && !p.starts_tls(0, quit));
    assert!(p.case_starts_tls(1, tls, 0) && !p.case_starts_tls(1, tls, 1));
    assert_eq!(p.starttls_targets(), [1]);
    let graph = crate::graph::mermaid(&p);
    assert!(
        graph.contains("S --> T: Tls (on Reply if code == 220, starttls)"),
        "{graph}"
    );
    assert!(
        graph.contains(
            "T --> T: Tls (on Reply if code != 220), Tls (on Reply if code == 220, starttls)"
        ),
        "{graph}"
    );
    // Without `starttls`, nothing starts TLS.
    let src =
        format!("{TLS_HEAD}state S initial {{ Tls -> S on Reply  Quit -> close  Plain -> S }}");
    assert!(!compile(&src).expect("compiles").has_starttls());
}

/// The SMTP description starts TLS after `220` to `STARTTLS` in `Greeted`, back in
/// `Fresh`, and its generated code has what the roles need for it; a protocol without
/// `starttls` generates none of it.
#[test]
fn smtp_starts_tls_and_generates_the_upgrade() {
    let src = include_str!("../../descriptions/smtp.aproto");
    let p = compile(src).expect("smtp compiles");
    let greeted = p.states.iter().position(|s| s.name == "Greeted").unwrap();
    let fresh = p.states.iter().position(|s| s.name == "Fresh").unwrap();
    let start = p
        .messages
        .iter()
        .position(|m| m.name == "StartTls")
        .unwrap();
    assert!(p.starts_tls(greeted, start));
    assert!(!p.starts_tls(fresh, start));
    assert_eq!(p.starttls_targets(), [fresh]);
    let name = proc_macro2::Ident::new("smtp", proc_macro2::Span::call_site());
    let code = crate::gen::pretty(crate::gen::generate(&p, &quote::quote!(pub), &name)).unwrap();
    for needed in [
        "pub fn may_start_tls(",
        "pub fn starts_tls_after(",
        "pub const fn allowed_with_tls(self)",
        "pub fn start_tls<'m>(",
        "::asyncore_runtime::wire::start_tls_server(",
        "::asyncore_runtime::wire::start_tls_client(",
        "io.discard_input();",
    ] {
        assert!(code.contains(needed), "`{needed}` missing");
    }
    let pop3 = compile(include_str!("../../descriptions/pop3.aproto")).unwrap();
    let code = crate::gen::pretty(crate::gen::generate(&pop3, &quote::quote!(pub), &name)).unwrap();
    assert!(!code.contains("tls"), "pop3 generates TLS code");
}

//! Descriptions of more than 64 messages are generated compactly: their encoders hand a
//! list of parts to the runtime instead of a call per part, and their messages of one
//! shape share a fast decoder. The same messages, in a small description and in one
//! padded past 64 messages, must encode to the same bytes (or fail on the same field),
//! and decode back whole, split at every byte and one byte at a time.

#[macro_use]
#[path = "support/roundtrip.rs"]
mod roundtrip;
mod support;

use asyncore_runtime::protocol;

/// A line protocol named `$name` with the messages under test, then `$fill`.
macro_rules! lines {
    ($name:ident, $($fill:tt)*) => {
        protocol! {
            pub mod $name {
                protocol lines
                framing line "\r\n" max 4KiB
                on unknown reply "ERR unknown" continue
                on invalid reply "ERR syntax" continue
                client Store = "STORE" key:word flags:u32 exptime:i64 noreply:"noreply"?
                client Flush = "FLUSH" delay:i64? noreply:"noreply"?
                client Mode = "MODE" id:u32 mode:("a" | "b")
                client Text = "TEXT" name:token ~ ":" ows value:rest
                client Hexed = "HEX" a:u8 d:hex
                client Maybe = "MAYBE" n:u16 key:word?
                server Reply = code:u16 text:rest
                $($fill)*
            }
        }
    };
}

/// A binary protocol named `$name`, PostgreSQL's framing (a type byte, then a length that
/// counts itself), with the messages under test, then `$fill`.
macro_rules! frames {
    ($name:ident, $($fill:tt)*) => {
        protocol! {
            pub mod $name {
                protocol frames
                framing length u32be max 64KiB offset 1 includes_length
                framing answer = fixed 1
                client Put = 0x03 klen:u16be key:bytes[klen] value:rest
                client Packed = 0x04 0b0 a:u1 b:u2 c:u4 id:u16be
                client Nums = 0x07 x:i64le y:u32le z:u8 s:i16be
                client Var = 0x08 v:varint max 1000000 data:rest
                client Names = 0x05 name:cstr value:cstr
                server Answer framing answer = answer:(0x4e | 0x53)
                server Status = 0x80 status:u8
                $($fill)*
            }
        }
    };
}

lines!(small_lines,);
lines!(
    wide_lines,
                client Fill00 = "FILL00" n:u16
                client Fill01 = "FILL01" n:u16
                client Fill02 = "FILL02" n:u16
                client Fill03 = "FILL03" n:u16
                client Fill04 = "FILL04" n:u16
                client Fill05 = "FILL05" n:u16
                client Fill06 = "FILL06" n:u16
                client Fill07 = "FILL07" n:u16
                client Fill08 = "FILL08" n:u16
                client Fill09 = "FILL09" n:u16
                client Fill10 = "FILL10" n:u16
                client Fill11 = "FILL11" n:u16
                client Fill12 = "FILL12" n:u16
                client Fill13 = "FILL13" n:u16
                client Fill14 = "FILL14" n:u16
                client Fill15 = "FILL15" n:u16
                client Fill16 = "FILL16" n:u16
                client Fill17 = "FILL17" n:u16
                client Fill18 = "FILL18" n:u16
                client Fill19 = "FILL19" n:u16
                client Fill20 = "FILL20" n:u16
                client Fill21 = "FILL21" n:u16
                client Fill22 = "FILL22" n:u16
                client Fill23 = "FILL23" n:u16
                client Fill24 = "FILL24" n:u16
                client Fill25 = "FILL25" n:u16
                client Fill26 = "FILL26" n:u16
                client Fill27 = "FILL27" n:u16
                client Fill28 = "FILL28" n:u16
                client Fill29 = "FILL29" n:u16
                client Fill30 = "FILL30" n:u16
                client Fill31 = "FILL31" n:u16
                client Fill32 = "FILL32" n:u16
                client Fill33 = "FILL33" n:u16
                client Fill34 = "FILL34" n:u16
                client Fill35 = "FILL35" n:u16
                client Fill36 = "FILL36" n:u16
                client Fill37 = "FILL37" n:u16
                client Fill38 = "FILL38" n:u16
                client Fill39 = "FILL39" n:u16
                client Fill40 = "FILL40" n:u16
                client Fill41 = "FILL41" n:u16
                client Fill42 = "FILL42" n:u16
                client Fill43 = "FILL43" n:u16
                client Fill44 = "FILL44" n:u16
                client Fill45 = "FILL45" n:u16
                client Fill46 = "FILL46" n:u16
                client Fill47 = "FILL47" n:u16
                client Fill48 = "FILL48" n:u16
                client Fill49 = "FILL49" n:u16
                client Fill50 = "FILL50" n:u16
                client Fill51 = "FILL51" n:u16
                client Fill52 = "FILL52" n:u16
                client Fill53 = "FILL53" n:u16
                client Fill54 = "FILL54" n:u16
                client Fill55 = "FILL55" n:u16
                client Fill56 = "FILL56" n:u16
                client Fill57 = "FILL57" n:u16
                client Fill58 = "FILL58" n:u16
                client Fill59 = "FILL59" n:u16
);
frames!(small_frames,);
frames!(
    wide_frames,
                client Fill00 = 0xa0 n:u16be
                client Fill01 = 0xa1 n:u16be
                client Fill02 = 0xa2 n:u16be
                client Fill03 = 0xa3 n:u16be
                client Fill04 = 0xa4 n:u16be
                client Fill05 = 0xa5 n:u16be
                client Fill06 = 0xa6 n:u16be
                client Fill07 = 0xa7 n:u16be
                client Fill08 = 0xa8 n:u16be
                client Fill09 = 0xa9 n:u16be
                client Fill10 = 0xaa n:u16be
                client Fill11 = 0xab n:u16be
                client Fill12 = 0xac n:u16be
                client Fill13 = 0xad n:u16be
                client Fill14 = 0xae n:u16be
                client Fill15 = 0xaf n:u16be
                client Fill16 = 0xb0 n:u16be
                client Fill17 = 0xb1 n:u16be
                client Fill18 = 0xb2 n:u16be
                client Fill19 = 0xb3 n:u16be
                client Fill20 = 0xb4 n:u16be
                client Fill21 = 0xb5 n:u16be
                client Fill22 = 0xb6 n:u16be
                client Fill23 = 0xb7 n:u16be
                client Fill24 = 0xb8 n:u16be
                client Fill25 = 0xb9 n:u16be
                client Fill26 = 0xba n:u16be
                client Fill27 = 0xbb n:u16be
                client Fill28 = 0xbc n:u16be
                client Fill29 = 0xbd n:u16be
                client Fill30 = 0xbe n:u16be
                client Fill31 = 0xbf n:u16be
                client Fill32 = 0xc0 n:u16be
                client Fill33 = 0xc1 n:u16be
                client Fill34 = 0xc2 n:u16be
                client Fill35 = 0xc3 n:u16be
                client Fill36 = 0xc4 n:u16be
                client Fill37 = 0xc5 n:u16be
                client Fill38 = 0xc6 n:u16be
                client Fill39 = 0xc7 n:u16be
                client Fill40 = 0xc8 n:u16be
                client Fill41 = 0xc9 n:u16be
                client Fill42 = 0xca n:u16be
                client Fill43 = 0xcb n:u16be
                client Fill44 = 0xcc n:u16be
                client Fill45 = 0xcd n:u16be
                client Fill46 = 0xce n:u16be
                client Fill47 = 0xcf n:u16be
                client Fill48 = 0xd0 n:u16be
                client Fill49 = 0xd1 n:u16be
                client Fill50 = 0xd2 n:u16be
                client Fill51 = 0xd3 n:u16be
                client Fill52 = 0xd4 n:u16be
                client Fill53 = 0xd5 n:u16be
                client Fill54 = 0xd6 n:u16be
                client Fill55 = 0xd7 n:u16be
                client Fill56 = 0xd8 n:u16be
                client Fill57 = 0xd9 n:u16be
                client Fill58 = 0xda n:u16be
                client Fill59 = 0xdb n:u16be
);

/// The line messages, as `$m`'s types, through `round_trip!`: the bytes they encode to.
macro_rules! line_messages {
    ($m:ident) => {
        round_trip!(
            $m,
            ClientMessage,
            CLIENT_MESSAGES_ALL,
            [
                $m::Store {
                    key: b"k1",
                    flags: 7,
                    exptime: -1,
                    noreply: true
                },
                $m::Store {
                    key: b"k2",
                    flags: 0,
                    exptime: 300,
                    noreply: false
                },
                $m::Flush {
                    delay: Some(10),
                    noreply: true
                },
                $m::Flush {
                    delay: None,
                    noreply: false
                },
                $m::Flush {
                    delay: Some(-5),
                    noreply: false
                },
                $m::Mode {
                    id: 4_000_000_000,
                    mode: b"b"
                },
                $m::Text {
                    name: b"Content-Type",
                    value: b"text/plain; q=1"
                },
                $m::Hexed {
                    a: 255,
                    d: 0xdead_beef
                },
                $m::Maybe {
                    n: 65535,
                    key: Some(b"here")
                },
                $m::Maybe { n: 0, key: None },
            ]
        )
    };
}

/// The frame messages, as `$m`'s types, through `round_trip!`.
macro_rules! frame_messages {
    ($m:ident) => {
        round_trip!(
            $m,
            ClientMessage,
            CLIENT_MESSAGES_ALL,
            [
                $m::Put {
                    key: b"key",
                    value: b"value"
                },
                $m::Put {
                    key: b"",
                    value: b""
                },
                $m::Packed {
                    a: 1,
                    b: 3,
                    c: 15,
                    id: 0xbeef
                },
                $m::Packed {
                    a: 0,
                    b: 0,
                    c: 0,
                    id: 0
                },
                $m::Nums {
                    x: -2,
                    y: 0xfeed_f00d,
                    z: 9,
                    s: -300
                },
                $m::Var { v: 300, data: b"x" },
                $m::Var {
                    v: 1_000_000,
                    data: b""
                },
                $m::Names {
                    name: b"user",
                    value: b"alice"
                },
            ]
        )
    };
}

#[test]
fn a_wide_line_description_writes_what_a_small_one_does() {
    let small = line_messages!(small_lines);
    let wide = line_messages!(wide_lines);
    assert_eq!(
        String::from_utf8_lossy(&wide),
        String::from_utf8_lossy(&small)
    );
    assert!(
        small.starts_with(b"STORE k1 7 -1 noreply\r\n"),
        "{:?}",
        String::from_utf8_lossy(&small)
    );
}

#[test]
fn a_wide_binary_description_writes_what_a_small_one_does() {
    let small = frame_messages!(small_frames);
    let wide = frame_messages!(wide_frames);
    assert_eq!(wide, small);
    // Put: the type byte, a length that counts itself, then the body.
    assert_eq!(&small[..5], b"\x03\x00\x00\x00\x0e");
}

#[test]
fn a_wide_description_fails_on_the_same_field() {
    let mut out = Vec::new();
    let small = small_lines::Store {
        key: b"a b",
        flags: 0,
        exptime: 0,
        noreply: false,
    }
    .encode(&mut out);
    let wide = wide_lines::Store {
        key: b"a b",
        flags: 0,
        exptime: 0,
        noreply: false,
    }
    .encode(&mut out);
    assert_eq!(
        small.unwrap_err().to_string(),
        wide.unwrap_err().to_string()
    );
    let small = small_lines::Mode { id: 1, mode: b"c" }.encode(&mut out);
    let wide = wide_lines::Mode { id: 1, mode: b"c" }.encode(&mut out);
    assert_eq!(
        small.unwrap_err().to_string(),
        wide.unwrap_err().to_string()
    );
    let small = small_lines::Maybe {
        n: 1,
        key: Some(b"two words"),
    }
    .encode(&mut out);
    let wide = wide_lines::Maybe {
        n: 1,
        key: Some(b"two words"),
    }
    .encode(&mut out);
    assert_eq!(small.unwrap_err().field(), "key");
    assert_eq!(wide.unwrap_err().field(), "key");
    let small = small_frames::Packed {
        a: 2,
        b: 0,
        c: 0,
        id: 0,
    }
    .encode(&mut out);
    let wide = wide_frames::Packed {
        a: 2,
        b: 0,
        c: 0,
        id: 0,
    }
    .encode(&mut out);
    assert_eq!(
        small.unwrap_err().to_string(),
        wide.unwrap_err().to_string()
    );
    let small = small_frames::Var {
        v: 1_000_001,
        data: b"",
    }
    .encode(&mut out);
    let wide = wide_frames::Var {
        v: 1_000_001,
        data: b"",
    }
    .encode(&mut out);
    assert_eq!(
        small.unwrap_err().to_string(),
        wide.unwrap_err().to_string()
    );
    let small = small_frames::Names {
        name: b"a\0b",
        value: b"",
    }
    .encode(&mut out);
    let wide = wide_frames::Names {
        name: b"a\0b",
        value: b"",
    }
    .encode(&mut out);
    assert_eq!(
        small.unwrap_err().to_string(),
        wide.unwrap_err().to_string()
    );
    assert!(out.is_empty(), "a failed message leaves nothing");
}

#[test]
fn a_wide_description_answers_in_its_fixed_framing() {
    let (mut small, mut wide) = (Vec::new(), Vec::new());
    small_frames::Answer { answer: b"S" }
        .encode(&mut small)
        .unwrap();
    wide_frames::Answer { answer: b"S" }
        .encode(&mut wide)
        .unwrap();
    small_frames::Status { status: 200 }
        .encode(&mut small)
        .unwrap();
    wide_frames::Status { status: 200 }
        .encode(&mut wide)
        .unwrap();
    assert_eq!(wide, small);
    assert_eq!(small, b"S\x80\x00\x00\x00\x05\xc8");
}

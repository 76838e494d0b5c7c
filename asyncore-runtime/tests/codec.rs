//! Framer tests on plain buffers: each option of `LineFramer` and `LengthFramer`, the
//! `FrameBuf` and `Frames` plumbing, and properties over many inputs (every split
//! position, byte-at-a-time feeding, encode-then-decode round trips).

use std::io;

use asyncore_runtime::codec::{
    BufferFull, Decoded, Decoder, Encoder, FrameBuf, LengthBuilder, LengthError, LengthField,
    LengthFramer, LineBuilder, LineError, LineFramer, DEFAULT_MAX_FRAME_LENGTH,
    DEFAULT_MAX_LINE_LENGTH, MAX_TERMINATOR_LEN, READ_CHUNK,
};

// ===== LineFramer: decoding =====

#[test]
fn lines_default_terminator_is_lf_and_excluded() {
    let mut f = LineFramer::new();
    assert_eq!(f.terminator(), b"\n");
    assert_eq!(f.max_length(), DEFAULT_MAX_LINE_LENGTH);
    assert_eq!(DEFAULT_MAX_LINE_LENGTH, 64 * 1024);
    assert_eq!(
        all_frames(&mut f, b"one\n\ntwo\r\nthree"),
        ["one", "", "two\r"]
    );
}

#[test]
fn lines_need_more_consumes_nothing() {
    let mut f = LineFramer::new();
    assert_eq!(f.decode(b"").unwrap(), Decoded::NeedMore);
    assert_eq!(f.decode(b"abc").unwrap(), Decoded::NeedMore);
    assert_eq!(
        f.decode(b"abc\n").unwrap(),
        Decoded::Frame {
            frame: b"abc",
            consumed: 4
        }
    );
}

#[test]
fn lines_strict_crlf_keeps_bare_lf_and_cr_in_the_line() {
    let mut f = LineFramer::builder(100).terminator(b"\r\n").new_framer();
    assert!(!f.accepts_bare_lf());
    assert_eq!(
        all_frames(&mut f, b"a\nb\r\nc\rd\r\n\r\ne\r\r\n"),
        ["a\nb", "c\rd", "", "e\r"]
    );
}

#[test]
fn lines_crlf_accepting_bare_lf() {
    let mut f = LineFramer::builder(100)
        .terminator(b"\r\n")
        .accept_bare_lf(true)
        .new_framer();
    assert!(f.accepts_bare_lf());
    assert_eq!(
        all_frames(&mut f, b"a\nb\r\nc\rd\n\r\n\ne\r\r\n"),
        ["a", "b", "c\rd", "", "", "e\r"]
    );
}

#[test]
fn lines_accept_bare_lf_applies_only_to_crlf() {
    let mut f = LineFramer::builder(100)
        .terminator(b"\0")
        .accept_bare_lf(true)
        .new_framer();
    assert!(!f.accepts_bare_lf());
    assert_eq!(all_frames(&mut f, b"a\nb\0"), ["a\nb"]);
}

#[test]
fn lines_nul_terminator() {
    let mut f = LineFramer::builder(100).terminator(b"\0").new_framer();
    assert_eq!(all_frames(&mut f, b"a\0\0bc\0d"), ["a", "", "bc"]);
}

#[test]
fn lines_multibyte_terminator_with_self_overlap() {
    let mut f = LineFramer::builder(100).terminator(b"qqq").new_framer();
    // The first "qqq" ends the line; leftover "q"s start the next one.
    assert_eq!(all_frames(&mut f, b"aqqqqbqqqqqqqqq"), ["a", "qb", "", ""]);
    let mut f = LineFramer::builder(100).terminator(b"abab").new_framer();
    assert_eq!(all_frames(&mut f, b"xabaabababyabab"), ["xaba", "aby"]);
}

#[test]
fn lines_terminator_of_max_size() {
    let term = [b'#'; MAX_TERMINATOR_LEN];
    let mut f = LineFramer::builder(100).terminator(&term).new_framer();
    let mut input = b"x".to_vec();
    input.extend_from_slice(&term);
    assert_eq!(all_frames(&mut f, &input), ["x"]);
}

#[test]
#[should_panic(expected = "a line terminator has 1 to 16 bytes, not 17")]
fn lines_terminator_too_long_panics() {
    LineFramer::builder(100).terminator(&[b'x'; 17]);
}

#[test]
fn lines_max_length_boundary() {
    for (term, lenient) in [(&b"\n"[..], false), (b"\r\n", false), (b"\r\n", true)] {
        let mut f = LineFramer::builder(4)
            .terminator(term)
            .accept_bare_lf(lenient)
            .new_framer();
        let mut input = b"abcd".to_vec();
        input.extend_from_slice(term);
        assert_eq!(all_frames(&mut f, &input), ["abcd"], "{term:?} {lenient}");
        let mut input = b"abcde".to_vec();
        input.extend_from_slice(term);
        let err = f.decode(&input).unwrap_err();
        assert!(matches!(err, LineError::TooLong { limit: 4 }), "{err:?}");
    }
    // Bare-LF tolerant: 4 bytes then "\n" is fine, 5 bytes then "\n" is not.
    let mut f = LineFramer::builder(4)
        .terminator(b"\r\n")
        .accept_bare_lf(true)
        .new_framer();
    assert_eq!(f.decode(b"abcd\n").unwrap().frame(), Some(&b"abcd"[..]));
    assert!(matches!(
        f.decode(b"abcde\n"),
        Err(LineError::TooLong { limit: 4 })
    ));
    assert!(f.is_discarding());
    assert_eq!(f.decode(b"abcde\nok\n").unwrap(), Decoded::Skip(6));
}

#[test]
fn lines_too_long_is_reported_without_waiting_for_the_terminator() {
    let mut f = LineFramer::builder(4).terminator(b"\r\n").new_framer();
    // 6 bytes (max + terminator length) and no terminator: it cannot be a valid line.
    assert_eq!(f.decode(b"abcde").unwrap(), Decoded::NeedMore);
    let err = f.decode(b"abcde\r").unwrap_err();
    assert_eq!(err.to_string(), "line longer than 4 bytes (the limit)");
    assert!(f.is_discarding());
}

#[test]
fn lines_too_long_error_names_the_limit() {
    let mut f = LineFramer::builder(1024).new_framer();
    let err = f.decode(&[b'x'; 2000]).unwrap_err();
    assert_eq!(err.to_string(), "line longer than 1024 bytes (the limit)");
    let err: asyncore_runtime::Error = err.into();
    assert_eq!(err.to_string(), "line longer than 1024 bytes (the limit)");
}

#[test]
fn lines_discard_mode_skips_to_the_next_terminator_then_recovers() {
    let mut f = LineFramer::builder(3).new_framer();
    let mut buf = FrameBuf::new(8); // twice the minimum, f.buffer_limit()
    let mut events = Vec::new();
    // The long line arrives in pieces; the buffer never holds more than 8 bytes.
    for piece in [
        &b"ok\nlon"[..],
        b"g",
        b"line",
        b" still",
        b" going\nb",
        b"ye\n",
    ] {
        buf.extend_from_slice(piece).unwrap();
        drain(&mut f, &mut buf, &mut events, true);
    }
    assert_eq!(
        events,
        [
            Event::frame(b"ok"),
            Event::Error("line longer than 3 bytes (the limit)".into()),
            Event::frame(b"bye"),
        ]
    );
    assert!(!f.is_discarding());
}

#[test]
fn lines_discard_with_multibyte_terminator_split_across_reads() {
    let mut f = LineFramer::builder(2).terminator(b"qqq").new_framer();
    assert!(f.decode(b"abcde").is_err());
    // Bytes that may start a terminator are kept.
    assert_eq!(f.decode(b"abcdeq").unwrap(), Decoded::Skip(4));
    assert_eq!(f.decode(b"eq").unwrap(), Decoded::NeedMore);
    assert_eq!(f.decode(b"eqq").unwrap(), Decoded::Skip(1));
    assert_eq!(f.decode(b"qqqx").unwrap(), Decoded::Skip(3));
    assert!(!f.is_discarding());
    assert_eq!(f.decode(b"xqqq").unwrap().frame(), Some(&b"x"[..]));
}

#[test]
fn lines_reset_forgets_discarding() {
    let mut f = LineFramer::builder(2).new_framer();
    assert!(f.decode(b"abc").is_err());
    f.reset();
    assert_eq!(f.decode(b"ab\n").unwrap().frame(), Some(&b"ab"[..]));
}

#[test]
fn lines_decode_eof_returns_the_unterminated_tail() {
    let mut f = LineFramer::builder(4).terminator(b"\r\n").new_framer();
    assert_eq!(all_frames_eof(&mut f, b"a\r\nbc\r"), ["a", "bc\r"]);
    assert_eq!(all_frames_eof(&mut f, b"a\r\n"), ["a"]);
    assert_eq!(f.decode_eof(b"").unwrap(), Decoded::NeedMore);
    // A tail over the limit is an error, then skipped.
    let err = f.decode_eof(b"abcde").unwrap_err();
    assert!(matches!(err, LineError::TooLong { limit: 4 }));
    assert_eq!(f.decode_eof(b"abcde").unwrap(), Decoded::Skip(4));
    assert_eq!(f.decode_eof(b"e").unwrap(), Decoded::Skip(1));
    assert!(!f.is_discarding());
}

#[test]
fn lines_buffer_limit_is_max_length_plus_terminator() {
    assert_eq!(LineFramer::builder(10).new_framer().buffer_limit(), 11);
    let crlf = LineFramer::builder(10).terminator(b"\r\n").new_framer();
    assert_eq!(crlf.buffer_limit(), 12);
    let lenient = *LineFramer::builder(10)
        .terminator(b"\r\n")
        .accept_bare_lf(true);
    assert_eq!(lenient.new_framer().buffer_limit(), 12);
    assert_eq!(
        LineFramer::builder(usize::MAX).new_framer().buffer_limit(),
        usize::MAX
    );
}

#[test]
fn lines_builder_is_copy_and_reusable() {
    let builder: LineBuilder = *LineFramer::builder(10).terminator(b"\r\n");
    let a = builder.new_framer();
    let b = builder.new_framer();
    assert_eq!(a.terminator(), b.terminator());
    assert_eq!(LineBuilder::new(10).new_framer().terminator(), b"\n");
    assert_eq!(LineFramer::default().max_length(), DEFAULT_MAX_LINE_LENGTH);
}

#[test]
fn lines_one_megabyte_line_byte_at_a_time_is_linear() {
    const LINE: usize = 1 << 20;
    for (term, lenient) in [(&b"\n"[..], false), (b"\r\n", false), (b"\r\n", true)] {
        let mut f = LineFramer::builder(2 << 20)
            .terminator(term)
            .accept_bare_lf(lenient)
            .new_framer();
        let mut buf = FrameBuf::new(f.buffer_limit());
        let mut input = vec![b'x'; LINE];
        // A few decoys for the multi-byte search.
        for i in (0..LINE).step_by(4096) {
            input[i] = b'\r';
        }
        input.extend_from_slice(term);
        let mut frames = 0;
        for &byte in &input {
            buf.extend_from_slice(&[byte]).unwrap();
            for frame in buf.frames(&mut f) {
                assert_eq!(frame.unwrap().len(), LINE);
                frames += 1;
            }
        }
        assert_eq!(frames, 1);
        // Each byte is looked at about once, not once per read (which would be ~5e11).
        let scanned = f.scanned_bytes();
        assert!(
            scanned <= 2 * input.len() as u64,
            "{term:?}: scanned {scanned} bytes for a {}-byte input",
            input.len()
        );
    }
}

// ===== LineFramer: encoding =====

#[test]
fn lines_encode_appends_the_terminator() {
    let mut f = LineFramer::builder(10).terminator(b"\r\n").new_framer();
    let mut out = Vec::new();
    f.encode("abc", &mut out).unwrap();
    f.encode(String::new(), &mut out).unwrap();
    f.encode(b"xyz".to_vec(), &mut out).unwrap();
    assert_eq!(out, b"abc\r\n\r\nxyz\r\n");
}

#[test]
fn lines_encode_refuses_the_terminator() {
    let mut f = LineFramer::new();
    let mut out = b"kept".to_vec();
    let err = f.encode("a\nb", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LineError::ContainsTerminator { position: 1, .. }
    ));
    assert_eq!(
        err.to_string(),
        "line contains the terminator \"\\n\" at byte 1"
    );
    assert_eq!(out, b"kept");
}

#[test]
fn lines_encode_refuses_a_line_that_would_end_early() {
    let mut f = LineFramer::builder(100).terminator(b"qqq").new_framer();
    let mut out = Vec::new();
    // "aq" + "qqq" = "aqqqq": the decoder would see "a".
    let err = f.encode("aq", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LineError::ContainsTerminator { position: 1, .. }
    ));
    let err = f.encode("aqq", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LineError::ContainsTerminator { position: 1, .. }
    ));
    // "qa" is fine.
    f.encode("qa", &mut out).unwrap();
    let mut f = LineFramer::builder(100).terminator(b"ab").new_framer();
    // "a" + "ab": "aab" ends at the second "ab" only.
    f.encode("a", &mut out).unwrap();
}

#[test]
fn lines_encode_crlf_refuses_bare_cr_and_lf() {
    let mut f = LineFramer::builder(100).terminator(b"\r\n").new_framer();
    let mut out = Vec::new();
    for (line, position, byte) in [("a\rb", 1, b'\r'), ("ab\n", 2, b'\n'), ("x\r", 1, b'\r')] {
        match f.encode(line, &mut out) {
            Err(LineError::BareCrOrLf {
                position: p,
                byte: b,
            }) => {
                assert_eq!((p, b), (position, byte), "{line:?}")
            }
            other => panic!("{line:?}: {other:?}"),
        }
    }
    let err = f.encode("a\r\nb", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LineError::ContainsTerminator { position: 1, .. }
    ));
    assert_eq!(
        f.encode("\n", &mut out).unwrap_err().to_string(),
        "line contains a bare \"\\n\" at byte 0 (the terminator is \"\\r\\n\")"
    );
    assert!(out.is_empty());
}

#[test]
fn lines_encode_refuses_over_long_lines() {
    let mut f = LineFramer::builder(3).new_framer();
    let mut out = Vec::new();
    f.encode("abc", &mut out).unwrap();
    let err = f.encode("abcd", &mut out).unwrap_err();
    assert_eq!(err.to_string(), "line longer than 3 bytes (the limit)");
    assert_eq!(out, b"abc\n");
}

// ===== LengthFramer: decoding =====

#[test]
fn length_default_is_u32_big_endian_payload_only() {
    let mut f = LengthFramer::new();
    assert_eq!(f.length_field(), LengthField::U32);
    assert_eq!(f.max_frame_length(), DEFAULT_MAX_FRAME_LENGTH);
    assert_eq!(DEFAULT_MAX_FRAME_LENGTH, 8 << 20);
    assert_eq!(
        all_frames(&mut f, b"\0\0\0\x03abc\0\0\0\0\0\0\0\x01x\0\0"),
        ["abc", "", "x"]
    );
    assert_eq!(f.decode(b"\0\0\0").unwrap(), Decoded::NeedMore);
    assert_eq!(f.decode(b"\0\0\0\x02a").unwrap(), Decoded::NeedMore);
}

#[test]
fn length_field_widths_and_endianness() {
    let cases: [(LengthField, bool, &[u8]); 7] = [
        (LengthField::U8, true, b"\x02hi"),
        (LengthField::U16, true, b"\0\x02hi"),
        (LengthField::U16, false, b"\x02\0hi"),
        (LengthField::U32, false, b"\x02\0\0\0hi"),
        (LengthField::U64, true, b"\0\0\0\0\0\0\0\x02hi"),
        (LengthField::U64, false, b"\x02\0\0\0\0\0\0\0hi"),
        (LengthField::Varint, true, b"\x02hi"),
    ];
    for (field, big, wire) in cases {
        let mut b = LengthFramer::builder();
        b.length_field(field);
        if !big {
            b.little_endian();
        }
        let mut f = b.new_framer();
        assert_eq!(
            f.decode(wire).unwrap(),
            Decoded::Frame {
                frame: b"hi",
                consumed: wire.len()
            },
            "{field:?} big={big}"
        );
        let mut out = Vec::new();
        f.encode("hi", &mut out).unwrap();
        assert_eq!(out, wire, "{field:?} big={big}");
    }
}

#[test]
fn length_varint_values() {
    let mut f = LengthFramer::builder()
        .length_field(LengthField::Varint)
        .max_frame_length(usize::MAX)
        .new_framer();
    for (value, wire) in [
        (0u64, &b"\x00"[..]),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
    ] {
        let mut input = wire.to_vec();
        input.resize(wire.len() + value as usize, b'z');
        let got = f.decode(&input).unwrap();
        assert_eq!(
            got.frame().map(<[u8]>::len),
            Some(value as usize),
            "{value}"
        );
        assert_eq!(got.consumed(), input.len());
        // Every prefix needs more.
        for cut in 0..input.len() {
            assert_eq!(f.decode(&input[..cut]).unwrap(), Decoded::NeedMore);
        }
    }
    // u64::MAX takes 10 bytes; it is a valid length (too long for memory, but that is
    // the max_frame_length check's business, or the overflow check's).
    let max = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
    let err = f.decode(max).unwrap_err();
    assert!(
        matches!(err, LengthError::Overflow { header: 10, body } if body as u64 == u64::MAX),
        "{err:?}"
    );
}

#[test]
fn length_varint_too_long_or_overflowing() {
    let mut f = LengthFramer::builder()
        .length_field(LengthField::Varint)
        .new_framer();
    let err = f.decode(&[0x80; 11]).unwrap_err();
    assert!(matches!(err, LengthError::VarintTooLong));
    assert_eq!(
        err.to_string(),
        "varint length field longer than 10 bytes (the limit)"
    );
    // Ten continuation bytes is already too long: no need to wait for the eleventh.
    assert!(matches!(
        f.decode(&[0x80; 10]),
        Err(LengthError::VarintTooLong)
    ));
    assert_eq!(f.decode(&[0x80; 9]).unwrap(), Decoded::NeedMore);
    let err = f
        .decode(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02")
        .unwrap_err();
    assert!(matches!(err, LengthError::VarintOverflow));
    assert_eq!(err.to_string(), "varint length field overflows u64");
}

#[test]
fn length_max_frame_length_is_checked_from_the_header_alone() {
    let mut f = LengthFramer::builder().max_frame_length(10).new_framer();
    let mut wire = b"\0\0\0\x0a".to_vec();
    wire.extend_from_slice(&[b'x'; 10]);
    assert_eq!(f.decode(&wire).unwrap().frame().map(<[u8]>::len), Some(10));
    // Only the header is there: the error comes before any of the body is buffered.
    let err = f.decode(b"\0\0\0\x0b").unwrap_err();
    assert!(matches!(
        err,
        LengthError::FrameTooLong {
            length: 11,
            limit: 10
        }
    ));
    assert_eq!(
        err.to_string(),
        "frame of 11 bytes is longer than 10 bytes (the max_frame_length)"
    );
    // An error is final: the same bytes give the same error.
    assert!(f.decode(b"\0\0\0\x0b").is_err());
    let err: asyncore_runtime::Error = err.into();
    assert!(err.to_string().contains("max_frame_length"));
}

#[test]
fn length_hostile_header_never_grows_the_buffer() {
    let mut f = LengthFramer::builder().max_frame_length(1000).new_framer();
    let mut buf = FrameBuf::new(f.buffer_limit());
    buf.extend_from_slice(b"\x7f\xff\xff\xff").unwrap();
    let mut frames = buf.frames(&mut f);
    assert!(matches!(
        frames.next(),
        Some(Err(LengthError::FrameTooLong { .. }))
    ));
    assert!(frames.next().is_none());
    assert!(buf.capacity() <= 1004);
}

#[test]
fn length_max_frame_length_is_clipped_to_the_field() {
    let clip = |b: &mut LengthBuilder| b.new_framer().max_frame_length();
    assert_eq!(
        clip(LengthFramer::builder().length_field(LengthField::U8)),
        255
    );
    assert_eq!(
        clip(LengthFramer::builder().length_field(LengthField::U16)),
        65_535
    );
    // The length counts the 2-byte field (and 1 byte before it).
    assert_eq!(
        clip(
            LengthFramer::builder()
                .length_field(LengthField::U16)
                .length_field_offset(1)
                .length_includes_header(true)
        ),
        65_532
    );
    // A positive adjustment lets a frame be longer than the field's value.
    assert_eq!(
        clip(
            LengthFramer::builder()
                .length_field(LengthField::U8)
                .length_adjustment(10)
        ),
        265
    );
    // Nothing can be expressed: clipped to 0.
    assert_eq!(
        clip(
            LengthFramer::builder()
                .length_field(LengthField::U8)
                .length_adjustment(-300)
        ),
        0
    );
    // Larger fields keep the 8 MiB default, or take a larger one.
    assert_eq!(clip(&mut LengthFramer::builder()), 8 << 20);
    assert_eq!(
        clip(LengthFramer::builder().max_frame_length(usize::MAX)),
        u32::MAX as usize
    );
    assert_eq!(
        clip(
            LengthFramer::builder()
                .length_field(LengthField::U64)
                .max_frame_length(usize::MAX)
        ),
        usize::MAX
    );
    // The builder keeps what was asked.
    let f = LengthFramer::builder()
        .length_field(LengthField::U8)
        .new_framer();
    assert_eq!(f.config().new_framer().max_frame_length(), 255);
}

#[test]
fn length_field_offset_is_header() {
    // 2 bytes of header, then a 1-byte length: stripped by default.
    let mut f = LengthFramer::builder()
        .length_field_offset(2)
        .length_field(LengthField::U8)
        .new_framer();
    assert_eq!(all_frames(&mut f, b"AB\x02hiCD\x01!"), ["hi", "!"]);
    assert_eq!(f.decode(b"AB").unwrap(), Decoded::NeedMore);
    assert_eq!(f.buffer_limit(), 2 + 1 + 255);
}

#[test]
fn length_adjustment_positive_and_negative() {
    // The length does not count a 1-byte trailer-ish header after it: +1.
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U8)
        .length_adjustment(1)
        .new_framer();
    assert_eq!(all_frames(&mut f, b"\x02Thi"), ["Thi"]);
    // The length counts a 2-byte checksum that is not sent: -2.
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U8)
        .length_adjustment(-2)
        .new_framer();
    assert_eq!(all_frames(&mut f, b"\x04hi"), ["hi"]);
    let err = f.decode(b"\x01").unwrap_err();
    assert!(matches!(
        err,
        LengthError::NegativeLength {
            value: 1,
            length: -1
        }
    ));
    assert_eq!(
        err.to_string(),
        "length field 1 gives a negative frame length (-1) after the length adjustment"
    );
}

#[test]
fn length_includes_header() {
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U16)
        .length_includes_header(true)
        .new_framer();
    assert_eq!(all_frames(&mut f, b"\0\x04hi\0\x02"), ["hi", ""]);
    assert!(matches!(
        f.decode(b"\0\x01"),
        Err(LengthError::NegativeLength { .. })
    ));
    // With an offset, the offset bytes count too.
    let mut f = LengthFramer::builder()
        .length_field_offset(1)
        .length_field(LengthField::U8)
        .length_includes_header(true)
        .new_framer();
    assert_eq!(all_frames(&mut f, b"T\x04hi"), ["hi"]);
    // Varint: the header's size is the varint's own.
    let mut f = LengthFramer::builder()
        .length_field(LengthField::Varint)
        .length_includes_header(true)
        .max_frame_length(1000)
        .new_framer();
    let mut wire = vec![0x82, 0x01]; // 130 = 2 + 128
    wire.extend_from_slice(&[b'x'; 128]);
    assert_eq!(f.decode(&wire).unwrap().frame().map(<[u8]>::len), Some(128));
    let mut out = Vec::new();
    f.encode(&[b'x'; 128][..], &mut out).unwrap();
    assert_eq!(out, wire);
    out.clear();
    f.encode(&[b'x'; 126][..], &mut out).unwrap();
    assert_eq!(&out[..2], [0x7f, b'x']); // 127 = 1 + 126 fits one byte
    out.clear();
    f.encode(&[b'x'; 127][..], &mut out).unwrap();
    assert_eq!(&out[..3], [0x81, 0x01, b'x']); // 128 needs two bytes: 129 = 2 + 127
    assert_eq!(f.decode(&out).unwrap().frame().map(<[u8]>::len), Some(127));
}

#[test]
fn length_num_skip() {
    let mut keep = LengthFramer::builder()
        .length_field(LengthField::U8)
        .num_skip(0)
        .new_framer();
    assert_eq!(all_frames(&mut keep, b"\x02hi"), ["\x02hi"]);
    let mut part = LengthFramer::builder()
        .length_field_offset(1)
        .length_field(LengthField::U8)
        .num_skip(1)
        .new_framer();
    assert_eq!(all_frames(&mut part, b"T\x02hi"), ["\x02hi"]);
    // Past the header, into the body.
    let mut more = LengthFramer::builder()
        .length_field(LengthField::U8)
        .num_skip(3)
        .new_framer();
    assert_eq!(all_frames(&mut more, b"\x03abc"), ["c"]);
    let err = more.decode(b"\x01a").unwrap_err();
    assert!(matches!(
        err,
        LengthError::ShorterThanSkip {
            frame: 2,
            num_skip: 3
        }
    ));
    assert_eq!(
        err.to_string(),
        "frame of 2 bytes is shorter than num_skip (3 bytes)"
    );
}

#[test]
fn length_netty_hdr1_len_hdr2() {
    let mut f = LengthFramer::builder()
        .length_field_offset(1)
        .length_field(LengthField::U16)
        .length_adjustment(1)
        .num_skip(3)
        .new_framer();
    let frames: Vec<&[u8]> = f
        .frames(b"\xca\0\x05\xfehello")
        .map(Result::unwrap)
        .collect();
    assert_eq!(frames, [b"\xfehello"]);
}

#[test]
fn length_overflow_is_an_error() {
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U64)
        .max_frame_length(usize::MAX)
        .new_framer();
    let err = f.decode(&[0xff; 8]).unwrap_err();
    assert!(
        matches!(err, LengthError::Overflow { header: 8, .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("frame length overflows"));
    // A huge adjustment does not overflow the arithmetic either.
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U64)
        .length_adjustment(isize::MAX)
        .max_frame_length(usize::MAX)
        .new_framer();
    assert!(f.decode(&[0xff; 8]).is_err());
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U64)
        .length_adjustment(isize::MIN)
        .new_framer();
    assert!(matches!(
        f.decode(&[0; 8]),
        Err(LengthError::NegativeLength { .. })
    ));
}

#[test]
fn length_decode_eof_with_a_partial_frame_is_an_error() {
    let mut f = LengthFramer::new();
    assert_eq!(f.decode_eof(b"").unwrap(), Decoded::NeedMore);
    let err = f.decode_eof(b"\0\0").unwrap_err();
    assert!(matches!(&err, LengthError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    assert_eq!(err.to_string(), "bytes remaining on stream");
}

// ===== LengthFramer: encoding =====

#[test]
fn length_encode_writes_the_header() {
    let mut f = LengthFramer::new();
    let mut out = Vec::new();
    f.encode("hello", &mut out).unwrap();
    f.encode("", &mut out).unwrap();
    assert_eq!(out, b"\0\0\0\x05hello\0\0\0\0");
}

#[test]
fn length_encode_refuses_over_max() {
    let mut f = LengthFramer::builder().max_frame_length(4).new_framer();
    let mut out = Vec::new();
    f.encode("abcd", &mut out).unwrap();
    let err = f.encode("abcde", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LengthError::FrameTooLong {
            length: 5,
            limit: 4
        }
    ));
    assert_eq!(out, b"\0\0\0\x04abcd");
}

#[test]
fn length_encode_with_offset_adjustment_and_header() {
    let mut f = LengthFramer::builder()
        .length_field_offset(1)
        .length_field(LengthField::U16)
        .length_adjustment(1)
        .new_framer();
    let mut out = Vec::new();
    f.encode(b"\xca\xfehello", &mut out).unwrap();
    assert_eq!(out, b"\xca\0\x05\xfehello");
    let err = f.encode(b"", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LengthError::MissingHeader { needed: 1, len: 0 }
    ));
    assert!(err.to_string().contains("length_field_offset"));
    // A body shorter than the adjustment cannot be expressed.
    let err = f.encode(b"\xca", &mut out).unwrap_err();
    assert!(matches!(
        err,
        LengthError::Unrepresentable {
            length: -1,
            field: LengthField::U16
        }
    ));
    assert_eq!(
        err.to_string(),
        "length -1 does not fit a 2-byte length field"
    );
}

#[test]
fn length_encode_includes_header() {
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U16)
        .little_endian()
        .length_includes_header(true)
        .new_framer();
    let mut out = Vec::new();
    f.encode("hello", &mut out).unwrap();
    assert_eq!(out, b"\x07\0hello");
}

#[test]
fn length_builder_is_copy_with_default() {
    let b: LengthBuilder = *LengthFramer::builder().length_field(LengthField::U8);
    let (x, y) = (b.new_framer(), b.new_framer());
    assert_eq!(x.max_frame_length(), y.max_frame_length());
    assert_eq!(LengthBuilder::default(), LengthBuilder::new());
    assert_eq!(
        LengthFramer::default().buffer_limit(),
        LengthFramer::new().buffer_limit()
    );
    assert_eq!(LengthField::U32.to_string(), "4-byte");
    assert_eq!(LengthField::Varint.to_string(), "varint");
}

// ===== FrameBuf and Frames =====

#[test]
fn framebuf_limit_is_hard() {
    let mut buf = FrameBuf::new(8);
    buf.extend_from_slice(b"12345").unwrap();
    let err: BufferFull = buf.extend_from_slice(b"6789").unwrap_err();
    assert_eq!((err.limit(), err.buffered(), err.wanted()), (8, 5, 4));
    buf.extend_from_slice(b"678").unwrap();
    assert!(buf.is_full());
    assert!(buf.spare_mut().is_empty());
    let err = buf.read_from(&mut &b"x"[..]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().starts_with("frame buffer full"));
    assert_eq!(buf.capacity(), 8);
    buf.consume(3);
    assert_eq!(buf.read_from(&mut &b"xyz"[..]).unwrap(), 3);
    assert_eq!(buf.data(), b"45678xyz");
    assert_eq!(buf.capacity(), 8);
}

#[test]
fn framebuf_compacts_instead_of_growing() {
    let mut buf = FrameBuf::new(1 << 20);
    for _ in 0..1000 {
        buf.extend_from_slice(&[1; 1000]).unwrap();
        buf.consume(999);
    }
    assert_eq!(buf.len(), 1000);
    assert!(buf.capacity() <= 4096, "capacity {}", buf.capacity());
}

#[test]
fn framebuf_spare_offers_a_read_chunk() {
    let mut buf = FrameBuf::new(1 << 20);
    assert!(buf.spare_mut().len() >= READ_CHUNK);
    buf.commit(10);
    assert_eq!(buf.len(), 10);
    let mut small = FrameBuf::new(100);
    assert_eq!(small.spare_mut().len(), 100);
    let mut pre = FrameBuf::with_capacity(64, 32);
    assert_eq!(pre.capacity(), 32);
    assert_eq!(pre.spare_mut().len(), 32);
}

#[test]
fn framebuf_read_with_reports_bad_counts() {
    let mut buf = FrameBuf::new(4);
    let err = buf.read_with(|_| Ok::<_, io::Error>(5)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(buf.is_empty());
    let n = buf
        .read_with(|spare| {
            spare[..2].copy_from_slice(b"ok");
            Ok::<_, io::Error>(2)
        })
        .unwrap();
    assert_eq!((n, buf.data()), (2, &b"ok"[..]));
}

#[test]
#[should_panic(expected = "FrameBuf::consume(3) with only 2 bytes buffered")]
fn framebuf_consume_past_the_end_panics() {
    let mut buf = FrameBuf::new(4);
    buf.extend_from_slice(b"ab").unwrap();
    buf.consume(3);
}

#[test]
fn property_framebuf_matches_a_plain_vec() {
    let mut rng = Rng(5);
    for limit in [1usize, 7, 64, 1000, 40_000] {
        let mut buf = FrameBuf::new(limit);
        let mut model: Vec<u8> = Vec::new();
        let mut next = 0u8;
        for _ in 0..2000 {
            match rng.below(4) {
                0 => {
                    let n = rng.below(limit as u64 / 2 + 2) as usize;
                    let data: Vec<u8> = (0..n).map(|i| next.wrapping_add(i as u8)).collect();
                    next = next.wrapping_add(n as u8);
                    match buf.extend_from_slice(&data) {
                        Ok(()) => model.extend_from_slice(&data),
                        Err(e) => {
                            assert!(model.len() + n > limit);
                            assert_eq!((e.buffered(), e.wanted()), (model.len(), n));
                            next = next.wrapping_sub(n as u8);
                        }
                    }
                }
                1 => {
                    let spare = buf.spare_mut();
                    assert_eq!(spare.is_empty(), model.len() == limit);
                    assert!(spare.len() >= (READ_CHUNK / 2).min(limit - model.len()));
                    assert!(model.len() + spare.len() <= limit);
                    let n = rng.below(spare.len() as u64 + 1) as usize;
                    for b in &mut spare[..n] {
                        *b = next;
                        model.push(next);
                        next = next.wrapping_add(1);
                    }
                    buf.commit(n);
                }
                _ => {
                    let n = rng.below(model.len() as u64 + 1) as usize;
                    buf.consume(n);
                    model.drain(..n);
                }
            }
            assert_eq!(buf.data(), &model[..]);
            assert_eq!(buf.len(), model.len());
            assert!(buf.capacity() <= limit);
        }
    }
}

#[test]
fn frames_consume_as_they_go_and_stop_after_an_error() {
    let mut f = LengthFramer::builder()
        .length_field(LengthField::U8)
        .max_frame_length(3)
        .new_framer();
    let mut buf = FrameBuf::new(64);
    buf.extend_from_slice(b"\x01a\x02bc\x09xyz").unwrap();
    let mut frames = buf.frames(&mut f);
    assert_eq!(frames.next().unwrap().unwrap(), b"a");
    assert_eq!(frames.consumed(), 2);
    assert_eq!(frames.next().unwrap().unwrap(), b"bc");
    assert!(frames.next().unwrap().is_err());
    assert!(frames.next().is_none());
    assert_eq!(buf.data(), b"\x09xyz");
}

#[test]
fn frames_over_a_plain_slice() {
    let mut f = LineFramer::new();
    let mut frames = f.frames(b"a\nb\nc");
    assert_eq!(frames.by_ref().count(), 2);
    assert_eq!(frames.consumed(), 4);
    assert_eq!(frames.remaining(), b"c");
    let tail: Vec<&[u8]> = f.frames(b"c").at_eof().map(Result::unwrap).collect();
    assert_eq!(tail, [b"c"]);
}

/// A decoder that breaks the contract, to check `Frames` does not loop or panic.
struct Broken(Decoded<'static>);

impl Decoder for Broken {
    type Error = io::Error;
    fn decode<'a>(&mut self, _: &'a [u8]) -> io::Result<Decoded<'a>> {
        Ok(self.0)
    }
}

#[test]
fn frames_report_a_decoder_that_breaks_the_contract() {
    for bad in [
        Decoded::Frame {
            frame: b"",
            consumed: 0,
        },
        Decoded::Frame {
            frame: b"",
            consumed: 99,
        },
        Decoded::Skip(0),
        Decoded::Skip(99),
    ] {
        let mut d = Broken(bad);
        let mut buf = FrameBuf::new(64);
        buf.extend_from_slice(b"abc").unwrap();
        let mut frames = buf.frames(&mut d);
        let err = frames.next().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        assert!(frames.next().is_none());
        assert_eq!(buf.data(), b"abc");
    }
}

#[test]
fn decoded_accessors() {
    let d = Decoded::Frame {
        frame: b"x",
        consumed: 2,
    };
    assert_eq!((d.frame(), d.consumed()), (Some(&b"x"[..]), 2));
    assert_eq!(
        (Decoded::Skip(3).frame(), Decoded::Skip(3).consumed()),
        (None, 3)
    );
}

#[test]
fn decoder_and_encoder_work_through_mut_references() {
    fn lines<D: Decoder>(mut d: D, input: &[u8]) -> usize {
        d.frames(input).count()
    }
    fn put<E: Encoder<&'static str>>(mut e: E) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = e.encode("x", &mut out);
        out
    }
    let mut f = LineFramer::new();
    assert_eq!(lines(&mut f, b"a\nb\n"), 2);
    assert_eq!(put(&mut f), b"x\n");
}

// ===== Properties =====

/// Deterministic line inputs: edge cases around terminators and limits.
fn line_corpus() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        &b""[..],
        b"\n",
        b"\r\n",
        b"\n\n\n",
        b"abc",
        b"abc\n",
        b"abc\r\ndef\r\n",
        b"a\nb\r\nc\rd\n\r\r\n",
        b"qqq",
        b"aqqqqbqqqqqqqq",
        b"\0\0x\0yy\0",
        b"0123456789abcdef\nshort\n0123456789\r\n",
        b"exactly8\nexactly8\r\nnine-byte\nx\n",
        b"loooooooooooooooooooooong\nok\r\nagain-too-long-line\r\n\n",
        b"\r\r\r\n\n\r",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..150 {
        let len = rng.below(120) as usize;
        // Mostly letters, with terminator bytes often enough to make many lines.
        v.push(
            (0..len)
                .map(|_| match rng.below(10) {
                    0 => b'\n',
                    1 => b'\r',
                    2 => b'q',
                    3 => 0,
                    _ => b'a' + rng.below(3) as u8,
                })
                .collect(),
        );
    }
    v
}

fn line_configs() -> Vec<LineBuilder> {
    let mut v = Vec::new();
    for term in [&b"\n"[..], b"\r\n", b"\0", b"qqq", b"\r\n\r\n"] {
        for max in [0, 1, 3, 8, 64] {
            for lenient in [false, true] {
                if lenient && term != b"\r\n" {
                    continue;
                }
                v.push(
                    *LineFramer::builder(max)
                        .terminator(term)
                        .accept_bare_lf(lenient),
                );
            }
        }
    }
    v
}

#[test]
fn property_lines_any_split_gives_the_same_frames() {
    let corpus = line_corpus();
    for config in line_configs() {
        for input in &corpus {
            check_splits(|| config.new_framer(), input, true);
        }
    }
}

#[test]
fn property_lines_round_trip() {
    let mut rng = Rng(42);
    for config in line_configs() {
        let mut enc = config.new_framer();
        let mut wire = Vec::new();
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for _ in 0..300 {
            let len = rng.below(12) as usize;
            let line: Vec<u8> = (0..len)
                .map(|_| match rng.below(8) {
                    0 => b'\n',
                    1 => b'\r',
                    2 => b'q',
                    3 => 0,
                    _ => b'x',
                })
                .collect();
            let before = wire.len();
            match enc.encode(&line, &mut wire) {
                Ok(()) => sent.push(line),
                Err(e) => {
                    assert_eq!(wire.len(), before, "nothing appended on error");
                    // A refused line really would not survive the trip (or is too long,
                    // or has a bare CR/LF under a CRLF terminator).
                    let mut alone = line.clone();
                    alone.extend_from_slice(enc.terminator());
                    let mut dec = config.new_framer();
                    let back: Vec<_> = dec.frames(&alone).collect();
                    let survives = back.len() == 1
                        && matches!(&back[0], Ok(f) if *f == &line[..])
                        && !(enc.terminator() == b"\r\n"
                            && line.iter().any(|&b| b == b'\r' || b == b'\n'));
                    assert!(!survives, "{e} for {line:?}");
                }
            }
        }
        let got = events_whole(config.new_framer(), &wire, true);
        let want: Vec<Event> = sent.iter().map(|l| Event::Frame(l.clone())).collect();
        assert_eq!(got, want, "{config:?}");
        // And the same wire, fed a byte at a time through a buffer of the minimum size.
        let mut dec = config.new_framer();
        let mut buf = FrameBuf::new(dec.buffer_limit());
        let mut got = Vec::new();
        for &b in &wire {
            buf.extend_from_slice(&[b]).unwrap();
            drain(&mut dec, &mut buf, &mut got, true);
        }
        assert_eq!(got, want, "{config:?} byte at a time");
    }
}

#[test]
fn property_lines_minimum_buffer_suffices_for_garbage() {
    // Over-long lines and all: a FrameBuf of buffer_limit() never fills up when fed a
    // byte at a time.
    for config in line_configs() {
        for input in line_corpus() {
            let mut dec = config.new_framer();
            let mut buf = FrameBuf::new(dec.buffer_limit());
            let mut events = Vec::new();
            for &b in &input {
                buf.extend_from_slice(&[b])
                    .unwrap_or_else(|e| panic!("{config:?} {input:?}: {e}"));
                drain(&mut dec, &mut buf, &mut events, true);
            }
        }
    }
}

/// Configurations, each with its `length_field_offset` and `num_skip`.
fn length_configs() -> Vec<(LengthBuilder, usize, Option<usize>)> {
    let mut v = Vec::new();
    for field in [
        LengthField::U8,
        LengthField::U16,
        LengthField::U32,
        LengthField::U64,
        LengthField::Varint,
    ] {
        for big in [true, false] {
            if field == LengthField::Varint && !big {
                continue;
            }
            for (offset, adjustment, includes, skip) in [
                (0, 0, false, None),
                (0, 0, true, None),
                (0, 0, false, Some(0)),
                (2, 0, false, None),
                (2, 0, true, Some(1)),
                (1, 1, false, Some(0)),
                (0, -2, false, None),
                (1, 3, true, None),
                (0, 0, false, Some(3)),
            ] {
                let mut b = LengthFramer::builder();
                b.length_field(field)
                    .length_field_offset(offset)
                    .length_adjustment(adjustment)
                    .length_includes_header(includes)
                    .max_frame_length(200);
                if !big {
                    b.little_endian();
                }
                if let Some(s) = skip {
                    b.num_skip(s);
                }
                v.push((b, offset, skip));
            }
        }
    }
    v
}

#[test]
fn property_length_round_trip_and_splits() {
    let mut rng = Rng(7);
    for (config, offset, num_skip) in length_configs() {
        let mut enc = config.new_framer();
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for _ in 0..40 {
            let len = rng.below(260) as usize;
            let item: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let before = wire.len();
            match enc.encode(&item, &mut wire) {
                Ok(()) => {
                    let seg = &wire[before..];
                    let body = item.len() - offset;
                    let header = seg.len() - body;
                    let skip = num_skip.unwrap_or(header);
                    if skip > seg.len() {
                        // Encodable but not decodable: the decoder reports it.
                        want.push(Event::Error(
                            LengthError::ShorterThanSkip {
                                frame: seg.len(),
                                num_skip: skip,
                            }
                            .to_string(),
                        ));
                        break;
                    }
                    want.push(Event::Frame(seg[skip..].to_vec()));
                }
                Err(e) => {
                    assert_eq!(wire.len(), before, "nothing appended on error");
                    assert!(
                        matches!(
                            e,
                            LengthError::FrameTooLong { .. }
                                | LengthError::MissingHeader { .. }
                                | LengthError::Unrepresentable { .. }
                        ),
                        "{e}"
                    );
                }
            }
        }
        let got = events_whole(config.new_framer(), &wire, false);
        assert_eq!(got, want, "{config:?}");
        check_splits(|| config.new_framer(), &wire, false);
        // Corrupt some bytes: the results must still not depend on the splits.
        for _ in 0..3 {
            let mut bad = wire.clone();
            if bad.is_empty() {
                break;
            }
            for _ in 0..3 {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] = rng.below(256) as u8;
            }
            bad.truncate(bad.len().min(400));
            check_splits(|| config.new_framer(), &bad, false);
        }
    }
}

#[test]
fn property_length_random_garbage_never_panics_and_splits_agree() {
    let mut rng = Rng(99);
    let configs = length_configs();
    for i in 0..300 {
        let (config, _, _) = configs[i % configs.len()];
        let len = rng.below(64) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => 0x80 | rng.below(4) as u8,
                _ => rng.below(8) as u8,
            })
            .collect();
        check_splits(|| config.new_framer(), &input, false);
    }
}

#[test]
fn property_length_minimum_buffer_suffices() {
    let mut rng = Rng(3);
    for (config, _, _) in length_configs() {
        let mut enc = config.new_framer();
        let mut wire = Vec::new();
        for len in [0usize, 1, 100, 199, 200, 201] {
            let _ = enc.encode(vec![rng.below(256) as u8; len], &mut wire);
        }
        let mut dec = config.new_framer();
        let mut buf = FrameBuf::new(dec.buffer_limit());
        let mut events = Vec::new();
        for &b in &wire {
            buf.extend_from_slice(&[b]).unwrap();
            if drain(&mut dec, &mut buf, &mut events, false) {
                break;
            }
        }
    }
}

// ===== Test utils =====

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Frame(Vec<u8>),
    Error(String),
}

impl Event {
    fn frame(bytes: &[u8]) -> Event {
        Event::Frame(bytes.to_vec())
    }
}

/// Decodes every frame in `buf` (consuming them). After an error, goes on if
/// `recovers` (the decoder resynchronises) and returns `true` otherwise.
fn drain<D>(dec: &mut D, buf: &mut FrameBuf, events: &mut Vec<Event>, recovers: bool) -> bool
where
    D: Decoder,
    D::Error: std::fmt::Display,
{
    loop {
        let mut failed = false;
        for frame in buf.frames(dec) {
            match frame {
                Ok(f) => events.push(Event::Frame(f.to_vec())),
                Err(e) => {
                    events.push(Event::Error(e.to_string()));
                    failed = true;
                }
            }
        }
        if !failed {
            return false;
        }
        if !recovers {
            return true;
        }
    }
}

/// Feeds `pieces` one after the other, decoding after each, then decodes at EOF (for
/// decoders that recover; the others stop at their first error).
fn events_pieces<'p, D>(
    mut dec: D,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    recovers: bool,
) -> Vec<Event>
where
    D: Decoder,
    D::Error: std::fmt::Display,
{
    let mut buf = FrameBuf::new(1 << 20);
    let mut events = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece).unwrap();
        if drain(&mut dec, &mut buf, &mut events, recovers) {
            return events;
        }
    }
    if recovers {
        loop {
            let mut failed = false;
            for frame in buf.frames(&mut dec).at_eof() {
                match frame {
                    Ok(f) => events.push(Event::Frame(f.to_vec())),
                    Err(e) => {
                        events.push(Event::Error(e.to_string()));
                        failed = true;
                    }
                }
            }
            if !failed {
                break;
            }
        }
    }
    events
}

fn events_whole<D>(dec: D, input: &[u8], recovers: bool) -> Vec<Event>
where
    D: Decoder,
    D::Error: std::fmt::Display,
{
    events_pieces(dec, [input], recovers)
}

/// Also decodes by hand on a plain `Vec`, draining the consumed prefix: the raw
/// contract, without `FrameBuf`/`Frames`.
fn events_raw<D>(mut dec: D, input: &[u8], recovers: bool) -> Vec<Event>
where
    D: Decoder,
    D::Error: std::fmt::Display,
{
    let mut events = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    for &b in input {
        buf.push(b);
        loop {
            match dec.decode(&buf) {
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Frame { frame, consumed }) => {
                    events.push(Event::Frame(frame.to_vec()));
                    buf.drain(..consumed);
                }
                Ok(Decoded::Skip(n)) => {
                    buf.drain(..n);
                }
                Err(e) => {
                    events.push(Event::Error(e.to_string()));
                    if !recovers {
                        return events;
                    }
                }
            }
        }
    }
    if recovers {
        loop {
            match dec.decode_eof(&buf) {
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Frame { frame, consumed }) => {
                    events.push(Event::Frame(frame.to_vec()));
                    buf.drain(..consumed);
                }
                Ok(Decoded::Skip(n)) => {
                    buf.drain(..n);
                }
                Err(e) => events.push(Event::Error(e.to_string())),
            }
        }
    }
    events
}

/// The property: whole, split in two at every position, a byte at a time (through
/// `FrameBuf` and by hand), the events are the same.
#[track_caller]
fn check_splits<D>(make: impl Fn() -> D, input: &[u8], recovers: bool)
where
    D: Decoder,
    D::Error: std::fmt::Display,
{
    let whole = events_whole(make(), input, recovers);
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        let split = events_pieces(make(), [a, b], recovers);
        assert_eq!(split, whole, "split at {cut} of {input:?}");
    }
    let bytes = events_pieces(make(), input.chunks(1), recovers);
    assert_eq!(bytes, whole, "byte at a time: {input:?}");
    let raw = events_raw(make(), input, recovers);
    assert_eq!(raw, whole, "raw contract, byte at a time: {input:?}");
}

fn all_frames(dec: &mut impl Decoder, input: &[u8]) -> Vec<String> {
    dec.frames(input)
        .map(|f| String::from_utf8_lossy(f.ok().expect("a frame")).into_owned())
        .collect()
}

fn all_frames_eof(dec: &mut impl Decoder, input: &[u8]) -> Vec<String> {
    dec.frames(input)
        .at_eof()
        .map(|f| String::from_utf8_lossy(f.ok().expect("a frame")).into_owned())
        .collect()
}

/// xorshift64*: deterministic pseudo-random inputs without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

//! The framing declarations: their arithmetic checked, lowered to the [`crate::ir`] form.

use super::*;

impl Cx {
    /// The protocol's framing.
    pub(super) fn framing(&mut self, d: &Description) -> ir::Framing {
        let Some((f, span)) = &d.framing else {
            self.error(
                Diagnostic::new(
                    format!("protocol `{}` has no framing", d.name.name),
                    d.name.span,
                )
                .help("add `framing line \"\\r\\n\" max 4KiB` or `framing length u32be max 1MiB`: every protocol states how its input is cut, with a limit"),
            );
            return ir::Framing::Line {
                term: b"\n".to_vec(),
                max: 4096,
                bare_lf: false,
                crlf: false,
                padding: false,
            };
        };
        if let FramingDecl::Fixed { .. } = f {
            self.error(
                Diagnostic::new("a protocol's framing is `line` or `length`", *span)
                    .help("name a fixed framing (`framing answer = fixed 1`) for the messages that use it"),
            );
        }
        self.framing_decl(f, *span)
    }

    /// The named framings (`framing startup = length u32be ...`): length-prefixed or
    /// fixed-size, each name once.
    pub(super) fn named_framings(&mut self, d: &Description) -> Vec<ir::NamedFraming> {
        let mut out: Vec<ir::NamedFraming> = Vec::new();
        for n in &d.framings {
            if out.iter().any(|o| o.name == n.name.name) {
                self.error(Diagnostic::new(
                    format!("framing `{}` is declared twice", n.name.name),
                    n.name.span,
                ));
            }
            if matches!(n.decl, FramingDecl::Line { .. }) {
                self.error(
                    Diagnostic::new(
                        "a named framing is `length ...` or `fixed N`",
                        n.span,
                    )
                    .help("lines are the protocol's framing; name the framing of binary units (PostgreSQL's startup packets, a one-byte answer)"),
                );
            }
            out.push(ir::NamedFraming {
                name: n.name.name.clone(),
                docs: n.docs.clone(),
                framing: self.framing_decl(&n.decl, n.span),
            });
        }
        out
    }

    fn framing_decl(&mut self, f: &FramingDecl, span: Span) -> ir::Framing {
        let span = &span;
        match f {
            FramingDecl::Line {
                term,
                max,
                bare_lf,
                crlf,
                padding,
            } => {
                if *crlf && term != b"\n" {
                    self.error(Diagnostic::new(
                        "`crlf accept` applies only to the terminator \"\\n\"",
                        *span,
                    ));
                }
                if term.is_empty() || term.len() > 16 {
                    self.error(Diagnostic::new(
                        "a line terminator has 1 to 16 bytes",
                        *span,
                    ));
                }
                if *bare_lf && term != b"\r\n" {
                    self.error(Diagnostic::new(
                        "`bare_lf` applies only to the terminator \"\\r\\n\"",
                        *span,
                    ));
                }
                if max.0 == 0 || max.0 > MESSAGE_LIMIT {
                    self.error(Diagnostic::new(
                        format!("line limit {} is out of range 1..=4GiB", max.0),
                        max.1,
                    ));
                }
                ir::Framing::Line {
                    term: term.clone(),
                    max: max.0,
                    bare_lf: *bare_lf,
                    crlf: *crlf,
                    padding: *padding,
                }
            }
            FramingDecl::Length {
                width,
                big_endian,
                ty,
                max,
                offset,
                adjust,
                includes_header,
                includes_length,
                skip,
            } => {
                let header = offset + if *width == 0 { 10 } else { u64::from(*width) };
                if let Some((_, sspan)) = skip {
                    self.error(
                        Diagnostic::new("`skip` is not part of the language any more", *sspan)
                            .help("the bytes before the length field (`offset N`) are each message's first parts, and the encoder writes the length field itself; remove `skip`"),
                    );
                }
                if *includes_length && *width == 0 {
                    self.error(
                        Diagnostic::new("`includes_length` needs a length field of fixed width", *span)
                            .help("a varint's own size varies; use `adjust` with a fixed-width field, or drop `includes_length`"),
                    );
                }
                if *includes_length && *includes_header {
                    self.error(Diagnostic::new(
                        "`includes_header` already counts the length field: write one of the two",
                        *span,
                    ));
                }
                if *offset > 64 {
                    self.error(Diagnostic::new(
                        "a length field offset is at most 64",
                        *span,
                    ));
                }
                // The body length is value + adjust (+ the header folded in).
                let adjust = if *includes_header {
                    adjust - header as i64
                } else if *includes_length {
                    adjust - i64::from(*width)
                } else {
                    *adjust
                };
                let field_max: u64 = match width {
                    0 => u64::MAX >> 1,
                    8 => u64::MAX >> 1,
                    w => (1u64 << (8 * u32::from(*w))) - 1,
                };
                let expressible = (field_max as i128) + adjust as i128;
                if expressible < max.0 as i128 {
                    self.error(
                        Diagnostic::new(
                            format!(
                                "the length field `{}` is too narrow for the maximum {}: it can announce at most {} bytes",
                                ty.name,
                                max.0,
                                expressible.max(0)
                            ),
                            max.1,
                        )
                        .help("use a wider length field or a smaller maximum"),
                    );
                }
                if max.0 == 0 || max.0 > MESSAGE_LIMIT {
                    self.error(Diagnostic::new(
                        format!("frame limit {} is out of range 1..=4GiB", max.0),
                        max.1,
                    ));
                }
                // The messages write the bytes before the length field themselves, so they
                // see the frame from its first byte; without such bytes, from the body.
                let skip_v = if *offset > 0 { 0 } else { header };
                ir::Framing::Length {
                    offset: *offset as u8,
                    width: *width,
                    big_endian: *big_endian,
                    adjust,
                    skip: skip_v.min(255) as u8,
                    max: max.0,
                }
            }
            FramingDecl::Fixed { size } => {
                if size.0 == 0 || size.0 > 64 {
                    self.error(Diagnostic::new(
                        format!("a fixed unit of {} bytes: the size is 1 to 64", size.0),
                        size.1,
                    ));
                }
                ir::Framing::Fixed { size: size.0 }
            }
        }
    }
}

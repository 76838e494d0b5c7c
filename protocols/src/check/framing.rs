//! The framing declarations: their arithmetic checked, lowered to the [`crate::ir`] form.

use super::*;

impl Cx {
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
            };
        };
        match f {
            FramingDecl::Line {
                term,
                max,
                bare_lf,
                crlf,
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
                skip,
            } => {
                let header = offset + if *width == 0 { 10 } else { u64::from(*width) };
                if *offset > 64 {
                    self.error(Diagnostic::new(
                        "a length field offset is at most 64",
                        *span,
                    ));
                }
                // The body length is value + adjust (+ the header folded in).
                let adjust = if *includes_header {
                    adjust - header as i64
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
                let skip_v = match skip {
                    Some((s, sspan)) => {
                        if *s > header {
                            self.error(Diagnostic::new(
                                format!("cannot skip {s} bytes of a {header}-byte header"),
                                *sspan,
                            ));
                        }
                        *s
                    }
                    None => header,
                };
                ir::Framing::Length {
                    offset: *offset as u8,
                    width: *width,
                    big_endian: *big_endian,
                    adjust,
                    skip: skip_v.min(255) as u8,
                    max: max.0,
                }
            }
        }
    }
}

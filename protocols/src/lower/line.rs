//! Lowering of lines: a unit's parts with their separators, raw units after `then`,
//! and the check that an optional part cannot swallow the next required one.

use super::*;

impl Cx {
    /// Whether a unit after `then` is raw (counted bytes, lines, repetitions of units,
    /// literals in the stream) rather than a line.
    pub(super) fn is_raw(unit: &Unit) -> bool {
        unit.parts.iter().all(|p| match &p.kind {
            PartKind::Lit(_) => true,
            PartKind::Field(f) => {
                matches!(
                    f.ty,
                    Type::Bytes(_) | Type::Lines { .. } | Type::Repeat { .. } | Type::Until { .. }
                ) && !f.optional
            }
            _ => false,
        })
    }

    pub(super) fn unit(&mut self, l: &mut Lower<'_>, unit: &Unit, first: bool) {
        match l.framing.clone() {
            ir::Framing::Length { .. } | ir::Framing::Fixed { .. } => self.frame_unit(l, unit),
            ir::Framing::Line { max, padding, .. } => {
                let term_len = l.framing.term_len();
                let lead_is_lit = matches!(
                    unit.parts.first(),
                    Some(Part {
                        kind: PartKind::Lit(_),
                        ..
                    })
                );
                if Self::is_raw(unit) && (!first || !lead_is_lit) {
                    for p in &unit.parts {
                        let place = Place {
                            line: None,
                            lead: false,
                            refused: None,
                        };
                        let pending = self.else_before(l, p, place);
                        self.raw_part(l, p);
                        self.else_after(l, pending, false);
                    }
                    return;
                }
                self.optional_swallows(unit, l.framing);
                let line_at = l.ops.len();
                l.ops.push(Op::Line);
                if padding {
                    l.ops.push(Op::Trim);
                }
                l.max = l.max.saturating_add(max + term_len);
                let mut need_sep = false;
                let mut glue = false;
                let n = unit.parts.len();
                for (i, p) in unit.parts.iter().enumerate() {
                    let place = Place {
                        line: (!need_sep).then_some(line_at),
                        lead: first && !need_sep,
                        refused: match &p.kind {
                            PartKind::Field(f) if f.optional || matches!(f.ty, Type::Flag(_)) => {
                                Some("on an optional part")
                            }
                            PartKind::Field(f) if matches!(&f.ty, Type::Many { item, .. } if !is_quoted_words(item)) => {
                                Some("on a repetition to the end of the line, whose items end where one does not match")
                            }
                            _ => None,
                        },
                    };
                    match &p.kind {
                        PartKind::Glue => {
                            self.else_before(l, p, place);
                            if !need_sep || i + 1 == n {
                                self.error(Diagnostic::new(
                                    "`~` joins two parts; it needs one on each side",
                                    p.span,
                                ));
                            }
                            glue = true;
                        }
                        PartKind::Ows => {
                            self.else_before(l, p, place);
                            l.ops.push(Op::Ows);
                            glue = true;
                        }
                        _ => {
                            let sep = need_sep && !glue;
                            if let PartKind::Field(f) = &p.kind {
                                if matches!(f.ty, Type::Many { .. }) && i + 1 != n {
                                    self.error(
                                        Diagnostic::new(
                                            format!("the repetition `{}` runs to the end of the line, so it must be the last part", f.name.name),
                                            p.span,
                                        )
                                        .help("move it to the end of the line, or put what follows after `then`"),
                                    );
                                }
                            }
                            let pending = self.else_before(l, p, place);
                            self.part(l, p, sep, true);
                            self.else_after(l, pending, i + 1 == n);
                            need_sep = true;
                            glue = false;
                        }
                    }
                }
                l.ops.push(Op::EndLine);
            }
        }
    }

    /// An optional part is tried once and kept if it matches: the decoder does not go back
    /// to try without it. So an optional part that can match what the next required part
    /// of its line starts with (`reply:word? bytes:u32`: a word is also a number) would
    /// swallow it, and the short form would never decode. That is an error.
    pub(super) fn optional_swallows(&mut self, unit: &Unit, framing: &ir::Framing) {
        let ir::Framing::Line { term, .. } = framing else {
            return;
        };
        let fields: Vec<(usize, &ast::Field, &Part)> = unit
            .parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.kind {
                PartKind::Field(f) => Some((i, &**f, p)),
                _ => None,
            })
            .collect();
        for (i, f, p) in &fields {
            let optional = f.optional || matches!(f.ty, Type::Flag(_));
            if !optional {
                continue;
            }
            let next_required = unit.parts[i + 1..].iter().find_map(|q| match &q.kind {
                PartKind::Field(g) if !g.optional && !matches!(g.ty, Type::Flag(_)) => {
                    Some((first_bytes(&g.ty, term), g.name.name.clone()))
                }
                PartKind::Lit(b) => {
                    Some((lit_first(b), format!("{:?}", String::from_utf8_lossy(b))))
                }
                _ => None,
            });
            let Some((needed, what)) = next_required else {
                continue;
            };
            let mine = first_bytes(&f.ty, term);
            if mine.iter().zip(needed.iter()).any(|(a, b)| *a && *b) {
                self.error(
                    Diagnostic::new(
                        format!(
                            "the optional `{}` can take what `{what}` needs, so a line without it would not decode",
                            f.name.name
                        ),
                        p.span,
                    )
                    .help(format!(
                        "an optional part is kept once it matches; start it with a literal that `{what}` cannot start with, or declare two messages, one with `{}` and one without",
                        f.name.name
                    )),
                );
            }
        }
    }
}

/// The bytes a part of this type can start with, as a table.
fn first_bytes(ty: &Type, term: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    for b in 0..=255u8 {
        let space = b == b' ' || b == b'\t' || term.contains(&b);
        set[usize::from(b)] = match ty {
            Type::Word | Type::Rest | Type::Lines { .. } => !space,
            Type::Token => b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b),
            Type::Int { hex: true, .. } => b.is_ascii_hexdigit(),
            Type::Int { signed, .. } => b.is_ascii_digit() || (*signed && b == b'-'),
            Type::Flag(l) => l.first() == Some(&b),
            Type::OneOf(lits) => lits.iter().any(|l| l.first() == Some(&b)),
            Type::Many { item, .. } => item
                .first()
                .and_then(|u| {
                    u.parts.iter().find_map(|p| match &p.kind {
                        PartKind::Field(f) => Some(first_bytes(&f.ty, term)[usize::from(b)]),
                        PartKind::Lit(l) => Some(l.first() == Some(&b)),
                        _ => None,
                    })
                })
                .unwrap_or(false),
            _ => !space,
        };
    }
    set
}

/// The first byte of a literal, as a table (both cases: keywords may be `nocase`).
fn lit_first(lit: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    if let Some(&b) = lit.first() {
        set[usize::from(b.to_ascii_lowercase())] = true;
        set[usize::from(b.to_ascii_uppercase())] = true;
    }
    set
}

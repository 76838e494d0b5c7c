//! Lowering of repetitions (their items) and of the raw parts after `then`: counted
//! bytes, lines up to a marker, counted and marked repetitions.

use super::*;

impl Cx {
    /// Lowers the item of a repetition; returns the item type's index.
    pub(super) fn item_body(
        &mut self,
        l: &mut Lower<'_>,
        name: &str,
        units: &[Unit],
        mode: ItemMode,
    ) -> usize {
        let saved_known: Vec<String> = l.known.keys().cloned().collect();
        l.item = Some((0, Vec::new()));
        let refused = match mode {
            ItemMode::Frame => Some("in a binary frame"),
            ItemMode::Line { .. } => Some(
                "inside a repetition to the end of the line, whose items end where one does not match",
            ),
            ItemMode::Units => None,
        };
        if let Some(why) = refused {
            for p in units.iter().flat_map(|u| u.parts.iter()) {
                let place = Place {
                    line: None,
                    lead: false,
                    refused: Some(why),
                };
                self.else_before(l, p, place);
            }
        }
        if mode == ItemMode::Frame {
            for p in units.iter().flat_map(|u| u.parts.iter()) {
                self.frame_part(l, p);
            }
            if l.bitpos != 0 {
                self.error(Diagnostic::new(
                    format!("the bit fields of an item of `{name}` do not fill their byte"),
                    units.first().map_or_else(Default::default, |u| u.span),
                ));
                l.bitpos = 0;
            }
        } else if let ItemMode::Line { sep } = mode {
            // One line-local item: [Sep] parts.
            let mut first = true;
            let mut glue = false;
            for p in units.iter().flat_map(|u| u.parts.iter()) {
                match p.kind {
                    PartKind::Glue => glue = true,
                    PartKind::Ows => {
                        l.ops.push(Op::Ows);
                        glue = true;
                    }
                    _ => {
                        if first && !sep {
                            // A repetition that starts its line: items are separated by
                            // spaces, which the first one may do without.
                            l.ops.push(Op::Ows);
                        }
                        let s = if first { sep } else { !glue };
                        self.part(l, p, s, true);
                        first = false;
                        glue = false;
                    }
                }
            }
        } else {
            for (i, u) in units.iter().enumerate() {
                if i == 0 && Self::is_raw(u) {
                    for p in &u.parts {
                        self.raw_part(l, p);
                    }
                } else {
                    self.unit(l, u, false);
                }
            }
        }
        let (stride, fields) = l.item.take().unwrap_or_default();
        l.known.retain(|k, _| saved_known.contains(k));
        let visible: Vec<&FieldInfo> = fields.iter().filter(|f| f.derived_from.is_none()).collect();
        // An item that is a single byte field and nothing else (`keys:word+`) is just
        // `&[u8]`; otherwise (several fields, or a length it carries) a struct.
        let struct_name = if stride == 1
            && visible.len() == 1
            && visible[0].kind == FieldKind::Bytes
            && visible[0].presence.is_none()
        {
            None
        } else {
            Some(format!("{}{}", l.message, camel(name)))
        };
        l.items.push(ItemType {
            struct_name,
            fields,
            stride,
        });
        l.items.len() - 1
    }

    /// Lowers a part of a raw unit (after `then`).
    pub(super) fn raw_part(&mut self, l: &mut Lower<'_>, p: &Part) {
        let f = match &p.kind {
            PartKind::Lit(b) => {
                l.ops.push(Op::Lit(b.clone()));
                l.max = l.max.saturating_add(b.len() as u64);
                return;
            }
            PartKind::Field(f) => f,
            _ => return,
        };
        let need_max = |cx: &mut Cx, what: &str| -> u64 {
            match f.max {
                Some((m, _)) => m,
                None => {
                    cx.error(
                        Diagnostic::new(format!("the field `{}` is unbounded", f.name.name), f.name.span)
                            .help(format!("{what} needs a limit: write `max` and a size after its type, like `{}:{} max 1MiB`", f.name.name, type_text(&f.ty))),
                    );
                    0
                }
            }
        };
        let slot = match &f.ty {
            Type::Bytes(len) => match l.known.get(&len.name) {
                Some(k) if k.int_max.is_some() => Self::bytes_slot(l, k.slot, !k.in_item),
                _ => Self::slot(l),
            },
            _ => Self::slot(l),
        };
        let kind;
        match &f.ty {
            Type::Bytes(len) => {
                let max = need_max(self, "a run of bytes after `then`");
                kind = FieldKind::Bytes;
                if let Some(length) = self.reference(l, len, "length") {
                    self.counted_bytes(l, f, len, length, slot, max, true);
                }
                l.max = l.max.saturating_add(max);
            }
            Type::Lines { marker, unstuff } => {
                let max = need_max(self, "a run of lines");
                l.ops.push(Op::LinesUntil {
                    slot,
                    marker: marker.clone(),
                    max: max.min(MESSAGE_LIMIT) as u32,
                });
                kind = FieldKind::Lines {
                    unstuff: unstuff.clone(),
                };
                l.max = l.max.saturating_add(max);
            }
            Type::Repeat { .. } | Type::Until { .. } if l.item.is_some() => {
                self.error(Diagnostic::new("repetitions do not nest", p.span));
                return;
            }
            Type::Repeat { count, item } => {
                let max = need_max(self, "a repetition");
                let reference = self.reference(l, count, "count");
                let at = l.ops.len();
                l.ops.push(Op::Lit(Vec::new()));
                let before = l.max;
                l.max = 0;
                let idx = self.item_body(l, &f.name.name, item, ItemMode::Units);
                let item_max = l.max;
                l.max = before.saturating_add(item_max.saturating_mul(max));
                let len = (l.ops.len() - at - 1) as u16;
                let stride = l.items[idx].stride;
                if let Some((count_slot, count_max, in_message)) = reference {
                    if count_max < max {
                        self.error(Diagnostic::new(
                            format!("the count field `{}` is too narrow for the maximum {max}: it holds at most {count_max}", count.name),
                            f.max.map_or(f.ty_span, |m| m.1),
                        ));
                    }
                    Self::mark_derived(l, count_slot, in_message, slot);
                    l.ops[at] = Op::Repeat {
                        slot,
                        count: count_slot,
                        len,
                        stride,
                        max: max.min(MESSAGE_LIMIT) as u32,
                        signed: l.known.get(&count.name).is_some_and(|k| k.signed),
                    };
                }
                kind = FieldKind::Seq(idx);
            }
            Type::Until { item, marker } => {
                let max = need_max(self, "a repetition");
                let at = l.ops.len();
                l.ops.push(Op::Lit(Vec::new()));
                let before = l.max;
                l.max = 0;
                let idx = self.item_body(l, &f.name.name, item, ItemMode::Units);
                let item_max = l.max;
                l.max = before
                    .saturating_add(item_max.saturating_mul(max))
                    .saturating_add(marker.len() as u64 + 2);
                let len = (l.ops.len() - at - 1) as u16;
                let stride = l.items[idx].stride;
                l.ops[at] = Op::ManyUntil {
                    slot,
                    marker: marker.clone(),
                    len,
                    stride,
                    max: max.min(MESSAGE_LIMIT) as u32,
                };
                kind = FieldKind::Seq(idx);
            }
            _ => return,
        }
        let info = FieldInfo {
            name: f.name.name.clone(),
            docs: f.docs.clone(),
            slot,
            kind,
            presence: None,
            derived_from: None,
            max: 0,
        };
        self.add_field(l, f, info, None);
    }
}

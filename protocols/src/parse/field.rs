//! Parsing fields: a field's type, its options (`?`, `max`, `nullable`, `if`), and the
//! conditions and repetitions written in types.

use super::*;

impl Parser {
    pub(super) fn field(&mut self, name: Ident, docs: Vec<String>) -> R<Field> {
        let ty_start = self.span();
        let ty = self.ty()?;
        let ty_span = ty_start.to(self.prev_span());
        let optional = self.eat_punct("?");
        let max = if self.eat_kw("max") {
            Some(self.number("a limit, like 512MiB or 1024")?)
        } else {
            None
        };
        let nullable = if self.eat_kw("nullable") {
            Some(self.prev_span())
        } else {
            None
        };
        let cond = if self.is_kw("if") {
            Some(self.cond()?)
        } else {
            None
        };
        let ty = match ty {
            Type::OneOf(mut lits) if optional && lits.len() == 1 => Type::Flag(lits.remove(0)),
            ty => ty,
        };
        let optional = optional && !matches!(ty, Type::Flag(_));
        Ok(Field {
            docs,
            name,
            ty,
            ty_span,
            optional,
            max,
            nullable,
            cond,
        })
    }

    /// `if FIELD [CMP [-]NUMBER]`.
    pub(super) fn cond(&mut self) -> R<Cond> {
        let start = self.expect_kw("if")?;
        let field = self.ident("the name of an earlier integer field")?;
        let cmp = match self.peek() {
            Some(Tok::Punct("==")) => Some(Cmp::Eq),
            Some(Tok::Punct("!=")) => Some(Cmp::Ne),
            Some(Tok::Punct("<")) => Some(Cmp::Lt),
            Some(Tok::Punct("<=")) => Some(Cmp::Le),
            Some(Tok::Punct(">")) => Some(Cmp::Gt),
            Some(Tok::Punct(">=")) => Some(Cmp::Ge),
            _ => None,
        };
        let (cmp, value) = match cmp {
            Some(cmp) => {
                self.pos += 1;
                let neg = self.eat_punct("-");
                if !neg && self.is_literal() && !matches!(self.peek(), Some(Tok::Num { .. })) {
                    let lit = self.literal()?;
                    (cmp, CondValue::Lit(lit))
                } else {
                    let value = match self.peek() {
                        Some(Tok::Num { value, .. }) | Some(Tok::Bits { value, .. }) => *value,
                        _ => return self.err("a number or a string to compare with"),
                    };
                    self.pos += 1;
                    let value = i64::try_from(value).map_err(|_| {
                        Diagnostic::new("the value is too large to compare with", self.prev_span())
                    })?;
                    (cmp, CondValue::Int(if neg { -value } else { value }))
                }
            }
            None => (Cmp::Ne, CondValue::Int(0)),
        };
        Ok(Cond {
            field,
            cmp,
            value,
            span: start.to(self.prev_span()),
        })
    }

    pub(super) fn ty(&mut self) -> R<Type> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Type::OneOf(vec![s]))
            }
            Some(Tok::Punct("(")) => {
                self.pos += 1;
                // `("a" | "b")` or a group of parts.
                if self.is_literal()
                    && matches!(
                        self.peek_at(1),
                        Some(Tok::Punct("|")) | Some(Tok::Punct(")"))
                    )
                {
                    let mut lits = vec![self.literal()?];
                    while self.eat_punct("|") {
                        lits.push(self.literal()?);
                    }
                    self.expect_punct(")")?;
                    return Ok(Type::OneOf(lits));
                }
                let item = self.units(&[")"])?;
                self.expect_punct(")")?;
                self.repetition(item)
            }
            Some(Tok::Ident(s)) => {
                let span = self.span();
                self.pos += 1;
                let scalar = match s.as_str() {
                    "word" => Some(Type::Word),
                    "token" => Some(Type::Token),
                    "rest" => Some(Type::Rest),
                    "hex" => Some(Type::Int {
                        signed: false,
                        bits: 64,
                        hex: true,
                    }),
                    "usize" | "u64" => Some(Type::Int {
                        signed: false,
                        bits: 64,
                        hex: false,
                    }),
                    "u8" => Some(Type::Int {
                        signed: false,
                        bits: 8,
                        hex: false,
                    }),
                    "u16" => Some(Type::Int {
                        signed: false,
                        bits: 16,
                        hex: false,
                    }),
                    "u32" => Some(Type::Int {
                        signed: false,
                        bits: 32,
                        hex: false,
                    }),
                    "i8" => Some(Type::Int {
                        signed: true,
                        bits: 8,
                        hex: false,
                    }),
                    "i16" => Some(Type::Int {
                        signed: true,
                        bits: 16,
                        hex: false,
                    }),
                    "i32" => Some(Type::Int {
                        signed: true,
                        bits: 32,
                        hex: false,
                    }),
                    "i64" | "isize" => Some(Type::Int {
                        signed: true,
                        bits: 64,
                        hex: false,
                    }),
                    "varint" => Some(Type::Varint),
                    "cstr" => Some(Type::CStr),
                    "quoted" => Some(Type::Quoted),
                    "u1" | "u2" | "u3" | "u4" | "u5" | "u6" | "u7" => {
                        Some(Type::Bits(s.as_bytes()[1] - b'0'))
                    }
                    _ => bin_type(&s),
                };
                if let Some(t) = scalar {
                    if self.is_punct("+") || self.is_punct("*") {
                        let at_least_one = self.eat_punct("+") || !self.eat_punct("*");
                        let part = Part {
                            kind: PartKind::Field(Box::new(Field {
                                docs: Vec::new(),
                                name: Ident {
                                    name: "item".into(),
                                    span,
                                },
                                ty: t,
                                ty_span: span,
                                optional: false,
                                max: None,
                                nullable: None,
                                cond: None,
                            })),
                            span,
                            policies: Vec::new(),
                        };
                        return Ok(Type::Many {
                            item: vec![Unit {
                                parts: vec![part],
                                span,
                            }],
                            at_least_one,
                        });
                    }
                    return Ok(t);
                }
                match s.as_str() {
                    "bytes" => {
                        self.expect_punct("[")?;
                        let len = self.ident(
                            "the name of the field holding the length, or its type like u16be",
                        )?;
                        self.expect_punct("]")?;
                        match bin_type(&len.name) {
                            Some(Type::Bin {
                                signed,
                                width,
                                big_endian,
                            }) => Ok(Type::Prefixed {
                                signed,
                                width,
                                big_endian,
                            }),
                            _ if len.name == "u8" => Ok(Type::Prefixed {
                                signed: false,
                                width: 1,
                                big_endian: true,
                            }),
                            _ => Ok(Type::Bytes(len)),
                        }
                    }
                    "lines" => {
                        self.expect_kw("until")?;
                        let marker = self.string("the line that ends the run, like \".\"")?;
                        let unstuff = if self.eat_kw("unstuff") {
                            Some(self.string("the prefix to remove, like \".\"")?)
                        } else {
                            None
                        };
                        Ok(Type::Lines { marker, unstuff })
                    }
                    _ if self.is_punct("*") => {
                        // COUNT * ( ... )
                        self.pos += 1;
                        self.expect_punct("(")?;
                        let item = self.units(&[")"])?;
                        self.expect_punct(")")?;
                        Ok(Type::Repeat {
                            count: Ident { name: s, span },
                            item,
                        })
                    }
                    _ => Err(Diagnostic::new(format!("unknown type `{s}`"), span)
                        .help(format!("the types are {TYPES}"))),
                }
            }
            _ => self.err(&format!("a type ({TYPES})")),
        }
    }

    pub(super) fn repetition(&mut self, item: Vec<Unit>) -> R<Type> {
        if self.eat_punct("+") {
            Ok(Type::Many {
                item,
                at_least_one: true,
            })
        } else if self.eat_punct("*") {
            if self.eat_kw("until") {
                let marker = self.string("the line that ends the repetition, like \"\"")?;
                Ok(Type::Until { item, marker })
            } else {
                Ok(Type::Many {
                    item,
                    at_least_one: false,
                })
            }
        } else {
            self.err("`+`, `*` or `* until \"MARK\"` after a group")
        }
    }
}

pub(super) fn bin_type(s: &str) -> Option<Type> {
    let (signed, rest) = match s.as_bytes().first()? {
        b'u' => (false, &s[1..]),
        b'i' => (true, &s[1..]),
        _ => return None,
    };
    let (bits, endian) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
    let big_endian = match endian {
        "be" => true,
        "le" => false,
        _ => return None,
    };
    let width = match bits {
        "8" => 1,
        "16" => 2,
        "32" => 4,
        "64" => 8,
        _ => return None,
    };
    Some(Type::Bin {
        signed,
        width,
        big_endian,
    })
}

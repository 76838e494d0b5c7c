//! The arguments of `#[dispatcher(...)]`.
//!
//! ```text
//! #[dispatcher]                                    plain form: no arguments
//! #[dispatcher(protocol = ..., role = server)]     protocol form (see `crate::protocol`)
//! ```
//!
//! Arguments are `key = value`, separated by commas. The value of `protocol` is kept as
//! tokens for the protocol form to read; `role` is `server` or `client`. Every unknown,
//! duplicate or malformed argument is reported at its own span, all of them at once.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};

use crate::ctxt::{Errors, ARGUMENTS, PROTOCOL, ROLE};

/// The parsed arguments of one `#[dispatcher(...)]`.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// `protocol = <tokens>`.
    pub(crate) protocol: Option<ProtocolArg>,
    /// `role = server|client`.
    pub(crate) role: Option<RoleArg>,
}

impl Args {
    /// Whether any argument asks for the protocol form.
    pub(crate) fn is_protocol(&self) -> bool {
        self.protocol.is_some() || self.role.is_some()
    }

    /// Stores `arg`, refusing a second argument with the same key (at that key).
    fn set(&mut self, arg: Arg) -> syn::Result<()> {
        let duplicate = |key: &Ident| {
            let message = format!("duplicate argument `{key}`");
            Err(syn::Error::new(key.span(), message))
        };
        match arg {
            Arg::Protocol(p) if self.protocol.is_some() => duplicate(&p.key),
            Arg::Role(r) if self.role.is_some() => duplicate(&r.key),
            Arg::Protocol(p) => {
                self.protocol = Some(p);
                Ok(())
            }
            Arg::Role(r) => {
                self.role = Some(r);
                Ok(())
            }
        }
    }
}

/// `protocol = <tokens>`: which protocol description the channel follows.
#[derive(Debug)]
pub(crate) struct ProtocolArg {
    /// The `protocol` key.
    pub(crate) key: Ident,
    /// The whole argument, `protocol = ...`, for spans.
    pub(crate) tokens: TokenStream,
    /// The tokens after `=` (not empty).
    #[allow(dead_code)] // read by the protocol form, which the stub does not yet build
    pub(crate) value: TokenStream,
}

/// `role = server|client`.
#[derive(Debug)]
pub(crate) struct RoleArg {
    /// The `role` key.
    pub(crate) key: Ident,
    /// The whole argument, `role = ...`, for spans.
    pub(crate) tokens: TokenStream,
    /// Which role.
    #[allow(dead_code)] // read by the protocol form, which the stub does not yet build
    pub(crate) role: Role,
}

/// The side of a protocol a generated channel plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// It answers requests (it is accepted from a listening socket).
    Server,
    /// It sends requests (it connects).
    Client,
}

/// Parses the tokens inside `#[dispatcher(...)]`.
pub(crate) fn parse(args: TokenStream) -> syn::Result<Args> {
    let mut errors = Errors::default();
    let mut parsed = Args::default();
    for argument in split_on_commas(args) {
        if let Some(arg) = errors.keep(parse_one(argument)) {
            errors.keep(parsed.set(arg));
        }
    }
    errors.finish().map(|()| parsed)
}

/// One argument before it is stored.
enum Arg {
    Protocol(ProtocolArg),
    Role(RoleArg),
}

/// The comma-separated pieces of `args`, each with at least one token.
fn split_on_commas(args: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut pieces = vec![Vec::new()];
    for tt in args {
        let comma = matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',');
        if comma {
            pieces.push(Vec::new());
        } else if let Some(piece) = pieces.last_mut() {
            piece.push(tt);
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

/// Parses `key = value`.
fn parse_one(argument: Vec<TokenTree>) -> syn::Result<Arg> {
    let tokens: TokenStream = argument.iter().cloned().collect();
    let mut rest = argument.into_iter();
    let key = match rest.next() {
        Some(TokenTree::Ident(key)) => key,
        other => {
            let span = other.map_or_else(Span::call_site, |t| t.span());
            return Err(syn::Error::new(span, expected_argument()));
        }
    };
    let name = key.to_string();
    if !ARGUMENTS.contains(&name.as_str()) {
        let message = format!("unknown argument `{name}`; {}", expected_argument());
        return Err(syn::Error::new(key.span(), message));
    }
    match rest.next() {
        Some(TokenTree::Punct(eq)) if eq.as_char() == '=' => {}
        _ => {
            let message = format!("expected `=` after `{name}`: `{}`", usage(&name));
            return Err(syn::Error::new_spanned(&tokens, message));
        }
    }
    let value: TokenStream = rest.collect();
    if value.is_empty() {
        let message = format!("expected a value after `{name} =`: `{}`", usage(&name));
        return Err(syn::Error::new_spanned(&tokens, message));
    }
    if name == PROTOCOL {
        return Ok(Arg::Protocol(ProtocolArg { key, tokens, value }));
    }
    // `name` is `role`, the only other argument.
    let role = match value.to_string().as_str() {
        "server" => Role::Server,
        "client" => Role::Client,
        other => {
            let message = format!("unknown role `{other}`; expected `server` or `client`");
            return Err(syn::Error::new_spanned(value, message));
        }
    };
    Ok(Arg::Role(RoleArg { key, tokens, role }))
}

/// How an argument is written, for messages.
fn usage(name: &str) -> String {
    if name == ROLE {
        "role = server".to_string()
    } else {
        format!("{name} = ...")
    }
}

/// The list of valid arguments, for messages.
fn expected_argument() -> String {
    format!(
        "`#[dispatcher]` takes no arguments, or `{PROTOCOL} = ...` and `{ROLE} = server|client`"
    )
}

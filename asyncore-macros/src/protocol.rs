//! The protocol form, `#[dispatcher(protocol = ..., role = server|client)]`: a channel
//! generated from a protocol description.
//!
//! Not written yet: every use is a compile error at the arguments.

use proc_macro2::{Span, TokenStream};

use crate::dispatcher::attr::Args;

/// Expands `#[dispatcher(protocol = ..., role = ...)] <item>`.
///
/// `args` holds at least one of `protocol` and `role`, each with its tokens for spans.
/// For now this reports that protocol descriptions are not supported, at the first of
/// them.
pub(crate) fn protocol_dispatcher(args: Args, item: TokenStream) -> syn::Result<TokenStream> {
    // The item is what the description's handlers will be checked against.
    let _ = item;
    let message = "protocol descriptions are not supported yet";
    let at = args
        .protocol
        .map(|p| p.tokens)
        .or(args.role.map(|r| r.tokens));
    Err(match at {
        Some(tokens) => syn::Error::new_spanned(tokens, message),
        None => syn::Error::new(Span::call_site(), message),
    })
}

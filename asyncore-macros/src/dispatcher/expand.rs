//! The code `#[dispatcher]` writes for a plain impl block.
//!
//! ```text
//! #[dispatcher]                          impl<G> ::asyncore_runtime::Dispatcher for T<G>
//! impl<G> T<G> where W {                     where W { <the handler methods> }
//!     <handlers and other items>   =>    impl<G> T<G> where W { <every other item> }
//! }
//! ```
//!
//! Both impls keep the block's generics, where clause, attributes and spans, so rustc's
//! errors (a mistyped handler, a missing bound) point into the user's code. The second
//! impl is left out when it would be empty.
//!
//! A block that defines neither `readable` nor `writable` (nor `interest_from_own_state`)
//! keeps both defaults, which depend only on the channel, so the trait impl also gets
//! `interest_from_own_state` answering `true`: the loop may then skip asking an idle
//! channel what to watch.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Ident, ImplItem, Path, PathSegment, Token};

use crate::ctxt::TRAIT;
use crate::dispatcher::validate::Split;

/// The runtime crate as generated code names it.
const RUNTIME: &str = "asyncore_runtime";

/// The trait impl and, if anything is left for it, the inherent impl.
pub(crate) fn generate(split: Split) -> TokenStream {
    let Split {
        header,
        handlers,
        others,
    } = split;
    let mut out = TokenStream::new();
    let mut dispatcher = header.clone();
    dispatcher.trait_ = Some((trait_path(), <Token![for]>::default()));
    let mut handlers = handlers;
    if keeps_default_interest(&handlers) {
        handlers.push(syn::parse_quote! {
            fn interest_from_own_state(&self) -> bool {
                true
            }
        });
    }
    dispatcher.items = handlers;
    dispatcher.to_tokens(&mut out);
    if !others.is_empty() {
        let mut inherent = header;
        inherent.items = others;
        inherent.to_tokens(&mut out);
    }
    out
}

/// Whether none of `handlers` is `readable`, `writable` or `interest_from_own_state`.
fn keeps_default_interest(handlers: &[ImplItem]) -> bool {
    !handlers.iter().any(|item| {
        matches!(item, ImplItem::Fn(f)
            if ["readable", "writable", "interest_from_own_state"]
                .iter()
                .any(|name| f.sig.ident == name))
    })
}

/// `::asyncore_runtime::Dispatcher`, spanned at the attribute.
fn trait_path() -> Path {
    let segment = |name: &str| PathSegment::from(Ident::new(name, Span::call_site()));
    Path {
        leading_colon: Some(<Token![::]>::default()),
        segments: [segment(RUNTIME), segment(TRAIT)].into_iter().collect(),
    }
}

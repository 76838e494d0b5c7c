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

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Ident, Path, PathSegment, Token};

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
    dispatcher.items = handlers;
    dispatcher.to_tokens(&mut out);
    if !others.is_empty() {
        let mut inherent = header;
        inherent.items = others;
        inherent.to_tokens(&mut out);
    }
    out
}

/// `::asyncore_runtime::Dispatcher`, spanned at the attribute.
fn trait_path() -> Path {
    let segment = |name: &str| PathSegment::from(Ident::new(name, Span::call_site()));
    Path {
        leading_colon: Some(<Token![::]>::default()),
        segments: [segment(RUNTIME), segment(TRAIT)].into_iter().collect(),
    }
}

//! Checks on the item under `#[dispatcher]`: that it is an inherent `impl` block, and
//! which of its methods are handlers.
//!
//! Each check records its errors and goes on, so one build shows every misspelt
//! handler. The split is still made when there are errors (a misspelt handler stays an
//! ordinary method), so the code generated next to the errors compiles and the user
//! sees only the errors that matter.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::{ImplItem, ImplItemFn, Item, ItemImpl, Visibility};

use crate::ctxt::{Errors, TRAIT};
use crate::dispatcher::names;

/// An inherent impl block split in two: the `Dispatcher` methods and everything else.
pub(crate) struct Split {
    /// The impl as written, with its items moved to `handlers` and `others`.
    pub(crate) header: ItemImpl,
    /// The methods named after a `Dispatcher` method, in source order.
    pub(crate) handlers: Vec<ImplItem>,
    /// Every other item (methods, constants, types, macros), in source order.
    pub(crate) others: Vec<ImplItem>,
}

/// The inherent impl block in `item`, or an error that says where the attribute goes,
/// at the item's keyword and name.
pub(crate) fn target(item: TokenStream) -> syn::Result<ItemImpl> {
    let item: Item = syn::parse2(item)?;
    let on_type = |name: &syn::Ident| {
        format!("put it on `impl {name} {{ ... }}`, the block that holds the handler methods")
    };
    let elsewhere = || "put it on the `impl` block that holds the handler methods".to_string();
    Err(match item {
        Item::Impl(imp) => return inherent(imp),
        Item::Struct(s) => misplaced(
            "a struct",
            head(&s.struct_token, &s.ident),
            on_type(&s.ident),
        ),
        Item::Enum(e) => misplaced("an enum", head(&e.enum_token, &e.ident), on_type(&e.ident)),
        Item::Union(u) => misplaced("a union", head(&u.union_token, &u.ident), on_type(&u.ident)),
        Item::Fn(f) => misplaced(
            "a function",
            head(&f.sig.fn_token, &f.sig.ident),
            elsewhere(),
        ),
        Item::Trait(t) => misplaced("a trait", head(&t.trait_token, &t.ident), elsewhere()),
        Item::Mod(m) => misplaced("a module", head(&m.mod_token, &m.ident), elsewhere()),
        other => misplaced("this item", other.into_token_stream(), elsewhere()),
    })
}

/// The error for the attribute on `what`, spanning `head`, with how to fix it.
fn misplaced(what: &str, head: TokenStream, fix: String) -> syn::Error {
    let message = format!("`#[dispatcher]` goes on an `impl` block, not on {what}: {fix}");
    syn::Error::new_spanned(head, message)
}

/// An item's keyword and name, the span of an error about the whole item.
fn head(keyword: &impl ToTokens, name: &syn::Ident) -> TokenStream {
    quote!(#keyword #name)
}

/// `imp` if it is a plain inherent impl.
fn inherent(imp: ItemImpl) -> syn::Result<ItemImpl> {
    if let Some((path, for_token)) = &imp.trait_ {
        let message = format!(
            "`#[dispatcher]` goes on an inherent `impl` block (`impl Type {{ ... }}`), not on \
             a trait impl: it writes the `{TRAIT}` impl itself from the handler methods"
        );
        return Err(syn::Error::new_spanned(quote!(#path #for_token), message));
    }
    if let Some(unsafety) = &imp.unsafety {
        let message = format!("the `{TRAIT}` impl `#[dispatcher]` writes is safe: remove `unsafe`");
        return Err(syn::Error::new_spanned(unsafety, message));
    }
    imp.modifiers.require_empty()?;
    Ok(imp)
}

/// Splits the items of `imp` into handlers and the rest, with an error for every method
/// that looks like a misspelt handler and every handler with a visibility.
pub(crate) fn split(mut imp: ItemImpl) -> (Split, syn::Result<()>) {
    let mut errors = Errors::default();
    let mut handlers = Vec::new();
    let mut others = Vec::new();
    for item in std::mem::take(&mut imp.items) {
        match item {
            ImplItem::Fn(f) if names::is_handler(&f.sig.ident.unraw().to_string()) => {
                handlers.push(ImplItem::Fn(handler(f, &mut errors)));
            }
            ImplItem::Fn(f) => {
                errors.keep(check_not_misspelt(&f));
                others.push(ImplItem::Fn(f));
            }
            other => others.push(other),
        }
    }
    let split = Split {
        header: imp,
        handlers,
        others,
    };
    (split, errors.finish())
}

/// A handler as it goes into the trait impl: a visibility is an error (trait methods
/// take none) and is dropped, so rustc does not report it a second time.
fn handler(mut f: ImplItemFn, errors: &mut Errors) -> ImplItemFn {
    if !matches!(f.vis, Visibility::Inherited) {
        let vis = std::mem::replace(&mut f.vis, Visibility::Inherited);
        let message = format!(
            "`{}` is a `{TRAIT}` method, and trait methods take no visibility: remove `{}`",
            f.sig.ident,
            vis.to_token_stream()
        );
        errors.push(syn::Error::new_spanned(vis, message));
    }
    f
}

/// An error at the method's name if it looks like a handler but is none.
fn check_not_misspelt(f: &ImplItemFn) -> syn::Result<()> {
    let name = f.sig.ident.unraw().to_string();
    if !names::looks_like_handler(&name) {
        return Ok(());
    }
    let message = match names::suggest(&name) {
        Some(handler) => format!("unknown handler `{name}`; did you mean `{handler}`?"),
        None => format!(
            "unknown handler `{name}`; the `{TRAIT}` methods are {} (a method named \
             `handle_*`, or close to `readable` or `writable`, must be one of them)",
            names::handler_list()
        ),
    };
    Err(syn::Error::new(f.sig.ident.span(), message))
}

//! `#[dispatcher]`: an inherent impl block's handler methods become the type's
//! `asyncore_runtime::Dispatcher` impl.
//!
//! The stages are plain functions over `proc_macro2` tokens, so they are tested without
//! a compiler: [`attr`] reads the arguments, [`validate`] checks the item and splits
//! its methods, [`expand`] writes the impls. With arguments, the protocol form takes
//! over ([`crate::protocol`]).
//!
//! Errors never stop the expansion short: they are emitted with the code that could be
//! generated anyway, so the user sees the errors that matter and not their echo in
//! every use of the type.

pub(crate) mod attr;
pub(crate) mod expand;
pub(crate) mod names;
pub(crate) mod validate;

use proc_macro2::TokenStream;

use crate::protocol::protocol_dispatcher;

/// Expands `#[dispatcher(<args>)] <item>`; errors come out as `compile_error!`s.
pub(crate) fn dispatcher(args: TokenStream, item: TokenStream) -> TokenStream {
    match attr::parse(args) {
        Ok(args) if args.is_protocol() => {
            protocol_dispatcher(args, item.clone()).unwrap_or_else(|e| with(e, item))
        }
        Ok(_) => plain(item),
        // The item is still expanded, so its own errors show too, and uses of the type
        // as a `Dispatcher` compile.
        Err(e) => with(e, plain(item)),
    }
}

/// The plain form: the trait impl and the inherent impl, with any errors in front.
pub(crate) fn plain(item: TokenStream) -> TokenStream {
    let imp = match validate::target(item.clone()) {
        Ok(imp) => imp,
        Err(e) => return with(e, item),
    };
    let (split, checked) = validate::split(imp);
    let code = expand::generate(split);
    match checked {
        Ok(()) => code,
        Err(e) => with(e, code),
    }
}

/// `error` as `compile_error!`s, followed by `code`.
fn with(error: syn::Error, code: TokenStream) -> TokenStream {
    let mut out = error.into_compile_error();
    out.extend(code);
    out
}

#[cfg(test)]
mod tests;

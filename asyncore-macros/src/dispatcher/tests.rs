//! Expansion tests: `quote!` input through [`super::dispatcher`], output parsed back.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{ImplItem, Item, ItemImpl};

use super::dispatcher;

/// What an expansion produced: the `compile_error!` messages, the impls, and anything
/// else, in order.
struct Expansion {
    errors: Vec<String>,
    impls: Vec<ItemImpl>,
    others: Vec<Item>,
}

fn expand(args: TokenStream, item: TokenStream) -> Expansion {
    let out = dispatcher(args, item);
    let file: syn::File = syn::parse2(out.clone())
        .unwrap_or_else(|e| panic!("expansion does not parse ({e}): {out}"));
    let mut expansion = Expansion {
        errors: Vec::new(),
        impls: Vec::new(),
        others: Vec::new(),
    };
    for item in file.items {
        match item {
            Item::Macro(m) if m.mac.path.segments.last().unwrap().ident == "compile_error" => {
                let message: syn::LitStr = m.mac.parse_body().unwrap();
                expansion.errors.push(message.value());
            }
            Item::Impl(imp) => expansion.impls.push(imp),
            other => expansion.others.push(other),
        }
    }
    expansion
}

fn text(tokens: impl ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

/// The trait an impl implements (`None` for an inherent impl), as text.
fn trait_of(imp: &ItemImpl) -> Option<String> {
    imp.trait_.as_ref().map(|(path, _)| text(path))
}

/// The names of an impl's items (`const`/`type`/macro items by kind).
fn names(imp: &ItemImpl) -> Vec<String> {
    imp.items
        .iter()
        .map(|item| match item {
            ImplItem::Fn(f) => f.sig.ident.to_string(),
            ImplItem::Const(c) => format!("const {}", c.ident),
            ImplItem::Type(t) => format!("type {}", t.ident),
            ImplItem::Macro(m) => format!("{}!", text(&m.mac.path)),
            other => text(other),
        })
        .collect()
}

const DISPATCHER: &str = ":: asyncore_runtime :: Dispatcher";

// ===== the split =====

#[test]
fn handlers_go_to_the_trait_impl_and_the_rest_stays_inherent() {
    let e = expand(
        quote!(),
        quote! {
            impl Echo {
                fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result { Ok(()) }
                fn helper(&self) -> u32 { 1 }
                pub fn new() -> Self { Echo }
                fn readable(&mut self, ch: &Channel<'_>) -> bool { true }
                const SIZE: usize = 512;
                type Item = u8;
                helper_macro!();
                fn log_info(&self, message: &str, kind: &str) {}
            }
        },
    );
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert!(e.others.is_empty());
    assert_eq!(e.impls.len(), 2);
    assert_eq!(trait_of(&e.impls[0]).as_deref(), Some(DISPATCHER));
    assert_eq!(text(&e.impls[0].self_ty), "Echo");
    assert_eq!(names(&e.impls[0]), ["handle_read", "readable", "log_info"]);
    assert_eq!(trait_of(&e.impls[1]), None);
    assert_eq!(
        names(&e.impls[1]),
        ["helper", "new", "const SIZE", "type Item", "helper_macro!"]
    );
    // Visibility of the other items is kept.
    assert!(text(&e.impls[1]).contains("pub fn new"));
}

#[test]
fn every_dispatcher_method_is_a_handler() {
    let methods = super::names::HANDLERS.map(|h| {
        let ident = syn::Ident::new(h, proc_macro2::Span::call_site());
        quote!(fn #ident(&mut self) {})
    });
    let e = expand(quote!(), quote!(impl T { #(#methods)* }));
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(
        e.impls.len(),
        1,
        "no inherent impl when nothing is left for it"
    );
    assert_eq!(names(&e.impls[0]), super::names::HANDLERS);
}

#[test]
fn an_empty_block_gives_an_empty_dispatcher_impl() {
    let e = expand(quote!(), quote!(impl Quiet {}));
    assert!(e.errors.is_empty());
    assert_eq!(e.impls.len(), 1);
    // Neither `readable` nor `writable`: the defaults, which the loop is told of.
    assert_eq!(
        text(&e.impls[0]),
        format!(
            "impl {DISPATCHER} for Quiet {{ fn interest_from_own_state (& self) -> bool {{ true }} }}"
        )
    );
}

#[test]
fn a_block_that_defines_readable_or_writable_keeps_the_per_pass_calls() {
    for method in [
        quote!(
            fn readable(&mut self, ch: &Channel<'_>) -> bool {
                true
            }
        ),
        quote!(
            fn writable(&mut self, ch: &Channel<'_>) -> bool {
                false
            }
        ),
    ] {
        let e = expand(quote!(), quote!(impl Streamer { #method }));
        assert!(e.errors.is_empty());
        assert_eq!(e.impls.len(), 1);
        assert!(
            !names(&e.impls[0]).contains(&"interest_from_own_state".to_string()),
            "{}",
            text(&e.impls[0])
        );
    }
    // One written by hand is kept as written, not doubled.
    let e = expand(
        quote!(),
        quote!(impl Echo { fn interest_from_own_state(&self) -> bool { false } }),
    );
    assert_eq!(names(&e.impls[0]), ["interest_from_own_state"]);
    assert!(text(&e.impls[0]).contains("false"));
}

#[test]
fn a_block_without_handlers_keeps_its_items_inherent() {
    let e = expand(quote!(), quote!(impl Quiet { fn helper(&self) {} }));
    assert!(e.errors.is_empty());
    assert_eq!(e.impls.len(), 2);
    assert_eq!(names(&e.impls[0]), ["interest_from_own_state"]);
    assert_eq!(names(&e.impls[1]), ["helper"]);
}

#[test]
fn generics_and_where_clauses_go_on_both_impls() {
    let e = expand(
        quote!(),
        quote! {
            impl<'a, T: Clone + 'static, const N: usize> Ring<T, N>
            where
                T: Default,
            {
                fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result { Ok(()) }
                fn len(&self) -> usize { N }
            }
        },
    );
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(e.impls.len(), 2);
    for imp in &e.impls {
        assert_eq!(
            text(&imp.generics),
            "< 'a , T : Clone + 'static , const N : usize >"
        );
        assert_eq!(text(&imp.generics.where_clause), "where T : Default ,");
        assert_eq!(text(&imp.self_ty), "Ring < T , N >");
    }
    assert_eq!(trait_of(&e.impls[0]).as_deref(), Some(DISPATCHER));
    assert_eq!(trait_of(&e.impls[1]), None);
}

#[test]
fn attributes_and_doc_comments_are_kept() {
    let e = expand(
        quote!(),
        quote! {
            /// The block's docs.
            #[cfg(unix)]
            impl Echo {
                #![allow(unused_variables)]
                /// Reads.
                #[inline]
                fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result { Ok(()) }
                /// Helps.
                #[must_use]
                fn helper(&self) -> u32 { 1 }
            }
        },
    );
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    let [dispatcher, inherent] = &e.impls[..] else {
        panic!("expected two impls, got {}", e.impls.len());
    };
    for imp in [dispatcher, inherent] {
        let attrs: Vec<String> = imp.attrs.iter().map(text).collect();
        assert_eq!(
            attrs,
            [
                "# [doc = r\" The block's docs.\"]",
                "# [cfg (unix)]",
                "# ! [allow (unused_variables)]"
            ]
        );
    }
    let ImplItem::Fn(read) = &dispatcher.items[0] else {
        panic!("not a method");
    };
    let attrs: Vec<String> = read.attrs.iter().map(text).collect();
    assert_eq!(attrs, ["# [doc = r\" Reads.\"]", "# [inline]"]);
    let ImplItem::Fn(helper) = &inherent.items[0] else {
        panic!("not a method");
    };
    let attrs: Vec<String> = helper.attrs.iter().map(text).collect();
    assert_eq!(attrs, ["# [doc = r\" Helps.\"]", "# [must_use]"]);
}

#[test]
fn handler_bodies_and_signatures_are_copied_unchanged() {
    let method = quote! {
        fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<std::io::Error>) -> Result {
            ch.close();
            Ok(())
        }
    };
    let e = expand(quote!(), quote!(impl Echo { #method }));
    assert_eq!(text(&e.impls[0].items[0]), method.to_string());
}

// ===== misspelt handlers =====

#[test]
fn a_misspelt_handler_is_an_error_with_a_suggestion() {
    let e = expand(
        quote!(),
        quote! {
            impl Echo {
                fn handle_raed(&mut self, ch: &mut Channel<'_>) -> Result { Ok(()) }
            }
        },
    );
    assert_eq!(
        e.errors,
        ["unknown handler `handle_raed`; did you mean `handle_read`?"]
    );
    // The code is still generated, with the misspelt method as an ordinary one, so the
    // error is the only one.
    assert_eq!(e.impls.len(), 2);
    assert_eq!(names(&e.impls[0]), ["interest_from_own_state"]);
    assert_eq!(names(&e.impls[1]), ["handle_raed"]);
}

#[test]
fn near_misses_of_readable_and_writable_are_errors() {
    let e = expand(
        quote!(),
        quote! {
            impl Echo {
                fn readabel(&mut self, ch: &Channel<'_>) -> bool { true }
                fn writeable(&mut self, ch: &Channel<'_>) -> bool { true }
                fn is_readable(&self) -> bool { true }
            }
        },
    );
    assert_eq!(
        e.errors,
        [
            "unknown handler `readabel`; did you mean `readable`?",
            "unknown handler `writeable`; did you mean `writable`?",
        ]
    );
}

#[test]
fn every_misspelt_handler_is_reported_at_once() {
    let e = expand(
        quote!(),
        quote! {
            impl Echo {
                fn handle_raed(&mut self) {}
                fn handle_read(&mut self) {}
                fn handle_wirte(&mut self) {}
                fn handle_something(&mut self) {}
            }
        },
    );
    assert_eq!(e.errors.len(), 3, "{:?}", e.errors);
    assert!(e.errors[0].contains("did you mean `handle_read`?"));
    assert!(e.errors[1].contains("did you mean `handle_write`?"));
    assert!(e.errors[2].starts_with("unknown handler `handle_something`; the `Dispatcher` methods are `readable`, `writable`, `handle_read`,"));
    assert!(e.errors[2].contains("`log_info`"));
    assert_eq!(
        names(&e.impls[0]),
        ["handle_read", "interest_from_own_state"]
    );
}

#[test]
fn a_public_handler_is_an_error_and_loses_its_visibility() {
    let e = expand(
        quote!(),
        quote! {
            impl Echo {
                pub(crate) fn handle_read(&mut self) {}
            }
        },
    );
    assert_eq!(
        e.errors,
        ["`handle_read` is a `Dispatcher` method, and trait methods take no visibility: remove `pub (crate)`"]
    );
    assert_eq!(
        text(&e.impls[0].items[0]),
        "fn handle_read (& mut self) { }"
    );
}

// ===== misplaced attribute =====

/// The errors of `#[dispatcher]` on `item`, checking that the item comes out unchanged.
fn misplaced(item: TokenStream) -> Vec<String> {
    let out = dispatcher(quote!(), item.clone()).to_string();
    assert!(out.ends_with(&item.to_string()), "{out}");
    expand(quote!(), item).errors
}

#[test]
fn on_a_struct_it_says_to_put_it_on_the_impl() {
    assert_eq!(
        misplaced(quote!(struct Echo { n: usize })),
        ["`#[dispatcher]` goes on an `impl` block, not on a struct: put it on `impl Echo { ... }`, the block that holds the handler methods"]
    );
    assert_eq!(
        misplaced(quote!(enum State { A, B })),
        ["`#[dispatcher]` goes on an `impl` block, not on an enum: put it on `impl State { ... }`, the block that holds the handler methods"]
    );
}

#[test]
fn on_a_trait_impl_it_says_to_use_an_inherent_impl() {
    let errors = misplaced(quote! {
        impl Dispatcher for Echo {
            fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result { Ok(()) }
        }
    });
    assert_eq!(
        errors,
        ["`#[dispatcher]` goes on an inherent `impl` block (`impl Type { ... }`), not on a trait impl: it writes the `Dispatcher` impl itself from the handler methods"]
    );
}

#[test]
fn on_other_items_it_says_where_it_goes() {
    for (item, what) in [
        (
            quote!(
                fn handle_read() {}
            ),
            "a function",
        ),
        (
            quote!(
                trait Handlers {}
            ),
            "a trait",
        ),
        (
            quote!(
                mod handlers {}
            ),
            "a module",
        ),
        (
            quote!(
                const N: usize = 1;
            ),
            "this item",
        ),
    ] {
        let errors = misplaced(item);
        assert_eq!(
            errors,
            [format!("`#[dispatcher]` goes on an `impl` block, not on {what}: put it on the `impl` block that holds the handler methods")]
        );
    }
}

#[test]
fn an_unsafe_impl_is_an_error() {
    let errors = misplaced(quote!(unsafe impl Echo {}));
    assert_eq!(
        errors,
        ["the `Dispatcher` impl `#[dispatcher]` writes is safe: remove `unsafe`"]
    );
}

// ===== arguments =====

#[test]
fn empty_arguments_are_the_plain_form() {
    for args in [quote!(), quote!(,)] {
        let e = expand(args, quote!(impl Echo {}));
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(e.impls.len(), 1);
    }
}

#[test]
fn the_protocol_form_needs_both_arguments() {
    for (args, wanted) in [
        (
            quote!(protocol = chat),
            "add `role = server` or `role = client`",
        ),
        (quote!(role = server), "add `protocol = MODULE`"),
    ] {
        let e = expand(args, quote!(impl Member {}));
        assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
        assert!(e.errors[0].starts_with(wanted), "{:?}", e.errors);
    }
}

#[test]
fn the_protocol_form_implements_the_role_trait() {
    let item = quote!(impl Member {
        fn on_nick(&mut self, cx: &mut chat::ServerCx<'_, '_>, msg: chat::Nick<'_>) -> Result<chat::NickNext> { Ok(chat::NickNext::Named) }
        fn helper(&self) -> u32 { 1 }
    });
    let e = expand(quote!(protocol = chat, role = server), item);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(e.impls.len(), 2);
    assert_eq!(trait_of(&e.impls[0]).as_deref(), Some("chat :: Server"));
    assert!(text(&e.impls[1]).contains("fn helper"));
}

#[test]
fn the_protocol_form_refuses_asyncore_handlers() {
    let item = quote!(impl Member { fn handle_read(&mut self) {} });
    let e = expand(quote!(protocol = chat, role = client), item);
    assert_eq!(e.errors.len(), 1);
    assert!(
        e.errors[0]
            .contains("in the protocol form the handlers are the `on_*` methods of `chat::Client`"),
        "{:?}",
        e.errors
    );
}

#[test]
fn argument_errors_name_the_valid_arguments() {
    let valid =
        "`#[dispatcher]` takes no arguments, or `protocol = ...` and `role = server|client`";
    let e = expand(quote!(protocl = "x", 42, role = both), quote!(impl Echo {}));
    assert_eq!(
        e.errors,
        [
            format!("unknown argument `protocl`; {valid}"),
            valid.to_string(),
            "unknown role `both`; expected `server` or `client`".to_string(),
        ]
    );
    // The impl is still expanded, so uses of `Echo` as a dispatcher compile.
    assert_eq!(trait_of(&e.impls[0]).as_deref(), Some(DISPATCHER));
}

#[test]
fn malformed_and_duplicate_arguments_are_errors() {
    let e = expand(
        quote!(role, protocol =, role = server, role = client),
        quote!(impl Echo {}),
    );
    assert_eq!(
        e.errors,
        [
            "expected `=` after `role`: `role = server`",
            "expected a value after `protocol =`: `protocol = ...`",
            "duplicate argument `role`",
        ]
    );
}

#[test]
fn arguments_are_parsed_with_their_values() {
    use super::attr::{parse, Role};
    let args = parse(quote!(protocol = inline("x"), role = client)).unwrap();
    let protocol = args.protocol.unwrap();
    assert_eq!(protocol.key, "protocol");
    assert_eq!(protocol.value.to_string(), "inline (\"x\")");
    assert_eq!(protocol.tokens.to_string(), "protocol = inline (\"x\")");
    assert_eq!(args.role.unwrap().role, Role::Client);
    assert_eq!(
        parse(quote!(role = server)).unwrap().role.unwrap().role,
        Role::Server
    );
    assert!(!parse(quote!()).unwrap().is_protocol());
}

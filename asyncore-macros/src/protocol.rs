//! The protocol forms: `protocol!` (a description, inline or from a file, compiled into a
//! module) and `#[dispatcher(protocol = MODULE, role = server|client)]` (an `impl` block
//! that becomes the role's handler).

use std::ops::Range;

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{ImplItem, ItemImpl};

use crate::dispatcher::attr::{Args, Role};

/// Expands `#[dispatcher(protocol = MODULE, role = ROLE)] impl T { ... }` into
/// `impl MODULE::Server for T { <on_* methods> }` (or `Client`) and `impl T { <others> }`.
///
/// rustc then checks the handler set against the description's trait: a missing message
/// handler is E0046 at the impl, a misspelt one E0407 at its name (with rustc's "similar
/// name" help), a wrong next state E0599 at the variant.
pub(crate) fn protocol_dispatcher(args: Args, item: TokenStream) -> syn::Result<TokenStream> {
    let (module, role) = match (args.protocol, args.role) {
        (Some(p), Some(r)) => (p.value, r.role),
        (Some(p), None) => return Err(syn::Error::new_spanned(
            p.tokens,
            "add `role = server` or `role = client`: which side of the protocol this impl plays",
        )),
        (None, Some(r)) => {
            return Err(syn::Error::new_spanned(
                r.tokens,
                "add `protocol = MODULE`, the module made by `protocol!` for the description",
            ))
        }
        (None, None) => return Err(syn::Error::new(Span::call_site(), "missing arguments")),
    };
    if let Ok(lit) = syn::parse2::<syn::LitStr>(module.clone()) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`protocol` takes the module that `protocol!` makes, not a file: write `protocol!(mod NAME = {:?});` and then `protocol = NAME`",
                lit.value()
            ),
        ));
    }
    let imp = crate::dispatcher::validate::target(item)?;
    let trait_name = match role {
        Role::Server => quote!(Server),
        Role::Client => quote!(Client),
    };
    let mut handlers = Vec::new();
    let mut others = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for it in &imp.items {
        match it {
            ImplItem::Fn(f) => {
                let name = f.sig.ident.to_string();
                if name.starts_with("on_") {
                    let mut f = f.clone();
                    if !matches!(f.vis, syn::Visibility::Inherited) {
                        let e = syn::Error::new_spanned(
                            &f.vis,
                            "handler methods take no visibility: remove it",
                        );
                        combine(&mut errors, e);
                        f.vis = syn::Visibility::Inherited;
                    }
                    handlers.push(ImplItem::Fn(f));
                } else if name.starts_with("handle_") {
                    let e = syn::Error::new_spanned(
                        &f.sig.ident,
                        format!(
                            "`{name}` is an asyncore handler; in the protocol form the handlers are the `on_*` methods of `{}::{}`",
                            module.to_string().replace(' ', ""), trait_name
                        ),
                    );
                    combine(&mut errors, e);
                } else {
                    others.push(it.clone());
                }
            }
            other => others.push(other.clone()),
        }
    }
    let ItemImpl {
        attrs,
        generics,
        self_ty,
        impl_token,
        ..
    } = &imp;
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    // The user's `impl` token, so rustc's errors about the trait impl (a missing handler)
    // point at the block.
    let mut out = quote! {
        #(#attrs)*
        #impl_token #impl_generics #module::#trait_name for #self_ty #where_clause {
            #(#handlers)*
        }
    };
    if !others.is_empty() {
        out.extend(quote! {
            #(#attrs)*
            #impl_token #impl_generics #self_ty #where_clause {
                #(#others)*
            }
        });
    }
    Ok(match errors {
        Some(e) => {
            let mut t = e.into_compile_error();
            t.extend(out);
            t
        }
        None => out,
    })
}

fn combine(acc: &mut Option<syn::Error>, e: syn::Error) {
    match acc {
        Some(a) => a.combine(e),
        None => *acc = Some(e),
    }
}

/// Expands `protocol!(VIS mod NAME = "FILE");` or `protocol!(VIS mod NAME { DESCRIPTION })`.
///
/// A relative path is looked up in the crate's directory (`CARGO_MANIFEST_DIR`), then next
/// to the source file that invokes the macro (`caller_dir`).
pub(crate) fn protocol_macro(
    input: TokenStream,
    caller_dir: Option<std::path::PathBuf>,
) -> TokenStream {
    match protocol_inner(input, caller_dir) {
        Ok(t) => t,
        Err(e) => e.into_compile_error(),
    }
}

fn protocol_inner(
    input: TokenStream,
    caller_dir: Option<std::path::PathBuf>,
) -> syn::Result<TokenStream> {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    // VIS mod NAME
    let mod_at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i == "mod"))
        .ok_or_else(|| syn::Error::new(Span::call_site(), USAGE))?;
    let vis: TokenStream = tokens[..mod_at].iter().cloned().collect();
    let name = match tokens.get(mod_at + 1) {
        Some(TokenTree::Ident(i)) => i.clone(),
        Some(other) => return Err(syn::Error::new(other.span(), "expected the module's name")),
        None => return Err(syn::Error::new(Span::call_site(), USAGE)),
    };
    let rest: Vec<TokenTree> = tokens.drain(mod_at + 2..).collect();
    match rest.as_slice() {
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::Brace => {
            inline(&vis, &name, g.stream())
        }
        [TokenTree::Punct(eq), TokenTree::Literal(path)]
        | [TokenTree::Punct(eq), TokenTree::Literal(path), TokenTree::Punct(_)]
            if eq.as_char() == '=' =>
        {
            let lit: syn::LitStr = syn::parse2(path.to_token_stream()).map_err(|_| {
                syn::Error::new(path.span(), "expected the description's path as a string")
            })?;
            from_file(&vis, &name, &lit, caller_dir)
        }
        [first, ..] => Err(syn::Error::new(first.span(), USAGE)),
        [] => Err(syn::Error::new(name.span(), USAGE)),
    }
}

const USAGE: &str = "expected `protocol!(pub mod NAME = \"path/to/file.aproto\");` or `protocol! { pub mod NAME { protocol ... } }`";

fn from_file(
    vis: &TokenStream,
    name: &Ident,
    lit: &syn::LitStr,
    caller_dir: Option<std::path::PathBuf>,
) -> syn::Result<TokenStream> {
    let rel = lit.value();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let mut path = std::path::Path::new(&dir).join(&rel);
    if !path.exists() {
        if let Some(near) = caller_dir.map(|d| d.join(&rel)).filter(|p| p.exists()) {
            path = near;
        }
    }
    let src = std::fs::read_to_string(&path).map_err(|e| {
        // A description renamed to the new extension: say so.
        let renamed = path.with_extension(asyncore_protocol::EXTENSION);
        let hint = if asyncore_protocol::old_extension_warning(&rel).is_some() && renamed.exists() {
            format!("; `{}` exists: descriptions end in `.{}` now", renamed.display(), asyncore_protocol::EXTENSION)
        } else {
            String::new()
        };
        syn::Error::new(
            lit.span(),
            format!("cannot read the description `{}`: {e} (paths are relative to the crate's directory, {dir}){hint}", path.display()),
        )
    })?;
    match asyncore_protocol::expand(&src, vis, name) {
        Ok(module) => {
            let abs = path.display().to_string();
            let old_extension = old_extension_warning(lit);
            // Rebuild when the description changes.
            Ok(quote! {
                #module
                const _: &str = include_str!(#abs);
                #old_extension
            })
        }
        Err(diags) => {
            let text: Vec<String> = diags.iter().map(|d| d.render(&rel, &src)).collect();
            Err(syn::Error::new(
                lit.span(),
                format!("the description `{rel}` has errors:\n\n{}", text.join("\n")),
            ))
        }
    }
}

/// For a path in the old extension (`.proto`), a deprecated item used at the path's string,
/// so that rustc warns there (a proc macro cannot emit a warning of its own on stable):
///
/// ```text
/// warning: use of deprecated constant `...::RENAME_TO_APROTO`: `x.proto`: protocol descriptions end in `.aproto` ...
/// ```
///
/// Nothing for any other path.
fn old_extension_warning(lit: &syn::LitStr) -> TokenStream {
    let Some(note) = asyncore_protocol::old_extension_warning(&lit.value()) else {
        return TokenStream::new();
    };
    let item = format!("RENAME_TO_{}", asyncore_protocol::EXTENSION.to_uppercase());
    let item = Ident::new(&item, lit.span());
    quote! {
        const _: () = {
            #[deprecated(note = #note)]
            const #item: () = ();
            #item
        };
    }
}

fn inline(vis: &TokenStream, name: &Ident, body: TokenStream) -> syn::Result<TokenStream> {
    let mut flat = Flat::default();
    flat.push_stream(body);
    match asyncore_protocol::expand(&flat.text, vis, name) {
        Ok(module) => Ok(module),
        Err(diags) => {
            let mut err: Option<syn::Error> = None;
            for d in diags {
                let mut message = d.message.clone();
                if let Some(h) = &d.help {
                    message += &format!("\nhelp: {h}");
                }
                combine(
                    &mut err,
                    syn::Error::new(flat.span_at(d.span.start, name.span()), message),
                );
            }
            Err(err.unwrap_or_else(|| syn::Error::new(name.span(), "invalid description")))
        }
    }
}

/// A token stream flattened to description text, remembering where each token went.
#[derive(Default)]
struct Flat {
    text: String,
    spans: Vec<(Range<usize>, Span)>,
}

impl Flat {
    fn push(&mut self, s: &str, span: Span) {
        let start = self.text.len();
        self.text.push_str(s);
        self.spans.push((start..self.text.len(), span));
        self.text.push(' ');
    }

    fn push_stream(&mut self, stream: TokenStream) {
        let mut iter = stream.into_iter().peekable();
        while let Some(tt) = iter.next() {
            match tt {
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    // `/// doc` arrives as `# [doc = "..."]`.
                    if let Some(TokenTree::Group(g)) = iter.peek() {
                        if g.delimiter() == Delimiter::Bracket {
                            if let Some(doc) = doc_text(g.stream()) {
                                iter.next();
                                self.text.push('\n');
                                self.push(&format!("///{doc}"), p.span());
                                self.text.push('\n');
                                continue;
                            }
                        }
                    }
                    self.push("#", p.span());
                }
                TokenTree::Punct(p) => {
                    let start = self.text.len();
                    self.text.push(p.as_char());
                    self.spans.push((start..self.text.len(), p.span()));
                    if p.spacing() == proc_macro2::Spacing::Alone {
                        self.text.push(' ');
                    }
                }
                TokenTree::Ident(i) => self.push(&i.to_string(), i.span()),
                TokenTree::Literal(l) => self.push(&l.to_string(), l.span()),
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    self.push(open, g.span_open());
                    self.push_stream(g.stream());
                    self.push(close, g.span_close());
                }
            }
        }
    }

    /// The span of the token at byte `offset` of the text (the next one after it if the
    /// offset falls between tokens).
    fn span_at(&self, offset: usize, fallback: Span) -> Span {
        self.spans
            .iter()
            .find(|(r, _)| r.end > offset)
            .map_or(fallback, |(_, s)| *s)
    }
}

fn doc_text(attr: TokenStream) -> Option<String> {
    let mut it = attr.into_iter();
    match (it.next(), it.next(), it.next(), it.next()) {
        (
            Some(TokenTree::Ident(i)),
            Some(TokenTree::Punct(eq)),
            Some(TokenTree::Literal(l)),
            None,
        ) if i == "doc" && eq.as_char() == '=' => {
            let lit: syn::LitStr = syn::parse2(l.to_token_stream()).ok()?;
            Some(lit.value().replace('\n', " "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_description_compiles() {
        let out = protocol_macro(
            quote! {
                pub mod echo {
                    /// Echo.
                    protocol echo
                    framing line "\n" max 64KiB
                    client Line = text:rest
                    server Echo = text:rest
                }
            },
            None,
        )
        .to_string();
        assert!(out.contains("pub mod echo"), "{out}");
        assert!(out.contains("pub struct Line"), "{out}");
    }

    #[test]
    fn inline_errors_name_the_problem() {
        let out = protocol_macro(
            quote! {
                mod x {
                    protocol x framing line "\n" max 1KiB
                    client A = "a"
                    state S initial { A -> Nowhere }
                }
            },
            None,
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown state `Nowhere`"), "{out}");
    }

    /// A description in the old extension compiles, with a deprecated item used at its
    /// path; one in the new extension without; a missing old path names the renamed file.
    #[test]
    fn old_extension_is_read_with_a_deprecation() {
        let dir = std::env::temp_dir().join(format!("asyncore-macros-ext-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = "protocol x framing line \"\\n\" max 1KiB client A = \"a\"";
        std::fs::write(dir.join("old.proto"), src).unwrap();
        std::fs::write(dir.join("new.aproto"), src).unwrap();
        let expand = |file: &str| {
            let path = dir.join(file).display().to_string();
            protocol_macro(quote!(mod x = #path;), None).to_string()
        };
        let old = expand("old.proto");
        assert!(
            old.contains("pub struct A") || old.contains("struct A"),
            "{old}"
        );
        assert!(
            old.contains("deprecated") && old.contains("RENAME_TO_APROTO"),
            "{old}"
        );
        assert!(old.contains("rename it to"), "{old}");
        let new = expand("new.aproto");
        assert!(!new.contains("deprecated"), "{new}");
        let missing = expand("new.proto");
        assert!(missing.contains("compile_error"), "{missing}");
        assert!(
            missing.contains("new.aproto` exists: descriptions end in `.aproto` now"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flattening_keeps_joint_punctuation() {
        let mut f = Flat::default();
        f.push_stream(quote!(A -> B));
        assert_eq!(f.text.trim(), "A -> B");
        let at = f.text.find("B").unwrap();
        assert!(f.spans.iter().any(|(r, _)| r.start == at));
    }
}

//! The protocol description compiler behind `#[dispatcher]` and `protocol!`.
//!
//! Each stage is a plain function: [`parse`](parse::parse) (text to a syntax tree with
//! spans), [`check`](check::check) (every error at its token, lowered to the [`ir`]), and
//! [`gen::generate`] (Rust tokens). [`compile`] runs the first two.

pub mod ast;
pub mod check;
pub mod diag;
pub mod gen;
pub mod graph;
pub mod ir;
pub mod lex;
pub mod parse;

pub use diag::Diagnostic;

/// Parses and checks a description.
pub fn compile(src: &str) -> Result<ir::Protocol, Vec<Diagnostic>> {
    let ast = parse::parse(src).map_err(|d| vec![d])?;
    check::check(&ast)
}

/// Parses, checks and generates the module `VIS mod NAME { ... }` of a description.
pub fn expand(
    src: &str,
    vis: &proc_macro2::TokenStream,
    name: &proc_macro2::Ident,
) -> Result<proc_macro2::TokenStream, Vec<Diagnostic>> {
    let p = compile(src)?;
    Ok(gen::generate(&p, vis, name))
}

#[cfg(test)]
mod tests {
    /// Every description generates a module that parses as Rust.
    #[test]
    fn shipped_descriptions_generate_rust() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptions");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let src = std::fs::read_to_string(&path).unwrap();
            let name = proc_macro2::Ident::new("m", proc_macro2::Span::call_site());
            let tokens = super::expand(&src, &quote::quote!(pub), &name).unwrap();
            if let Err(e) = super::gen::pretty(tokens) {
                panic!("{}: {e}", path.display());
            }
        }
    }

    /// Every description under `descriptions/` compiles.
    #[test]
    fn shipped_descriptions_compile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptions");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let src = std::fs::read_to_string(&path).unwrap();
            if let Err(errors) = super::compile(&src) {
                let shown: Vec<String> = errors
                    .iter()
                    .map(|e| e.render(&path.display().to_string(), &src))
                    .collect();
                panic!("{}", shown.join("\n"));
            }
            n += 1;
        }
        assert!(n >= 7, "only {n} descriptions");
    }
}

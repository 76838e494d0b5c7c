//! The protocol description compiler behind `#[dispatcher]` and `protocol!`.
//!
//! Each stage is a plain function: [`parse`](parse::parse) (text to a syntax tree with
//! spans), [`check`](check::check) (every error at its token, lowered to the [`ir`]), and
//! [`gen::generate`] (Rust tokens). [`compile`] runs the first two.

pub mod ast;
pub mod check;
pub mod diag;
pub mod ir;
pub mod lex;
pub mod parse;

pub use diag::Diagnostic;

/// Parses and checks a description.
pub fn compile(src: &str) -> Result<ir::Protocol, Vec<Diagnostic>> {
    let ast = parse::parse(src).map_err(|d| vec![d])?;
    check::check(&ast)
}

#[cfg(test)]
mod tests {
    /// Every description under `descriptions/` compiles.
    #[test]
    fn shipped_descriptions_compile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptions");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let src = std::fs::read_to_string(&path).unwrap();
            if let Err(errors) = super::compile(&src) {
                let shown: Vec<String> =
                    errors.iter().map(|e| e.render(&path.display().to_string(), &src)).collect();
                panic!("{}", shown.join("\n"));
            }
            n += 1;
        }
        assert!(n >= 7, "only {n} descriptions");
    }
}

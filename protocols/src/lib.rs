//! The protocol description compiler behind `#[dispatcher]` and `protocol!`.
//!
//! Each stage is a plain function, testable without a macro context and reused by the
//! `asyncore-protocol` command-line tool:
//!
//! 1. [`lex::lex`] (nom): text to tokens with byte spans;
//! 2. [`parse::parse`]: tokens to the syntax tree ([`ast`]), with "expected ..., found ..."
//!    errors at the offending token;
//! 3. [`check::check`]: every check of the language, all errors at once, each at its
//!    token; the states, the duality and the framing arithmetic in `check`, and the
//!    lowering of each message to the [`ir`]'s decoding ops in `lower`;
//! 4. [`gen::generate`]: the Rust module, as tokens for `quote`; [`graph`] draws the state
//!    machine.
//!
//! [`compile`] runs stages 1 to 3, [`expand`] all four. The language is described in
//! `docs/protocol-language.md`.
//!
//! The command-line tool is built with the `cli` feature (on by default), which brings in
//! `clap` for its arguments; `asyncore-macros` uses the library without it.
//!
//! ```
//! let src = r#"
//!     protocol greeting
//!     framing line "\r\n" max 1KiB
//!     client Hello = "HELLO" name:word
//!     client Bye = "BYE"
//!     server Reply = code:u16 text:rest
//!     state Start initial { Hello -> Start  Bye -> close }
//! "#;
//! let protocol = asyncore_protocol::compile(src).unwrap();
//! assert_eq!(protocol.messages.len(), 3);
//!
//! let broken = src.replace("-> Start ", "-> Strat ");
//! let errors = asyncore_protocol::compile(&broken).unwrap_err();
//! assert!(errors[0].render("greeting.aproto", &broken).contains("unknown state `Strat`"));
//! ```

#![warn(missing_docs)]

pub mod ast;
pub mod check;
pub mod diag;
pub mod gen;
pub mod graph;
pub mod ir;
pub mod lex;
mod lower;
pub mod parse;

pub use diag::Diagnostic;

/// The file extension of a description, without the dot: `chat.aproto`.
///
/// `.proto` is Protocol Buffers' extension, which editors, GitHub's language statistics
/// and `protoc` tooling assume; no common tool claims `.aproto` ("asyncore protocol").
pub const EXTENSION: &str = "aproto";

/// The extension descriptions had before [`EXTENSION`]: still read, with a warning
/// ([`old_extension_warning`]).
pub const OLD_EXTENSION: &str = "proto";

/// For a description path ending in the old extension, [`OLD_EXTENSION`], the warning
/// that asks for the new one; `None` for any other path, whatever its extension.
///
/// ```
/// use asyncore_protocol::old_extension_warning;
/// let w = old_extension_warning("descriptions/chat.proto").unwrap();
/// assert!(w.contains("rename it to `descriptions/chat.aproto`"));
/// assert_eq!(old_extension_warning("descriptions/chat.aproto"), None);
/// assert_eq!(old_extension_warning("chat.txt"), None);
/// ```
pub fn old_extension_warning(path: &str) -> Option<String> {
    let stem = path.strip_suffix(OLD_EXTENSION)?.strip_suffix('.')?;
    if stem.is_empty() || stem.ends_with('/') {
        return None;
    }
    Some(format!(
        "`{path}`: protocol descriptions end in `.{EXTENSION}` (`.{OLD_EXTENSION}` is Protocol Buffers'): rename it to `{stem}.{EXTENSION}`"
    ))
}

/// Parses and checks a description: the [`ir::Protocol`], or every error found.
///
/// ```
/// let p = asyncore_protocol::compile("protocol p framing line \"\\n\" max 1KiB client A = \"a\"").unwrap();
/// assert_eq!(p.states[0].name, "Ready"); // no states declared: one implicit state
/// ```
pub fn compile(src: &str) -> Result<ir::Protocol, Vec<Diagnostic>> {
    let ast = parse::parse(src).map_err(|d| vec![d])?;
    check::check(&ast)
}

/// Parses, checks and generates the module `VIS mod NAME { ... }` of a description.
///
/// ```
/// let name = proc_macro2::Ident::new("echo", proc_macro2::Span::call_site());
/// let src = "protocol echo framing line \"\\n\" max 1KiB client Line = text:rest server Echo = text:rest";
/// let tokens = asyncore_protocol::expand(src, &quote::quote!(pub), &name).unwrap();
/// let code = asyncore_protocol::gen::pretty(tokens).unwrap();
/// assert!(code.contains("pub mod echo"));
/// assert!(code.contains("pub struct Line<'a>"));
/// ```
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

    /// The shipped descriptions all take the extension of the language.
    #[test]
    fn shipped_descriptions_take_the_extension() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptions");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some(super::EXTENSION),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn old_extension_warning_names_the_new_file() {
        assert_eq!(
            super::old_extension_warning("x.proto").as_deref(),
            Some("`x.proto`: protocol descriptions end in `.aproto` (`.proto` is Protocol Buffers'): rename it to `x.aproto`")
        );
        assert_eq!(super::old_extension_warning(".proto"), None);
        assert_eq!(super::old_extension_warning("dir/.proto"), None);
        assert_eq!(super::old_extension_warning("x.aproto"), None);
        assert_eq!(super::old_extension_warning("x_proto"), None);
        assert_eq!(super::old_extension_warning("x.protobuf"), None);
    }
}

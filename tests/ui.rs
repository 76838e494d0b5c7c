//! Compile-fail tests: each `ui/<folder>/<case>.rs` is one misuse, and its `.stderr` is
//! the exact error rustc prints for it.
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p asyncore-tests --test ui` and review the diff: every
//! message must point at the offending token. rustc's wording changes between
//! versions, so the files match the workspace's toolchain.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    // `#[dispatcher]` on a plain impl block.
    cases.compile_fail("ui/dispatcher/*.rs");
    // Protocol descriptions: each check of the compiler, inline (errors at the token) and
    // in a file (errors name the file, line and column); and the role traits rustc checks.
    cases.compile_fail("ui/protocol/*.rs");
}

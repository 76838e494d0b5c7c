//! The TextMate grammar of the description language
//! (`editors/textmate/asyncore-protocol.tmLanguage.json`) on every shipped description:
//! `scripts/check-grammar`, run with Python 3, compiles each of its regular expressions,
//! scopes every description, and checks that no character is left unscoped and that the
//! lexer's keywords and types get their scopes. Without Python 3 the test is skipped with
//! a printed reason, unless `ASYNCORE_REQUIRE_PEERS=1` is set.

mod support;

use std::process::Command;

use support::{python, require_peer, run_named, runs_ok};

#[test]
fn textmate_grammar_scopes_every_shipped_description() {
    if !require_peer("python3", runs_ok(python(), "--version")) {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check-grammar");
    let mut cmd = Command::new(python());
    cmd.arg(script);
    let out = run_named("scripts/check-grammar", cmd);
    assert!(out.success(), "{}", out.transcript());
    assert!(out.stderr.contains(": ok"), "{}", out.transcript());
}

// A description in the extension descriptions had before, `.proto`, still compiles, with a
// deprecation warning at its path that names the new extension (denied here, so that
// trybuild sees it).
#![deny(deprecated)]
asyncore_runtime::protocol!(mod old = "old_extension.proto");

fn main() {
    let _ = old::State::INITIAL;
}

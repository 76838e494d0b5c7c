//! An HTTP/1.1 client: fetches each URL and writes its body to standard output,
//! byte-exact; URLs of the same server share one keep-alive connection (pipelined).
//!
//! ```text
//! cargo run --release -p asyncore-examples --example http-client -- http://127.0.0.1:8080/
//! cargo run --release -p asyncore-examples --example http-client -- -i --data 'a=1' http://127.0.0.1:8080/form
//! cargo run --release -p asyncore-examples --example http-client -- --connect 127.0.0.1:8080 /a /b
//! ```

use std::io::Write;

use asyncore_examples::http_client::{self, Options};
use clap::Parser;

const PROGRAM: &str = "http-client";

fn main() {
    let opts = Options::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = http_client::run(&opts, &mut out);
    let flushed = out.flush();
    if let Err(f) = result {
        eprintln!("{PROGRAM}: {f}");
        std::process::exit(f.exit_code());
    }
    if let Err(e) = flushed {
        eprintln!("{PROGRAM}: writing the output: {e}");
        std::process::exit(1);
    }
}

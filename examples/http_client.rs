//! An HTTP/1.1 client: fetches each URL and writes its body to standard output,
//! byte-exact; URLs of the same server share one keep-alive connection (pipelined).
//!
//! ```text
//! cargo run --release -p asyncore-examples --example http-client -- http://127.0.0.1:8080/
//! cargo run --release -p asyncore-examples --example http-client -- -i --data 'a=1' http://127.0.0.1:8080/form
//! cargo run --release -p asyncore-examples --example http-client -- --connect 127.0.0.1:8080 /a /b
//! ```

use std::io::Write;

use asyncore_examples::{cli, http_client};

const PROGRAM: &str = "http-client";

const ABOUT: &str = "An HTTP/1.1 client: fetches each URL (http:// only) and writes the body to \
standard output, byte-exact. URLs that follow each other with the same host and port share \
one keep-alive connection, their requests pipelined. Exits 1 on a connection error or a reply \
that is not valid HTTP, 22 with --fail on a status of 400 or more, 2 on bad arguments.";

fn main() {
    let opts = match http_client::Options::parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            let usage = cli::usage(PROGRAM, ABOUT, &http_client::flags());
            print!(
                "{}",
                usage.replacen("[OPTIONS]\n", "[OPTIONS] URL [URL...]\n", 1)
            );
            return;
        }
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            std::process::exit(2);
        }
    };
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

//! Servers log to standard error: with `RUST_LOG=info`, a connection closed for bad input
//! leaves one line naming the peer and what was wrong (the limit, for input over one); at
//! the default level (`warn`) the same input leaves no line, so a client sending junk
//! cannot fill the log.

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::{example_binary, send_bad, stop_server, Proc};

/// Starts `server` with `RUST_LOG` set to `level` (unset for `None`), sends `bad` on a
/// connection it closes, stops it, and returns its standard error and the client's
/// address.
fn bad_input_log(server: &str, level: Option<&str>, bad: &[u8]) -> (String, SocketAddr) {
    let mut cmd = Command::new(example_binary(server));
    cmd.args(["--listen", "127.0.0.1:0"]);
    cmd.env_remove("RUST_LOG");
    if let Some(level) = level {
        cmd.env("RUST_LOG", level);
    }
    let mut proc = Proc::spawn(server, cmd);
    let addr = proc.listening_addr();
    let (_, closed) = send_bad(addr, bad, false);
    assert!(
        closed,
        "{server} closes the connection after {:?}",
        bad.escape_ascii().to_string()
    );
    let out = stop_server(proc);
    (out.stderr, addr)
}

/// The lines of `log` about a connection closed for bad input.
fn closing_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("closing") && l.contains("127.0.0.1:"))
        .collect()
}

fn logs_the_close(server: &str, bad: &[u8], what: &str) {
    let (log, _) = bad_input_log(server, Some("info"), bad);
    let lines = closing_lines(&log);
    assert_eq!(
        lines.len(),
        1,
        "{server}: one line for the connection closed for bad input; the log:\n{log}"
    );
    assert!(
        lines[0].contains("INFO"),
        "{server}: at the info level: {}",
        lines[0]
    );
    assert!(
        lines[0].contains(what),
        "{server}: the line says what was wrong ({what:?}): {}",
        lines[0]
    );
    let (log, _) = bad_input_log(server, None, bad);
    assert!(
        closing_lines(&log).is_empty(),
        "{server}: nothing at the default level; the log:\n{log}"
    );
}

#[test]
fn http_header_too_large() {
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 20_000));
    head.extend_from_slice(b"\r\n\r\n");
    logs_the_close("http-server", &head, "over");
}

#[test]
fn kv_frame_over_its_limit() {
    // A frame that says 16 MiB: over kv's 1 MiB.
    logs_the_close("kv-server", b"\x01\x00\x00\x00\x01", "1048576");
}

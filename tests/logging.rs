//! Servers log to standard error: with `RUST_LOG=info`, a connection closed for bad input
//! leaves one line naming the peer and what was wrong (the limit, for input over one); at
//! the default level (`warn`) the same input leaves no line, so a client sending junk
//! cannot fill the log.

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::{example_binary, send_bad, stop_server, Proc, TempDir};

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

/// Checks one combined-format line: `HOST - - [DD/Mon/YYYY:HH:MM:SS +0000] "REQUEST"
/// STATUS BYTES "REFERER" "USER-AGENT"`.
fn combined(line: &str, request: &str, status: u16, bytes: u64, referer: &str, ua: &str) {
    let (host, rest) = line
        .split_once(" - - [")
        .unwrap_or_else(|| panic!("no host: {line}"));
    assert_eq!(host, "127.0.0.1", "{line}");
    let (time, rest) = rest
        .split_once("] ")
        .unwrap_or_else(|| panic!("no time: {line}"));
    let t = time.as_bytes();
    assert!(
        time.len() == 26
            && t[2] == b'/'
            && t[6] == b'/'
            && t[11] == b':'
            && time.ends_with(" +0000"),
        "time as 07/Dec/2026:15:21:58 +0000: {time}"
    );
    let want = format!("\"{request}\" {status} {bytes} \"{referer}\" \"{ua}\"");
    assert_eq!(rest, want, "{line}");
}

#[test]
fn http_access_log_in_the_combined_format() {
    let dir = TempDir::new("access-log");
    let path = dir.path().join("access.log");
    let mut cmd = Command::new(example_binary("http-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--access-log"])
        .arg(&path);
    let mut proc = Proc::spawn("http-server", cmd);
    let addr = proc.listening_addr();
    let requests: &[u8] =
        b"GET / HTTP/1.1\r\nHost: x\r\nReferer: http://a/b\r\nUser-Agent: t\"est/1\r\n\r\n\
        POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
        GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (got, closed) = send_bad(addr, requests, false);
    assert!(closed, "the server closes after `Connection: close`");
    let text = String::from_utf8_lossy(&got).into_owned();
    assert_eq!(
        text.matches("HTTP/1.1 ").count(),
        3,
        "three responses: {text}"
    );
    stop_server(proc);
    let log = std::fs::read_to_string(&path).expect("the access log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "a line per response:\n{log}");
    let hello = asyncore_examples::http_server::HELLO.len() as u64;
    combined(
        lines[0],
        "GET / HTTP/1.1",
        200,
        hello,
        "http://a/b",
        "t\\x22est/1",
    );
    combined(lines[1], "POST /echo HTTP/1.1", 200, 5, "-", "-");
    assert!(
        lines[2].contains("\"GET /nothing HTTP/1.1\" 404 "),
        "{}",
        lines[2]
    );
}

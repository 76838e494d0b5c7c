//! `mqtt-broker --tls-cert FILE --tls-key FILE`: MQTT over TLS on the listening port (as
//! mosquitto's `listener 8883` with `certfile` and `keyfile`), on every backend:
//!
//! * Debian's `mosquitto-clients` with `--cafile` and `-h localhost` (the certificate is
//!   for `localhost`, checked, no `--insecure`): a subscriber gets byte for byte what a
//!   publisher sends, a text message at QoS 0, binary ones at QoS 1, one of 200 KB;
//! * a plain-TCP client on the TLS port (`mosquitto_pub` without `--cafile`, and a raw
//!   CONNECT) gets no CONNACK and is closed, with one `TLS handshake failed` line each,
//!   while the TLS subscriber and new TLS publishers are served on;
//! * Python's `paho-mqtt` with `tls_set(ca_certs=...)`: a subscriber and a publisher at
//!   QoS 1, 200 KB included;
//! * a certificate or key file that cannot be used is a usage error naming it.
//!
//! Certificates are made at test time (`support::tls::TestCerts`). A missing peer prints
//! `skipping: ...` and the test passes, unless `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use asyncore_runtime::Backend;

use support::peers;
use support::tls::TestCerts;
use support::{
    example_binary, pseudo_random, send_bad, start_server, stop_server, Proc, TempDir, HANG_GUARD,
};

fn program(name: &str) -> PathBuf {
    peers::find_program(name, &[]).unwrap_or_else(|| panic!("{name} is installed"))
}

/// `-h localhost -p PORT --cafile CA`: the name the certificate is for, checked against
/// the test CA.
fn tls_flags(addr: SocketAddr, certs: &TestCerts) -> Vec<String> {
    vec![
        "-h".into(),
        "localhost".into(),
        "-p".into(),
        addr.port().to_string(),
        "--cafile".into(),
        certs.ca.display().to_string(),
    ]
}

/// `mosquitto_sub -d` over TLS, subscribed (its SUBACK seen) to `filter` at QoS 1,
/// printing each message as `msg TOPIC QOS LENGTH HEX`, and exiting after `count`
/// messages. Under `stdbuf -oL`, so that its debug lines are not held in its buffer.
fn tls_subscriber(addr: SocketAddr, certs: &TestCerts, filter: &str, count: usize) -> Proc {
    let mut cmd = Command::new(program("stdbuf"));
    cmd.arg("-oL").arg(program("mosquitto_sub"));
    cmd.args(tls_flags(addr, certs))
        .args(["-t", filter, "-q", "1", "-d", "-F", "msg %t %q %l %x"])
        .args(["-C", &count.to_string()]);
    let mut sub = Proc::spawn("mosquitto_sub (TLS)", cmd);
    sub.expect_line("its SUBACK", HANG_GUARD, |l| l.contains("received SUBACK"));
    sub
}

/// Runs `mosquitto_pub args` over TLS; it must succeed.
fn tls_publish(addr: SocketAddr, certs: &TestCerts, args: &[&str]) {
    let mut all = tls_flags(addr, certs);
    all.extend(args.iter().map(|s| s.to_string()));
    let (status, out, err) =
        support::run_with_input(program("mosquitto_pub"), &all, b"", HANG_GUARD);
    assert!(
        status.success(),
        "mosquitto_pub {args:?} over TLS failed ({status}): {}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length {}", hex.len());
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("a hex payload"))
        .collect()
}

/// Waits for the subscriber's next message and checks its topic, QoS and payload (byte
/// for byte, from the hex it printed).
fn expect_message(sub: &mut Proc, topic: &str, qos: u8, payload: &[u8]) {
    let line = sub.expect_line(&format!("the message on {topic}"), HANG_GUARD, |l| {
        l.starts_with("msg ")
    });
    let fields: Vec<&str> = line.splitn(5, ' ').collect();
    let short: String = line.chars().take(120).collect();
    assert_eq!(fields.len(), 5, "a message line: {short}");
    assert_eq!(
        (fields[1], fields[2], fields[3]),
        (
            topic,
            qos.to_string().as_str(),
            payload.len().to_string().as_str()
        ),
        "topic, QoS and length of {short}"
    );
    let got = unhex(fields[4]);
    if let Some(at) = got.iter().zip(payload).position(|(a, b)| a != b) {
        panic!("the payload on {topic} differs at byte {at}");
    }
    assert_eq!(got.len(), payload.len(), "the payload on {topic}");
}

/// A CONNECT packet of MQTT 3.1.1 (clean session, keep-alive 60, client id `plain`), as a
/// plain-TCP client sends it first.
const PLAIN_CONNECT: [u8; 19] = [
    0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 5, b'p', b'l', b'a', b'i', b'n',
];

// ===== mosquitto-clients over TLS =====

fn mosquitto_over_tls(backend: Backend) {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let certs = TestCerts::new("mqtt");
    let files = TempDir::new("mqtt-tls-payloads");
    let binary = pseudo_random(1000, 3);
    let big = pseudo_random(200_000, 5);
    let binary_file = files.file("binary.bin", &binary);
    let big_file = files.file("big.bin", &big);
    let (broker, addr) = start_server("mqtt-broker", backend.name(), &certs.server_flags());

    let mut sub = tls_subscriber(addr, &certs, "t/#", 5);
    tls_publish(addr, &certs, &["-t", "t/text", "-m", "hello over TLS"]);
    expect_message(&mut sub, "t/text", 0, b"hello over TLS");
    let binary_path = binary_file.display().to_string();
    tls_publish(
        addr,
        &certs,
        &["-t", "t/binary", "-q", "1", "-f", &binary_path],
    );
    expect_message(&mut sub, "t/binary", 1, &binary);
    let big_path = big_file.display().to_string();
    tls_publish(addr, &certs, &["-t", "t/big", "-q", "1", "-f", &big_path]);
    expect_message(&mut sub, "t/big", 1, &big);

    // Plain TCP on the TLS port: mosquitto_pub without --cafile fails...
    let plain: Vec<String> = ["-h", "127.0.0.1", "-p", &addr.port().to_string()]
        .iter()
        .chain(&["-t", "t/plain", "-m", "in the clear"])
        .map(|s| s.to_string())
        .collect();
    let (status, out, err) =
        support::run_with_input(program("mosquitto_pub"), &plain, b"", HANG_GUARD);
    assert!(
        !status.success(),
        "mosquitto_pub in plain TCP succeeded on the TLS port: {}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    // ...and a raw CONNECT is closed without a CONNACK.
    let (reply, closed) = send_bad(addr, &PLAIN_CONNECT, false);
    assert!(closed, "the broker kept a plain-TCP connection open");
    assert!(
        !reply.starts_with(&[0x20]),
        "a CONNACK in plain TCP: {reply:?}"
    );

    // The TLS subscriber and new TLS publishers are served on.
    tls_publish(addr, &certs, &["-t", "t/after", "-q", "1", "-f", &big_path]);
    expect_message(&mut sub, "t/after", 1, &big);
    tls_publish(addr, &certs, &["-t", "t/last", "-m", "the end"]);
    expect_message(&mut sub, "t/last", 0, b"the end");
    let done = sub.finish(HANG_GUARD);
    assert!(done.success(), "mosquitto_sub (TLS)\n{}", done.stderr);
    assert!(
        !done.stdout.iter().any(|l| l.contains("t/plain")),
        "the plain-TCP message was delivered"
    );

    let out = stop_server(broker);
    let failed: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("TLS handshake failed"))
        .collect();
    assert_eq!(
        failed.len(),
        2,
        "one line per plain-TCP client:\n{}",
        out.stderr
    );
    for l in &failed {
        assert!(l.starts_with("INFO ") && l.contains("127.0.0.1:"), "{l}");
    }
}

// ===== paho-mqtt over TLS =====

const PAHO_TLS: &str = r#"
import queue, ssl, sys, threading
host, port, ca, big_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
big = open(big_path, "rb").read()
TIMEOUT = 15

def client(cid):
    c = new_client(cid)
    c.tls_set(ca_certs=ca)
    c.connected, c.subscribed, c.got = threading.Event(), threading.Event(), queue.Queue()
    def on_connect(c, u, flags, rc):
        assert rc == 0, rc
        c.connected.set()
    c.on_connect = on_connect
    c.on_subscribe = lambda c, u, mid, granted: c.subscribed.set()
    c.on_message = lambda c, u, m: c.got.put((m.topic, m.qos, bytes(m.payload)))
    c.connect(host, port, 30)
    c.loop_start()
    assert c.connected.wait(TIMEOUT), "no CONNACK"
    return c

sub = client("paho-tls-sub")
sub.subscribe("tls/#", 1)
assert sub.subscribed.wait(TIMEOUT), "no SUBACK"
print("tls", isinstance(sub.socket(), ssl.SSLSocket))
pub = client("paho-tls-pub")
pub.publish("tls/small", b"over TLS", qos=1).wait_for_publish()
pub.publish("tls/big", big, qos=1).wait_for_publish()
for want in (b"over TLS", big):
    topic, qos, payload = sub.got.get(timeout=TIMEOUT)
    print(topic, qos, len(payload), payload == want)
pub.disconnect(); sub.disconnect()
"#;

fn paho_over_tls(backend: Backend) {
    if !peers::have_python_modules(&["paho.mqtt.client"]) {
        return;
    }
    let certs = TestCerts::new("paho");
    let files = TempDir::new("mqtt-tls-paho");
    let big_file = files.file("big.bin", &pseudo_random(200_000, 9));
    let (broker, addr) = start_server("mqtt-broker", backend.name(), &certs.server_flags());
    let script = format!("{}{}", peers::PAHO_PRELUDE, PAHO_TLS);
    let out = peers::python_output(
        "paho (TLS)",
        &script,
        &[
            "localhost".to_string(),
            addr.port().to_string(),
            certs.ca.display().to_string(),
            big_file.display().to_string(),
        ],
        HANG_GUARD,
    );
    assert_eq!(
        out,
        "tls True\n\
         tls/small 1 8 True\n\
         tls/big 1 200000 True"
    );
    stop_server(broker);
}

on_every_backend!(mosquitto_over_tls, paho_over_tls);

// ===== bad files =====

/// Runs `mqtt-broker --tls-cert CERT --tls-key KEY`: its exit code and standard error,
/// after checking that it never said it was listening.
fn broker_with(cert: &Path, key: &Path) -> (Option<i32>, String) {
    let out = Command::new(example_binary("mqtt-broker"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .output()
        .expect("run mqtt-broker");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_certificate_files_are_a_usage_error_naming_them() {
    let dir = TempDir::new("mqtt-tls-bad-files");
    let junk = dir.file("junk.pem", b"not a certificate\n");
    let certs = TestCerts::new("mqtt-files");
    let (code, err) = broker_with(&junk, &certs.key);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--tls-cert") && err.contains("junk.pem"),
        "{err}"
    );
    let (code, err) = broker_with(&certs.cert, &dir.path().join("missing-key.pem"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing-key.pem"), "{err}");
}

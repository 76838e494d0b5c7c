//! The `mqtt-broker` example (`examples/mqtt_broker.rs`), an MQTT 3.1.1 broker generated
//! from `protocols/descriptions/mqtt.aproto`, against programs we did not write:
//!
//! * Debian's `mosquitto-clients`: `mosquitto_sub` gets what `mosquitto_pub` sends, with
//!   wildcards, 1,000 lines of `mosquitto_pub -l` in order, QoS 1, retained messages, and
//!   a `-k 5` keep-alive that holds, while a silent raw client is disconnected;
//! * Python's `paho-mqtt`: subscriptions at QoS 0 and 1 with wildcards, an invalid
//!   filter, unsubscribe, wills (published when a client vanishes, not after DISCONNECT);
//! * Debian's `mosquitto` broker: one transcript of raw packets (CONNECT, SUBSCRIBE,
//!   PUBLISH at QoS 0, 1 and 2, retained messages, PINGREQ, UNSUBSCRIBE, a will, a client id
//!   connecting again, a bad protocol level, an empty client id without a clean session,
//!   DISCONNECT) gets the same reply bytes from both brokers;
//! * bad input (a frame over the limit, a wrong remaining length, a bad packet type, a
//!   truncated string, a PUBLISH before CONNECT...) closes that connection with a log line
//!   and never a panic, while another connection is served; a subscriber that does not
//!   read loses QoS 0 messages, or is disconnected at QoS 1, and the broker goes on.
//!
//! A missing peer prints `skipping: ...` and the test passes, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use asyncore_examples::mqtt_broker::mqtt;
use asyncore_runtime::wire::{Decoded, Seq};

use support::peers::{self, Mosquitto};
use support::{Finished, Proc, HANG_GUARD};

/// Starts mqtt-broker on 127.0.0.1:0 (epoll) with the `extra` flags.
fn start_broker(extra: &[&str]) -> (Proc, SocketAddr) {
    support::start_server("mqtt-broker", "epoll", extra)
}

/// SIGINT the broker: it must exit 0 and must not have panicked.
fn stop(broker: Proc) -> Finished {
    support::stop_server(broker)
}

fn program(name: &str) -> PathBuf {
    peers::find_program(name, &[]).unwrap_or_else(|| panic!("{name} is installed"))
}

// ===== packets =====

fn encode<'m>(msg: impl Into<mqtt::ClientMessage<'m>>) -> Vec<u8> {
    let mut out = Vec::new();
    msg.into().encode(&mut out).expect("encode a client packet");
    out
}

fn connect(client_id: &str, keep_alive: u16) -> Vec<u8> {
    encode(mqtt::Connect {
        level: 4,
        username: 0,
        password: 0,
        will_retain: 0,
        will_qos: 0,
        will: 0,
        clean_session: 1,
        keep_alive,
        client_id: client_id.as_bytes(),
        will_topic: None,
        will_message: None,
        user: None,
        pass: None,
    })
}

fn connect_with_will(client_id: &str, topic: &str, message: &[u8], qos: u8) -> Vec<u8> {
    encode(mqtt::Connect {
        level: 4,
        username: 0,
        password: 0,
        will_retain: 0,
        will_qos: qos,
        will: 1,
        clean_session: 1,
        keep_alive: 0,
        client_id: client_id.as_bytes(),
        will_topic: Some(topic.as_bytes()),
        will_message: Some(message),
        user: None,
        pass: None,
    })
}

fn publish(topic: &str, payload: &[u8], qos: u8, retain: u8, packet_id: Option<u16>) -> Vec<u8> {
    encode(mqtt::Publish {
        dup: 0,
        qos,
        retain,
        topic: topic.as_bytes(),
        packet_id,
        payload,
    })
}

fn subscribe(packet_id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let filters: Vec<mqtt::SubscribeFilters<'_>> = filters
        .iter()
        .map(|(f, qos)| mqtt::SubscribeFilters {
            filter: f.as_bytes(),
            qos: *qos,
        })
        .collect();
    encode(mqtt::Subscribe {
        packet_id,
        filters: Seq::from(&filters[..]),
    })
}

fn unsubscribe(packet_id: u16, filters: &[&str]) -> Vec<u8> {
    let filters: Vec<&[u8]> = filters.iter().map(|f| f.as_bytes()).collect();
    encode(mqtt::Unsubscribe {
        packet_id,
        filters: Seq::from(&filters[..]),
    })
}

fn puback(packet_id: u16) -> Vec<u8> {
    encode(mqtt::PubAck { packet_id })
}

const PINGREQ: [u8; 2] = [0xc0, 0];
const PINGRESP: [u8; 2] = [0xd0, 0];
const CONNACK_OK: [u8; 4] = [0x20, 2, 0, 0];
const DISCONNECT: [u8; 2] = [0xe0, 0];

/// A raw client connection: writes bytes, reads whole packets (cut by the generated
/// decoder of the broker's packets).
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    name: String,
}

impl Conn {
    fn open(addr: SocketAddr, name: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{name}: connect: {e}"));
        s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .expect("read timeout");
        Conn {
            s,
            buf: Vec::new(),
            name: name.to_string(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        // The broker may have closed already (bad input): that shows when reading.
        let _ = self.s.write_all(bytes);
    }

    /// The bytes of the next `n` packets; fails if they do not come.
    fn packets(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let mut dec = mqtt::ServerMessage::decoder();
            let mut at = 0;
            let mut got = 0;
            while got < n {
                match dec.decode(&self.buf[at..], mqtt::SERVER_MESSAGES_ALL) {
                    Ok(Decoded::Message { len, .. }) => {
                        at += len;
                        got += 1;
                    }
                    Ok(_) => break,
                    Err(e) => panic!("{}: bad packet from the broker: {e}", self.name),
                }
            }
            if got == n {
                return self.buf.drain(..at).collect();
            }
            let what = format!("{} ({n} packets)", self.name);
            assert!(
                support::read_more(&mut self.s, &mut self.buf, deadline, &what),
                "{}: closed after {got} of {n} packets: {}",
                self.name,
                self.buf.escape_ascii()
            );
        }
    }

    /// Reads to the end of the stream (a reset counts); returns what came before it.
    fn until_closed(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + HANG_GUARD;
        let what = format!("{} (waiting for the close)", self.name);
        while support::read_more(&mut self.s, &mut self.buf, deadline, &what) {}
        std::mem::take(&mut self.buf)
    }
}

// ===== mosquitto-clients =====

/// `mosquitto_sub -d` on `addr`, subscribed (its SUBACK seen) to `filter` with `args`.
/// It runs under `stdbuf -oL`: its debug lines would otherwise wait in its standard
/// output's buffer until the next message.
fn mosquitto_sub(addr: SocketAddr, filter: &str, args: &[&str]) -> Proc {
    let mut cmd = Command::new(program("stdbuf"));
    cmd.arg("-oL").arg(program("mosquitto_sub"));
    cmd.args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(["-t", filter, "-v", "-d"])
        .args(args);
    let mut sub = Proc::spawn("mosquitto_sub", cmd);
    sub.expect_line("its SUBACK", HANG_GUARD, |l| l.contains("received SUBACK"));
    sub
}

fn mosquitto_pub(addr: SocketAddr, args: &[&str], stdin: &[u8]) {
    let mut all: Vec<String> = ["-h", "127.0.0.1", "-p", &addr.port().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    all.extend(args.iter().map(|s| s.to_string()));
    let (status, out, err) =
        support::run_with_input(program("mosquitto_pub"), &all, stdin, HANG_GUARD);
    assert!(
        status.success(),
        "mosquitto_pub {args:?} failed ({status}): {}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
}

/// The next message line (`topic payload`, from `-v`) of a `mosquitto_sub -d`.
fn next_message(sub: &mut Proc) -> String {
    sub.expect_line("a message", HANG_GUARD, |l| {
        !l.starts_with("Client ") && !l.starts_with("Subscribed ")
    })
}

#[test]
fn mosquitto_sub_gets_what_mosquitto_pub_sends() {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    let mut sub = mosquitto_sub(addr, "a/#", &[]);
    mosquitto_pub(addr, &["-t", "a/b", "-m", "hi"], b"");
    assert_eq!(next_message(&mut sub), "a/b hi");
    // Not matched: another tree, and `a/#` does not match `ab`.
    mosquitto_pub(addr, &["-t", "b/a", "-m", "no"], b"");
    mosquitto_pub(addr, &["-t", "ab", "-m", "no"], b"");
    // `a/#` matches its parent level.
    mosquitto_pub(addr, &["-t", "a", "-m", "parent"], b"");
    mosquitto_pub(addr, &["-t", "a/b/c/d", "-m", "deep"], b"");
    assert_eq!(next_message(&mut sub), "a parent");
    assert_eq!(next_message(&mut sub), "a/b/c/d deep");
    drop(sub);
    stop(broker);
}

#[test]
fn mosquitto_pub_lines_arrive_in_order() {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    let mut sub = mosquitto_sub(addr, "lines/+", &["-C", "1000"]);
    let input: String = (0..1000).map(|i| format!("line {i:04}\n")).collect();
    mosquitto_pub(addr, &["-t", "lines/x", "-l"], input.as_bytes());
    let out = sub.finish(HANG_GUARD);
    assert!(out.success(), "mosquitto_sub\n{}", out.transcript());
    let got: Vec<&String> = out
        .stdout
        .iter()
        .filter(|l| l.starts_with("lines/"))
        .collect();
    assert_eq!(got.len(), 1000, "{}", out.transcript());
    for (i, line) in got.iter().enumerate() {
        assert_eq!(**line, format!("lines/x line {i:04}"));
    }
    stop(broker);
}

#[test]
fn mosquitto_qos_1_is_acknowledged_and_delivered_at_qos_1() {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    let mut sub = mosquitto_sub(addr, "q/+", &["-q", "1"]);
    let mut sub0 = mosquitto_sub(addr, "q/#", &["-q", "0"]);
    mosquitto_pub(addr, &["-t", "q/one", "-m", "m1", "-q", "1"], b"");
    // The QoS 1 subscriber gets it at QoS 1 and acknowledges it; the QoS 0 one at 0.
    let line = sub.expect_line("PUBLISH", HANG_GUARD, |l| l.contains("received PUBLISH"));
    assert!(line.contains("q1") && line.contains("'q/one'"), "{line}");
    sub.expect_line("its PUBACK", HANG_GUARD, |l| l.contains("sending PUBACK"));
    assert_eq!(next_message(&mut sub), "q/one m1");
    let line = sub0.expect_line("PUBLISH", HANG_GUARD, |l| l.contains("received PUBLISH"));
    assert!(line.contains("q0"), "{line}");
    // QoS 2 at the publisher: delivered once, at the granted QoS 1.
    mosquitto_pub(addr, &["-t", "q/two", "-m", "m2", "-q", "2"], b"");
    let line = sub.expect_line("PUBLISH", HANG_GUARD, |l| l.contains("received PUBLISH"));
    assert!(line.contains("q1") && line.contains("'q/two'"), "{line}");
    assert_eq!(next_message(&mut sub), "q/two m2");
    drop((sub, sub0));
    stop(broker);
}

#[test]
fn mosquitto_retained_messages_reach_later_subscribers() {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    mosquitto_pub(addr, &["-t", "r/one", "-m", "kept", "-r"], b"");
    mosquitto_pub(addr, &["-t", "r/two", "-m", "cleared", "-r"], b"");
    mosquitto_pub(addr, &["-t", "r/two", "-n", "-r"], b"");
    mosquitto_pub(addr, &["-t", "r/three", "-m", "not retained"], b"");
    let mut sub = mosquitto_sub(addr, "r/#", &[]);
    let line = sub.expect_line("PUBLISH", HANG_GUARD, |l| l.contains("received PUBLISH"));
    assert!(line.contains("r1") && line.contains("'r/one'"), "{line}");
    assert_eq!(next_message(&mut sub), "r/one kept");
    // A live message has the retain flag clear, even if it was published retained.
    mosquitto_pub(addr, &["-t", "r/four", "-m", "live", "-r"], b"");
    let line = sub.expect_line("PUBLISH", HANG_GUARD, |l| l.contains("received PUBLISH"));
    assert!(line.contains("r0") && line.contains("'r/four'"), "{line}");
    assert_eq!(next_message(&mut sub), "r/four live");
    drop(sub);
    let mut later = mosquitto_sub(addr, "r/+", &[]);
    assert_eq!(next_message(&mut later), "r/four live");
    assert_eq!(next_message(&mut later), "r/one kept");
    drop(later);
    stop(broker);
}

#[test]
fn keep_alive_holds_with_pings_and_a_silent_client_is_closed() {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    // Silent after CONNECT with a keep-alive of 1 s: closed after 1.5 s.
    let mut silent = Conn::open(addr, "silent client");
    silent.send(&connect("silent", 1));
    assert_eq!(silent.packets(1), CONNACK_OK);
    // A client that pings every 5 s keeps its connection beyond 1.5 times that.
    let mut sub = mosquitto_sub(addr, "k/#", &["-k", "5"]);
    for _ in 0..2 {
        sub.expect_line("PINGRESP", HANG_GUARD, |l| l.contains("received PINGRESP"));
    }
    mosquitto_pub(addr, &["-t", "k/x", "-m", "still here"], b"");
    assert_eq!(next_message(&mut sub), "k/x still here");
    // By now the silent one is long closed.
    assert_eq!(silent.until_closed(), b"");
    drop(sub);
    let out = stop(broker);
    assert!(
        out.stderr.contains("client silent: nothing received for")
            && out
                .stderr
                .contains("one and a half times its keep-alive; closing"),
        "{}",
        out.transcript()
    );
}

// ===== paho-mqtt =====

fn have_paho() -> bool {
    peers::have_python_modules(&["paho.mqtt.client"])
}

const PAHO_COMMON: &str = r#"
import queue, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
TIMEOUT = 15

def client(cid, will=None):
    c = new_client(cid)
    got = queue.Queue()
    events = {k: threading.Event() for k in ("connect", "subscribe", "unsubscribe")}
    c.granted = []
    def on_connect(c, u, flags, rc):
        assert rc == 0, rc
        events["connect"].set()
    def on_subscribe(c, u, mid, granted):
        c.granted.append(list(granted))
        events["subscribe"].set()
    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_unsubscribe = lambda c, u, mid: events["unsubscribe"].set()
    c.on_message = lambda c, u, m: got.put((m.topic, bytes(m.payload), m.qos, int(m.retain)))
    if will:
        c.will_set(*will)
    c.connect(host, port, 30)
    c.loop_start()
    assert events["connect"].wait(TIMEOUT), "no CONNACK"
    def wait(what):
        assert events[what].wait(TIMEOUT), "no answer to " + what
        events[what].clear()
    def next_msg():
        return got.get(timeout=TIMEOUT)
    c.wait, c.next_msg = wait, next_msg
    return c
"#;

#[test]
fn paho_subscribe_publish_wildcards_and_unsubscribe() {
    if !have_paho() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    let script = format!(
        "{}{}{}",
        peers::PAHO_PRELUDE,
        PAHO_COMMON,
        r#"
sub = client("paho-sub")
sub.subscribe([("home/+/temp", 1), ("office/#", 0), ("bad/\u0000", 1)])
sub.wait("subscribe")
print("granted", sub.granted[0])
pub = client("paho-pub")
pub.publish("home/kitchen/temp", b"21", qos=1).wait_for_publish()
pub.publish("office/a/b", b"x", qos=0)
pub.publish("home/kitchen/humidity", b"no", qos=1)
pub.publish("office", b"parent", qos=1).wait_for_publish()
for _ in range(3):
    print("got", sub.next_msg())
sub.unsubscribe("office/#")
sub.wait("unsubscribe")
pub.publish("office/x", b"gone", qos=0)
pub.publish("home/hall/temp", b"fence", qos=0)
print("got", sub.next_msg())
# Its own message comes back to a client subscribed to the topic.
pub.subscribe("echo/#", 1)
pub.wait("subscribe")
pub.publish("echo/me", b"mine", qos=1)
print("echo", pub.next_msg())
pub.disconnect(); sub.disconnect()
"#
    );
    let out = peers::python_output(
        "paho",
        &script,
        &[addr.ip().to_string(), addr.port().to_string()],
        HANG_GUARD,
    );
    assert_eq!(
        out,
        "granted [1, 0, 128]\n\
         got ('home/kitchen/temp', b'21', 1, 0)\n\
         got ('office/a/b', b'x', 0, 0)\n\
         got ('office', b'parent', 0, 0)\n\
         got ('home/hall/temp', b'fence', 0, 0)\n\
         echo ('echo/me', b'mine', 1, 0)"
    );
    let out = stop(broker);
    assert!(
        out.stderr
            .contains("SUBSCRIBE to bad/\0: topic is not UTF-8 or holds U+0000"),
        "{}",
        out.transcript()
    );
}

#[test]
fn paho_will_is_published_when_a_client_vanishes_not_after_disconnect() {
    if !have_paho() {
        return;
    }
    let (broker, addr) = start_broker(&[]);
    let script = format!(
        "{}{}{}",
        peers::PAHO_PRELUDE,
        PAHO_COMMON,
        r#"
watch = client("watcher")
watch.subscribe("will/#", 1)
watch.wait("subscribe")
polite = client("polite", ("will/polite", b"should not come", 1, False))
polite.disconnect()
polite.loop_stop()
dying = client("dying", ("will/dying", b"gone", 1, True))
dying.loop_stop()
dying.socket().close()
print("will", watch.next_msg())
fence = client("fence")
fence.publish("will/fence", b"end", qos=1).wait_for_publish()
print("then", watch.next_msg())
# The will was retained.
late = client("late")
late.subscribe("will/+", 0)
late.wait("subscribe")
print("retained", late.next_msg())
"#
    );
    let out = peers::python_output(
        "paho",
        &script,
        &[addr.ip().to_string(), addr.port().to_string()],
        HANG_GUARD,
    );
    assert_eq!(
        out,
        "will ('will/dying', b'gone', 1, 0)\n\
         then ('will/fence', b'end', 1, 0)\n\
         retained ('will/dying', b'gone', 0, 1)"
    );
    stop(broker);
}

// ===== the same bytes as mosquitto =====

/// Plays one session of raw packets on the broker at `addr`; returns each step's name and
/// the bytes that came back.
fn transcript(addr: SocketAddr) -> Vec<(String, Vec<u8>)> {
    let mut steps = Vec::new();
    let mut step = |name: &str, bytes: Vec<u8>| steps.push((name.to_string(), bytes));
    let mut a = Conn::open(addr, "A");
    let mut b = Conn::open(addr, "B");
    a.send(&connect("client-a", 60));
    step("A CONNECT", a.packets(1));
    b.send(&connect("client-b", 0));
    step("B CONNECT", b.packets(1));
    a.send(&subscribe(1, &[("t/+", 0), ("q/#", 1)]));
    step("A SUBSCRIBE t/+ q/#", a.packets(1));
    b.send(&publish("t/x", b"zero", 0, 0, None));
    step("A gets QoS 0", a.packets(1));
    b.send(&publish("q/y", b"one", 1, 0, Some(7)));
    step("B PUBLISH QoS 1", b.packets(1));
    step("A gets QoS 1", a.packets(1));
    a.send(&puback(1));
    b.send(&publish("t/up", b"QoS 1 for QoS 0", 1, 0, Some(8)));
    step("B PUBLISH QoS 1 to QoS 0", b.packets(1));
    step("A gets it at QoS 0", a.packets(1));
    b.send(&publish("r/z", b"kept", 1, 1, Some(9)));
    step("B PUBLISH retained", b.packets(1));
    a.send(&subscribe(2, &[("r/#", 1)]));
    step(
        "A SUBSCRIBE r/#: SUBACK and the retained message",
        a.packets(2),
    );
    a.send(&puback(2));
    a.send(&publish("q/self", b"to myself", 1, 0, Some(10)));
    step("A PUBLISH to its own subscription", a.packets(2));
    a.send(&puback(3));
    a.send(&PINGREQ);
    step("A PINGREQ", a.packets(1));
    a.send(&unsubscribe(3, &["t/+"]));
    step("A UNSUBSCRIBE t/+", a.packets(1));
    b.send(&publish("t/x", b"unheard", 0, 0, None));
    b.send(&publish("q/fence", b"fence", 0, 0, None));
    step("A gets the fence only", a.packets(1));
    b.send(&publish("r/z", b"", 0, 1, None));
    step("A gets the empty retained message", a.packets(1));
    let mut c = Conn::open(addr, "C");
    c.send(&connect("client-c", 0));
    step("C CONNECT", c.packets(1));
    c.send(&subscribe(1, &[("r/#", 0)]));
    step("C SUBSCRIBE r/#: no retained message", c.packets(1));
    b.send(&publish("r/fence", b"fence", 0, 0, None));
    step("C gets the fence", c.packets(1));
    step("A gets the fence", a.packets(1));
    let mut d = Conn::open(addr, "D");
    let mut level3 = connect("client-d", 0);
    level3[8] = 3;
    d.send(&level3);
    step("D CONNECT level 3", d.until_closed());
    let mut e = Conn::open(addr, "E");
    let mut no_id_kept = connect("", 0);
    no_id_kept[9] = 0;
    e.send(&no_id_kept);
    step("E CONNECT empty id, no clean session", e.until_closed());
    // QoS 2 both ways.
    a.send(&subscribe(5, &[("x2/#", 2)]));
    step("A SUBSCRIBE x2/# at QoS 2", a.packets(1));
    b.send(&publish("x2/y", b"exactly once", 2, 0, Some(11)));
    step("B PUBLISH QoS 2: PUBREC", b.packets(1));
    b.send(&encode(mqtt::PubRel { packet_id: 11 }));
    step("B PUBREL: PUBCOMP", b.packets(1));
    step("A gets it at QoS 2", a.packets(1));
    a.send(&encode(mqtt::PubRec { packet_id: 4 }));
    step("A PUBREC: PUBREL", a.packets(1));
    a.send(&encode(mqtt::PubComp { packet_id: 4 }));
    // A will, published when its client vanishes.
    a.send(&subscribe(6, &[("w/#", 1)]));
    step("A SUBSCRIBE w/#", a.packets(1));
    let mut g = Conn::open(addr, "G");
    g.send(&connect_with_will("client-g", "w/g", b"bye", 1));
    step("G CONNECT with a will", g.packets(1));
    drop(g);
    step("A gets the will of G", a.packets(1));
    a.send(&puback(5));
    // A client id that connects again ends its earlier connection.
    let mut f = Conn::open(addr, "F");
    f.send(&connect("client-c", 0));
    step("F CONNECT as client-c", f.packets(1));
    step("C is closed", c.until_closed());
    for (name, mut conn) in [("A", a), ("B", b), ("F", f)] {
        conn.send(&DISCONNECT);
        step(&format!("{name} DISCONNECT"), conn.until_closed());
    }
    steps
}

#[test]
fn raw_transcript_gives_the_same_bytes_as_mosquitto() {
    let Some(mosquitto) = Mosquitto::start() else {
        return;
    };
    let theirs = transcript(mosquitto.addr());
    let (broker, addr) = start_broker(&[]);
    let ours = transcript(addr);
    assert_eq!(ours.len(), theirs.len());
    for ((step, got), (_, want)) in ours.iter().zip(&theirs) {
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "{step}: ours (left) and mosquitto's (right) differ"
        );
    }
    // Not empty: the comparison compared something.
    assert_eq!(theirs[0].1, CONNACK_OK);
    let qos2 = theirs
        .iter()
        .find(|(s, _)| s == "A gets it at QoS 2")
        .map(|(_, b)| b.clone());
    assert_eq!(
        qos2,
        Some(publish("x2/y", b"exactly once", 2, 0, Some(4)).to_vec())
    );
    assert_eq!(
        theirs
            .iter()
            .find(|(s, _)| s == "D CONNECT level 3")
            .map(|(_, b)| b.clone()),
        Some(vec![0x20, 2, 0, 1])
    );
    stop(broker);
}

// ===== bad input =====

/// A connected client that must keep being served: a PINGREQ gets its PINGRESP.
fn witness(addr: SocketAddr) -> Conn {
    let mut w = Conn::open(addr, "witness");
    w.send(&connect("witness", 0));
    assert_eq!(w.packets(1), CONNACK_OK);
    w
}

fn check_witness(w: &mut Conn, after: &str) {
    w.send(&PINGREQ);
    assert_eq!(w.packets(1), PINGRESP, "the witness after {after}");
}

#[test]
fn bad_input_closes_that_connection_only() {
    let (broker, addr) = start_broker(&["--max-payload", "1KiB"]);
    let mut w = witness(addr);
    let hello = connect("bad", 0);
    let after_connect = |rest: &[u8]| [&hello[..], rest].concat();
    let big = publish("big", &[b'x'; 1025], 0, 0, None);
    let cases: Vec<(&str, Vec<u8>, &[u8])> = vec![
        (
            "a payload over --max-payload",
            after_connect(&big),
            &CONNACK_OK,
        ),
        (
            "a remaining length over the largest packet",
            after_connect(&[0x30, 0xff, 0xff, 0xff, 0x7f]),
            &CONNACK_OK,
        ),
        (
            "a remaining length of five bytes",
            after_connect(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            &CONNACK_OK,
        ),
        (
            "a CONNECT whose remaining length is short",
            {
                let mut c = connect("short", 0);
                c[1] -= 3;
                c
            },
            b"",
        ),
        ("a bad packet type", after_connect(&[0xf0, 0]), &CONNACK_OK),
        ("packet type 0", after_connect(&[0x00, 0]), &CONNACK_OK),
        (
            "a truncated string",
            after_connect(&[0x82, 0x06, 0, 1, 0, 9, b'a', 0]),
            &CONNACK_OK,
        ),
        (
            "a PUBLISH before CONNECT",
            publish("a", b"early", 0, 0, None),
            b"",
        ),
        ("a second CONNECT", after_connect(&hello), &CONNACK_OK),
        (
            "a PUBLISH on a wildcard topic",
            after_connect(&publish("a/+", b"x", 0, 0, None)),
            &CONNACK_OK,
        ),
        (
            "a PUBLISH at QoS 3",
            after_connect(&[0x36, 5, 0, 1, b'a', 0, 1]),
            &CONNACK_OK,
        ),
        (
            "the wrong protocol name",
            {
                let mut c = connect("name", 0);
                c[4..8].copy_from_slice(b"MQTX");
                c
            },
            b"",
        ),
        (
            "a reserved CONNECT flag",
            {
                let mut c = connect("flag", 0);
                c[9] |= 1;
                c
            },
            b"",
        ),
    ];
    for (what, bytes, want) in &cases {
        let (got, closed) = support::send_bad(addr, bytes, false);
        assert!(
            closed,
            "{what}: the connection stayed open; got {}",
            got.escape_ascii()
        );
        assert_eq!(got, *want, "{what}");
        check_witness(&mut w, what);
    }
    // The limit is on the payload: 1 KiB passes.
    let mut ok = Conn::open(addr, "at the limit");
    ok.send(&connect("limit", 0));
    ok.send(&publish("big", &[b'x'; 1024], 1, 0, Some(1)));
    assert_eq!(ok.packets(2), [&CONNACK_OK[..], &[0x40, 2, 0, 1]].concat());
    // An invalid filter is refused in the SUBACK, and the connection goes on.
    ok.send(&subscribe(2, &[("a/#/b", 0), ("ok/+", 1), ("c+", 0)]));
    assert_eq!(ok.packets(1), [0x90, 5, 0, 2, 0x80, 1, 0x80]);
    check_witness(&mut ok, "invalid filters");
    let out = stop(broker);
    assert!(
        out.stderr
            .contains("with a payload of 1025 bytes, over the limit of 1024; closing"),
        "{}",
        out.transcript()
    );
    assert_eq!(
        out.stderr.matches("closing").count(),
        cases.len(),
        "one log line per bad connection\n{}",
        out.transcript()
    );
}

#[test]
fn a_subscriber_that_does_not_read_is_bounded() {
    let (broker, addr) = start_broker(&[]);
    let mut w = witness(addr);
    // Subscribed, and never reading again.
    let mut lazy0 = Conn::open(addr, "lazy QoS 0");
    lazy0.send(&connect("lazy0", 0));
    lazy0.send(&subscribe(1, &[("flood/0", 0)]));
    assert_eq!(
        lazy0.packets(2),
        [&CONNACK_OK[..], &[0x90, 3, 0, 1, 0]].concat()
    );
    let mut lazy1 = Conn::open(addr, "lazy QoS 1");
    lazy1.send(&connect("lazy1", 0));
    lazy1.send(&subscribe(1, &[("flood/1", 1)]));
    assert_eq!(
        lazy1.packets(2),
        [&CONNACK_OK[..], &[0x90, 3, 0, 1, 1]].concat()
    );
    let mut publisher = Conn::open(addr, "publisher");
    publisher.send(&connect("publisher", 0));
    assert_eq!(publisher.packets(1), CONNACK_OK);
    // 64 MiB at QoS 0: far more than the output limit and the kernel's buffers.
    let payload = vec![b'p'; 256 * 1024];
    for _ in 0..256 {
        publisher.send(&publish("flood/0", &payload, 0, 0, None));
    }
    publisher.send(&PINGREQ);
    assert_eq!(publisher.packets(1), PINGRESP);
    check_witness(&mut w, "the QoS 0 flood");
    // At QoS 1 the subscriber is disconnected instead.
    for i in 0..256u16 {
        publisher.send(&publish("flood/1", &payload, 1, 0, Some(i + 1)));
        assert_eq!(publisher.packets(1), puback(i + 1));
    }
    check_witness(&mut w, "the QoS 1 flood");
    // It gets what was queued, then the end of the stream.
    let rest = lazy1.until_closed();
    assert!(
        rest.len() > 1024 * 1024,
        "{} bytes before the close",
        rest.len()
    );
    // The QoS 0 subscriber is still connected, and reads again: some of its messages
    // were dropped.
    lazy0.send(&PINGREQ);
    let mut messages = 0;
    loop {
        let p = lazy0.packets(1);
        if p == PINGRESP {
            break;
        }
        assert_eq!(p[0], 0x30, "a QoS 0 PUBLISH");
        messages += 1;
    }
    assert!(messages < 256, "{messages} of 256 messages, none dropped");
    let out = stop(broker);
    assert!(
        out.stderr.contains("client lazy0: over") && out.stderr.contains("dropping QoS 0 messages"),
        "{}",
        out.transcript()
    );
    assert!(
        out.stderr.contains("client lazy1: over") && out.stderr.contains("disconnecting it"),
        "{}",
        out.transcript()
    );
}

#[test]
fn a_burst_of_messages_reaches_every_subscriber_in_order() {
    for backend in ["epoll", "poll", "select"] {
        burst(backend);
    }
}

/// 2,000 messages written at once, at QoS 0 and 1, to three subscribers, on `backend`.
fn burst(backend: &str) {
    let (broker, addr) = support::start_server("mqtt-broker", backend, &[] as &[&str]);
    let mut subs: Vec<Conn> = (0..3)
        .map(|i| {
            let mut s = Conn::open(addr, &format!("subscriber {i}"));
            s.send(&connect(&format!("burst-sub-{i}"), 0));
            s.send(&subscribe(1, &[("burst/+", i as u8 % 2)]));
            assert_eq!(s.packets(2)[..4], CONNACK_OK);
            s
        })
        .collect();
    let mut publisher = Conn::open(addr, "publisher");
    publisher.send(&connect("burst-pub", 0));
    assert_eq!(publisher.packets(1), CONNACK_OK);
    // Every message in one write: the broker reads many per event.
    let mut all = Vec::new();
    for i in 0..2000u32 {
        let qos = (i % 2) as u8;
        let id = (qos == 1).then_some((i / 2 + 1) as u16);
        all.extend(publish(
            &format!("burst/{}", i % 7),
            format!("m{i}").as_bytes(),
            qos,
            0,
            id,
        ));
    }
    publisher.send(&all);
    let _ = publisher.packets(1000);
    for (n, s) in subs.iter_mut().enumerate() {
        let mut dec = mqtt::ServerMessage::decoder();
        let bytes = s.packets(2000);
        let mut at = 0;
        let mut last_id = 0;
        for i in 0..2000u32 {
            let Ok(Decoded::Message { index, len }) =
                dec.decode(&bytes[at..], mqtt::SERVER_MESSAGES_ALL)
            else {
                panic!("subscriber {n}: message {i} does not decode");
            };
            let m = mqtt::ServerMessage::from_decoder(&dec, &bytes[at..at + len], index);
            let Some(mqtt::ServerMessage::Publish(p)) = m else {
                panic!("subscriber {n}: {m:?}");
            };
            assert_eq!(p.payload, format!("m{i}").as_bytes(), "subscriber {n}");
            assert_eq!(p.topic, format!("burst/{}", i % 7).as_bytes());
            assert_eq!(
                p.qos,
                (i % 2) as u8 & (n as u8 % 2),
                "subscriber {n}, message {i}"
            );
            if let Some(id) = p.packet_id {
                assert_eq!(id, last_id + 1, "packet identifiers in sequence");
                last_id = id;
            }
            at += len;
        }
    }
    stop(broker);
}

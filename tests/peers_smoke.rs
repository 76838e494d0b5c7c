//! The real peers of the MQTT and PostgreSQL tests work on this machine, with nothing of
//! ours in between: a Mosquitto broker started by `support::peers::Mosquitto` carries
//! messages between mosquitto's own clients and between paho-mqtt clients, and a
//! PostgreSQL server started by `support::peers::Postgres` answers `psql` and psycopg.
//!
//! Missing peers skip these tests (with a printed reason) unless
//! `ASYNCORE_REQUIRE_PEERS=1`.

mod support;

use std::net::TcpStream;
use std::process::Command;
use std::time::Instant;

use support::peers::{self, Mosquitto, Postgres, PAHO_PRELUDE};
use support::{Proc, HANG_GUARD};

fn start_mosquitto() -> Option<Mosquitto> {
    let started = Instant::now();
    // Subscriptions are logged too, so that a publisher can wait for them.
    let broker = Mosquitto::start_with("log_type subscribe\n")?;
    eprintln!(
        "mosquitto ready on {} in {:?}",
        broker.addr(),
        started.elapsed()
    );
    Some(broker)
}

fn start_postgres() -> Option<Postgres> {
    let started = Instant::now();
    let pg = Postgres::start()?;
    eprintln!("postgres ready on {} in {:?}", pg.addr(), started.elapsed());
    Some(pg)
}

#[test]
fn mosquitto_pub_reaches_mosquitto_sub() {
    if !peers::have_mosquitto_clients() {
        return;
    }
    let Some(broker) = start_mosquitto() else {
        return;
    };
    let port = broker.port().to_string();
    let topic = "asyncore/smoke/cli";
    let mut sub = Command::new("mosquitto_sub");
    sub.args(["-h", "127.0.0.1", "-p", &port, "-i", "asyncore-smoke-sub"])
        .args(["-t", topic, "-q", "1", "-C", "1", "-v", "-W", "20"]);
    let mut sub = Proc::spawn("mosquitto_sub", sub);
    // The broker logs `CLIENT-ID QOS TOPIC` once the subscription is made.
    broker.wait_for_log(&format!("asyncore-smoke-sub 1 {topic}"));

    let mut publish = Command::new("mosquitto_pub");
    publish
        .args(["-h", "127.0.0.1", "-p", &port, "-t", topic])
        .args(["-q", "1", "-m", "hello from mosquitto_pub"]);
    let out = support::run_named("mosquitto_pub", publish);
    assert!(out.success(), "mosquitto_pub failed\n{}", out.transcript());

    let out = sub.finish(HANG_GUARD);
    assert!(out.success(), "mosquitto_sub failed\n{}", out.transcript());
    assert!(
        out.stdout
            .iter()
            .any(|l| l == "asyncore/smoke/cli hello from mosquitto_pub"),
        "mosquitto_sub did not print the message\n{}",
        out.transcript()
    );
    let log = broker.log();
    assert!(
        log.contains("New client connected from 127.0.0.1"),
        "the broker's log shows no client:\n{log}"
    );
}

#[test]
fn paho_publishes_and_receives_through_mosquitto() {
    if !peers::have_python_modules(&["paho.mqtt.client"]) {
        return;
    }
    let Some(broker) = start_mosquitto() else {
        return;
    };
    // Subscribes, publishes once the subscription is granted, prints what comes back.
    let script = format!(
        "{PAHO_PRELUDE}
import sys
host, port = sys.argv[1], int(sys.argv[2])
topic = 'asyncore/smoke/paho'
client = new_client('asyncore-smoke-paho')
def on_connect(c, userdata, flags, rc):
    print('connack', rc)
    c.subscribe(topic, qos=1)
def on_subscribe(c, userdata, mid, granted_qos):
    print('suback', list(granted_qos))
    c.publish(topic, b'hello from paho', qos=1)
def on_message(c, userdata, msg):
    print('message', msg.topic, msg.payload.decode(), msg.qos)
    c.disconnect()
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, port, keepalive=30)
client.loop_forever()
"
    );
    let port = broker.port().to_string();
    let out = peers::python_output(
        "paho-mqtt client",
        &script,
        &["127.0.0.1", &port],
        HANG_GUARD,
    );
    assert_eq!(
        out,
        "connack 0\nsuback [1]\nmessage asyncore/smoke/paho hello from paho 1"
    );
    let log = broker.log();
    assert!(
        log.contains("as asyncore-smoke-paho"),
        "the broker's log does not show the paho client:\n{log}"
    );
}

#[test]
fn mosquitto_is_gone_after_drop() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    let (addr, pid, dir) = (broker.addr(), broker.pid(), broker.dir().to_path_buf());
    assert!(peers::mqtt_answers(addr));
    drop(broker);
    assert!(peers::pid_exited(pid), "mosquitto {pid} still runs");
    assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts");
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn psql_queries_postgres() {
    if !peers::have_psql() {
        return;
    }
    let Some(pg) = start_postgres() else {
        return;
    };
    assert_eq!(pg.psql("select 1"), "1");
    assert_eq!(
        pg.psql("select current_user, current_database(), current_setting('server_encoding')"),
        "postgres|postgres|UTF8"
    );
    assert_eq!(
        pg.psql(
            "create table t (id int primary key, name text); \
             insert into t values (1, 'one'), (2, 'two'); \
             select name from t order by id"
        ),
        "one\ntwo"
    );
    let version = pg.psql("show server_version");
    assert!(
        version.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "server_version: {version:?}"
    );
}

#[test]
fn psycopg_queries_postgres() {
    if !peers::have_python_modules(&["psycopg"]) {
        return;
    }
    let Some(pg) = start_postgres() else {
        return;
    };
    let script = "
import sys
import psycopg
with psycopg.connect(sys.argv[1]) as conn:
    with conn.cursor() as cur:
        cur.execute('create table kv (k text primary key, v int)')
        cur.executemany('insert into kv values (%s, %s)', [('a', 1), ('b', 41)])
        cur.execute('select sum(v) + %s from kv', (0,))
        print('sum', cur.fetchone()[0])
        cur.execute('select version()')
        print(cur.fetchone()[0].split()[0])
";
    let out = peers::python_output("psycopg client", script, &[pg.conninfo()], HANG_GUARD);
    assert_eq!(out, "sum 42\nPostgreSQL");
    // Committed when the connection block ended: another client sees it.
    if peers::have_psql() {
        assert_eq!(
            pg.psql("select k || '=' || v from kv order by k"),
            "a=1\nb=41"
        );
    }
}

#[test]
fn postgres_servers_are_independent_and_removed_on_drop() {
    if !peers::have_psql() {
        return;
    }
    let Some(one) = start_postgres() else {
        return;
    };
    let Some(two) = start_postgres() else {
        return;
    };
    assert_ne!(one.port(), two.port());
    one.psql("create table only_here (x int)");
    assert_eq!(
        one.psql("select count(*) from pg_tables where tablename = 'only_here'"),
        "1"
    );
    assert_eq!(
        two.psql("select count(*) from pg_tables where tablename = 'only_here'"),
        "0"
    );
    let (addr, pid, dir) = (one.addr(), one.pid(), one.dir().to_path_buf());
    drop(one);
    assert!(peers::pid_exited(pid), "postgres {pid} still runs");
    assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts");
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert_eq!(two.psql("select 2"), "2");
}

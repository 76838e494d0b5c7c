//! The PostgreSQL examples (`examples/pg_server.rs`, `examples/pg_client.rs`) against
//! real programs:
//!
//! * Debian's `psql` runs one script against `pg-server` and against a real PostgreSQL
//!   15 started here, unaligned (`-A -t`) and aligned (headers, column alignment by type,
//!   footers): the same output and the same errors (codes, messages, `LINE` and caret);
//!   a multi-statement `-c`; a script on standard input ending at `\q`; `sslmode`
//!   `prefer`, `disable` and `require`; cleartext passwords from `PGPASSWORD`, right and
//!   wrong; the database limits;
//! * Python's psycopg 3 runs simple queries (rows, Python types from the type OIDs, the
//!   exception class and SQLSTATE of errors, transactions); queries with parameters and
//!   prepared statements get `0A000` cleanly, and the connection goes on;
//! * `pg-client` against the real PostgreSQL prints exactly what `psql -A -t` prints
//!   (stdout, stderr and exit status), from standard input and from arguments; and
//!   against `pg-server` too;
//! * bad input gets what PostgreSQL sends for it, compared with the real server byte
//!   stream by byte stream where the two agree, and on every backend never a panic and
//!   never harm to another connection.
//!
//! The tests print `skipping: ...` and pass when a peer is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asyncore_examples::pg_server::pg;
use asyncore_runtime::wire::{Decoded, Seq};
use asyncore_runtime::Backend;

use support::peers::{self, Postgres};
use support::{pseudo_random, Finished, Proc, Witness, HANG_GUARD};

// ===== processes =====

fn start_pg_server(backend: Backend, extra: &[&str]) -> (Proc, SocketAddr) {
    support::start_server("pg-server", backend.name(), extra)
}

fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

/// The real PostgreSQL, or `None` (skip) when it or psql is missing.
fn real_postgres() -> Option<Postgres> {
    if !peers::have_psql() {
        return None;
    }
    Postgres::start()
}

/// `psql` as `Postgres::psql_command` runs it (no `.psqlrc`, `ON_ERROR_STOP`, user and
/// database `postgres`), for the server at `addr`.
fn psql(addr: SocketAddr) -> Command {
    let program = peers::pg_program("psql").expect("psql is installed");
    let mut cmd = Command::new(program);
    cmd.args(["-X", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-U", "postgres", "-d", "postgres"])
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD");
    cmd
}

/// What a program printed, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ran {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with `input` on its standard input, to its end (killed, and the test
/// failed, after [`HANG_GUARD`]).
fn run(mut cmd: Command, input: &str) -> Ran {
    let name = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + HANG_GUARD;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} still running after {HANG_GUARD:?}; killed it");
            }
            Err(e) => panic!("cannot wait for {name}: {e}"),
        }
    };
    let _ = writer.join();
    Ran {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned(),
    }
}

fn pg_client(addr: SocketAddr) -> Command {
    let mut cmd = Command::new(support::example_binary("pg-client"));
    cmd.args(["--connect", &addr.to_string()])
        .args(["--user", "postgres", "--database", "postgres"])
        .env_remove("PGPASSWORD");
    cmd
}

// ===== psql against pg-server and PostgreSQL =====

/// A script of what pg-server and PostgreSQL both do, errors included, run with
/// `ON_ERROR_STOP=0` so that every statement runs.
const SCRIPT: &str = r#"create table t (a text, b int, c bigint, d boolean, e varchar(5));
insert into t values ('x', 1, 10000000000, true, 'abc'), (NULL, 2, NULL, false, ''), ('', NULL, -3, NULL, NULL);
insert into t (b, a) values (4, 'four'), (5, 'five');
select * from t;
select a, b from t where b = 2;
select b, a from t where a = 'x';
select a from t where b > 1 and d is not null;
select * from t where a is null or b is null;
select 1, 'one', null, true, -2, 3.50, 'it''s', E'tab\there', $$dollar$$;
select b as "B", a as label from t where b <= 4 order by b desc;
select a, c from t order by c nulls first, b limit 3 offset 1;
delete from t where b = 4;
delete from t where a = 'nobody';
select * from nope;
create table t (z int);
select z from t;
insert into t (b) values ('abc');
insert into t (b) values ('99999999999');
insert into t (b) values (true);
insert into t (b) values (1, 2);
insert into t (nope) values (1);
select * from t where a = 5;
selec 1;
insert into t (e) values ('toolong');
create table n (a text not null, b int);
insert into n (b) values (1);
drop table if exists nope;
create table if not exists n (x int);
begin;
insert into t (a) values ('in block');
rollback;
select a from t where a = 'in block';
begin;
begin;
select * from nope;
select 1;
commit;
commit;
select 'x' where 1 = 1;
select 'a' where 1;
insert into t values ('y', 7); select * from nope;
select a from t where b = 7;

;
drop table t, n;
select * from t;
"#;

/// psql runs `script` on standard input against both servers, with `flags`: the same
/// output, the same errors, the same status.
fn same_psql_output(ours: SocketAddr, real: &Postgres, flags: &[&str], script: &str) {
    let mut on_ours = psql(ours);
    on_ours.args(flags);
    let mut on_real = real.psql_command();
    on_real.args(flags);
    let ours = run(on_ours, script);
    let theirs = run(on_real, script);
    assert_eq!(
        ours.stdout, theirs.stdout,
        "psql {flags:?}: pg-server's output (left) differs from PostgreSQL's (right)"
    );
    assert_eq!(
        ours.stderr, theirs.stderr,
        "psql {flags:?}: pg-server's errors (left) differ from PostgreSQL's (right)"
    );
    assert_eq!(ours.status, theirs.status, "psql {flags:?}: exit status");
}

#[test]
fn psql_prints_the_same_for_pg_server_and_postgres() {
    let Some(real) = real_postgres() else { return };
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    // Every statement runs, errors or not: unaligned rows and tags, then the aligned
    // tables (headers, numbers aligned right by their type, footers).
    same_psql_output(addr, &real, &["-v", "ON_ERROR_STOP=0", "-A", "-t"], SCRIPT);
    same_psql_output(addr, &real, &["-v", "ON_ERROR_STOP=0"], SCRIPT);
    // Stopping at the first error (exit status 3).
    same_psql_output(
        addr,
        &real,
        &["-A", "-t"],
        "create table s (a int);\ninsert into s values (1);\nselect * from nope;\nselect * from s;\n",
    );
    // One Query of several statements, as psql -c sends it: the results of each, and
    // an error that undoes the implicit transaction.
    for sql in [
        "create table m (a int); insert into m values (1), (2); select * from m; select 'two', 2",
        "insert into m values (3); select * from nope; select 'not run'",
        "select * from m",
        "insert into m values (4); rollback",
        "insert into m values (5); commit; select * from nope",
        "select * from m; drop table m; drop table s",
        "",
    ] {
        for flags in [&["-A", "-t", "-c", sql][..], &["-c", sql][..]] {
            same_psql_output(addr, &real, flags, "");
        }
    }
    stop(server);
}

#[test]
fn psql_reads_statements_from_stdin_up_to_backslash_q() {
    if !peers::have_psql() {
        return;
    }
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    let mut cmd = psql(addr);
    cmd.args(["-A", "-t"]);
    let out = run(
        cmd,
        "create table q (a text);\ninsert into q values ('one'),\n ('two');\nselect * from q\n;\n\\q\nselect 'after quit';\n",
    );
    assert_eq!(
        out.stdout, "CREATE TABLE\nINSERT 0 2\none\ntwo\n",
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
    // The table is in the database every connection shares.
    let mut cmd = psql(addr);
    cmd.args(["-A", "-t", "-c", "select * from q where a = 'two'"]);
    assert_eq!(run(cmd, "").stdout, "two\n");
    stop(server);
}

#[test]
fn psql_sslmode_prefer_falls_back_and_require_is_refused() {
    if !peers::have_psql() {
        return;
    }
    let (server, addr) = start_pg_server(Backend::Poll, &[]);
    let psql_with = |conninfo: String| {
        let program = peers::pg_program("psql").expect("psql is installed");
        let mut cmd = Command::new(program);
        cmd.args(["-X", "-A", "-t", "-c", "select 'connected'", &conninfo])
            .env_remove("PGSSLMODE")
            .env_remove("PGPASSWORD");
        run(cmd, "")
    };
    let base = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        addr.port()
    );
    // prefer (the default) sends SSLRequest, gets N and goes on in the clear.
    for mode in ["", " sslmode=prefer", " sslmode=disable", " sslmode=allow"] {
        let out = psql_with(format!("{base}{mode}"));
        assert_eq!(out.stdout, "connected\n", "sslmode{mode:?}: {out:?}");
        assert_eq!(out.status, 0, "{out:?}");
    }
    // require: the N answer means no TLS, and psql gives up.
    let out = psql_with(format!("{base} sslmode=require"));
    assert_eq!(out.status, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("server does not support SSL, but SSL was required"),
        "{out:?}"
    );
    stop(server);
}

#[test]
fn psql_cleartext_password_right_and_wrong() {
    if !peers::have_psql() {
        return;
    }
    let (server, addr) = start_pg_server(Backend::Select, &["--password", "s3cret pass"]);
    let with_password = |pw: Option<&str>| {
        let mut cmd = psql(addr);
        cmd.args(["-w", "-A", "-t", "-c", "select 'in'"]);
        if let Some(pw) = pw {
            cmd.env("PGPASSWORD", pw);
        }
        run(cmd, "")
    };
    let out = with_password(Some("s3cret pass"));
    assert_eq!((out.status, out.stdout.as_str()), (0, "in\n"), "{out:?}");
    let out = with_password(Some("wrong"));
    assert_eq!(out.status, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("FATAL:  password authentication failed for user \"postgres\""),
        "{out:?}"
    );
    let out = with_password(None);
    assert_eq!(out.status, 2, "{out:?}");
    assert!(out.stderr.contains("no password supplied"), "{out:?}");
    // pg-client too.
    let mut cmd = pg_client(addr);
    cmd.args(["--password", "s3cret pass", "select 'in'"]);
    assert_eq!(run(cmd, "").stdout, "in\n");
    let mut cmd = pg_client(addr);
    cmd.env("PGPASSWORD", "nope").arg("select 'in'");
    let out = run(cmd, "");
    assert_eq!(out.status, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("FATAL:  password authentication failed for user \"postgres\""),
        "{out:?}"
    );
    stop(server);
}

#[test]
fn limits_are_errors_53400() {
    if !peers::have_psql() {
        return;
    }
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    let mut sql = String::new();
    for i in 0..1001 {
        sql.push_str(&format!("create table lim{i} (a int);\n"));
    }
    let mut cmd = psql(addr);
    cmd.args(["-A", "-t", "-c", &sql]);
    let out = run(cmd, "");
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr
            .starts_with("ERROR:  too many tables: this server holds at most 1000\n"),
        "{out:?}"
    );
    // The failed query string was one transaction: none of its tables remain.
    let mut cmd = psql(addr);
    cmd.args(["-A", "-t", "-c", "select * from lim0"]);
    assert!(run(cmd, "")
        .stderr
        .contains("relation \"lim0\" does not exist"));
    // A value over 256 KiB (sent on standard input: an argument is at most 128 KiB).
    let big = "v".repeat(300 * 1024);
    let mut cmd = psql(addr);
    cmd.args(["-A", "-t"]);
    let out = run(
        cmd,
        &format!("create table big (a text);\ninsert into big values ('{big}');\n"),
    );
    assert_eq!(out.status, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("ERROR:  value of 307200 bytes is over this server's limit of 262144 bytes"),
        "{}",
        &out.stderr[..out.stderr.len().min(300)]
    );
    stop(server);
}

// ===== psycopg =====

const PSYCOPG_SCRIPT: &str = r#"
import sys
import psycopg
from psycopg import errors

conninfo = sys.argv[1]
with psycopg.connect(conninfo, autocommit=True) as conn:
    print("version", conn.info.server_version, conn.info.parameter_status("server_encoding"))
    cur = conn.execute("SELECT 1, 'a', NULL, true, 2.5, 3000000000")
    print("row", cur.fetchall(), [d.type_code for d in cur.description])
    conn.execute("CREATE TABLE p (a text, b int)")
    cur = conn.execute("INSERT INTO p VALUES ('x', 1), ('y', NULL), (NULL, 3)")
    print("insert", cur.rowcount, cur.statusmessage)
    print("where", conn.execute("SELECT * FROM p WHERE b = 1").fetchall())
    cur = conn.execute("SELECT a, b FROM p")
    print("all", cur.fetchall(), cur.rowcount, [d.name for d in cur.description])
    for sql, cls in [
        ("SELECT * FROM nope", errors.UndefinedTable),
        ("SELEC 1", errors.SyntaxError),
        ("INSERT INTO p (b) VALUES ('z')", errors.InvalidTextRepresentation),
        ("CREATE TABLE p (c int)", errors.DuplicateTable),
        ("SELECT zz FROM p", errors.UndefinedColumn),
    ]:
        try:
            conn.execute(sql)
            print("no error", sql)
        except cls as e:
            print("error", type(e).__name__, e.sqlstate, e.diag.message_primary)
    try:
        conn.execute("SELECT %s, %s", (1, "a"))
        print("no error with parameters")
    except errors.FeatureNotSupported as e:
        print("parameters", e.sqlstate, e.diag.message_primary)
    try:
        conn.execute("SELECT 1", prepare=True)
        print("no error with prepare")
    except errors.FeatureNotSupported as e:
        print("prepare", e.sqlstate, e.diag.message_primary)
    print("after", conn.execute("SELECT 'still here'").fetchone())
    print("empty", conn.execute("").statusmessage)

with psycopg.connect(conninfo) as conn:
    conn.execute("INSERT INTO p VALUES ('tx', 9)")
    print("status", conn.info.transaction_status.name)
    conn.rollback()
    print("rolled back", conn.execute("SELECT * FROM p WHERE b = 9").fetchall())
    conn.execute("INSERT INTO p VALUES ('tx', 9)")
    conn.commit()
    try:
        conn.execute("SELECT %s", ("x",))
    except errors.FeatureNotSupported:
        print("failed block", conn.info.transaction_status.name)
    try:
        conn.execute("SELECT 1")
    except errors.InFailedSqlTransaction as e:
        print("in failed block", e.sqlstate)
    conn.rollback()
    print("committed", conn.execute("SELECT * FROM p WHERE b = 9").fetchall())
    conn.execute("DROP TABLE p")
    conn.commit()
"#;

#[test]
fn psycopg_simple_queries_errors_and_refused_parameters() {
    if !peers::have_python_modules(&["psycopg"]) {
        return;
    }
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=10",
        addr.port()
    );
    let out = peers::python_output("psycopg", PSYCOPG_SCRIPT, &[conninfo], HANG_GUARD);
    let want = [
        "version 150000 UTF8",
        "row [(1, 'a', None, True, Decimal('2.5'), 3000000000)] [23, 25, 25, 16, 1700, 20]",
        "insert 3 INSERT 0 3",
        "where [('x', 1)]",
        "all [('x', 1), ('y', None), (None, 3)] 3 ['a', 'b']",
        "error UndefinedTable 42P01 relation \"nope\" does not exist",
        "error SyntaxError 42601 syntax error at or near \"SELEC\"",
        "error InvalidTextRepresentation 22P02 invalid input syntax for type integer: \"z\"",
        "error DuplicateTable 42P07 relation \"p\" already exists",
        "error UndefinedColumn 42703 column \"zz\" does not exist",
        "parameters 0A000 extended query protocol not supported",
        "prepare 0A000 extended query protocol not supported",
        "after ('still here',)",
        "empty None",
        "status INTRANS",
        "rolled back []",
        "failed block INERROR",
        "in failed block 25P02",
        "committed [('tx', 9)]",
    ];
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        want,
        "psycopg's output:\n{out}"
    );
    stop(server);
}

// ===== pg-client =====

/// A script for `ON_ERROR_STOP=1`: NULLs, empty strings, several statements on a line
/// and over lines, semicolons in strings and comments, a transaction.
const CLIENT_SCRIPT: &str = "create table c (a text, b int);
insert into c values ('x', 1), (NULL, 2), ('', NULL), ('semi;colon', 3); select * from c;
-- a comment; not a statement
select a
  from c
  where b = 3;
select 'a|b', $$x;y$$, E'two\\nlines', null, '' /* c; */;
begin; delete from c where b is null; rollback;
select count_me from c where false;
select * from c where b >= 2 order by b;
";

/// Runs `script` with pg-client, then with `psql -A -t`, each after dropping the tables
/// the scripts make and running `setup` (with psql).
fn both_clients(
    addr: SocketAddr,
    psql_cmd: impl Fn() -> Command,
    setup: &str,
    script: &str,
) -> (Ran, Ran) {
    let prepare = || {
        let mut cmd = psql_cmd();
        cmd.args([
            "-q",
            "-c",
            &format!("drop table if exists c; drop table if exists a; {setup}"),
        ]);
        let out = run(cmd, "");
        assert_eq!(out.status, 0, "setting up: {out:?}");
    };
    prepare();
    let client = run(pg_client(addr), script);
    prepare();
    let mut p = psql_cmd();
    p.args(["-A", "-t"]);
    let psql_out = run(p, script);
    (client, psql_out)
}

/// The table `c` as [`CLIENT_SCRIPT`] leaves it.
const TABLE_C: &str = "create table c (a text, b int); \
    insert into c values ('x', 1), (NULL, 2), ('', NULL), ('semi;colon', 3)";

#[test]
fn pg_client_prints_what_psql_prints_against_postgres() {
    let Some(real) = real_postgres() else { return };
    let psql_real = || real.psql_command();
    // A script with an error: psql stops with status 3, and so does pg-client.
    let (client, psql_out) = both_clients(real.addr(), psql_real, "", CLIENT_SCRIPT);
    assert_eq!(client, psql_out, "pg-client (left) and psql -A -t (right)");
    assert_eq!(client.status, 3);
    assert!(client.stdout.contains("\n|2\n|\n"), "{client:?}");
    assert!(
        client.stderr.starts_with(
            "ERROR:  column \"count_me\" does not exist\nLINE 1: select count_me from c where false;\n"
        ),
        "{client:?}"
    );
    // The rest, without the error.
    let rest = "select * from c where b >= 2 order by b;\ndrop table c;\nselect 1\n";
    let (client, psql_out) = both_clients(real.addr(), psql_real, TABLE_C, rest);
    assert_eq!(client, psql_out, "pg-client (left) and psql -A -t (right)");
    assert_eq!(client.status, 0);
    // Arguments, each one query as psql -c: status 1 on an error.
    let queries = [
        "create table a (x int); insert into a values (1), (NULL)",
        "select * from a; select 'two'",
        "select nope from a",
        "drop table a",
    ];
    let mut client = pg_client(real.addr());
    client.args(queries);
    let client = run(client, "");
    let mut cleanup = real.psql_command();
    cleanup.args(["-c", "drop table a"]);
    assert_eq!(run(cleanup, "").status, 0);
    let mut p = real.psql_command();
    p.args(["-A", "-t"]);
    for q in queries {
        p.args(["-c", q]);
    }
    let psql_out = run(p, "");
    assert_eq!(
        client, psql_out,
        "pg-client (left) and psql -A -t -c ... (right)"
    );
    assert_eq!(client.status, 1);
}

#[test]
fn pg_client_against_pg_server() {
    if !peers::have_psql() {
        return;
    }
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    let psql_ours = || psql(addr);
    // The same as psql against the same server.
    let (client, psql_out) = both_clients(addr, psql_ours, "", CLIENT_SCRIPT);
    assert_eq!(client, psql_out, "pg-client (left) and psql -A -t (right)");
    assert_eq!(client.status, 3);
    let (client, psql_out) = both_clients(
        addr,
        psql_ours,
        TABLE_C,
        "select * from c order by a;\ndrop table c;\n\\q\nselect 'not run';\n",
    );
    assert_eq!(client, psql_out, "pg-client (left) and psql -A -t (right)");
    assert_eq!(client.stdout, "|\nsemi;colon|3\nx|1\n|2\nDROP TABLE\n");
    // An unknown backslash command stops a script, as in psql.
    let (client, psql_out) = both_clients(addr, psql_ours, "", "select 1;\n\\nope\nselect 2;\n");
    assert_eq!((client.status, client.stdout.as_str()), (3, "1\n"));
    assert_eq!(client, psql_out);
    // A connection refused is status 2.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let out = run(pg_client(closed), "");
    assert_eq!(out.status, 2, "{out:?}");
    assert!(out.stderr.contains("failed: "), "{out:?}");
    stop(server);
}

// ===== raw protocol =====

fn startup(params: &[(&str, &str)]) -> Vec<u8> {
    let params: Vec<pg::StartupParams<'_>> = params
        .iter()
        .map(|(n, v)| pg::StartupParams {
            name: n.as_bytes(),
            value: v.as_bytes(),
        })
        .collect();
    let mut out = Vec::new();
    pg::Startup {
        params: Seq::from(&params[..]),
    }
    .encode(&mut out)
    .expect("encode a StartupMessage");
    out
}

fn login() -> Vec<u8> {
    startup(&[("user", "postgres"), ("database", "postgres")])
}

fn encode<'m>(msg: impl Into<pg::ClientMessage<'m>>) -> Vec<u8> {
    let mut out = Vec::new();
    msg.into().encode(&mut out).expect("encode a message");
    out
}

fn query(sql: &str) -> Vec<u8> {
    encode(pg::Query {
        sql: sql.as_bytes(),
    })
}

/// What the server sent, message by message: `answer N`, `auth ok`, `ready I`,
/// `row x|NULL`, `complete TAG`, `error SEVERITY CODE MESSAGE`...
#[derive(Debug, Default)]
struct Replies {
    messages: Vec<String>,
    closed: bool,
}

impl Replies {
    /// The messages without the details that differ between servers (parameter values,
    /// the backend key).
    fn kinds(&self) -> Vec<String> {
        self.messages
            .iter()
            .map(|m| {
                if m.starts_with("parameter ") {
                    "parameter".to_string()
                } else if m.starts_with("key ") {
                    "key".to_string()
                } else {
                    m.clone()
                }
            })
            .collect()
    }
}

fn summary(m: &pg::ServerMessage<'_>) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let fields = |f: &mut dyn Iterator<Item = (u8, Vec<u8>)>| {
        let mut s = String::new();
        let mut c = String::new();
        let mut msg = String::new();
        for (code, v) in f {
            match code {
                b'S' => s = text(&v),
                b'C' => c = text(&v),
                b'M' => msg = text(&v),
                _ => {}
            }
        }
        format!("{s} {c} {msg}")
    };
    match m {
        pg::ServerMessage::EncryptionAnswer(a) => format!("answer {}", text(a.answer)),
        pg::ServerMessage::AuthOk(_) => "auth ok".into(),
        pg::ServerMessage::AuthCleartext(_) => "auth cleartext".into(),
        pg::ServerMessage::ParameterStatus(p) => {
            format!("parameter {}={}", text(p.name), text(p.value))
        }
        pg::ServerMessage::BackendKeyData(k) => format!("key {} {}", k.pid, k.key),
        pg::ServerMessage::ReadyForQuery(r) => format!("ready {}", text(r.status)),
        pg::ServerMessage::RowDescription(d) => {
            let cols: Vec<String> = d
                .columns
                .iter()
                .map(|c| format!("{}:{}", text(c.name), c.type_oid))
                .collect();
            format!("columns {}", cols.join(","))
        }
        pg::ServerMessage::DataRow(r) => {
            let vals: Vec<String> = r
                .values
                .iter()
                .map(|v| v.value.map_or("NULL".into(), text))
                .collect();
            format!("row {}", vals.join("|"))
        }
        pg::ServerMessage::CommandComplete(c) => format!("complete {}", text(c.tag)),
        pg::ServerMessage::EmptyQueryResponse(_) => "empty".into(),
        pg::ServerMessage::ErrorResponse(e) => format!(
            "error {}",
            fields(&mut e.fields.iter().map(|f| (f.code, f.value.to_vec())))
        ),
        pg::ServerMessage::NoticeResponse(e) => format!(
            "notice {}",
            fields(&mut e.fields.iter().map(|f| (f.code, f.value.to_vec())))
        ),
        other => format!("other {}", other.name()),
    }
}

/// The index of `EncryptionAnswer`, read only when expected.
fn answer_index() -> u16 {
    pg::ServerMessage::decoder()
        .program()
        .messages
        .iter()
        .position(|m| m.name == "EncryptionAnswer")
        .expect("pg.proto has EncryptionAnswer") as u16
}

/// A raw connection that reads the server's messages with the generated decoder.
struct Conn {
    s: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
    dec: asyncore_runtime::wire::Decoder,
    out: Replies,
    deadline: Instant,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        Conn {
            s,
            addr,
            buf: Vec::new(),
            dec: pg::ServerMessage::decoder(),
            out: Replies::default(),
            deadline: Instant::now() + HANG_GUARD,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        // The server may close before taking everything: a reset here is fine.
        let _ = self.s.write_all(bytes);
    }

    /// Reads messages until the server closes or `done` says the last one came (the
    /// test fails after [`HANG_GUARD`]); the first `answers` messages of the connection
    /// are one-byte answers.
    fn read_until(&mut self, answers: usize, done: impl Fn(&[String]) -> bool) {
        let answer = [answer_index()];
        let addr = self.addr;
        loop {
            loop {
                let allowed: &[u16] = if self.out.messages.len() < answers {
                    &answer
                } else {
                    pg::SERVER_MESSAGES_ALL
                };
                match pg::ServerMessage::decode(&mut self.dec, &self.buf, allowed) {
                    Ok(Decoded::Message { index, len }) => {
                        let m = pg::ServerMessage::from_decoder(&self.dec, &self.buf[..len], index)
                            .expect("a decoded message");
                        self.out.messages.push(summary(&m));
                        self.buf.drain(..len);
                    }
                    Ok(Decoded::Skip { len }) => {
                        self.buf.drain(..len);
                    }
                    Ok(Decoded::NeedMore) => break,
                    Err(e) => panic!(
                        "{addr} sent something that is no message: {e}\nso far: {:?}",
                        self.out
                    ),
                }
            }
            if done(&self.out.messages) {
                return;
            }
            if !support::read_more(&mut self.s, &mut self.buf, self.deadline, &addr.to_string()) {
                self.out.closed = true;
                assert!(
                    self.buf.is_empty(),
                    "{addr} closed in the middle of a message: {:?}",
                    self.buf
                );
                return;
            }
        }
    }
}

/// Sends `bytes` on a new connection to `addr` and reads the server's messages until it
/// closes or `done` says the last one came; `answers` one-byte answers come first.
fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    answers: usize,
    done: impl Fn(&[String]) -> bool,
) -> Replies {
    let mut c = Conn::new(addr);
    c.send(bytes);
    c.read_until(answers, done);
    c.out
}

/// Reads until the server closes.
fn until_close(_: &[String]) -> bool {
    false
}

/// Reads until the `n`th ReadyForQuery.
fn ready(n: usize) -> impl Fn(&[String]) -> bool {
    move |m: &[String]| m.iter().filter(|m| m.starts_with("ready ")).count() >= n
}

fn logged_in(rest: &[u8]) -> Vec<u8> {
    let mut b = login();
    b.extend_from_slice(rest);
    b
}

/// The messages after the session's first ReadyForQuery.
fn after_login(r: &Replies) -> Vec<String> {
    let first = r
        .messages
        .iter()
        .position(|m| m.starts_with("ready "))
        .unwrap_or_else(|| panic!("no ReadyForQuery after the login: {r:?}"));
    r.messages[first + 1..].to_vec()
}

#[test]
fn startup_sequence_and_encryption_answers_match_postgres() {
    let Some(real) = real_postgres() else { return };
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    // SSLRequest, its answer, then the StartupMessage (PostgreSQL refuses data sent
    // before the answer).
    let login_after_ssl = |addr: SocketAddr| {
        let mut c = Conn::new(addr);
        c.send(&encode(pg::SslRequest {}));
        c.read_until(1, |m| !m.is_empty());
        c.send(&login());
        c.read_until(1, ready(1));
        c.out
    };
    let ours = login_after_ssl(addr);
    let theirs = login_after_ssl(real.addr());
    assert_eq!(ours.kinds(), theirs.kinds());
    assert_eq!(ours.messages[..2], ["answer N", "auth ok"]);
    // GSSENCRequest: no, as a server without GSSAPI answers (PostgreSQL built with it
    // says G, and expects a GSSAPI exchange). pg-server takes the requests pipelined.
    let mut gss = encode(pg::GssEncRequest {});
    gss.extend(encode(pg::SslRequest {}));
    gss.extend(login());
    let again = exchange(addr, &gss, 2, ready(1));
    assert_eq!(again.messages[..3], ["answer N", "answer N", "auth ok"]);
    // The same parameters, in the same order; the values PostgreSQL's build decides
    // (its version) differ.
    let params: Vec<&String> = ours
        .messages
        .iter()
        .filter(|m| m.starts_with("parameter ") && !m.contains("server_version="))
        .collect();
    let real_params: Vec<&String> = theirs
        .messages
        .iter()
        .filter(|m| m.starts_with("parameter ") && !m.contains("server_version="))
        .collect();
    assert_eq!(params, real_params);
    assert!(ours
        .messages
        .contains(&"parameter server_version=15.0".to_string()));
    stop(server);
}

/// A case of bad input: the bytes, whether to log in first, and what comes back.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Log in first.
    after_login: bool,
    /// What pg-server answers, after the login if any, and whether it closes.
    ours: (&'static [&'static str], bool),
}

fn probe() -> Vec<u8> {
    query("select 'alive'")
}

const ALIVE: &[&str] = &[
    "columns ?column?:25",
    "row alive",
    "complete SELECT 1",
    "ready I",
];

fn cases() -> Vec<Case> {
    let typed = |kind: u8, len: u32, body: &[u8]| {
        let mut b = vec![kind];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(body);
        b
    };
    let untyped = |len: u32, body: &[u8]| {
        let mut b = len.to_be_bytes().to_vec();
        b.extend_from_slice(body);
        b
    };
    let then = |mut a: Vec<u8>, b: Vec<u8>| {
        a.extend(b);
        a
    };
    vec![
        Case {
            name: "a startup packet of protocol 4.0",
            bytes: untyped(9, &[0, 4, 0, 0, 0]),
            after_login: false,
            ours: (
                &["error FATAL 0A000 unsupported frontend protocol: server supports 3.0 to 3.0"],
                true,
            ),
        },
        Case {
            name: "an unknown request code",
            bytes: untyped(8, &[0x04, 0xd2, 0x16, 0x31]),
            after_login: false,
            ours: (
                &["error FATAL 0A000 unsupported frontend protocol: server supports 3.0 to 3.0"],
                true,
            ),
        },
        Case {
            name: "a startup packet without a user",
            bytes: startup(&[("database", "postgres")]),
            after_login: false,
            ours: (
                &["error FATAL 28000 no PostgreSQL user name specified in startup packet"],
                true,
            ),
        },
        Case {
            name: "a cancel request",
            bytes: encode(pg::CancelRequest { pid: 1, key: 2 }),
            after_login: false,
            ours: (&[], true),
        },
        Case {
            name: "a startup packet over 10,000 bytes",
            bytes: untyped(20_000, &[0, 3, 0, 0]),
            after_login: false,
            ours: (
                &["error FATAL 08P01 invalid length of startup packet"],
                true,
            ),
        },
        Case {
            name: "an unknown message type",
            bytes: typed(b'?', 4, b""),
            after_login: true,
            ours: (&["error FATAL 08P01 invalid frontend message type"], true),
        },
        Case {
            name: "a password message after the login",
            bytes: encode(pg::Password { password: b"x" }),
            after_login: true,
            ours: (&["error FATAL 08P01 invalid frontend message type"], true),
        },
        Case {
            name: "a length below 4",
            bytes: typed(b'Q', 2, b""),
            after_login: true,
            ours: (&["error FATAL 08P01 invalid message length"], true),
        },
        Case {
            name: "a query string without its NUL",
            bytes: then(typed(b'Q', 7, b"abc"), probe()),
            after_login: true,
            ours: (
                &[
                    "error ERROR 08P01 invalid string in message",
                    "ready I",
                    "columns ?column?:25",
                    "row alive",
                    "complete SELECT 1",
                    "ready I",
                ],
                false,
            ),
        },
        Case {
            name: "bytes after the query string",
            bytes: then(typed(b'Q', 9, b"ab\0cd"), probe()),
            after_login: true,
            ours: (
                &[
                    "error ERROR 08P01 invalid message format",
                    "ready I",
                    "columns ?column?:25",
                    "row alive",
                    "complete SELECT 1",
                    "ready I",
                ],
                false,
            ),
        },
        Case {
            name: "a Sync with a body",
            bytes: then(typed(b'S', 5, b"x"), probe()),
            after_login: true,
            ours: (
                &[
                    "error ERROR 08P01 invalid message format",
                    "ready I",
                    "columns ?column?:25",
                    "row alive",
                    "complete SELECT 1",
                    "ready I",
                ],
                false,
            ),
        },
    ]
}

/// Where PostgreSQL closes without a word, pg-server says why first.
const POSTGRES_SILENT: &[&str] = &["a startup packet over 10,000 bytes", "a length below 4"];

#[test]
fn bad_input_gets_what_postgres_sends() {
    let Some(real) = real_postgres() else { return };
    let (server, addr) = start_pg_server(Backend::Epoll, &[]);
    for case in cases() {
        let bytes = if case.after_login {
            logged_in(&case.bytes)
        } else {
            case.bytes.clone()
        };
        let done = |m: &[String]| {
            // The cases that go on end with the probe's ReadyForQuery.
            m.iter().filter(|m| m.starts_with("ready ")).count() >= 3
        };
        let ours = exchange(addr, &bytes, 0, done);
        let theirs = exchange(real.addr(), &bytes, 0, done);
        let (ours_after, theirs_after) = if case.after_login {
            (after_login(&ours), after_login(&theirs))
        } else {
            (ours.messages.clone(), theirs.messages.clone())
        };
        let want: Vec<String> = case.ours.0.iter().map(|s| s.to_string()).collect();
        assert_eq!(ours_after, want, "{}: pg-server's answer", case.name);
        assert_eq!(ours.closed, case.ours.1, "{}: pg-server closed", case.name);
        assert_eq!(
            theirs.closed, ours.closed,
            "{}: PostgreSQL closed",
            case.name
        );
        if POSTGRES_SILENT.contains(&case.name) {
            assert!(
                theirs_after.is_empty(),
                "{}: PostgreSQL said {theirs_after:?}",
                case.name
            );
            continue;
        }
        // The same messages; PostgreSQL's texts may say more (the message type, the
        // version it got).
        assert_eq!(
            ours_after.len(),
            theirs_after.len(),
            "{}: {ours_after:?} / {theirs_after:?}",
            case.name
        );
        for (o, t) in ours_after.iter().zip(&theirs_after) {
            let o = o.trim_end_matches(": server supports 3.0 to 3.0");
            let o = o.trim_end_matches("unsupported frontend protocol");
            assert!(
                t.starts_with(o),
                "{}: pg-server's {o:?}, PostgreSQL's {t:?}",
                case.name
            );
        }
    }
    stop(server);
}

/// A connection that must keep being served through the bad input.
fn witness(addr: SocketAddr) -> Witness {
    Witness::new(addr, |w, after| {
        if w.n == 1 {
            w.stream.write_all(&login()).expect("witness login");
            let mut seen = Vec::new();
            while !seen.ends_with(b"Z\0\0\0\x05I") {
                let mut b = [0u8; 4096];
                let n = w.stream.read(&mut b).expect("witness login reply");
                assert!(n > 0, "the witness's login");
                seen.extend_from_slice(&b[..n]);
            }
        }
        let sql = format!("select {}", w.n);
        let mut want = Vec::new();
        let cols = [pg::RowDescriptionColumns {
            name: b"?column?",
            table: 0,
            column: 0,
            type_oid: 23,
            type_size: 4,
            type_modifier: -1,
            format: 0,
        }];
        let n = w.n.to_string();
        let vals = [pg::DataRowValues {
            value: Some(n.as_bytes()),
        }];
        for m in [
            pg::ServerMessage::from(pg::RowDescription {
                columns: Seq::from(&cols[..]),
            }),
            pg::ServerMessage::from(pg::DataRow {
                values: Seq::from(&vals[..]),
            }),
            pg::ServerMessage::from(pg::CommandComplete { tag: b"SELECT 1" }),
            pg::ServerMessage::from(pg::ReadyForQuery { status: b"I" }),
        ] {
            m.encode(&mut want).expect("encode the expected reply");
        }
        w.exchange(&query(&sql), &want, after);
    })
}

on_every_backend!(bad_input_never_harms_other_connections);

fn bad_input_never_harms_other_connections(backend: Backend) {
    let (server, addr) = start_pg_server(backend, &[]);
    let mut witness = witness(addr);
    witness.check("the start");
    for case in cases() {
        let bytes = if case.after_login {
            logged_in(&case.bytes)
        } else {
            case.bytes.clone()
        };
        let r = exchange(addr, &bytes, 0, ready(3));
        let got = if case.after_login {
            after_login(&r)
        } else {
            r.messages.clone()
        };
        let want: Vec<String> = case.ours.0.iter().map(|s| s.to_string()).collect();
        assert_eq!((got, r.closed), (want, case.ours.1), "{}", case.name);
        witness.check(case.name);
    }
    // A frame over the 1 MiB limit: refused as soon as its length is read.
    let mut big = vec![b'Q'];
    big.extend_from_slice(&(2u32 * 1024 * 1024).to_be_bytes());
    big.extend_from_slice(&[b'x'; 1000]);
    let r = exchange(addr, &logged_in(&big), 0, until_close);
    assert_eq!(
        after_login(&r),
        ["error FATAL 08P01 invalid message length"]
    );
    assert!(r.closed);
    witness.check("a frame over the limit");
    // A 2.0 startup packet: refused (in the 3.0 format).
    let r = exchange(addr, &[0, 0, 0, 9, 0, 2, 0, 0, 0], 0, until_close);
    assert_eq!(
        r.messages,
        ["error FATAL 0A000 unsupported frontend protocol: server supports 3.0 to 3.0"]
    );
    // The extended protocol: one error, the rest ignored up to Sync, then on.
    let mut ext = encode(pg::Parse {
        body: b"\0select $1\0\0\0",
    });
    ext.extend(encode(pg::Bind {
        body: b"\0\0\0\0\0\x01\0\0\0\x011\0\0",
    }));
    ext.extend(encode(pg::Describe { body: b"P\0" }));
    ext.extend(encode(pg::Execute {
        body: b"\0\0\0\0\0",
    }));
    ext.extend(query("select 'ignored'"));
    ext.extend(encode(pg::Flush {}));
    ext.extend(encode(pg::Sync {}));
    ext.extend(query("begin"));
    ext.extend(encode(pg::CloseStatement { body: b"S\0" }));
    ext.extend(encode(pg::Sync {}));
    ext.extend(query("rollback"));
    ext.extend(probe());
    let r = exchange(addr, &logged_in(&ext), 0, ready(6));
    let mut want = vec![
        "error ERROR 0A000 extended query protocol not supported",
        "ready I",
        "complete BEGIN",
        "ready T",
        "error ERROR 0A000 extended query protocol not supported",
        "ready E",
        "complete ROLLBACK",
        "ready I",
    ];
    want.extend_from_slice(ALIVE);
    assert_eq!(after_login(&r), want);
    witness.check("the extended protocol");
    // Garbage after the login: only messages of the protocol, then a close.
    for seed in 1..=8u64 {
        let mut g = pseudo_random(2048, seed);
        if seed % 2 == 0 {
            // Plausible frames: a known type byte and a small length.
            for chunk in g.chunks_mut(16) {
                chunk[0] = b"QSHXPBDEC"[usize::from(chunk[0]) % 9];
                chunk[1..4].copy_from_slice(&[0, 0, 0]);
                chunk[4] = 4 + chunk[4] % 12;
            }
        }
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
        let _ = s.write_all(&logged_in(&g));
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        match s.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("garbage case {seed}: the server did not close: {e}"),
        }
        witness.check(&format!("garbage case {seed}"));
    }
    stop(server);
}

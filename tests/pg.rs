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
//!   against `pg-server` too.
//!
//! The startup sequence and bad input, message by message, are in `pg_protocol.rs`.
//!
//! The tests print `skipping: ...` and pass when a peer is missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

mod support;

use std::net::SocketAddr;
use std::process::Command;

use asyncore_runtime::Backend;

use support::peers::{self, Postgres};
use support::{Finished, Proc, HANG_GUARD};

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
fn run(cmd: Command, input: &str) -> Ran {
    let (status, stdout, stderr) =
        support::run_command_with_input(cmd, input.as_bytes(), HANG_GUARD);
    Ran {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
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

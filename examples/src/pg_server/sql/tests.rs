//! The engine end to end: statements parsed and run on a database, with PostgreSQL's
//! results, codes, messages and positions.

use super::*;

fn run(db: &mut Database, sql: &str) -> Result<(Vec<String>, Collected), SqlError> {
    let mut out = Collected::default();
    let mut undo = Undo::default();
    let mut tags = Vec::new();
    for s in parse(sql)? {
        match db.execute(&s, &mut undo, &mut out) {
            Ok(tag) => tags.push(tag),
            Err(e) => {
                db.rollback(&mut undo);
                return Err(e);
            }
        }
    }
    db.commit(&mut undo);
    Ok((tags, out))
}

fn rows(db: &mut Database, sql: &str) -> Vec<Vec<Option<String>>> {
    run(db, sql).unwrap().1.rows
}

fn err(db: &mut Database, sql: &str) -> (String, String, Option<usize>) {
    let e = run(db, sql).unwrap_err();
    (e.code.to_string(), e.message.clone(), e.position(sql))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn create_insert_select_delete_drop() {
    let mut db = Database::default();
    let (tags, _) = run(
        &mut db,
        "CREATE TABLE t (a text, b int); INSERT INTO t VALUES ('x', 1), (NULL, 2), ('', NULL)",
    )
    .unwrap();
    assert_eq!(tags, ["CREATE TABLE", "INSERT 0 3"]);
    assert_eq!(
        rows(&mut db, "select * from t"),
        [vec![s("x"), s("1")], vec![None, s("2")], vec![s(""), None]]
    );
    assert_eq!(rows(&mut db, "select b from t where b = 2"), [vec![s("2")]]);
    assert_eq!(
        rows(&mut db, "select a from t where b = '1'"),
        [vec![s("x")]]
    );
    assert_eq!(
        rows(&mut db, "select b, a from t where a is null"),
        [vec![s("2"), None]]
    );
    assert_eq!(
        rows(
            &mut db,
            "select b from t where (b >= 2 and a is null) or b is null order by b desc"
        ),
        [vec![None], vec![s("2")]]
    );
    assert_eq!(
        rows(&mut db, "select t.b from t order by 1 limit 2 offset 1"),
        [vec![s("2")], vec![None]]
    );
    assert_eq!(
        run(&mut db, "delete from t where b = 1").unwrap().0,
        ["DELETE 1"]
    );
    assert_eq!(run(&mut db, "delete from t").unwrap().0, ["DELETE 2"]);
    assert_eq!(run(&mut db, "drop table t").unwrap().0, ["DROP TABLE"]);
    assert_eq!(db.table_count(), 0);
    assert_eq!(db.bytes(), 0);
}

#[test]
fn literals_are_typed_as_postgresql_types_them() {
    let mut db = Database::default();
    let (_, out) = run(
        &mut db,
        "select 1, 'a', null, true, 1.50, 3000000000, 99999999999999999999 as big, -2, 1e3",
    )
    .unwrap();
    let types: Vec<i32> = out.columns.iter().map(|c| c.ty.oid()).collect();
    assert_eq!(types, [23, 25, 25, 16, 1700, 20, 1700, 23, 1700]);
    assert_eq!(out.columns[6].name, "big");
    assert_eq!(out.columns[0].name, "?column?");
    assert_eq!(
        out.rows[0],
        [
            s("1"),
            s("a"),
            None,
            s("t"),
            s("1.50"),
            s("3000000000"),
            s("99999999999999999999"),
            s("-2"),
            s("1000")
        ]
    );
}

#[test]
fn errors_have_postgresql_codes_messages_and_positions() {
    let mut db = Database::default();
    run(&mut db, "create table t (a text, b int)").unwrap();
    let cases: &[(&str, &str, &str, Option<usize>)] = &[
        (
            "select * from nope",
            "42P01",
            "relation \"nope\" does not exist",
            Some(15),
        ),
        (
            "create table t (x int)",
            "42P07",
            "relation \"t\" already exists",
            None,
        ),
        (
            "select z from t",
            "42703",
            "column \"z\" does not exist",
            Some(8),
        ),
        (
            "selec 1",
            "42601",
            "syntax error at or near \"selec\"",
            Some(1),
        ),
        (
            "select 1 from",
            "42601",
            "syntax error at end of input",
            Some(14),
        ),
        (
            "select 'abc",
            "42601",
            "unterminated quoted string at or near \"'abc\"",
            Some(8),
        ),
        (
            "insert into t (b) values ('abc')",
            "22P02",
            "invalid input syntax for type integer: \"abc\"",
            Some(27),
        ),
        (
            "insert into t (b) values (3000000000)",
            "22003",
            "integer out of range",
            None,
        ),
        (
            "insert into t (b) values ('3000000000')",
            "22003",
            "value \"3000000000\" is out of range for type integer",
            Some(27),
        ),
        (
            "insert into t (b) values (true)",
            "42804",
            "column \"b\" is of type integer but expression is of type boolean",
            Some(27),
        ),
        (
            "select * from t where a = 5",
            "42883",
            "operator does not exist: text = integer",
            Some(25),
        ),
        (
            "insert into t values (1,2,3)",
            "42601",
            "INSERT has more expressions than target columns",
            Some(27),
        ),
        (
            "insert into t (a, b) values (1)",
            "42601",
            "INSERT has more target columns than expressions",
            Some(19),
        ),
        (
            "insert into t (a,a) values (1,2)",
            "42701",
            "column \"a\" specified more than once",
            Some(18),
        ),
        (
            "insert into t (z) values (1)",
            "42703",
            "column \"z\" of relation \"t\" does not exist",
            Some(16),
        ),
        (
            "insert into t values (1), (1,2)",
            "42601",
            "VALUES lists must all be the same length",
            Some(28),
        ),
        (
            "select *",
            "42601",
            "SELECT * with no tables specified is not valid",
            Some(8),
        ),
        (
            "create table t2 (a foo)",
            "42704",
            "type \"foo\" does not exist",
            Some(20),
        ),
        ("select $1", "42P02", "there is no parameter $1", Some(8)),
        (
            "select 123abc",
            "42601",
            "trailing junk after numeric literal at or near \"123abc\"",
            Some(8),
        ),
        (
            "drop table t, nope",
            "42P01",
            "table \"nope\" does not exist",
            None,
        ),
        (
            "select 'a' where 1",
            "42804",
            "argument of WHERE must be type boolean, not type integer",
            Some(18),
        ),
        (
            "update t set a = 1",
            "0A000",
            "UPDATE is not supported by this server",
            Some(1),
        ),
    ];
    for (sql, code, message, position) in cases {
        assert_eq!(
            err(&mut db, sql),
            (code.to_string(), message.to_string(), *position),
            "{sql}"
        );
    }
    // Nothing changed.
    assert_eq!(
        rows(&mut db, "select * from t"),
        Vec::<Vec<Option<String>>>::new()
    );
}

#[test]
fn assignment_casts() {
    let mut db = Database::default();
    run(
        &mut db,
        "create table t (a text, b int, c bool, d varchar(3), e smallint, f bigint)",
    )
    .unwrap();
    run(
        &mut db,
        "insert into t values (5, '7', 'yes', 'ab  ', 1.5, -2.5), (true, -0, 'off', E'\\x41', '12', '  9 ')",
    )
    .unwrap();
    assert_eq!(
        rows(&mut db, "select * from t"),
        [
            vec![s("5"), s("7"), s("t"), s("ab "), s("2"), s("-3")],
            vec![s("true"), s("0"), s("f"), s("A"), s("12"), s("9")]
        ]
    );
    assert_eq!(
        err(&mut db, "insert into t (d) values ('abcd')").1,
        "value too long for type character varying(3)"
    );
    assert_eq!(
        err(&mut db, "insert into t (e) values (40000)").1,
        "smallint out of range"
    );
    assert_eq!(
        rows(&mut db, "select b from t where b = 7.0 or c"),
        [vec![s("7")]]
    );
}

#[test]
fn not_null_and_limits() {
    let mut db = Database::new(Limits {
        max_tables: 2,
        max_rows: 3,
        max_value: 10,
        ..Limits::default()
    });
    run(&mut db, "create table t (a text not null, b int)").unwrap();
    let e = run(&mut db, "insert into t (b) values (1)").unwrap_err();
    assert_eq!(e.code, "23502");
    assert_eq!(e.detail.as_deref(), Some("Failing row contains (null, 1)."));
    assert_eq!(
        err(&mut db, "insert into t values ('12345678901')").0,
        "53400"
    );
    assert_eq!(
        err(&mut db, "insert into t values ('a'), ('b'), ('c'), ('d')").0,
        "53400"
    );
    run(&mut db, "create table u ()").unwrap();
    assert_eq!(err(&mut db, "create table v (a int)").0, "53400");
}

#[test]
fn rollback_restores_rows_tables_and_bytes() {
    let mut db = Database::default();
    run(
        &mut db,
        "create table t (a int); insert into t values (1), (2), (3)",
    )
    .unwrap();
    let before = db.bytes();
    let mut undo = Undo::default();
    let mut out = Collected::default();
    for s in parse(
        "delete from t where a = 2; insert into t values (4); drop table t; create table t (b text)",
    )
    .unwrap()
    {
        db.execute(&s, &mut undo, &mut out).unwrap();
    }
    db.rollback(&mut undo);
    assert_eq!(db.bytes(), before);
    assert_eq!(
        rows(&mut db, "select * from t"),
        [vec![s("1")], vec![s("2")], vec![s("3")]]
    );
    // A committed delete frees its bytes.
    run(&mut db, "delete from t").unwrap();
    run(&mut db, "drop table t").unwrap();
    assert_eq!(db.bytes(), 0);
}

#[test]
fn lexing_edges() {
    let mut db = Database::default();
    assert_eq!(
        rows(
            &mut db,
            "select 'it''s', $$a'b$$, $x$ $$ $x$, E'a\\tb' /* c /* d */ */"
        ),
        [vec![s("it's"), s("a'b"), s(" $$ "), s("a\tb")]]
    );
    assert_eq!(err(&mut db, "select E'\\0'").0, "22021");
    assert_eq!(err(&mut db, "select /* open").0, "42601");
    assert_eq!(err(&mut db, "select \"\"").0, "42601");
}

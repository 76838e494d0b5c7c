//! The commands of the store through [`Store::execute`], replies compared byte for byte
//! with what redis-server 7.0 answers.

use super::*;

/// Runs one command on `s` as client 0, at `now`; its replies, RESP-encoded.
fn run(s: &mut Store, now: Instant, args: &[&str]) -> String {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Vec::new();
    s.execute(&args, &mut Session::default(), now, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs commands in order and checks each reply: `(command, reply)`, the command split
/// on spaces.
fn script(s: &mut Store, steps: &[(&str, &str)]) {
    let now = Instant::now();
    for (i, (cmd, want)) in steps.iter().enumerate() {
        let args: Vec<&str> = cmd.split(' ').collect();
        let got = run(s, now, &args);
        assert_eq!(got, *want, "step {i}: `{cmd}`");
    }
}

fn err(text: &str) -> String {
    format!("-{text}\r\n")
}

#[test]
fn getex_and_getdel() {
    let mut s = Store::new(Limits::default());
    let syntax = err("ERR syntax error");
    script(
        &mut s,
        &[
            ("SET s hello", "+OK\r\n"),
            ("RPUSH l a", ":1\r\n"),
            ("GETEX s", "$5\r\nhello\r\n"),
            ("GETEX s foo", &syntax),
            ("GETEX s ex", &syntax),
            ("GETEX s persist ex 10", &syntax),
            ("GETEX s ex 10 px 10", &syntax),
            ("GETEX s ex abc", &err(NOT_INTEGER)),
            (
                "GETEX s ex 0",
                &err("ERR invalid expire time in 'getex' command"),
            ),
            (
                "GETEX s EX 10000000000000000",
                &err("ERR invalid expire time in 'getex' command"),
            ),
            ("GETEX nokey ex abc", "$-1\r\n"),
            ("GETEX l", &err(WRONGTYPE)),
            ("GETEX s ex 10 ex 20", "$5\r\nhello\r\n"),
            ("TTL s", ":20\r\n"),
            ("GETEX s PERSIST", "$5\r\nhello\r\n"),
            ("TTL s", ":-1\r\n"),
            ("GETEX s px 5000", "$5\r\nhello\r\n"),
            ("TTL s", ":5\r\n"),
            ("GETEX s exat 1", "$5\r\nhello\r\n"),
            ("EXISTS s", ":0\r\n"),
            ("GETDEL l", &err(WRONGTYPE)),
            ("GETDEL nokey", "$-1\r\n"),
            ("SET s v", "+OK\r\n"),
            ("GETDEL s", "$1\r\nv\r\n"),
            ("GETDEL s", "$-1\r\n"),
            (
                "GETEX",
                &err("ERR wrong number of arguments for 'getex' command"),
            ),
        ],
    );
}

#[test]
fn incrbyfloat_in_long_double() {
    let mut s = Store::new(Limits::default());
    let float = err("ERR value is not a valid float");
    script(
        &mut s,
        &[
            ("INCRBYFLOAT n 0.1", "$3\r\n0.1\r\n"),
            ("INCRBYFLOAT n 0.2", "$3\r\n0.3\r\n"),
            ("INCRBYFLOAT n -1.1", "$4\r\n-0.8\r\n"),
            ("INCRBYFLOAT n abc", &float),
            (
                "INCRBYFLOAT n inf",
                &err("ERR increment would produce NaN or Infinity"),
            ),
            ("INCRBYFLOAT n nan", &float),
            ("SET sp 11 ", &err("ERR syntax error")),
            ("APPEND sp 11", ":2\r\n"),
            ("SETRANGE sp 2 \0", ":3\r\n"),
            ("INCRBYFLOAT sp 1", &float),
            ("SET big 17179869184", "+OK\r\n"),
            ("EXPIRE big 100", ":1\r\n"),
            ("INCRBYFLOAT big 1.5", "$13\r\n17179869185.5\r\n"),
            ("TTL big", ":100\r\n"),
            ("RPUSH l a", ":1\r\n"),
            ("INCRBYFLOAT l 1", &err(WRONGTYPE)),
            ("INCRBYFLOAT z 0x10", "$2\r\n16\r\n"),
            ("INCRBYFLOAT z -16", "$1\r\n0\r\n"),
        ],
    );
}

#[test]
fn ranges_and_bits() {
    let mut s = Store::new(Limits::default());
    let too_big = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    let offset = err("ERR bit offset is not an integer or out of range");
    let bit = err("ERR bit is not an integer or out of range");
    script(
        &mut s,
        &[
            ("SETRANGE k -1 x", &err("ERR offset is out of range")),
            ("SETRANGE k abc x", &err(NOT_INTEGER)),
            ("SETRANGE k 536870912 x", &too_big),
            ("SETRANGE k 9223372036854775807 x", &too_big),
            ("SETRANGE k 5 ", ":0\r\n"),
            ("EXISTS k", ":0\r\n"),
            ("SETRANGE k 1 foo", ":4\r\n"),
            ("GET k", "$4\r\n\0foo\r\n"),
            ("SETRANGE k 0 b", ":4\r\n"),
            ("SETRANGE k 6 ", ":4\r\n"),
            ("GET k", "$4\r\nbfoo\r\n"),
            ("SET n 1234", "+OK\r\n"),
            ("SETRANGE n 5 2", ":6\r\n"),
            ("GET n", "$6\r\n1234\x002\r\n"),
            ("GETRANGE n a 1", &err(NOT_INTEGER)),
            ("SET h HelloWorld", "+OK\r\n"),
            ("GETRANGE h 0 3", "$4\r\nHell\r\n"),
            ("GETRANGE h -4 -1", "$4\r\norld\r\n"),
            ("GETRANGE h 5 3", "$0\r\n\r\n"),
            ("GETRANGE h -1 -5", "$0\r\n\r\n"),
            ("GETRANGE h 5 5000", "$5\r\nWorld\r\n"),
            ("GETRANGE h -9223372036854775808 0", "$1\r\nH\r\n"),
            ("GETRANGE h 0 9223372036854775807", "$10\r\nHelloWorld\r\n"),
            ("GETRANGE nokey 0 -1", "$0\r\n\r\n"),
            ("SUBSTR h 1 2", "$2\r\nel\r\n"),
            ("RPUSH l a", ":1\r\n"),
            ("GETRANGE l 0 1", &err(WRONGTYPE)),
            ("SETRANGE l 0 x", &err(WRONGTYPE)),
            ("SETBIT b 1 2", &bit),
            ("SETBIT b 1 -1", &bit),
            ("SETBIT b abc 1", &offset),
            ("SETBIT b -1 1", &offset),
            ("SETBIT b 4294967296 1", &offset),
            ("SETBIT b 1 1", ":0\r\n"),
            ("GET b", "$1\r\n@\r\n"),
            ("SETBIT b 1 0", ":1\r\n"),
            ("SETBIT b 17 1", ":0\r\n"),
            ("STRLEN b", ":3\r\n"),
            ("GETBIT b 17", ":1\r\n"),
            ("GETBIT b 16", ":0\r\n"),
            ("GETBIT b 10000", ":0\r\n"),
            ("GETBIT nokey 3", ":0\r\n"),
            ("GETBIT b -1", &offset),
            ("SETBIT l 0 1", &err(WRONGTYPE)),
            ("GETBIT l 0", &err(WRONGTYPE)),
        ],
    );
}

#[test]
fn msetnx_sets_all_or_nothing() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            (
                "MSETNX a",
                &err("ERR wrong number of arguments for 'msetnx' command"),
            ),
            (
                "MSETNX a 1 b",
                &err("ERR wrong number of arguments for 'msetnx' command"),
            ),
            ("MSETNX a 1 b 2", ":1\r\n"),
            ("MSETNX c 3 a 9", ":0\r\n"),
            ("MGET a b c", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
            ("MSETNX x xxx x yyy", ":1\r\n"),
            ("GET x", "$3\r\nyyy\r\n"),
        ],
    );
}

#[test]
fn lcs_as_redis() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            ("SET a ohmytext", "+OK\r\n"),
            ("SET b mynewtext", "+OK\r\n"),
            ("LCS a b", "$6\r\nmytext\r\n"),
            ("LCS a b LEN", ":6\r\n"),
            (
                "LCS a b IDX",
                "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
                 *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
            ),
            (
                "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN",
                "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                 $3\r\nlen\r\n:6\r\n",
            ),
            ("LCS a nokey", "$0\r\n\r\n"),
            (
                "LCS a b LEN IDX",
                &err("ERR If you want both the length and indexes, please just use IDX."),
            ),
            ("LCS a b MINMATCHLEN", &err("ERR syntax error")),
            ("LCS a b MINMATCHLEN x", &err(NOT_INTEGER)),
            ("RPUSH l a", ":1\r\n"),
            (
                "LCS a l",
                &err("ERR The specified keys must contain string values"),
            ),
        ],
    );
}

#[test]
fn rename_and_copy_keep_the_time_to_live() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            ("RENAME nokey x", &err("ERR no such key")),
            ("RENAMENX nokey x", &err("ERR no such key")),
            ("SET s v", "+OK\r\n"),
            ("RENAME s s", "+OK\r\n"),
            ("RENAMENX s s", ":0\r\n"),
            ("EXPIRE s 100", ":1\r\n"),
            ("RENAME s t", "+OK\r\n"),
            ("EXISTS s", ":0\r\n"),
            ("TTL t", ":100\r\n"),
            ("SET u w", "+OK\r\n"),
            ("RENAMENX t u", ":0\r\n"),
            ("RENAME u t", "+OK\r\n"),
            ("TTL t", ":-1\r\n"),
            ("RENAMENX t fresh", ":1\r\n"),
            ("RPUSH l a b", ":2\r\n"),
            ("EXPIRE l 50", ":1\r\n"),
            ("COPY l m", ":1\r\n"),
            ("COPY l m", ":0\r\n"),
            ("TTL m", ":50\r\n"),
            ("RPUSH m c", ":3\r\n"),
            ("LRANGE l 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("COPY l m REPLACE", ":1\r\n"),
            ("LLEN m", ":2\r\n"),
            ("COPY l m DB 0 REPLACE", ":1\r\n"),
            ("COPY l m DB 1", &err("ERR DB index is out of range")),
            ("COPY l m DB abc", &err(NOT_INTEGER)),
            (
                "COPY l m DB 99999999999",
                &err("ERR value is out of range, value must between -2147483648 and 2147483647"),
            ),
            ("COPY l m DB", &err("ERR syntax error")),
            (
                "COPY l l",
                &err("ERR source and destination objects are the same"),
            ),
            ("COPY nokey z", ":0\r\n"),
        ],
    );
}

#[test]
fn absolute_expiry_and_expiretime() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            ("SET e v", "+OK\r\n"),
            ("EXPIRETIME e", ":-1\r\n"),
            ("PEXPIRETIME e", ":-1\r\n"),
            ("EXPIRETIME nokey", ":-2\r\n"),
            ("EXPIREAT e abc", &err(NOT_INTEGER)),
            ("EXPIREAT e 9999999999 NX", ":1\r\n"),
            ("EXPIRETIME e", ":9999999999\r\n"),
            ("PEXPIRETIME e", ":9999999999000\r\n"),
            ("EXPIREAT e 9999999998 GT", ":0\r\n"),
            ("EXPIREAT e 9999999998 LT", ":1\r\n"),
            ("PEXPIREAT e 9999999998123", ":1\r\n"),
            ("EXPIRETIME e", ":9999999998\r\n"),
            ("PEXPIRETIME e", ":9999999998123\r\n"),
            (
                "EXPIREAT e 9999999999 FOO",
                &err("ERR Unsupported option FOO"),
            ),
            (
                "EXPIREAT e 9223372036854776",
                &err("ERR invalid expire time in 'expireat' command"),
            ),
            ("PEXPIREAT e 9223372036854770000", ":1\r\n"),
            ("PEXPIRETIME e", ":9223372036854770000\r\n"),
            ("PEXPIREAT e -9223372036854770000", ":1\r\n"),
            ("EXISTS e", ":0\r\n"),
            ("SET f v", "+OK\r\n"),
            ("PEXPIREAT f 1", ":1\r\n"),
            ("EXISTS f", ":0\r\n"),
        ],
    );
}

#[test]
fn object_time_and_randomkey() {
    let mut s = Store::new(Limits::default());
    let now = Instant::now();
    assert_eq!(run(&mut s, now, &["RANDOMKEY"]), "$-1\r\n");
    script(
        &mut s,
        &[
            ("SET n 123", "+OK\r\n"),
            ("SET e hello", "+OK\r\n"),
            ("RPUSH l a", ":1\r\n"),
            ("OBJECT ENCODING n", "$3\r\nint\r\n"),
            ("OBJECT ENCODING e", "$6\r\nembstr\r\n"),
            ("OBJECT ENCODING l", "$9\r\nquicklist\r\n"),
            ("OBJECT ENCODING nokey", "$-1\r\n"),
            ("OBJECT REFCOUNT n", ":2147483647\r\n"),
            ("OBJECT REFCOUNT l", ":1\r\n"),
            (
                "OBJECT FOO",
                &err("ERR unknown subcommand 'FOO'. Try OBJECT HELP."),
            ),
            (
                "OBJECT",
                &err("ERR wrong number of arguments for 'object' command"),
            ),
            (
                "OBJECT HELP x",
                &err("ERR wrong number of arguments for 'object|help' command"),
            ),
            (
                "TIME x",
                &err("ERR wrong number of arguments for 'time' command"),
            ),
        ],
    );
    let help = run(&mut s, now, &["OBJECT", "HELP"]);
    assert!(help.starts_with("*12\r\n+OBJECT <subcommand>"), "{help}");
    let time = run(&mut s, now, &["TIME"]);
    let parts: Vec<&str> = time.split("\r\n").collect();
    assert_eq!(parts[0], "*2");
    let secs: u64 = parts[2].parse().unwrap();
    let micros: u64 = parts[4].parse().unwrap();
    assert!(secs > 1_600_000_000 && micros < 1_000_000, "{time}");
    // Every key comes up.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        seen.insert(run(&mut s, now, &["RANDOMKEY"]));
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // A due key is never the answer, and goes.
    run(&mut s, now, &["FLUSHALL"]);
    run(&mut s, now, &["SET", "gone", "v", "PX", "10"]);
    let later = now + Duration::from_millis(20);
    assert_eq!(run(&mut s, later, &["RANDOMKEY"]), "$-1\r\n");
    assert!(s.is_empty());
}

/// Every list command, with its errors: the replies are redis-server 7.0's.
#[test]
fn list_commands_as_redis_answers_them() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            ("rpush l a b c a b c", ":6\r\n"),
            ("lindex l 0", "$1\r\na\r\n"),
            ("lindex l -1", "$1\r\nc\r\n"),
            ("lindex l 6", "$-1\r\n"),
            ("lindex l -7", "$-1\r\n"),
            ("lindex l abc", "-ERR value is not an integer or out of range\r\n"),
            ("lindex nokey abc", "$-1\r\n"),
            ("set s x", "+OK\r\n"),
            ("lindex s 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lset l 1 B", "+OK\r\n"),
            ("lset l -1 C", "+OK\r\n"),
            ("lset l 6 z", "-ERR index out of range\r\n"),
            ("lset l abc z", "-ERR value is not an integer or out of range\r\n"),
            ("lset nokey abc z", "-ERR no such key\r\n"),
            ("lset s 0 z", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lrange l 0 -1", "*6\r\n$1\r\na\r\n$1\r\nB\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nC\r\n"),
            ("linsert l before b X", ":7\r\n"),
            ("linsert l AFTER a Y", ":8\r\n"),
            ("linsert l middle c Y", "-ERR syntax error\r\n"),
            ("linsert l before nothere Y", ":-1\r\n"),
            ("linsert nokey before a b", ":0\r\n"),
            ("linsert s before a b", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lrange l 0 -1", "*8\r\n$1\r\na\r\n$1\r\nY\r\n$1\r\nB\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nX\r\n$1\r\nb\r\n$1\r\nC\r\n"),
            ("lrem l 0 a", ":2\r\n"),
            ("lrem l -1 c", ":1\r\n"),
            ("lrem l 1 nothere", ":0\r\n"),
            ("lrem l abc a", "-ERR value is not an integer or out of range\r\n"),
            ("lrem nokey 1 a", ":0\r\n"),
            ("lrem s 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lrange l 0 -1", "*5\r\n$1\r\nY\r\n$1\r\nB\r\n$1\r\nX\r\n$1\r\nb\r\n$1\r\nC\r\n"),
            ("ltrim l 1 -1", "+OK\r\n"),
            ("lrange l 0 -1", "*4\r\n$1\r\nB\r\n$1\r\nX\r\n$1\r\nb\r\n$1\r\nC\r\n"),
            ("ltrim l abc 1", "-ERR value is not an integer or out of range\r\n"),
            ("ltrim nokey 0 1", "+OK\r\n"),
            ("ltrim s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("ltrim l 5 1", "+OK\r\n"),
            ("exists l", ":0\r\n"),
            ("rpush l a b c 1 2 3 c c", ":8\r\n"),
            ("lpos l c", ":2\r\n"),
            ("lpos l c rank 2", ":6\r\n"),
            ("lpos l c rank -1", ":7\r\n"),
            ("lpos l c rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
            ("lpos l c count 0", "*3\r\n:2\r\n:6\r\n:7\r\n"),
            ("lpos l c count 2 rank -1", "*2\r\n:7\r\n:6\r\n"),
            ("lpos l c count -1", "-ERR COUNT can't be negative\r\n"),
            ("lpos l c count abc", "-ERR COUNT can't be negative\r\n"),
            ("lpos l c maxlen 2", "$-1\r\n"),
            ("lpos l c maxlen -1", "-ERR MAXLEN can't be negative\r\n"),
            ("lpos l c rank 1 maxlen 3 count 0", "*1\r\n:2\r\n"),
            ("lpos l c foo", "-ERR syntax error\r\n"),
            ("lpos l c rank", "-ERR syntax error\r\n"),
            ("lpos nokey c", "$-1\r\n"),
            ("lpos nokey c count 0", "*0\r\n"),
            ("lpos s c", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lpushx nokey a", ":0\r\n"),
            ("rpushx nokey a", ":0\r\n"),
            ("lpushx l q w", ":10\r\n"),
            ("rpushx l z", ":11\r\n"),
            ("rpushx s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lrange l 0 -1", "*11\r\n$1\r\nw\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\nc\r\n$1\r\nc\r\n$1\r\nz\r\n"),
            ("rpoplpush l l2", "$1\r\nz\r\n"),
            ("rpoplpush nokey l2", "$-1\r\n"),
            ("rpoplpush l s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("rpoplpush s l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lmove l l2 left right", "$1\r\nw\r\n"),
            ("lmove l l2 up right", "-ERR syntax error\r\n"),
            ("lrange l2 0 -1", "*2\r\n$1\r\nz\r\n$1\r\nw\r\n"),
            ("rpush one x", ":1\r\n"),
            ("lmove one one left right", "$1\r\nx\r\n"),
            ("rpoplpush one other", "$1\r\nx\r\n"),
            ("exists one", ":0\r\n"),
            ("lmpop 0 l left", "-ERR numkeys should be greater than 0\r\n"),
            ("lmpop 1 l middle", "-ERR syntax error\r\n"),
            ("lmpop 1 l left count 0", "-ERR count should be greater than 0\r\n"),
            ("lmpop 1 l left count 2 count 3", "-ERR syntax error\r\n"),
            ("lmpop 2 l left", "-ERR syntax error\r\n"),
            ("lmpop 1 nokey left", "*-1\r\n"),
            ("lmpop 2 nokey l left count 2", "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nq\r\n$1\r\na\r\n"),
            ("lmpop 2 nokey s left", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("lmpop 1 l right count 100", "*2\r\n$1\r\nl\r\n*7\r\n$1\r\nc\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\nb\r\n"),
            ("exists l", ":0\r\n"),
        ],
    );
    assert_eq!(s.len(), 3, "`s`, `l2` and `other` are left");
}

/// The memory estimate follows the lists through every change, down to nothing.
#[test]
fn list_changes_keep_the_memory_estimate() {
    let mut s = Store::new(Limits::default());
    let now = Instant::now();
    for cmd in [
        "RPUSH l a bb ccc dddd a",
        "LSET l 1 eeeee",
        "LINSERT l BEFORE ccc ff",
        "LREM l 0 a",
        "LTRIM l 1 -1",
        "LPUSHX l g",
        "RPOPLPUSH l m",
        "LMOVE m l LEFT RIGHT",
        "LMPOP 1 l LEFT COUNT 2",
        "COPY l n",
        "RENAME n o",
    ] {
        let args: Vec<&str> = cmd.split(' ').collect();
        run(&mut s, now, &args);
        let expected: usize = s
            .data
            .iter()
            .map(|(k, e)| k.len() + KEY_OVERHEAD + e.value.cost())
            .sum();
        assert_eq!(s.used_memory(), expected, "after `{cmd}`");
    }
    run(&mut s, now, &["DEL", "l", "o"]);
    assert_eq!(s.used_memory(), 0);
}

/// Runs `cmd` (split on spaces) as client `id`: the flow and the replies.
fn as_client(s: &mut Store, id: u64, cmd: &str) -> (Flow, String) {
    let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
    let mut session = Session {
        id,
        ..Session::default()
    };
    let mut out = Vec::new();
    let flow = s.execute(&args, &mut session, Instant::now(), &mut out);
    (flow, String::from_utf8_lossy(&out).into_owned())
}

/// Runs `cmd` as client `id`, which must block: no reply, and the deadline's presence.
fn blocks(s: &mut Store, id: u64, cmd: &str) -> bool {
    match as_client(s, id, cmd) {
        (Flow::Block { deadline }, out) => {
            assert_eq!(out, "", "`{cmd}` answers nothing while it waits");
            deadline.is_some()
        }
        other => panic!("`{cmd}` did not block: {other:?}"),
    }
}

/// The reply kept for `id` when its wait ended; `None` if it still waits.
fn reply_of(s: &mut Store, id: u64) -> Option<String> {
    let mut out = Vec::new();
    s.take_reply(id, &mut out)
        .then(|| String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn blocking_pops_answer_at_once_when_a_list_has_elements() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            ("RPUSH b 1 2 3", ":3\r\n"),
            ("BLPOP a b 0", "*2\r\n$1\r\nb\r\n$1\r\n1\r\n"),
            ("BRPOP a b 0", "*2\r\n$1\r\nb\r\n$1\r\n3\r\n"),
            (
                "BLMPOP 0 2 a b RIGHT COUNT 5",
                "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n2\r\n",
            ),
            ("EXISTS b", ":0\r\n"),
            ("RPUSH src x y", ":2\r\n"),
            ("BRPOPLPUSH src dst 0", "$1\r\ny\r\n"),
            ("BLMOVE src dst LEFT RIGHT 0", "$1\r\nx\r\n"),
            ("LRANGE dst 0 -1", "*2\r\n$1\r\ny\r\n$1\r\nx\r\n"),
            ("SET str v", "+OK\r\n"),
            ("BLPOP nokey str 0", &err(WRONGTYPE)),
            ("BLMPOP 0 2 nokey str LEFT", &err(WRONGTYPE)),
            ("BRPOPLPUSH str dst 0", &err(WRONGTYPE)),
            ("BRPOPLPUSH dst str 0", &err(WRONGTYPE)),
            ("BLPOP a -1", &err("ERR timeout is negative")),
            ("BLPOP a 1e30", &err("ERR timeout is negative")),
            (
                "BLPOP a abc",
                &err("ERR timeout is not a float or out of range"),
            ),
            (
                "BLPOP a 1x",
                &err("ERR timeout is not a float or out of range"),
            ),
            (
                "BLMPOP 0.01 0 a LEFT",
                &err("ERR numkeys should be greater than 0"),
            ),
            ("BLMPOP abc 1 a MIDDLE", &err("ERR syntax error")),
            (
                "BLMPOP abc 1 a LEFT COUNT 0",
                &err("ERR count should be greater than 0"),
            ),
            (
                "BLMPOP abc 1 a LEFT",
                &err("ERR timeout is not a float or out of range"),
            ),
            ("BLMOVE a b UP LEFT 1", &err("ERR syntax error")),
            (
                "BRPOPLPUSH a b abc",
                &err("ERR timeout is not a float or out of range"),
            ),
        ],
    );
    assert_eq!(s.blocked_clients(), 0);
}

#[test]
fn waiters_are_served_first_blocked_first_served() {
    let mut s = Store::new(Limits::default());
    assert!(!blocks(&mut s, 1, "BLPOP a b 0"), "0 waits for ever");
    assert!(blocks(&mut s, 2, "BRPOP a 5"));
    assert!(blocks(&mut s, 3, "BLPOP a 0.5"));
    assert_eq!(s.blocked_clients(), 3);
    assert_eq!(reply_of(&mut s, 1), None);
    // The push's own reply counts the elements before anyone is served.
    assert_eq!(as_client(&mut s, 9, "RPUSH a x y").1, ":2\r\n");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "*2\r\n$1\r\na\r\n$1\r\nx\r\n");
    assert_eq!(reply_of(&mut s, 2).unwrap(), "*2\r\n$1\r\na\r\n$1\r\ny\r\n");
    assert_eq!(reply_of(&mut s, 1), None, "taken once");
    assert_eq!(s.blocked_clients(), 1, "client 3 still waits");
    assert_eq!(as_client(&mut s, 9, "EXISTS a").1, ":0\r\n");
    // Its deadline passes.
    assert!(s.time_out(3));
    assert!(!s.time_out(3), "not waiting any more");
    assert_eq!(reply_of(&mut s, 3).unwrap(), "*-1\r\n");
    assert_eq!(s.blocked_clients(), 0);
}

/// Redis's "BLMPOP with multiple blocked clients", with one push per key.
#[test]
fn blmpop_waiters_take_what_their_count_says() {
    let mut s = Store::new(Limits::default());
    blocks(&mut s, 1, "BLMPOP 0 2 l l2 LEFT COUNT 1");
    blocks(&mut s, 2, "BLMPOP 0 2 l l2 RIGHT COUNT 10");
    blocks(&mut s, 3, "BLMPOP 0 2 l l2 LEFT COUNT 10");
    blocks(&mut s, 4, "BLMPOP 0 2 l l2 RIGHT COUNT 1");
    as_client(&mut s, 9, "LPUSH l a b c d e");
    assert_eq!(
        reply_of(&mut s, 1).unwrap(),
        "*2\r\n$1\r\nl\r\n*1\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        reply_of(&mut s, 2).unwrap(),
        "*2\r\n$1\r\nl\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(reply_of(&mut s, 3), None);
    as_client(&mut s, 9, "LPUSH l2 1 2 3 4 5");
    assert_eq!(
        reply_of(&mut s, 3).unwrap(),
        "*2\r\n$2\r\nl2\r\n*5\r\n$1\r\n5\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    as_client(&mut s, 9, "LPUSH l2 1 2 3");
    assert_eq!(
        reply_of(&mut s, 4).unwrap(),
        "*2\r\n$2\r\nl2\r\n*1\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        as_client(&mut s, 9, "LRANGE l2 0 -1").1,
        "*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
}

#[test]
fn moves_chain_through_waiters_in_one_round() {
    let mut s = Store::new(Limits::default());
    // Linked: l1 -> l2 -> l3.
    blocks(&mut s, 1, "BLMOVE l1 l2 RIGHT LEFT 0");
    blocks(&mut s, 2, "BLMOVE l2 l3 LEFT RIGHT 0");
    as_client(&mut s, 9, "RPUSH l1 foo");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "$3\r\nfoo\r\n");
    assert_eq!(reply_of(&mut s, 2).unwrap(), "$3\r\nfoo\r\n");
    assert_eq!(
        as_client(&mut s, 9, "LRANGE l3 0 -1").1,
        "*1\r\n$3\r\nfoo\r\n"
    );
    assert_eq!(as_client(&mut s, 9, "EXISTS l1 l2").1, ":0\r\n");
    // Circular: c1 -> c2 -> c1.
    blocks(&mut s, 1, "BRPOPLPUSH c1 c2 0");
    blocks(&mut s, 2, "BRPOPLPUSH c2 c1 0");
    as_client(&mut s, 9, "RPUSH c1 foo");
    assert_eq!(
        as_client(&mut s, 9, "LRANGE c1 0 -1").1,
        "*1\r\n$3\r\nfoo\r\n"
    );
    assert_eq!(as_client(&mut s, 9, "EXISTS c2").1, ":0\r\n");
    // Self-referential.
    reply_of(&mut s, 1);
    reply_of(&mut s, 2);
    blocks(&mut s, 1, "BRPOPLPUSH self self 0");
    as_client(&mut s, 9, "RPUSH self foo");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "$3\r\nfoo\r\n");
    assert_eq!(
        as_client(&mut s, 9, "LRANGE self 0 -1").1,
        "*1\r\n$3\r\nfoo\r\n"
    );
    // A move to a waiter of the target: BLMOVE's element goes on to the BLPOP.
    blocks(&mut s, 2, "BLPOP target 0");
    blocks(&mut s, 1, "BLMOVE blist target LEFT RIGHT 0");
    as_client(&mut s, 9, "RPUSH blist foo");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "$3\r\nfoo\r\n");
    assert_eq!(
        reply_of(&mut s, 2).unwrap(),
        "*2\r\n$6\r\ntarget\r\n$3\r\nfoo\r\n"
    );
    assert_eq!(as_client(&mut s, 9, "EXISTS target blist").1, ":0\r\n");
    assert_eq!(s.blocked_clients(), 0);
}

/// Redis's "BRPOPLPUSH with multiple blocked clients" and "maintains order of elements
/// after failure": a destination of another type fails that waiter only.
#[test]
fn a_wrong_destination_fails_its_waiter_and_keeps_the_element() {
    let mut s = Store::new(Limits::default());
    as_client(&mut s, 9, "SET target1 nolist");
    blocks(&mut s, 1, "BRPOPLPUSH blist target1 0");
    blocks(&mut s, 2, "BRPOPLPUSH blist target2 0");
    as_client(&mut s, 9, "LPUSH blist foo");
    assert_eq!(reply_of(&mut s, 1).unwrap(), format!("-{WRONGTYPE}\r\n"));
    assert_eq!(reply_of(&mut s, 2).unwrap(), "$3\r\nfoo\r\n");
    blocks(&mut s, 1, "BRPOPLPUSH other target1 0");
    as_client(&mut s, 9, "RPUSH other a b c");
    assert_eq!(reply_of(&mut s, 1).unwrap(), format!("-{WRONGTYPE}\r\n"));
    assert_eq!(
        as_client(&mut s, 9, "LRANGE other 0 -1").1,
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
}

#[test]
fn keys_created_by_rename_and_copy_serve_waiters_and_other_types_do_not() {
    let mut s = Store::new(Limits::default());
    blocks(&mut s, 1, "BLPOP foo 0");
    as_client(&mut s, 9, "SET foo bar");
    assert_eq!(reply_of(&mut s, 1), None, "a string is no list");
    as_client(&mut s, 9, "DEL foo");
    as_client(&mut s, 9, "LPUSH bob abc def hij");
    as_client(&mut s, 9, "RENAME bob foo");
    assert_eq!(
        reply_of(&mut s, 1).unwrap(),
        "*2\r\n$3\r\nfoo\r\n$3\r\nhij\r\n"
    );
    blocks(&mut s, 2, "BLMPOP 0 1 copy LEFT COUNT 5");
    as_client(&mut s, 9, "COPY foo copy");
    assert_eq!(
        reply_of(&mut s, 2).unwrap(),
        "*2\r\n$4\r\ncopy\r\n*2\r\n$3\r\ndef\r\n$3\r\nabc\r\n"
    );
    // The same key several times: one place in the queue.
    blocks(&mut s, 3, "BLPOP k1 k2 k2 k1 0");
    as_client(&mut s, 9, "LPUSH k2 b");
    assert_eq!(
        reply_of(&mut s, 3).unwrap(),
        "*2\r\n$2\r\nk2\r\n$1\r\nb\r\n"
    );
    assert_eq!(s.blocked_clients(), 0);
}

#[test]
fn client_unblock_and_leaving_end_a_wait() {
    let mut s = Store::new(Limits::default());
    blocks(&mut s, 1, "BLPOP l 0");
    assert_eq!(as_client(&mut s, 9, "CLIENT UNBLOCK 1").1, ":1\r\n");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "*-1\r\n");
    assert_eq!(as_client(&mut s, 9, "CLIENT UNBLOCK 1").1, ":0\r\n");
    blocks(&mut s, 1, "BRPOPLPUSH l m 0");
    assert_eq!(as_client(&mut s, 9, "CLIENT UNBLOCK 1 TIMEOUT").1, ":1\r\n");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "*-1\r\n");
    blocks(&mut s, 1, "BLMPOP 0 1 l RIGHT");
    assert_eq!(as_client(&mut s, 9, "CLIENT UNBLOCK 1 error").1, ":1\r\n");
    assert_eq!(
        reply_of(&mut s, 1).unwrap(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    for (cmd, reply) in [
        ("CLIENT UNBLOCK abc", err(NOT_INTEGER)),
        (
            "CLIENT UNBLOCK 1 foo",
            err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
        ),
        (
            "CLIENT UNBLOCK 1 timeout x",
            err("ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP."),
        ),
        (
            "CLIENT UNBLOCK",
            err("ERR wrong number of arguments for 'client|unblock' command"),
        ),
    ] {
        assert_eq!(as_client(&mut s, 9, cmd).1, reply, "{cmd}");
    }
    // A client that leaves waits no more: the next push is not for it.
    blocks(&mut s, 1, "BLPOP l 0");
    s.forget_client(1);
    assert_eq!(s.blocked_clients(), 0);
    as_client(&mut s, 9, "RPUSH l x");
    assert_eq!(reply_of(&mut s, 1), None);
    assert_eq!(as_client(&mut s, 9, "LLEN l").1, ":1\r\n");
}

/// Run inside another command (a transaction), a blocking command answers as if it
/// timed out, and the clients a write can serve are served when the outer one is done.
#[test]
fn nested_blocking_commands_do_not_block() {
    let mut s = Store::new(Limits::default());
    blocks(&mut s, 1, "BLPOP l 0");
    s.nesting = 1;
    assert_eq!(
        as_client(&mut s, 2, "BLPOP nothing 0"),
        (Flow::Continue, "*-1\r\n".into())
    );
    assert_eq!(
        as_client(&mut s, 2, "BRPOPLPUSH nothing x 0"),
        (Flow::Continue, "$-1\r\n".into())
    );
    assert_eq!(
        as_client(&mut s, 2, "BLMOVE nothing x LEFT LEFT 0"),
        (Flow::Continue, "$-1\r\n".into())
    );
    assert_eq!(
        as_client(&mut s, 2, "BLMPOP 0 1 nothing LEFT"),
        (Flow::Continue, "*-1\r\n".into())
    );
    as_client(&mut s, 2, "RPUSH l a");
    as_client(&mut s, 2, "RPUSH l b");
    assert_eq!(
        reply_of(&mut s, 1),
        None,
        "not served inside the transaction"
    );
    s.nesting = 0;
    as_client(&mut s, 2, "PING");
    assert_eq!(reply_of(&mut s, 1).unwrap(), "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
}

/// `SORT` and `SORT_RO` on lists, with their options: redis-server 7.0's replies.
#[test]
fn sort_as_redis_sorts() {
    let mut s = Store::new(Limits::default());
    script(
        &mut s,
        &[
            ("flushall", "+OK\r\n"),
            ("rpush l 3 1 2 10 1.5 -1 abc", ":7\r\n"),
            ("sort l", "-ERR One or more scores can't be converted into double\r\n"),
            ("sort n", "*0\r\n"),
            ("sort n desc", "*0\r\n"),
            ("sort n limit 2 3", "*0\r\n"),
            ("sort n limit -5 3", "*0\r\n"),
            ("sort n limit 100 3", "*0\r\n"),
            ("sort n limit 2 -1", "*0\r\n"),
            ("sort n limit 0 0", "*0\r\n"),
            ("sort n limit a 1", "-ERR value is not an integer or out of range\r\n"),
            ("sort n limit 1", "-ERR syntax error\r\n"),
            ("sort l alpha", "*7\r\n$2\r\n-1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n$3\r\nabc\r\n"),
            ("sort l alpha desc", "*7\r\n$3\r\nabc\r\n$1\r\n3\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n1.5\r\n$1\r\n1\r\n$2\r\n-1\r\n"),
            ("sort l alpha limit 1 2", "*2\r\n$1\r\n1\r\n$3\r\n1.5\r\n"),
            ("sort l by nosort", "*7\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n1.5\r\n$2\r\n-1\r\n$3\r\nabc\r\n"),
            ("sort l by nosort desc", "*7\r\n$3\r\nabc\r\n$2\r\n-1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n"),
            ("sort l by nosort limit 1 2", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
            ("sort l by nosort desc limit 1 2", "*2\r\n$2\r\n-1\r\n$3\r\n1.5\r\n"),
            ("sort l by nosort limit 10 2", "*0\r\n"),
            ("sort nokey", "*0\r\n"),
            ("sort nokey store dst", ":0\r\n"),
            ("exists dst", ":0\r\n"),
            ("set s x", "+OK\r\n"),
            ("sort s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("sort l foo", "-ERR syntax error\r\n"),
            ("sort_ro l alpha", "*7\r\n$2\r\n-1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n$3\r\nabc\r\n"),
            ("sort_ro l alpha store x", "-ERR syntax error\r\n"),
            ("rpush notfoo hello hola aguacate konichiwa zanzibar", ":5\r\n"),
            ("sort notfoo ALPHA store foo", ":5\r\n"),
            ("lrange foo 0 -1", "*5\r\n$8\r\naguacate\r\n$5\r\nhello\r\n$4\r\nhola\r\n$9\r\nkonichiwa\r\n$8\r\nzanzibar\r\n"),
            ("sort notfoo alpha store foo limit 0 0", ":0\r\n"),
            ("exists foo", ":0\r\n"),
            ("rpush ids 1 2 3", ":3\r\n"),
            ("set w_1 30", "+OK\r\n"),
            ("set w_2 10", "+OK\r\n"),
            ("set w_3 20", "+OK\r\n"),
            ("set name_1 one", "+OK\r\n"),
            ("set name_2 two", "+OK\r\n"),
            ("sort ids by w_*", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
            ("sort ids by w_* desc", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n2\r\n"),
            ("sort ids by w_* get name_* get #", "*6\r\n$3\r\ntwo\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n$3\r\none\r\n$1\r\n1\r\n"),
            ("sort ids by w_* get name_* get # get missing_*", "*9\r\n$3\r\ntwo\r\n$1\r\n2\r\n$-1\r\n$-1\r\n$1\r\n3\r\n$-1\r\n$3\r\none\r\n$1\r\n1\r\n$-1\r\n"),
            ("sort ids by w_* get # store out", ":3\r\n"),
            ("lrange out 0 -1", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
            ("sort ids by w_* get name_* store out2", ":3\r\n"),
            ("lrange out2 0 -1", "*3\r\n$3\r\ntwo\r\n$0\r\n\r\n$3\r\none\r\n"),
            ("sort ids by missing_*", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("sort ids by w_* alpha", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
            ("sort ids by missing_* alpha", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("sort ids by w_*->f", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("sort ids get w_*->field", "*3\r\n$-1\r\n$-1\r\n$-1\r\n"),
            ("sort ids get nostar", "*3\r\n$-1\r\n$-1\r\n$-1\r\n"),
            ("rpush bad 1 x 2", ":3\r\n"),
            ("sort bad", "-ERR One or more scores can't be converted into double\r\n"),
            ("rpush ov 1e400 2", ":2\r\n"),
            ("sort ov", "-ERR One or more scores can't be converted into double\r\n"),
            ("rpush un 1e-400 2", ":2\r\n"),
            ("sort un", "-ERR One or more scores can't be converted into double\r\n"),
            ("rpush ties b a c a", ":4\r\n"),
            ("sort ties", "-ERR One or more scores can't be converted into double\r\n"),
            ("sort ties alpha", "*4\r\n$1\r\na\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
            ("set k1 1", "+OK\r\n"),
            ("sort ids by k*", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
        ],
    );
}

/// `SORT ... STORE` creates a list: a client waiting on the key is served.
#[test]
fn sort_store_serves_a_waiter() {
    let mut s = Store::new(Limits::default());
    blocks(&mut s, 1, "BLPOP foo 5");
    as_client(&mut s, 9, "RPUSH notfoo hello hola aguacate");
    assert_eq!(
        as_client(&mut s, 9, "SORT notfoo ALPHA STORE foo").1,
        ":3\r\n"
    );
    assert_eq!(
        reply_of(&mut s, 1).unwrap(),
        "*2\r\n$3\r\nfoo\r\n$8\r\naguacate\r\n"
    );
}

/// Every command of a family's table, and every subcommand, is run by that family's
/// runner (the store dispatches on the table a command was found in).
#[test]
fn each_table_is_run_by_its_family() {
    let mut s = Store::new(Limits::default());
    let now = Instant::now();
    let mut check = |family: Family, name: &str, words: &[&str], arity: i32| {
        let argc = arity.unsigned_abs() as usize;
        let mut args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        while args.len() < argc {
            args.push(b"x");
        }
        let mut out = Vec::new();
        let ran = s.run_family(family, name, &args, &mut Session::default(), now, &mut out);
        assert!(ran.is_some(), "`{name}` is not run by {family:?}");
    };
    for (table, family) in FAMILIES.iter().zip(RUNNERS) {
        for spec in table.iter() {
            check(family, spec.name, &[spec.name], spec.arity);
        }
    }
    for (family, tables) in CONTAINERS {
        for (container, subs) in tables.iter() {
            for sub in subs.iter() {
                let name = format!("{container}|{}", sub.name);
                check(*family, &name, &[container, sub.name], sub.arity);
            }
        }
    }
}

//! The command lines of the example programs and of `asyncore-protocol`: `--help` and
//! `--version` succeed and name the program, and a misspelt flag is a usage error (exit
//! status 2) with clap's suggestion of the flag meant.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{example_binary, package_binary, run_named, Finished};

/// Every example program, with a misspelling of one of its flags and the flag clap
/// should suggest.
const EXAMPLES: &[(&str, &str, &str)] = &[
    ("echo", "--listn", "--listen"),
    ("chat", "--listn", "--listen"),
    ("chat-client", "--conect", "--connect"),
    ("resp-server", "--maxmemroy", "--maxmemory"),
    ("resp-client", "--conect", "--connect"),
    ("memcache-server", "--memory-limt", "--memory-limit"),
    ("memcache-client", "--conect", "--connect"),
    ("smtp-server", "--maildr", "--maildir"),
    ("smtp-client", "--helo-name", "--helo"),
    ("pop3-server", "--max-mesages", "--max-messages"),
    ("pop3-client", "--pasword", "--password"),
    ("http-server", "--acces-log", "--access-log"),
    ("http-client", "--heder", "--header"),
    ("kv-server", "--thread", "--threads"),
    ("kv-client", "--timout", "--timeout"),
    ("mqtt-broker", "--max-paylod", "--max-payload"),
    ("pg-server", "--pasword", "--password"),
    ("pg-client", "--databse", "--database"),
];

fn run(name: &str, bin: &PathBuf, args: &[&str]) -> Finished {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    run_named(&format!("{name} {}", args.join(" ")), cmd)
}

fn check_help_and_version(name: &str, bin: &PathBuf) {
    let help = run(name, bin, &["--help"]);
    assert!(help.success(), "{name} --help\n{}", help.transcript());
    let text = help.stdout.join("\n");
    assert!(
        text.contains(&format!("Usage: {name}")),
        "{name} --help: no usage line naming it\n{}",
        help.transcript()
    );
    assert!(
        text.contains("-h, --help") && text.contains("-V, --version"),
        "{name} --help: not clap's help\n{}",
        help.transcript()
    );
    let short = run(name, bin, &["-h"]);
    assert!(short.success(), "{name} -h\n{}", short.transcript());

    let version = run(name, bin, &["--version"]);
    assert!(
        version.success(),
        "{name} --version\n{}",
        version.transcript()
    );
    assert_eq!(
        version.stdout,
        [format!("{name} {}", env!("CARGO_PKG_VERSION"))],
        "{name} --version\n{}",
        version.transcript()
    );
}

fn check_misspelling(name: &str, bin: &PathBuf, args: &[&str], meant: &str) {
    let out = run(name, bin, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: a misspelt flag is a usage error\n{}",
        out.transcript()
    );
    assert!(
        out.stdout.is_empty(),
        "{name}: nothing on stdout\n{}",
        out.transcript()
    );
    assert!(
        out.stderr
            .contains(&format!("unexpected argument '{}'", args.last().unwrap()))
            || out.stderr.contains("unrecognized subcommand"),
        "{name}: clap's error\n{}",
        out.transcript()
    );
    assert!(
        out.stderr
            .contains(&format!("tip: a similar argument exists: '{meant}'"))
            || out
                .stderr
                .contains(&format!("tip: a similar subcommand exists: '{meant}'")),
        "{name}: no suggestion of {meant}\n{}",
        out.transcript()
    );
}

#[test]
fn examples_help_version_and_misspelt_flags() {
    for &(name, wrong, meant) in EXAMPLES {
        let bin = example_binary(name);
        check_help_and_version(name, &bin);
        check_misspelling(name, &bin, &[wrong], meant);
    }
}

#[test]
fn examples_usage_errors_exit_2() {
    let cases: &[(&str, &[&str])] = &[
        ("echo", &["--threads", "0"]),
        ("echo", &["--backend", "kqueue"]),
        ("echo", &["--listen", "localhost:7000"]),
        ("echo", &["stray"]),
        ("chat", &["--threads", "2"]),
        ("resp-server", &["--maxmemory", "lots"]),
        ("memcache-server", &["-m", "0"]),
        ("http-server", &["--max-body", "17MiB"]),
        ("http-client", &[]),
        ("http-client", &["-I", "-d", "x", "http://127.0.0.1:1/"]),
        ("smtp-client", &["--to", "q@example.org"]),
        ("pop3-server", &["--user", "u", "--password", "p"]),
        ("pop3-client", &["--user", "u", "--password", "p", "stat"]),
        ("mqtt-broker", &["--log-level", "loud"]),
    ];
    for &(name, args) in cases {
        let out = run(name, &example_binary(name), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} {args:?}: a usage error\n{}",
            out.transcript()
        );
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains("--help"),
            "{name} {args:?}: clap's error\n{}",
            out.transcript()
        );
    }
}

/// memcache-server takes memcached's `-m` for its memory limit, and `--help` says so.
#[test]
fn memcache_server_takes_memcached_m() {
    let bin = example_binary("memcache-server");
    let help = run("memcache-server", &bin, &["--help"]);
    assert!(
        help.stdout
            .iter()
            .any(|l| l.contains("-m, --memory-limit <MEGABYTES>") && l.contains("[default: 64]")),
        "{}",
        help.transcript()
    );
}

#[test]
fn asyncore_protocol_help_version_and_misspellings() {
    let name = "asyncore-protocol";
    let bin = package_binary(name, name);
    check_help_and_version(name, &bin);
    check_misspelling(name, &bin, &["--verison"], "--version");
    check_misspelling(name, &bin, &["chek"], "check");
    let proto = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocols/descriptions/echo.aproto"
    );
    check_misspelling(name, &bin, &["graph", proto, "--formt"], "--format");
    for sub in ["check", "graph", "expand"] {
        let out = run(name, &bin, &[sub, "--help"]);
        assert!(out.success(), "{name} {sub} --help\n{}", out.transcript());
        assert!(
            out.stdout
                .join("\n")
                .contains(&format!("Usage: {name} {sub}")),
            "{}",
            out.transcript()
        );
    }
    // Without a command: the help, on standard error, as a usage error.
    let out = run(name, &bin, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", out.transcript());
    assert!(out.stderr.contains("Commands:"), "{}", out.transcript());
    // A bad value names the ones allowed.
    let out = run(name, &bin, &["expand", proto, "--role", "sever"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.transcript());
    assert!(
        out.stderr
            .contains("[possible values: server, client, both]"),
        "{}",
        out.transcript()
    );
    // What it does is unchanged: a description that compiles is reported ok.
    let out = run(name, &bin, &["check", proto]);
    assert!(out.success(), "{}", out.transcript());
    assert!(out.stdout[0].ends_with(": ok: protocol `echo`, 2 messages, 1 states"));
}

/// `check` says where a description starts TLS (`starttls`), `graph` marks the edge,
/// and `expand` shows the channels' upgrade.
#[test]
fn asyncore_protocol_shows_starttls() {
    let name = "asyncore-protocol";
    let bin = package_binary(name, name);
    let smtp = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocols/descriptions/smtp.aproto"
    );
    let out = run(name, &bin, &["check", smtp]);
    assert!(out.success(), "{}", out.transcript());
    assert!(
        out.stdout[0].ends_with(
            ": ok: protocol `smtp`, 12 messages, 5 states, starts TLS after `StartTls` in `Greeted`"
        ),
        "{}",
        out.transcript()
    );
    let out = run(name, &bin, &["graph", smtp, "--format", "mermaid"]);
    assert!(out.success(), "{}", out.transcript());
    assert!(
        out.stdout
            .iter()
            .any(|l| l.trim() == "Greeted --> Fresh: StartTls (on Reply if code == 220, starttls)"),
        "{}",
        out.transcript()
    );
    let out = run(name, &bin, &["expand", smtp, "--role", "server"]);
    assert!(out.success(), "{}", out.transcript());
    let code = out.stdout.join("\n");
    assert!(code.contains("pub fn start_tls<'m>("), "no start_tls");
    assert!(code.contains("wire::start_tls_server("), "no upgrade");
}

/// A description in the extension descriptions had before, `.proto`, is still read by
/// every command, with a warning on standard error naming the new extension; any other
/// extension is read as before, without one.
#[test]
fn asyncore_protocol_reads_the_old_extension_with_a_warning() {
    let name = "asyncore-protocol";
    let bin = package_binary(name, name);
    let echo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocols/descriptions/echo.aproto"
    ))
    .expect("read echo.aproto");
    let dir = support::TempDir::new("old-extension");
    let old = dir.file("echo.proto", &echo);
    let old = old.to_str().unwrap();
    for args in [
        &["check", old][..],
        &["graph", old, "--format", "mermaid"],
        &["expand", old, "--role", "server"],
    ] {
        let out = run(name, &bin, args);
        assert!(out.success(), "{args:?}\n{}", out.transcript());
        assert!(!out.stdout.is_empty(), "{args:?}\n{}", out.transcript());
        let want = format!(
            "warning: `{old}`: protocol descriptions end in `.aproto` (`.proto` is Protocol Buffers'): rename it to `{}.aproto`\n",
            old.strip_suffix(".proto").unwrap()
        );
        assert_eq!(out.stderr, want, "{args:?}\n{}", out.transcript());
    }
    for file in ["echo.aproto", "echo.txt", "echo"] {
        let path = dir.file(file, &echo);
        let out = run(name, &bin, &["check", path.to_str().unwrap()]);
        assert!(out.success(), "{file}\n{}", out.transcript());
        assert!(out.stderr.is_empty(), "{file}\n{}", out.transcript());
    }
}

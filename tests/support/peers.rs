//! Real servers and clients for the peer tests: a Mosquitto MQTT broker, a PostgreSQL
//! server, their command-line clients, and Python scripts using `paho-mqtt` or `psycopg`.
//!
//! Every helper that needs a peer follows the project rule of
//! [`require_peer`](super::require_peer): when the peer is missing it prints why and
//! returns `false` or `None` (the test returns), and with `ASYNCORE_REQUIRE_PEERS=1` it
//! fails the test instead.
//!
//! ```ignore
//! let Some(broker) = support::peers::Mosquitto::start() else { return };
//! let Some(pg) = support::peers::Postgres::start() else { return };
//! assert_eq!(pg.psql("select 1"), "1");
//! ```

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{python_has_module, python_script, require_peer, Finished, Proc, TempDir, HANG_GUARD};

/// How many ports a server is tried on before the test fails: a port found free may be
/// taken by another process before the server binds it.
const PORT_TRIES: usize = 5;

// ===== processes and ports =====

/// A free TCP port of 127.0.0.1: bound, read and released, so another process may take
/// it before the caller binds it (servers started here retry on another port).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Whether the process `pid` (a child of this one) has ended: it is gone or a zombie.
pub fn pid_exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z ") || s.contains(") X "))
        .unwrap_or(true)
}

/// The path of the executable `program` on `PATH`, else the first of `fallbacks` that is
/// an executable file (Debian puts daemons in `/usr/sbin`, which a user's `PATH` may lack).
pub fn find_program(program: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exe = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| is_exe(p))
}

/// A server process run in the background with its standard output and error appended to
/// a log file (readable while it runs); killed on drop if it still runs.
#[derive(Debug)]
struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd`, standard input from `/dev/null`, output to `log`.
    fn spawn(name: String, mut cmd: Command, log: PathBuf) -> Daemon {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let err = out.try_clone().expect("duplicate the log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Daemon { name, child, log }
    }

    fn exited(&self) -> bool {
        pid_exited(self.child.id())
    }

    fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Sends `signal` to the process, if it still runs, and waits (at most `wait`) for
    /// it to end; whether it did. Never panics (it runs in `drop`).
    fn stop(&mut self, signal: rustix::process::Signal, wait: Duration) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return true;
        }
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, signal);
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return true,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => return false,
            }
        }
    }

    /// Kills it and returns its log, for a failure message.
    fn kill_for_failure(mut self) -> String {
        let _ = self.child.kill();
        let status = self.child.wait().map(super::describe).unwrap_or_default();
        format!(
            "{}: {status}\n--- log ---\n{}",
            self.name,
            self.log().trim_end()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ===== Python =====

/// The project rule for Python peers: whether the Python 3 interpreter of
/// [`python`](super::python) can import every one of `modules` (skip or fail as
/// [`require_peer`] does otherwise).
pub fn have_python_modules(modules: &[&str]) -> bool {
    require_peer(
        &format!("python3 with {}", modules.join(", ")),
        modules.iter().all(|m| python_has_module(m)),
    )
}

/// Runs `script` with Python 3 (see [`python_script`]), `args` as `sys.argv[1:]`, to its
/// end: its status and output. The test fails, with what the script printed, if it is
/// still running after `timeout` (it is killed).
pub fn run_python<S: AsRef<OsStr>>(
    name: &str,
    script: &str,
    args: &[S],
    timeout: Duration,
) -> Finished {
    Proc::spawn(name, python_script(script, args)).finish(timeout)
}

/// Like [`run_python`], and the script must exit 0: its standard output, lines joined by
/// `\n`. The test fails with the transcript otherwise.
pub fn python_output<S: AsRef<OsStr>>(
    name: &str,
    script: &str,
    args: &[S],
    timeout: Duration,
) -> String {
    let out = run_python(name, script, args, timeout);
    assert!(out.success(), "{name} failed\n{}", out.transcript());
    out.stdout.join("\n")
}

/// Python source defining `new_client(client_id)`: a `paho.mqtt.client.Client` with the
/// callbacks of paho-mqtt 1.x (`on_connect(client, userdata, flags, rc)`,
/// `on_message(client, userdata, msg)`, ...) on paho-mqtt 1.x and 2.x alike. Put it at
/// the start of a script.
pub const PAHO_PRELUDE: &str = r#"
import paho.mqtt.client as mqtt

def new_client(client_id=""):
    if hasattr(mqtt, "CallbackAPIVersion"):
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id)
    return mqtt.Client(client_id=client_id)
"#;

// ===== Mosquitto =====

/// Debian's `mosquitto` broker: the path of the program, if installed.
pub fn mosquitto_binary() -> Option<PathBuf> {
    find_program("mosquitto", &["/usr/sbin/mosquitto"])
}

/// The project rule for the `mosquitto` broker (Debian's `mosquitto`): whether it is
/// installed.
pub fn have_mosquitto() -> bool {
    require_peer("mosquitto", mosquitto_binary().is_some())
}

/// The project rule for `mosquitto_pub` and `mosquitto_sub` (Debian's
/// `mosquitto-clients`): whether both are installed.
pub fn have_mosquitto_clients() -> bool {
    require_peer(
        "mosquitto_pub and mosquitto_sub (mosquitto-clients)",
        find_program("mosquitto_pub", &[]).is_some()
            && find_program("mosquitto_sub", &[]).is_some(),
    )
}

/// A real Mosquitto broker on 127.0.0.1 and a free port, anonymous clients allowed, no
/// persistence, configured by a file of its own in a temporary directory, logging into
/// that directory; killed on drop.
#[derive(Debug)]
pub struct Mosquitto {
    daemon: Daemon,
    addr: SocketAddr,
    dir: TempDir,
}

impl Mosquitto {
    /// Starts a broker and waits until it answers an MQTT `CONNECT`. `None` (the test
    /// returns) when mosquitto is missing and peers are not required.
    pub fn start() -> Option<Mosquitto> {
        Self::start_with("")
    }

    /// Like [`start`](Self::start), with `extra` appended to the configuration file
    /// (e.g. `"max_packet_size 1024\n"` or `"log_type all\n"`).
    pub fn start_with(extra: &str) -> Option<Mosquitto> {
        if !have_mosquitto() {
            return None;
        }
        let binary = mosquitto_binary().expect("mosquitto was found");
        let dir = TempDir::new("mosquitto");
        // Run as root, mosquitto switches to the user `mosquitto` unless told to stay:
        // staying root keeps the files of the temporary directory readable.
        let user = if rustix::process::geteuid().is_root() {
            "user root\n"
        } else {
            ""
        };
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let port = free_port();
            let conf = dir.file(
                "mosquitto.conf",
                format!(
                    "# Written by the asyncore tests.\n\
                     {user}\
                     persistence false\n\
                     log_dest stderr\n\
                     log_type error\n\
                     log_type warning\n\
                     log_type notice\n\
                     log_type information\n\
                     listener {port} 127.0.0.1\n\
                     allow_anonymous true\n\
                     {extra}"
                )
                .as_bytes(),
            );
            let mut cmd = Command::new(&binary);
            cmd.arg("-c").arg(&conf).current_dir(dir.path());
            let log = dir.path().join(format!("mosquitto-{port}.log"));
            let daemon = Daemon::spawn(format!("mosquitto :{port}"), cmd, log);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + HANG_GUARD;
            while Instant::now() < deadline && !daemon.exited() {
                if mqtt_answers(addr) {
                    return Some(Mosquitto { daemon, addr, dir });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last = daemon.kill_for_failure();
        }
        panic!("mosquitto did not start\n{last}");
    }

    /// The address it listens on (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its temporary directory (configuration and log); removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it has logged so far (its standard error: connections, disconnections,
    /// errors; more with `log_type all`).
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Waits until its log has a line containing `what` and returns that line (e.g. a
    /// subscription, logged with `log_type subscribe`). The test fails, with the log, if
    /// none comes within [`HANG_GUARD`].
    pub fn wait_for_log(&self, what: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(what)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline && !self.daemon.exited(),
                "mosquitto logged no line with {what:?} within {HANG_GUARD:?}\n--- log ---\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.daemon.child.id()
    }
}

/// Whether an MQTT broker at `addr` answers an MQTT 3.1.1 `CONNECT` (empty client id,
/// clean session) with a `CONNACK` (whatever its return code).
pub fn mqtt_answers(addr: SocketAddr) -> bool {
    const CONNECT: [u8; 14] = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 0];
    const DISCONNECT: [u8; 2] = [0xe0, 0];
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(&CONNECT).is_err() {
        return false;
    }
    let mut connack = [0u8; 4];
    let ok = s.read_exact(&mut connack).is_ok() && connack[..2] == [0x20, 2];
    let _ = s.write_all(&DISCONNECT);
    ok
}

// ===== PostgreSQL =====

/// The directory of PostgreSQL's server programs: the highest `/usr/lib/postgresql/NN/bin`
/// with `initdb` and `postgres` (Debian's layout), else the directory of `postgres` on
/// `PATH` if `initdb` is beside it.
pub fn pg_bindir() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let has_server =
                |bin: &Path| bin.join("initdb").is_file() && bin.join("postgres").is_file();
            let debian = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let major: u32 = e.file_name().to_str()?.parse().ok()?;
                    Some((major, e.path().join("bin")))
                })
                .filter(|(_, bin)| has_server(bin))
                .max_by_key(|(major, _)| *major)
                .map(|(_, bin)| bin);
            debian.or_else(|| {
                let bin = find_program("postgres", &[])?.parent()?.to_path_buf();
                has_server(&bin).then_some(bin)
            })
        })
        .clone()
}

/// A PostgreSQL program (`psql`, `pg_isready`, `pg_dump`, ...) of the same version as
/// the server: from [`pg_bindir`], else from `PATH`.
pub fn pg_program(name: &str) -> Option<PathBuf> {
    pg_bindir()
        .map(|bin| bin.join(name))
        .filter(|p| p.is_file())
        .or_else(|| find_program(name, &[]))
}

/// The user id and group id of the `postgres` user (from `/etc/passwd`).
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// PostgreSQL refuses to run as root: as root, `cmd` runs as the `postgres` user (set
/// by [`CommandExt::uid`], so the server is our direct child); otherwise as ourselves.
fn as_postgres_user(cmd: &mut Command) {
    if rustix::process::geteuid().is_root() {
        let (uid, gid) = postgres_user().expect("the postgres user exists");
        cmd.uid(uid).gid(gid);
    }
}

/// The project rule for a PostgreSQL server (Debian's `postgresql`): whether its
/// programs are installed and, when we are root, the `postgres` user to run them exists.
pub fn have_postgres() -> bool {
    let found = pg_bindir().is_some_and(|bin| super::runs_ok(bin.join("postgres"), "--version"))
        && (!rustix::process::geteuid().is_root() || postgres_user().is_some());
    require_peer("PostgreSQL server (postgresql: initdb, postgres)", found)
}

/// The project rule for `psql` (Debian's `postgresql-client`): whether it is installed.
pub fn have_psql() -> bool {
    require_peer(
        "psql (postgresql-client)",
        pg_program("psql").is_some_and(|p| super::runs_ok(p, "--version")),
    )
}

/// `initdb`'s flags: trust for every local and TCP connection, superuser `postgres`,
/// UTF-8 with the C locale (stable sort order and messages), no fsync, WAL segments of
/// 1 MiB instead of 16 (a data directory of 28 MB instead of 39, quicker to copy).
const INITDB_ARGS: [&str; 6] = [
    "--auth=trust",
    "--username=postgres",
    "--encoding=UTF8",
    "--no-locale",
    "--no-sync",
    "--wal-segsize=1",
];

/// The settings every test server runs with (`-c NAME=VALUE`): durability off (nothing
/// is kept), times in UTC.
const SERVER_SETTINGS: [&str; 5] = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "TimeZone=UTC",
    "log_timezone=UTC",
];

/// Where data directories go: `/dev/shm` when it is a directory we can write, else the
/// temporary directory. On a disk, copying a data directory takes about 0.4 s on an idle
/// machine and 1.5 s on a busy one; in memory, 0.1 s.
fn pg_parent() -> &'static Path {
    static PARENT: OnceLock<PathBuf> = OnceLock::new();
    PARENT.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let probe = shm.join(format!("asyncore-probe-{}", std::process::id()));
        if std::fs::create_dir(&probe).is_ok() {
            let _ = std::fs::remove_dir(&probe);
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}

/// A data directory made by `initdb` once and copied for every server: in memory,
/// copying takes a tenth of the time of `initdb` (0.1 s and 1.3 s on a busy machine).
/// It lives beside the servers' directories ([`pg_parent`]), named after what made it
/// (the programs' directory, `initdb`'s flags, the user), so that every test process on
/// the machine shares it; it is never started, only copied.
fn template() -> &'static Result<PathBuf, String> {
    static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TEMPLATE.get_or_init(build_template)
}

fn build_template() -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let bindir = pg_bindir().ok_or("no PostgreSQL programs")?;
    let user = postgres_user();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &bindir,
        INITDB_ARGS,
        rustix::process::geteuid().as_raw(),
        user,
    )
        .hash(&mut h);
    let tmp = pg_parent();
    let name = format!("asyncore-pg-template-{:016x}", h.finish());
    let done = tmp.join(&name);
    let usable = |dir: &Path| {
        dir.join("data/PG_VERSION").is_file() && dir.join("data/global/pg_control").is_file()
    };
    if usable(&done) {
        return Ok(done.join("data"));
    }
    // Leftovers of processes that died while building one.
    for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let file_name = e.file_name();
        let Some(rest) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&format!("{name}.")))
        else {
            continue;
        };
        if rest.parse::<u32>().is_ok_and(pid_exited) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let building = tmp.join(format!("{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir(&building).map_err(|e| format!("create {}: {e}", building.display()))?;
    if rustix::process::geteuid().is_root() {
        let (uid, gid) = user.ok_or("no postgres user")?;
        std::os::unix::fs::chown(&building, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", building.display()))?;
    }
    let mut cmd = Command::new(bindir.join("initdb"));
    cmd.arg("-D")
        .arg(building.join("data"))
        .args(INITDB_ARGS)
        .current_dir(&building);
    as_postgres_user(&mut cmd);
    let out = super::run_named("initdb", cmd);
    if !out.success() {
        let _ = std::fs::remove_dir_all(&building);
        return Err(format!("initdb failed\n{}", out.transcript()));
    }
    if std::fs::rename(&building, &done).is_err() {
        // Another process made it first.
        let _ = std::fs::remove_dir_all(&building);
    }
    if usable(&done) {
        Ok(done.join("data"))
    } else {
        Err(format!("{} is not a data directory", done.display()))
    }
}

/// A real PostgreSQL server on 127.0.0.1 and a free port, its data directory (copied
/// from one made by `initdb --auth=trust`, superuser `postgres`, database `postgres`) and
/// Unix socket in a temporary directory (in `/dev/shm` when possible), run as the
/// `postgres` user when we are root, without fsync; stopped (immediate shutdown) and
/// removed on drop.
#[derive(Debug)]
pub struct Postgres {
    daemon: Daemon,
    addr: SocketAddr,
    data: PathBuf,
    dir: TempDir,
}

impl Postgres {
    /// Starts a server and waits until it accepts connections. `None` (the test
    /// returns) when PostgreSQL is missing and peers are not required.
    pub fn start() -> Option<Postgres> {
        Self::start_with(|_| {})
    }

    /// Like [`start`](Self::start), calling `configure` with the data directory before
    /// the server starts: it may rewrite `pg_hba.conf` (e.g. to ask for passwords) or
    /// append to `postgresql.conf`.
    pub fn start_with(configure: impl FnOnce(&Path)) -> Option<Postgres> {
        if !have_postgres() {
            return None;
        }
        let bindir = pg_bindir().expect("PostgreSQL was found");
        let template = template()
            .as_ref()
            .unwrap_or_else(|e| panic!("cannot make a PostgreSQL data directory: {e}"));
        let dir = TempDir::new_in(pg_parent(), "pg");
        let data = dir.path().join("data");
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(template).arg(&data);
        let out = super::run_named("cp -a (the PostgreSQL data directory)", cp);
        assert!(
            out.success(),
            "cannot copy {} to {}\n{}",
            template.display(),
            data.display(),
            out.transcript()
        );
        configure(&data);
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let port = free_port();
            let mut cmd = Command::new(bindir.join("postgres"));
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .arg("-k")
                .arg(&data)
                .args(["-c", "listen_addresses=127.0.0.1"]);
            for setting in SERVER_SETTINGS {
                cmd.args(["-c", setting]);
            }
            cmd.current_dir(dir.path());
            as_postgres_user(&mut cmd);
            let log = dir.path().join(format!("postgres-{port}.log"));
            let daemon = Daemon::spawn(format!("postgres :{port}"), cmd, log);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + HANG_GUARD;
            while Instant::now() < deadline && !daemon.exited() {
                if postmaster_ready(&data, port) && TcpStream::connect(addr).is_ok() {
                    return Some(Postgres {
                        daemon,
                        addr,
                        data,
                        dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last = daemon.kill_for_failure();
            let _ = std::fs::remove_file(data.join("postmaster.pid"));
        }
        panic!("postgres did not start\n{last}");
    }

    /// The address it listens on (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its data directory (the Unix socket is there too).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Its temporary directory (the data directory and the log); removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The libpq connection string of the superuser to the database `postgres` over TCP
    /// (for psycopg, `psql`, ...): `host=127.0.0.1 port=PORT user=postgres dbname=postgres`.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port()
        )
    }

    /// What it has logged so far (its standard error).
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// The process id of the postmaster.
    pub fn pid(&self) -> u32 {
        self.daemon.child.id()
    }

    /// A `psql` command connected to it over TCP as `postgres` to the database
    /// `postgres`, without `.psqlrc` (`-X`), stopping at the first error; add `-c SQL`,
    /// `-f FILE`, output flags. Panics when `psql` is missing: check with [`have_psql`]
    /// first.
    pub fn psql_command(&self) -> Command {
        let psql = pg_program("psql").expect("psql is installed (postgresql-client)");
        let mut cmd = Command::new(psql);
        cmd.args(["-X", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port().to_string()])
            .args(["-U", "postgres", "-d", "postgres"])
            .env("PGCONNECT_TIMEOUT", "10");
        cmd
    }

    /// Runs `sql` (one or more statements) with `psql -q -A -t -c`
    /// ([`psql_command`](Self::psql_command)): the rows of the results, one per line,
    /// columns separated by `|`, lines joined by `\n`, without headers or command tags.
    /// The test fails, with psql's output and the server's log, if psql does not exit 0.
    pub fn psql(&self, sql: &str) -> String {
        let mut cmd = self.psql_command();
        cmd.args(["-q", "-A", "-t", "-c", sql]);
        let out = super::run_named("psql", cmd);
        assert!(
            out.success(),
            "psql -c {sql:?} failed\n{}\n--- postgres log ---\n{}",
            out.transcript(),
            self.log().trim_end()
        );
        out.stdout.join("\n")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // `pg_ctl stop -m immediate`: SIGQUIT ends the postmaster and its backends at
        // once; the data directory goes away with the temporary directory.
        if !self
            .daemon
            .stop(rustix::process::Signal::QUIT, Duration::from_secs(10))
        {
            // Killing the postmaster leaves its backends, which end when they see it gone.
            let _ = self.daemon.child.kill();
        }
    }
}

/// Whether the postmaster of `data` says it is ready on `port`: the status that
/// `pg_ctl` waits for, on the last line of `postmaster.pid`.
fn postmaster_ready(data: &Path, port: u16) -> bool {
    let Ok(pid_file) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return false;
    };
    let lines: Vec<&str> = pid_file.lines().collect();
    lines.len() >= 8 && lines[3].trim() == port.to_string() && lines[7].trim() == "ready"
}

// ===== nginx =====

/// The nginx binary: `nginx` on `PATH`, or Debian's `/usr/sbin/nginx`.
pub fn nginx_binary() -> Option<PathBuf> {
    find_program("nginx", &["/usr/sbin/nginx"])
}

/// The project rule for nginx: whether it is installed.
pub fn have_nginx() -> bool {
    require_peer("nginx", nginx_binary().is_some())
}

/// A real nginx on 127.0.0.1 and a free port, in the foreground, one process, with a
/// configuration of its own in a temporary directory where it also keeps its logs
/// (`access.log`: `$connection $connection_requests $request_method $request_uri
/// $status`; `error.log`) and temporary files; killed on drop.
#[derive(Debug)]
pub struct Nginx {
    daemon: Daemon,
    addr: SocketAddr,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx in `dir` with `http` added to its `http` block and `server` to its one
    /// `server` block (which already has the `listen` line), and waits until it accepts
    /// connections. `None` (the test returns) when nginx is missing and peers are not
    /// required.
    pub fn start(dir: TempDir, http: &str, server: &str) -> Option<Nginx> {
        Nginx::start_listening(dir, http, server, "")
    }

    /// [`start`](Self::start) with `params` after the address of the `listen` line
    /// (`ssl` for HTTPS, with `ssl_certificate` and `ssl_certificate_key` in `server`).
    pub fn start_listening(dir: TempDir, http: &str, server: &str, params: &str) -> Option<Nginx> {
        if !have_nginx() {
            return None;
        }
        let binary = nginx_binary().expect("nginx was found");
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let port = free_port();
            let d = dir.path().display();
            let conf = format!(
                "# Written by the asyncore tests.\n\
                 daemon off;\n\
                 master_process off;\n\
                 worker_processes 1;\n\
                 pid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n\
                   log_format conn '$connection $connection_requests $request_method $request_uri $status';\n\
                   access_log {d}/access.log conn;\n\
                   client_body_temp_path {d}/body;\n\
                   proxy_temp_path {d}/proxy;\n\
                   fastcgi_temp_path {d}/fastcgi;\n\
                   uwsgi_temp_path {d}/uwsgi;\n\
                   scgi_temp_path {d}/scgi;\n\
                   {http}\n\
                   server {{\n\
                     listen 127.0.0.1:{port} {params};\n\
                     {server}\n\
                   }}\n\
                 }}\n"
            );
            let conf_path = dir.file("nginx.conf", conf.as_bytes());
            let mut cmd = Command::new(&binary);
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(dir.path().join("error.log"));
            let log = dir.path().join(format!("nginx-{port}.log"));
            let daemon = Daemon::spawn(format!("nginx :{port}"), cmd, log);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + HANG_GUARD;
            while Instant::now() < deadline && !daemon.exited() {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(Nginx { daemon, addr, dir });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let errors = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            last = format!("{}\n--- error.log ---\n{errors}", daemon.kill_for_failure());
        }
        panic!("nginx did not start\n{last}");
    }

    /// The address it listens on (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Its temporary directory; removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The lines of the access log, split at spaces: `CONNECTION REQUESTS METHOD URI
    /// STATUS`.
    pub fn access_log(&self) -> Vec<Vec<String>> {
        // nginx writes each line as the request ends; give it a moment.
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(str::to_string).collect())
            .collect()
    }

    /// What it has written to its error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.daemon.child.id()
    }
}

//! The cost of `protocol!`: for every shipped description, and for a generated one of 100
//! messages, the time the compiler takes, the size of the Rust it generates, and the time
//! rustc takes to compile a crate that uses it.
//!
//! - **Compiler**: lex, parse, check, lower and generate, run in this process through the
//!   `asyncore-protocol` library (median of `--runs` runs, default 21), with the time of
//!   each stage.
//! - **Size**: the module as `asyncore-protocol expand` prints it (bytes and lines), and
//!   its items (structs, enums, impls, functions...), counted through nested modules,
//!   `impl` and `trait` blocks.
//! - **Compiler at opt-level 0**: Cargo builds proc macros and their dependencies
//!   unoptimised in both profiles, so inside rustc the macro runs the compiler at
//!   `opt-level = 0`. A small program built so times `asyncore_protocol::expand` on each
//!   description (median of 5 runs): about what the macro takes inside rustc, less the
//!   conversion of its tokens for rustc.
//! - **rustc**: a throwaway crate per description, in a temporary directory, depends on
//!   this workspace's `asyncore-runtime` by path (offline, with a copy of the workspace's
//!   `Cargo.lock`). Its `lib.rs` holds `protocol!(pub mod proto = "description.aproto");`,
//!   an `impl` of the `Server` and `Client` traits, and a function that makes a channel of
//!   each role, so that the generic channel code is compiled as in a program that uses
//!   it. The dependencies are built once, in a target directory the crates share
//!   (`target/macro-cost/`); then `lib.rs` is touched and the crate rebuilt
//!   `--rustc-runs` times (default 3), in debug (incremental off: the crate compiled from
//!   scratch) and in release, and the table shows the median wall time of `cargo build`
//!   and the processor time of cargo, rustc and the linker. `baseline` is the same crate
//!   with no description: cargo's own time and the floor of a crate that links the
//!   runtime.
//! - **Goal**: the generated description's times against 2 s, rustc's by processor time,
//!   which the machine's other work inflates less than the wall time.
//!
//! ```text
//! cargo bench -p asyncore-protocol --bench macro_cost
//! cargo bench -p asyncore-protocol --bench macro_cost -- --no-rustc      # compiler and size only
//! cargo bench -p asyncore-protocol --bench macro_cost -- --only memcache,generated-100
//! cargo bench -p asyncore-protocol --bench macro_cost -- --print-generated 100
//! cargo bench -p asyncore-protocol --bench macro_cost -- --keep   # leave the crates, to look at them
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, ToTokens};

/// The goal: a description of this many messages...
const GOAL_MESSAGES: usize = 100;
/// ...compiles in less than this.
const GOAL: Duration = Duration::from_secs(2);

const USAGE: &str = "usage: macro_cost [--runs N] [--rustc-runs N] [--no-rustc] [--only NAME[,NAME...]] [--messages N] [--print-generated N] [--keep]";

struct Options {
    runs: usize,
    rustc_runs: usize,
    rustc: bool,
    keep: bool,
    only: Option<Vec<String>>,
    messages: usize,
}

fn options() -> Options {
    let mut o = Options {
        runs: 21,
        rustc_runs: 3,
        rustc: true,
        keep: false,
        only: None,
        messages: GOAL_MESSAGES,
    };
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>| -> usize {
        match v.and_then(|v| v.parse().ok()) {
            Some(n) if n > 0 => n,
            _ => fail(USAGE),
        }
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => o.runs = number(args.next()),
            "--rustc-runs" => o.rustc_runs = number(args.next()),
            "--no-rustc" => o.rustc = false,
            "--keep" => o.keep = true,
            "--only" => {
                let v = args.next().unwrap_or_else(|| fail(USAGE));
                o.only = Some(v.split(',').map(str::to_string).collect());
            }
            "--messages" => o.messages = number(args.next()),
            "--print-generated" => {
                print!("{}", generated_description(number(args.next())));
                std::process::exit(0);
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => fail(USAGE),
        }
    }
    o
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

/// A description to measure.
struct Subject {
    name: String,
    src: String,
}

/// What was measured of one description.
#[derive(Default)]
struct Row {
    name: String,
    messages: usize,
    states: usize,
    /// Medians: lex + parse, check + lower, generate, and the three in a row.
    parse: Duration,
    check: Duration,
    generate: Duration,
    compiler: Duration,
    bytes: usize,
    lines: usize,
    items: usize,
    /// `expand` built at opt-level 0, as the macro runs it.
    unoptimised: Option<Duration>,
    debug: Option<Time>,
    release: Option<Time>,
}

fn main() {
    let opts = options();
    let mut subjects = shipped();
    subjects.push(Subject {
        name: format!("generated-{}", opts.messages),
        src: generated_description(opts.messages),
    });
    if let Some(only) = &opts.only {
        subjects.retain(|s| only.contains(&s.name));
        if subjects.is_empty() {
            fail("--only: no description of that name");
        }
    }

    let mut rows: Vec<Row> = subjects
        .iter()
        .map(|s| measure_compiler(s, opts.runs))
        .collect();

    let mut baseline = None;
    if opts.rustc {
        let probe = Probe::new();
        eprintln!(
            "building the dependencies in {} (debug and release)...",
            probe.target.display()
        );
        probe.build(&probe.baseline, false);
        probe.build(&probe.baseline, true);
        baseline = Some((
            probe.time(&probe.baseline, false, opts.rustc_runs),
            probe.time(&probe.baseline, true, opts.rustc_runs),
        ));
        let crates: Vec<PathBuf> = subjects.iter().map(|s| probe.write_user(s)).collect();
        eprintln!("timing the compiler built at opt-level 0...");
        let descriptions: Vec<PathBuf> = crates
            .iter()
            .map(|c| c.join("description.aproto"))
            .collect();
        for (row, t) in rows.iter_mut().zip(probe.unoptimised(&descriptions)) {
            row.unoptimised = Some(t);
        }
        for ((s, row), dir) in subjects.iter().zip(&mut rows).zip(&crates) {
            eprintln!("compiling a crate that uses `{}`...", s.name);
            row.debug = Some(probe.time(dir, false, opts.rustc_runs));
            row.release = Some(probe.time(dir, true, opts.rustc_runs));
        }
        if opts.keep {
            eprintln!("the crates are kept in {}", probe.dir.display());
        } else {
            probe.remove();
        }
    }
    print!("{}", report(&rows, baseline, &opts));
}

// ===== The descriptions =====

/// The shipped descriptions, `protocols/descriptions/*.aproto`, by name.
fn shipped() -> Vec<Subject> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptions");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "aproto"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| Subject {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            src: std::fs::read_to_string(&p)
                .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", p.display()))),
        })
        .collect()
}

/// A description of `n` messages (a multiple of 10, at least 20): a line protocol with a
/// second, length-prefixed framing, in six states.
///
/// Of every ten messages, four are client lines, two client frames, three server lines
/// and one a server frame. Lines have keywords, words, decimal and hex numbers, flags,
/// literal alternatives, repetitions to the end of the line, header blocks up to an empty
/// line, and counted bytes or counted items after `then`; frames have an opcode byte,
/// fixed-width integers of both byte orders, bits, conditional fields, C strings,
/// length-prefixed and nullable bytes, varints and counted repetitions. Client lines are
/// received in four states and client frames in two (a state receives one framing);
/// each state's first message leads to the next state, its last one closes, and the
/// others stay.
fn generated_description(n: usize) -> String {
    if n < 20 || !n.is_multiple_of(10) {
        fail("--messages and --print-generated take a multiple of 10, at least 20");
    }
    const LINE_STATES: usize = 4;
    const FRAME_STATES: usize = 2;
    let mut out = format!(
        "/// A generated protocol of {n} messages, to measure what `protocol!` costs.\n\
         protocol generated\n\
         framing line \"\\r\\n\" max 4KiB\n\
         /// Binary messages: a 4-byte big-endian length, then an opcode byte.\n\
         framing frame = length u32be max 64KiB\n\
         on oversize reply \"ERR line too long\" close\n\
         on unknown reply \"ERR unknown command\" continue\n\
         on invalid reply \"ERR syntax error\" continue\n\
         on not_allowed reply \"ERR not now\" continue\n\n"
    );
    let mut line_states: Vec<Vec<String>> = vec![Vec::new(); LINE_STATES];
    let mut frame_states: Vec<Vec<String>> = vec![Vec::new(); FRAME_STATES];
    let (mut client_lines, mut client_frames, mut server_lines, mut server_frames) = (0, 0, 0, 0);
    for i in 0..n {
        let (name, decl) = match i % 10 {
            0..=3 => {
                let j = client_lines;
                client_lines += 1;
                let name = format!("Cmd{j:02}");
                line_states[j % LINE_STATES].push(name.clone());
                let kw = format!("\"CMD{j:02}\"");
                let parts = match j % 10 {
                    0 => format!("{kw} key:word"),
                    1 => format!("{kw} key:word flags:u32 exptime:i64 noreply:\"noreply\"?"),
                    2 => format!("{kw} text:rest"),
                    3 => format!(
                        "{kw} key:word len:u32 max 65536\n    then data:bytes[len] max 64KiB \"\\r\\n\""
                    ),
                    4 => format!("{kw} keys:word+"),
                    5 => format!("{kw} a:u8 b:u16 c:u64 d:hex"),
                    6 => format!(
                        "{kw} argc:i32 max 64\n    then args: argc * (\"$\" ~ len:u32 max 4096 then data:bytes[len] max 4KiB \"\\r\\n\") max 64"
                    ),
                    7 => format!("{kw} name:token ~ \":\" ows value:rest"),
                    8 => format!("{kw} id:u32 mode:(\"a\" | \"b\")"),
                    _ => format!(
                        "{kw}\n    then headers: (name:token ~ \":\" ows value:rest)* until \"\" max 32"
                    ),
                };
                (name.clone(), format!("client {name} = {parts}"))
            }
            4 | 5 => {
                let j = client_frames;
                client_frames += 1;
                let name = format!("Op{j:02}");
                frame_states[j % FRAME_STATES].push(name.clone());
                let op = format!("0x{:02x}", j + 1);
                let parts = match j % 10 {
                    0 => format!("{op} id:u32be"),
                    1 => format!("{op} key:bytes[u16be] value:rest"),
                    2 => format!("{op} klen:u16be key:bytes[klen] value:rest"),
                    3 => format!("{op} 0b0 a:u1 b:u2 c:u4 id:u16be if b > 0 payload:rest"),
                    4 => format!("{op} name:cstr value:cstr"),
                    5 => format!("{op} count:u16be items: count * (k:u8 v:bytes[u16be])"),
                    6 => format!("{op} x:i64le y:u32le z:u8"),
                    7 => format!("{op} v:varint max 1000000 data:rest"),
                    8 => format!("{op} fields:(code:u8 value:cstr)* 0x00"),
                    _ => format!("{op} value:bytes[i32be] nullable"),
                };
                (
                    name.clone(),
                    format!("client {name} framing frame = {parts}"),
                )
            }
            6..=8 => {
                let j = server_lines;
                server_lines += 1;
                let name = format!("Reply{j:02}");
                let kw = format!("\"R{j:02}\"");
                let parts = match j % 7 {
                    0 => format!("{kw} code:u16 text:rest"),
                    1 => format!(
                        "{kw} key:word len:u32 max 65536\n    then data:bytes[len] max 64KiB \"\\r\\n\""
                    ),
                    2 => format!("{kw} name:word value:rest"),
                    3 => format!("{kw} value:u64"),
                    4 => format!("{kw} items:word*"),
                    5 => kw,
                    _ => format!("{kw} more:(\"-\" | \" \") ~ text:rest"),
                };
                (name.clone(), format!("server {name} = {parts}"))
            }
            _ => {
                let j = server_frames;
                server_frames += 1;
                let name = format!("Answer{j:02}");
                let op = format!("0x{:02x}", 0x80 + j);
                let parts = match j % 4 {
                    0 => format!("{op} status:u8"),
                    1 => format!("{op} value:rest"),
                    2 => format!("{op} id:u32be key:bytes[u16be]"),
                    _ => format!("{op} codes:u8+"),
                };
                (
                    name.clone(),
                    format!("server {name} framing frame = {parts}"),
                )
            }
        };
        let _ = writeln!(out, "/// Message {i}: `{name}`.\n{decl}");
    }
    // Line0 -> Line1 -> ... -> Frame0 -> Frame1 -> Line0.
    let states: Vec<(String, Vec<String>)> = (line_states.into_iter().enumerate())
        .map(|(k, m)| (format!("Line{k}"), m))
        .chain((frame_states.into_iter().enumerate()).map(|(k, m)| (format!("Frame{k}"), m)))
        .collect();
    for (k, (state, messages)) in states.iter().enumerate() {
        let next = &states[(k + 1) % states.len()].0;
        let initial = if k == 0 { " initial" } else { "" };
        let _ = writeln!(out, "\n/// State {k}.\nstate {state}{initial} {{");
        for (m, message) in messages.iter().enumerate() {
            let target = if m == 0 {
                next
            } else if m + 1 == messages.len() {
                "close"
            } else {
                state
            };
            let _ = writeln!(out, "    {message} -> {target}");
        }
        out += "}\n";
    }
    out
}

// ===== The compiler, in this process =====

fn measure_compiler(s: &Subject, runs: usize) -> Row {
    let name = Ident::new("proto", Span::call_site());
    let vis = quote!(pub);
    let protocol = asyncore_protocol::compile(&s.src).unwrap_or_else(|errors| {
        let shown: Vec<String> = errors.iter().map(|e| e.render(&s.name, &s.src)).collect();
        fail(&shown.join("\n"))
    });
    let (mut parse, mut check, mut generate, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t0 = Instant::now();
        let ast = asyncore_protocol::parse::parse(std::hint::black_box(&s.src)).unwrap();
        let t1 = Instant::now();
        let p = asyncore_protocol::check::check(&ast).unwrap();
        let t2 = Instant::now();
        let tokens = asyncore_protocol::gen::generate(&p, &vis, &name);
        let t3 = Instant::now();
        std::hint::black_box(tokens);
        parse.push(t1 - t0);
        check.push(t2 - t1);
        generate.push(t3 - t2);
        total.push(t3 - t0);
    }
    // What `asyncore-protocol expand` prints.
    let own_name = Ident::new(&protocol.name, Span::call_site());
    let tokens = asyncore_protocol::gen::generate_role(&protocol, &vis, &own_name, "both");
    let code = asyncore_protocol::gen::pretty(tokens.clone()).unwrap_or_else(|e| fail(&e));
    let file: syn::File = syn::parse2(tokens).unwrap_or_else(|e| fail(&e.to_string()));
    Row {
        name: s.name.clone(),
        messages: protocol.messages.len(),
        states: protocol.states.len(),
        parse: median(parse),
        check: median(check),
        generate: median(generate),
        compiler: median(total),
        bytes: code.len(),
        lines: code.lines().count(),
        items: count_items(&file.items),
        ..Row::default()
    }
}

/// Items, counted through modules and `impl` and `trait` blocks (each associated item is
/// one).
fn count_items(items: &[syn::Item]) -> usize {
    items
        .iter()
        .map(|item| {
            1 + match item {
                syn::Item::Mod(m) => m.content.as_ref().map_or(0, |(_, i)| count_items(i)),
                syn::Item::Impl(i) => i.items.len(),
                syn::Item::Trait(t) => t.items.len(),
                _ => 0,
            }
        })
        .sum()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

// ===== rustc, on throwaway crates =====

/// The throwaway crates: in a temporary directory, sharing one target directory.
struct Probe {
    workspace: PathBuf,
    dir: PathBuf,
    target: PathBuf,
    baseline: PathBuf,
}

impl Probe {
    fn new() -> Probe {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        // A relative `CARGO_TARGET_DIR` is relative to where cargo was started: the
        // workspace, for `cargo bench -p ...` there.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(|d| workspace.join(d))
            .unwrap_or_else(|| workspace.join("target"))
            .join("macro-cost");
        let dir = std::env::temp_dir().join(format!("asyncore-macro-cost-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let probe = Probe {
            workspace,
            baseline: dir.join("baseline"),
            dir,
            target,
        };
        let runtime = probe.runtime();
        probe.write_crate(
            &probe.baseline,
            "baseline",
            &runtime,
            "lib.rs",
            "//! No description: the floor.\n\npub use asyncore_runtime;\n",
        );
        probe
    }

    /// The dependency on this workspace's runtime.
    fn runtime(&self) -> String {
        format!(
            "asyncore-runtime = {{ path = {:?} }}\n",
            self.workspace.join("asyncore-runtime")
        )
    }

    /// Writes a crate with the dependencies `deps` and one source file.
    fn write_crate(&self, dir: &Path, name: &str, deps: &str, file: &str, code: &str) {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let manifest = format!(
            "[package]\n\
             name = \"{name}\"\n\
             version = \"0.0.0\"\n\
             edition = \"2021\"\n\
             publish = false\n\n\
             [workspace]\n\n\
             [dependencies]\n\
             {deps}\n\
             [profile.dev]\n\
             incremental = false\n"
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file: the versions the workspace is built and tested with,
        // resolved without the network.
        let lock = self.workspace.join("Cargo.lock");
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .unwrap_or_else(|e| fail(&format!("cannot copy {}: {e}", lock.display())));
        std::fs::write(dir.join("src").join(file), code).unwrap();
    }

    /// The crate that uses `protocol!` on `s`.
    fn write_user(&self, s: &Subject) -> PathBuf {
        let protocol = asyncore_protocol::compile(&s.src).unwrap();
        let name = Ident::new("proto", Span::call_site());
        let module = asyncore_protocol::gen::generate(&protocol, &quote!(pub), &name);
        let dir = self.dir.join(&s.name);
        let lib = format!(
            "//! `protocol!` on `{}`.\n#![allow(unused)]\n\n\
             asyncore_runtime::protocol!(pub mod proto = \"description.aproto\");\n\n{}",
            s.name,
            handlers(&module)
        );
        let crate_name = format!("cost_{}", s.name.replace('-', "_"));
        self.write_crate(&dir, &crate_name, &self.runtime(), "lib.rs", &lib);
        std::fs::write(dir.join("description.aproto"), &s.src).unwrap();
        dir
    }

    /// Times `asyncore_protocol::expand` on each description, built at opt-level 0.
    fn unoptimised(&self, descriptions: &[PathBuf]) -> Vec<Duration> {
        let dir = self.dir.join("compiler-o0");
        let deps = format!(
            "asyncore-protocol = {{ path = {:?}, default-features = false }}\n\
             proc-macro2 = \"1\"\n\
             quote = \"1\"\n",
            self.workspace.join("protocols")
        );
        self.write_crate(&dir, "compiler_o0", &deps, "main.rs", COMPILER_O0);
        self.build(&dir, false);
        let out = Command::new(self.target.join("debug/compiler_o0"))
            .args(descriptions)
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run compiler_o0: {e}")));
        if !out.status.success() {
            fail(&format!(
                "compiler_o0 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| Duration::from_nanos(l.trim().parse().unwrap()))
            .collect()
    }

    fn cargo(&self, dir: &Path, release: bool) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut c = Command::new(cargo);
        c.arg("build")
            .arg("--offline")
            .arg("--color=never")
            .arg("--manifest-path")
            .arg(dir.join("Cargo.toml"))
            .current_dir(dir);
        if release {
            c.arg("--release");
        }
        // What `cargo bench` set for this program is not for the builds it starts.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_NET_OFFLINE")
                || k.starts_with("RUSTC_")
                || k == "RUSTFLAGS"
                || k == "RUSTDOCFLAGS"
            {
                c.env_remove(&*k);
            }
        }
        // After the removals above, which take out a `CARGO_TARGET_DIR` that `cargo bench`
        // was run with.
        c.env("CARGO_TARGET_DIR", &self.target);
        c
    }

    /// Builds the crate in `dir`: the time, and whether anything but the crate itself was
    /// compiled (a dependency changed in the working tree meanwhile).
    fn build(&self, dir: &Path, release: bool) -> (Time, bool) {
        let cpu = children_cpu();
        let t = Instant::now();
        let out = self.cargo(dir, release).output();
        let elapsed = Time {
            wall: t.elapsed(),
            cpu: children_cpu() - cpu,
        };
        let out = out.unwrap_or_else(|e| fail(&format!("cannot run cargo: {e}")));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            fail(&format!(
                "cargo build in {} failed ({}):\n{stderr}",
                dir.display(),
                out.status
            ));
        }
        let own = format!("Compiling {} ", package_name(dir));
        let others = stderr
            .lines()
            .map(str::trim_start)
            .any(|l| l.starts_with("Compiling ") && !l.starts_with(&own));
        (elapsed, others)
    }

    /// Builds the crate once (its dependencies are built), then touches `lib.rs` and
    /// rebuilds it `runs` times: the median. A rebuild that compiled a dependency too
    /// (the working tree changed) is done again.
    fn time(&self, dir: &Path, release: bool, runs: usize) -> Time {
        self.build(dir, release);
        let lib = dir.join("src/lib.rs");
        let mut times = Vec::new();
        let mut redone = 0;
        while times.len() < runs {
            let f = std::fs::File::options().append(true).open(&lib).unwrap();
            f.set_modified(std::time::SystemTime::now()).unwrap();
            drop(f);
            match self.build(dir, release) {
                (t, false) => times.push(t),
                (_, true) if redone < 3 => redone += 1,
                (_, true) => fail("the dependencies keep changing: is the working tree edited?"),
            }
        }
        Time {
            wall: median(times.iter().map(|t: &Time| t.wall).collect()),
            cpu: median(times.iter().map(|t| t.cpu).collect()),
        }
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The time a build took.
#[derive(Clone, Copy)]
struct Time {
    wall: Duration,
    /// The processor time of cargo, rustc and the linker (user and system), which does
    /// not grow with the load of the machine as the wall time does.
    cpu: Duration,
}

/// The processor time used by the children of this process that have ended, from
/// `/proc/self/stat` (`cutime` and `cstime`, in clock ticks of 10 ms).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses: `cutime` and `cstime`
    // are the 16th and 17th of the line, the 14th and 15th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let ticks: u64 = after
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The package name in `dir`'s manifest.
fn package_name(dir: &Path) -> String {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
}

/// The program that times the compiler built at opt-level 0: for each description named
/// on its command line, the median time of `expand` in nanoseconds, a line each.
const COMPILER_O0: &str = r#"//! `asyncore_protocol::expand` at opt-level 0, as a proc macro runs it.

fn main() {
    let name = proc_macro2::Ident::new("proto", proc_macro2::Span::call_site());
    let vis = quote::quote!(pub);
    for path in std::env::args().skip(1) {
        let src = std::fs::read_to_string(&path).unwrap();
        let mut times: Vec<u128> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                let tokens = asyncore_protocol::expand(&src, &vis, &name).unwrap();
                std::hint::black_box(tokens);
                t.elapsed().as_nanos()
            })
            .collect();
        times.sort();
        println!("{}", times[2]);
    }
}
"#;

/// An `impl` of each role's trait, with every method the trait leaves to the user, and a
/// function that makes a channel of each role with them.
fn handlers(module: &TokenStream) -> String {
    let file: syn::File = syn::parse2(module.clone()).unwrap();
    let Some(syn::Item::Mod(m)) = file.items.first() else {
        fail("the generated code is not a module")
    };
    let items = &m.content.as_ref().unwrap().1;
    let required = |trait_name: &str| -> Vec<TokenStream> {
        let t = items.iter().find_map(|i| match i {
            syn::Item::Trait(t) if t.ident == trait_name => Some(t),
            _ => None,
        });
        let Some(t) = t else {
            fail(&format!("no trait `{trait_name}` in the generated module"))
        };
        t.items
            .iter()
            .filter_map(|i| match i {
                syn::TraitItem::Fn(f) if f.default.is_none() => {
                    // The crate is only compiled, never run: each handler refuses
                    // what it is given (every required handler returns a `Result`).
                    let sig = f.sig.to_token_stream();
                    Some(quote!(#sig { Err("compiled for its cost, not run".into()) }))
                }
                _ => None,
            })
            .collect()
    };
    let server = required("Server");
    let client = required("Client");
    let code = quote! {
        mod handlers {
            use super::proto::*;
            pub struct S;
            impl Server for S { #(#server)* }
            pub struct C;
            impl Client for C { #(#client)* }
        }
        /// A channel of each role, so that their generic code is compiled.
        pub fn channels() -> [Box<dyn asyncore_runtime::Dispatcher>; 2] {
            [
                Box::new(proto::ServerChannel::new(handlers::S)),
                Box::new(proto::ClientChannel::new(handlers::C)),
            ]
        }
    };
    asyncore_protocol::gen::pretty(code).unwrap_or_else(|e| fail(&e))
}

// ===== The report =====

fn report(rows: &[Row], baseline: Option<(Time, Time)>, opts: &Options) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let t = |t: Option<Time>| {
        t.map_or("-".to_string(), |t| {
            format!("{:.2} ({:.2})", t.wall.as_secs_f64(), t.cpu.as_secs_f64())
        })
    };
    let mut out = String::new();
    out += "\n| description | messages | states | compiler ms (lex+parse / check+lower / generate) | at opt-level 0 ms | expanded bytes | lines | items | rustc debug s, wall (CPU) | rustc release s, wall (CPU) |\n";
    out += "|---|---|---|---|---|---|---|---|---|---|\n";
    if let Some((debug, release)) = baseline {
        let _ = writeln!(
            out,
            "| baseline (no description) | | | | | | | | {} | {} |",
            t(Some(debug)),
            t(Some(release))
        );
    }
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({} / {} / {}) | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.messages,
            r.states,
            ms(r.compiler),
            ms(r.parse),
            ms(r.check),
            ms(r.generate),
            r.unoptimised.map_or("-".to_string(), ms),
            thousands(r.bytes),
            thousands(r.lines),
            thousands(r.items),
            t(r.debug),
            t(r.release),
        );
    }
    let _ = writeln!(
        out,
        "\ncompiler: median of {} runs in this process (optimised), and of 5 at opt-level 0; \
         rustc: median of {} rebuilds of the crate alone, wall time of `cargo build` and, in \
         parentheses, the processor time of cargo, rustc and the linker",
        opts.runs, opts.rustc_runs
    );
    if let Some(r) = rows.iter().find(|r| r.name.starts_with("generated-")) {
        let verdict = |d: Duration| if d < GOAL { "met" } else { "NOT met" };
        let _ = write!(
            out,
            "goal, a description of {} messages compiles in under {} s: compiler {} ms ({})",
            r.messages,
            GOAL.as_secs(),
            ms(r.compiler),
            verdict(r.compiler)
        );
        if let Some(d) = r.unoptimised {
            let _ = write!(out, ", at opt-level 0 {} ms ({})", ms(d), verdict(d));
        }
        if let (Some(d), Some(rel)) = (r.debug, r.release) {
            // The processor time: the wall time grows with whatever else the machine runs.
            let _ = write!(
                out,
                "; crate in debug {:.2} s of CPU ({}), in release {:.2} s of CPU ({})",
                d.cpu.as_secs_f64(),
                verdict(d.cpu),
                rel.cpu.as_secs_f64(),
                verdict(rel.cpu)
            );
        }
        out += "\n";
    }
    out
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

//! Test support: start the real `sockit` binary on port 0 and read the
//! addresses it prints; no fixed ports, no sleeps.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod chat;
pub mod inproc;
pub mod pg;
pub mod share;
pub mod web;

/// How long a server may take to print `ready`; a bound on a hang, not a sleep.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How long one CLI run may take before it counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Where a test server listens: the real binary ([`Server`]) or one in
/// process ([`inproc::InProc`]), so clients connect to either.
pub trait Listening {
    /// The `HOST:PORT` of the first `service` listener on `scheme` (`tcp://`).
    fn sock(&self, service: &str, scheme: &str) -> String;
}

impl Listening for Server {
    fn sock(&self, service: &str, scheme: &str) -> String {
        Server::sock(self, service, scheme)
    }
}

/// The path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sockit")
}

/// A running `sockit serve`, killed on drop.
pub struct Server {
    child: Option<Child>,
    /// `(service, address)` pairs as printed, in order.
    pub listeners: Vec<(String, String)>,
    /// Everything printed on stdout up to `ready`.
    pub banner: Vec<String>,
    /// The temporary directory holding `--data` and any unix sockets.
    pub dir: tempfile::TempDir,
    rest: Option<BufReader<ChildStdout>>,
}

impl Server {
    /// The `--data` directory the server was started with.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts `sockit serve ARGS --data TMP/data` in a fresh temporary
    /// directory (relative unix paths land there) and waits for `ready`.
    pub fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, args)
    }

    /// Like [`Server::start`] in a given directory (to restart over old state).
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
        let data = dir.path().join("data");
        let mut child = Command::new(bin())
            .arg("serve")
            .args(args)
            .arg("--data")
            .arg(&data)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    let _ = tx.send((lines, None));
                    return;
                }
                let line = line.trim_end().to_string();
                let ready = line.starts_with("ready");
                lines.push(line);
                if ready {
                    let _ = tx.send((lines, Some(reader)));
                    return;
                }
            }
        });
        let (banner, rest) = rx
            .recv_timeout(START_LIMIT)
            .expect("server did not print ready");
        if rest.is_none() {
            let status = child.wait().unwrap();
            panic!("server exited before ready ({status}); stdout: {banner:?}");
        }
        let listeners = banner
            .iter()
            .filter_map(|l| l.split_once(" listening on "))
            .map(|(s, a)| (s.to_string(), a.to_string()))
            .collect();
        Server {
            child: Some(child),
            listeners,
            banner,
            dir,
            rest,
        }
    }

    /// The address of the `n`th listener of `service` whose address starts with `scheme`.
    pub fn addr(&self, service: &str, scheme: &str) -> String {
        self.listeners
            .iter()
            .find(|(s, a)| s == service && a.starts_with(scheme))
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no {service} {scheme} listener in {:?}", self.listeners))
    }

    /// The `HOST:PORT` part of a tcp:// or udp:// listener, for std sockets.
    pub fn sock(&self, service: &str, scheme: &str) -> String {
        strip_scheme(&self.addr(service, scheme)).to_string()
    }

    /// The port of a listener.
    pub fn port(&self, service: &str, scheme: &str) -> u16 {
        let a = self.addr(service, scheme);
        a.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The absolute path of a unix listener.
    pub fn unix_path(&self, service: &str) -> PathBuf {
        let a = self.addr(service, "unix://");
        let p = Path::new(strip_scheme(&a));
        self.dir.path().join(p)
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap()
    }

    /// Waits for a server already sent a signal to exit.
    pub fn stop_after_signal(&mut self) -> ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }

    /// Stops the server and hands back its directory, to start again over it.
    pub fn stop_keep_dir(mut self) -> tempfile::TempDir {
        assert!(self.stop().success());
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Server {
    /// Kills the server with SIGKILL (no chance to clean up, like a crash
    /// or a power cut for the process) and hands back its directory.
    pub fn kill_keep_dir(mut self) -> tempfile::TempDir {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        drop(self.rest.take());
    }
}

/// `tcp://h:p` -> `h:p`, with IPv6 brackets kept (std parses them).
pub fn strip_scheme(a: &str) -> &str {
    a.split_once("://").map(|(_, r)| r).unwrap_or(a)
}

/// argon2id cost for tests: hashing speed is benchmarked, not tested, so
/// the suite hashes cheaply.
pub const CHEAP_ARGON2: &str = "m=256,t=1,p=1";

/// Where `sockit user add` writes the account.
#[derive(Debug, Clone, Copy)]
pub enum Accounts<'a> {
    /// A node's data directory (`--data`).
    Data(&'a Path),
    /// A shared store (`--store URL`).
    Store(&'a str),
}

/// Runs `sockit user add NAME --password-stdin` against `at`, with the
/// cheap test hash, as an operator would; the caller judges the output.
pub fn user_add(at: Accounts<'_>, name: &str, pass: &str) -> std::process::Output {
    let (flag, place) = match at {
        Accounts::Data(dir) => ("--data", dir.to_str().unwrap()),
        Accounts::Store(url) => ("--store", url),
    };
    let args = [
        "user",
        "add",
        name,
        "--password-stdin",
        "--argon2",
        CHEAP_ARGON2,
        flag,
        place,
    ];
    run(&args, format!("{pass}\n").as_bytes())
}

/// Creates the account `name` in the data directory `data` ([`user_add`]).
pub fn add_user(data: &Path, name: &str, pass: &str) {
    let out = user_add(Accounts::Data(data), name, pass);
    assert!(out.status.success(), "user add {name}: {out:?}");
}

/// Runs `sockit ARGS` to completion with `stdin` as input.
pub fn run(args: &[&str], stdin: &[u8]) -> std::process::Output {
    run_env(args, stdin, &[])
}

/// Like [`run`] with extra environment variables.
pub fn run_env(args: &[&str], stdin: &[u8], env: &[(&str, &Path)]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    // A hung command fails its test instead of hanging the suite.
    let pid = child.id() as i32;
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(RUN_LIMIT).is_err() {
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.code().is_some(),
        "sockit {args:?} was killed after {RUN_LIMIT:?}: {out:?}"
    );
    out
}

/// The stdout of a command that must have succeeded; its status and both
/// streams in the failure message otherwise.
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Bytes of unfinished uploads (`.part` files) in a data directory's
/// staging area, every user's together.
pub fn staging_part_bytes(data: &Path) -> u64 {
    let staging = data.join("files").join("staging");
    let mut total = 0;
    for user in std::fs::read_dir(staging).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(user.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.file_name().to_string_lossy().ends_with(".part") {
                total += f.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

/// Each line of a command's stdout parsed as one JSON document (`--json`
/// streams, per-interval lines and the summary).
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A framed client of `srv` logged in as `name` with `password`, each step
/// within `limit`.
pub async fn framed_member(
    srv: &Server,
    name: &str,
    password: &str,
    limit: Duration,
) -> sockit::client::Client {
    let ep: sockit::net::Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    let mut c = sockit::client::Client::connect(&ep, limit).await.unwrap();
    c.login(name, password).await.unwrap();
    c
}

/// A loopback TCP port where connections are refused, held for as long as
/// the returned socket lives: bound but not listening, so no other test's
/// server (binding port 0 meanwhile) can be given it, as it could a port
/// merely bound and freed.
pub fn refusing_port() -> (socket2::Socket, u16) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&any.into()).unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    (s, port)
}

/// `len` pseudo-random bytes (xorshift) from `seed`, so a misplaced chunk
/// changes the content and its hash.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut buf = Vec::with_capacity(len + 8);
    while buf.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.extend_from_slice(&x.to_le_bytes());
    }
    buf.truncate(len);
    buf
}

//! A throw-away PostgreSQL for the cluster tests: `initdb` and `postgres`
//! in a temporary directory, listening only on a Unix socket in that
//! directory (no TCP port, so no port to collide on), stopped when dropped.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the server
//! runs as `nobody` through `setpriv`, in a directory handed to it. When
//! PostgreSQL is not installed the test fails with the cause and the fix
//! (`./scripts/test.sh` installs it); it never skips silently.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long `initdb` plus the server's start may take on a loaded
/// two-core machine before the test gives up.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The unprivileged account the server runs as when the tests run as root
/// (and its group).
const PG_USER: &str = "nobody";
const PG_GROUP: &str = "nogroup";

/// The database role and database the nodes use.
pub const ROLE: &str = "sockit";

/// A running throw-away PostgreSQL.
pub struct Pg {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The TCP port it also listens on with TLS, when started with
    /// [`Pg::start_tls`].
    tls_port: Option<u16>,
    /// Held while this PostgreSQL lives (dropped last): the cluster tests
    /// each run two or three nodes and a PostgreSQL, so they take turns
    /// rather than overcommit a 2-CPU machine and run into their time
    /// limits. (The one ordering failure seen under that load, seq 288
    /// where 287 was due, was a hole in one outbox read that only history
    /// fills; `merge` now fills before every message, and its unit tests
    /// replay that and the other interleavings deterministically.)
    _turn: Turn,
}

/// Whether a cluster test holds the turn, and the wake-up for the next.
static TURN: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

/// One cluster test's turn (see [`Pg`]'s `_turn`); given back on drop.
struct Turn;

impl Turn {
    fn take() -> Turn {
        // A test that panicked while holding its turn still gave it back.
        let mut held = TURN.0.lock().unwrap_or_else(|e| e.into_inner());
        while *held {
            held = TURN.1.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        *held = true;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *TURN.0.lock().unwrap_or_else(|e| e.into_inner()) = false;
        TURN.1.notify_one();
    }
}

/// The directory holding PostgreSQL's programs (Debian's layout, newest
/// version first), or a failure naming the fix.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): \
             run ./scripts/test.sh, which installs postgresql-15, or apt-get install postgresql-15"
        )
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command for PostgreSQL's program `prog`, as the unprivileged user when
/// we are root.
fn pg_command(prog: &str) -> Command {
    let path = bin_dir().join(prog);
    if is_root() {
        // setpriv execs the program itself (no process in between), so
        // the child's pid is postgres's own and signals reach it.
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={PG_USER}"))
            .arg(format!("--regid={PG_GROUP}"))
            .arg("--clear-groups")
            .arg("--")
            .arg(path);
        c
    } else {
        Command::new(path)
    }
}

impl Pg {
    /// Initialises a cluster in a new temporary directory and starts it.
    pub fn start() -> Pg {
        let mut pg = Pg::init();
        pg.run();
        pg
    }

    /// [`Pg::start`], also listening on 127.0.0.1 (a free port) with TLS
    /// only (`hostssl`: a plain TCP connection is refused), its
    /// certificate for `localhost` signed by a new CA (see
    /// [`Pg::ca_file`]).
    pub fn start_tls() -> Pg {
        let mut pg = Pg::init();
        let data = pg.data();
        let ca = rcgen::CertifiedIssuer::self_signed(
            {
                let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                p
            },
            rcgen::KeyPair::generate().unwrap(),
        )
        .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(pg.ca_file(), ca.pem()).unwrap();
        std::fs::write(data.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();
        let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\n";
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        for f in ["server.crt", "server.key", "pg_hba.conf"] {
            use std::os::unix::fs::PermissionsExt;
            let path = data.join(f);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                let st = Command::new("chown")
                    .arg(PG_USER)
                    .arg(&path)
                    .status()
                    .unwrap();
                assert!(st.success(), "chown {PG_USER} {}", path.display());
            }
        }
        // A port the kernel just handed out and nobody holds.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        pg.tls_port = Some(port);
        pg.run();
        pg
    }

    /// The CA certificate (PEM) that signed a [`Pg::start_tls`] server's.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The TLS port of a [`Pg::start_tls`] server.
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("started with Pg::start_tls")
    }

    fn init() -> Pg {
        let turn = Turn::take();
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let data = dir.path().join("pgdata");
        std::fs::create_dir(&data).expect("creating the PostgreSQL data directory");
        if is_root() {
            // `nobody` must reach the directory it owns, and its socket.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("opening the temporary directory to the PostgreSQL user");
            let st = Command::new("chown")
                .arg(PG_USER)
                .arg(&data)
                .status()
                .expect("running chown");
            assert!(st.success(), "chown {PG_USER} {} failed", data.display());
        }
        let out = pg_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", ROLE, "--no-sync", "-E", "UTF8"])
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pg {
            dir,
            child: None,
            tls_port: None,
            _turn: turn,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("pgdata")
    }

    /// The socket directory, which is also the data directory.
    pub fn socket_dir(&self) -> PathBuf {
        self.data()
    }

    /// The connection URL the nodes take (`--store`).
    pub fn url(&self) -> String {
        // The socket's name carries the port (.s.PGSQL.PORT).
        let port = self.tls_port.unwrap_or(5432);
        format!(
            "postgres://{ROLE}@localhost/postgres?host={}&port={port}",
            self.socket_dir().display()
        )
    }

    /// Starts the server on the existing data directory and waits until it
    /// says it accepts connections.
    fn run(&mut self) {
        let data = self.data();
        let mut child = pg_command("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&data)
            .args(["-c", "max_connections=100"])
            .args(match self.tls_port {
                None => vec!["-c".to_string(), "listen_addresses=".to_string()],
                Some(port) => [
                    "listen_addresses=127.0.0.1",
                    &format!("port={port}"),
                    "ssl=on",
                ]
                .iter()
                .flat_map(|kv| ["-c".to_string(), kv.to_string()])
                .collect(),
            })
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting postgres");
        let stderr = child.stderr.take().expect("postgres's stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let mut seen = Vec::new();
            for line in lines.by_ref().map_while(Result::ok) {
                let ready = line.contains("ready to accept connections");
                seen.push(line);
                if ready {
                    let _ = tx.send(Ok(()));
                    // Keep draining, so the server never blocks on a full pipe.
                    for l in lines.map_while(Result::ok) {
                        if std::env::var_os("SOCKIT_PG_LOG").is_some() {
                            eprintln!("postgres: {l}");
                        }
                    }
                    return;
                }
            }
            let _ = tx.send(Err(seen));
        });
        match rx.recv_timeout(START_LIMIT) {
            Ok(Ok(())) => {}
            Ok(Err(lines)) => panic!("postgres exited before it was ready: {lines:?}"),
            Err(_) => panic!("postgres was not ready within {START_LIMIT:?}"),
        }
        self.child = Some(child);
    }

    /// Stops the server (fast shutdown: sessions are ended, committed data
    /// kept), waiting until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is PostgreSQL's "fast" shutdown.
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill has no memory preconditions; the pid is our
                // own child's, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGINT) };
            }
            let _ = child.wait();
        }
    }

    /// Starts it again on the same data, after [`Pg::stop`].
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Runs one SQL statement with `psql` and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = pg_command("psql")
            .arg("-h")
            .arg(self.socket_dir())
            .arg("-p")
            .arg(self.tls_port.unwrap_or(5432).to_string())
            .args([
                "-U",
                ROLE,
                "-d",
                "postgres",
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .arg("-c")
            .arg(sql)
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `sockit admin migrate --data DATA --to URL --json` into this
    /// PostgreSQL, parsed.
    pub fn migrate(&self, data: &Path) -> serde_json::Value {
        let url = self.url();
        let args = [
            "admin",
            "migrate",
            "--data",
            &data.to_string_lossy(),
            "--to",
            &url,
            "--json",
        ];
        let out = super::run(&args, b"");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }

    /// Adds an account every node sharing this PostgreSQL sees (`sockit
    /// user add --store`); one already there (added for an earlier node)
    /// is kept as it is.
    pub fn add_user(&self, name: &str, pass: &str) {
        let out = super::user_add(super::Accounts::Store(&self.url()), name, pass);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("already exists"),
            "user add {name} --store: {out:?}"
        );
    }

    /// A node on this PostgreSQL (`--store`) with its framed and web doors
    /// on port 0, cheap password hashing, and `extra` flags: the node, its
    /// framed address (`tcp://HOST:PORT`) and its web door's `HOST:PORT`.
    pub fn node_with_web(&self, extra: &[&str]) -> (super::Server, String, String) {
        let url = self.url();
        let mut args = vec![
            "--listen",
            "tcp://127.0.0.1:0",
            "--web",
            "tcp://127.0.0.1:0",
            "--argon2",
            super::CHEAP_ARGON2,
            "--store",
            &url,
        ];
        args.extend_from_slice(extra);
        let srv = super::Server::start(&args);
        let addr = srv.addr("framed", "tcp://");
        let web = srv.sock("web", "tcp://");
        (srv, addr, web)
    }

    /// Where the cluster keeps its files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Several server addresses on the client side (issue 19, item 8): the
//! commands try them in turn and say which node they fell over to, and
//! `sockit chat` reconnects when its node dies and catches up from the
//! last message it saw, with no gap and no duplicate. Real processes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{CHEAP_ARGON2, Server, add_user, bin, ok, run_env};
use serde_json::Value;

const PASS: &str = "correct horse battery";
/// Longest wait for one line from a chat client: a bound on a hang.
const LIMIT: Duration = Duration::from_secs(30);

fn login(addr: &str, name: &str, cfg: &Path) {
    let out = run_env(
        &["login", addr, "--user", name, "--password-stdin"],
        format!("{PASS}\n").as_bytes(),
        &[("SOCKIT_CONFIG_DIR", cfg)],
    );
    ok(&out);
}

fn sockit(cfg: &Path, args: &[&str]) -> std::process::Output {
    run_env(args, b"", &[("SOCKIT_CONFIG_DIR", cfg)])
}

/// A node with the accounts ann and bob.
fn node(args: &[&str]) -> Server {
    let mut all = vec!["--argon2", CHEAP_ARGON2];
    all.extend_from_slice(args);
    let srv = Server::start(&all);
    for name in ["ann", "bob"] {
        add_user(&srv.data(), name, PASS);
    }
    srv
}

/// A `sockit chat --json --stay` process; stdout lines (JSON) and stderr
/// lines arrive on channels.
struct Chat {
    child: Child,
    out: mpsc::Receiver<Value>,
    err: mpsc::Receiver<String>,
}

impl Chat {
    fn start(servers: &str, cfg: &Path, room: &str) -> Chat {
        let mut child = Command::new(bin())
            .args([
                "chat", "--server", servers, "--room", room, "--json", "--stay",
            ])
            .env("SOCKIT_CONFIG_DIR", cfg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            for l in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&l).unwrap_or(Value::String(l)));
            }
        });
        let (tx, err) = mpsc::channel();
        std::thread::spawn(move || {
            for l in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Chat { child, out, err }
    }

    fn say(&mut self, text: &str) {
        writeln!(self.child.stdin.as_mut().unwrap(), "{text}").unwrap();
    }

    /// The next object of type `kind`.
    fn next(&self, kind: &str) -> Value {
        loop {
            let v = self
                .out
                .recv_timeout(LIMIT)
                .expect("sockit chat printed nothing in time");
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// The next stderr line containing `what`.
    fn stderr_line(&self, what: &str) -> String {
        loop {
            let l = self
                .err
                .recv_timeout(LIMIT)
                .unwrap_or_else(|_| panic!("no stderr line with {what:?} in time"));
            if l.contains(what) {
                return l;
            }
        }
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two single-node servers sharing nothing: the order of the list is the
/// order tried, a dead first node is skipped with one line naming the one
/// used, and every account command (say, history, ls, call, whoami, chat)
/// takes the list from flags, `$SOCKIT_SERVER` and `client.toml`.
#[test]
fn commands_fall_over_to_the_next_node_in_turn() {
    let a = node(&["--listen", "tcp://127.0.0.1:0"]);
    let b = node(&["--listen", "tcp://127.0.0.1:0"]);
    let (aa, ba) = (a.addr("framed", "tcp://"), b.addr("framed", "tcp://"));
    let cfg = tempfile::tempdir().unwrap();
    // Nodes that share nothing share no sessions: a login on each.
    login(&aa, "ann", cfg.path());
    login(&ba, "ann", cfg.path());
    let list = format!("{aa},{ba}");

    // Both up: the first is used, silently.
    let out = sockit(
        cfg.path(),
        &["say", "--server", &list, "--room", "ops", "on a"],
    );
    ok(&out);
    assert!(out.stderr.is_empty(), "{out:?}");
    let hist = ok(&sockit(cfg.path(), &["history", &aa, "--room", "ops"]));
    assert!(hist.contains("<ann> on a"), "{hist}");

    // A chat on the list, then node A dies (kill -9).
    let mut chat = Chat::start(&list, cfg.path(), "ops");
    assert_eq!(chat.next("chat.join")["room"], "ops");
    drop(a);
    let line = chat.stderr_line("fell over to");
    assert!(line.contains(&ba), "{line}");

    // say with repeated --server: one line names the node it fell over to.
    let out = sockit(
        cfg.path(),
        &[
            "say", "--server", &aa, "--server", &ba, "--room", "ops", "on b",
        ],
    );
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("sockit: {aa} unreachable ("))
            && err.trim_end().ends_with(&format!("fell over to {ba}")),
        "{err}"
    );
    let hist = ok(&sockit(cfg.path(), &["history", &list, "--room", "ops"]));
    assert!(
        hist.contains("<ann> on b") && !hist.contains("on a"),
        "{hist}"
    );

    // The chat, on B now, receives and sends there.
    let m = chat.next("chat.message");
    assert_eq!(m["text"], "on b");
    chat.say("from chat");
    assert_eq!(chat.next("chat.send")["text"], "from chat");
    let hist = ok(&sockit(cfg.path(), &["history", &ba, "--room", "ops"]));
    assert!(hist.contains("<ann> from chat"), "{hist}");

    // $SOCKIT_SERVER and client.toml take lists too; files and call as well.
    let out = run_env(
        &["whoami"],
        b"",
        &[
            ("SOCKIT_CONFIG_DIR", cfg.path()),
            ("SOCKIT_SERVER", Path::new(&list)),
        ],
    );
    assert!(ok(&out).contains(&format!("ann at {ba}")), "{out:?}");
    std::fs::write(
        cfg.path().join("client.toml"),
        format!("servers = [\"{aa}\", \"{ba}\"]\n"),
    )
    .unwrap();
    let out = sockit(cfg.path(), &["ls", "--json"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("fell over to {ba}")));
    let out = sockit(cfg.path(), &["call", &list, r#"{"type":"ping","id":1}"#]);
    assert!(ok(&out).contains("\"pong\""), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fell over to"));

    // Every node down: the last one's error, exit 7 (network), no hang.
    drop(b);
    let out = sockit(cfg.path(), &["say", "--server", &list, "x"]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
}

/// A node killed with `kill -9` mid-conversation and restarted over the
/// same data: the chat reconnects and shows every message exactly once, in
/// order, those said while it was away included.
#[test]
fn chat_catches_up_after_kill_9_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sock: PathBuf = dir.path().join("node.sock");
    let addr = format!("unix://{}", sock.display());
    let args = ["--argon2", CHEAP_ARGON2, "--listen", addr.as_str()];
    let srv = Server::start_in(dir, &args);
    for name in ["ann", "bob"] {
        add_user(&srv.data(), name, PASS);
    }
    let (ann, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    login(&addr, "ann", ann.path());
    login(&addr, "bob", bob.path());
    let watcher = Chat::start(&addr, bob.path(), "ops");
    watcher.next("chat.join");
    let say = |text: &str| ok(&sockit(ann.path(), &["say", &addr, "--room", "ops", text]));
    say("1");
    say("2");
    assert_eq!(watcher.next("chat.message")["seq"], 1);
    // The watcher is frozen (SIGSTOP) through the crash and the restart, so
    // what is said meanwhile can only reach it through the catch-up.
    let pid = watcher.child.id() as i32;
    // SAFETY: kill(2) on our own child, which has not been reaped.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let dir = srv.kill_keep_dir();
    let srv = Server::start_in(dir, &args);
    for t in ["3", "4", "5"] {
        say(t);
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let line = watcher.stderr_line("reconnected");
    assert!(line.ends_with("; 3 message(s) while away"), "{line}");
    say("6");
    let seen: Vec<(u64, String)> = (1..6)
        .map(|_| {
            let m = watcher.next("chat.message");
            (
                m["seq"].as_u64().unwrap(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = (2..=6).map(|n| (n, n.to_string())).collect();
    assert_eq!(seen, want);
    // Nothing more: no duplicate arrives late.
    say("7");
    assert_eq!(watcher.next("chat.message")["seq"], 7);
    drop(srv);
}

/// A room whose history was reset while the chat was away (its seqs
/// restarted in a new epoch): the catch-up says so and shows the new
/// history's latest page instead of skipping it.
#[test]
fn chat_catch_up_after_a_history_reset_says_so_and_shows_the_latest_page() {
    let dir = tempfile::tempdir().unwrap();
    let sock: PathBuf = dir.path().join("node.sock");
    let addr = format!("unix://{}", sock.display());
    let args = ["--argon2", CHEAP_ARGON2, "--listen", addr.as_str()];
    let srv = Server::start_in(dir, &args);
    for name in ["ann", "bob"] {
        add_user(&srv.data(), name, PASS);
    }
    let (ann, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    login(&addr, "ann", ann.path());
    login(&addr, "bob", bob.path());
    let watcher = Chat::start(&addr, bob.path(), "ops");
    watcher.next("chat.join");
    let say = |text: &str| ok(&sockit(ann.path(), &["say", &addr, "--room", "ops", text]));
    for t in ["old 1", "old 2", "old 3"] {
        say(t);
    }
    assert_eq!(watcher.next("chat.message")["seq"], 1);
    assert_eq!(watcher.next("chat.message")["seq"], 2);
    assert_eq!(watcher.next("chat.message")["seq"], 3);
    let pid = watcher.child.id() as i32;
    // SAFETY: kill(2) on our own child, which has not been reaped.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let dir = srv.kill_keep_dir();
    {
        // The room's history is wiped while the node is down.
        let db = rusqlite::Connection::open(dir.path().join("data").join("chat.db")).unwrap();
        db.execute_batch(
            "DELETE FROM messages WHERE room = 'ops'; DELETE FROM rooms WHERE name = 'ops';",
        )
        .unwrap();
    }
    let _srv = Server::start_in(dir, &args);
    // The new history numbers from 1 again, below what the watcher saw:
    // a catch-up "after 3" would miss both.
    say("new 1");
    say("new 2");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let line = watcher.stderr_line("was reset");
    assert!(line.contains("ops"), "{line}");
    let seen: Vec<(u64, String)> = (0..2)
        .map(|_| {
            let m = watcher.next("chat.message");
            (
                m["seq"].as_u64().unwrap(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(seen, [(1, "new 1".into()), (2, "new 2".into())]);
    say("new 3");
    assert_eq!(watcher.next("chat.message")["seq"], 3);
}

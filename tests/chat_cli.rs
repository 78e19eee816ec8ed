//! `sockit chat`, `say` and `history` as a user runs them: real processes,
//! a real server, the session from `sockit login`.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Server, add_user, bin, run_env};
use serde_json::Value;

const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";
const LIMIT: Duration = Duration::from_secs(30);

struct Setup {
    srv: Server,
    cfg: tempfile::TempDir,
    addr: String,
}

fn setup(srv: Server, addr: String) -> Setup {
    let cfg = tempfile::tempdir().unwrap();
    for name in ["ann", "bob"] {
        add_user(&srv.data(), name, PASS);
    }
    let s = Setup { srv, cfg, addr };
    s.login("ann", s.cfg.path());
    s
}

impl Setup {
    fn login(&self, name: &str, cfg: &Path) {
        let out = run_env(
            &["login", &self.addr, "--user", name, "--password-stdin"],
            format!("{PASS}\n").as_bytes(),
            &[("SOCKIT_CONFIG_DIR", cfg)],
        );
        assert!(out.status.success(), "{out:?}");
    }

    fn sockit(&self, args: &[&str]) -> std::process::Output {
        run_env(args, b"", &[("SOCKIT_CONFIG_DIR", self.cfg.path())])
    }
}

/// A `sockit chat --json --stay` process whose stdout lines arrive on a channel.
struct Live {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Live {
    fn start(addr: &str, cfg: &Path, room: &str) -> Live {
        let mut child = Command::new(bin())
            .args(["chat", addr, "--room", room, "--json", "--stay"])
            .env("SOCKIT_CONFIG_DIR", cfg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&l).unwrap_or(Value::String(l)));
            }
        });
        Live { child, lines }
    }

    fn say(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
    }

    /// The next object of type `kind`.
    fn next(&self, kind: &str) -> Value {
        loop {
            let v = self
                .lines
                .recv_timeout(LIMIT)
                .expect("sockit chat printed nothing in time");
            if v["type"] == kind {
                return v;
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn say_and_history() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let addr = srv.addr("framed", "tcp://");
    let s = setup(srv, addr.clone());
    let out = s.sockit(&[
        "say", "--server", &addr, "--room", "ops", "--json", "backup", "done",
    ]);
    assert!(out.status.success(), "{out:?}");
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            sent["room"].as_str(),
            sent["seq"].as_u64(),
            sent["text"].as_str()
        ),
        (Some("ops"), Some(1), Some("backup done"))
    );
    let out = s.sockit(&["history", &addr, "--room", "ops"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .ends_with("<ann> backup done"),
        "{out:?}"
    );
    let out = s.sockit(&["history", &addr, "--room", "ops", "--json"]);
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (m["name"].as_str(), m["seq"].as_u64()),
        (Some("ann"), Some(1))
    );
    // Scroll-back: the page below a seq, and a hint where older ones are.
    for word in ["two", "three"] {
        let out = s.sockit(&["say", "--server", &addr, "--room", "ops", word]);
        assert!(out.status.success(), "{out:?}");
    }
    let out = s.sockit(&[
        "history", &addr, "--room", "ops", "--before", "3", "-n", "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("<ann> two"), "{out:?}");
    assert_eq!(text.lines().count(), 1, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--before 2"),
        "{out:?}"
    );
    // Refusals exit 1 with the server's sentence.
    let out = s.sockit(&["say", "--server", &addr, "--room", "no spaces allowed", "x"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Without a login: a one-line error naming the fix.
    let empty = tempfile::tempdir().unwrap();
    let out = run_env(
        &["history", &addr],
        b"",
        &[("SOCKIT_CONFIG_DIR", empty.path())],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "not logged in: 3, as everywhere"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sockit login"),
        "{out:?}"
    );
}

#[test]
fn piped_chat_sends_each_line_and_exits_when_confirmed() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let addr = srv.addr("framed", "tcp://");
    let s = setup(srv, addr.clone());
    let out = run_env(
        &["chat", &addr, "--room", "ops"],
        b"one\ntwo\n//slash\n",
        &[("SOCKIT_CONFIG_DIR", s.cfg.path())],
    );
    assert!(out.status.success(), "{out:?}");
    let out = s.sockit(&["history", &addr, "--room", "ops", "--json"]);
    let texts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts, ["one", "two", "/slash"]);
}

#[test]
fn two_cli_users_talk_and_a_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sock: PathBuf = dir.path().join("chat.sock");
    let addr = format!("unix://{}", sock.display());
    let srv = Server::start_in(
        dir,
        &[
            "--listen",
            &format!("unix://{}", sock.display()),
            "--argon2",
            CHEAP,
        ],
    );
    let s = setup(srv, addr.clone());
    let bob_cfg = tempfile::tempdir().unwrap();
    s.login("bob", bob_cfg.path());

    let mut ann = Live::start(&addr, s.cfg.path(), "ops");
    let bob = Live::start(&addr, bob_cfg.path(), "ops");
    assert_eq!(ann.next("chat.join")["room"], "ops");
    assert_eq!(bob.next("chat.join")["room"], "ops");
    ann.say("one");
    let m = bob.next("chat.message");
    assert_eq!(
        (m["name"].as_str(), m["text"].as_str(), m["seq"].as_u64()),
        (Some("ann"), Some("one"), Some(1))
    );

    // The server restarts on the same socket; meanwhile someone speaks.
    let Setup { srv, cfg, addr } = s;
    let dir = srv.stop_keep_dir();
    let srv = Server::start_in(
        dir,
        &[
            "--listen",
            &format!("unix://{}", sock.display()),
            "--argon2",
            CHEAP,
        ],
    );
    let out = run_env(
        &["say", "--server", &addr, "--room", "ops", "two"],
        b"",
        &[("SOCKIT_CONFIG_DIR", cfg.path())],
    );
    assert!(out.status.success(), "{out:?}");
    // bob's client reconnects and shows "two" (caught up), then "three" live.
    let m = bob.next("chat.message");
    assert_eq!(
        (m["text"].as_str(), m["seq"].as_u64()),
        (Some("two"), Some(2))
    );
    ann.next("chat.message"); // ann's own "two" came from another process
    ann.say("three");
    let m = bob.next("chat.message");
    assert_eq!(
        (m["text"].as_str(), m["seq"].as_u64()),
        (Some("three"), Some(3))
    );
    drop(srv);
}

#[test]
fn dm_sends_lists_unread_and_reading_clears_it() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let addr = srv.addr("framed", "tcp://");
    let s = setup(srv, addr.clone());
    let bob_cfg = tempfile::tempdir().unwrap();
    s.login("bob", bob_cfg.path());
    let bob = |args: &[&str]| run_env(args, b"", &[("SOCKIT_CONFIG_DIR", bob_cfg.path())]);
    let out = s.sockit(&[
        "dm", "--server", &addr, "bob", "are", "you", "around,", "@bob?",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sent to @ann+bob as message 1"
    );
    // The unread count rises, reading clears it.
    let out = bob(&["dm", "--server", &addr, "--json"]);
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            c["with"].as_str(),
            c["unread"].as_u64(),
            c["mentions"].as_u64()
        ),
        (Some("ann"), Some(1), Some(1)),
        "{c}"
    );
    let out = bob(&["dm", "--server", &addr, "ann"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_end().ends_with("<ann> are you around, @bob?"),
        "{text}"
    );
    let out = bob(&["dm", "--server", &addr]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ann  0 unread, last "), "{text}");
    // `history --room @NAME` reads it too; a refusal is one line, exit 1.
    let out = bob(&["history", &addr, "--room", "@ann"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("<ann> are you around"));
    let out = s.sockit(&["dm", "--server", &addr, "nobody", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no account is called nobody"), "{err}");
}

#[test]
fn edit_delete_and_search_from_the_cli_show_live_and_in_history() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let addr = srv.addr("framed", "tcp://");
    let s = setup(srv, addr.clone());
    let watch = Live::start(&addr, s.cfg.path(), "ops");
    watch.next("chat.join");
    let run = |args: &[&str]| common::ok(&s.sockit(args));
    run(&["say", "--server", &addr, "--room", "ops", "deploy at noon"]);
    let out = run(&["edit", &addr, "--room", "ops", "1", "deploy", "at", "one"]);
    assert_eq!(out.trim(), "edited #1: deploy at one in ops (entry 2)");
    assert_eq!(watch.next("chat.message")["text"], "deploy at noon");
    let live = watch.next("chat.message");
    assert_eq!(
        (live["kind"].as_str(), live["target"].as_u64()),
        (Some("edit"), Some(1))
    );
    let history = run(&["history", &addr, "--room", "ops"]);
    let lines: Vec<&str> = history
        .lines()
        .map(|l| l.split_once("Z ").unwrap().1)
        .collect();
    assert_eq!(
        lines,
        [
            "<ann> deploy at one (edited)",
            "* ann edited #1: deploy at one"
        ]
    );
    let found = run(&["search", &addr, "deploy", "on"]);
    assert!(
        found
            .trim_end()
            .ends_with("[ops] #1 <ann> deploy at one (edited)"),
        "{found}"
    );
    assert_eq!(run(&["search", &addr, "noon", "--json"]), "");
    // Bob may not touch it: exit 1 and the server's sentence.
    let bob = tempfile::tempdir().unwrap();
    s.login("bob", bob.path());
    let out = run_env(
        &["delete", &addr, "--room", "ops", "1"],
        b"",
        &[("SOCKIT_CONFIG_DIR", bob.path())],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not yours"),
        "{out:?}"
    );
    run(&["delete", &addr, "--room", "ops", "1"]);
    let history = run(&["history", &addr, "--room", "ops", "-n", "1"]);
    assert!(
        history.trim_end().ends_with("* ann deleted #1"),
        "{history}"
    );
    let history = run(&["history", &addr, "--room", "ops", "--json"]);
    assert!(!history.contains("deploy"), "{history}");
    assert_eq!(run(&["search", &addr, "deploy", "--json"]), "");
}

/// `sockit say` (connect, join, post, leave at once) shows nobody coming
/// or going; a member who stays is announced after the grace period, and
/// only then: what a watcher sees between is the messages alone.
#[test]
fn say_adds_no_join_and_leave_pair_and_a_stayer_is_announced() {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--chat-presence-grace",
        "3",
        "--argon2",
        CHEAP,
    ]);
    let addr = srv.addr("framed", "tcp://");
    let lines = common::strip_scheme(&srv.addr("chat-lines", "tcp://")).to_owned();
    let s = setup(srv, addr.clone());
    let bob_cfg = tempfile::tempdir().unwrap();
    s.login("bob", bob_cfg.path());
    let bob = Live::start(&addr, bob_cfg.path(), "ops");
    assert_eq!(bob.next("chat.join")["room"], "ops");

    for word in ["one", "two"] {
        let out = s.sockit(&["say", "--server", &addr, "--room", "ops", word]);
        assert!(out.status.success(), "{out:?}");
    }
    // A guest on the line door joins ops after them, and stays.
    let mut cid = std::net::TcpStream::connect(&lines).unwrap();
    cid.write_all(b"cid\r\n/join ops\r\n").unwrap();

    let mut said = Vec::new();
    loop {
        let v = bob
            .lines
            .recv_timeout(LIMIT)
            .expect("sockit chat printed nothing in time");
        match v["type"].as_str() {
            Some("chat.message") => said.push(v["text"].as_str().unwrap().to_owned()),
            Some("chat.presence") => {
                let notice = v["notice"].as_str().unwrap();
                assert!(!notice.contains("ann"), "{notice}");
                if notice.contains("~cid") {
                    assert!(notice.ends_with("~cid joined ops"), "{notice}");
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(said, ["one", "two"]);
    drop(cid);
}

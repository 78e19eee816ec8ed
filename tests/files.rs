//! Files end to end: a real server on port 0, real `sockit put/get/ls/rm`
//! processes logged in through `sockit login`, raw frame clients for what
//! the CLI would never send, and a fake hostile server for the client's
//! own checks.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Server, bin, ok, run, run_env, staging_part_bytes};
use sha2::{Digest, Sha256};
use sockit::client::Client;
use sockit::net::Endpoint;
use sockit::service::files::HOSTILE_NAMES;
use sockit::wire::{FileReply, FileRequest, Frame};

const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);
/// Bound on waiting for a transfer to reach some point (a hang, not a sleep).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A server with accounts, and one config directory per logged-in user.
struct Env {
    srv: Server,
    addr: String,
    home: tempfile::TempDir,
}

fn server_args() -> Vec<&'static str> {
    vec!["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]
}

impl Env {
    fn start(users: &[&str]) -> Env {
        Env::start_with(users, &[])
    }

    /// [`Env::start`] with more `serve` flags.
    fn start_with(users: &[&str], extra: &[&str]) -> Env {
        let mut args = server_args();
        args.extend_from_slice(extra);
        let srv = Server::start(&args);
        let env = Env {
            addr: srv.addr("framed", "tcp://"),
            srv,
            home: tempfile::tempdir().unwrap(),
        };
        for u in users {
            env.add_user(u);
            env.login(u);
        }
        env
    }

    fn add_user(&self, name: &str) {
        common::add_user(&self.srv.data(), name, PASS);
    }

    fn cfg(&self, user: &str) -> PathBuf {
        self.home.path().join(user)
    }

    fn login(&self, user: &str) {
        let out = self.as_user(
            user,
            &["login", &self.addr, "--user", user, "--password-stdin"],
            format!("{PASS}\n").as_bytes(),
        );
        assert!(out.status.success(), "login: {out:?}");
    }

    /// Runs `sockit ARGS` as `user` against this server.
    fn as_user(&self, user: &str, args: &[&str], stdin: &[u8]) -> Output {
        let cfg = self.cfg(user);
        run_env(
            args,
            stdin,
            &[
                ("SOCKIT_CONFIG_DIR", &cfg),
                ("SOCKIT_SERVER", Path::new(&self.addr)),
            ],
        )
    }

    /// Starts `sockit ARGS` as `user` without waiting (to kill it).
    fn spawn(&self, user: &str, args: &[&str]) -> Child {
        Command::new(bin())
            .args(args)
            .env("SOCKIT_CONFIG_DIR", self.cfg(user))
            .env("SOCKIT_SERVER", &self.addr)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn staging_part_len(&self) -> u64 {
        staging_part_bytes(&self.srv.data())
    }

    async fn raw(&self, user: Option<&str>) -> Client {
        let ep: Endpoint = self.addr.parse().unwrap();
        let mut c = Client::connect(&ep, IO_LIMIT).await.unwrap();
        if let Some(u) = user {
            c.login(u, PASS).await.unwrap();
        }
        c
    }
}

fn status(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// A file of `len` pseudo-random bytes (xorshift), so a misplaced chunk
/// changes the hash.
fn random_file(p: &Path, len: usize, seed: u64) {
    std::fs::write(p, common::random_bytes(len, seed)).unwrap();
}

/// Polls `cond` until true; panics after [`WAIT_LIMIT`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT_LIMIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn kill9(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn vm_hwm(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let l = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn put_get_ls_rm_round_trip_with_bounded_server_memory() {
    let env = Env::start(&["alice"]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    random_file(&big, 96 << 20, 7);
    std::fs::write(dir.path().join("small.txt"), b"hello\n").unwrap();
    let small = dir.path().join("small.txt");
    let out = env.as_user(
        "alice",
        &[
            "put",
            big.to_str().unwrap(),
            small.to_str().unwrap(),
            ":docs",
            "--json",
        ],
        b"",
    );
    ok(&out);
    let j = json(&out);
    assert_eq!(j["files"][0]["path"], "docs/big.bin");
    assert_eq!(j["files"][0]["size"], 96 << 20);
    // 96 MiB went through the server; its peak memory stayed far below.
    let hwm = vm_hwm(env.srv.pid());
    assert!(hwm < 64 << 20, "server peak RSS {hwm} bytes");

    let listing = ok(&env.as_user("alice", &["ls", ":docs"], b""));
    assert!(
        listing.contains("big.bin") && listing.contains("small.txt"),
        "{listing}"
    );
    let j = json(&env.as_user("alice", &["ls", "-r", "--json"], b""));
    let names: Vec<_> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["docs", "docs/big.bin", "docs/small.txt"]);

    let back = dir.path().join("back.bin");
    ok(&env.as_user(
        "alice",
        &["get", ":docs/big.bin", back.to_str().unwrap(), "--md5"],
        b"",
    ));
    assert_eq!(sha256(&back), sha256(&big));

    // No overwrite without --force, on either side; --force replaces.
    let again = env.as_user("alice", &["put", small.to_str().unwrap(), ":docs"], b"");
    assert_eq!(status(&again), 5, "{again:?}");
    let again = env.as_user(
        "alice",
        &["get", ":docs/big.bin", back.to_str().unwrap()],
        b"",
    );
    assert_eq!(status(&again), 5, "{again:?}");
    std::fs::write(&small, b"changed\n").unwrap();
    let out = env.as_user(
        "alice",
        &["put", "--force", small.to_str().unwrap(), ":docs", "--json"],
        b"",
    );
    assert_eq!(json(&out)["files"][0]["replaced"], true);

    // get -r brings the tree under DEST/docs.
    let tree = dir.path().join("tree");
    ok(&env.as_user(
        "alice",
        &["get", "-r", ":docs", tree.to_str().unwrap()],
        b"",
    ));
    assert_eq!(
        std::fs::read(tree.join("docs/small.txt")).unwrap(),
        b"changed\n"
    );
    assert_eq!(sha256(&tree.join("docs/big.bin")), sha256(&big));

    // rm: a non-empty directory needs -r; a missing path is "not found".
    assert_eq!(status(&env.as_user("alice", &["rm", ":docs"], b"")), 5);
    ok(&env.as_user("alice", &["rm", "-r", ":docs"], b""));
    assert_eq!(status(&env.as_user("alice", &["rm", ":docs"], b"")), 4);
    assert_eq!(
        status(&env.as_user("alice", &["get", ":docs/big.bin", "x"], b"")),
        4
    );
    let j = json(&env.as_user("alice", &["ls", "--json"], b""));
    assert_eq!(j["entries"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_refused_and_users_are_apart() {
    let env = Env::start(&["alice", "bob"]);
    let mut anon = env.raw(None).await;
    let r = anon.request(FileRequest::ls("").to_frame(None)).await;
    assert_eq!(r.unwrap_err().code(), Some("unauthenticated"));
    // The CLI without a session: exit status 3.
    let out = env.as_user("nobody", &["ls"], b"");
    assert_eq!(status(&out), 3, "{out:?}");

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("secret.txt");
    std::fs::write(&f, b"alice's").unwrap();
    ok(&env.as_user("alice", &["put", f.to_str().unwrap()], b""));
    let j = json(&env.as_user("bob", &["ls", "--json"], b""));
    assert_eq!(j["entries"].as_array().unwrap().len(), 0);
    let out = env.as_user(
        "bob",
        &["get", ":secret.txt", dir.path().join("x").to_str().unwrap()],
        b"",
    );
    assert_eq!(status(&out), 4);
    assert_eq!(status(&env.as_user("bob", &["rm", ":secret.txt"], b"")), 4);
    ok(&env.as_user("alice", &["ls", ":secret.txt"], b""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_hash_publishes_nothing() {
    let env = Env::start(&["alice"]);
    let mut c = env.raw(Some("alice")).await;
    let begin = FileRequest::Put {
        path: "f.txt".into(),
        size: 5,
        fingerprint: "x".into(),
        force: false,
        md5: false,
    };
    let FileReply::Put { handle, offset } =
        FileReply::from_frame(&c.request(begin.to_frame(None)).await.unwrap()).unwrap()
    else {
        panic!()
    };
    assert_eq!(offset, 0);
    let w = FileRequest::Write { handle, offset: 0 }
        .to_frame(None)
        .with_body(&b"hello"[..]);
    c.request(w).await.unwrap();
    let end = FileRequest::PutEnd {
        handle,
        blake3: Some(blake3::hash(b"HELLO").to_hex().to_string()),
        md5: None,
    };
    let e = c.request(end.to_frame(None)).await.unwrap_err();
    assert_eq!(e.code(), Some("verify_failed"));
    let r = c
        .request(
            FileRequest::Stat {
                path: "f.txt".into(),
            }
            .to_frame(None),
        )
        .await;
    assert_eq!(r.unwrap_err().code(), Some("not_found"));
    assert_eq!(env.staging_part_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_refused_on_every_verb() {
    let env = Env::start(&["alice"]);
    let mut c = env.raw(Some("alice")).await;
    let mut tried = 0;
    for h in HOSTILE_NAMES {
        let name = h.name();
        let mut reqs = vec![
            FileRequest::Put {
                path: name.clone(),
                size: 1,
                fingerprint: String::new(),
                force: true,
                md5: false,
            },
            FileRequest::Get {
                path: name.clone(),
                offset: 0,
                md5: false,
            },
            FileRequest::Rm {
                path: name.clone(),
                recursive: true,
            },
        ];
        // `""` is the root for stat and ls (PROTOCOL.md), valid there.
        if !name.is_empty() {
            reqs.push(FileRequest::Stat { path: name.clone() });
            reqs.push(FileRequest::ls(name.clone()));
        }
        for r in reqs {
            let e = c.request(r.to_frame(None)).await.unwrap_err();
            assert_eq!(e.code(), Some("bad_path"), "{:?} ({}) -> {e}", name, h.why);
            tried += 1;
        }
    }
    assert!(tried > 200);
    // Nothing was created anywhere in the user's tree.
    let l = c.request(FileRequest::ls("").to_frame(None)).await.unwrap();
    assert_eq!(l.get("entries").unwrap().as_array().unwrap().len(), 0);
}

#[test]
fn a_killed_put_resumes_and_a_changed_source_starts_over() {
    let env = Env::start(&["alice"]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    random_file(&src, 160 << 20, 11);
    let mut child = env.spawn("alice", &["put", src.to_str().unwrap()]);
    wait_for("the server to hold 24 MiB", || {
        env.staging_part_len() > 24 << 20
    });
    kill9(&mut child);
    // The server pauses the upload when the connection drops.
    let out = env.as_user("alice", &["put", src.to_str().unwrap(), "--json"], b"");
    let j = json(&out);
    let resumed = j["files"][0]["resumed_from"]
        .as_u64()
        .unwrap_or_else(|| panic!("{j}"));
    assert!(resumed >= 24 << 20, "resumed from {resumed}: {j}");
    let back = dir.path().join("back.bin");
    ok(&env.as_user("alice", &["get", ":big.bin", back.to_str().unwrap()], b""));
    assert_eq!(sha256(&back), sha256(&src));

    // Interrupt again, change the source: the next put starts over.
    let src2 = dir.path().join("two.bin");
    random_file(&src2, 160 << 20, 12);
    let mut child = env.spawn("alice", &["put", src2.to_str().unwrap()]);
    wait_for("the second upload", || env.staging_part_len() > 24 << 20);
    kill9(&mut child);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&src2)
        .unwrap();
    f.write_all(b"more").unwrap();
    drop(f);
    let j = json(&env.as_user("alice", &["put", src2.to_str().unwrap(), "--json"], b""));
    assert_eq!(j["files"][0]["resumed_from"], 0, "{j}");
    let back2 = dir.path().join("back2.bin");
    ok(&env.as_user("alice", &["get", ":two.bin", back2.to_str().unwrap()], b""));
    assert_eq!(sha256(&back2), sha256(&src2));
}

#[test]
fn a_put_resumes_after_the_server_is_killed() {
    let mut env = Env::start(&["alice"]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    random_file(&src, 160 << 20, 13);
    let child = env.spawn("alice", &["put", src.to_str().unwrap()]);
    // Past the first fsync point (64 MiB), then the server dies.
    wait_for("the server to pass 80 MiB", || {
        env.staging_part_len() > 80 << 20
    });
    // Killed at once: the rest of the upload takes well under a second,
    // less than starting the next server (which would race it to the end).
    // SAFETY: kill(2) on our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(env.srv.pid(), libc::SIGKILL) }, 0);
    let srv = std::mem::replace(&mut env.srv, Server::start(&server_args()));
    let data_dir = srv.kill_keep_dir();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    env.srv = Server::start_in(data_dir, &server_args());
    env.addr = env.srv.addr("framed", "tcp://");
    env.login("alice");
    let j = json(&env.as_user("alice", &["put", src.to_str().unwrap(), "--json"], b""));
    let resumed = j["files"][0]["resumed_from"]
        .as_u64()
        .unwrap_or_else(|| panic!("no resumed_from: {j}"));
    assert!(resumed >= 64 << 20, "resumed from {resumed}: {j}");
    let back = dir.path().join("back.bin");
    ok(&env.as_user("alice", &["get", ":big.bin", back.to_str().unwrap()], b""));
    assert_eq!(sha256(&back), sha256(&src));
}

#[test]
fn a_killed_get_resumes_from_its_part_file() {
    let env = Env::start(&["alice"]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    random_file(&src, 160 << 20, 17);
    ok(&env.as_user("alice", &["put", src.to_str().unwrap()], b""));
    let dest = dir.path().join("out.bin");
    let part = dir.path().join("out.bin.sockit-part");
    let mut child = env.spawn("alice", &["get", ":big.bin", dest.to_str().unwrap()]);
    wait_for("the part to grow", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 24 << 20)
    });
    kill9(&mut child);
    assert!(!dest.exists(), "nothing is published before verification");
    let j = json(&env.as_user(
        "alice",
        &["get", ":big.bin", dest.to_str().unwrap(), "--json"],
        b"",
    ));
    assert!(j["files"][0]["resumed_from"].as_u64().unwrap() > 0, "{j}");
    assert_eq!(sha256(&dest), sha256(&src));
    assert!(!part.exists());
}

/// A fake server that logs anyone in and answers every listing and
/// download with names that climb out of the destination.
async fn hostile_server(listener: tokio::net::TcpListener) {
    use futures_util::{SinkExt, StreamExt};
    use sockit::wire::FrameCodec;
    use tokio_util::codec::Framed;
    while let Ok((sock, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut f = Framed::new(sock, FrameCodec::new());
            while let Some(Ok(req)) = f.next().await {
                let id = req.id();
                let reply = match req.kind().unwrap_or("") {
                    "hello" => Frame::new("hello")
                        .set("version", 1)
                        .set("server", "evil")
                        .set("limits", serde_json::json!({"max_header": 65536, "max_body": 8388608}))
                        .set("features", serde_json::json!(["file", "login"])),
                    "resume" => Frame::new("resume").set("user", "alice").set("expires", 9_999_999_999u64),
                    "file.stat" => Frame::new("file.stat").set("name", req.get("path").unwrap().clone())
                        .set("kind", "dir").set("file_size", 0).set("mtime", 0),
                    "file.ls" => Frame::new("file.ls").set("path", req.get("path").unwrap().clone())
                        .set("entries", serde_json::json!([{"name": "../escape", "kind": "file", "file_size": 4, "mtime": 0}]))
                        .set("truncated", false).set("skipped", 0),
                    "file.get" => Frame::new("file.get").set("handle", 1).set("path", "../escape")
                        .set("file_size", 4).set("offset", 0).set("mtime", 0)
                        .set("blake3", blake3::hash(b"evil").to_hex().to_string()),
                    "file.read" => Frame::new("file.read").set("handle", 1).set("offset", 0)
                        .set("eof", true).with_body(&b"evil"[..]),
                    _ => Frame::new("error").set("code", "unknown_type").set("message", "no"),
                };
                if f.send(reply.with_opt_id(id)).await.is_err() {
                    break;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_cannot_write_outside_dest() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("tcp://{}", listener.local_addr().unwrap());
    tokio::spawn(hostile_server(listener));
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("cfg");
    let creds = sockit::client::credentials::Credentials::in_dir(&cfg);
    let saved = sockit::client::credentials::Saved {
        user: "alice".into(),
        token: "00".repeat(32),
        expires: 9_999_999_999,
    };
    creds.put(&addr.parse().unwrap(), saved).unwrap();
    let work = home.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let dest = work.join("dest");
    let run_here = |args: Vec<String>| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            run_env(&a, b"", &[("SOCKIT_CONFIG_DIR", &cfg)])
        })
    };
    let out = run_here(vec![
        "get".into(),
        "-r".into(),
        format!("{addr}:dir"),
        dest.to_str().unwrap().into(),
    ])
    .await
    .unwrap();
    assert_eq!(status(&out), 1, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{out:?}"
    );
    let out = run_here(vec![
        "get".into(),
        format!("{addr}:dir/a"),
        dest.to_str().unwrap().into(),
    ])
    .await
    .unwrap();
    assert_eq!(status(&out), 1, "{out:?}");
    let out = run_here(vec!["ls".into(), format!("{addr}:dir")])
        .await
        .unwrap();
    assert_eq!(status(&out), 1, "{out:?}");
    // Nothing was written: not the escape, not even a part file.
    let left: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.iter().all(|n| n == "dest"), "{left:?}");
    assert!(!home.path().join("escape").exists());
    if dest.exists() {
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0);
    }
}

#[test]
fn the_cli_refuses_unusable_remote_operands() {
    let out = run(&["get", "tcp://127.0.0.1:7878", "x"], b"");
    assert_eq!(status(&out), 2, "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp://HOST:PORT:PATH"));
    let out = run(&["ls", ":../up"], b"");
    assert_eq!(status(&out), 2, "{out:?}");
}

/// Issue 17 item 2: scp's rule for `put`'s destination. On a fresh
/// account, `:docs/` is a directory (created), an existing directory keeps
/// the file's name inside it, and only a new name without `/` names the
/// file; a get through a file names that file in its error.
#[test]
fn put_follows_scps_destination_rule() {
    let env = Env::start(&["alice"]);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.pdf");
    std::fs::write(&report, b"%PDF-1.7 tiny").unwrap();
    let r = report.to_str().unwrap();
    ok(&env.as_user("alice", &["put", r, ":docs/"], b""));
    let j = json(&env.as_user("alice", &["ls", ":docs", "--json"], b""));
    assert_eq!(j["entries"][0]["name"], "report.pdf", "{j}");
    // docs is now a directory: without the slash the file goes inside too.
    let out = env.as_user("alice", &["put", "--md5", "--force", r, ":docs"], b"");
    assert!(ok(&out).contains("-> docs/report.pdf"), "{out:?}");
    let copy = dir.path().join("copy.pdf");
    ok(&env.as_user(
        "alice",
        &["get", ":docs/report.pdf", copy.to_str().unwrap()],
        b"",
    ));
    assert_eq!(std::fs::read(&copy).unwrap(), b"%PDF-1.7 tiny");
    // A new name without a slash is the file's name, as in scp.
    ok(&env.as_user("alice", &["put", r, ":notes"], b""));
    let out = env.as_user(
        "alice",
        &[
            "get",
            ":notes/report.pdf",
            dir.path().join("x").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(status(&out), 5, "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes is a file, not a directory"), "{err}");
}

/// Starts alice's upload of 100 bytes to `path` and sends the first 40:
/// the client and the upload's handle, left unfinished.
async fn start_partial(env: &Env, path: &str) -> (Client, u64) {
    let mut c = env.raw(Some("alice")).await;
    let begin = FileRequest::Put {
        path: path.into(),
        size: 100,
        fingerprint: "v1".into(),
        force: false,
        md5: false,
    };
    let FileReply::Put { handle, .. } =
        FileReply::from_frame(&c.request(begin.to_frame(None)).await.unwrap()).unwrap()
    else {
        panic!()
    };
    let w = FileRequest::Write { handle, offset: 0 }
        .to_frame(None)
        .with_body(&[7u8; 40][..]);
    c.request(w).await.unwrap();
    (c, handle)
}

/// An unfinished upload idle past `--partial-retention` is deleted while
/// the server runs (not only at its next start), and its quota freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_server_sweeps_unfinished_uploads_past_their_retention() {
    let env = Env::start_with(&["alice"], &["--partial-retention", "2s"]);
    // The client goes away mid-upload.
    drop(start_partial(&env, "stale.bin").await);
    let out = ok(&env.as_user("alice", &["ls", "--partial"], b""));
    assert!(out.contains("stale.bin (40 bytes held)"), "{out}");
    // Swept within a period (1 s) of expiring; the bound only catches a
    // sweeper that never runs.
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let j = json(&env.as_user("alice", &["ls", "--partial", "--json"], b""));
        if j["partial"] == serde_json::json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "never swept: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(env.staging_part_len(), 0, "its bytes are gone from disk");
}

/// Issue 16 item 4: an interrupted upload is visible with `ls --partial`
/// and `rm --partial` cancels it, freeing its quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_and_rm_partial_show_and_cancel_unfinished_uploads() {
    let env = Env::start(&["alice"]);
    let (mut c, handle) = start_partial(&env, "isos/big.iso").await;
    c.request(FileRequest::Close { handle }.to_frame(None))
        .await
        .unwrap();
    let out = ok(&env.as_user("alice", &["ls", "--partial"], b""));
    assert!(out.contains("isos/big.iso (40 bytes held)"), "{out}");
    assert_eq!(
        json(&env.as_user("alice", &["ls", "--json"], b""))["entries"],
        serde_json::json!([])
    );
    let out = ok(&env.as_user("alice", &["rm", "--partial", ":isos/big.iso"], b""));
    assert!(
        out.contains("cancelled the unfinished upload of isos/big.iso"),
        "{out}"
    );
    let j = json(&env.as_user("alice", &["ls", "--partial", "--json"], b""));
    assert_eq!(j["partial"], serde_json::json!([]), "{j}");
    assert_eq!(env.staging_part_len(), 0);
    let out = env.as_user("alice", &["rm", "--partial", ":isos/big.iso"], b"");
    assert_eq!(status(&out), 4, "{out:?}");
}

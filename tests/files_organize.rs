//! `sockit mkdir` and `sockit mv` against a real server: folders, renames,
//! moves into a folder, and the refusals a user meets (an existing name, a
//! second user's files, a path trick), with their exit statuses.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{CHEAP_ARGON2, Server, add_user, json_lines, ok, run_env};

const PASS: &str = "correct horse battery";

struct Env {
    srv: Server,
    addr: String,
    home: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP_ARGON2]);
        let env = Env {
            addr: srv.addr("framed", "tcp://"),
            srv,
            home: tempfile::tempdir().unwrap(),
        };
        for u in ["alice", "bob"] {
            add_user(&env.srv.data(), u, PASS);
            let login = ["login", &env.addr, "--user", u, "--password-stdin"];
            ok(&env.as_user(u, &login, format!("{PASS}\n").as_bytes()));
        }
        env
    }

    fn as_user(&self, user: &str, args: &[&str], stdin: &[u8]) -> Output {
        let cfg = self.home.path().join(user);
        run_env(
            args,
            stdin,
            &[
                ("SOCKIT_CONFIG_DIR", &cfg),
                ("SOCKIT_SERVER", Path::new(&self.addr)),
            ],
        )
    }

    fn sockit(&self, user: &str, args: &[&str]) -> Output {
        self.as_user(user, args, b"")
    }

    fn tree(&self, user: &str) -> std::path::PathBuf {
        // Ids are given in order: alice 1, bob 2.
        let id = if user == "alice" { "1" } else { "2" };
        self.srv.data().join("files").join("u").join(id)
    }
}

#[test]
fn mkdir_and_mv_organise_files_end_to_end() {
    let env = Env::start();
    let local = tempfile::tempdir().unwrap();
    let f = local.path().join("draft.txt");
    std::fs::write(&f, b"first draft").unwrap();
    ok(&env.sockit("alice", &["put", f.to_str().unwrap(), ":"]));
    let out = ok(&env.sockit("alice", &["mkdir", "-p", ":docs/2024"]));
    assert!(out.contains("created docs/2024/"), "{out}");
    ok(&env.sockit("alice", &["mv", ":draft.txt", ":final.txt"]));
    // Into an existing directory, under its own name.
    let out = ok(&env.sockit("alice", &["mv", ":final.txt", ":docs/2024", "--json"]));
    let v = &json_lines(out.as_bytes())[0];
    assert_eq!(v["to"], "docs/2024/final.txt", "{v}");
    assert_eq!(v["kind"], "file");
    let tree = env.tree("alice");
    assert_eq!(
        std::fs::read(tree.join("docs/2024/final.txt")).unwrap(),
        b"first draft"
    );
    assert!(!tree.join("draft.txt").exists());
    // A directory is renamed with what it holds; get finds it there.
    ok(&env.sockit("alice", &["mv", ":docs", ":papers"]));
    let back = local.path().join("back.txt");
    ok(&env.sockit(
        "alice",
        &["get", ":papers/2024/final.txt", back.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(&back).unwrap(), b"first draft");
}

#[test]
fn mv_and_mkdir_refusals_name_the_cause_and_exit_with_its_status() {
    let env = Env::start();
    let local = tempfile::tempdir().unwrap();
    for (name, body) in [("a.txt", "A"), ("b.txt", "B")] {
        let f = local.path().join(name);
        std::fs::write(&f, body).unwrap();
        ok(&env.sockit("alice", &["put", f.to_str().unwrap(), ":"]));
    }
    // Onto an existing name: conflict (5), nothing replaced.
    let out = env.sockit("alice", &["mv", ":a.txt", ":b.txt"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(
        std::fs::read(env.tree("alice").join("b.txt")).unwrap(),
        b"B"
    );
    let out = env.sockit("alice", &["mkdir", ":a.txt"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // A missing parent: not found (4).
    let out = env.sockit("alice", &["mkdir", ":x/y"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    // Another user's file is not there for bob: not found.
    let out = env.sockit("bob", &["mv", ":a.txt", ":mine.txt"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(env.tree("alice").join("a.txt").exists());
    // A path trick is refused before it is sent (usage, 2).
    let out = env.sockit("alice", &["mv", ":a.txt", ":../escape.txt"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(env.tree("alice").join("a.txt").exists());
}

//! The first hour of a new user (issue 17): how every client command finds
//! the server, what a second `serve` in the same place says, the banner's
//! hints, and where `user add` writes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Server, add_user, run, run_env, staging_part_bytes};

const PASS: &str = "correct horse battery";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_client_command_takes_the_server_the_same_way() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0"]);
    let addr = srv.addr("framed", "tcp://");
    add_user(&srv.data(), "ann", PASS);
    let cfg = tempfile::tempdir().unwrap();
    let env_cfg = ("SOCKIT_CONFIG_DIR", cfg.path());
    let env_server = ("SOCKIT_SERVER", Path::new(&addr));

    // login honours $SOCKIT_SERVER, and put finds the session it stored.
    let out = run_env(
        &["login", "--user", "ann", "--password-stdin"],
        format!("{PASS}\n").as_bytes(),
        &[env_cfg, env_server],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains(&addr), "{out:?}");
    let local = cfg.path().join("a.txt");
    std::fs::write(&local, b"first hour").unwrap();
    let out = run_env(
        &["put", local.to_str().unwrap(), ":"],
        b"",
        &[env_cfg, env_server],
    );
    assert!(out.status.success(), "{out:?}");

    // A name the store refuses is named with its rule, not "no file name".
    let odd = cfg.path().join("a<b.txt");
    std::fs::write(&odd, b"x").unwrap();
    let out = run_env(
        &["put", odd.to_str().unwrap(), ":"],
        b"",
        &[env_cfg, env_server],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = text(&out.stderr);
    assert!(err.contains("'<'") && err.contains("not allowed"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // say takes the address as its first word, as --help shows ...
    let out = run_env(&["say", &addr, "--room", "lobby", "hello"], b"", &[env_cfg]);
    assert!(out.status.success(), "{out:?}");
    // ... and --server works on the siblings that take a positional.
    let out = run_env(
        &["history", "--server", &addr, "--room", "lobby", "--json"],
        b"",
        &[env_cfg],
    );
    assert!(out.status.success(), "{out:?}");
    let texts: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].to_string())
        .collect();
    assert_eq!(texts, ["\"hello\""], "the address must not become text");
    let out = run_env(&["whoami", "--server", &addr], b"", &[env_cfg]);
    assert!(text(&out.stdout).starts_with("ann at "), "{out:?}");
}

#[test]
fn a_second_server_on_the_same_data_names_the_first() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0"]);
    let data = srv.data();
    let out = run(
        &[
            "serve",
            "--listen",
            "tcp://127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        b"",
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("pid {}", srv.pid())), "{err}");
    assert!(err.contains("--data DIR"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn echo_and_upper_servers_keep_no_data_directory() {
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--upper",
        "udp://127.0.0.1:0",
    ]);
    assert!(
        !srv.data().exists(),
        "a stateless server made {:?}",
        srv.data()
    );
    assert!(
        srv.banner
            .iter()
            .any(|l| l.starts_with("no data directory")),
        "{:?}",
        srv.banner
    );
    // A second one beside it, on the same (absent) data directory.
    let other = Server::start(&["--upper", "tcp://127.0.0.1:0"]);
    assert!(!other.data().exists());
}

#[test]
fn the_banner_says_when_defaults_were_dropped_and_how_to_add_an_account() {
    let srv = Server::start(&["--chat-lines", "tcp://127.0.0.1:0"]);
    let hint = srv
        .banner
        .iter()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint in {:?}", srv.banner));
    assert!(hint.contains("--listen tcp://127.0.0.1:7878"), "{hint}");
    assert!(hint.contains("--web tcp://127.0.0.1:8080"), "{hint}");
    let none = srv
        .banner
        .iter()
        .find(|l| l.starts_with("no accounts yet"))
        .unwrap_or_else(|| panic!("no account hint in {:?}", srv.banner));
    assert!(none.contains("sockit user add NAME --data "), "{none}");

    // user add says which store it wrote; the next start has an account.
    let data = srv.data();
    let out = common::user_add(common::Accounts::Data(&data), "ann", PASS);
    assert!(out.status.success(), "{out:?}");
    let said = text(&out.stdout);
    let db = std::fs::canonicalize(data.join("sockit.db")).unwrap();
    assert!(said.contains(db.to_str().unwrap()), "{said}");
    let dir = srv.stop_keep_dir();
    let srv = Server::start_in(dir, &["--chat-lines", "tcp://127.0.0.1:0"]);
    assert!(
        !srv.banner.iter().any(|l| l.starts_with("no accounts yet")),
        "{:?}",
        srv.banner
    );
}

#[test]
fn one_exit_status_table_for_every_command() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0"]);
    let addr = srv.addr("framed", "tcp://");
    let cfg = tempfile::tempdir().unwrap();
    let env = [("SOCKIT_CONFIG_DIR", cfg.path())];
    // Not logged in: 3, whichever command finds out.
    for args in [
        vec!["whoami", addr.as_str()],
        vec!["logout", addr.as_str()],
        vec!["say", addr.as_str(), "hi", "there"],
        vec!["history", addr.as_str()],
        vec!["ls", "--server", addr.as_str()],
    ] {
        let out = run_env(&args, b"", &env);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
        let hint = args[0] == "logout" || text(&out.stderr).contains("sockit login");
        assert!(hint, "{args:?}: {out:?}");
    }
    // Nothing listening: 7 (network), one line, the cause once.
    let dead = "tcp://127.0.0.1:1";
    let env = [env[0], ("SOCKIT_PASSWORD", Path::new(PASS))];
    for args in [
        vec!["call", dead, r#"{"type":"ping"}"#],
        vec!["login", dead, "--user", "ann"],
    ] {
        let out = run_env(&args, b"", &env);
        assert_eq!(out.status.code(), Some(7), "{args:?}: {out:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(err.matches("refused").count(), 1, "{err}");
    }
    // The table is in the top-level --help.
    let out = run(&["--help"], b"");
    let help = text(&out.stdout);
    for line in ["3 not logged in", "7 network"] {
        assert!(help.contains(line), "{help}");
    }
}

/// Bytes of unfinished uploads the server holds.
#[test]
fn a_server_dropped_mid_put_is_a_network_error_that_a_rerun_resumes() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0"]);
    let addr = srv.addr("framed", "tcp://");
    add_user(&srv.data(), "ann", PASS);
    let cfg = tempfile::tempdir().unwrap();
    let env = [
        ("SOCKIT_CONFIG_DIR", cfg.path()),
        ("SOCKIT_SERVER", Path::new(&addr)),
        ("SOCKIT_PASSWORD", Path::new(PASS)),
    ];
    assert!(
        run_env(&["login", "--user", "ann"], b"", &env)
            .status
            .success()
    );
    let big = cfg.path().join("big.bin");
    // Incompressible and large enough to be mid-way when the server dies.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let bytes: Vec<u8> = (0..(160usize << 20) / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    std::fs::write(&big, bytes).unwrap();
    let child = Command::new(common::bin())
        .args(["put", big.to_str().unwrap(), "--json"])
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let data = srv.data();
    let start = Instant::now();
    while staging_part_bytes(&data) < 8 << 20 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the upload never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let dir = srv.kill_keep_dir();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j["bytes_sent"].as_u64().unwrap() > 0, "{j}");
    let err = j["failures"][0]["error"].as_str().unwrap();
    assert!(err.contains("run the same command again to resume"), "{j}");
    drop(dir);
}

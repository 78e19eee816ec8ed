//! `sockit bench ws://` and `wss://`: the web door's WebSocket loaded with
//! its `ping` request, through real processes against a real `sockit
//! serve --web`, logged in as a real account.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{CHEAP_ARGON2, Server, add_user, run_env};
use serde_json::Value;

const PASS: &str = "correct horse battery";

fn web(scheme: &str) -> Server {
    let srv = Server::start(&[
        "--web",
        &format!("{scheme}://127.0.0.1:0"),
        "--argon2",
        CHEAP_ARGON2,
    ]);
    add_user(&srv.data(), "alice", PASS);
    srv
}

/// `sockit bench ARGS` with alice's password in SOCKIT_PASSWORD; the last JSON line.
fn bench(args: &[&str], password: &str) -> (std::process::Output, Option<Value>) {
    let mut all = vec!["bench", "--json", "--user", "alice", "--warmup", "0"];
    all.extend_from_slice(args);
    let out = run_env(&all, b"", &[("SOCKIT_PASSWORD", Path::new(password))]);
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok());
    (out, last)
}

#[test]
fn pings_through_the_web_door_closed_open_and_churned() {
    let srv = web("tcp");
    let url = format!(
        "{}/ws",
        srv.addr("web", "tcp://").replace("tcp://", "ws://")
    );
    // Closed loop, pipelined: every ping answered, none corrupt.
    let (out, r) = bench(
        &["--conns", "2", "--pipeline", "4", "--duration", "0.5", &url],
        PASS,
    );
    assert!(out.status.success(), "{out:?}");
    let r = r.unwrap();
    assert_eq!(
        (r["transport"].as_str(), r["proto"].as_str()),
        (Some("ws"), Some("ws-ping")),
        "{r}"
    );
    assert_eq!(r["target"], url.as_str());
    assert!(r["messages"].as_u64().unwrap() > 50, "{r}");
    assert_eq!(
        (r["errors"].as_u64(), r["mismatched"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert!(r["latency_us"]["p50"].as_f64().unwrap() > 0.0, "{r}");
    // Open loop: on schedule, latency from the intended send time.
    let (out, r) = bench(
        &["--conns", "2", "--rate", "400", "--duration", "1", &url],
        PASS,
    );
    assert!(out.status.success(), "{out:?}");
    let r = r.unwrap();
    assert!(r["achieved_fraction"].as_f64().unwrap() > 0.9, "{r}");
    assert_eq!(r["timeouts"], 0, "{r}");
    // Churn: each WebSocket replaced (handshake and cookie again) every 0.25 s.
    let (out, r) = bench(
        &[
            "--conns",
            "2",
            "--rate",
            "200",
            "--conn-lifetime",
            "0.25",
            "--duration",
            "1",
            &url,
        ],
        PASS,
    );
    assert!(out.status.success(), "{out:?}");
    let r = r.unwrap();
    assert!(r["connects"].as_u64().unwrap() >= 6, "{r}");
    assert_eq!(
        (r["connect_failures"].as_u64(), r["errors"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}

#[test]
fn wss_with_a_pinned_certificate() {
    let srv = web("tls");
    let url = format!(
        "{}/ws",
        srv.addr("web", "tls://").replace("tls://", "wss://")
    );
    let fp = srv
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("tls certificate "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (out, r) = bench(&["--fingerprint", &fp, "--duration", "0.5", &url], PASS);
    assert!(out.status.success(), "{out:?}");
    let r = r.unwrap();
    assert_eq!(r["transport"], "wss", "{r}");
    assert!(r["messages"].as_u64().unwrap() > 10, "{r}");
}

#[test]
fn a_wrong_password_or_no_account_is_one_line_and_status_2() {
    let srv = web("tcp");
    let url = format!(
        "{}/ws",
        srv.addr("web", "tcp://").replace("tcp://", "ws://")
    );
    let (out, _) = bench(&["--duration", "0.2", &url], "wrong password");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web login as alice refused"), "{err}");
    let out = run_env(&["bench", &url], b"", &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give --user NAME"),
        "{out:?}"
    );
    let out = run_env(
        &["bench", "--proto", "redis", "--user", "alice", &url],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

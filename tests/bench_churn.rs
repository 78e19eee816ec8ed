//! `sockit bench --connect-rate` and `--conn-lifetime` (connection churn,
//! as tcpkali's), through real processes against real servers on
//! loopback: echo over TCP, frame-ping over TLS, and a port nobody serves.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, json_lines, run};
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn lifetimes_replace_connections_at_the_intended_rate_with_the_load_on_schedule() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let addr = s.addr("echo", "tcp://");
    // 4 connections living 0.25 s each: 16 replacements a second.
    let out = run(
        &[
            "bench",
            "--json",
            "--conns",
            "4",
            "--conn-lifetime",
            "0.25",
            "--rate",
            "400",
            "--interval",
            "0.5",
            "--duration",
            "1.5",
            "--warmup",
            "0",
            &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let docs = json_lines(&out.stdout);
    let (r, intervals) = docs.split_last().unwrap();
    assert_eq!(f(&r["connect_rate"]), 16.0, "{r}");
    assert_eq!(f(&r["conn_lifetime_s"]), 0.25, "{r}");
    assert_eq!(r["connect_failures"], 0, "{r}");
    let per_s = f(&r["connects_per_s"]);
    assert!((12.0..=20.0).contains(&per_s), "{r}");
    // The 4 first connects, then one replacement per slot every 0.25 s.
    let connects = r["connects"].as_u64().unwrap();
    assert!((4 + 20..=4 + 28).contains(&connects), "{r}");
    let connect = &r["connect_latency_us"];
    assert!(
        f(&connect["p50"]) > 0.0 && f(&connect["p50"]) <= f(&connect["max"]),
        "{r}"
    );
    // Churn costs no message: on schedule, none lost, none corrupt.
    assert!(f(&r["achieved_fraction"]) > 0.9, "{r}");
    assert_eq!(
        (r["errors"].as_u64(), r["timeouts"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    // Each interval shows its connects; together the measured window's.
    let in_intervals: u64 = intervals
        .iter()
        .map(|i| i["interval"]["connects"].as_u64().unwrap())
        .sum();
    assert!(
        in_intervals >= 20 && in_intervals <= connects,
        "{intervals:?}"
    );
    // The text form says the same in words.
    let out = run(
        &[
            "bench",
            "--conns",
            "2",
            "--conn-lifetime",
            "0.2",
            "--duration",
            "0.5",
            "--warmup",
            "0",
            &addr,
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/s of 10 intended), 0 failed"), "{text}");
    assert!(text.contains("connect     p50 "), "{text}");
}

#[test]
fn a_connect_rate_paces_the_ramp() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let addr = s.addr("echo", "tcp://");
    let out = run(
        &[
            "bench",
            "--json",
            "--conns",
            "10",
            "--connect-rate",
            "20",
            // 2 s, not 1: on a loaded machine the ramp (0.45 s) plus a slow
            // first round trip left a 1 s window with no message at all.
            "--duration",
            "2",
            "--warmup",
            "0",
            &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let r = json_lines(&out.stdout).pop().unwrap();
    assert_eq!(r["connects"], 10, "{r}");
    assert_eq!(f(&r["connect_rate"]), 20.0, "{r}");
    // 10 connects at 20/s: the last starts 0.45 s in.
    assert!((15.0..=26.0).contains(&f(&r["connects_per_s"])), "{r}");
    assert!(r["messages"].as_u64().unwrap() > 0, "{r}");
}

#[test]
fn churn_runs_over_tls_with_the_frame_protocol() {
    let s = Server::start(&["--listen", "tls://127.0.0.1:0"]);
    let addr = s.addr("framed", "tls://");
    let fp = s
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("tls certificate "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = run(
        &[
            "bench",
            "--json",
            "--proto",
            "frame-ping",
            "--fingerprint",
            &fp,
            "--conns",
            "2",
            "--conn-lifetime",
            "0.2",
            "--duration",
            "1",
            "--warmup",
            "0",
            &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let r = json_lines(&out.stdout).pop().unwrap();
    assert!(r["connects"].as_u64().unwrap() >= 8, "{r}");
    assert_eq!(r["connect_failures"], 0, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert!(r["messages"].as_u64().unwrap() > 0, "{r}");
}

#[test]
fn refused_connects_are_counted_and_named() {
    let (_held, port) = common::refusing_port();
    let addr = format!("tcp://127.0.0.1:{port}");
    let out = run(
        &[
            "bench",
            "--json",
            "--conns",
            "2",
            "--conn-lifetime",
            "0.1",
            "--duration",
            "0.3",
            "--warmup",
            "0",
            &addr,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "nothing echoed: {out:?}");
    let r = json_lines(&out.stdout).pop().unwrap();
    assert_eq!(r["connects"], 0, "{r}");
    assert!(r["connect_failures"].as_u64().unwrap() > 2, "{r}");
    assert!(
        r["first_error"].as_str().unwrap().contains("refused"),
        "{r}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WARNING: connects fell behind"), "{err}");
    // UDP has no connections to churn: a one-line refusal.
    let out = run(&["bench", "--conn-lifetime", "1", "udp://127.0.0.1:9"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UDP has none"),
        "{out:?}"
    );
}

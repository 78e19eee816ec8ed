//! `sockit bench` against the real server: closed loop over TCP, UDP and
//! Unix, pipelining, open loop at a fixed rate, the bulk stream mode, and
//! the errors a user can cause.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::process::Output;

use common::{Server, run};
use serde_json::Value;

/// Short runs: enough messages to check the figures, not a measurement.
const SHORT: [&str; 4] = ["--duration", "1", "--warmup", "0.2"];

fn bench(args: &[&str]) -> (Output, Value) {
    let mut all = vec!["bench", "--json"];
    all.extend_from_slice(&SHORT);
    all.extend_from_slice(args);
    let out = run(&all, b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let v = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last:?} {out:?}"));
    (out, v)
}

fn server() -> Server {
    Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--echo",
        "udp://127.0.0.1:0",
        "--echo",
        "unix://echo.sock",
    ])
}

/// Messages flowed without errors, and the figures agree with each other.
fn assert_clean(v: &Value) {
    let messages = v["messages"].as_u64().unwrap();
    assert!(messages > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["mismatched"], 0, "{v}");
    let size = v["size"].as_u64().unwrap();
    assert_eq!(v["bytes"].as_u64().unwrap(), messages * size, "{v}");
    let secs = v["duration_s"].as_f64().unwrap();
    let rate = v["msgs_per_s"].as_f64().unwrap();
    assert!((rate - messages as f64 / secs).abs() < 1e-6, "{v}");
    let mbps = v["mb_per_s"].as_f64().unwrap();
    assert!(
        (mbps - (messages * size) as f64 / secs / 1e6).abs() < 1e-6,
        "{v}"
    );
}

fn assert_latency_ordered(v: &Value) {
    let l = &v["latency_us"];
    let f = |k: &str| {
        l[k].as_f64()
            .unwrap_or_else(|| panic!("latency_us.{k} in {v}"))
    };
    assert!(f("p50") <= f("p90") && f("p90") <= f("p99"), "{v}");
    assert!(
        f("p99") <= f("p999") && f("p999") <= f("max") && f("mean") <= f("max"),
        "{v}"
    );
}

#[test]
fn closed_loop_over_tcp_and_udp_with_four_connections() {
    let srv = server();
    for addr in [srv.addr("echo", "tcp://"), srv.addr("echo", "udp://")] {
        let (out, v) = bench(&["--conns", "4", &addr]);
        assert!(out.status.success(), "{addr}: {out:?}");
        assert_clean(&v);
        assert_latency_ordered(&v);
        assert_eq!(
            (v["conns"].as_u64(), v["mode"].as_str()),
            (Some(4), Some("closed"))
        );
        assert_eq!(v["timeouts"], 0, "{v}");
    }
}

#[test]
fn pipelined_over_unix_and_udp() {
    let srv = server();
    let unix = format!("unix://{}", srv.unix_path("echo").display());
    for addr in [unix, srv.addr("echo", "udp://")] {
        let (out, v) = bench(&["--pipeline", "8", "--size", "100", &addr]);
        assert!(out.status.success(), "{addr}: {out:?}");
        assert_clean(&v);
        assert_latency_ordered(&v);
        assert_eq!(v["pipeline"], 8, "{v}");
    }
}

#[test]
fn open_loop_keeps_the_rate_over_tcp_and_udp() {
    let srv = server();
    for addr in [srv.addr("echo", "tcp://"), srv.addr("echo", "udp://")] {
        let (out, v) = bench(&["--rate", "400", "--conns", "2", &addr]);
        assert!(out.status.success(), "{addr}: {out:?}");
        assert_clean(&v);
        assert_latency_ordered(&v);
        assert_eq!(v["mode"], "open", "{v}");
        // 400 msg/s for 1 s, give or take the window's edges.
        let n = v["messages"].as_u64().unwrap();
        assert!((360..=440).contains(&n), "{v}");
    }
}

#[test]
fn stream_mode_moves_bulk_bytes() {
    let srv = server();
    let (out, v) = bench(&["--stream", "--size", "65536", &srv.addr("echo", "tcp://")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(v["errors"], 0, "{v}");
    assert!(v["mb_per_s"].as_f64().unwrap() > 1.0, "{v}");
    assert!(v["latency_us"]["p50"].is_null(), "{v}");
}

#[test]
fn text_output_has_the_figures() {
    let srv = server();
    let mut args = vec!["bench", "--conns", "2"];
    args.extend_from_slice(&SHORT);
    let addr = srv.addr("echo", "tcp://");
    args.push(&addr);
    let out = run(&args, b"");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["msg/s", "MB/s", "p99.9", "errors      0"] {
        assert!(text.contains(want), "{want} in {text}");
    }
}

#[test]
fn user_errors_exit_2_with_one_line() {
    let (_held, port) = common::refusing_port();
    let closed = format!("tcp://127.0.0.1:{port}");
    let cases: [(&[&str], &str); 3] = [
        (&["bench", "--duration", "1", &closed], "refused"),
        (
            &["bench", "--stream", "udp://127.0.0.1:9"],
            "--stream needs a TCP or Unix",
        ),
        (&["bench", "--size", "4", "udp://127.0.0.1:9"], "size 4"),
    ];
    for (args, want) in cases {
        let out = run(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("sockit: error"))
            .collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(want), "{want} in {err}");
    }
}

#[test]
fn hgrm_and_plot_export_the_full_spectrum() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let (hgrm, svg) = (dir.path().join("run.hgrm"), dir.path().join("run.svg"));
    let (out, v) = bench(&[
        "--rate",
        "500",
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        &s.addr("echo", "tcp://"),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_clean(&v);
    let spectrum = v["percentiles_us"].as_array().unwrap();
    assert!(spectrum.len() > 10, "{spectrum:?}");
    let last = spectrum.last().unwrap();
    assert_eq!(last[0], 1.0);
    assert_eq!(last[2], v["messages"], "the spectrum counts every sample");
    let p50 = v["latency_us"]["p50"].as_f64().unwrap();
    assert!(
        spectrum.iter().any(|p| p[1].as_f64() == Some(p50)),
        "p50 is on the spectrum"
    );
    let text = std::fs::read_to_string(&hgrm).unwrap();
    assert!(text.starts_with("       Value     Percentile"), "{text}");
    let total = v["messages"].as_u64().unwrap();
    assert!(
        text.contains(&format!("Total count    = {total:>12}")),
        "{text}"
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&hgrm).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn an_open_loop_that_cannot_keep_its_schedule_warns_loudly() {
    // Ten times what the throttled server can answer (100 msg/s): the
    // schedule slips whatever the machine's speed.
    let slow = throttled_echo();
    let (out, v) = bench(&["--rate", "1000", &slow]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(v["achieved_fraction"].as_f64().unwrap() < 0.95, "{v}");
    assert!(err.contains("WARNING: the schedule slipped"), "{err}");
    // A rate a plain echo server keeps easily: no warning.
    let s = server();
    let addr = s.addr("echo", "tcp://");
    let (out, v) = bench(&["--rate", "300", &addr]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(v["achieved_fraction"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(!err.contains("WARNING"), "{err}");
}

/// An echo server that answers at most one 64-byte message per 10 ms: 100
/// msg/s whatever the load, a target whose knee is known (slow enough that
/// a busy 2-core machine's scheduling noise stays far below it). Each reply
/// is due 10 ms after the previous one (or after its request, if later), so a
/// late wake-up is caught up and the capacity stays exact on a busy machine.
fn throttled_echo() -> String {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let _ = c.set_nodelay(true);
            std::thread::spawn(move || {
                let mut m = [0u8; 64];
                let mut due = Instant::now();
                loop {
                    let asked = Instant::now();
                    if c.read_exact(&mut m).is_err() {
                        return;
                    }
                    // A request that was already waiting keeps the schedule
                    // (a late wake-up is caught up); after a wait, it restarts.
                    let waited = asked.elapsed() > Duration::from_millis(1);
                    due = if waited { Instant::now() } else { due } + Duration::from_millis(10);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    if c.write_all(&m).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn sweep_finds_the_knee_of_a_throttled_server() {
    let addr = throttled_echo();
    let out = run(
        &[
            "bench",
            "--json",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--sweep",
            "20..400",
            "--steps",
            "5",
            "--p99-max",
            "300",
            &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let knee = last["knee"].as_f64().unwrap();
    // Capacity is 100 msg/s; the knee is found within 40% below it (a busy
    // 2-core machine adds jitter near saturation), never above it, and the
    // bisection leaves the first failing rate close above the knee.
    assert!((60.0..=105.0).contains(&knee), "knee {knee}: {stdout}");
    let fail = last["first_fail"].as_f64().unwrap();
    assert!(fail > knee && fail <= knee * 1.3, "{stdout}");
    let steps = last["steps"].as_array().unwrap();
    assert!(steps.len() >= 4, "{stdout}");
}

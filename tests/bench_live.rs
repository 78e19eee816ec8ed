//! `sockit bench --interval` and Ctrl-C, through real processes against a
//! real echo server on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Server, bin, json_lines, run};
use serde_json::Value;

#[test]
fn intervals_add_up_to_the_summary_and_show_the_intended_rate() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let addr = s.addr("echo", "tcp://");
    let out = run(
        &[
            "bench",
            "--json",
            "--rate",
            "400",
            "--interval",
            "0.25",
            "--duration",
            "1",
            "--warmup",
            "0.1",
            &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let docs = json_lines(&out.stdout);
    let (summary, intervals) = docs.split_last().unwrap();
    assert_eq!(summary["interrupted"], false, "{summary}");
    assert!((4..=5).contains(&intervals.len()), "{intervals:?}");
    let mut sum = 0;
    for i in intervals {
        let i = &i["interval"];
        sum += i["messages"].as_u64().unwrap();
        assert_eq!(i["rate"], 400.0, "{i}");
        let secs = i["end"].as_f64().unwrap() - i["start"].as_f64().unwrap();
        if secs > 0.2 {
            // 400 msg/s for 0.25 s: 100, give or take a reply in flight.
            let f = i["achieved_fraction"].as_f64().unwrap();
            assert!((0.9..1.1).contains(&f), "{i}");
            assert!(
                i["p50_us"].as_f64().unwrap() <= i["p99_us"].as_f64().unwrap(),
                "{i}"
            );
        }
    }
    assert_eq!(Some(sum), summary["messages"].as_u64(), "{summary}");

    let out = run(
        &[
            "bench",
            "--interval",
            "0.5",
            "--duration",
            "1",
            "--warmup",
            "0",
            &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .filter(|l| l.contains(" msg/s ") && l.contains("p99"))
            .count()
            >= 2,
        "{text}"
    );
    let out = run(&["bench", "--stream", "--interval", "1", &addr], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn ctrl_c_prints_the_summary_so_far_and_exits_0() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let mut child = Command::new(bin())
        .args([
            "bench",
            "--json",
            "--interval",
            "0.2",
            "--duration",
            "60",
            "--warmup",
            "0",
        ])
        .arg(s.addr("echo", "tcp://"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first interval line says the run is under way.
    let first: Value = serde_json::from_str(&out.next().unwrap().unwrap()).unwrap();
    assert!(
        first["interval"]["messages"].as_u64().unwrap() > 0,
        "{first}"
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = out.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    // Messages were echoed: success, as a whole run (and as ping's Ctrl-C).
    assert_eq!(status.code(), Some(0), "{status:?} {rest:?}");
    let summary: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true, "{summary}");
    let ran = summary["duration_s"].as_f64().unwrap();
    assert!(ran > 0.1 && ran < 30.0, "{summary}");
    assert!(summary["messages"].as_u64().unwrap() > 0, "{summary}");
    let rate = summary["msgs_per_s"].as_f64().unwrap();
    let expect = summary["messages"].as_f64().unwrap() / ran;
    assert!(
        (rate - expect).abs() < 1.0,
        "the rate is over what ran: {summary}"
    );
}

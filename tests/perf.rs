//! `sockit perf` against `sockit serve --perf`: real processes on
//! loopback, port 0, short tests.
// Helpers outside #[test] fns unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::{Server, run, strip_scheme};

fn perf_json(addr: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["perf", "--json", "-t", "0.6"];
    args.extend_from_slice(extra);
    args.push(addr);
    let out = run(&args, b"");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn upload_reverse_and_bidir_counts_agree_at_both_ends() {
    let s = Server::start(&["--perf", "tcp://127.0.0.1:0"]);
    let addr = s.addr("perf", "tcp://");

    let up = perf_json(&addr, &["-i", "0.2"]);
    let sum = &up["summary"];
    assert_eq!(sum["mode"], "up");
    assert!(sum["client_sent"].as_u64().unwrap() > 0, "{sum}");
    assert_eq!(sum["client_sent"], sum["server_received"], "{sum}");
    assert_eq!(sum["server_sent"], 0);
    assert!(sum["retransmits"].is_u64(), "TCP_INFO read: {sum}");
    assert!(
        sum["cpu_client"].is_f64() && sum["cpu_server"].is_f64(),
        "{sum}"
    );
    let intervals = up["intervals"].as_array().unwrap();
    assert!((2..=4).contains(&intervals.len()), "{intervals:?}");
    let in_intervals: u64 = intervals
        .iter()
        .map(|i| i["bytes_sent"].as_u64().unwrap())
        .sum();
    assert!(in_intervals <= sum["client_sent"].as_u64().unwrap());

    let down = perf_json(&addr, &["-R", "-P", "2", "-i", "0"]);
    let sum = &down["summary"];
    assert_eq!(sum["mode"], "down");
    assert_eq!(sum["streams"], 2);
    assert!(sum["server_sent"].as_u64().unwrap() > 0, "{sum}");
    assert_eq!(sum["server_sent"], sum["client_received"], "{sum}");
    assert_eq!(sum["client_sent"], 0);
    assert!(down["intervals"].as_array().unwrap().is_empty());

    let both = perf_json(&addr, &["--bidir"]);
    let sum = &both["summary"];
    assert!(sum["client_sent"].as_u64().unwrap() > 0, "{sum}");
    assert!(sum["server_sent"].as_u64().unwrap() > 0, "{sum}");
    assert_eq!(sum["client_sent"], sum["server_received"], "{sum}");
    assert_eq!(sum["server_sent"], sum["client_received"], "{sum}");
}

#[test]
fn human_output_has_intervals_and_a_summary() {
    let s = Server::start(&["--perf", "tcp://127.0.0.1:0"]);
    let out = run(
        &["perf", "-t", "0.5", "-i", "0.25", &s.addr("perf", "tcp://")],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().filter(|l| l.contains(" sent ")).count() >= 2,
        "{text}"
    );
    assert!(text.contains("client -> server: sent"), "{text}");
    assert!(text.contains("retransmits"), "{text}");
}

#[test]
fn the_perf_door_is_behind_the_access_lists() {
    let s = Server::start(&["--perf", "tcp://127.0.0.1:0", "--deny", "127.0.0.0/8"]);
    let out = run(&["perf", "-t", "0.3", &s.addr("perf", "tcp://")], b"");
    // A reset is a network error: exit 7 in the exit table.
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reset"), "{err}");
}

#[test]
fn a_bad_header_gets_one_error_line_and_the_server_serves_on() {
    let s = Server::start(&["--perf", "tcp://127.0.0.1:0"]);
    let addr = s.addr("perf", "tcp://");
    for bad in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"{\"perf\":1,\"mode\":\"up\",\"secs\":100000}\n",
        &[b'x'; 600][..],
    ] {
        let mut c = TcpStream::connect(strip_scheme(&addr)).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        c.write_all(bad).unwrap();
        let mut line = String::new();
        BufReader::new(&c).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v["error"].is_string(), "{line}");
    }
    let ok = perf_json(&addr, &["-i", "0"]);
    assert!(ok["summary"]["server_received"].as_u64().unwrap() > 0);
}

#[test]
fn out_of_range_flags_are_one_line_errors() {
    let out = run(&["perf", "-t", "9999", "tcp://127.0.0.1:9"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 600"));
    let out = run(&["perf", "-P", "0", "tcp://127.0.0.1:9"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_echo_server_is_not_mistaken_for_a_perf_door() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let out = run(&["perf", "-t", "0.3", &s.addr("echo", "tcp://")], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    // Our own header echoed back is named as the answer that it is.
    assert!(err.contains("unexpected answer {\"perf\":1"), "{err}");
    assert!(
        err.contains("is this a `sockit serve --perf` address?"),
        "{err}"
    );
}

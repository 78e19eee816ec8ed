//! `sockit ping` against the real server and against tiny misbehaving
//! responders: round trips on every transport, loss, duplicates, reordering,
//! late replies on a stream, refused connections and Ctrl-C.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Server, bin, run};
use serde_json::Value;

/// The JSON object on the last line of stdout.
fn last_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: last line {last:?} of {stdout}"))
}

fn ping(args: &[&str]) -> (Output, Value) {
    let mut all = vec!["ping"];
    all.extend_from_slice(args);
    let out = run(&all, b"");
    let v = last_json(&out);
    (out, v)
}

fn assert_rtt_ordered(v: &Value) {
    let r = &v["rtt_us"];
    let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("rtt_us.{k} in {v}"));
    assert!(f("min") <= f("p50") && f("p50") <= f("max"), "{v}");
    assert!(
        f("p50") <= f("p90") && f("p90") <= f("p99") && f("p99") <= f("p999"),
        "{v}"
    );
    assert!(
        f("min") <= f("mean") && f("mean") <= f("max") && f("stddev") >= 0.0,
        "{v}"
    );
}

#[test]
fn round_trips_over_tcp_udp_and_unix() {
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--echo",
        "udp://127.0.0.1:0",
        "--echo",
        "unix://echo.sock",
    ]);
    let unix = format!("unix://{}", srv.unix_path("echo").display());
    for addr in [srv.addr("echo", "tcp://"), srv.addr("echo", "udp://"), unix] {
        let (out, v) = ping(&["-c", "3", "-i", "0.01", "--json", &addr]);
        assert!(out.status.success(), "{addr}: {out:?}");
        assert_eq!(v["sent"], 3, "{v}");
        assert_eq!(v["received"], 3, "{v}");
        assert_eq!(v["lost"], 0, "{v}");
        assert_eq!(v["mismatched"], 0, "{v}");
        assert_rtt_ordered(&v);
        // Connect time is reported apart, and only for streams.
        assert_eq!(v["connect_us"].is_null(), addr.starts_with("udp://"), "{v}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches(" bytes from ").count(), 3, "{text}");
        assert!(text.contains("seq=2 time="), "{text}");
    }
}

#[test]
fn text_summary_and_quiet() {
    let srv = Server::start(&["--echo", "udp://127.0.0.1:0"]);
    let out = run(
        &[
            "ping",
            "-q",
            "-c",
            "2",
            "-i",
            "0.01",
            &srv.addr("echo", "udp://"),
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("bytes from"), "{text}");
    assert!(text.contains("2 sent, 2 received, 0.0% loss"), "{text}");
    assert!(
        text.contains("rtt min/mean/p50/p90/p99/p99.9/max/stddev = "),
        "{text}"
    );
}

#[test]
fn a_silent_udp_port_loses_every_probe_and_exits_1() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = format!("udp://{}", silent.local_addr().unwrap());
    let (out, v) = ping(&["-c", "3", "-i", "0.01", "-W", "0.2", "--json", &addr]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        (v["sent"].as_u64(), v["received"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    assert_eq!(v["lost"], 3, "{v}");
    assert_eq!(v["loss_pct"], 100.0, "{v}");
    assert!(
        v["rtt_us"]["p50"].is_null() && v["rtt_us"]["min"].is_null(),
        "{v}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("no reply from").count(), 3, "{text}");
}

#[test]
fn a_closed_tcp_port_is_a_one_line_error_naming_it() {
    let (_held, port) = common::refusing_port();
    let addr = format!("tcp://127.0.0.1:{port}");
    let out = run(&["ping", "-c", "1", &addr], b"");
    assert_eq!(out.status.code(), Some(7), "network errors exit 7: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&addr) && err.contains("refused"), "{err}");
}

#[test]
fn a_probe_smaller_than_its_sequence_number_is_refused() {
    let out = run(&["ping", "-s", "4", "-c", "1", "udp://127.0.0.1:9"], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("size 4") && err.contains("use 8 or more"),
        "{err}"
    );
}

/// A UDP responder running `reply` for each datagram it gets.
fn udp_responder(
    mut reply: impl FnMut(&UdpSocket, &[u8], std::net::SocketAddr) + Send + 'static,
) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = format!("udp://{}", sock.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            reply(&sock, &buf[..n], peer);
        }
    });
    addr
}

#[test]
fn duplicate_udp_replies_are_counted() {
    let addr = udp_responder(|s, d, peer| {
        s.send_to(d, peer).unwrap();
        s.send_to(d, peer).unwrap();
    });
    // -W 0.5 -i 0.05: the run waits for the last reply's duplicate to come in.
    let (out, v) = ping(&["-c", "3", "-i", "0.05", "-W", "0.5", "--json", &addr]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(v["received"], 3, "{v}");
    assert!(v["duplicates"].as_u64().unwrap() >= 2, "{v}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("(DUP!)"));
}

#[test]
fn out_of_order_udp_replies_are_counted() {
    // Holds probe 0 back and answers it right after probe 1.
    let mut held: Option<Vec<u8>> = None;
    let addr = udp_responder(move |s, d, peer| {
        if d[..8] == 0u64.to_be_bytes() {
            held = Some(d.to_vec());
            return;
        }
        s.send_to(d, peer).unwrap();
        if let Some(h) = held.take() {
            s.send_to(&h, peer).unwrap();
        }
    });
    let (out, v) = ping(&["-c", "3", "-i", "0.02", "-W", "1", "--json", &addr]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(v["received"], 3, "{v}");
    assert_eq!(v["out_of_order"], 1, "{v}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("seq=0 time="));
}

#[test]
fn a_late_reply_on_a_stream_does_not_desync_later_probes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // The first reply comes after the 100 ms timeout, in two pieces.
        let mut first = [0u8; 64];
        s.read_exact(&mut first).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        s.write_all(&first[..10]).unwrap();
        s.write_all(&first[10..]).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            s.write_all(&buf[..n]).unwrap();
        }
    });
    let (out, v) = ping(&["-c", "3", "-i", "0.2", "-W", "0.1", "--json", &addr]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(v["received"], 2, "{v}");
    assert_eq!(v["lost"], 1, "{v}");
    assert_eq!(v["late"], 1, "{v}");
    assert_eq!(v["mismatched"], 0, "{v}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("late reply from") && text.contains("seq=0"),
        "{text}"
    );
}

#[test]
fn ctrl_c_prints_the_summary_and_exits_0() {
    let srv = Server::start(&["--echo", "udp://127.0.0.1:0"]);
    let mut child = Command::new(bin())
        .args(["ping", "-i", "0.05", &srv.addr("echo", "udp://")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut replies = 0;
    while replies < 2 {
        let line = lines.next().expect("ping ended early").unwrap();
        replies += usize::from(line.contains(" bytes from "));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?} {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("ping statistics")),
        "{rest:?}"
    );
    assert!(rest.iter().any(|l| l.contains("% loss")), "{rest:?}");
}

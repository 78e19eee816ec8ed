//! `sockit perf -u` against `sockit serve --perf udp://`: real processes
//! on loopback, port 0, short tests; a raw socket plays a hostile peer.
// Helpers outside #[test] fns unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Server, run};

fn perf_json(addr: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["perf", "--json"];
    args.extend_from_slice(extra);
    args.push(addr);
    let out = run(&args, b"");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn counts_agree_and_nothing_is_lost_at_a_low_rate() {
    let s = Server::start(&["--perf", "udp://127.0.0.1:0", "--perf", "tcp://127.0.0.1:0"]);
    let addr = s.addr("perf", "udp://");
    let doc = perf_json(&addr, &["-b", "2M", "-l", "1000", "-t", "1", "-i", "0.25"]);
    let sum = &doc["summary"];
    // 2 Mbit/s of 1000-byte datagrams for 1 s: 250 datagrams.
    let sent = sum["sent"].as_u64().unwrap();
    assert!((240..=260).contains(&sent), "{sum}");
    assert_eq!(sum["received"], sent, "{sum}");
    assert_eq!(sum["lost"], 0, "{sum}");
    assert_eq!(sum["loss_percent"], 0.0, "{sum}");
    assert_eq!(sum["out_of_order"], 0, "{sum}");
    let jitter = sum["jitter_ms"].as_f64().unwrap();
    assert!((0.0..50.0).contains(&jitter), "{sum}");
    let bps = sum["sent_bits_per_second"].as_f64().unwrap();
    assert!((1.8e6..2.2e6).contains(&bps), "paced at -b: {sum}");
    let intervals = doc["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 4, "{intervals:?}");
    let by_interval: u64 = intervals.iter().map(|i| i["sent"].as_u64().unwrap()).sum();
    assert_eq!(by_interval, sent);
    for i in intervals {
        assert_eq!(i["sent"], i["received"], "{i}");
        assert_eq!(i["lost"], 0, "{i}");
    }
    // The same server still runs TCP tests beside.
    let tcp = perf_json(&s.addr("perf", "tcp://"), &["-t", "0.3", "-i", "0"]);
    assert!(tcp["summary"]["server_received"].as_u64().unwrap() > 0);
}

#[test]
fn human_output_names_loss_jitter_and_order() {
    let s = Server::start(&["--perf", "udp://127.0.0.1:0"]);
    let addr = s.addr("perf", "udp://");
    let out = run(&["perf", "-u", "-t", "0.5", "-i", "0.25", &addr], b"");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.contains(" s sent ")).count(),
        2,
        "{text}"
    );
    assert!(text.contains("lost 0/"), "{text}");
    assert!(text.contains("out of order 0, jitter"), "{text}");
}

/// A raw peer: garbage, a stray END and reordered DATA get no answer; the
/// HELLO's answer and the RESULT stay under 3x what the peer sent; the
/// door counts the reordering; a real test runs after.
#[test]
fn a_raw_peer_gets_at_most_three_times_what_it_sent() {
    let s = Server::start(&["--perf", "udp://127.0.0.1:0"]);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.connect(s.sock("perf", "udp://")).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 65536];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut send = |d: &[u8]| {
        sent += c.send(d).unwrap();
    };
    let end = |id: u64| [&b"SKPU\x04"[..], &id.to_be_bytes(), &4u64.to_be_bytes()].concat();
    send(b"GET / HTTP/1.1\r\n\r\n");
    send(&end(7));
    let mut hello = [&b"SKPU\x01"[..], &7u64.to_be_bytes()].concat();
    hello.resize(64, 0);
    send(&hello);
    let n = c.recv(&mut buf).unwrap();
    got += n;
    assert_eq!(&buf[..n], [&b"SKPU\x02"[..], &7u64.to_be_bytes()].concat());
    for seq in [0u64, 1, 3, 2] {
        let d = [
            &b"SKPU\x03"[..],
            &7u64.to_be_bytes(),
            &seq.to_be_bytes(),
            &(seq * 1000).to_be_bytes(),
            &0u32.to_be_bytes(),
        ]
        .concat();
        send(&d);
    }
    send(&end(7));
    let n = c.recv(&mut buf).unwrap();
    got += n;
    assert_eq!(&buf[..5], b"SKPU\x05");
    let r: serde_json::Value = serde_json::from_slice(&buf[13..n]).unwrap();
    assert_eq!(r["received"], 4, "{r}");
    assert_eq!(r["out_of_order"], 1, "{r}");
    assert!(got <= 3 * sent, "{got} bytes back for {sent}");
    // Nothing came for the garbage or the stray END: the socket is empty.
    assert!(c.recv(&mut buf).is_err());
    let doc = perf_json(&s.addr("perf", "udp://"), &["-t", "0.3", "-i", "0"]);
    assert_eq!(doc["summary"]["lost"], 0);
}

#[test]
fn a_silent_or_echoing_peer_is_one_line_error() {
    // An echo door sends our HELLO back unchanged: that is no WELCOME.
    let s = Server::start(&["--echo", "udp://127.0.0.1:0"]);
    let out = run(
        &[
            "perf",
            "-u",
            "-w",
            "1",
            "-t",
            "0.3",
            &s.addr("echo", "udp://"),
        ],
        b"",
    );
    // Nothing answering is a network error: exit 7.
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no perf door answers"), "{err}");
    assert!(err.contains("sockit serve --perf udp://"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn the_udp_perf_door_is_behind_the_access_lists() {
    let s = Server::start(&["--perf", "udp://127.0.0.1:0", "--deny", "127.0.0.0/8"]);
    let out = run(
        &[
            "perf",
            "-u",
            "-w",
            "1",
            "-t",
            "0.3",
            &s.addr("perf", "udp://"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no perf door answers"));
}

#[test]
fn udp_flags_out_of_range_are_one_line_errors() {
    for (args, says) in [
        (
            &["perf", "-u", "tcp://127.0.0.1:9"][..],
            "-u needs a udp:// address",
        ),
        (&["perf", "-R", "udp://127.0.0.1:9"][..], "TCP only"),
        (
            &["perf", "-b", "fast", "udp://127.0.0.1:9"][..],
            "not a rate",
        ),
        (&["perf", "-l", "10", "udp://127.0.0.1:9"][..], "-l 10"),
        (
            &["perf", "-t", "600", "-i", "0.5", "udp://127.0.0.1:9"][..],
            "raise -i",
        ),
    ] {
        let out = run(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

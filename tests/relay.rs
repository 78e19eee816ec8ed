//! `sockit relay` end to end: real processes on loopback, port 0, the
//! relay's address read from its `listening on` line.
// Helpers outside #[test] fns unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{Server, bin, run, strip_scheme};

/// Bounds a read that should succeed at once; a hang becomes a failure.
const LIMIT: Duration = Duration::from_secs(20);

/// A running `sockit relay`, killed on drop.
struct Relay {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl Relay {
    fn start(args: &[&str]) -> Relay {
        let mut child = Command::new(bin())
            .arg("relay")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first stderr line {line:?}"))
            .to_string();
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Relay {
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            addr,
        }
    }

    /// The next `--json` report.
    fn report(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(addr: &str) -> TcpStream {
    let c = TcpStream::connect(strip_scheme(addr)).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c
}

fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn tcp_relay_passes_bytes_both_ways_and_reports_counts() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let mut r = Relay::start(&["--json", "tcp://127.0.0.1:0", &s.addr("echo", "tcp://")]);
    let sent = data(300_000, 7);
    let mut c = client(&r.addr);
    let writer = {
        let mut c = c.try_clone().unwrap();
        let sent = sent.clone();
        std::thread::spawn(move || {
            c.write_all(&sent).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == sent, "echo through the relay differs");
    let rep = r.report();
    assert_eq!(rep["id"], 1);
    assert_eq!(rep["bytes_up"], 300_000);
    assert_eq!(rep["bytes_down"], 300_000);
    assert!(rep["error"].is_null(), "{rep}");
}

#[test]
fn half_close_passes_through_and_the_answer_still_comes_back() {
    // A target that answers only after the client's EOF.
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let taddr = format!("tcp://{}", target.local_addr().unwrap());
    // Each connection on its own thread: the relay may dial the target for
    // either client first.
    let server = std::thread::spawn(move || {
        let each: Vec<_> = (0..2)
            .map(|_| {
                let (mut s, _) = target.accept().unwrap();
                std::thread::spawn(move || {
                    let mut all = Vec::new();
                    s.read_to_end(&mut all).unwrap();
                    s.write_all(format!("got {} bytes", all.len()).as_bytes())
                        .unwrap();
                })
            })
            .collect();
        for t in each {
            t.join().unwrap();
        }
    });
    let mut r = Relay::start(&["--json", "tcp://127.0.0.1:0", &taddr]);
    // Two clients at once, each with its own connection to the target.
    let mut a = client(&r.addr);
    let mut b = client(&r.addr);
    a.write_all(b"12345").unwrap();
    b.write_all(b"1234567").unwrap();
    for (c, want) in [(&mut a, "got 5 bytes"), (&mut b, "got 7 bytes")] {
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, want);
    }
    server.join().unwrap();
    let mut ups: Vec<u64> = (0..2)
        .map(|_| r.report()["bytes_up"].as_u64().unwrap())
        .collect();
    ups.sort_unstable();
    assert_eq!(ups, [5, 7]);
}

#[test]
fn unix_listener_relays_to_tcp() {
    let s = Server::start(&["--upper", "tcp://127.0.0.1:0"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.sock");
    let _r = Relay::start(&[
        &format!("unix://{}", path.display()),
        &s.addr("upper", "tcp://"),
    ]);
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.write_all(b"quiet\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"QUIET\n");
}

#[test]
fn udp_relay_keeps_a_mapping_per_client_and_reports_it_when_quiet() {
    let s = Server::start(&["--echo", "udp://127.0.0.1:0"]);
    let mut r = Relay::start(&[
        "--json",
        "-i",
        "0.5",
        "udp://127.0.0.1:0",
        &s.addr("echo", "udp://"),
    ]);
    let socks: Vec<UdpSocket> = (0..2)
        .map(|_| {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.set_read_timeout(Some(LIMIT)).unwrap();
            u
        })
        .collect();
    for (i, u) in socks.iter().enumerate() {
        for j in 0..3 {
            let msg = format!("client {i} message {j}");
            u.send_to(msg.as_bytes(), strip_scheme(&r.addr)).unwrap();
            let mut buf = [0u8; 64];
            let n = u.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], msg.as_bytes());
        }
    }
    // Both mappings expire after 0.5 s of quiet and report.
    let mut reps: Vec<serde_json::Value> = (0..2).map(|_| r.report()).collect();
    reps.sort_by_key(|v| v["id"].as_u64());
    for (i, rep) in reps.iter().enumerate() {
        let port = socks[i].local_addr().unwrap().port();
        assert!(
            rep["client"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{port}")),
            "{rep}"
        );
        assert_eq!(rep["datagrams"], serde_json::json!([3, 3]), "{rep}");
        assert_eq!(rep["bytes_up"], rep["bytes_down"], "{rep}");
    }
}

#[test]
fn tls_listener_in_front_of_a_plain_server() {
    let s = Server::start(&["--upper", "tcp://127.0.0.1:0"]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let mut child = Command::new(bin())
        .args([
            "relay",
            "--data",
            data.to_str().unwrap(),
            "tls://127.0.0.1:0",
        ])
        .arg(s.addr("upper", "tcp://"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut fp, mut addr) = (String::new(), String::new());
    while addr.is_empty() {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0);
        if let Some(rest) = line.strip_prefix("tls certificate ") {
            fp = rest.split_whitespace().next().unwrap().to_string();
        }
        if let Some(a) = line.trim_end().strip_prefix("listening on ") {
            addr = a.to_string();
        }
    }
    assert!(addr.starts_with("tls://"), "{addr}");
    let out = run(&["connect", "--fingerprint", &fp, &addr], b"over tls\n");
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"OVER TLS\n");
}

#[test]
fn mixing_udp_and_stream_is_a_one_line_error() {
    let out = run(&["relay", "tcp://127.0.0.1:0", "udp://127.0.0.1:9"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stream to stream"), "{err}");
}

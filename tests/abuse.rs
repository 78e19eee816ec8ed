//! The abuse smoke test: garbage on every door of a real server, then the
//! server must still answer a framed ping, an echo datagram and a chat
//! message, and must have logged no panic. The full floods, with figures,
//! are bench/abuse/; this is the part small enough for every CI run.
//!
//! No timing assertions: the attack is fixed in size, each wait is a bound
//! on a hang. The random stream's seed is printed (set ABUSE_SEED to replay).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Garbage datagrams sent to each datagram door.
const DATAGRAMS: usize = 20_000;
/// Garbage connections made to each stream door.
const CONNS: usize = 200;
/// Threads making those connections.
const CONN_THREADS: usize = 16;
/// Bound on any one wait for the server (a hang, not a delay).
const WAIT: Duration = Duration::from_secs(20);

#[test]
fn garbage_on_every_door_leaves_the_server_answering() {
    let seed = std::env::var("ABUSE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).unwrap();
            u64::from_le_bytes(b) | 1
        });
    println!("abuse seed {seed} (ABUSE_SEED={seed} replays it)");
    let mut srv = Serve::start();
    let echo = srv.sock("echo", "udp://");
    let chat_udp = srv.sock("chat-udp", "udp://");
    let framed = srv.sock("framed", "tcp://");
    let lines = srv.sock("chat-lines", "tcp://");

    let mut rng = Rng(seed);
    flood_datagrams(&echo, &mut rng);
    flood_datagrams(&chat_udp, &mut rng);
    flood_conns(&framed, rng.next(), framed_garbage);
    flood_conns(&lines, rng.next(), line_garbage);

    assert_eq!(framed_ping(&framed), "pong");
    assert_eq!(echo_datagram(&echo), b"still echoing");
    chat_still_delivers(&lines, &chat_udp);

    let status = srv.stop();
    let log = std::fs::read_to_string(srv.dir.path().join("stderr.log")).unwrap();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    assert!(status.success(), "server exit {status}; log:\n{log}");
}

/// A small, seedable random stream (xorshift64), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// 1 to `max` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = 1 + self.below(max);
        self.bytes(n)
    }
}

/// One garbage datagram: random bytes, broken or oversized JSON, bad UTF-8.
fn datagram_garbage(rng: &mut Rng) -> Vec<u8> {
    let size = match rng.below(100) {
        0 => 16 * 1024 + rng.below(65_507 - 16 * 1024),
        1..=9 => 512 + rng.below(16 * 1024),
        _ => rng.below(512),
    };
    match rng.below(5) {
        0 => rng.bytes(size),
        1 => format!(r#"{{"name":"x","msg":"{}"}}"#, "y".repeat(size)).into_bytes(),
        2 => [
            br#"{"name":"bad","msg":""#.as_slice(),
            &[0xff, 0xfe, 0xc0],
            b"\"}",
        ]
        .concat(),
        3 => format!(
            r#"{{"name":{},"room":"{}"}}"#,
            rng.next(),
            "#".repeat(size % 64)
        )
        .into_bytes(),
        _ => br#"{"name":"#[..rng.below(9)].to_vec(),
    }
}

fn flood_datagrams(to: &str, rng: &mut Rng) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(to).unwrap();
    for _ in 0..DATAGRAMS {
        // A full socket buffer or an ICMP error is part of a flood.
        let _ = sock.send(&datagram_garbage(rng));
    }
}

/// What a hostile framed peer sends.
fn framed_garbage(rng: &mut Rng) -> Vec<u8> {
    let frame = |header: &[u8], body: &[u8]| {
        let mut f = (header.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(header);
        f.extend_from_slice(body);
        f
    };
    match rng.below(6) {
        0 => rng.some_bytes(4096),
        1 => [&[0xff, 0xff, 0xff, 0xff][..], &rng.bytes(64)].concat(),
        2 => frame(b"{\"type\":\"ping\",", b""),
        3 => frame(b"{\"type\":\"\xff\xfe\"}", b""),
        4 => frame(br#"{"type":"echo","size":99999999999}"#, b"x"),
        // Half a frame, then the close.
        _ => frame(br#"{"type":"echo","size":100}"#, b"only ten!!"),
    }
}

/// What a hostile nc user sends.
fn line_garbage(rng: &mut Rng) -> Vec<u8> {
    match rng.below(5) {
        0 => rng.some_bytes(4096),
        1 => b"name\xff\n\xc3\x28\n/join \xe2\x82\n".to_vec(),
        2 => vec![b'x'; 100_000],
        3 => b"eve\n\x1b[2J\x1b]0;pwned\x07/nick \x1b[31m\n/join ../../etc\n/history 99999999999\n"
            .to_vec(),
        _ => b"half a line, then gone".to_vec(),
    }
}

/// Opens `CONNS` connections to `to`, each sending garbage then either
/// closing at once or half-closing and reading what the server says.
fn flood_conns(to: &str, seed: u64, garbage: fn(&mut Rng) -> Vec<u8>) {
    let next = Arc::new(Mutex::new(0usize));
    let workers: Vec<_> = (0..CONN_THREADS)
        .map(|t| {
            let (to, next) = (to.to_owned(), next.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n
                    };
                    if i > CONNS {
                        return;
                    }
                    let mut s = TcpStream::connect(&to).unwrap();
                    // The server may hang up mid-write: that is its answer.
                    let _ = s.write_all(&garbage(&mut rng));
                    if i % 2 == 0 {
                        let _ = s.shutdown(Shutdown::Write);
                        s.set_read_timeout(Some(WAIT)).unwrap();
                        let _ = s.read_to_end(&mut Vec::new());
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

/// Sends one ping frame on a fresh connection; the reply's type.
fn framed_ping(to: &str) -> String {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let header = br#"{"id":7,"type":"ping"}"#;
    s.write_all(&(header.len() as u32).to_be_bytes()).unwrap();
    s.write_all(header).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut reply).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(v["id"], 7);
    v["type"].as_str().unwrap().to_owned()
}

/// An echo datagram's reply, resent each second: the server may still be
/// working through the flood, and UDP may drop while it is.
fn echo_datagram(to: &str) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(to).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    while start.elapsed() < WAIT {
        sock.send(b"still echoing").unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            return buf[..n].to_vec();
        }
    }
    panic!("no echo within {WAIT:?}");
}

/// A line-door member sees a message sent by datagram, so both chat doors
/// and the hub between them still work.
fn chat_still_delivers(lines: &str, chat_udp: &str) {
    let s = TcpStream::connect(lines).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(b"watcher\r\n").unwrap();
    read_until(&mut r, "you are ~watcher in lobby");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(br#"{"name":"probe","msg":"still here"}"#, chat_udp)
        .unwrap();
    read_until(&mut r, "<~probe> still here");
}

fn read_until(r: &mut impl BufRead, want: &str) {
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line);
        assert!(matches!(n, Ok(1..)), "no {want:?} after {seen:?}: {n:?}");
        if line.contains(want) {
            return;
        }
        seen.push(line);
    }
}

/// `sockit serve` on port 0 with every door the test floods, its stderr
/// kept in a file so the test can look for panics.
struct Serve {
    child: Option<Child>,
    listeners: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Serve {
    fn start() -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut child = Command::new(common::bin())
            .args(["serve", "--echo", "udp://127.0.0.1:0"])
            .args(["--listen", "tcp://127.0.0.1:0"])
            .args(["--chat-lines", "tcp://127.0.0.1:0"])
            .args(["--chat-udp", "udp://127.0.0.1:0"])
            .arg("--data")
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut tx = Some(tx);
            // Read to the end, so the server never writes into a closed pipe.
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap_or_default();
                if line.starts_with("ready") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(std::mem::take(&mut lines));
                    }
                } else if tx.is_some() {
                    lines.push(line);
                }
            }
        });
        let banner = rx.recv_timeout(WAIT).expect("server did not print ready");
        let listeners = banner
            .iter()
            .filter_map(|l| l.split_once(" listening on "))
            .map(|(s, a)| (s.to_owned(), a.to_owned()))
            .collect();
        Serve {
            child: Some(child),
            listeners,
            dir,
        }
    }

    fn sock(&self, service: &str, scheme: &str) -> String {
        let (_, a) = self
            .listeners
            .iter()
            .find(|(s, a)| s == service && a.starts_with(scheme))
            .unwrap_or_else(|| panic!("no {service} listener in {:?}", self.listeners));
        common::strip_scheme(a).to_owned()
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

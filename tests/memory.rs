//! What an unauthenticated or non-reading peer can make the framed door
//! hold: the guest body limit, the per-frame deadline, the memory budget
//! and the write deadline, over real sockets.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;
use sockit::wire::{Frame, Limits, decode_from_slice, encode_to_vec};

/// Upper bound on any read or wait here: a hang fails, never a sleep.
const IO_LIMIT: Duration = Duration::from_secs(10);

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s
}

/// Reads one frame (None at EOF or reset).
fn read_frame(s: &mut TcpStream) -> Option<Frame> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let limits = Limits {
        max_body: 64 << 20,
        ..Limits::default()
    };
    loop {
        if let Some((f, _)) = decode_from_slice(&buf, &limits).unwrap() {
            return Some(f);
        }
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn echo(id: u64, len: usize) -> Vec<u8> {
    encode_to_vec(&Frame::new("echo").with_id(id).with_body(vec![b'x'; len])).unwrap()
}

fn code(f: &Frame) -> Option<&str> {
    f.get("code").and_then(|c| c.as_str())
}

#[test]
fn a_guest_gets_small_bodies_only_and_is_told_to_log_in() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0"]);
    let mut s = connect(&srv.sock("framed", "tcp://"));
    s.write_all(&echo(1, 1000)).unwrap();
    let f = read_frame(&mut s).unwrap();
    assert_eq!(f.kind(), Some("echo"), "{f:?}");
    assert_eq!(f.body.len(), 1000);
    // 100 KiB is over the 64 KiB a peer may send before login.
    s.write_all(&echo(2, 100 * 1024)).unwrap_or(());
    let f = read_frame(&mut s).unwrap();
    assert_eq!(code(&f), Some("body_too_large"), "{f:?}");
    let msg = f.get("message").and_then(|m| m.as_str()).unwrap();
    assert!(msg.contains("log in first"), "{msg}");
    assert_eq!(f.get("id").and_then(|i| i.as_u64()), Some(2));
}

#[test]
fn every_frame_not_only_the_first_must_arrive_within_the_frame_timeout() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--frame-timeout", "0.5"]);
    let mut s = connect(&srv.sock("framed", "tcp://"));
    s.write_all(&echo(1, 10)).unwrap();
    assert_eq!(read_frame(&mut s).unwrap().kind(), Some("echo"));
    // The second frame stops one byte short, then the peer keeps the
    // connection busy with nothing (the idle timeout is 300 s).
    let frame = echo(2, 4000);
    let started = Instant::now();
    s.write_all(&frame[..frame.len() - 1]).unwrap();
    let f = read_frame(&mut s).unwrap();
    assert_eq!(code(&f), Some("frame_timeout"), "{f:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "cut early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "cut late: {waited:?}");
    assert!(read_frame(&mut s).is_none(), "then closed");
}

#[test]
fn large_bodies_share_a_memory_budget_per_address_and_in_total() {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--max-body-guest",
        "4194304",
        "--mem-budget",
        "1048576",
        "--mem-per-ip",
        "1048576",
    ]);
    let addr = srv.sock("framed", "tcp://");
    let frame = echo(1, 600 * 1024);
    // A announces 600 KiB and sends part of it: charged from the header on.
    let mut a = connect(&addr);
    a.write_all(&frame[..1000]).unwrap();
    // Same for B: the pair would hold 1.2 MiB of a 1 MiB budget.
    let mut b = connect(&addr);
    // Ordered after A's charge: A's ping round trip proves A is read.
    let mut c = connect(&addr);
    c.write_all(&encode_to_vec(&Frame::new("ping").with_id(9)).unwrap())
        .unwrap();
    assert_eq!(read_frame(&mut c).unwrap().kind(), Some("pong"));
    let deadline = Instant::now() + IO_LIMIT;
    b.write_all(&frame).unwrap_or(());
    let f = read_frame(&mut b).unwrap();
    assert_eq!(code(&f), Some("server_busy"), "{f:?}");
    assert!(Instant::now() < deadline);
    // A finishes and gets its echo; the budget is free again for C.
    a.write_all(&frame[1000..]).unwrap();
    let f = read_frame(&mut a).unwrap();
    assert_eq!(f.body.len(), 600 * 1024, "{:?}", f.header);
    c.write_all(&frame).unwrap();
    let f = read_frame(&mut c).unwrap();
    assert_eq!(f.body.len(), 600 * 1024, "{:?}", f.header);
}

#[test]
fn a_peer_that_does_not_read_its_replies_is_cut_and_its_memory_freed() {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--max-body-guest",
        "8388608",
        "--mem-budget",
        "12582912",
        "--mem-per-ip",
        "12582912",
        "--write-timeout",
        "0.5",
    ]);
    let addr = srv.sock("framed", "tcp://");
    // A sends 8 MiB echoes and never reads: its replies fill the socket
    // buffers, and the last one (charged) waits to be written.
    let mut a = connect(&addr);
    a.set_write_timeout(Some(IO_LIMIT)).unwrap();
    let frame = echo(1, 8 << 20);
    let started = Instant::now();
    let mut sent = 0;
    while a.write_all(&frame).is_ok() && started.elapsed() < IO_LIMIT {
        sent += 1;
    }
    assert!(sent >= 1, "A could send a frame");
    // The server cut A once it stopped reading; the budget is whole again.
    let mut b = connect(&addr);
    b.write_all(&frame).unwrap();
    let f = read_frame(&mut b).unwrap();
    assert_eq!(f.body.len(), 8 << 20, "{:?}", f.header);
    assert!(started.elapsed() < IO_LIMIT, "took {:?}", started.elapsed());
}

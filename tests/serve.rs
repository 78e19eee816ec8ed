//! `sockit serve` over real sockets: every service on every transport, IPv6,
//! many clients, hostile peers, restarts, taken ports and Unix socket files.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use common::{Server, bin};

/// Upper bound on any single read in these tests: a hang fails, never a sleep.
const IO_LIMIT: Duration = Duration::from_secs(10);

fn tcp(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s
}

fn udp_roundtrip(addr: &str, bind: &str, payload: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s.send_to(payload, addr).unwrap();
    let mut buf = [0u8; 70_000];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// A port number free for both TCP and UDP right now (the OS picks it).
fn free_port_for_tcp_and_udp() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn read_to_end<R: Read>(mut r: R) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn echo_and_upper_on_every_transport() {
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--echo",
        "udp://127.0.0.1:0",
        "--echo",
        "unix://echo.sock",
        "--upper",
        "tcp://127.0.0.1:0",
        "--upper",
        "udp://127.0.0.1:0",
        "--upper",
        "unix://upper.sock",
    ]);
    assert_eq!(srv.listeners.len(), 6, "{:?}", srv.banner);

    // TCP echo: byte for byte, then EOF answers our half-close.
    let mut s = tcp(&srv.sock("echo", "tcp://"));
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let writer = {
        let mut w = s.try_clone().unwrap();
        let p = payload.clone();
        std::thread::spawn(move || {
            w.write_all(&p).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        })
    };
    assert_eq!(read_to_end(&mut s), payload);
    writer.join().unwrap();

    // UDP echo: one datagram per datagram, the empty one and a maximal one included.
    let u = srv.sock("echo", "udp://");
    assert_eq!(udp_roundtrip(&u, "127.0.0.1:0", b"ping"), b"ping");
    assert_eq!(udp_roundtrip(&u, "127.0.0.1:0", b""), b"");
    let big = vec![b'x'; 65_507];
    assert_eq!(udp_roundtrip(&u, "127.0.0.1:0", &big), big);

    // Unix echo.
    let mut us = UnixStream::connect(srv.unix_path("echo")).unwrap();
    us.set_read_timeout(Some(IO_LIMIT)).unwrap();
    us.write_all(b"over unix\n").unwrap();
    us.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut us), b"over unix\n");

    // Upper: the socketserver classic, on all three transports.
    let mut s = tcp(&srv.sock("upper", "tcp://"));
    s.write_all(b"hello\n").unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HELLO\n");
    s.write_all(b"two\r\nlines\nand a tail").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), b"TWO\r\nLINES\nAND A TAIL");

    assert_eq!(
        udp_roundtrip(
            &srv.sock("upper", "udp://"),
            "127.0.0.1:0",
            "grüß".as_bytes()
        ),
        "GRÜSS".as_bytes()
    );
    let mut us = UnixStream::connect(srv.unix_path("upper")).unwrap();
    us.write_all(b"unix\n").unwrap();
    us.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut us), b"UNIX\n");
}

#[test]
fn a_full_read_buffer_followed_by_eof_is_echoed_once() {
    // Regression: a read that filled the 64 KiB buffer, then EOF, sent the
    // last chunk twice.
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--upper",
        "tcp://127.0.0.1:0",
    ]);
    for service in ["echo", "upper"] {
        for _ in 0..20 {
            let mut s = tcp(&srv.sock(service, "tcp://"));
            s.write_all(&[b'A'; 65_536]).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            assert_eq!(read_to_end(&mut s).len(), 65_536, "{service}");
        }
    }
}

#[test]
fn tcp_and_udp_share_a_port_number() {
    // The classic ping/pong exercise: both transports on one port in one process.
    let port = free_port_for_tcp_and_udp();
    let tcp_addr = format!("tcp://127.0.0.1:{port}");
    let udp_addr = format!("udp://127.0.0.1:{port}");
    let srv = Server::start(&["--echo", &tcp_addr, "--echo", &udp_addr]);
    assert_eq!(srv.port("echo", "udp://"), port);
    let mut s = tcp(&format!("127.0.0.1:{port}"));
    s.write_all(b"t").unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    assert_eq!(
        udp_roundtrip(&format!("127.0.0.1:{port}"), "127.0.0.1:0", b"u"),
        b"u"
    );
}

#[test]
fn ipv6_loopback_and_dual_stack() {
    let srv = Server::start(&[
        "--echo",
        "tcp://[::1]:0",
        "--echo",
        "udp://[::1]:0",
        "--upper",
        "tcp://[::]:0",
    ]);
    assert!(srv.addr("echo", "tcp://").starts_with("tcp://[::1]:"));
    let mut s = tcp(&srv.sock("echo", "tcp://"));
    s.write_all(b"v6").unwrap();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"v6");
    assert_eq!(
        udp_roundtrip(&srv.sock("echo", "udp://"), "[::1]:0", b"v6"),
        b"v6"
    );
    // [::] is dual stack: IPv4 clients reach it too.
    let port = srv.port("upper", "tcp://");
    let mut s = tcp(&format!("127.0.0.1:{port}"));
    s.write_all(b"v4\n").unwrap();
    let mut b = [0u8; 3];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"V4\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_clients() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let addr = srv.sock("echo", "tcp://");
    // Connect all first so the 500 are open at the same time.
    let mut conns = Vec::new();
    for _ in 0..500 {
        conns.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut c) in conns.into_iter().enumerate() {
        tasks.spawn(async move {
            let msg = format!("client {i} says hello");
            for _ in 0..5 {
                c.write_all(msg.as_bytes()).await.unwrap();
                let mut buf = vec![0u8; msg.len()];
                c.read_exact(&mut buf).await.unwrap();
                assert_eq!(buf, msg.as_bytes());
            }
        });
    }
    let mut done = 0;
    while let Some(r) = tokio::time::timeout(IO_LIMIT, tasks.join_next())
        .await
        .unwrap()
    {
        r.unwrap();
        done += 1;
    }
    assert_eq!(done, 500);
}

#[test]
fn reset_and_garbage_do_not_affect_other_clients() {
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--upper",
        "tcp://127.0.0.1:0",
    ]);
    let mut bystander = tcp(&srv.sock("echo", "tcp://"));
    for service in ["echo", "upper"] {
        // A peer that floods, then resets (SO_LINGER 0) with data unread.
        let s = tcp(&srv.sock(service, "tcp://"));
        let junk: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let _ = (&s).write_all(&junk);
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    }
    bystander.write_all(b"still here").unwrap();
    let mut b = [0u8; 10];
    bystander.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"still here");
}

#[test]
fn a_peer_that_never_reads_is_dropped_and_others_are_served() {
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--idle-timeout",
        "0.5",
        "--write-timeout",
        "0.5",
    ]);
    let hog = tcp(&srv.sock("echo", "tcp://"));
    hog.set_write_timeout(Some(IO_LIMIT)).unwrap();
    // Write without ever reading: the echo backs up until the server's
    // write stalls, gives up and closes. Our writes then fail (reset or
    // broken pipe) instead of blocking forever.
    let chunk = [b'h'; 65_536];
    let mut closed = None;
    for _ in 0..4096 {
        if let Err(e) = (&hog).write_all(&chunk) {
            closed = Some(e.kind());
            break;
        }
    }
    // A write timeout (WouldBlock) would mean the server still holds us.
    assert!(
        matches!(
            closed,
            Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
        ),
        "the server kept a peer that never reads: {closed:?}"
    );
    let mut other = tcp(&srv.sock("echo", "tcp://"));
    other.write_all(b"fine").unwrap();
    let mut b = [0u8; 4];
    other.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"fine");
}

#[test]
fn over_long_line_is_refused_with_a_clear_error() {
    let srv = Server::start(&["--upper", "tcp://127.0.0.1:0", "--max-line", "16"]);
    let mut s = tcp(&srv.sock("upper", "tcp://"));
    s.write_all(b"short\n").unwrap();
    s.write_all(&[b'a'; 100]).unwrap();
    let reply = String::from_utf8(read_to_end(&mut s)).unwrap();
    assert!(
        reply.starts_with("SHORT\nERROR: line longer than 16 bytes"),
        "{reply}"
    );
    // The server keeps serving everyone else.
    let mut s = tcp(&srv.sock("upper", "tcp://"));
    s.write_all(b"ok\n").unwrap();
    let mut b = [0u8; 3];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"OK\n");
}

#[test]
fn idle_connections_are_closed() {
    let srv = Server::start(&["--echo", "tcp://127.0.0.1:0", "--idle-timeout", "0.3"]);
    let mut s = tcp(&srv.sock("echo", "tcp://"));
    // The read returns EOF once the server gives up on us (IO_LIMIT bounds it).
    assert_eq!(read_to_end(&mut s), b"");
}

#[test]
fn restart_binds_the_same_port_at_once() {
    let mut srv = Server::start(&["--echo", "tcp://127.0.0.1:0"]);
    let addr = srv.addr("echo", "tcp://");
    // A live client when the server stops: the server closes first, so its
    // side of the connection sits in TIME_WAIT, which SO_REUSEADDR must allow.
    let mut c = tcp(&srv.sock("echo", "tcp://"));
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    assert!(srv.stop().success());
    assert_eq!(read_to_end(&mut c), b"");
    let again = Server::start(&["--echo", &addr]);
    assert_eq!(again.addr("echo", "tcp://"), addr);
}

#[test]
fn port_in_use_fails_with_one_clear_line() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    // A data directory sockit creates itself (private, so no warning line).
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args([
            "serve",
            "--echo",
            &format!("tcp://127.0.0.1:{port}"),
            "--data",
        ])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn stale_unix_socket_is_replaced_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    // Stale: a socket file whose listener is gone (a crashed run).
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let spec = format!("unix://{}", path.display());
    let srv = Server::start(&["--echo", &spec]);
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(b"fresh").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), b"fresh");

    // Live: a second server must refuse and leave the first one working.
    let out = std::process::Command::new(bin())
        .args(["serve", "--echo", &spec, "--data"])
        .arg(dir.path().join("d2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("already answers"), "{err}");
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(b"alive").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), b"alive");
    drop(srv);
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let mut srv = Server::start(&["--echo", "tcp://127.0.0.1:0", "--grace", "5"]);
    let mut idle = tcp(&srv.sock("echo", "tcp://"));
    idle.write_all(b"a").unwrap();
    let mut b = [0u8; 1];
    idle.read_exact(&mut b).unwrap();
    let status = srv.stop();
    assert!(status.success(), "{status}");
    // Idle connections are closed, not left hanging.
    assert_eq!(read_to_end(&mut idle), b"");
}

#[test]
fn sigterm_lets_a_busy_connection_finish() {
    let mut srv = Server::start(&["--echo", "tcp://127.0.0.1:0", "--grace", "20"]);
    let mut c = tcp(&srv.sock("echo", "tcp://"));
    let total = 8 << 20;
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..total / 16_384 {
            w.write_all(&[b'z'; 16_384]).unwrap();
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    // Once data flows, ask the server to stop.
    let mut got = vec![0u8; 65_536];
    c.read_exact(&mut got).unwrap();
    let pid = srv.pid();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let rest = read_to_end(&mut c);
    writer.join().unwrap();
    // Every byte came back before the server let go of us.
    assert_eq!(got.len() + rest.len(), total);
    assert!(srv.stop_after_signal().success());
}

#[test]
fn bad_address_shows_the_accepted_forms() {
    let out = std::process::Command::new(bin())
        .args(["serve", "--echo", "tcp://nohost"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("accepted forms"), "{err}");
    assert!(err.contains("udp://HOST:PORT"), "{err}");
}

#[test]
fn data_directory_is_created_and_defaults_are_printed() {
    // Only servers with state (here the framed protocol) make one.
    let srv = Server::start(&[
        "--echo",
        "tcp://localhost:0",
        "--listen",
        "tcp://127.0.0.1:0",
    ]);
    assert!(srv.dir.path().join("data").is_dir());
    assert!(srv.banner.iter().any(|l| l.starts_with("data directory ")));
    // `localhost` resolves.
    let mut s = tcp(&srv.sock("echo", "tcp://"));
    s.write_all(b"!").unwrap();
}

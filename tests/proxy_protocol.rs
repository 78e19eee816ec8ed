//! The PROXY protocol (HAProxy `send-proxy` v1 and `send-proxy-v2`) on the
//! stream doors: a fake proxy on 127.0.0.1, trusted with `--trusted-proxy`,
//! names different clients in its headers, and the server caps, denies and
//! throttles each client by its own address; an untrusted peer's header is
//! plain data; a trusted peer without a valid header is closed.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{CHEAP_ARGON2, Server, add_user};
use sockit::wire::{Frame, Limits, decode_from_slice, encode_to_vec};

/// Upper bound on any read here: a hang fails, never a sleep.
const IO_LIMIT: Duration = Duration::from_secs(10);

/// A v1 header naming `client`.
fn v1(client: &str) -> Vec<u8> {
    let c: SocketAddr = client.parse().unwrap();
    let (fam, dst) = match c {
        SocketAddr::V4(_) => ("TCP4", "192.0.2.1"),
        SocketAddr::V6(_) => ("TCP6", "2001:db8::1"),
    };
    format!("PROXY {fam} {} {dst} {} 7000\r\n", c.ip(), c.port()).into_bytes()
}

/// A v2 PROXY header naming `client`, with one TLV the server must skip.
fn v2(client: &str) -> Vec<u8> {
    let c: SocketAddr = client.parse().unwrap();
    let mut body = Vec::new();
    let fam = match c {
        SocketAddr::V4(a) => {
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(&[192, 0, 2, 1]);
            0x11
        }
        SocketAddr::V6(a) => {
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(
                &"2001:db8::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
            );
            0x21
        }
    };
    body.extend_from_slice(&c.port().to_be_bytes());
    body.extend_from_slice(&7000u16.to_be_bytes());
    body.extend_from_slice(&[0x01, 0x00, 0x08]); // PP2_TYPE_ALPN
    body.extend_from_slice(b"sockit/1");
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, fam]);
    h.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    h.extend_from_slice(&body);
    h
}

/// Connects from 127.0.0.1 and sends `header` first, as a proxy does.
fn via(addr: &str, header: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s.write_all(header).unwrap();
    s
}

/// Reads one frame (None at EOF or reset).
fn read_frame(s: &mut TcpStream) -> Option<Frame> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((f, _)) = decode_from_slice(&buf, &Limits::default()).unwrap() {
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

/// One request, its reply (None if the server closed instead).
fn ask(s: &mut TcpStream, f: Frame) -> Option<Frame> {
    if s.write_all(&encode_to_vec(&f.with_id(1)).unwrap()).is_err() {
        return None;
    }
    read_frame(s)
}

fn pings(s: &mut TcpStream) -> bool {
    match ask(s, Frame::new("ping")) {
        Some(f) => f.kind() == Some("pong"),
        None => false,
    }
}

/// Whether the server closed `s` without sending a byte.
fn closed_silently(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 256];
    match s.read(&mut b) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Ok(n) => panic!("sent {:?}", String::from_utf8_lossy(&b[..n])),
        Err(e) => panic!("read: {e}"),
    }
}

fn framed(extra: &[&str]) -> Server {
    let mut args = vec![
        "--listen",
        "tcp://127.0.0.1:0",
        "--echo",
        "tcp://127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn the_per_ip_cap_counts_the_clients_not_the_proxy() {
    let srv = framed(&["--trusted-proxy", "127.0.0.1", "--max-conns-per-ip", "2"]);
    let addr = srv.sock("framed", "tcp://");
    let mut held = vec![
        via(&addr, &v1("198.51.100.1:40000")),
        via(&addr, &v2("198.51.100.1:40001")),
    ];
    for s in &mut held {
        assert!(pings(s));
    }
    // A third from the same client, whichever version: over its cap.
    for header in [v1("198.51.100.1:40002"), v2("198.51.100.1:40003")] {
        let mut third = via(&addr, &header);
        let refusal = ask(&mut third, Frame::new("ping")).expect("an error frame");
        assert_eq!(refusal.get("code").unwrap(), "too_many_connections");
    }
    // Other clients behind the same proxy (so more than 2 connections
    // from 127.0.0.1) are served: v4 and v6, v1 and v2.
    for header in [
        v2("203.0.113.5:1"),
        v1("203.0.113.6:2"),
        v2("[2001:db8:7::1]:3"),
        v1("[2001:db8:8::1]:4"),
    ] {
        let mut s = via(&addr, &header);
        assert!(pings(&mut s), "{header:?}");
        held.push(s);
    }
    for s in &mut held {
        assert!(pings(s), "the first ones were never disturbed");
    }
}

#[test]
fn deny_refuses_a_client_behind_the_proxy() {
    let srv = framed(&["--trusted-proxy", "127.0.0.1", "--deny", "198.51.100.66"]);
    let addr = srv.sock("framed", "tcp://");
    for header in [v1("198.51.100.66:5"), v2("198.51.100.66:6")] {
        let mut s = via(&addr, &header);
        let _ = s.write_all(&encode_to_vec(&Frame::new("ping")).unwrap());
        assert!(closed_silently(&mut s));
    }
    let mut other = via(&addr, &v2("198.51.100.7:7"));
    assert!(pings(&mut other));
}

fn login(s: &mut TcpStream, name: &str, password: &str) -> Frame {
    let f = Frame::new("login")
        .set("name", name)
        .set("password", password);
    ask(s, f).expect("a reply")
}

#[test]
fn login_lockout_is_per_client() {
    let srv = framed(&["--trusted-proxy", "127.0.0.1", "--argon2", CHEAP_ARGON2]);
    add_user(&srv.data(), "alice", "correct horse battery");
    let addr = srv.sock("framed", "tcp://");
    // 20 failures (the per-address limit) under 20 names from one client.
    let mut abuser = via(&addr, &v1("198.51.100.66:9"));
    for i in 0..20 {
        let r = login(&mut abuser, &format!("ghost{i}"), "wrong guess");
        assert_eq!(r.get("code").unwrap(), "invalid_credentials", "failure {i}");
    }
    let r = login(&mut abuser, "alice", "correct horse battery");
    assert_eq!(r.get("code").unwrap(), "too_many_attempts");
    // Another client behind the same proxy is not locked out.
    let mut owner = via(&addr, &v2("198.51.100.7:9"));
    let r = login(&mut owner, "alice", "correct horse battery");
    assert_eq!(r.get("code"), None, "{r:?}");
    assert_eq!(r.get("user").unwrap(), "alice", "{r:?}");
}

#[test]
fn an_untrusted_peer_sending_a_header_has_it_echoed_as_data() {
    let srv = framed(&["--trusted-proxy", "10.0.0.0/8"]);
    let line = v1("198.51.100.1:1");
    let mut s = via(&srv.sock("echo", "tcp://"), &line);
    let mut back = vec![0u8; line.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, line);
    // Not even the v2 signature is looked at.
    let header = v2("198.51.100.1:1");
    s.write_all(&header).unwrap();
    let mut back = vec![0u8; header.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, header);
}

#[test]
fn a_trusted_peer_is_closed_for_a_bad_header_and_served_after_a_good_one() {
    let srv = framed(&["--trusted-proxy", "127.0.0.1"]);
    let echo = srv.sock("echo", "tcp://");
    let mut too_long = b"PROXY TCP4 ".to_vec();
    too_long.extend_from_slice(&[b'1'; 200]);
    let mut v2_too_long = v2("198.51.100.1:1");
    v2_too_long[14..16].copy_from_slice(&5000u16.to_be_bytes());
    for bad in [
        b"hello\r\n".to_vec(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        b"PROXY TCP4 198.51.100.1 192.0.2.1 1\r\nhello".to_vec(),
        b"PROXY TCP4 999.1.1.1 192.0.2.1 1 2\r\nhello".to_vec(),
        too_long,
        v2_too_long,
    ] {
        let mut s = via(&echo, &bad);
        assert!(closed_silently(&mut s), "{bad:?}");
    }
    // Truncated: half a header, then the proxy closes its side.
    for header in [v1("198.51.100.1:1"), v2("198.51.100.1:1")] {
        let mut s = via(&echo, &header[..header.len() / 2]);
        s.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(closed_silently(&mut s), "{header:?}");
    }
    // A good header: not echoed; only what follows it is (sent in the same
    // segment, so the server must stop reading exactly at the header's end).
    for header in [v1("198.51.100.1:1"), v2("198.51.100.1:1")] {
        let mut s = via(&echo, &[&header[..], b"after"].concat());
        let mut back = [0u8; 5];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"after");
    }
}

#[test]
fn a_silent_trusted_peer_times_out() {
    let srv = framed(&[
        "--trusted-proxy",
        "127.0.0.1",
        "--first-frame-timeout",
        "0.3",
    ]);
    let started = Instant::now();
    let mut s = via(&srv.sock("echo", "tcp://"), b"");
    assert!(closed_silently(&mut s));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed late: {waited:?}");
}

/// Connects to `addr` from the loopback address `from` (any 127.0.0.0/8
/// address is this machine), so each "client" has its own address.
fn connect_from(from: &str, addr: &str) -> TcpStream {
    let from: SocketAddr = format!("{from}:0").parse().unwrap();
    let to: SocketAddr = addr.parse().unwrap();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&from.into()).unwrap();
    s.connect(&to.into()).unwrap();
    let s = TcpStream::from(s);
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s
}

/// Real HAProxy, in TCP mode with `send-proxy-v2`, in front of the framed
/// door; skipped (with the reason printed) where `haproxy` is not installed.
/// It listens on a socket this test bound on port 0 and hands it over as
/// fd 3 (`bind fd@3`), so no port is fixed and no readiness wait is needed.
#[test]
fn real_haproxy_with_send_proxy_v2() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    if Command::new("haproxy").arg("-v").output().is_err() {
        eprintln!("skipped: haproxy is not installed (apt-get install haproxy)");
        return;
    }
    let srv = framed(&[
        "--trusted-proxy",
        "127.0.0.1",
        "--max-conns-per-ip",
        "1",
        "--deny",
        "127.0.0.66",
    ]);
    let front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             listen sockit\n  bind fd@3\n  server s1 {} send-proxy-v2\n",
            srv.sock("framed", "tcp://")
        ),
    )
    .unwrap();
    let fd = front.as_raw_fd();
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&cfg).stdout(Stdio::null());
    // SAFETY: dup2 is async-signal-safe; it gives the child the listening
    // socket as fd 3 (dup2 clears close-on-exec on the copy).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    /// Kills and reaps HAProxy when the test ends, passed or not.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _haproxy = Kill(cmd.spawn().unwrap());
    // HAProxy holds its own copy; connections queue in the backlog until
    // it accepts them.
    drop(front);
    // Two clients with their own addresses, both through the proxy: with a
    // cap of one per address both are served (the proxy is not capped).
    let mut a = connect_from("127.0.0.2", &front_addr);
    let mut b = connect_from("127.0.0.3", &front_addr);
    assert!(pings(&mut a));
    assert!(pings(&mut b));
    // A second from 127.0.0.2 is over its own cap.
    let mut a2 = connect_from("127.0.0.2", &front_addr);
    let refusal = ask(&mut a2, Frame::new("ping")).expect("an error frame");
    assert_eq!(refusal.get("code").unwrap(), "too_many_connections");
    // The denied client is refused by its own address.
    let mut denied = connect_from("127.0.0.66", &front_addr);
    assert!(ask(&mut denied, Frame::new("ping")).is_none());
    assert!(pings(&mut a) && pings(&mut b));
}

/// Over `tls://` the header comes before the TLS handshake, as HAProxy
/// sends it; the per-client cap then refuses inside TLS.
#[tokio::test]
async fn on_tls_the_header_comes_before_the_handshake() {
    use sockit::net::tls::{Fingerprint, Trust, handshake};
    use sockit::net::{Endpoint, HostPort};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let srv = Server::start(&[
        "--listen",
        "tls://127.0.0.1:0",
        "--trusted-proxy",
        "127.0.0.1",
        "--max-conns-per-ip",
        "1",
    ]);
    let hp: HostPort = match srv.addr("framed", "tls://").parse().unwrap() {
        Endpoint::Tls(hp) => hp,
        other => panic!("{other}"),
    };
    let line = srv
        .banner
        .iter()
        .find(|l| l.starts_with("tls certificate "))
        .unwrap();
    let fp: Fingerprint = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    let open = |header: Vec<u8>| {
        let hp = hp.clone();
        async move {
            let mut tcp = tokio::net::TcpStream::connect((hp.host.as_str(), hp.port))
                .await
                .unwrap();
            tcp.write_all(&header).await.unwrap();
            let (tls, _) = tokio::time::timeout(IO_LIMIT, handshake(tcp, &hp, &Trust::Pin(fp)))
                .await
                .unwrap()
                .unwrap();
            tls
        }
    };
    let ping = encode_to_vec(&Frame::new("ping").with_id(1)).unwrap();
    let mut held = Vec::new();
    for header in [v2("198.51.100.1:1"), v1("198.51.100.2:2")] {
        let mut tls = open(header).await;
        tls.write_all(&ping).await.unwrap();
        let mut buf = vec![0u8; 256];
        let n = tokio::time::timeout(IO_LIMIT, tls.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let (f, _) = decode_from_slice(&buf[..n], &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(f.kind(), Some("pong"));
        held.push(tls);
    }
    let mut third = open(v1("198.51.100.1:3")).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(IO_LIMIT, third.read_to_end(&mut out))
        .await
        .unwrap();
    let (f, _) = decode_from_slice(&out, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(f.get("code").unwrap(), "too_many_connections");
}

/// One login on the web door through the fake proxy, naming `client` in a
/// PROXY header (`v1` or `v2`); returns the HTTP status.
fn web_login(addr: &str, header: &[u8], name: &str, password: &str) -> u16 {
    let body = format!(r#"{{"name":"{name}","password":"{password}"}}"#);
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = via(addr, &[header, req.as_bytes()].concat());
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_web_door_takes_a_proxy_header_and_throttles_per_client() {
    let srv = Server::start(&[
        "--web",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP_ARGON2,
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    add_user(&srv.data(), "alice", "correct horse battery");
    let addr = srv.sock("web", "tcp://");
    let abuser = v1("198.51.100.66:1");
    for i in 0..20 {
        let s = web_login(&addr, &abuser, &format!("ghost{i}"), "wrong guess");
        assert_eq!(s, 401, "failure {i}");
    }
    assert_eq!(
        web_login(&addr, &abuser, "alice", "correct horse battery"),
        429
    );
    let owner = v2("198.51.100.7:2");
    assert_eq!(
        web_login(&addr, &owner, "alice", "correct horse battery"),
        200
    );
    // Without a header, the same trusted peer is still an HTTP proxy.
    assert_eq!(web_login(&addr, b"", "alice", "correct horse battery"), 200);
}

#[test]
fn the_line_door_counts_clients_behind_the_proxy() {
    let srv = Server::start(&[
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--trusted-proxy",
        "127.0.0.1",
        "--max-conns-per-ip",
        "1",
    ]);
    let addr = srv.sock("chat-lines", "tcp://");
    let mut a = via(&addr, &v1("198.51.100.1:1"));
    let mut b = via(&addr, &v2("198.51.100.2:2"));
    for s in [&mut a, &mut b] {
        let mut first = [0u8; 1];
        s.read_exact(&mut first).unwrap();
    }
    let mut again = via(&addr, &v2("198.51.100.1:3"));
    let mut text = String::new();
    again.read_to_string(&mut text).unwrap();
    assert_eq!(
        text,
        "* too many connections from your address; close some and try again\r\n"
    );
}

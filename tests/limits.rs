//! Limits and access over real sockets: the per-IP cap, the first-frame
//! timeout, allow/deny lists, SIGHUP reload, header and datagram sizes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use sockit::wire::{Frame, Limits, decode_from_slice, encode_to_vec};

/// Upper bound on any read or wait here: a hang fails, never a sleep.
const IO_LIMIT: Duration = Duration::from_secs(10);

/// How long a test waits to be sure an answer is *not* coming (a dropped
/// datagram): long on loopback, where a reply takes microseconds.
const SILENCE: Duration = Duration::from_millis(700);

/// A `sockit serve` whose log (stderr) the test reads line by line.
struct Logged {
    child: Child,
    listeners: Vec<(String, String)>,
    log: Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Logged {
    fn start(args: &[&str]) -> Logged {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, args)
    }

    fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Logged {
        let mut child = Command::new(common::bin())
            .arg("serve")
            .args(args)
            .arg("--data")
            .arg(dir.path().join("data"))
            .current_dir(dir.path())
            .env("RUST_LOG", "sockit=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("server: {line}");
                let _ = tx.send(line);
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut listeners = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "server exited before ready"
            );
            if line.starts_with("ready") {
                break;
            }
            if let Some((s, a)) = line.trim_end().split_once(" listening on ") {
                listeners.push((s.to_owned(), a.to_owned()));
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Logged {
            child,
            listeners,
            log,
            _dir: dir,
        }
    }

    /// `HOST:PORT` of the first listener of `service` on `scheme`.
    fn sock(&self, service: &str, scheme: &str) -> String {
        let (_, a) = self
            .listeners
            .iter()
            .find(|(s, a)| s == service && a.starts_with(scheme))
            .unwrap_or_else(|| panic!("no {service} {scheme} in {:?}", self.listeners));
        common::strip_scheme(a).to_owned()
    }

    /// Waits for a log line containing `text`; returns it.
    fn wait_log(&self, text: &str) -> String {
        let deadline = Instant::now() + IO_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {text:?} within {IO_LIMIT:?}"),
            }
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child, which has not been reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
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

/// A ping round trip; `false` if the server closed instead.
fn pings(s: &mut TcpStream) -> bool {
    let ping = encode_to_vec(&Frame::new("ping").with_id(1)).unwrap();
    if s.write_all(&ping).is_err() {
        return false;
    }
    match read_frame(s) {
        Some(f) => {
            assert_eq!(f.kind(), Some("pong"), "{f:?}");
            true
        }
        None => false,
    }
}

/// Whether the server closed `s` without sending a byte.
fn closed_silently(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Ok(n) => panic!("refused peer was sent {:?}", &b[..n]),
        Err(e) => panic!("read: {e}"),
    }
}

#[test]
fn per_ip_cap_refuses_with_an_error_frame_and_frees_on_close() {
    let srv = Logged::start(&["--listen", "tcp://127.0.0.1:0", "--max-conns-per-ip", "3"]);
    let addr = srv.sock("framed", "tcp://");
    // A round trip each proves the server took all three.
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect(&addr)).collect();
    for s in &mut held {
        assert!(pings(s));
    }
    let mut fourth = connect(&addr);
    let refusal = read_frame(&mut fourth).expect("an error frame before the close");
    assert_eq!(refusal.kind(), Some("error"));
    assert_eq!(refusal.get("code").unwrap(), "too_many_connections");
    assert!(read_frame(&mut fourth).is_none(), "then the close");
    srv.wait_log("refused: too many connections from this address");

    // Close one; once the server has seen the close, a newcomer is let in.
    let mut gone = held.pop().unwrap();
    gone.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(read_frame(&mut gone).is_none());
    drop(gone);
    // The server frees the place just after its side closes: a newcomer
    // may race that by microseconds, so a refused one tries again.
    let deadline = Instant::now() + IO_LIMIT;
    loop {
        let mut s = connect(&addr);
        let ping = encode_to_vec(&Frame::new("ping").with_id(1)).unwrap();
        s.write_all(&ping).unwrap();
        match read_frame(&mut s) {
            Some(f) if f.kind() == Some("pong") => break,
            // Refused: the race above; anything else is a failure.
            Some(f) => assert_eq!(f.get("code").unwrap(), "too_many_connections"),
            None => {}
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never given out"
        );
        std::thread::yield_now();
    }
    for s in &mut held {
        assert!(pings(s), "the others were never disturbed");
    }
}

#[test]
fn per_ip_cap_counts_across_doors_and_lines_get_one_line() {
    let srv = Logged::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--max-conns-per-ip",
        "1",
    ]);
    let mut framed = connect(&srv.sock("framed", "tcp://"));
    assert!(pings(&mut framed));
    let mut chat = connect(&srv.sock("chat-lines", "tcp://"));
    let mut text = String::new();
    chat.read_to_string(&mut text).unwrap();
    assert_eq!(
        text,
        "* too many connections from your address; close some and try again\r\n"
    );
}

#[test]
fn first_frame_timeout_closes_half_frames_not_talkers() {
    let srv = Logged::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--first-frame-timeout",
        "0.3",
    ]);
    let addr = srv.sock("framed", "tcp://");
    let mut talker = connect(&addr);
    assert!(pings(&mut talker));
    let started = Instant::now();
    let mut loris = connect(&addr);
    let ping = encode_to_vec(&Frame::new("ping")).unwrap();
    loris.write_all(&ping[..ping.len() / 2]).unwrap();
    let mut b = [0u8; 16];
    let n = match loris.read(&mut b) {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => 0,
        Err(e) => panic!("read: {e}"),
    };
    assert_eq!(n, 0, "closed without a reply");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed late: {waited:?}");
    // The talker connected before the loris, so its first-frame deadline
    // has passed too: it is served on.
    assert!(pings(&mut talker));
}

#[test]
fn deny_refuses_tcp_and_udp_and_allow_lists_exclude_the_rest() {
    let args = |acl: &[&'static str]| {
        let mut v = vec![
            "--listen",
            "tcp://127.0.0.1:0",
            "--echo",
            "udp://127.0.0.1:0",
            "--web",
            "tcp://127.0.0.1:0",
        ];
        v.extend_from_slice(acl);
        v
    };
    for acl in [&["--deny", "127.0.0.1"][..], &["--allow", "10.0.0.0/8"][..]] {
        let srv = Logged::start(&args(acl));
        let mut s = connect(&srv.sock("framed", "tcp://"));
        assert!(closed_silently(&mut s), "{acl:?}");
        srv.wait_log("refused: denied by the access list");
        // The web page is behind the same lists: no HTTP answer at all.
        let mut w = connect(&srv.sock("web", "tcp://"));
        let _ = w.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(closed_silently(&mut w), "{acl:?}: web");
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(SILENCE)).unwrap();
        u.send_to(b"hello?", srv.sock("echo", "udp://")).unwrap();
        let mut b = [0u8; 16];
        assert!(
            u.recv_from(&mut b).is_err(),
            "{acl:?}: a denied datagram is not answered"
        );
    }
    let srv = Logged::start(&args(&["--allow", "127.0.0.0/8", "--deny", "10.0.0.1"]));
    let mut s = connect(&srv.sock("framed", "tcp://"));
    assert!(pings(&mut s));
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(IO_LIMIT)).unwrap();
    u.send_to(b"hello", srv.sock("echo", "udp://")).unwrap();
    let mut b = [0u8; 16];
    let (n, _) = u.recv_from(&mut b).unwrap();
    assert_eq!(&b[..n], b"hello");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn sighup_reloads_access_lists_without_dropping_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sockit.toml");
    let denyfile = dir.path().join("deny.txt");
    write(&conf, "listen = [\"tcp://127.0.0.1:0\"]\nmax-conns = 100\n");
    write(&denyfile, "# nobody yet\n");
    let conf_s = conf.to_str().unwrap().to_owned();
    let deny_s = denyfile.to_str().unwrap().to_owned();
    let srv = Logged::start_in(dir, &["--config", &conf_s, "--denyfile", &deny_s]);
    let addr = srv.sock("framed", "tcp://");
    let mut open = connect(&addr);
    assert!(pings(&mut open));

    // The config file denies loopback now (and changes a restart-only key).
    write(
        &conf,
        "listen = [\"tcp://127.0.0.1:0\"]\nmax-conns = 5\ndeny = [\"127.0.0.0/8\"]\n",
    );
    srv.signal(libc::SIGHUP);
    srv.wait_log("max-conns changed but need a restart");
    srv.wait_log("reloaded: 0 allow, 1 deny rules");
    assert!(
        closed_silently(&mut connect(&addr)),
        "new peers are refused"
    );
    assert!(pings(&mut open), "the open session stays");

    // A broken file is reported and the rules in force stay.
    write(&conf, "deny = [\"not-a-network\"]\n");
    srv.signal(libc::SIGHUP);
    let line = srv.wait_log("reload failed, keeping the old rules");
    assert!(line.contains("not-a-network"), "{line}");
    assert!(line.contains(":1:"), "names the line: {line}");
    assert!(closed_silently(&mut connect(&addr)));

    // Rule files are re-read too: allow again from the config, deny by file.
    write(&conf, "listen = [\"tcp://127.0.0.1:0\"]\nmax-conns = 100\n");
    write(&denyfile, "127.0.0.2\n::1\n");
    srv.signal(libc::SIGHUP);
    srv.wait_log("reloaded: 0 allow, 2 deny rules");
    assert!(pings(&mut connect(&addr)));
    assert!(pings(&mut open));
}

#[test]
fn oversize_datagrams_are_dropped_and_counted() {
    let srv = Logged::start(&["--echo", "udp://127.0.0.1:0", "--max-datagram", "100"]);
    let to = srv.sock("echo", "udp://");
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(IO_LIMIT)).unwrap();
    // Loopback keeps order: the first reply is to the small datagram, so
    // the large one before it got none.
    u.send_to(&[b'x'; 101], &to).unwrap();
    u.send_to(&[b'y'; 100], &to).unwrap();
    let mut b = [0u8; 200];
    let (n, _) = u.recv_from(&mut b).unwrap();
    assert_eq!(&b[..n], &[b'y'; 100][..]);
    let line = srv.wait_log("dropped oversize datagram");
    assert!(line.contains("total=1"), "{line}");
}

#[test]
fn max_header_is_announced_and_enforced() {
    let srv = Logged::start(&["--listen", "tcp://127.0.0.1:0", "--max-header", "2048"]);
    let mut s = connect(&srv.sock("framed", "tcp://"));
    s.write_all(&encode_to_vec(&Frame::new("hello").set("version", 1)).unwrap())
        .unwrap();
    let hello = read_frame(&mut s).unwrap();
    assert_eq!(hello.get("limits").unwrap()["max_header"], 2048);
    let big = Frame::new("echo").set("pad", "p".repeat(3000));
    s.write_all(&encode_to_vec(&big).unwrap()).unwrap();
    let err = read_frame(&mut s).unwrap();
    assert_eq!(err.get("code").unwrap(), "header_too_large");
}

//! `sockit connect` and `sockit listen` end to end: the real binary against
//! a real `sockit serve`, on port 0, with readiness read from printed
//! addresses.
// Helpers outside #[test] fns unwrap too: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{Server, bin, run, strip_scheme};

/// Bounds a read that should succeed at once; a hang becomes a failure.
const LIMIT: Duration = Duration::from_secs(20);

fn echo_server() -> Server {
    Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--echo",
        "udp://127.0.0.1:0",
        "--echo",
        "unix://echo.sock",
        "--upper",
        "tcp://127.0.0.1:0",
    ])
}

fn ok_stdout(out: &std::process::Output) -> &[u8] {
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    &out.stdout
}

#[test]
fn tcp_echo_line() {
    let s = echo_server();
    let out = run(&["connect", &s.addr("echo", "tcp://")], b"hi\n");
    assert_eq!(ok_stdout(&out), b"hi\n");
}

#[test]
fn tcp_upper_line() {
    let s = echo_server();
    let out = run(&["connect", &s.addr("upper", "tcp://")], b"hi\n");
    assert_eq!(ok_stdout(&out), b"HI\n");
}

#[test]
fn udp_echo_one_datagram_per_line() {
    let s = echo_server();
    let out = run(&["connect", &s.addr("echo", "udp://")], b"hi\nthere\n");
    assert_eq!(ok_stdout(&out), b"hi\nthere\n");
}

#[test]
fn udp_dash_u_with_host_and_port() {
    let s = echo_server();
    let port = s.port("echo", "udp://").to_string();
    let out = run(&["connect", "-u", "-w", "0.5", "127.0.0.1", &port], b"x\n");
    assert_eq!(ok_stdout(&out), b"x\n");
}

#[test]
fn udp_line_over_65507_bytes_is_a_clear_error() {
    let s = echo_server();
    let out = run(&["connect", &s.addr("echo", "udp://")], &vec![b'a'; 70_000]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("65507") && err.contains("datagram"), "{err}");
}

#[test]
fn unix_echo() {
    let s = echo_server();
    let addr = format!("unix://{}", s.unix_path("echo").display());
    let out = run(&["connect", &addr], b"over unix\n");
    assert_eq!(ok_stdout(&out), b"over unix\n");
}

#[test]
fn one_mebibyte_of_binary_round_trips_exactly() {
    let s = echo_server();
    // Every byte value, no line structure, deterministic.
    let mut x: u32 = 0x9e37_79b9;
    let data: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect();
    let out = run(&["connect", &s.addr("echo", "tcp://")], &data);
    let got = ok_stdout(&out);
    assert_eq!(got.len(), data.len());
    assert!(got == data.as_slice(), "bytes differ");
}

#[test]
fn closed_port_is_a_one_line_error() {
    let (held, port) = common::refusing_port();
    let out = run(&["connect", &format!("tcp://127.0.0.1:{port}")], b"");
    drop(held);
    assert_eq!(out.status.code(), Some(7), "network errors exit 7");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("sockit: error: connecting to tcp://127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.contains("connection refused; is a server listening there?"),
        "{err}"
    );
}

#[test]
fn idle_timeout_ends_a_silent_session_with_an_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", l.local_addr().unwrap());
    let child = Command::new(bin())
        .args(["connect", "-i", "0.3", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Accepted and held open, but never a byte back.
    let _silent = l.accept().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("idle timeout"), "{err}");
}

#[test]
fn stdout_closed_early_is_a_clean_exit() {
    let s = echo_server();
    let mut child = Command::new(bin())
        .args(["connect", &s.addr("echo", "tcp://")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything arrives, like `| head -c0`.
    drop(child.stdout.take());
    let mut input = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // Fails with EPIPE once sockit has exited; that is expected.
        let _ = input.write_all(&vec![b'z'; 4 << 20]);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `sockit listen`, killed on drop.
struct Listener {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// The address from the `listening on` line.
    addr: String,
    /// The stderr lines before it (the TLS certificate's fingerprint).
    before: Vec<String>,
}

impl Listener {
    fn start(args: &[&str]) -> Listener {
        let mut child = Command::new(bin())
            .arg("listen")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut before = Vec::new();
        let addr = loop {
            let mut line = String::new();
            let n = stderr.read_line(&mut line).unwrap();
            assert!(n > 0, "listen exited early: {before:?}");
            match line.trim_end().strip_prefix("listening on ") {
                Some(a) => break a.to_string(),
                None if before.len() < 5 => before.push(line.trim_end().to_string()),
                None => panic!("no `listening on` line: {before:?}"),
            }
        };
        // Keep draining stderr so a chatty child never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Listener {
            stdin: child.stdin.take(),
            stdout: child.stdout.take().unwrap(),
            child,
            addr,
            before,
        }
    }

    fn send(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    fn expect_stdout(&mut self, want: &[u8]) {
        let mut got = vec![0; want.len()];
        self.stdout.read_exact(&mut got).unwrap();
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&got));
    }

    fn sigterm(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tcp_client(addr: &str) -> TcpStream {
    let c = TcpStream::connect(strip_scheme(addr)).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c
}

#[test]
fn listen_serves_one_client_both_ways_then_exits() {
    let mut l = Listener::start(&["tcp://127.0.0.1:0"]);
    assert!(l.addr.starts_with("tcp://127.0.0.1:") && !l.addr.ends_with(":0"));
    l.send(b"from listen\n");
    drop(l.stdin.take());

    let mut c = tcp_client(&l.addr);
    c.write_all(b"from client\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"from listen\n");

    let mut got = Vec::new();
    l.stdout.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from client\n");
    assert!(l.child.wait().unwrap().success());
}

#[test]
fn listen_keep_open_serves_clients_in_sequence() {
    let mut l = Listener::start(&["-k", "tcp://127.0.0.1:0"]);
    for name in ["one", "two"] {
        let mut c = tcp_client(&l.addr);
        c.write_all(format!("{name}\n").as_bytes()).unwrap();
        // Its data on stdout proves the client is registered, so what goes
        // into stdin now reaches it.
        l.expect_stdout(format!("{name}\n").as_bytes());
        l.send(format!("to {name}\n").as_bytes());
        let mut got = vec![0; 4 + name.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, format!("to {name}\n").as_bytes());
    }
    assert!(l.sigterm().success());
}

#[test]
fn listen_keep_open_sends_stdin_to_every_client() {
    let mut l = Listener::start(&["--keep-open", "tcp://127.0.0.1:0"]);
    let mut a = tcp_client(&l.addr);
    a.write_all(b"a").unwrap();
    l.expect_stdout(b"a");
    let mut b = tcp_client(&l.addr);
    b.write_all(b"b").unwrap();
    l.expect_stdout(b"b");
    l.send(b"all\n");
    drop(l.stdin.take());
    for c in [&mut a, &mut b] {
        // stdin's end half-closes every client after the broadcast.
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"all\n");
    }
}

#[test]
fn listen_unix_removes_its_socket_file_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sock");
    let mut l = Listener::start(&[&format!("unix://{}", path.display())]);
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    c.write_all(b"over unix").unwrap();
    l.expect_stdout(b"over unix");
    assert!(l.sigterm().success());
    assert!(!path.exists());
}

#[test]
fn listen_udp_answers_the_last_peer() {
    let mut l = Listener::start(&["-i", "10", "udp://127.0.0.1:0"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    sock.send_to(b"ping\n", strip_scheme(&l.addr)).unwrap();
    l.expect_stdout(b"ping\n");
    l.send(b"pong\n");
    let mut buf = [0; 64];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong\n");
}

/// Reads until EOF; a reset counts as the end (what a refused peer gets).
fn read_all_or_reset(c: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    match c.read_to_end(&mut got) {
        Ok(_) => (got, false),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => (got, true),
        Err(e) => panic!("read: {e}"),
    }
}

#[test]
fn connect_refused_by_the_servers_access_list_exits_7_naming_the_reset() {
    let s = Server::start(&["--echo", "tcp://127.0.0.1:0", "--deny", "127.0.0.0/8"]);
    for stdin in [&b"hi\n"[..], b""] {
        let out = run(&["connect", &s.addr("echo", "tcp://")], stdin);
        assert_eq!(out.status.code(), Some(7), "network errors exit 7: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("connection reset by peer"), "{err}");
        assert!(err.contains("--allow/--deny"), "{err}");
    }
}

#[test]
fn connect_reset_by_any_peer_is_an_error_not_a_silent_exit() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", l.local_addr().unwrap());
    let child = Command::new(bin())
        .args(["connect", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (c, _) = l.accept().unwrap();
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "network errors exit 7");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connection reset by peer"), "{err}");
}

#[test]
fn connect_sh_exec_attaches_a_program_to_the_connection() {
    let s = echo_server();
    // The program's stdout goes to the upper server; its reply comes back
    // on the program's stdin, and the program's stderr is ours.
    let out = run(
        &[
            "connect",
            "--sh-exec",
            "echo hello; read r; echo \"got $r\" >&2",
            &s.addr("upper", "tcp://"),
        ],
        b"stdin is not used\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("got HELLO"), "{err}");
}

#[test]
fn connect_exec_of_a_missing_program_is_a_one_line_error() {
    let s = echo_server();
    let out = run(
        &[
            "connect",
            "--exec",
            "/no/such/program",
            &s.addr("echo", "tcp://"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run /no/such/program"), "{err}");
}

#[test]
fn listen_ends_at_once_when_its_client_leaves_though_stdin_stays_open() {
    let mut l = Listener::start(&["tcp://127.0.0.1:0"]);
    // stdin (a pipe) stays open and silent, as in `sleep 60 | sockit listen`.
    let mut c = tcp_client(&l.addr);
    c.write_all(b"bye\n").unwrap();
    l.expect_stdout(b"bye\n");
    let left = std::time::Instant::now();
    drop(c);
    let mut rest = Vec::new();
    l.stdout.read_to_end(&mut rest).unwrap();
    assert!(l.child.wait().unwrap().success());
    let took = left.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn listen_bare_port_serves_ipv4_and_ipv6_and_dash_4_only_ipv4() {
    let mut l = Listener::start(&["0"]);
    let port = l.addr.rsplit(':').next().unwrap().to_string();
    assert!(l.addr.starts_with("tcp://[::]:"), "{}", l.addr);
    let mut c = tcp_client(&format!("127.0.0.1:{port}"));
    c.write_all(b"v4").unwrap();
    l.expect_stdout(b"v4");
    drop(l);

    let l = Listener::start(&["-4", "0"]);
    assert!(l.addr.starts_with("tcp://0.0.0.0:"), "{}", l.addr);
    let l = Listener::start(&["-4", "localhost", "0"]);
    assert!(l.addr.starts_with("tcp://127.0.0.1:"), "{}", l.addr);
}

#[test]
fn listen_deny_resets_refused_clients_and_keeps_listening() {
    let mut l = Listener::start(&["-k", "--deny", "127.0.0.0/8", "tcp://127.0.0.1:0"]);
    for _ in 0..2 {
        let mut c = tcp_client(&l.addr);
        let _ = c.write_all(b"let me in\n");
        let (got, _) = read_all_or_reset(&mut c);
        assert!(got.is_empty());
    }
    let mut a = Listener::start(&["--allow", "10.0.0.0/8", "tcp://127.0.0.1:0"]);
    let mut c = tcp_client(&a.addr);
    let _ = c.write_all(b"x");
    assert!(read_all_or_reset(&mut c).0.is_empty());
    // Nothing of the refused clients reached stdout; a permitted one does.
    let mut ok = Listener::start(&["--allow", "127.0.0.1", "tcp://127.0.0.1:0"]);
    let mut c = tcp_client(&ok.addr);
    c.write_all(b"welcome").unwrap();
    ok.expect_stdout(b"welcome");
    drop((a.stdin.take(), l.stdin.take()));
    assert!(l.sigterm().success());
    let mut out = [0u8; 1];
    // SIGTERM ends `a`; its stdout had nothing.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(a.child.id() as i32, libc::SIGTERM) };
    assert_eq!(a.stdout.read(&mut out).unwrap(), 0);
}

#[test]
fn listen_exec_gives_each_client_its_own_program() {
    let l = Listener::start(&["-k", "--exec", "tr a-z A-Z", "tcp://127.0.0.1:0"]);
    let mut a = tcp_client(&l.addr);
    let mut b = tcp_client(&l.addr);
    a.write_all(b"first\n").unwrap();
    b.write_all(b"second\n").unwrap();
    for (c, want) in [(&mut a, &b"FIRST\n"[..]), (&mut b, b"SECOND\n")] {
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, want);
    }
    // A later client gets a fresh program.
    let mut c = tcp_client(&l.addr);
    c.write_all(b"third").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"THIRD");
}

#[test]
fn listen_sh_exec_one_client_then_exit() {
    let mut l = Listener::start(&[
        "--sh-exec",
        "read x; echo \"you said $x\"",
        "tcp://127.0.0.1:0",
    ]);
    let mut c = tcp_client(&l.addr);
    c.write_all(b"hi\n").unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"you said hi\n");
    drop(c);
    assert!(l.child.wait().unwrap().success());
}

#[test]
fn listen_tls_serves_a_pinned_client() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut l = Listener::start(&["--data", data.to_str().unwrap(), "tls://127.0.0.1:0"]);
    assert!(l.addr.starts_with("tls://127.0.0.1:"), "{}", l.addr);
    let fp = l
        .before
        .iter()
        .find_map(|x| x.strip_prefix("tls certificate "))
        .and_then(|x| x.split_whitespace().next())
        .unwrap_or_else(|| panic!("no fingerprint in {:?}", l.before))
        .to_string();
    // stdin stays open: the listener ends once its client has left, and the
    // client's words cannot race the listener's close_notify.
    l.send(b"secret reply\n");
    let out = run(&["connect", "--fingerprint", &fp, &l.addr], b"over tls\n");
    assert_eq!(ok_stdout(&out), b"secret reply\n");
    l.expect_stdout(b"over tls\n");
    drop(l.stdin.take());
    // A client pinning another certificate is refused by its own check.
    let wrong = format!("sha256:{}", "00".repeat(32));
    let l2 = Listener::start(&["--data", data.to_str().unwrap(), "tls://127.0.0.1:0"]);
    let out = run(&["connect", "--fingerprint", &wrong, &l2.addr], b"x\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

//! TLS end to end: real servers on tls:// port 0, real CLI processes, each
//! with its own config directory (known_hosts, sessions).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Server, add_user, run_env};
use sha2::{Digest, Sha256};
use sockit::net::HostPort;
use sockit::net::tls::{Fingerprint, Trust, handshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);

/// A client machine: its own config directory.
struct Client {
    home: tempfile::TempDir,
}

impl Client {
    fn new() -> Client {
        Client {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn cfg(&self) -> PathBuf {
        self.home.path().join("cfg")
    }

    fn known_hosts(&self) -> String {
        std::fs::read_to_string(self.cfg().join("known_hosts")).unwrap_or_default()
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_env(args, stdin, &[("SOCKIT_CONFIG_DIR", &self.cfg())])
    }

    fn login(&self, addr: &str) -> Output {
        let pass = format!("{PASS}\n");
        let args = ["login", addr, "--user", "alice", "--password-stdin"];
        self.run(&args, pass.as_bytes())
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The fingerprint the server printed on start.
fn banner_fingerprint(srv: &Server) -> String {
    let line = srv
        .banner
        .iter()
        .find(|l| l.starts_with("tls certificate "))
        .unwrap();
    line.split_whitespace().nth(2).unwrap().to_owned()
}

fn tls_server(extra: &[&str]) -> Server {
    let mut args = vec!["--listen", "tls://127.0.0.1:0", "--argon2", CHEAP];
    args.extend_from_slice(extra);
    let srv = Server::start(&args);
    add_user(&srv.data(), "alice", PASS);
    srv
}

#[test]
fn first_use_is_remembered_and_a_changed_certificate_is_refused() {
    let srv = tls_server(&[]);
    let addr = srv.addr("framed", "tls://");
    let fp = banner_fingerprint(&srv);
    let me = Client::new();
    let out = me.login(&addr);
    assert!(out.status.success(), "{out:?}");
    let hostport = common::strip_scheme(&addr).to_owned();
    let err = text(&out.stderr);
    assert!(
        err.contains("first connection to") && err.contains(&fp),
        "{err}"
    );
    assert_eq!(me.known_hosts(), format!("{hostport} {fp}\n"));
    let out = me.run(&["whoami", &addr], b"");
    assert!(out.status.success(), "{out:?}");
    assert!(!text(&out.stderr).contains("first connection"), "{out:?}");

    // The server comes back on the same port with a new data directory,
    // hence a new self-signed certificate.
    let port = srv.port("framed", "tls://");
    drop(srv);
    let listen = format!("tls://127.0.0.1:{port}");
    let srv = tls_server(&["--listen", &listen]);
    let new_fp = banner_fingerprint(&srv);
    assert_ne!(new_fp, fp);
    let say = ["say", "--server", &addr, "--room", "lobby", "secret plan"];
    let out = me.run(&say, b"");
    assert!(!out.status.success(), "{out:?}");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in [
        "CHANGED",
        fp.as_str(),
        new_fp.as_str(),
        "known_hosts:1",
        &format!("sockit cert forget {hostport}"),
    ] {
        assert!(err.contains(part), "{part:?} missing in {err}");
    }
    assert_eq!(me.known_hosts(), format!("{hostport} {fp}\n"));

    let out = me.run(&["cert", "forget", &hostport], b"");
    assert!(out.status.success(), "{out:?}");
    assert!(me.login(&addr).status.success());
    assert!(me.known_hosts().contains(&new_fp));
    // Nothing of the refused `say` reached the server.
    let out = me.run(&["history", &addr, "--room", "lobby", "--json"], b"");
    assert!(out.status.success(), "{out:?}");
    assert!(!text(&out.stdout).contains("secret plan"), "{out:?}");
}

#[test]
fn ca_file_and_pinned_fingerprint() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path().to_str().unwrap();
    let me = Client::new();
    let out = me.run(&["cert", "new", "--out", dir, "--json"], b"");
    assert!(out.status.success(), "{out:?}");
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fp = made["fingerprint"].as_str().unwrap().to_owned();
    let mode = std::fs::metadata(certs.path().join("key.pem")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let again = me.run(&["cert", "new", "--out", dir], b"");
    assert!(!again.status.success() && text(&again.stderr).contains("--force"));

    let (cert, key) = (format!("{dir}/cert.pem"), format!("{dir}/key.pem"));
    let srv = tls_server(&["--tls-cert", &cert, "--tls-key", &key]);
    assert_eq!(banner_fingerprint(&srv), fp);
    let addr = srv.addr("framed", "tls://");
    let ping = r#"{"type":"ping","id":7}"#;
    let out = me.run(&["call", &addr, ping, "--ca", &cert], b"");
    assert!(text(&out.stdout).contains(r#""type":"pong""#), "{out:?}");
    let out = me.run(&["call", &addr, ping, "--fingerprint", &fp], b"");
    assert!(text(&out.stdout).contains(r#""type":"pong""#), "{out:?}");
    // Neither --ca nor --fingerprint touches known_hosts.
    assert_eq!(me.known_hosts(), "");

    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = me.run(&["call", &addr, ping, "--fingerprint", &wrong], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("not the pinned"), "{out:?}");
    let other = tempfile::tempdir().unwrap();
    let odir = other.path().to_str().unwrap();
    assert!(
        me.run(&["cert", "new", "--out", odir], b"")
            .status
            .success()
    );
    let out = me.run(
        &["call", &addr, ping, "--ca", &format!("{odir}/cert.pem")],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("does not verify"), "{out:?}");
    let out = me.run(&["cert", "show", &addr, "--json"], b"");
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["fingerprint"], fp.as_str());
    assert_eq!(shown["known_hosts"], "not in known_hosts");
    let out = me.run(&["cert", "show", &cert], b"");
    assert!(text(&out.stdout).starts_with(&fp), "{out:?}");
    let out = me.run(&["cert", "forget", "127.0.0.1:1"], b"");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn a_password_never_crosses_plain_tcp_to_another_host() {
    // A documentation address (TEST-NET-3): refused before anything is dialed.
    let me = Client::new();
    let out = me.login("tcp://203.0.113.9:7878");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("tls://203.0.113.9:7878") && err.contains("--insecure"),
        "{err}"
    );
    assert!(
        !err.contains("password for"),
        "no prompt before the refusal: {err}"
    );
}

#[test]
fn files_and_chat_over_tls() {
    let srv = tls_server(&["--chat-lines", "tls://127.0.0.1:0"]);
    let addr = srv.addr("framed", "tls://");
    let me = Client::new();
    assert!(me.login(&addr).status.success());
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let src = me.home.path().join("blob.bin");
    std::fs::write(&src, &data).unwrap();
    let remote = format!("{addr}:blob.bin");
    let out = me.run(&["put", src.to_str().unwrap(), &remote], b"");
    assert!(out.status.success(), "{out:?}");
    let back = me.home.path().join("back.bin");
    let out = me.run(&["get", &remote, back.to_str().unwrap()], b"");
    assert!(out.status.success(), "{out:?}");
    let got = std::fs::read(&back).unwrap();
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));

    let out = me.run(
        &["say", "--server", &addr, "--room", "ops", "over tls"],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    // The line door over TLS: an nc-style user sees the history.
    let lines = srv.addr("chat-lines", "tls://");
    let out = me.run(&["connect", &lines], b"bob\n/join ops\n/history\n/quit\n");
    assert!(text(&out.stdout).contains("over tls"), "{out:?}");
}

/// One HTTP/1.1 request over TLS (pinned to the server's certificate).
async fn https(hp: &HostPort, fp: Fingerprint, req: &str) -> String {
    let tcp = tokio::net::TcpStream::connect((hp.host.as_str(), hp.port))
        .await
        .unwrap();
    let (mut tls, _) = handshake(tcp, hp, &Trust::Pin(fp)).await.unwrap();
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let read = tls.read_to_end(&mut out);
    // A server may close without close_notify after `Connection: close`.
    let _ = tokio::time::timeout(IO_LIMIT, read).await.unwrap();
    text(&out)
}

#[tokio::test]
async fn https_page_and_a_secure_cookie() {
    let srv = tls_server(&["--web", "tls://127.0.0.1:0"]);
    let hp: HostPort = match srv.addr("web", "tls://").parse().unwrap() {
        sockit::net::Endpoint::Tls(hp) => hp,
        other => panic!("{other}"),
    };
    let fp: Fingerprint = banner_fingerprint(&srv).parse().unwrap();
    let page = https(
        &hp,
        fp,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<html"), "{page}");
    let body = format!(r#"{{"name":"alice","password":"{PASS}"}}"#);
    let login = format!(
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = https(&hp, fp, &login).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let cookie = reply
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // A name no plain-HTTP page or sibling domain can set or shadow, and
    // browsers told to come back over HTTPS only.
    assert!(cookie.contains("__Host-sockit_session="), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    for reply in [&page, &reply] {
        assert!(
            reply
                .to_ascii_lowercase()
                .contains("strict-transport-security: max-age=31536000"),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn a_peer_over_the_per_ip_cap_reads_its_refusal_inside_tls() {
    let srv = tls_server(&["--max-conns-per-ip", "1"]);
    let hp: HostPort = match srv.addr("framed", "tls://").parse().unwrap() {
        sockit::net::Endpoint::Tls(hp) => hp,
        other => panic!("{other}"),
    };
    let fp: Fingerprint = banner_fingerprint(&srv).parse().unwrap();
    let first = tokio::net::TcpStream::connect((hp.host.as_str(), hp.port))
        .await
        .unwrap();
    let (_held, _) = handshake(first, &hp, &Trust::Pin(fp)).await.unwrap();
    // The second connection is over the cap: it must still complete a
    // handshake and read the documented error frame, not plaintext.
    let second = tokio::net::TcpStream::connect((hp.host.as_str(), hp.port))
        .await
        .unwrap();
    let (mut tls, _) = tokio::time::timeout(IO_LIMIT, handshake(second, &hp, &Trust::Pin(fp)))
        .await
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(IO_LIMIT, tls.read_to_end(&mut out))
        .await
        .unwrap();
    let (frame, _) = sockit::wire::decode_from_slice(&out, &sockit::wire::Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.get("code").and_then(|c| c.as_str()),
        Some("too_many_connections"),
        "{frame:?}"
    );
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_handshake_timeout() {
    let srv = tls_server(&["--tls-handshake-timeout", "0.5"]);
    let sock = common::strip_scheme(&srv.addr("framed", "tls://")).to_owned();
    let mut s = tokio::net::TcpStream::connect(&sock).await.unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    // Sends nothing; the server must hang up (EOF or reset), not wait.
    let r = tokio::time::timeout(IO_LIMIT, s.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "closed too early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "held for {waited:?}");
}

//! Share-link test support: a server with a web door and two logged-in
//! users (alice, bob), `sockit` runs as either or as no one, and raw HTTP.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Server, run_env};

const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);

/// A server and the users' config directories.
pub struct Env {
    /// The server.
    pub srv: Server,
    /// Its framed `tcp://` address.
    pub addr: String,
    /// Its web door's `HOST:PORT`.
    pub web: String,
    /// The users' config directories and the work directory.
    pub home: tempfile::TempDir,
}

impl Env {
    pub fn start(extra: &[&str]) -> Env {
        let mut args = vec![
            "--listen",
            "tcp://127.0.0.1:0",
            "--web",
            "tcp://127.0.0.1:0",
            "--argon2",
            CHEAP,
        ];
        args.extend_from_slice(extra);
        let srv = Server::start(&args);
        let env = Env {
            addr: srv.addr("framed", "tcp://"),
            web: srv.sock("web", "tcp://"),
            srv,
            home: tempfile::tempdir().unwrap(),
        };
        for u in ["alice", "bob"] {
            super::add_user(&env.srv.data(), u, PASS);
            env.login(u);
        }
        env
    }

    /// Logs `user` in (again: a lock or a new password ended the session).
    pub fn login(&self, user: &str) {
        let out = self.as_user(
            user,
            &["login", &self.addr, "--user", user, "--password-stdin"],
            format!("{PASS}\n").as_bytes(),
        );
        assert!(out.status.success(), "login: {out:?}");
    }

    /// Runs `sockit ARGS` as `user` (`anon`: no login at all).
    pub fn as_user(&self, user: &str, args: &[&str], stdin: &[u8]) -> Output {
        let cfg = self.home.path().join(user);
        run_env(
            args,
            stdin,
            &[
                ("SOCKIT_CONFIG_DIR", &cfg),
                ("SOCKIT_SERVER", Path::new(&self.addr)),
            ],
        )
    }

    pub fn work(&self) -> PathBuf {
        let p = self.home.path().join("work");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Uploads `len` pseudo-random bytes to alice's `name`; the local copy.
    pub fn put(&self, name: &str, len: usize, seed: u64) -> PathBuf {
        let local = self
            .work()
            .join(format!("src-{seed}-{}", name.replace('/', "_")));
        let buf = super::random_bytes(len, seed);
        std::fs::write(&local, &buf).unwrap();
        let out = self.as_user(
            "alice",
            &[
                "put",
                "--force",
                local.to_str().unwrap(),
                &format!(":{name}"),
            ],
            b"",
        );
        assert!(out.status.success(), "put: {out:?}");
        local
    }

    /// `sockit share ARGS --json` as alice; the reply.
    pub fn share(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["share"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self.as_user("alice", &all, b"");
        assert!(out.status.success(), "share: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

pub fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One raw HTTP GET; (status, head, body bytes).
pub async fn get(host: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    request(host, "GET", path, headers, b"").await
}

/// One raw HTTP request with a body of bytes; (status, head, body bytes).
pub async fn request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if method != "GET" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(IO_LIMIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..at]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, out[at + 4..].to_vec())
}

/// `POST /u/ID/files` of upload link `url` on `web`: (status, JSON answer).
pub async fn begin(
    web: &str,
    url: &str,
    name: &str,
    size: usize,
    b3: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"name": name, "file_size": size, "blake3": b3}).to_string();
    let (status, _, out) = request(
        web,
        "POST",
        &format!("{}/files", path_of(url)),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    (status, serde_json::from_slice(&out).unwrap_or_default())
}

/// A PUT to upload link `url` on `web` that sends the head and `part` of
/// a `size`-byte body from offset 0, then stops: the connection stays
/// open (the caller drops it, or holds it).
pub async fn put_part(
    web: &str,
    url: &str,
    name: &str,
    size: usize,
    b3: &str,
    part: &[u8],
) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(web).await.unwrap();
    let head = format!(
        "PUT {}/files/{name} HTTP/1.1\r\nHost: {web}\r\nContent-Length: {size}\r\nX-Sockit-Offset: 0\r\nX-Sockit-Size: {size}\r\nX-Sockit-Blake3: {b3}\r\n\r\n",
        path_of(url),
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(part).await.unwrap();
    s.flush().await.unwrap();
    s
}

pub fn path_of(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("/{}", rest.split_once('/').unwrap().1)
}

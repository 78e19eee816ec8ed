//! End-to-end encrypted share links with the real server and CLI:
//! `sockit share FILE --e2e` seals, `sockit get` decrypts with the link
//! from $SOCKIT_LINK, the server's store holds ciphertext only, and a key
//! is never taken from the command line. (A hostile server's altered,
//! truncated and reordered ciphertext, and resuming: share_e2e_hostile.rs;
//! the browser: tests/e2e/e2e_share.mjs.)
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Server, run_env};
use sha2::{Digest, Sha256};

const PASS: &str = "correct horse battery";
const MARKER: &[u8] = b"PLAINTEXT-MARKER-that-must-never-reach-the-server";

struct Env {
    srv: Server,
    addr: String,
    home: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let srv = Server::start(&[
            "--listen",
            "tcp://127.0.0.1:0",
            "--web",
            "tcp://127.0.0.1:0",
            "--argon2",
            common::CHEAP_ARGON2,
        ]);
        let env = Env {
            addr: srv.addr("framed", "tcp://"),
            srv,
            home: tempfile::tempdir().unwrap(),
        };
        common::add_user(&env.srv.data(), "alice", PASS);
        let login = ["login", &env.addr, "--user", "alice", "--password-stdin"];
        common::ok(&env.run(&login, &[], format!("{PASS}\n").as_bytes()));
        env
    }

    /// Runs `sockit ARGS` as alice in the work directory's sense, with
    /// extra environment variables.
    fn run(&self, args: &[&str], extra: &[(&str, &str)], stdin: &[u8]) -> Output {
        let cfg = self.home.path().join("cfg");
        let mut env: Vec<(&str, &Path)> = vec![
            ("SOCKIT_CONFIG_DIR", &cfg),
            ("SOCKIT_SERVER", Path::new(&self.addr)),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, Path::new(v))));
        run_env(args, stdin, &env)
    }

    fn work(&self) -> PathBuf {
        let p = self.home.path().join("work");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// A local file with the marker inside, shared with --e2e: (its
    /// bytes, the reply with the whole link in `url`).
    fn share(&self, name: &str, extra: &[&str]) -> (Vec<u8>, serde_json::Value) {
        let mut bytes = common::random_bytes(150_000, 3);
        bytes.extend_from_slice(MARKER);
        bytes.extend_from_slice(&common::random_bytes(70_000, 4));
        let local = self.work().join(name);
        std::fs::write(&local, &bytes).unwrap();
        let mut args = vec!["share", local.to_str().unwrap(), "--e2e", "--json"];
        args.extend_from_slice(extra);
        let reply = serde_json::from_str(&common::ok(&self.run(&args, &[], b""))).unwrap();
        (bytes, reply)
    }
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_cli_decrypts_what_the_server_holds_only_as_ciphertext() {
    let env = Env::start();
    let name = "quarterly report.pdf";
    let (bytes, reply) = env.share(name, &["--downloads", "2"]);
    let link = reply["url"].as_str().unwrap().to_owned();
    let (bare, key) = link.split_once('#').unwrap();
    assert_eq!(key.len(), 64, "{link}");
    assert_eq!(reply["e2e"], true);
    assert_eq!(reply["plain"]["sha256"], sha256(&bytes));

    // No plaintext, no name, no key in anything the server wrote.
    let stored = files(&env.srv.data());
    assert!(stored.len() > 2);
    for f in &stored {
        let b = std::fs::read(f).unwrap();
        for needle in [MARKER, name.as_bytes(), key.as_bytes()] {
            assert!(
                !contains(&b, needle),
                "{} holds {:?}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    // The owner sees the share marked end to end, and the sealed upload.
    let ls = common::ok(&env.run(&["share", "ls", "--json"], &[], b""));
    assert!(ls.contains("\"e2e\":true"), "{ls}");

    // The whole link from the environment: the file under its real name.
    let out = env.work().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let dest = out.to_str().unwrap();
    let got = env.run(
        &["get", bare, dest, "--json"],
        &[("SOCKIT_LINK", &link)],
        b"",
    );
    let v: serde_json::Value = serde_json::from_str(&common::ok(&got)).unwrap();
    assert_eq!(v["sha256"], sha256(&bytes));
    let saved = out.join(name);
    assert_eq!(sha256(&std::fs::read(&saved).unwrap()), sha256(&bytes));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&saved).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "no partial left beside it"
    );
}

#[test]
fn a_link_with_its_key_on_the_command_line_is_refused() {
    let env = Env::start();
    let (_, reply) = env.share("a.bin", &[]);
    let link = reply["url"].as_str().unwrap().to_owned();
    let key = link.split_once('#').unwrap().1;
    let dest = env.work().join("dest.bin");
    let out = env.run(&["get", &link, dest.to_str().unwrap()], &[], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("SOCKIT_LINK") && err.contains("ps"), "{err}");
    assert!(!err.contains(key), "the refusal repeats the key: {err}");
    assert!(!dest.exists());
    // Nothing was fetched: the one download is still there.
    let ls = common::ok(&env.run(&["share", "ls", "--json"], &[], b""));
    assert!(ls.contains("\"downloads\":0"), "{ls}");
}

#[test]
fn a_wrong_or_missing_key_fails_clearly_and_leaves_nothing() {
    let env = Env::start();
    let (_, reply) = env.share("a.bin", &[]);
    let link = reply["url"].as_str().unwrap().to_owned();
    let (bare, key) = link.split_once('#').unwrap();
    let flipped = if key.starts_with('0') { "1" } else { "0" };
    let wrong = format!("{bare}#{flipped}{}", &key[1..]);
    let dir = env.work().join("wrong");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let out = env.run(&["get", bare, d], &[("SOCKIT_LINK", &wrong)], b"");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(
        text(&out).contains("does not open this share"),
        "{}",
        text(&out)
    );
    let short = format!("{bare}#{}", &key[..10]);
    let out = env.run(&["get", bare, d], &[("SOCKIT_LINK", &short)], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out).contains("64 hex digits"), "{}", text(&out));
    // No key at all, and no terminal to ask on: say where it goes.
    let out = env.run(&["get", bare, d], &[], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out).contains("end-to-end encrypted") && text(&out).contains("SOCKIT_LINK"));
    // Another share's link in the environment is not mixed with this one.
    let last = if bare.ends_with('0') { "1" } else { "0" };
    let other = format!("{}{last}#{key}", &bare[..bare.len() - 1]);
    let out = env.run(&["get", bare, d], &[("SOCKIT_LINK", &other)], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    // All that and the share still has its download.
    let ls = common::ok(&env.run(&["share", "ls", "--json"], &[], b""));
    assert!(ls.contains("\"downloads\":0"), "{ls}");
}

/// The random name the ciphertext got in the sender's `.e2e-shares/`.
fn stored_name(reply: &serde_json::Value) -> String {
    let path = reply["path"].as_str().unwrap();
    path.rsplit('/').next().unwrap().to_owned()
}

#[test]
fn an_ended_share_takes_its_ciphertext_with_it() {
    let env = Env::start();
    let listed = || common::ok(&env.run(&["ls", ":.e2e-shares", "--json"], &[], b""));
    // Consumed by its one download: gone at the sweeper's next round
    // (every few seconds), with no visit needed.
    let (bytes, reply) = env.share("a.bin", &[]);
    let stored = stored_name(&reply);
    assert!(listed().contains(&stored), "{}", listed());
    let link = reply["url"].as_str().unwrap().to_owned();
    let dest = env.work().join("got.bin");
    let got = env.run(
        &[
            "get",
            link.split('#').next().unwrap(),
            dest.to_str().unwrap(),
        ],
        &[("SOCKIT_LINK", &link)],
        b"",
    );
    common::ok(&got);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    let again = env.run(
        &[
            "get",
            link.split('#').next().unwrap(),
            dest.to_str().unwrap(),
            "--force",
        ],
        &[("SOCKIT_LINK", &link)],
        b"",
    );
    assert_eq!(again.status.code(), Some(4), "{again:?}");
    assert!(text(&again).contains("consumed"), "{}", text(&again));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while listed().contains(&stored) {
        assert!(std::time::Instant::now() < deadline, "{}", listed());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Revoked by its owner: gone at once.
    let (_, reply) = env.share("b.bin", &[]);
    let stored = stored_name(&reply);
    assert!(listed().contains(&stored));
    let num = reply["num"].to_string();
    common::ok(&env.run(&["share", "rm", &num], &[], b""));
    assert!(!listed().contains(&stored), "{}", listed());
}

#[tokio::test]
async fn share_create_checks_its_sealed_metadata() {
    use sockit::client::Client;
    use sockit::wire::ShareRequest;
    let env = Env::start();
    let ep: sockit::net::Endpoint = env.addr.parse().unwrap();
    let limit = std::time::Duration::from_secs(30);
    let path = env.work().join("x.txt");
    std::fs::write(&path, b"x").unwrap();
    common::ok(&env.run(&["put", path.to_str().unwrap(), ":x.txt"], &[], b""));
    let create = |e2e: &str| {
        ShareRequest::Create {
            path: "x.txt".into(),
            expires: None,
            downloads: None,
            e2e: Some(e2e.into()),
        }
        .to_frame(Some(1))
    };
    // Not logged in: nothing is created.
    let mut c = Client::connect(&ep, limit).await.unwrap();
    let e = c.request(create("01ab")).await.unwrap_err();
    assert_eq!(e.code(), Some("unauthenticated"), "{e}");
    let mut c = Client::connect(&ep, limit).await.unwrap();
    c.login("alice", PASS).await.unwrap();
    for (bad, code) in [("zz", "bad_request"), ("", "rate_limited")] {
        let e = c.request(create(bad)).await.unwrap_err();
        assert_eq!(e.code(), Some(code), "{bad}: {e}");
    }
    let huge = "ab".repeat(sockit::service::shares::MAX_E2E_META + 1);
    let e = c.request(create(&huge)).await.unwrap_err();
    assert_eq!(e.code(), Some("rate_limited"), "{e}");
    // The connection is still good, and a well-formed one is accepted.
    let ok = c.request(create("01ab")).await.unwrap();
    assert_eq!(ok.header["e2e"], true, "{:?}", ok.header);
}

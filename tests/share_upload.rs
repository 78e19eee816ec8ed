//! Upload links end to end: a real server on port 0 with a web door,
//! `sockit share --upload` as alice, `sockit send` as no one, and raw HTTP
//! for what a browser, a broken connection or an attacker sends.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::share::{Env, begin, get, path_of, put_part, request as http, sha256, text};

/// `sockit share --upload ARGS --json` as alice; the reply.
fn upload_link(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--upload"];
    all.extend_from_slice(args);
    env.share(&all)
}

/// Writes `len` pseudo-random bytes to the work directory as `name`.
fn local(env: &Env, name: &str, len: usize, seed: u64) -> std::path::PathBuf {
    let p = env.work().join(name);
    std::fs::write(&p, common::random_bytes(len, seed)).unwrap();
    p
}

/// `sockit send URL FILE --json` as no one; (exit code, stdout JSON or text).
fn send(env: &Env, url: &str, file: &std::path::Path) -> (Option<i32>, serde_json::Value, String) {
    let out = env.as_user(
        "nobody",
        &["send", url, file.to_str().unwrap(), "--json"],
        b"",
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v, text(&out))
}

/// Alice's copy of `path`, fetched with her login.
fn fetched(env: &Env, path: &str) -> std::path::PathBuf {
    let dest = env.work().join(format!("got-{}", path.replace('/', "_")));
    let out = env.as_user(
        "alice",
        &[
            "get",
            "--force",
            &format!(":{path}"),
            dest.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    dest
}

fn blake3_of(p: &std::path::Path) -> String {
    blake3::hash(&std::fs::read(p).unwrap())
        .to_hex()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn anyone_sends_files_into_the_folder_and_the_owner_sees_who() {
    let env = Env::start(&[]);
    let link = upload_link(&env, &[":inbox", "--max-files", "5", "--expires", "3d"]);
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("http://{}/u/", env.web)), "{url}");
    assert_eq!(link["upload"]["max_files"], 5);
    // The page, with the share page's policy; its details.
    let (status, head, _) = get(&env.web, &path_of(&url), &[]).await;
    assert_eq!(status, 200, "{head}");
    let h = head.to_ascii_lowercase();
    assert!(
        h.contains("script-src 'self'") && h.contains("referrer-policy: no-referrer"),
        "{h}"
    );
    let (status, _, info) = get(&env.web, &format!("{}/info", path_of(&url)), &[]).await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(
        (info["name"].as_str(), info["files_left"].as_u64()),
        (Some("inbox"), Some(5))
    );
    // An upload link is not a share to download: /s/ID is 404, `get` says why.
    let id = url.rsplit('/').next().unwrap();
    let (status, _, _) = get(&env.web, &format!("/s/{id}/info"), &[]).await;
    assert_eq!(status, 404);
    let out = env.as_user("nobody", &["get", &url], b"");
    assert!(text(&out).contains("sockit send"), "{}", text(&out));

    // Sent by no one, landed verified in alice's folder.
    let src = local(&env, "report.pdf", 300_000, 1);
    let (code, v, out) = send(&env, &url, &src);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(v["name"], "report.pdf");
    assert_eq!(sha256(&fetched(&env, "inbox/report.pdf")), sha256(&src));
    // Another file of the same name never replaces it: it lands beside it.
    let other = env.work().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let clash = other.join("report.pdf");
    std::fs::write(&clash, b"a different report").unwrap();
    let (code, v, out) = send(&env, &url, &clash);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(v["name"], "report (1).pdf");
    assert_eq!(sha256(&fetched(&env, "inbox/report.pdf")), sha256(&src));
    assert_eq!(
        sha256(&fetched(&env, "inbox/report (1).pdf")),
        sha256(&clash)
    );

    // The owner's log: names, sizes, BLAKE3s, the sender's address, times.
    let num = link["num"].to_string();
    let log = env.share(&["log", &num]);
    let ups = log["uploads"].as_array().unwrap();
    assert_eq!(ups.len(), 2, "{log}");
    assert_eq!(ups[0]["path"], "inbox/report.pdf");
    assert_eq!(ups[0]["file_size"], 300_000);
    assert_eq!(ups[0]["blake3"].as_str().unwrap(), blake3_of(&src));
    assert_eq!(ups[0]["addr"], "127.0.0.1");
    assert!(ups[1]["at"].as_u64().unwrap() >= ups[0]["at"].as_u64().unwrap());
    let ls = env.share(&["ls"]);
    assert_eq!(ls["shares"][0]["upload"]["files"], 2);
    assert_eq!(ls["shares"][0]["upload"]["bytes"], 300_000 + 18);
    let out = env.as_user("alice", &["share", "ls"], b"");
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        lines.contains("upload into inbox/, 2 of 5 files"),
        "{lines}"
    );
    let out = env.as_user("alice", &["share", "log", &num], b"");
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        lines.contains("inbox/report (1).pdf") && lines.contains("from 127.0.0.1"),
        "{lines}"
    );
    // Bob sees neither the log nor the link.
    let out = env.as_user("bob", &["share", "log", &num], b"");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // Creating one needs a login.
    let out = env.as_user("nobody", &["share", "--upload", ":x"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_cut_short_resumes_where_the_server_copy_ends() {
    let env = Env::start(&[]);
    let link = upload_link(&env, &[":drop"]);
    let url = link["url"].as_str().unwrap().to_owned();
    // A third of it is no whole number of the server's 1 MiB writes.
    let src = local(&env, "big.bin", (3 << 20) + 12_345, 5);
    let bytes = std::fs::read(&src).unwrap();
    let b3 = blake3_of(&src);
    let (status, v) = begin(&env.web, &url, "big.bin", bytes.len(), &b3).await;
    assert_eq!((status, v["offset"].as_u64()), (200, Some(0)), "{v}");
    // A sender that stops a third of the way and goes away.
    let third = bytes.len() / 3;
    let s = put_part(&env.web, &url, "big.bin", bytes.len(), &b3, &bytes[..third]).await;
    drop(s);
    // The server pauses the upload (everything received made durable);
    // a begin then says where to continue. Bounded: not a readiness sleep.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, v) = begin(&env.web, &url, "big.bin", bytes.len(), &b3).await;
        assert_eq!(status, 200, "{v}");
        if v["offset"].as_u64() == Some(third as u64) {
            assert_eq!(v["name"], "big.bin", "its own partial, not a new name");
            break;
        }
        assert!(Instant::now() < deadline, "the partial never showed: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing is published before the end.
    let out = env.as_user("alice", &["ls", ":drop"], b"");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("big.bin"),
        "{}",
        text(&out)
    );
    let (code, v, out) = send(&env, &url, &src);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        v["sent"],
        (bytes.len() - third) as u64,
        "resumed, not restarted: {v}"
    );
    assert_eq!(sha256(&fetched(&env, "drop/big.bin")), sha256(&src));
    // Other content under the same name never resumes (or discards) a
    // partial: a half-sent file B is left alone while C lands elsewhere.
    let b = local(&env, "same.txt", 100_000, 6);
    let bb = std::fs::read(&b).unwrap();
    drop(
        put_part(
            &env.web,
            &url,
            "same.txt",
            bb.len(),
            &blake3_of(&b),
            &bb[..1000],
        )
        .await,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = begin(&env.web, &url, "same.txt", bb.len(), &blake3_of(&b)).await;
        if v["offset"].as_u64() == Some(1000) {
            break;
        }
        assert!(Instant::now() < deadline, "the partial never showed: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = env.work().join("c");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("same.txt"), b"other content").unwrap();
    let (code, v, out) = send(&env, &url, &c.join("same.txt"));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(v["name"], "same (1).txt");
    let (_, v) = begin(&env.web, &url, "same.txt", bb.len(), &blake3_of(&b)).await;
    assert_eq!(v["offset"], 1000, "B's partial is intact: {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_end_the_link_and_refuse_what_does_not_fit() {
    let env = Env::start(&["--share-upload-max-size", "1M", "--quota", "600K"]);
    // The server's maxima are forced.
    let out = env.as_user(
        "alice",
        &["share", "--upload", ":in", "--max-size", "2M"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("limit"), "{}", text(&out));
    let link = upload_link(&env, &[":in", "--max-files", "2", "--max-size", "500K"]);
    let url = link["url"].as_str().unwrap().to_owned();
    // Bigger than the link takes: refused before a byte, nothing kept.
    let big = local(&env, "big.bin", 600 << 10, 1);
    let (code, _, out) = send(&env, &url, &big);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("413") && out.contains("more bytes"), "{out}");
    // Within the link but past alice's quota (600K, of which she holds
    // little): the owner's store refuses, saying only that it is full.
    let link2 = upload_link(&env, &[":in2"]);
    let url2 = link2["url"].as_str().unwrap().to_owned();
    let (code, _, out) = send(&env, &url2, &big);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("no room left") && !out.contains("614400"),
        "{out}"
    );
    // Two files fill the first link: it ends as consumed, then 410.
    for (i, n) in ["a.txt", "b.txt"].iter().enumerate() {
        let f = local(&env, n, 1000, i as u64);
        let (code, _, out) = send(&env, &url, &f);
        assert_eq!(code, Some(0), "{out}");
    }
    let c = local(&env, "c.txt", 10, 9);
    let (code, _, out) = send(&env, &url, &c);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("consumed"), "{out}");
    let ls = env.share(&["ls"]);
    let first = ls["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["num"] == link["num"])
        .unwrap()
        .clone();
    assert_eq!(first["state"], "consumed");
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_and_revoke_answer_gone() {
    let env = Env::start(&["--share-max-expiry", "1"]);
    let link = upload_link(&env, &[":late"]);
    let url = link["url"].as_str().unwrap().to_owned();
    let info = format!("{}/info", path_of(&url));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = get(&env.web, &info, &[]).await;
        if status == 410 {
            assert!(String::from_utf8_lossy(&body).contains("expired"));
            break;
        }
        assert!(Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let f = local(&env, "f.txt", 10, 1);
    let (code, _, out) = send(&env, &url, &f);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("expired"), "{out}");

    let env = Env::start(&[]);
    let link = upload_link(&env, &[":r"]);
    let url = link["url"].as_str().unwrap().to_owned();
    let out = env.as_user("bob", &["share", "rm", &link["num"].to_string()], b"");
    assert_eq!(
        out.status.code(),
        Some(4),
        "bob cannot revoke it: {}",
        text(&out)
    );
    let out = env.as_user("alice", &["share", "rm", &link["num"].to_string()], b"");
    assert!(out.status.success(), "{}", text(&out));
    let (status, _, body) = get(&env.web, &path_of(&url), &[]).await;
    assert_eq!(status, 410);
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
    let (code, _, out) = send(&env, &url, &f);
    assert_eq!(code, Some(4), "{out}");
    let b3 = blake3_of(&f);
    let (status, _) = begin(&env.web, &url, "f.txt", 10, &b3).await;
    assert_eq!(status, 410);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_stay_inside_the_link_folder() {
    let env = Env::start(&[]);
    let a = upload_link(&env, &[":a"]);
    let b = upload_link(&env, &[":b"]);
    let url_b = b["url"].as_str().unwrap().to_owned();
    let b3 = blake3::hash(b"x").to_hex().to_string();
    for name in ["../a/x", "..", ".", "a/b", "", "x\\y", "/etc/passwd"] {
        let (status, v) = begin(&env.web, &url_b, name, 1, &b3).await;
        assert_eq!(status, 400, "{name}: {v}");
    }
    for name in ["..%2Fa%2Fx", "%2e%2e", "a%2Fb"] {
        let (status, head, _) = http(
            &env.web,
            "PUT",
            &format!("{}/files/{name}", path_of(&url_b)),
            &[
                ("X-Sockit-Offset", "0"),
                ("X-Sockit-Size", "1"),
                ("X-Sockit-Blake3", &b3),
            ],
            b"x",
        )
        .await;
        assert!(status == 400 || status == 404, "{name}: {head}");
    }
    // Nothing landed in a's folder, or anywhere.
    let out = env.as_user("alice", &["ls", ":a"], b"");
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty()
            || !String::from_utf8_lossy(&out.stdout).contains('x'),
        "{}",
        text(&out)
    );
    let log = env.share(&["log", &a["num"].to_string()]);
    assert!(log["uploads"].as_array().unwrap().is_empty(), "{log}");
    // A bad hash is refused and nothing is published.
    let f = local(&env, "h.txt", 100, 3);
    let bytes = std::fs::read(&f).unwrap();
    let wrong = blake3::hash(b"not it").to_hex().to_string();
    let (status, v) = begin(&env.web, &url_b, "h.txt", 100, &wrong).await;
    assert_eq!(status, 200, "{v}");
    let (status, _, body) = http(
        &env.web,
        "PUT",
        &format!("{}/files/h.txt", path_of(&url_b)),
        &[
            ("X-Sockit-Offset", "0"),
            ("X-Sockit-Size", "100"),
            ("X-Sockit-Blake3", &wrong),
        ],
        &bytes,
    )
    .await;
    assert!(status >= 400, "{}", String::from_utf8_lossy(&body));
    let log = env.share(&["log", &b["num"].to_string()]);
    assert!(log["uploads"].as_array().unwrap().is_empty(), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_that_never_finishes_holds_one_place_only() {
    // A rate far above what the loop below can ask: only the cap on
    // running uploads answers 429.
    let env = Env::start(&[
        "--share-uploads-per-ip",
        "1",
        "--share-upload-rate",
        "100000",
    ]);
    let link = upload_link(&env, &[":slow"]);
    let url = link["url"].as_str().unwrap().to_owned();
    let b3 = blake3::hash(&[0u8; 10_000]).to_hex().to_string();
    // Holds its PUT open, 100 bytes of 10,000 sent.
    let held = put_part(&env.web, &url, "slow.bin", 10_000, &b3, &[0u8; 100]).await;
    // Once the server has begun it (its partial shows in alice's store;
    // polled, bounded), its address's one place is taken.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = env.as_user("alice", &["ls", "--partial", ":slow"], b"");
        if String::from_utf8_lossy(&out.stdout).contains("slow.bin") {
            break;
        }
        assert!(Instant::now() < deadline, "never begun: {}", text(&out));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, head, body) = http(
        &env.web,
        "PUT",
        &format!("{}/files/other.bin", path_of(&url)),
        &[
            ("X-Sockit-Offset", "0"),
            ("X-Sockit-Size", "1"),
            ("X-Sockit-Blake3", &b3),
        ],
        b"x",
    )
    .await;
    assert_eq!(status, 429, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("running"), "{head}");
    // Once it goes away, its place is free again.
    drop(held);
    let f = local(&env, "ok.txt", 10, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, _, out) = send(&env, &url, &f);
        if code == Some(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the place never came back: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `sockit user ARGS --data DATA` against the running server's data
/// directory, as its operator would.
fn operator(env: &Env, args: &[&str]) {
    let data = env.srv.data();
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(["--data", data.to_str().unwrap()]);
    let out = common::run(&all, b"");
    assert!(out.status.success(), "user {args:?}: {}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_owners_links_stop_and_unlocking_brings_them_back() {
    let env = Env::start(&[]);
    let src = env.put("doc.bin", 50_000, 11);
    let share = env.share(&[":doc.bin", "--downloads", "5"]);
    let s_url = share["url"].as_str().unwrap().to_owned();
    let link = upload_link(&env, &[":inbox"]);
    let u_url = link["url"].as_str().unwrap().to_owned();
    // Bob's link, which alice's lock must not touch.
    let bob_src = local(&env, "bob.txt", 1000, 12);
    let out = env.as_user("bob", &["put", bob_src.to_str().unwrap(), ":bob.txt"], b"");
    assert!(out.status.success(), "{}", text(&out));
    let out = env.as_user("bob", &["share", ":bob.txt", "--json"], b"");
    assert!(out.status.success(), "{}", text(&out));
    let bob: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b_url = bob["url"].as_str().unwrap().to_owned();

    operator(&env, &["lock", "alice"]);
    // At once, with no sweep: the page, the details and the bytes are 403
    // with one line naming why, and so are the upload link's.
    for path in [
        path_of(&s_url),
        format!("{}/info", path_of(&s_url)),
        format!("{}/file", path_of(&s_url)),
        path_of(&u_url),
        format!("{}/info", path_of(&u_url)),
    ] {
        let (status, _, body) = get(&env.web, &path, &[]).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("the owner's account is locked"),
            "{path}: {body}"
        );
    }
    let dest = env.work().join("got.bin");
    let out = env.as_user("nobody", &["get", &s_url, dest.to_str().unwrap()], b"");
    let t = text(&out);
    assert!(!out.status.success() && !dest.exists(), "{t}");
    assert!(t.contains("the owner's account is locked"), "{t}");
    assert_eq!(t.trim().lines().count(), 1, "one line: {t}");
    let f = local(&env, "drop.txt", 2000, 13);
    let out = env.as_user("nobody", &["send", &u_url, f.to_str().unwrap()], b"");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("the owner's account is locked"), "{t}");
    assert_eq!(t.trim().lines().count(), 1, "one line: {t}");
    // A second user's link is not alice's: it still serves.
    let bob_dest = env.work().join("bob-got.txt");
    let out = env.as_user("nobody", &["get", &b_url, bob_dest.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&bob_dest), sha256(&bob_src));

    // Unlocked, both work again: nothing was used up meanwhile.
    operator(&env, &["unlock", "alice"]);
    let out = env.as_user("nobody", &["get", &s_url, dest.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&dest), sha256(&src));
    let (code, v, t) = send(&env, &u_url, &f);
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(v["name"], "drop.txt");
    env.login("alice"); // the lock ended her session
    assert_eq!(sha256(&fetched(&env, "inbox/drop.txt")), sha256(&f));
}

//! Share links end to end: a real server on port 0 with a web door, real
//! `sockit share` and `sockit get LINK` processes, and raw HTTP for what a
//! browser or an attacker sends.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::share::{Env, get, path_of, sha256, text};

#[tokio::test(flavor = "multi_thread")]
async fn a_share_downloads_anonymously_once_then_answers_gone() {
    let env = Env::start(&[]);
    let src = env.put("big.bin", 3 << 20, 7);
    let s = env.share(&[":big.bin"]);
    let url = s["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("http://{}/s/", env.web)), "{url}");
    assert_eq!(s["downloads_max"], 1);
    // The page and its details, for no account.
    let (status, head, body) = get(&env.web, &path_of(&url), &[]).await;
    assert_eq!(status, 200, "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    assert!(head.contains("script-src 'self'"), "{head}");
    assert!(!String::from_utf8_lossy(&body).contains("<script>"));
    // Fetched by someone with no login, verified, equal.
    let dest = env.work().join("got.bin");
    let out = env.as_user("nobody", &["get", &url, dest.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&dest), sha256(&src));
    // Its one download is spent: 410 for the page, the file and the CLI.
    let (status, _, body) = get(&env.web, &format!("{}/file", path_of(&url)), &[]).await;
    assert_eq!(status, 410);
    assert!(String::from_utf8_lossy(&body).contains("consumed"));
    let again = env.work().join("again.bin");
    let out = env.as_user("nobody", &["get", &url, again.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("consumed"), "{}", text(&out));
    assert!(!again.exists());
    let ls = env.share(&["ls"]);
    assert_eq!(ls["shares"][0]["state"], "consumed");
    assert_eq!(ls["shares"][0]["downloads"], 1);
    // Without --json: the link on the first line (no QR code on a pipe),
    // and `share ls` as lines.
    let out = env.as_user("alice", &["share", ":big.bin"], b"");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("http://{}/s/", env.web)),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{2580}') && !stdout.contains('\u{2588}'),
        "{stdout}"
    );
    assert!(
        stdout.contains("big.bin, 3145728 bytes, 0 of 1 downloads"),
        "{stdout}"
    );
    let out = env.as_user("alice", &["share", "ls"], b"");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("available") && stdout.contains("consumed"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_do_not_burn_a_download_and_a_resume_counts_once() {
    let env = Env::start(&[]);
    let src = env.put("r.bin", 1 << 20, 9);
    let s = env.share(&[":r.bin"]);
    let url = s["url"].as_str().unwrap().to_owned();
    let file = format!("{}/file", path_of(&url));
    // A 1-byte range, twice: still one download left.
    for _ in 0..2 {
        let (status, head, body) = get(&env.web, &file, &[("Range", "bytes=-1")]).await;
        assert_eq!(status, 206, "{head}");
        assert_eq!(body.len(), 1);
        let h = head.to_ascii_lowercase();
        assert!(h.contains("content-disposition: attachment"), "{h}");
        assert!(h.contains("x-content-type-options: nosniff"), "{h}");
        assert!(h.contains("content-security-policy: sandbox"), "{h}");
        assert!(
            h.contains(&format!(
                "content-range: bytes {}-{}/{}",
                (1 << 20) - 1,
                (1 << 20) - 1,
                1 << 20
            )),
            "{h}"
        );
    }
    let (status, _, info) = get(&env.web, &format!("{}/info", path_of(&url)), &[]).await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["downloads_left"], 1);
    // The first 100,000 bytes arrive, then the download breaks off: the
    // CLI's partial file holds them, and a rerun asks for the rest.
    let (status, _, first) = get(&env.web, &file, &[("Range", "bytes=0-99999")]).await;
    assert_eq!((status, first.len()), (206, 100_000));
    let dest = env.work().join("r.bin");
    std::fs::write(env.work().join("r.bin.sockit-part"), &first).unwrap();
    std::fs::write(
        env.work().join("r.bin.sockit-part.blake3"),
        s["blake3"].as_str().unwrap(),
    )
    .unwrap();
    let out = env.as_user(
        "nobody",
        &["get", &url, dest.to_str().unwrap(), "--json"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&dest), sha256(&src));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["received"],
        (1 << 20) - 100_000,
        "resumed, not restarted"
    );
    // That completed the one download.
    let (status, _, _) = get(&env.web, &format!("{}/info", path_of(&url)), &[]).await;
    assert_eq!(status, 410);
    // An out-of-range request is 416, not a download.
    let s2 = env.share(&[":r.bin"]);
    let file2 = format!("{}/file", path_of(s2["url"].as_str().unwrap()));
    let (status, head, _) = get(&env.web, &file2, &[("Range", "bytes=99999999-")]).await;
    assert_eq!(status, 416, "{head}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_expires_into_a_tombstone() {
    let env = Env::start(&["--share-max-expiry", "1"]);
    env.put("e.txt", 10, 1);
    let s = env.share(&[":e.txt"]);
    let info = format!("{}/info", path_of(s["url"].as_str().unwrap()));
    // Time passes (a second, the server's maximum): bounded, not a sleep
    // for readiness.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = get(&env.web, &info, &[]).await;
        if status == 410 {
            assert!(String::from_utf8_lossy(&body).contains("expired"));
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Asking for more than the maximum is refused with the limit named.
    let out = env.as_user("alice", &["share", ":e.txt", "--expires", "3d"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("limit"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_or_the_token_revokes() {
    let env = Env::start(&[]);
    env.put("v.txt", 100, 3);
    let s = env.share(&[":v.txt", "--downloads", "3"]);
    let url = s["url"].as_str().unwrap().to_owned();
    let num = s["num"].to_string();
    // Bob knows the number and the link: both are "no such share" to him.
    for which in [num.as_str(), url.as_str()] {
        let out = env.as_user("bob", &["share", "rm", which], b"");
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    }
    let (status, _, _) = get(&env.web, &format!("{}/info", path_of(&url)), &[]).await;
    assert_eq!(status, 200);
    let out = env.as_user("alice", &["share", "rm", &num], b"");
    assert!(out.status.success(), "{}", text(&out));
    let (status, _, body) = get(&env.web, &format!("{}/file", path_of(&url)), &[]).await;
    assert_eq!(status, 410);
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
    // The revoke token works for whoever holds it.
    let t = env.share(&[":v.txt"]);
    let out = env.as_user("bob", &["share", "rm", t["revoke"].as_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out));
    let (status, _, _) = get(&env.web, &path_of(t["url"].as_str().unwrap()), &[]).await;
    assert_eq!(status, 410);
}

#[tokio::test(flavor = "multi_thread")]
async fn guessed_ids_and_path_tricks_find_nothing() {
    let env = Env::start(&[]);
    env.put("secret.txt", 100, 4);
    env.share(&[":secret.txt"]);
    for path in [
        "/s/00000000000000000000000000000000",
        "/s/00000000000000000000000000000000/file",
        "/s/..%2f..%2fetc%2fpasswd/file",
        "/s/%2e%2e/file",
        "/s/secret.txt/file",
        "/s/1/file",
    ] {
        let (status, head, _) = get(&env.web, path, &[]).await;
        assert_eq!(status, 404, "{path}: {head}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_file_ends_its_share_and_limits_hold() {
    let env = Env::start(&["--share-max-downloads", "3"]);
    env.put("c.bin", 1000, 5);
    let s = env.share(&[":c.bin", "--downloads", "2"]);
    env.put("c.bin", 1000, 6);
    let (status, _, body) = get(
        &env.web,
        &format!("{}/file", path_of(s["url"].as_str().unwrap())),
        &[],
    )
    .await;
    assert_eq!(status, 410, "{}", String::from_utf8_lossy(&body));
    let out = env.as_user("alice", &["share", ":c.bin", "--downloads", "4"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("limit of 1 to 3"), "{}", text(&out));
    // Nothing at all cannot be shared.
    let out = env.as_user("alice", &["share", ":nope.txt"], b"");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // Anyone without a login gets nothing.
    let out = env.as_user("nobody", &["share", ":c.bin"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

//! `sockit get https://HOST/s/ID`: a share link from a web door on TLS,
//! its certificate checked as for `tls://` servers (`--fingerprint`,
//! `--ca`, else trust on first use in known_hosts).
#![allow(clippy::unwrap_used)]

mod common;

use common::share::{Env, get, path_of, sha256, text};

/// The fingerprint the server printed on start.
fn fingerprint(env: &Env) -> String {
    let line = env
        .srv
        .banner
        .iter()
        .find(|l| l.starts_with("tls certificate "))
        .unwrap();
    line.split_whitespace().nth(2).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_link_is_fetched_with_its_certificate_checked() {
    let env = Env::start(&["--web", "tls://127.0.0.1:0"]);
    let https = format!("https://{}", env.srv.sock("web", "tls://"));
    let src = env.put("t.bin", 200_000, 11);
    let link = |s: &serde_json::Value| format!("{https}{}", path_of(s["url"].as_str().unwrap()));
    // A wrong fingerprint: refused before a byte is asked for.
    let s = env.share(&[":t.bin"]);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let dest = env.work().join("wrong.bin");
    let out = env.as_user(
        "nobody",
        &[
            "get",
            &link(&s),
            dest.to_str().unwrap(),
            "--fingerprint",
            &wrong,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(!dest.exists());
    let (_, _, info) = get(
        &env.web,
        &format!("{}/info", path_of(s["url"].as_str().unwrap())),
        &[],
    )
    .await;
    assert!(String::from_utf8_lossy(&info).contains("\"downloads_left\":1"));
    // The right one: fetched and verified.
    let dest = env.work().join("right.bin");
    let fp = fingerprint(&env);
    let out = env.as_user(
        "nobody",
        &[
            "get",
            &link(&s),
            dest.to_str().unwrap(),
            "--fingerprint",
            &fp,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&dest), sha256(&src));
    // No flag: trusted on first use, remembered, and used again.
    for i in 0..2 {
        let s = env.share(&[":t.bin"]);
        let dest = env.work().join(format!("tofu{i}.bin"));
        let out = env.as_user("carol", &["get", &link(&s), dest.to_str().unwrap()], b"");
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(sha256(&dest), sha256(&src));
    }
}

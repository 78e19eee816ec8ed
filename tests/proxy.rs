//! Behind a reverse proxy: `--trusted-proxy` makes the web door count
//! login failures against the client address in `X-Forwarded-For`, so one
//! abuser behind the proxy no longer locks every other client out; an
//! untrusted peer's header changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::strip_scheme;
use common::web::{http, web_server_with};

/// One login through the "proxy": `xff` is the header it adds.
async fn login_via(host: &str, xff: &str, name: &str, password: &str) -> u16 {
    let body = format!(r#"{{"name":"{name}","password":"{password}"}}"#);
    let (status, _, _) = http(
        host,
        "POST",
        "/api/login",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", xff),
        ],
        &body,
    )
    .await;
    status
}

/// 20 failures (the per-address limit) under 20 names from one client,
/// then alice's right password from another client behind the same proxy.
async fn abuse_then_owner(host: &str) -> u16 {
    for i in 0..20 {
        let s = login_via(host, "198.51.100.66", &format!("ghost{i}"), "wrong guess").await;
        assert_eq!(s, 401, "failure {i}");
    }
    login_via(
        host,
        "6.6.6.6, 198.51.100.7",
        "alice",
        "correct horse battery",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_gets_a_login_budget_per_forwarded_client() {
    let srv = web_server_with(&["--trusted-proxy", "127.0.0.0/8"]);
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    assert_eq!(abuse_then_owner(&host).await, 200);
    // The abuser itself is locked out, by its own address.
    assert_eq!(
        login_via(&host, "198.51.100.66", "alice", "correct horse battery").await,
        429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_peer_cannot_pick_its_address() {
    let srv = web_server_with(&["--trusted-proxy", "10.0.0.0/8"]);
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    // The header is ignored: all 21 attempts come from 127.0.0.1, which
    // is locked out after 20, whatever it claims to forward.
    assert_eq!(abuse_then_owner(&host).await, 429);
}

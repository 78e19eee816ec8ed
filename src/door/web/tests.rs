//! The web door's routes, called with `oneshot` requests (no sockets).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::service::accounts::{Accounts, AccountsConfig, HashParams};

/// An account store in `dir` with cheap hashing and the given users, all
/// with the password "correct horse battery".
pub(in crate::door::web) fn accounts_with(dir: &std::path::Path, users: &[&str]) -> Accounts {
    let cfg = AccountsConfig {
        hash: HashParams {
            m_kib: 256,
            t: 1,
            p: 1,
        },
        ..AccountsConfig::default()
    };
    let accounts = Accounts::open(dir, cfg).unwrap();
    for user in users {
        accounts.add_user(user, "correct horse battery").unwrap();
    }
    accounts
}

fn state(dir: &std::path::Path) -> WebState {
    let accounts = accounts_with(dir, &["alice"]);
    WebState {
        services: Services {
            accounts: Some(accounts),
            ..Services::default()
        },
        info: Arc::new(ServerInfo::default()),
        secure: false,
        ping: crate::door::web::DEFAULT_PING,
        idle: Default::default(),
        hosts: Default::default(),
    }
}

fn req(method: &str, uri: &str, body: Option<&str>) -> axum::http::request::Builder {
    let b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost:8080");
    let b = if body.is_some() {
        b.header(header::CONTENT_TYPE, "application/json")
    } else {
        b
    };
    b.extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5555))))
}

async fn send(
    app: &Router,
    r: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let res = app.clone().oneshot(r).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (parts.status, parts.headers, json)
}

const GOOD: &str = r#"{"name":"alice","password":"correct horse battery"}"#;

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_that_whoami_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    let (status, headers, body) = send(
        &app,
        req("POST", "/api/login", Some(GOOD))
            .body(GOOD.into())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], "alice");
    let set = headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "no Secure without TLS: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    let (status, _, body) = send(
        &app,
        req("GET", "/api/whoami", None)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"], "alice");

    let (status, headers, _) = send(
        &app,
        req("POST", "/api/logout", Some("{}"))
            .header(header::COOKIE, &cookie)
            .body("{}".into())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _, body) = send(
        &app,
        req("GET", "/api/whoami", None)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    let mut answers = Vec::new();
    for body in [
        r#"{"name":"alice","password":"wrong password"}"#,
        r#"{"name":"nobody","password":"wrong password"}"#,
    ] {
        let (status, headers, json) = send(
            &app,
            req("POST", "/api/login", Some(body))
                .body(body.to_owned().into())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.get(header::SET_COOKIE).is_none());
        answers.push(json);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0]["code"], "invalid_credentials");
}

#[tokio::test]
async fn cross_site_and_non_json_posts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    // A forged cross-site POST (the browser adds the attacker's Origin).
    let (status, headers, _) = send(
        &app,
        req("POST", "/api/login", Some(GOOD))
            .header(header::ORIGIN, "https://evil.example")
            .body(GOOD.into())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get(header::SET_COOKIE).is_none());
    // A plain HTML form cannot send JSON.
    let form = Request::builder()
        .method("POST")
        .uri("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5555))))
        .body(Body::from("name=alice&password=x"))
        .unwrap();
    let (status, _, _) = send(&app, form).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Same-origin requests pass.
    let (status, _, _) = send(
        &app,
        req("POST", "/api/login", Some(GOOD))
            .header(header::ORIGIN, "http://localhost:8080")
            .body(GOOD.into())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    let huge = format!(r#"{{"name":"alice","password":"{}"}}"#, "x".repeat(100_000));
    let (status, _, _) = send(
        &app,
        req("POST", "/api/login", Some(&huge))
            .body(huge.clone().into())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = send(
        &app,
        req("POST", "/api/login", Some("{"))
            .body("{".into())
            .unwrap(),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let long = format!(r#"{{"name":"alice","password":"{}"}}"#, "x".repeat(5_000));
    let (status, _, body) = send(
        &app,
        req("POST", "/api/login", Some(&long))
            .body(long.clone().into())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn page_and_assets_are_embedded_with_safe_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    let res = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    let html = res.into_body().collect().await.unwrap().to_bytes();
    assert!(
        std::str::from_utf8(&html)
            .unwrap()
            .contains("/assets/app.js")
    );
    for (path, kind) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/files.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
    ] {
        let res = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    let res = app
        .clone()
        .oneshot(
            Request::get("/assets/..%2fCargo.toml")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn websocket_upgrade_needs_a_session_and_the_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    let ws = |b: axum::http::request::Builder| {
        b.header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, _) = send(&app, ws(req("GET", "/ws", None))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &app,
        ws(req("GET", "/ws", None).header(header::ORIGIN, "https://evil.example")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_download_worker_is_served_from_its_scope_and_a_miss_stays_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()));
    let res = app
        .clone()
        .oneshot(req("GET", "/dl/sw.js", None).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'none'");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // Served from /dl/, so no wider scope is possible without a
    // Service-Worker-Allowed header, which it never sends.
    assert!(h.get("service-worker-allowed").is_none());
    let js = res.into_body().collect().await.unwrap().to_bytes();
    assert!(
        std::str::from_utf8(&js)
            .unwrap()
            .contains("sockit-download")
    );
    // A download the worker did not take reaches the server: no content,
    // so the browser stays on the page (and the server has no bytes).
    let (status, headers, body) = send(
        &app,
        req("GET", "/dl/0123456789abcdef0123456789abcdef", None)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body, serde_json::Value::Null);
}

#[test]
fn the_link_pages_share_one_head() {
    for page in [super::assets::SHARE_PAGE, super::assets::UPLOAD_PAGE] {
        assert!(page.starts_with("<!doctype html>"));
        for once in [
            "<head>",
            "</head>",
            "/assets/style.css",
            "/assets/blake3.js",
            "no-referrer",
            "<title>",
        ] {
            assert_eq!(page.matches(once).count(), 1, "{once} in {page}");
        }
        assert!(page.find("</head>") < page.find("<body>"));
    }
    assert!(super::assets::SHARE_PAGE.contains("/assets/share.js"));
    assert!(super::assets::UPLOAD_PAGE.contains("/assets/upload.js"));
}

//! The files routes, called with `oneshot` requests against a real store
//! in a temporary directory (small limits, so "too large" is cheap). Here
//! the helpers and the round trip; `refusals.rs` what a stranger, a forger
//! and a bad upload get.

mod refusals;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use super::super::{WebState, router};
use crate::service::Services;
use crate::service::files::ENTRY_CHARGE;
use crate::service::files::{FileStore, FilesConfig};
use crate::wire::ServerInfo;

const HOST: &str = "localhost:8080";
const MAX_FILE: u64 = 300 * 1024;
const QUOTA: u64 = 400 * 1024;

fn app(dir: &std::path::Path) -> Router {
    let accounts = super::super::tests::accounts_with(dir, &["alice", "bob"]);
    let files = FilesConfig {
        max_file: MAX_FILE,
        quota: QUOTA,
        // Smaller than the door's chunk: uploads take several writes.
        max_chunk: 64 * 1024,
        ..FilesConfig::default()
    };
    let (store, _) = FileStore::open(dir, files).unwrap();
    router(WebState {
        services: Services {
            accounts: Some(accounts),
            files: Some(store),
            ..Services::default()
        },
        info: Arc::new(ServerInfo::default()),
        secure: false,
        ping: crate::door::web::DEFAULT_PING,
        idle: Default::default(),
        hosts: Default::default(),
    })
}

/// A response: status, headers, body bytes.
struct Res {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Res {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

async fn send(app: &Router, r: Request<Body>) -> Res {
    let res = app.clone().oneshot(r).await.unwrap();
    let (parts, body) = res.into_parts();
    Res {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

fn req(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST)
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5555))))
}

async fn login(app: &Router, name: &str) -> String {
    let body = format!(r#"{{"name":"{name}","password":"correct horse battery"}}"#);
    let res = send(
        app,
        req("POST", "/api/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let set = res.headers[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// A same-origin upload as the page sends it.
fn put(uri: &str, cookie: &str, bytes: &[u8]) -> Request<Body> {
    req("PUT", uri)
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header("x-sockit", "1")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(Body::from(bytes.to_vec()))
        .unwrap()
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    req("GET", uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn delete(uri: &str, cookie: &str) -> Request<Body> {
    req("DELETE", uri)
        .header(header::COOKIE, cookie)
        .header("x-sockit", "1")
        .body(Body::empty())
        .unwrap()
}

fn names(listing: &serde_json::Value) -> Vec<String> {
    listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

#[tokio::test]
async fn upload_list_download_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cookie = login(&app, "alice").await;
    // Over the 64 KiB JSON limit and several store chunks.
    let data = random(200 * 1024 + 7);
    let res = send(
        &app,
        put(
            "/api/files/docs/r%C3%A9sum%C3%A9%20%281%29%20%26%20co.bin",
            &cookie,
            &data,
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.json());
    let b3 = blake3::hash(&data).to_hex().to_string();
    assert_eq!(res.json()["blake3"], b3.as_str());
    assert_eq!(res.json()["path"], "docs/résumé (1) & co.bin");

    let list = send(&app, get("/api/files", &cookie)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(names(&list.json()), ["docs"]);
    assert_eq!(list.json()["max_file"], MAX_FILE);
    let list = send(&app, get("/api/files?dir=docs", &cookie)).await.json();
    assert_eq!(names(&list), ["résumé (1) & co.bin"]);
    assert_eq!(list["entries"][0]["size"], data.len());
    // Each file counts at least 4 KiB, each directory 4 KiB (docs/).
    let charged = data.len().max(ENTRY_CHARGE as usize) + ENTRY_CHARGE as usize;
    assert_eq!(list["used"], charged);

    let res = send(
        &app,
        get(
            "/api/files/docs/r%C3%A9sum%C3%A9%20%281%29%20%26%20co.bin",
            &cookie,
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body == data, "downloaded bytes differ");
    let h = |n: &str| res.headers[n].to_str().unwrap().to_owned();
    assert_eq!(h("content-length"), data.len().to_string());
    assert_eq!(h("x-sockit-blake3"), b3);
    assert_eq!(
        h("content-disposition"),
        "attachment; filename=\"r_sum_ (1) & co.bin\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29%20&%20co.bin"
    );

    // Bob sees none of it.
    let bob = login(&app, "bob").await;
    let res = send(
        &app,
        get(
            "/api/files/docs/r%C3%A9sum%C3%A9%20%281%29%20%26%20co.bin",
            &bob,
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let res = send(&app, delete("/api/files/docs", &cookie)).await;
    assert_eq!(
        res.status,
        StatusCode::CONFLICT,
        "non-empty needs recursive"
    );
    let res = send(&app, delete("/api/files/docs?recursive=true", &cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.json());
    assert_eq!(res.json()["files"], 1);
    let list = send(&app, get("/api/files", &cookie)).await.json();
    assert!(names(&list).is_empty());
    assert_eq!(list["used"], 0);
    let res = send(&app, get("/api/files/docs/x", &cookie)).await;
    assert_eq!(
        (res.status, res.json()["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[test]
fn content_disposition_cannot_be_broken_out_of() {
    let v = super::content_disposition("a\"; filename=evil.sh\r\n\\x/.txt");
    assert!(axum::http::HeaderValue::from_str(&v).is_ok());
    assert_eq!(
        v,
        "attachment; filename=\"a__ filename=evil.sh___x_.txt\"; \
         filename*=UTF-8''a%22%3B%20filename%3Devil.sh%0D%0A%5Cx%2F.txt"
    );
}

//! What the files routes refuse, and that a refusal changes nothing: no
//! login, a forged cross-site write, path tricks, too large, an existing
//! file, a wrong SHA-256 or a short body.

use super::*;

#[tokio::test]
async fn unauthenticated_requests_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    for r in [
        get("/api/files", "sockit_session=nope"),
        req("GET", "/api/files/a").body(Body::empty()).unwrap(),
        put("/api/files/a", "other=1", b"hello"),
        delete("/api/files/a", "sockit_session=00"),
    ] {
        let res = send(&app, r).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["code"], "unauthenticated");
    }
}

#[tokio::test]
async fn forged_cross_site_writes_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cookie = login(&app, "alice").await;
    let mut cross = put("/api/files/a", &cookie, b"hello");
    cross
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    // What a plain HTML form could send: no custom header.
    let mut no_header = put("/api/files/a", &cookie, b"hello");
    no_header.headers_mut().remove("x-sockit");
    let mut no_header_delete = delete("/api/files/a", &cookie);
    no_header_delete.headers_mut().remove("x-sockit");
    for r in [cross, no_header, no_header_delete] {
        let res = send(&app, r).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{:?}", res.json());
        assert_eq!(res.json()["code"], "forbidden");
    }
    let list = send(&app, get("/api/files", &cookie)).await.json();
    assert!(names(&list).is_empty());
}

#[tokio::test]
async fn path_tricks_get_400_and_nothing_lands_outside() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cookie = login(&app, "alice").await;
    for uri in [
        "/api/files/..%2Fescape",
        "/api/files/%2E%2E/escape",
        "/api/files/a/../../escape",
        "/api/files/%2Fetc%2Fescape",
        "/api/files/a%00b",
        "/api/files/a%5C..%5Cescape",
    ] {
        let res = send(&app, put(uri, &cookie, b"x")).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {:?}",
            res.json()
        );
        assert_eq!(res.json()["code"], "bad_path", "{uri}");
    }
    let res = send(&app, get("/api/files?dir=..%2F..", &cookie)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["code"], "bad_path");
    let res = send(&app, get("/api/files/..%2F..%2Fusers.db", &cookie)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let stray: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("escape"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[tokio::test]
async fn too_large_and_over_quota_get_413_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cookie = login(&app, "alice").await;
    let res = send(
        &app,
        put("/api/files/big", &cookie, &random(MAX_FILE as usize + 1)),
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["code"], "too_large");
    let fits = random(MAX_FILE as usize);
    assert_eq!(
        send(&app, put("/api/files/one", &cookie, &fits))
            .await
            .status,
        StatusCode::CREATED
    );
    let res = send(&app, put("/api/files/two", &cookie, &fits)).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["code"], "quota_exceeded");
}

#[tokio::test]
async fn an_existing_file_is_replaced_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cookie = login(&app, "alice").await;
    assert_eq!(
        send(&app, put("/api/files/a.txt", &cookie, b"first"))
            .await
            .status,
        StatusCode::CREATED
    );
    let res = send(&app, put("/api/files/a.txt", &cookie, b"second")).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "conflict");
    assert!(res.json()["message"].as_str().unwrap().contains("replace"));
    assert_eq!(
        send(&app, get("/api/files/a.txt", &cookie)).await.body,
        b"first"
    );
    let res = send(
        &app,
        put("/api/files/a.txt?replace=true", &cookie, b"second"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["replaced"], true);
    assert_eq!(
        send(&app, get("/api/files/a.txt", &cookie)).await.body,
        b"second"
    );
}

#[tokio::test]
async fn a_wrong_sha256_or_a_short_body_publishes_nothing_and_frees_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let cookie = login(&app, "alice").await;
    let data = random(100 * 1024);
    let mut r = put("/api/files/s.bin", &cookie, &data);
    r.headers_mut()
        .insert("x-sockit-sha256", hex::encode([7u8; 32]).parse().unwrap());
    let res = send(&app, r).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["code"], "verify_failed");

    let mut r = put("/api/files/s.bin", &cookie, &data);
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, (data.len() + 10).into());
    let res = send(&app, r).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("cut short")
    );

    let list = send(&app, get("/api/files", &cookie)).await.json();
    assert!(names(&list).is_empty());
    assert_eq!(list["used"], 0, "an aborted upload holds no quota");

    let mut r = put("/api/files/s.bin", &cookie, &data);
    let sha = hex::encode(Sha256::digest(&data));
    r.headers_mut()
        .insert("x-sockit-sha256", sha.parse().unwrap());
    assert_eq!(send(&app, r).await.status, StatusCode::CREATED);
}

//! Folder shares end to end: `sockit share FOLDER`, the page's details,
//! each file and the tar archive over raw HTTP, `sockit get LINK` file by
//! file and resumed, and the download counted once per whole set.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::share::{Env, get, path_of, sha256, text};

/// alice's `photos/`: three files; the local copies by path in the share.
fn photos(env: &Env) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("a.bin", env.put("photos/a.bin", 300_000, 1)),
        ("c.txt", env.put("photos/c.txt", 10, 3)),
        ("sub/b.bin", env.put("photos/sub/b.bin", 1 << 20, 2)),
    ]
}

fn untar(tar: &[u8], into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let file = into.join("all.tar");
    std::fs::write(&file, tar).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&file)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(out.status.success(), "tar: {out:?}");
}

async fn info(env: &Env, url: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = get(&env.web, &format!("{}/info", path_of(url)), &[]).await;
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_is_fetched_by_the_cli_and_as_a_tar_counting_once_per_set() {
    let env = Env::start(&[]);
    let files = photos(&env);
    let s = env.share(&[":photos", "--downloads", "2"]);
    assert_eq!(s["files"], 3);
    assert_eq!(s["file_size"], 300_000 + 10 + (1 << 20));
    let url = s["url"].as_str().unwrap().to_owned();
    // The page lists names, sizes and hashes, in order.
    let (status, i) = info(&env, &url).await;
    assert_eq!(status, 200);
    assert_eq!(i["kind"], "dir");
    assert_eq!(i["name"], "photos");
    let listed: Vec<&str> = i["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["a.bin", "c.txt", "sub/b.bin"]);
    // No account: the CLI fetches the folder into DEST/photos/, verified.
    let out = env.as_user("nobody", &["get", &url, env.work().to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 files"), "{}", text(&out));
    for (rel, src) in &files {
        assert_eq!(sha256(&env.work().join("photos").join(rel)), sha256(src));
    }
    let (_, i) = info(&env, &url).await;
    assert_eq!(i["downloads_left"], 1, "the whole set counted once");
    // The archive: a tar that tar reads, with the folder's own name.
    let (status, head, tar) = get(&env.web, &format!("{}/archive", path_of(&url)), &[]).await;
    assert_eq!(status, 200, "{head}");
    let h = head.to_ascii_lowercase();
    assert!(h.contains("content-type: application/x-tar"), "{h}");
    assert!(h.contains("filename=\"photos.tar\""), "{h}");
    assert!(h.contains(&format!("content-length: {}", tar.len())), "{h}");
    assert!(h.contains("referrer-policy: no-referrer"), "{h}");
    let out = env.work().join("untarred");
    untar(&tar, &out);
    for (rel, src) in &files {
        assert_eq!(sha256(&out.join("photos").join(rel)), sha256(src));
    }
    // That was the second and last download.
    let (status, i) = info(&env, &url).await;
    assert_eq!(status, 410);
    assert!(i["message"].as_str().unwrap().contains("consumed"));
    let ls = env.share(&["ls"]);
    assert_eq!(ls["shares"][0]["downloads"], 2);
    assert_eq!(ls["shares"][0]["files"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_resumes_by_file_and_by_archive_range_without_burning_downloads() {
    let env = Env::start(&[]);
    let files = photos(&env);
    let s = env.share(&[":photos"]);
    let url = s["url"].as_str().unwrap().to_owned();
    let archive = format!("{}/archive", path_of(&url));
    // A 1-byte range of the archive, and of a file: no download spent.
    let (status, _, one) = get(&env.web, &archive, &[("Range", "bytes=-1")]).await;
    assert_eq!((status, one.len()), (206, 1));
    let b = format!("{}/files/2", path_of(&url));
    let (status, _, one) = get(&env.web, &b, &[("Range", "bytes=0-0")]).await;
    assert_eq!((status, one.len()), (206, 1));
    assert_eq!(info(&env, &url).await.1["downloads_left"], 1);
    // The archive in two ranges from one address: the same bytes as whole,
    // and the set completes with the second.
    let (status, head, first) = get(&env.web, &archive, &[("Range", "bytes=0-400000")]).await;
    assert_eq!((status, first.len()), (206, 400_001), "{head}");
    assert_eq!(info(&env, &url).await.1["downloads_left"], 1);
    let (status, head, rest) = get(&env.web, &archive, &[("Range", "bytes=400001-")]).await;
    assert_eq!(status, 206, "{head}");
    let mut tar = first;
    tar.extend_from_slice(&rest);
    let out = env.work().join("resumed");
    untar(&tar, &out);
    for (rel, src) in &files {
        assert_eq!(sha256(&out.join("photos").join(rel)), sha256(src));
    }
    assert_eq!(info(&env, &url).await.0, 410, "counted when complete");

    // The CLI resumes a set: one file done, one partial, one to go.
    let s = env.share(&[":photos"]);
    let url = s["url"].as_str().unwrap().to_owned();
    let dest = env.work().join("again");
    let root = dest.join("photos");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy(&files[0].1, root.join("a.bin")).unwrap();
    let (_, _, half) = get(
        &env.web,
        &format!("{}/files/2", path_of(&url)),
        &[("Range", "bytes=0-99999")],
    )
    .await;
    // The first file, as an earlier run fetched it from this address.
    get(&env.web, &format!("{}/files/0", path_of(&url)), &[]).await;
    std::fs::write(root.join("sub/b.bin.sockit-part"), &half).unwrap();
    let (_, i) = info(&env, &url).await;
    std::fs::write(
        root.join("sub/b.bin.sockit-part.blake3"),
        i["files"][2]["blake3"].as_str().unwrap(),
    )
    .unwrap();
    let out = env.as_user(
        "nobody",
        &["get", &url, dest.to_str().unwrap(), "--json"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["received"], 10 + (1 << 20) - 100_000, "resumed");
    assert_eq!(summary["files"], 3);
    for (rel, src) in &files {
        assert_eq!(sha256(&root.join(rel)), sha256(src));
    }
    assert_eq!(info(&env, &url).await.0, 410, "the set counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn folder_links_refuse_tricks_and_end_when_a_file_changes() {
    let env = Env::start(&[]);
    photos(&env);
    let s = env.share(&[":photos", "--downloads", "5"]);
    let p = path_of(s["url"].as_str().unwrap());
    for bad in [
        "/files/3",
        "/files/-1",
        "/files/abc",
        "/files/..%2f..",
        "/file",
    ] {
        let (status, head, _) = get(&env.web, &format!("{p}{bad}"), &[]).await;
        assert_eq!(status, 404, "{bad}: {head}");
    }
    let (status, _, body) = get(&env.web, &format!("{p}/file"), &[]).await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("/archive"));
    // A file share has no archive.
    let f = env.share(&[":photos/c.txt"]);
    let (status, _, _) = get(
        &env.web,
        &format!("{}/archive", path_of(f["url"].as_str().unwrap())),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    // An empty folder is refused; bob has no photos of his own.
    let out = env.as_user("alice", &["mkdir", ":empty"], b"");
    assert!(out.status.success(), "{}", text(&out));
    let out = env.as_user("alice", &["share", ":empty"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no files"), "{}", text(&out));
    let out = env.as_user("bob", &["share", ":photos"], b"");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // Adding a file later changes nothing (a snapshot); changing one ends
    // the share as revoked, for each file and for the archive.
    env.put("photos/new.txt", 5, 9);
    let (status, i) = info(&env, s["url"].as_str().unwrap()).await;
    assert_eq!((status, i["files"].as_array().unwrap().len()), (200, 3));
    env.put("photos/c.txt", 10, 4);
    let (status, _, body) = get(&env.web, &format!("{p}/files/1"), &[]).await;
    assert_eq!(status, 410, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
    for rest in ["/archive", "/files/0"] {
        let (status, _, _) = get(&env.web, &format!("{p}{rest}"), &[]).await;
        assert_eq!(status, 410, "{rest}");
    }
}

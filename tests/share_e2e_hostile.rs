//! `sockit get` on an end-to-end encrypted link served by a hostile (or
//! broken) server: a small HTTP server in this test serves ciphertext
//! sealed here with the library, altered, truncated, reordered or cut off
//! mid-way. Each alteration fails with a clear line and leaves no file; a
//! cut-off fetch resumes at the first record it had not written.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use sockit::client::e2e::{Header, LinkKey, Metadata, RECORD, TAG_LEN, seal_all, seal_meta};

const ID: &str = "0123456789abcdef0123456789abcdef";

/// What the fake serves, and the `Range` starts it was asked for.
struct Fake {
    body: Vec<u8>,
    meta: String,
    /// Bytes of the next `/file` answer after which to hang up.
    cut: Option<usize>,
    ranges: Vec<u64>,
}

/// Serves `/s/ID/info` and `/s/ID/file` (with `Range: bytes=N-`) on a
/// loopback port; returns its `HOST:PORT`.
fn serve(fake: Arc<Mutex<Fake>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let mut conn = conn.unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let (mut path, mut from) = (String::new(), 0u64);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(p) = line.strip_prefix("GET ") {
                    path = p.split(' ').next().unwrap().to_owned();
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    from = v.trim().trim_end_matches('-').parse().unwrap();
                }
            }
            let mut f = fake.lock().unwrap();
            let (status, body) = if path.ends_with("/info") {
                let info = serde_json::json!({
                    "name": "stored-name", "file_size": f.body.len(),
                    "blake3": blake3::hash(&f.body).to_hex().to_string(),
                    "expires": 0, "downloads_left": 1, "e2e": f.meta,
                });
                ("200 OK", info.to_string().into_bytes())
            } else {
                f.ranges.push(from);
                let status = if from > 0 {
                    "206 Partial Content"
                } else {
                    "200 OK"
                };
                (status, f.body[from as usize..].to_vec())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let cut = if path.ends_with("/file") {
                f.cut.take()
            } else {
                None
            };
            let send = &body[..cut.unwrap_or(body.len())];
            let _ = conn
                .write_all(head.as_bytes())
                .and_then(|()| conn.write_all(send));
        }
    });
    addr
}

struct Case {
    plain: Vec<u8>,
    sealed: Vec<u8>,
    header: Header,
    key: LinkKey,
    meta: String,
}

fn case() -> Case {
    let plain = common::random_bytes(5 * RECORD as usize + 1234, 9);
    let key = LinkKey([7; 32]);
    let header = Header::random(RECORD).unwrap();
    let sealed = seal_all(&key, &header, &plain);
    let m = Metadata {
        name: "f.bin".into(),
        size: plain.len() as u64,
        sha256: hex::encode(Sha256::digest(&plain)),
    };
    let meta = hex::encode(seal_meta(&key, &m).unwrap());
    Case {
        plain,
        sealed,
        header,
        key,
        meta,
    }
}

/// `SOCKIT_LINK=... sockit get LINK-without-key DIR` against `addr`.
fn get(addr: &str, key: &LinkKey, dir: &Path) -> Output {
    let bare = format!("http://{addr}/s/{ID}");
    let link = format!("{bare}#{}", key.to_fragment());
    let cfg = dir.join("cfg");
    common::run_env(
        &["get", &bare, dir.to_str().unwrap(), "--timeout", "10"],
        b"",
        &[
            ("SOCKIT_LINK", Path::new(&link)),
            ("SOCKIT_CONFIG_DIR", &cfg),
        ],
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Serves `body` in place of the real ciphertext; expects exit 6 with
/// `says` and nothing in the destination.
fn refused(c: &Case, body: Vec<u8>, says: &str) {
    let fake = Arc::new(Mutex::new(Fake {
        body,
        meta: c.meta.clone(),
        cut: None,
        ranges: Vec::new(),
    }));
    let addr = serve(fake);
    let dir = tempfile::tempdir().unwrap();
    let out = get(&addr, &c.key, dir.path());
    assert_eq!(out.status.code(), Some(6), "{says}: {out:?}");
    assert!(stderr(&out).contains(says), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.iter().all(|n| n == "cfg"), "{says}: left {left:?}");
}

#[test]
fn altered_truncated_and_reordered_ciphertext_fail_and_leave_nothing() {
    let c = case();
    let at = |i: u64| c.header.offset(i) as usize;
    let rec = RECORD as usize + TAG_LEN;
    // One bit of record 2.
    let mut t = c.sealed.clone();
    t[at(2) + 10] ^= 0x40;
    refused(&c, t, "record 2 failed authentication");
    // Records 0 and 1 swapped.
    let mut t = c.sealed.clone();
    t[at(0)..at(0) + rec].copy_from_slice(&c.sealed[at(1)..at(1) + rec]);
    t[at(1)..at(1) + rec].copy_from_slice(&c.sealed[at(0)..at(0) + rec]);
    refused(&c, t, "record 0 failed authentication");
    // The last record dropped, and one of full size appended instead of
    // the short last: sizes the sealed metadata rules out.
    refused(&c, c.sealed[..at(5)].to_vec(), "truncated or padded");
    let mut t = c.sealed.clone();
    t.extend_from_slice(&c.sealed[at(1)..at(2)]);
    refused(&c, t, "truncated or padded");
    // A header of another record size.
    let mut t = c.sealed.clone();
    t[8..12].copy_from_slice(&(RECORD / 2).to_be_bytes());
    refused(&c, t, "truncated or padded");
}

#[test]
fn a_cut_off_fetch_resumes_at_the_first_missing_record() {
    let c = case();
    let fake = Arc::new(Mutex::new(Fake {
        body: c.sealed.clone(),
        meta: c.meta.clone(),
        // Part-way through record 3: records 0..3 are written.
        cut: Some(c.header.offset(3) as usize + 500),
        ranges: Vec::new(),
    }));
    let addr = serve(fake.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = get(&addr, &c.key, dir.path());
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(stderr(&out).contains("again to resume"), "{}", stderr(&out));
    let part = dir.path().join("f.bin.sockit-part");
    assert_eq!(
        std::fs::metadata(&part).unwrap().len(),
        3 * u64::from(RECORD)
    );
    assert!(!dir.path().join("f.bin").exists());
    let out = get(&addr, &c.key, dir.path());
    common::ok(&out);
    assert_eq!(std::fs::read(dir.path().join("f.bin")).unwrap(), c.plain);
    assert_eq!(fake.lock().unwrap().ranges, vec![0, c.header.offset(3)]);
    assert!(!part.exists());
}

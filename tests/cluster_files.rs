//! Files on a cluster: nodes sharing one throw-away PostgreSQL
//! (tests/common/pg.rs). End to end, real `sockit serve` nodes on port 0
//! and real `sockit put/get/ls` processes: a file put on one node is got
//! byte-equal from the other, and a put killed mid-way on one node resumes
//! on the other. Through the library, two stores on the same database
//! stand for two nodes: nothing visible before complete, a wrong hash
//! never publishes, quotas hold across nodes, a running upload is busy
//! everywhere, the sweep, and importing a disk data directory.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::pg::Pg;
use common::{Server, bin, ok, random_bytes, run_env};
use sockit::service::files::{
    EntryKind, FileError, FileStore, FilesConfig, UploadRequest, import_dir,
};
use sockit::wire::ErrorCode;

const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";
/// Bound on waiting for an upload to reach some point (a hang, not a sleep).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A node on `pg`, whose shared accounts hold `alice`.
fn node(pg: &Pg, extra: &[&str]) -> (Server, String) {
    let url = pg.url();
    let mut args = vec![
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP,
        "--store",
        &url,
    ];
    args.extend_from_slice(extra);
    let srv = Server::start(&args);
    pg.add_user("alice", PASS);
    let addr = srv.addr("framed", "tcp://");
    (srv, addr)
}

/// A CLI configuration directory logged in to `addr` as alice.
fn login(home: &Path, name: &str, addr: &str) -> PathBuf {
    let cfg = home.join(name);
    let out = sockit(
        &cfg,
        addr,
        &["login", addr, "--user", "alice", "--password-stdin"],
        PASS,
    );
    assert!(out.status.success(), "login: {out:?}");
    cfg
}

fn sockit(cfg: &Path, addr: &str, args: &[&str], stdin: &str) -> Output {
    let stdin = format!("{stdin}\n");
    run_env(
        args,
        stdin.as_bytes(),
        &[
            ("SOCKIT_CONFIG_DIR", cfg),
            ("SOCKIT_SERVER", Path::new(addr)),
        ],
    )
}

fn spawn(cfg: &Path, addr: &str, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .env("SOCKIT_CONFIG_DIR", cfg)
        .env("SOCKIT_SERVER", addr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn put_on_one_node_is_got_from_the_other_and_a_killed_put_resumes_there() {
    let pg = Pg::start();
    let (_a, addr_a) = node(&pg, &[]);
    let (_b, addr_b) = node(&pg, &[]);
    let home = tempfile::tempdir().unwrap();
    let cfg_a = login(home.path(), "a", &addr_a);
    let cfg_b = login(home.path(), "b", &addr_b);

    // Put on A, get on B: byte-equal, and listed on B.
    let small = home.path().join("small.bin");
    let content = random_bytes(9 << 20 | 12_345, 7);
    std::fs::write(&small, &content).unwrap();
    ok(&sockit(
        &cfg_a,
        &addr_a,
        &["put", small.to_str().unwrap()],
        "",
    ));
    let back = home.path().join("small.back");
    ok(&sockit(
        &cfg_b,
        &addr_b,
        &["get", ":small.bin", back.to_str().unwrap()],
        "",
    ));
    assert!(
        std::fs::read(&back).unwrap() == content,
        "B served other bytes"
    );
    let ls = ok(&sockit(&cfg_b, &addr_b, &["ls"], ""));
    assert!(ls.contains("small.bin"), "{ls}");
    // A folder made on A, the file moved into it on B, listed there on A.
    ok(&sockit(&cfg_a, &addr_a, &["mkdir", ":docs"], ""));
    ok(&sockit(
        &cfg_b,
        &addr_b,
        &["mv", ":small.bin", ":docs/"],
        "",
    ));
    let ls = ok(&sockit(&cfg_a, &addr_a, &["ls", ":docs"], ""));
    assert!(ls.contains("small.bin"), "{ls}");
    ok(&sockit(
        &cfg_a,
        &addr_a,
        &["mv", ":docs/small.bin", ":small.bin"],
        "",
    ));

    // A put killed mid-way on A (the connection drops; A pauses it)...
    let big = home.path().join("big.bin");
    let content = random_bytes(192 << 20, 11);
    std::fs::write(&big, &content).unwrap();
    let mut child = spawn(&cfg_a, &addr_a, &["put", big.to_str().unwrap()]);
    let start = Instant::now();
    while pg
        .psql("SELECT coalesce(max(held), 0) FROM files_uploads")
        .parse::<u64>()
        .unwrap()
        < 8 << 20
    {
        assert!(
            start.elapsed() < WAIT_LIMIT,
            "the upload never reached 8 MiB"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // ... is visible nowhere, only as an unfinished upload on both nodes.
    let wait_paused = Instant::now();
    while pg.psql("SELECT count(*) FROM files_uploads WHERE lease IS NULL") != "1" {
        assert!(
            wait_paused.elapsed() < WAIT_LIMIT,
            "A never paused the upload"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ls = ok(&sockit(&cfg_b, &addr_b, &["ls"], ""));
    assert!(
        !ls.contains("big.bin"),
        "an unfinished file is listed: {ls}"
    );
    let miss = sockit(
        &cfg_b,
        &addr_b,
        &["get", ":big.bin", home.path().join("x").to_str().unwrap()],
        "",
    );
    assert!(!miss.status.success(), "an unfinished file was served");
    let partial = ok(&sockit(&cfg_b, &addr_b, &["ls", "--partial"], ""));
    assert!(partial.contains("big.bin"), "{partial}");

    // ... resumes on B from where A stopped, and is whole.
    let out = sockit(
        &cfg_b,
        &addr_b,
        &["put", big.to_str().unwrap(), "--json"],
        "",
    );
    let j = json(&out);
    let resumed = j["files"][0]["resumed_from"]
        .as_u64()
        .unwrap_or_else(|| panic!("{j}"));
    assert!(resumed >= 8 << 20, "resumed from {resumed}: {j}");
    let back = home.path().join("big.back");
    ok(&sockit(
        &cfg_a,
        &addr_a,
        &["get", ":big.bin", back.to_str().unwrap()],
        "",
    ));
    assert!(
        std::fs::read(&back).unwrap() == content,
        "A served other bytes"
    );
    assert_eq!(pg.psql("SELECT count(*) FROM files_uploads"), "0");
}

/// Two stores on one database: two nodes, without the processes.
fn two_stores(pg: &Pg, quota: u64) -> (FileStore, FileStore) {
    let cfg = FilesConfig {
        quota,
        ..FilesConfig::default()
    };
    let url = sockit::store::pg::PgTarget::parse(&pg.url()).unwrap();
    let (a, _) = FileStore::open_pg(url.clone(), cfg.clone()).unwrap();
    let (b, _) = FileStore::open_pg(url, cfg).unwrap();
    (a, b)
}

fn req(path: &str, size: usize) -> UploadRequest {
    UploadRequest {
        path: path.into(),
        size: size as u64,
        fingerprint: format!("fp {size}"),
        force: false,
        md5: false,
    }
}

fn read_all(s: &FileStore, path: &str) -> Vec<u8> {
    let mut d = s.download(1, path, 0).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 3 << 20];
    loop {
        let n = d.read_chunk(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn store_rules_hold_across_two_nodes() {
    let pg = Pg::start();
    let (a, b) = two_stores(&pg, 64 << 20);
    let content = random_bytes(10 << 20 | 777, 3);

    // Half on A, paused; resumed on B at the same offset.
    let mut up = a.begin_upload(1, &req("d/e/f.bin", content.len())).unwrap();
    let mut at = 0;
    for chunk in content[..5 << 20].chunks(1 << 20) {
        at = up.write(at, chunk).unwrap();
    }
    // Running on A: busy on B.
    let e = b
        .begin_upload(1, &req("d/e/f.bin", content.len()))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Busy, "{e}");
    assert_eq!(up.pause().unwrap(), 5 << 20);
    // Nothing visible before complete.
    assert!(matches!(
        b.stat(1, "d/e/f.bin"),
        Err(FileError::NotFound { .. })
    ));
    assert!(matches!(b.stat(1, "d"), Err(FileError::NotFound { .. })));
    assert!(b.list(1, "").unwrap().entries.is_empty());
    assert_eq!(b.partials(1, "").unwrap()[0].held, 5 << 20);

    let mut up = b.begin_upload(1, &req("d/e/f.bin", content.len())).unwrap();
    assert_eq!(up.offset(), 5 << 20);
    let mut at = up.offset();
    for chunk in content[5 << 20..].chunks(3 << 20) {
        at = up.write(at, chunk).unwrap();
    }
    let p = up.finish(&blake3::hash(&content)).unwrap();
    assert_eq!(p.size, content.len() as u64);
    assert!(read_all(&a, "d/e/f.bin") == content, "A reads other bytes");
    let ls = a.list(1, "d/e").unwrap();
    assert_eq!(ls.entries[0].name, "f.bin");
    assert_eq!(ls.entries[0].blake3, Some(blake3::hash(&content)));
    assert_eq!(a.stat(1, "d").unwrap().kind, EntryKind::Dir);
    // Another user sees none of it.
    assert!(matches!(
        a.stat(2, "d/e/f.bin"),
        Err(FileError::NotFound { .. })
    ));

    // A wrong hash never publishes, and leaves nothing behind.
    let bad = random_bytes(100_000, 5);
    let mut up = a.begin_upload(1, &req("bad.bin", bad.len())).unwrap();
    up.write(0, &bad).unwrap();
    let e = up.finish(&blake3::hash(b"something else")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerifyFailed, "{e}");
    assert!(matches!(
        b.stat(1, "bad.bin"),
        Err(FileError::NotFound { .. })
    ));
    assert!(b.partials(1, "").unwrap().is_empty());
    assert_eq!(pg.psql("SELECT count(*) FROM files_uploads"), "0");

    // An existing file is a conflict without force, replaced with it.
    let e = b.begin_upload(1, &req("d/e/f.bin", 10)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    let mut r = req("d/e/f.bin", 10);
    r.force = true;
    let mut up = b.begin_upload(1, &r).unwrap();
    up.write(0, b"0123456789").unwrap();
    assert!(up.finish(&blake3::hash(b"0123456789")).unwrap().replaced);
    assert_eq!(read_all(&a, "d/e/f.bin"), b"0123456789");
    // The replaced content's rows are gone: only the new file's remain.
    assert_eq!(pg.psql("SELECT count(*) FROM files_chunks"), "1");

    // rm: a non-empty directory needs recursive; then everything goes.
    assert_eq!(
        a.remove(1, "d", false).unwrap_err().code(),
        ErrorCode::Conflict
    );
    let r = b.remove(1, "d", true).unwrap();
    assert_eq!((r.files, r.dirs, r.bytes), (1, 2, 10));
    assert!(a.list(1, "").unwrap().entries.is_empty());
    assert_eq!(pg.psql("SELECT count(*) FROM files_chunks"), "0");
}

#[test]
fn quota_holds_across_nodes_and_the_sweep_runs_on_one() {
    let pg = Pg::start();
    let (a, b) = two_stores(&pg, 1 << 20);
    // A reserves 600 KiB (unfinished); B cannot take another 600 KiB.
    let up = a.begin_upload(1, &req("one", 600 << 10)).unwrap();
    let e = b.begin_upload(1, &req("two", 600 << 10)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::QuotaExceeded, "{e}");
    assert_eq!(b.usage(1).unwrap().staged, 600 << 10);
    // Published bytes count on the other node too.
    up.abort().unwrap();
    let data = random_bytes(600 << 10, 9);
    let mut up = b.begin_upload(1, &req("two", data.len())).unwrap();
    up.write(0, &data).unwrap();
    up.finish(&blake3::hash(&data)).unwrap();
    let e = a.begin_upload(1, &req("three", 600 << 10)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::QuotaExceeded, "{e}");
    // Another user has their own quota.
    a.begin_upload(2, &req("three", 600 << 10))
        .unwrap()
        .pause()
        .unwrap();

    // The sweep: an expired, paused upload goes with its rows; a running
    // one stays.
    let cfg = FilesConfig {
        partial_retention: Duration::ZERO,
        ..FilesConfig::default()
    };
    let url = sockit::store::pg::PgTarget::parse(&pg.url()).unwrap();
    let running = a.begin_upload(
        1,
        &UploadRequest {
            size: 10,
            ..req("run", 10)
        },
    );
    let running = running.unwrap();
    let (_c, report) = FileStore::open_pg(url, cfg).unwrap();
    assert_eq!((report.expired, report.kept), (1, 1), "{report:?}");
    assert_eq!(
        pg.psql("SELECT string_agg(path, ',') FROM files_uploads"),
        "run"
    );
    running.abort().unwrap();
}

#[test]
fn a_disk_data_dir_imports_once_and_a_rerun_copies_nothing() {
    let pg = Pg::start();
    let (to, _) = two_stores(&pg, 1 << 30);
    let dir = tempfile::tempdir().unwrap();
    let (disk, _) = FileStore::open(dir.path(), FilesConfig::default()).unwrap();
    let files = [
        ("a.txt", random_bytes(10, 1)),
        ("sub/b.bin", random_bytes(5 << 20 | 3, 2)),
    ];
    for (path, content) in &files {
        let mut up = disk.begin_upload(1, &req(path, content.len())).unwrap();
        up.write(0, content).unwrap();
        up.finish(&blake3::hash(content)).unwrap();
    }
    let first = import_dir(dir.path(), &to).unwrap();
    assert_eq!(
        (first.users, first.files, first.unchanged),
        (1, 2, 0),
        "{first:?}"
    );
    assert_eq!(first.bytes, 10 + (5 << 20 | 3));
    for (path, content) in &files {
        assert!(read_all(&to, path) == *content, "{path} differs");
    }
    let again = import_dir(dir.path(), &to).unwrap();
    assert_eq!((again.files, again.unchanged), (0, 2), "{again:?}");
}

/// New folders and moves on PostgreSQL follow the disk store's rules, and
/// what one node organises the other sees at once.
#[test]
fn folders_and_moves_made_on_one_node_show_on_the_other() {
    let pg = Pg::start();
    // Room for 16 entries of 4 KiB.
    let (a, b) = two_stores(&pg, 64 << 10);
    let put = |s: &FileStore, path: &str, bytes: &[u8]| {
        let mut up = s.begin_upload(1, &req(path, bytes.len())).unwrap();
        up.write(0, bytes).unwrap();
        up.finish(&blake3::hash(bytes)).unwrap();
    };
    // mkdir: a missing parent needs `parents`; -p makes the chain, once.
    let e = a.mkdir(1, "x/y/z", false).unwrap_err();
    assert!(matches!(e, FileError::NotFound { .. }), "{e}");
    assert_eq!(a.mkdir(1, "x/y/z", true).unwrap(), 3);
    assert_eq!(b.mkdir(1, "x/y/z", true).unwrap(), 0);
    assert_eq!(b.stat(1, "x/y").unwrap().kind, EntryKind::Dir);
    let e = b.mkdir(1, "x/y", false).unwrap_err();
    assert!(matches!(e, FileError::Taken { .. }), "{e}");
    put(&a, "x/y/z/f.txt", b"hello");
    let e = a.mkdir(1, "x/y/z/f.txt/w", true).unwrap_err();
    assert!(matches!(e, FileError::WrongKind { .. }), "{e}");
    // Each folder costs its charge against the quota, checked before any
    // is made: 4 entries held, 13 more do not fit in 16.
    let e = a.mkdir(1, "q/q/q/q/q/q/q/q/q/q/q/q/q", true);
    assert!(matches!(e, Err(FileError::QuotaExceeded { .. })), "{e:?}");
    assert!(matches!(a.stat(1, "q"), Err(FileError::NotFound { .. })));

    // mv on B: a directory moves with everything below it, content intact.
    b.mkdir(1, "archive", false).unwrap();
    assert_eq!(
        b.rename(1, "x/y", "archive/y").unwrap().kind,
        EntryKind::Dir
    );
    assert!(matches!(a.stat(1, "x/y"), Err(FileError::NotFound { .. })));
    assert_eq!(read_all(&a, "archive/y/z/f.txt"), b"hello");
    assert_eq!(a.list(1, "archive/y/z").unwrap().entries[0].name, "f.txt");
    // Never replaces, never into itself, the parent must exist.
    put(&a, "g.txt", b"g");
    let e = a.rename(1, "g.txt", "archive/y/z/f.txt").unwrap_err();
    assert!(matches!(e, FileError::Taken { .. }), "{e}");
    let e = a.rename(1, "archive", "archive/y/inner").unwrap_err();
    assert!(matches!(e, FileError::IntoItself { .. }), "{e}");
    let e = a.rename(1, "g.txt", "nowhere/g.txt").unwrap_err();
    assert!(matches!(e, FileError::NotFound { .. }), "{e}");
    // A rename keeps the hash; another user's tree is untouched.
    a.rename(1, "g.txt", "h.txt").unwrap();
    assert_eq!(b.stat(1, "h.txt").unwrap().blake3, Some(blake3::hash(b"g")));
    assert!(matches!(
        b.rename(2, "h.txt", "i.txt"),
        Err(FileError::NotFound { .. })
    ));
}

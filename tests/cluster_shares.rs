//! Share links on a cluster: nodes sharing one throw-away PostgreSQL
//! (tests/common/pg.rs). Through the library, two `Shares` on the same
//! database stand for two nodes, with time moved by hand: counts exact
//! across nodes, a download begun on one node and finished on the other
//! counts once, revoke and expiry seen everywhere, the per-hour limit
//! shared. End to end, real `sockit serve` nodes on port 0: a file, a
//! folder and an end-to-end share made on node A download from node B,
//! revoke on A answers 410 on B, an ended end-to-end share's ciphertext is
//! removed by the sweeper with no one visiting; and `admin migrate`
//! copies a single node's shares (once) so its links work on the cluster.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::pg::Pg;
use common::share::{begin, get, path_of, put_part, request, sha256, text};
use common::{Server, run_env};
use sockit::service::shares::{
    MAX_RANGES, MAX_TRACKED, NewShare, NewUploadLink, ShareError, ShareState, SharedFile, Shares,
    SharesConfig, UploadRecord,
};
use sockit::store::Backend;

const PASS: &str = "correct horse battery";
const T0: u64 = 1_700_000_000;
/// Bound on waiting for the sweeper (a hang, not a sleep for readiness).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// One node's shares service on `pg`.
fn shares(pg: &Pg, cfg: SharesConfig) -> Shares {
    let backend = Backend::parse(&pg.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    Shares::open_store(dir.path(), &backend, cfg).unwrap()
}

fn new(owner: i64, size: u64, downloads: u64) -> NewShare {
    NewShare {
        owner,
        path: "a.bin".into(),
        size,
        blake3: [7; 32],
        expires_in: Some(3600),
        downloads: Some(downloads),
        quota: 1 << 30,
        e2e: None,
    }
}

#[test]
fn counts_are_exact_across_nodes_and_a_resume_elsewhere_counts_once() {
    let pg = Pg::start();
    let a = shares(&pg, SharesConfig::default());
    let b = shares(&pg, SharesConfig::default());
    let c = a.create(new(1, 100, 40), T0).unwrap();
    let on_b = b.open_link(&c.id, T0).unwrap();
    assert_eq!(on_b.num, c.info.num);

    // Begun on A, resumed on B from the same address: one download.
    assert!(!a.served(&c.info, "10.0.0.1", 0, 60, T0).unwrap());
    assert!(
        !b.served(&on_b, "10.0.0.1", 99, 100, T0).unwrap(),
        "a 1-byte range"
    );
    assert!(
        b.served(&on_b, "10.0.0.1", 60, 99, T0).unwrap(),
        "the resume completes"
    );
    assert_eq!(a.open_link(&c.id, T0).unwrap().downloads, 1);
    // Another address's half on each node counts nothing.
    assert!(!a.served(&c.info, "10.0.0.2", 0, 50, T0).unwrap());
    assert!(!b.served(&on_b, "10.0.0.3", 50, 100, T0).unwrap());
    assert_eq!(b.open_link(&c.id, T0).unwrap().downloads, 1);

    // 60 whole downloads race on both nodes for the 39 left: exactly 39
    // count, and the share ends consumed.
    let counted: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..60)
            .map(|i| {
                let (node, share) = if i % 2 == 0 {
                    (&a, &c.info)
                } else {
                    (&b, &on_b)
                };
                s.spawn(move || {
                    usize::from(node.served(share, &format!("r{i}"), 0, 100, T0).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(counted, 39);
    assert!(matches!(
        b.open_link(&c.id, T0),
        Err(ShareError::Ended(ShareState::Consumed))
    ));
    let listed = &a.list(1, T0).unwrap()[0];
    assert_eq!((listed.downloads, listed.state), (40, ShareState::Consumed));
}

#[test]
fn revoke_expiry_folders_and_limits_hold_on_every_node() {
    let pg = Pg::start();
    let cfg = SharesConfig {
        creates_per_hour: 4,
        ..SharesConfig::default()
    };
    let a = shares(&pg, cfg.clone());
    let b = shares(&pg, cfg);

    // Revoked on A: 410 (revoked) on B, by number, by link and by token.
    let r = a.create(new(1, 10, 1), T0).unwrap();
    a.revoke(Some(1), &r.info.num.to_string(), T0).unwrap();
    assert!(matches!(
        b.open_link(&r.id, T0),
        Err(ShareError::Ended(ShareState::Revoked))
    ));
    let t = b.create(new(1, 10, 1), T0).unwrap();
    assert!(
        matches!(a.revoke(Some(2), &t.id, T0), Err(ShareError::NotFound)),
        "bob cannot revoke alice's share by its link"
    );
    a.revoke(None, &t.revoke, T0).unwrap();
    assert!(matches!(
        b.open_link(&t.id, T0),
        Err(ShareError::Ended(ShareState::Revoked))
    ));

    // Expiry with moved time, seen on the other node; then the tombstone
    // goes and the link is unknown.
    let e = a.create(new(1, 10, 1), T0).unwrap();
    assert!(b.open_link(&e.id, T0 + 3599).is_ok());
    assert!(matches!(
        b.open_link(&e.id, T0 + 3600),
        Err(ShareError::Ended(ShareState::Expired))
    ));

    // A folder made on B lists its snapshot on A.
    let files: Vec<SharedFile> = (0..3u8)
        .map(|i| SharedFile {
            path: format!("d/{i}.bin"),
            size: u64::from(i) * 10,
            blake3: hex::encode([i; 32]),
        })
        .collect();
    let mut folder = new(1, 0, 1);
    folder.path = "d".into();
    let d = b.create_dir(folder, files.clone(), T0).unwrap();
    let on_a = a.open_link(&d.id, T0).unwrap();
    assert_eq!(on_a.files, Some(3));
    assert_eq!(a.dir_files(&on_a, T0).unwrap(), files);

    // Four creates in the hour across both nodes, the fifth refused.
    assert!(matches!(
        a.create(new(1, 10, 1), T0),
        Err(ShareError::Limit(_))
    ));
    assert!(b.create(new(2, 10, 1), T0).is_ok(), "another user's limit");
    // The tombstone goes in time, and the link is then unknown.
    let gone = T0 + 3600 + SharesConfig::default().tombstone + 1;
    b.tidy(gone).unwrap();
    assert!(matches!(
        a.open_link(&e.id, gone),
        Err(ShareError::NotFound)
    ));
    assert!(a.create(new(1, 10, 1), T0 + 3601).is_ok(), "an hour later");
}

#[test]
fn coverage_rows_are_bounded_and_go_with_their_share() {
    let pg = Pg::start();
    let a = shares(&pg, SharesConfig::default());
    let c = a.create(new(1, 100, 5), T0).unwrap();
    let Backend::Postgres(cfg) = Backend::parse(&pg.url()).unwrap() else {
        unreachable!()
    };
    let mut db = cfg.connect().unwrap();
    let rows = |db: &mut postgres::Client| -> i64 {
        db.query_one("SELECT count(*) FROM share_coverage", &[])
            .unwrap()
            .get(0)
    };
    // The table at its bound (as 10,000 receivers' half downloads would
    // leave it): one more receiver evicts the least recent, no more.
    let full = i64::try_from(MAX_TRACKED).unwrap();
    db.execute(
        "INSERT INTO share_coverage (num, who, spans, touched)
         SELECT $1, 'r' || g, ARRAY[0, 1]::BIGINT[], nextval('share_coverage_ticks')
         FROM generate_series(1, $2::BIGINT) g",
        &[&c.info.num, &full],
    )
    .unwrap();
    assert!(!a.served(&c.info, "newcomer", 0, 10, T0).unwrap());
    assert_eq!(rows(&mut db), full);
    let oldest = db
        .query_opt("SELECT 1 FROM share_coverage WHERE who = 'r1'", &[])
        .unwrap();
    assert!(oldest.is_none(), "the least recent receiver is forgotten");
    // A receiver fragmenting its ranges past the bound is counted.
    let counted = (0..=MAX_RANGES as u64)
        .filter(|i| a.served(&c.info, "frag", i * 2, i * 2 + 1, T0).unwrap())
        .count();
    assert_eq!(counted, 1);
    assert_eq!(a.open_link(&c.id, T0).unwrap().downloads, 1);
    // The share ends: its rows go with it.
    a.revoke(Some(1), &c.id, T0).unwrap();
    assert_eq!(rows(&mut db), 0);
    assert!(
        !a.served(&c.info, "late", 0, 100, T0).unwrap(),
        "an ended share counts nothing"
    );
}

/// Runs `sockit ARGS` with the CLI configuration `cfg` against `addr`.
fn cli(cfg: &Path, addr: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut env: Vec<(&str, &Path)> = vec![
        ("SOCKIT_CONFIG_DIR", cfg),
        ("SOCKIT_SERVER", Path::new(addr)),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, Path::new(v))));
    run_env(args, format!("{PASS}\n").as_bytes(), &env)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&common::ok(out)).unwrap()
}

/// Alice's side of a test: a home with her CLI configuration (`cfg`),
/// logged in through one node, and a work directory for local files.
struct Home {
    dir: tempfile::TempDir,
    cfg: PathBuf,
}

impl Home {
    /// Logs alice (already an account) in through `addr`.
    fn login(addr: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        let home = Home { dir, cfg };
        home.login_to(addr);
        std::fs::create_dir_all(home.work()).unwrap();
        home
    }

    /// Logs alice in through `addr` too (the CLI keeps a session per
    /// server address).
    fn login_to(&self, addr: &str) {
        let args = ["login", addr, "--user", "alice", "--password-stdin"];
        common::ok(&self.run(addr, &args));
    }

    /// Where local files go.
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Runs `sockit ARGS` as alice against `addr`.
    fn run(&self, addr: &str, args: &[&str]) -> Output {
        cli(&self.cfg, addr, args, &[])
    }

    /// `sockit ARGS` as alice against `addr`, which must succeed; its JSON.
    fn json(&self, addr: &str, args: &[&str]) -> serde_json::Value {
        json(&self.run(addr, args))
    }
}

/// `n` nodes with web doors on one PostgreSQL, each started with `extra`,
/// and alice's account there, logged in through the first node.
fn cluster(pg: &Pg, n: usize, extra: &[&str]) -> (Vec<(Server, String, String)>, Home) {
    let nodes: Vec<_> = (0..n).map(|_| pg.node_with_web(extra)).collect();
    pg.add_user("alice", PASS);
    let home = Home::login(&nodes[0].1);
    (nodes, home)
}

/// `url` (a link naming node A's web door) pointed at `web` instead.
fn on(web: &str, url: &str) -> String {
    format!("http://{web}{}", path_of(url))
}

/// The share's downloads left as `/s/ID/info` on `web` reports them.
async fn left(web: &str, url: &str) -> u64 {
    let (status, head, body) = get(web, &format!("{}/info", path_of(url)), &[]).await;
    assert_eq!(status, 200, "{head}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["downloads_left"]
        .as_u64()
        .unwrap_or_else(|| panic!("{v}"))
}

/// Waits (bounded) until the share behind `url` answers 410 on `web`;
/// the body.
async fn until_410(web: &str, url: &str) -> String {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let (st, _, body) = get(web, &format!("{}/info", path_of(url)), &[]).await;
        if st == 410 {
            return String::from_utf8_lossy(&body).into_owned();
        }
        assert_eq!(st, 200);
        assert!(Instant::now() < deadline, "never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_made_on_one_node_work_on_the_other() {
    let pg = Pg::start();
    let (nodes, home) = cluster(&pg, 2, &[]);
    let (addr_a, web_a) = (nodes[0].1.as_str(), nodes[0].2.as_str());
    let (addr_b, web_b) = (nodes[1].1.as_str(), nodes[1].2.as_str());
    let cfg = home.cfg.clone();
    let work = home.work();
    std::fs::create_dir_all(work.join("dir/sub")).unwrap();
    let src = work.join("big.bin");
    std::fs::write(&src, common::random_bytes(3 << 20 | 777, 1)).unwrap();
    common::ok(&cli(&cfg, addr_a, &["put", src.to_str().unwrap()], &[]));

    // A file share made on A: fetched whole on B, equal SHA-256, counted.
    let s = json(&cli(
        &cfg,
        addr_a,
        &["share", ":big.bin", "--downloads", "2", "--json"],
        &[],
    ));
    let url = s["url"].as_str().unwrap();
    assert!(url.contains(web_a), "{url}");
    let dest = work.join("got.bin");
    let out = cli(
        &cfg,
        addr_b,
        &["get", &on(web_b, url), dest.to_str().unwrap()],
        &[],
    );
    common::ok(&out);
    assert_eq!(sha256(&dest), sha256(&src));
    assert_eq!(left(web_a, url).await, 1);
    // Begun on A (the first MiB), finished on B (the rest): one more, the
    // last, and the link answers 410 on both.
    let file = format!("{}/file", path_of(url));
    let (st, _, first) = get(web_a, &file, &[("Range", "bytes=0-1048575")]).await;
    assert_eq!((st, first.len()), (206, 1 << 20));
    assert_eq!(left(web_b, url).await, 1, "half a download counts nothing");
    let (st, _, rest) = get(web_b, &file, &[("Range", "bytes=1048576-")]).await;
    assert_eq!(st, 206);
    let mut whole = first;
    whole.extend_from_slice(&rest);
    assert!(
        whole == std::fs::read(&src).unwrap(),
        "the halves differ from the file"
    );
    // (A response is counted as it ends, just after its last byte left.)
    let body = until_410(web_b, url).await;
    assert!(body.contains("consumed"), "{body}");
    let (st, _, body) = get(web_a, &format!("{}/info", path_of(url)), &[]).await;
    assert_eq!(st, 410);
    assert!(String::from_utf8_lossy(&body).contains("consumed"));

    // A folder share made on A, fetched file by file through B.
    std::fs::write(work.join("dir/one.txt"), b"one\n").unwrap();
    std::fs::write(work.join("dir/sub/two.txt"), b"two two\n").unwrap();
    common::ok(&cli(
        &cfg,
        addr_a,
        &["put", "-r", work.join("dir").to_str().unwrap(), ":dir"],
        &[],
    ));
    let s = json(&cli(&cfg, addr_a, &["share", ":dir", "--json"], &[]));
    let url = s["url"].as_str().unwrap();
    let into = work.join("folder");
    common::ok(&cli(
        &cfg,
        addr_b,
        &["get", &on(web_b, url), into.to_str().unwrap()],
        &[],
    ));
    let got = |rel: &str| {
        std::fs::read(into.join(rel)).or_else(|_| std::fs::read(into.join("dir").join(rel)))
    };
    assert_eq!(got("one.txt").unwrap(), b"one\n");
    assert_eq!(got("sub/two.txt").unwrap(), b"two two\n");

    // An end-to-end share made on A: decrypted from B's copy.
    let plain = work.join("secret.pdf");
    std::fs::write(&plain, common::random_bytes(200_000, 2)).unwrap();
    let s = json(&cli(
        &cfg,
        addr_a,
        &[
            "share",
            plain.to_str().unwrap(),
            "--e2e",
            "--downloads",
            "3",
            "--json",
        ],
        &[],
    ));
    let link = s["url"].as_str().unwrap();
    let (bare, key) = link.split_once('#').unwrap();
    let via_b = on(web_b, bare);
    let out_dir = work.join("e2e");
    std::fs::create_dir_all(&out_dir).unwrap();
    let whole_link = format!("{via_b}#{key}");
    common::ok(&cli(
        &cfg,
        addr_b,
        &["get", &via_b, out_dir.to_str().unwrap()],
        &[("SOCKIT_LINK", &whole_link)],
    ));
    assert_eq!(sha256(&out_dir.join("secret.pdf")), sha256(&plain));

    // Revoked on A: 410 on B, and its ciphertext gone at once.
    assert_eq!(e2e_files(&cfg, addr_a), 1);
    let num = s["num"].as_i64().unwrap_or_else(|| panic!("{s}"));
    common::ok(&cli(&cfg, addr_a, &["share", "rm", &num.to_string()], &[]));
    let (st, _, body) = get(web_b, &format!("{}/info", path_of(bare)), &[]).await;
    assert_eq!(st, 410);
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
    assert_eq!(
        e2e_files(&cfg, addr_a),
        0,
        "revoked: its ciphertext goes at once"
    );
}

/// How many files alice's `.e2e-shares` folder holds, as `sockit ls`
/// on `addr` lists them.
fn e2e_files(cfg: &Path, addr: &str) -> usize {
    let ls = common::ok(&cli(cfg, addr, &["ls", "--json", ":.e2e-shares"], &[]));
    let v: serde_json::Value =
        serde_json::from_str(ls.trim()).unwrap_or_else(|e| panic!("{e}: {ls}"));
    v.as_array()
        .or_else(|| v["entries"].as_array())
        .unwrap_or_else(|| panic!("{v}"))
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_removes_an_expired_e2e_shares_ciphertext_unvisited() {
    let pg = Pg::start();
    let (nodes, home) = cluster(&pg, 1, &["--share-max-expiry", "1"]);
    let addr_a = nodes[0].1.as_str();
    let cfg = home.cfg.clone();
    let plain = home.work().join("p.bin");
    std::fs::write(&plain, common::random_bytes(10_000, 3)).unwrap();
    json(&cli(
        &cfg,
        addr_a,
        &["share", plain.to_str().unwrap(), "--e2e", "--json"],
        &[],
    ));
    assert_eq!(e2e_files(&cfg, addr_a), 1);
    // Nobody visits the link: the running sweeper alone ends it and
    // removes the ciphertext (a bounded wait for the next sweep).
    let deadline = Instant::now() + WAIT_LIMIT;
    while e2e_files(&cfg, addr_a) != 0 {
        assert!(Instant::now() < deadline, "the ciphertext was kept");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_migrate_copies_shares_once_and_their_links_work_on_the_cluster() {
    let single = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--web",
        "tcp://127.0.0.1:0",
        "--argon2",
        common::CHEAP_ARGON2,
    ]);
    common::add_user(&single.data(), "alice", PASS);
    let addr = single.addr("framed", "tcp://");
    let home = Home::login(&addr);
    let cfg = home.cfg.clone();
    let src: PathBuf = home.work().join("m.bin");
    std::fs::write(&src, common::random_bytes(100_000, 4)).unwrap();
    common::ok(&cli(&cfg, &addr, &["put", src.to_str().unwrap()], &[]));
    let kept = json(&cli(
        &cfg,
        &addr,
        &["share", ":m.bin", "--downloads", "3", "--json"],
        &[],
    ));
    let ended = json(&cli(&cfg, &addr, &["share", ":m.bin", "--json"], &[]));
    let ended_url = ended["url"].as_str().unwrap().to_owned();
    let rm = ended_url.rsplit('/').next().unwrap().to_owned();
    common::ok(&cli(&cfg, &addr, &["share", "rm", &rm], &[]));
    // An upload link that took one file.
    let up = home.json(&addr, &["share", "--upload", ":inbox", "--json"]);
    let up_url = up["url"].as_str().unwrap().to_owned();
    let sent = home.work().join("sent.txt");
    std::fs::write(&sent, b"sent before the move\n").unwrap();
    common::ok(&send(&home, &up_url, &sent));
    let dir = single.stop_keep_dir();
    let data = dir.path().join("data");

    let pg = Pg::start();
    let first = pg.migrate(&data);
    assert_eq!(first["shares"]["shares"], 3, "{first}");
    assert_eq!(first["shares"]["present"], 0, "{first}");
    assert_eq!(first["shares"]["upload_links"], 1, "{first}");
    assert_eq!(first["shares"]["uploads"], 1, "{first}");
    let second = pg.migrate(&data);
    assert_eq!(second["shares"]["shares"], 0, "{second}");
    assert_eq!(second["shares"]["present"], 3, "{second}");
    assert_eq!(second["shares"]["upload_links"], 0, "{second}");
    assert_eq!(second["shares"]["uploads"], 0, "{second}");
    let url = pg.url();
    let data_arg = data.to_string_lossy();
    let third = common::run(
        &["admin", "migrate", "--data", &data_arg, "--to", &url],
        b"",
    );
    let said = common::ok(&third);
    assert!(said.contains("nothing to copy"), "{said}");
    assert!(said.contains("upload links: 0 copied"), "{said}");

    // The same links on a cluster node: the live one downloads, the
    // revoked one is still a tombstone.
    let (_n, n_addr, web) = pg.node_with_web(&[]);
    let url = kept["url"].as_str().unwrap();
    let (st, _, body) = get(&web, &format!("{}/file", path_of(url)), &[]).await;
    assert_eq!(st, 200);
    assert!(body == std::fs::read(&src).unwrap());
    assert_eq!(left(&web, url).await, 2);
    let (st, _, body) = get(&web, &format!("{}/info", path_of(&ended_url)), &[]).await;
    assert_eq!(st, 410);
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
    // The upload link takes files on the cluster, and its log came along.
    let more = home.work().join("more.txt");
    std::fs::write(&more, b"sent after the move\n").unwrap();
    common::ok(&send(
        &home,
        &format!("http://{web}{}", path_of(&up_url)),
        &more,
    ));
    let on_cluster = Home::login(&n_addr);
    let log = on_cluster.json(&n_addr, &["share", "log", &up["num"].to_string(), "--json"]);
    let names: Vec<_> = log["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["inbox/sent.txt", "inbox/more.txt"], "{log}");
}

fn upload_link(owner: i64, expires_in: u64, max_files: u64) -> NewUploadLink {
    NewUploadLink {
        owner,
        dir: "inbox".into(),
        expires_in: Some(expires_in),
        max_bytes: None,
        max_files: Some(max_files),
    }
}

fn record(i: usize) -> UploadRecord {
    UploadRecord {
        path: format!("inbox/{i}.bin"),
        size: 10,
        blake3: "ab".repeat(32),
        addr: format!("192.0.2.{}", i % 250),
        at: T0,
    }
}

#[test]
fn an_upload_links_places_log_and_end_are_one_across_nodes() {
    let pg = Pg::start();
    let a = shares(&pg, SharesConfig::default());
    let b = shares(&pg, SharesConfig::default());
    let c = a.create_upload(upload_link(1, 3600, 7), T0).unwrap();
    let num = c.info.num;
    let on_b = b.open_upload(&c.id, T0).unwrap();
    assert_eq!(on_b.upload.unwrap().max_files, 7);
    assert!(
        matches!(b.open_link(&c.id, T0), Err(ShareError::NotFound)),
        "an upload link is no download share on any node"
    );

    // 40 files race on both nodes for the link's 7 places: exactly 7.
    let taken: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let n = if i % 2 == 0 { &a } else { &b };
                s.spawn(move || n.claim_upload(num, &record(i), T0))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap().ok())
            .collect()
    });
    assert_eq!(taken.len(), 7);
    // A place given back on B (its publish failed) is free on A.
    b.release_upload(num, taken[0]).unwrap();
    assert_eq!(a.open_upload(&c.id, T0).unwrap().upload.unwrap().files, 6);
    a.settle_upload(num, T0).unwrap();
    assert!(b.open_upload(&c.id, T0).is_ok(), "6 of 7: still open");
    a.claim_upload(num, &record(99), T0).unwrap();
    a.settle_upload(num, T0).unwrap();
    assert!(matches!(
        b.open_upload(&c.id, T0),
        Err(ShareError::Ended(ShareState::Consumed))
    ));
    assert!(matches!(
        b.claim_upload(num, &record(100), T0),
        Err(ShareError::Ended(ShareState::Consumed))
    ));
    // The owner's log reads the same on both nodes; bob's is "no such".
    let (info, log) = b.upload_log(1, &c.id, T0).unwrap();
    assert_eq!(info.upload.unwrap().files, 7);
    assert_eq!(log.len(), 7);
    assert_eq!(a.upload_log(1, &num.to_string(), T0).unwrap().1, log);
    assert!(log.iter().any(|r| r.path == "inbox/99.bin"));
    assert!(matches!(
        a.upload_log(2, &num.to_string(), T0),
        Err(ShareError::NotFound)
    ));

    // Expiry needs no sweep to be seen, on either node; the sweep of one
    // node then drops the tombstone with its log rows.
    let e = b.create_upload(upload_link(1, 60, 5), T0).unwrap();
    assert!(a.open_upload(&e.id, T0 + 59).is_ok());
    assert!(matches!(
        a.open_upload(&e.id, T0 + 60),
        Err(ShareError::Ended(ShareState::Expired))
    ));
    assert!(matches!(
        a.claim_upload(e.info.num, &record(1), T0 + 60),
        Err(ShareError::Ended(ShareState::Expired))
    ));
    let later = T0 + 3600 + SharesConfig::default().tombstone + 1;
    a.tidy(later).unwrap();
    assert!(matches!(
        b.upload_log(1, &num.to_string(), later),
        Err(ShareError::NotFound)
    ));
    let rows = pg.psql("SELECT count(*) FROM share_uploads");
    assert_eq!(rows, "0", "the log goes with the tombstone");
}

/// `sockit user ARGS --store URL` against the cluster, as its operator.
fn operator(pg: &Pg, args: &[&str]) {
    let url = pg.url();
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(["--store", &url]);
    let out = common::run(&all, b"");
    assert!(out.status.success(), "user {args:?}: {}", text(&out));
}

/// `sockit send URL FILE` as no one (a configuration never logged in).
fn send(home: &Home, url: &str, file: &Path) -> Output {
    let nobody = home.dir.path().join("nobody");
    run_env(
        &["send", url, file.to_str().unwrap()],
        b"",
        &[("SOCKIT_CONFIG_DIR", &nobody)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_begun_on_one_node_finishes_on_the_other_verified_once() {
    let pg = Pg::start();
    let (nodes, home) = cluster(&pg, 2, &["--quota", "3M"]);
    let (addr_a, web_a) = (nodes[0].1.as_str(), nodes[0].2.as_str());
    let (addr_b, web_b) = (nodes[1].1.as_str(), nodes[1].2.as_str());
    home.login_to(addr_b);
    let link = home.json(addr_a, &["share", "--upload", ":inbox", "--json"]);
    let url = link["url"].as_str().unwrap().to_owned();
    let num = link["num"].to_string();
    let log = |addr: &str| {
        let v = home.json(addr, &["share", "log", &num, "--json"]);
        v["uploads"].as_array().unwrap().clone()
    };

    // Begun on A and cut one byte short: nothing published, nothing logged.
    let bytes = common::random_bytes((2 << 20) + 333, 21);
    let b3 = blake3::hash(&bytes).to_hex().to_string();
    let (st, v) = begin(web_a, &url, "big.bin", bytes.len(), &b3).await;
    assert_eq!((st, v["offset"].as_u64()), (200, Some(0)), "{v}");
    let short = bytes.len() - 1;
    drop(put_part(web_a, &url, "big.bin", bytes.len(), &b3, &bytes[..short]).await);
    // B sees where A's copy ends (a bounded wait for A to make it durable).
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let (st, v) = begin(web_b, &url, "big.bin", bytes.len(), &b3).await;
        assert_eq!(st, 200, "{v}");
        if v["offset"].as_u64() == Some(short as u64) {
            assert_eq!(v["name"], "big.bin", "its own partial, not a new name");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the partial never showed on B: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log(addr_b).is_empty());

    // The last byte, sent through both nodes at once: one publish, one
    // log row, and the other sender told to begin again.
    let (size, offset) = (bytes.len().to_string(), short.to_string());
    let put_path = format!("{}/files/big.bin", path_of(&url));
    let headers = [
        ("X-Sockit-Offset", offset.as_str()),
        ("X-Sockit-Size", size.as_str()),
        ("X-Sockit-Blake3", b3.as_str()),
    ];
    let last = &bytes[short..];
    // (A releases its claim on the partial just after making it durable:
    // while it holds it both are told "busy", 409, and send again.)
    let deadline = Instant::now() + WAIT_LIMIT;
    let (ra, rb) = loop {
        let (ra, rb) = tokio::join!(
            request(web_a, "PUT", &put_path, &headers, last),
            request(web_b, "PUT", &put_path, &headers, last),
        );
        if ra.0 != 409 || rb.0 != 409 {
            break (ra, rb);
        }
        assert!(Instant::now() < deadline, "never taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let statuses = [ra.0, rb.0];
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}: {} / {}",
        String::from_utf8_lossy(&ra.2),
        String::from_utf8_lossy(&rb.2)
    );
    assert!(statuses.contains(&409), "{statuses:?}");
    for addr in [addr_a, addr_b] {
        let ups = log(addr);
        assert_eq!(ups.len(), 1, "{ups:?}");
        assert_eq!(ups[0]["path"], "inbox/big.bin");
        assert_eq!(ups[0]["file_size"], bytes.len());
        assert_eq!(ups[0]["blake3"], b3.as_str());
        assert_eq!(ups[0]["addr"], "127.0.0.1");
        assert!(ups[0]["at"].as_u64().unwrap() > 0);
    }
    let got = home.work().join("big.bin");
    common::ok(&home.run(
        addr_a,
        &["get", "--force", ":inbox/big.bin", got.to_str().unwrap()],
    ));
    assert!(std::fs::read(&got).unwrap() == bytes, "the copy differs");

    // The owner's quota (3M, 2M+ used) holds through the other node too.
    let big = home.work().join("more.bin");
    std::fs::write(&big, common::random_bytes(1 << 20, 22)).unwrap();
    let out = send(&home, &format!("http://{web_b}{}", path_of(&url)), &big);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("no room left"), "{t}");
    let small = home.work().join("small.txt");
    std::fs::write(&small, b"small and welcome\n").unwrap();
    let out = send(&home, &format!("http://{web_b}{}", path_of(&url)), &small);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(log(addr_a).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_owners_links_stop_on_every_node_until_unlocked() {
    let pg = Pg::start();
    let (nodes, home) = cluster(&pg, 2, &[]);
    let (addr_a, web_a) = (nodes[0].1.as_str(), nodes[0].2.as_str());
    let web_b = nodes[1].2.as_str();
    let src = home.work().join("doc.bin");
    std::fs::write(&src, common::random_bytes(40_000, 23)).unwrap();
    common::ok(&home.run(addr_a, &["put", src.to_str().unwrap()]));
    let share = home.json(addr_a, &["share", ":doc.bin", "--downloads", "3", "--json"]);
    let s_url = share["url"].as_str().unwrap().to_owned();
    let link = home.json(addr_a, &["share", "--upload", ":inbox", "--json"]);
    let u_url = link["url"].as_str().unwrap().to_owned();
    let infos = [
        format!("{}/info", path_of(&s_url)),
        format!("{}/info", path_of(&u_url)),
    ];

    operator(&pg, &["lock", "alice"]);
    for web in [web_a, web_b] {
        for path in &infos {
            let (st, _, body) = get(web, path, &[]).await;
            let body = String::from_utf8_lossy(&body);
            assert_eq!(st, 403, "{web}{path}: {body}");
            assert!(body.contains("the owner's account is locked"), "{body}");
        }
    }
    let dest = home.work().join("got.bin");
    let nobody = home.dir.path().join("nobody");
    let get_on_b = || {
        run_env(
            &[
                "get",
                "--force",
                &format!("http://{web_b}{}", path_of(&s_url)),
                dest.to_str().unwrap(),
            ],
            b"",
            &[("SOCKIT_CONFIG_DIR", &nobody)],
        )
    };
    let out = get_on_b();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("the owner's account is locked"), "{t}");
    assert_eq!(t.trim().lines().count(), 1, "one line: {t}");

    operator(&pg, &["unlock", "alice"]);
    for web in [web_a, web_b] {
        for path in &infos {
            let (st, _, _) = get(web, path, &[]).await;
            assert_eq!(st, 200, "{web}{path}");
        }
    }
    common::ok(&get_on_b());
    assert_eq!(sha256(&dest), sha256(&src));
}

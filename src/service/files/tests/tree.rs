//! Listing, removal and the staging sweep.

use std::time::{Duration, SystemTime};

use super::*;

#[test]
fn list_shows_files_and_directories_with_hashes() {
    let (_dir, s) = store();
    put_new(&s, ALICE, "b.txt", b"bee");
    put_new(&s, ALICE, "a/x", b"x");
    put_new(&s, ALICE, "a/y/z", b"zz");
    assert_eq!(
        s.list(BOB, "").unwrap(),
        Listing::default(),
        "users do not see each other"
    );
    let root = s.list(ALICE, "").unwrap();
    let summary: Vec<_> = root
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(
        summary,
        [("a", EntryKind::Dir, 0), ("b.txt", EntryKind::File, 3)]
    );
    assert_eq!(root.entries[1].blake3, Some(blake3::hash(b"bee")));
    assert!(root.entries[1].mtime > 1_600_000_000);
    let a = s.list(ALICE, "a").unwrap();
    assert_eq!(a.entries.len(), 2);
    assert_eq!(
        a.entries[0].blake3,
        Some(blake3::hash(b"x")),
        "hash looked up by full path"
    );
    assert_eq!(
        s.list(ALICE, "nope").unwrap_err().code(),
        crate::wire::ErrorCode::NotFound
    );
    assert_eq!(
        s.list(ALICE, "b.txt").unwrap_err().code(),
        crate::wire::ErrorCode::Conflict
    );
    assert_eq!(
        s.download(ALICE, "a", 0).unwrap_err().code(),
        crate::wire::ErrorCode::Conflict
    );
    assert_eq!(
        s.begin_upload(ALICE, &req("a", 1)).unwrap_err().code(),
        crate::wire::ErrorCode::Conflict
    );
    assert_eq!(
        s.begin_upload(ALICE, &req("b.txt/under", 1))
            .unwrap_err()
            .code(),
        crate::wire::ErrorCode::Conflict
    );
}

#[test]
fn remove_files_and_directories() {
    let (_dir, s) = store();
    put_new(&s, ALICE, "f", b"ff");
    put_new(&s, ALICE, "d/e/g", b"ggg");
    put_new(&s, ALICE, "d/h", b"h");
    let e = s.remove(ALICE, "d", false).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::Conflict);
    assert!(e.to_string().contains("-r"), "{e}");
    assert_eq!(
        s.remove(ALICE, "f", false).unwrap(),
        Removed {
            files: 1,
            dirs: 0,
            bytes: 2
        }
    );
    assert_eq!(
        s.remove(ALICE, "f", false).unwrap_err().code(),
        crate::wire::ErrorCode::NotFound
    );
    assert_eq!(
        s.remove(ALICE, "d", true).unwrap(),
        Removed {
            files: 2,
            dirs: 2,
            bytes: 4
        }
    );
    assert_eq!(s.list(ALICE, "").unwrap().entries, []);
    assert_eq!(s.usage(ALICE).unwrap().published, 0);
    // An empty directory goes without -r; a re-upload has no stale hash.
    put_new(&s, ALICE, "e/x", b"1");
    s.remove(ALICE, "e/x", false).unwrap();
    s.remove(ALICE, "e", false).unwrap();
    put_new(&s, ALICE, "e/x", b"2");
    assert_eq!(
        s.stat(ALICE, "e/x").unwrap().blake3,
        Some(blake3::hash(b"2"))
    );
}

#[test]
fn sweep_removes_stale_temporaries_and_keeps_fresh_partials() {
    let dir = tempfile::tempdir().unwrap();
    let staging = staging_dir(&dir, ALICE);
    {
        let (s, _) = FileStore::open(dir.path(), FilesConfig::default()).unwrap();
        for path in ["fresh", "stale"] {
            let mut up = s.begin_upload(ALICE, &req(path, 100)).unwrap();
            up.write(0, &data(40)).unwrap();
            up.pause().unwrap();
        }
    }
    let stale = partial::key_of(&RelPath::parse("stale").unwrap());
    let old = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
    for suffix in [".part", ".meta"] {
        let f = std::fs::File::options()
            .write(true)
            .open(staging.join(format!("{stale}{suffix}")))
            .unwrap();
        f.set_modified(old).unwrap();
    }
    std::fs::write(staging.join("0123.meta.tmp"), b"{").unwrap();
    std::fs::write(staging.join("4567.part"), b"orphan").unwrap();
    std::fs::write(staging.join("notes.txt"), b"not ours").unwrap();

    let (s, report) = FileStore::open(dir.path(), FilesConfig::default()).unwrap();
    assert_eq!(
        report,
        SweepReport {
            temporaries: 1,
            orphans: 1,
            expired: 1,
            expired_bytes: 40,
            kept: 1,
            unknown: 1,
        }
    );
    assert_eq!(
        names(&staging).len(),
        3,
        "fresh pair and the unknown file remain"
    );
    assert_eq!(
        s.begin_upload(ALICE, &req("fresh", 100)).unwrap().offset(),
        40
    );
    assert_eq!(
        s.begin_upload(ALICE, &req("stale", 100)).unwrap().offset(),
        0
    );
    // A running upload is never swept.
    let running = s.begin_upload(ALICE, &req("run", 10)).unwrap();
    let again = s.sweep().unwrap();
    assert_eq!(
        again.orphans + again.expired + again.temporaries,
        0,
        "{again:?}"
    );
    drop(running);
}

#[test]
fn a_huge_directory_lists_a_bounded_number_of_entries() {
    let (dir, s) = store();
    put_new(&s, ALICE, "many/first", b"");
    let many = user_dir(&dir, ALICE).join("many");
    for i in 0..MAX_LIST_ENTRIES {
        std::fs::File::create(many.join(format!("f{i:05}"))).unwrap();
    }
    std::os::unix::fs::symlink("/etc/passwd", many.join("link")).unwrap();
    let l = s.list(ALICE, "many").unwrap();
    assert!(l.truncated);
    assert_eq!(l.entries.len(), MAX_LIST_ENTRIES);
    assert_eq!(l.skipped, 1, "the link, counted on every page");
    assert!(
        l.entries.windows(2).all(|w| w[0].name < w[1].name),
        "sorted"
    );
    // Issue 17 item 11: the listing is pageable: the next page starts
    // after the cursor and holds exactly the rest.
    assert_eq!(l.entries[0].name, "f00000");
    let next = l.next.clone().unwrap();
    assert_eq!(next, l.entries.last().unwrap().name);
    let rest = s.list_page(ALICE, "many", Some(&next)).unwrap();
    assert!(!rest.truncated && rest.next.is_none());
    assert_eq!(rest.skipped, 1);
    let names: Vec<_> = rest.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["first"]);
    let r = s.remove(ALICE, "many", true).unwrap();
    assert_eq!(
        (r.files, r.dirs),
        (MAX_LIST_ENTRIES as u64 + 2, 1),
        "with the link"
    );
    let d = s.stat(ALICE, "x").unwrap_err();
    assert_eq!(d.code(), crate::wire::ErrorCode::NotFound);
}

/// Issue 16 item 13: a FIFO (or device) in a user's tree is refused at
/// once instead of hanging the thread that opens it.
#[test]
fn a_fifo_is_refused_without_blocking() {
    let (dir, s) = store();
    put_new(&s, ALICE, "a.txt", b"a");
    let fifo = user_dir(&dir, ALICE).join("pipe");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = s.clone();
    std::thread::spawn(move || {
        let _ = tx.send(
            s2.download(ALICE, "pipe", 0)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        );
    });
    let r = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("opening a FIFO must not block");
    let e = r.unwrap_err();
    assert!(e.contains("pipe is a special file, not a file"), "{e}");
    // Listings skip it; the quota counts it as one entry.
    let l = s.list(ALICE, "").unwrap();
    assert_eq!((l.entries.len(), l.skipped), (1, 1));
}

/// Issue 17 items 2 and 11: a path through a file names the file that is
/// in the way, and `""` is the root for stat as for ls.
#[test]
fn errors_name_the_component_in_the_way_and_stat_root_is_a_directory() {
    let (_dir, s) = store();
    put_new(&s, ALICE, "docs", b"not a directory");
    let e = s.download(ALICE, "docs/report.pdf", 0).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::Conflict);
    assert_eq!(e.to_string(), "docs is a file, not a directory");
    let e = s.begin_upload(ALICE, &req("docs/a/b.txt", 1)).unwrap_err();
    assert_eq!(e.to_string(), "docs is a file, not a directory");
    let root = s.stat(ALICE, "").unwrap();
    assert_eq!((root.name.as_str(), root.kind), ("", EntryKind::Dir));
}

/// Issue 16 item 2 (the store's part): purging a user removes their tree,
/// their unfinished uploads and their index rows, and nothing of another
/// user's.
#[test]
fn purge_user_removes_everything_of_that_user_only() {
    let (dir, s) = store();
    put_new(&s, ALICE, "a/b.txt", b"alice");
    put_new(&s, ALICE, "c.txt", b"alice too");
    put_new(&s, BOB, "b.txt", b"bob");
    let mut up = s.begin_upload(ALICE, &req("big", 10_000)).unwrap();
    up.write(0, &data(100)).unwrap();
    up.pause().unwrap();
    let p = s.purge_user(ALICE).unwrap();
    assert_eq!((p.files.files, p.files.dirs, p.partials), (2, 1, 1));
    assert!(!user_dir(&dir, ALICE).exists());
    assert!(!staging_dir(&dir, ALICE).exists());
    assert!(s.list(ALICE, "").unwrap().entries.is_empty());
    assert!(s.partials(ALICE, "").unwrap().is_empty());
    assert_eq!(s.usage(ALICE).unwrap().published, 0);
    let rows: i64 = rusqlite::Connection::open(dir.path().join(FILES_DIR).join(INDEX_DB))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM files WHERE user_id = ?1",
            [ALICE],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(get(&s, BOB, "b.txt"), b"bob");
    // Again: nothing left, nothing fails.
    assert_eq!(s.purge_user(ALICE).unwrap(), Purged::default());
}

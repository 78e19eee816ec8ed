//! Uploads: round trip, resume (after a drop and after a restart), changed
//! source, verification, overwrite rules.

use super::*;

#[test]
fn chunks_round_trip_with_the_same_hash() {
    let (_dir, s) = store();
    let content = data(10_000);
    let mut r = req("docs/a/report.bin", content.len());
    r.md5 = true;
    let p = put(&s, ALICE, &r, &content).unwrap();
    assert_eq!(p.size, 10_000);
    assert_eq!(p.hashes.blake3, blake3::hash(&content));
    assert!(p.hashes.md5.is_some());
    assert!(!p.replaced);
    assert_eq!(get(&s, ALICE, "docs/a/report.bin"), content);
    let mut d = s.download(ALICE, "docs/a/report.bin", 0).unwrap();
    assert_eq!(
        d.recorded_hashes().map(|h| h.blake3),
        Some(blake3::hash(&content))
    );
    assert_eq!(d.hashes(true).unwrap(), p.hashes, "md5 recorded at publish");
}

#[test]
fn md5_matches_the_classic_exercise() {
    let (_dir, s) = store();
    let mut r = req("abc.txt", 3);
    r.md5 = true;
    let p = put(&s, ALICE, &r, b"abc").unwrap();
    assert_eq!(
        hex::encode(p.hashes.md5.unwrap()),
        "900150983cd24fb0d6963f7d28e17f72"
    );
}

#[test]
fn download_resumes_from_an_offset() {
    let (_dir, s) = store();
    let content = data(5000);
    put_new(&s, ALICE, "f", &content);
    let mut d = s.download(ALICE, "f", 4000).unwrap();
    assert_eq!(d.remaining(), 1000);
    let mut buf = vec![0u8; 4096];
    assert_eq!(d.read_chunk(&mut buf).unwrap(), 1000);
    assert_eq!(&buf[..1000], &content[4000..]);
    assert_eq!(d.read_chunk(&mut buf).unwrap(), 0);
    let e = s.download(ALICE, "f", 5001).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::BadOffset);
}

fn small_sync() -> FilesConfig {
    FilesConfig {
        sync_every: 1024,
        ..FilesConfig::default()
    }
}

#[test]
fn resume_after_a_drop_continues_from_the_last_sync() {
    let (_dir, s) = store_with(small_sync());
    let content = data(5000);
    let r = req("big.bin", content.len());
    let mut up = s.begin_upload(ALICE, &r).unwrap();
    assert_eq!(up.offset(), 0);
    for i in 0..6 {
        up.write(i * 300, &content[i as usize * 300..(i as usize + 1) * 300])
            .unwrap();
    }
    drop(up); // a dropped connection: no pause
    let up = s.begin_upload(ALICE, &r).unwrap();
    assert_eq!(
        up.offset(),
        1200,
        "the fsync after 1200 bytes is what is held"
    );
    assert_eq!(up.resumed_from(), 1200);
    drop(up);
    // The client sends the rest from there; the prefix was re-hashed.
    let p = put(&s, ALICE, &r, &content).unwrap();
    assert_eq!(p.hashes.blake3, blake3::hash(&content));
    assert_eq!(get(&s, ALICE, "big.bin"), content);
}

#[test]
fn resume_after_a_restart_keeps_what_was_paused() {
    let dir = tempfile::tempdir().unwrap();
    let content = data(3000);
    let r = req("a/b.bin", content.len());
    {
        let (s, _) = FileStore::open(dir.path(), small_sync()).unwrap();
        let mut up = s.begin_upload(ALICE, &r).unwrap();
        up.write(0, &content[..1700]).unwrap();
        assert_eq!(up.pause().unwrap(), 1700);
        // One process per data directory.
        let e = FileStore::open(dir.path(), small_sync()).unwrap_err();
        assert_eq!(e.code(), crate::wire::ErrorCode::Busy);
    }
    let (s, report) = FileStore::open(dir.path(), small_sync()).unwrap();
    assert_eq!(report.kept, 1);
    let mut up = s.begin_upload(ALICE, &r).unwrap();
    assert_eq!(up.offset(), 1700);
    up.write(1700, &content[1700..]).unwrap();
    up.finish(&blake3::hash(&content)).unwrap();
    assert_eq!(get(&s, ALICE, "a/b.bin"), content);
}

#[test]
fn a_changed_source_starts_over() {
    let (dir, s) = store();
    let old = data(2000);
    let mut up = s.begin_upload(ALICE, &req("f", 2000)).unwrap();
    up.write(0, &old[..1500]).unwrap();
    up.pause().unwrap();
    let new: Vec<u8> = old.iter().map(|b| b ^ 0xff).collect();
    let mut r = req("f", 2000);
    r.fingerprint = "v2".into();
    let up = s.begin_upload(ALICE, &r).unwrap();
    assert_eq!(up.offset(), 0);
    drop(up);
    put(&s, ALICE, &r, &new).unwrap();
    assert_eq!(get(&s, ALICE, "f"), new);
    assert_eq!(names(&staging_dir(&dir, ALICE)), Vec::<String>::new());
}

#[test]
fn a_verify_mismatch_publishes_nothing() {
    let (dir, s) = store();
    let content = data(4000);
    let mut up = s.begin_upload(ALICE, &req("d/f", 4000)).unwrap();
    up.write(0, &content).unwrap();
    let e = up.finish(&blake3::hash(b"something else")).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::VerifyFailed);
    assert_eq!(
        s.download(ALICE, "d/f", 0).unwrap_err().code(),
        crate::wire::ErrorCode::NotFound
    );
    assert_eq!(
        names(&staging_dir(&dir, ALICE)),
        Vec::<String>::new(),
        "partial removed"
    );
    assert_eq!(s.usage(ALICE).unwrap().staged, 0);
}

#[test]
fn finishing_early_is_a_bad_offset_and_keeps_the_partial() {
    let (_dir, s) = store();
    let content = data(100);
    let mut up = s.begin_upload(ALICE, &req("f", 100)).unwrap();
    up.write(0, &content[..50]).unwrap();
    assert_eq!(
        up.write(60, &content[60..]).unwrap_err().code(),
        crate::wire::ErrorCode::BadOffset
    );
    let e = up.finish(&blake3::hash(&content)).unwrap_err();
    assert!(
        matches!(
            e,
            FileError::BadOffset {
                expected: 50,
                got: 100
            }
        ),
        "{e}"
    );
}

#[test]
fn no_overwrite_without_force_at_begin_and_at_publish() {
    let (dir, s) = store();
    put_new(&s, ALICE, "f", b"one");
    let e = s.begin_upload(ALICE, &req("f", 3)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::Conflict);
    assert!(e.to_string().contains("--force"), "{e}");

    // The destination appears while the upload runs.
    let mut up = s.begin_upload(ALICE, &req("g", 3)).unwrap();
    up.write(0, b"new").unwrap();
    std::fs::write(user_dir(&dir, ALICE).join("g"), b"raced").unwrap();
    assert_eq!(
        up.finish(&blake3::hash(b"new")).unwrap_err().code(),
        crate::wire::ErrorCode::Conflict
    );
    assert_eq!(get(&s, ALICE, "g"), b"raced");
    // The verified partial was kept: a forced retry publishes it at once.
    let mut r = req("g", 3);
    r.force = true;
    let up = s.begin_upload(ALICE, &r).unwrap();
    assert_eq!(up.offset(), 3);
    assert!(up.finish(&blake3::hash(b"new")).unwrap().replaced);
    assert_eq!(get(&s, ALICE, "g"), b"new");
}

#[test]
fn force_replaces_atomically() {
    let (_dir, s) = store();
    let old = data(50_000);
    put_new(&s, ALICE, "f", &old);
    let mut reader = s.download(ALICE, "f", 0).unwrap();
    let mut first = vec![0u8; 10_000];
    reader.read_chunk(&mut first).unwrap();

    let new = data(30_000).into_iter().rev().collect::<Vec<u8>>();
    let mut r = req("f", new.len());
    r.force = true;
    let p = put(&s, ALICE, &r, &new).unwrap();
    assert!(p.replaced);
    // A reader of the old version still reads the old version, whole.
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut rest).unwrap();
    first.extend(rest);
    assert_eq!(first, old);
    assert_eq!(get(&s, ALICE, "f"), new);
    let entry = s.stat(ALICE, "f").unwrap();
    assert_eq!(
        (entry.size, entry.blake3),
        (30_000, Some(blake3::hash(&new)))
    );
    assert_eq!(s.usage(ALICE).unwrap().published, 30_000);
}

#[test]
fn same_path_at_once_is_busy_other_paths_and_users_run() {
    let (_dir, s) = store();
    let up = s.begin_upload(ALICE, &req("f", 10)).unwrap();
    let e = s.begin_upload(ALICE, &req("f", 10)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::Busy);
    s.begin_upload(BOB, &req("f", 10)).unwrap();
    drop(up);
    s.begin_upload(ALICE, &req("f", 10)).unwrap();

    let threads: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                let content = data(20_000 + i * 7);
                let user = if i % 2 == 0 { ALICE } else { BOB };
                put_new(&s, user, &format!("par/{i}"), &content);
                (user, i, content)
            })
        })
        .collect();
    for t in threads {
        let (user, i, content) = t.join().unwrap();
        assert_eq!(get(&s, user, &format!("par/{i}")), content);
    }
}

#[test]
fn a_missing_hash_is_computed_once_and_recorded() {
    let (dir, s) = store();
    put_new(&s, ALICE, "x", b"");
    std::fs::write(user_dir(&dir, ALICE).join("placed"), b"by the operator").unwrap();
    let mut d = s.download(ALICE, "placed", 0).unwrap();
    assert_eq!(d.recorded_hashes(), None);
    let h = d.hashes(false).unwrap();
    assert_eq!(h.blake3, blake3::hash(b"by the operator"));
    let d = s.download(ALICE, "placed", 0).unwrap();
    assert_eq!(d.recorded_hashes(), Some(h));
}

/// The pattern a door uses: the Upload moves into the blocking pool and
/// back for each chunk; the async side only holds it between chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_streams_through_the_blocking_pool() {
    let (_dir, s) = store();
    let content = data(3 * 4096 + 5);
    let s2 = s.clone();
    let r = req("via/door", content.len());
    let mut up = run_blocking(move || s2.begin_upload(ALICE, &r))
        .await
        .unwrap();
    for chunk in content.chunks(4096) {
        let chunk = chunk.to_vec();
        up = run_blocking(move || {
            let at = up.offset();
            up.write(at, &chunk).map(|_| up)
        })
        .await
        .unwrap();
    }
    let hash = blake3::hash(&content);
    let p = run_blocking(move || up.finish(&hash)).await.unwrap();
    assert_eq!(p.size, content.len() as u64);
    assert_eq!(get(&s, ALICE, "via/door"), content);
}

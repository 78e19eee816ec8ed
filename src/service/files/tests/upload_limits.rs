//! Upload limits: quota, maximum file size, chunk size, declared size, and
//! a full disk.

use super::*;

fn quota(q: u64) -> FilesConfig {
    FilesConfig {
        quota: q,
        max_file: 800,
        max_chunk: 1000,
        ..FilesConfig::default()
    }
}

/// A quota `q` with files up to `q` bytes.
fn roomy(q: u64) -> FilesConfig {
    FilesConfig {
        max_file: q,
        ..quota(q)
    }
}

#[test]
fn quota_counts_published_and_unfinished_uploads() {
    let (_dir, s) = store_with(roomy(100_000));
    put_new(&s, ALICE, "a", &data(60_000));
    let e = s.begin_upload(ALICE, &req("b", 50_000)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::QuotaExceeded);
    assert!(
        matches!(
            e,
            FileError::QuotaExceeded {
                used: 60_000,
                quota: 100_000,
                needed: 50_000
            }
        ),
        "{e}"
    );
    // Another user has their own quota.
    put_new(&s, BOB, "b", &data(50_000));
    // Replacing a file only needs the difference.
    let mut r = req("a", 70_000);
    r.force = true;
    put(&s, ALICE, &r, &data(70_000)).unwrap();
    // An unfinished upload holds its declared size.
    let up = s.begin_upload(ALICE, &req("c", 20_000)).unwrap();
    up.pause().unwrap();
    assert_eq!(
        s.begin_upload(ALICE, &req("d", 20_000)).unwrap_err().code(),
        crate::wire::ErrorCode::QuotaExceeded
    );
    assert_eq!(
        s.usage(ALICE).unwrap(),
        Usage {
            published: 70_000,
            staged: 20_000,
            quota: 100_000
        }
    );
    // Removing frees it.
    s.remove(ALICE, "a", false).unwrap();
    s.begin_upload(ALICE, &req("d", 20_000)).unwrap();
}

/// Issue 16 item 4: empty files and directories are not free. Under a
/// quota of ten entries, the eleventh empty file is refused, and a file
/// whose publish creates directories pays for them too.
#[test]
fn every_file_and_directory_costs_at_least_one_block() {
    let (_dir, s) = store_with(roomy(10 * ENTRY_CHARGE));
    for i in 0..10 {
        put_new(&s, ALICE, &format!("empty{i}"), b"");
    }
    let e = s.begin_upload(ALICE, &req("empty10", 0)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::QuotaExceeded, "{e}");
    assert_eq!(s.usage(ALICE).unwrap().published, 10 * ENTRY_CHARGE);

    let (_dir, s) = store_with(roomy(3 * ENTRY_CHARGE));
    // a/b/c.txt needs two directories and the file: three blocks.
    let e = s.begin_upload(ALICE, &req("a/b/c/d.txt", 1)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::QuotaExceeded, "{e}");
    put_new(&s, ALICE, "a/b/c.txt", b"x");
    assert_eq!(s.usage(ALICE).unwrap().published, 3 * ENTRY_CHARGE);
    // Nothing left, not even for an empty file next to it.
    let e = s.begin_upload(ALICE, &req("a/b/d.txt", 0)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::QuotaExceeded, "{e}");
}

/// Issue 16 item 4: 16 uploads begun at once under a quota that holds one
/// of them: exactly one gets a reservation (the check and the reservation
/// are one step), where before all 16 passed.
#[test]
fn concurrent_uploads_cannot_share_one_free_space() {
    let size = 600_000usize;
    let (_dir, s) = store_with(roomy(1 << 20));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                s.begin_upload(ALICE, &req(&format!("f{i}"), size))
                    .map(|up| up.pause().unwrap())
                    .map_err(|e| e.code())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(crate::wire::ErrorCode::QuotaExceeded))
    );
    assert_eq!(s.usage(ALICE).unwrap().staged, size as u64);
}

/// An unfinished upload is listed with what it holds, and cancelling it
/// frees its quota; a running one cannot be cancelled by path.
#[test]
fn partials_are_listed_and_cancelled() {
    let (_dir, s) = store_with(roomy(100_000));
    let mut up = s.begin_upload(ALICE, &req("docs/big.iso", 90_000)).unwrap();
    up.write(0, &data(1000)).unwrap();
    let listed = s.partials(ALICE, "").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, "docs/big.iso");
    assert!(listed[0].running);
    assert_eq!(
        s.cancel_upload(ALICE, "docs/big.iso").unwrap_err().code(),
        crate::wire::ErrorCode::Busy
    );
    assert_eq!(up.pause().unwrap(), 1000);
    let listed = s.partials(ALICE, "docs").unwrap();
    assert_eq!((listed[0].held, listed[0].running), (1000, false));
    assert!(s.partials(ALICE, "other").unwrap().is_empty());
    assert_eq!(
        s.begin_upload(ALICE, &req("x", 20_000)).unwrap_err().code(),
        crate::wire::ErrorCode::QuotaExceeded
    );
    // The reservation: the file and the directory its publish creates.
    assert_eq!(
        s.cancel_upload(ALICE, "docs/big.iso").unwrap(),
        90_000 + ENTRY_CHARGE
    );
    assert!(s.partials(ALICE, "").unwrap().is_empty());
    assert_eq!(
        s.cancel_upload(ALICE, "docs/big.iso").unwrap_err().code(),
        crate::wire::ErrorCode::NotFound
    );
    s.begin_upload(ALICE, &req("x", 20_000)).unwrap();
}

/// Issue 17 item 11: without a fingerprint nothing resumes, so another
/// file of the same size is never continued from a stranger's bytes.
#[test]
fn an_upload_without_fingerprint_never_resumes() {
    let (_dir, s) = store();
    let mut r = req("f", 10_000);
    r.fingerprint.clear();
    let mut up = s.begin_upload(ALICE, &r).unwrap();
    up.write(0, &data(5000)).unwrap();
    assert_eq!(up.pause().unwrap(), 5000);
    assert_eq!(s.begin_upload(ALICE, &r).unwrap().offset(), 0);
    // With one, the same source resumes.
    let r = req("g", 10_000);
    let mut up = s.begin_upload(ALICE, &r).unwrap();
    up.write(0, &data(5000)).unwrap();
    up.pause().unwrap();
    assert_eq!(s.begin_upload(ALICE, &r).unwrap().offset(), 5000);
}

#[test]
fn maximum_file_chunk_and_declared_sizes() {
    let (dir, s) = store_with(quota(10_000));
    let e = s.begin_upload(ALICE, &req("big", 801)).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::TooLarge);
    let mut up = s.begin_upload(ALICE, &req("f", 700)).unwrap();
    assert_eq!(
        up.write(0, &data(1001)).unwrap_err().code(),
        crate::wire::ErrorCode::TooLarge
    );
    up.write(0, &data(600)).unwrap();
    // Never more than declared.
    assert_eq!(
        up.write(600, &data(101)).unwrap_err().code(),
        crate::wire::ErrorCode::TooLarge
    );
    up.write(600, &data(100)).unwrap();
    assert_eq!(up.offset(), 700);
    drop(up);
    assert!(!user_dir(&dir, ALICE).join("f").exists());
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_temporary() {
    let (dir, s) = store();
    let content = data(5000);
    let mut up = s.begin_upload(ALICE, &req("f", content.len())).unwrap();
    if let crate::service::files::Upload::Disk(d) = &mut up {
        d.fail_after = Some(2500);
    }
    up.write(0, &content[..2000]).unwrap();
    let e = up.write(2000, &content[2000..3000]).unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::DiskFull);
    assert!(e.to_string().contains("disk is full"), "{e}");
    assert_eq!(names(&staging_dir(&dir, ALICE)), Vec::<String>::new());
    assert!(up.write(2000, &content[2000..3000]).is_err());
    drop(up);
    assert_eq!(s.usage(ALICE).unwrap().staged, 0);
    // A new attempt starts from nothing.
    assert_eq!(
        s.begin_upload(ALICE, &req("f", content.len()))
            .unwrap()
            .offset(),
        0
    );
}

#[test]
fn too_many_uploads_at_once_for_one_user_is_busy() {
    let (_dir, s) = store();
    let running: Vec<_> = (0..MAX_ACTIVE_PER_USER)
        .map(|i| s.begin_upload(ALICE, &req(&format!("f{i}"), 1)).unwrap())
        .collect();
    assert_eq!(
        s.begin_upload(ALICE, &req("one-more", 1))
            .unwrap_err()
            .code(),
        crate::wire::ErrorCode::Busy
    );
    s.begin_upload(BOB, &req("f", 1)).unwrap();
    drop(running);
    s.begin_upload(ALICE, &req("one-more", 1)).unwrap();
}

//! The rules of shares with time moved by hand.
#![allow(clippy::unwrap_used)]

use super::*;

const T0: u64 = 1_700_000_000;

fn open(cfg: SharesConfig) -> (tempfile::TempDir, Shares) {
    let dir = tempfile::tempdir().unwrap();
    let s = Shares::open(dir.path(), cfg).unwrap();
    (dir, s)
}

fn new(owner: i64, size: u64) -> NewShare {
    NewShare {
        owner,
        path: "a.txt".into(),
        size,
        blake3: [7; 32],
        expires_in: None,
        downloads: None,
        quota: 1 << 30,
        e2e: None,
    }
}

#[test]
fn defaults_are_one_download_and_one_day_and_only_hashes_are_stored() {
    let (dir, s) = open(SharesConfig::default());
    let c = s.create(new(1, 100), T0).unwrap();
    assert_eq!(c.info.downloads_max, 1);
    assert_eq!(c.info.expires, T0 + 24 * 3600);
    assert_ne!(c.id, c.revoke);
    drop(s);
    let raw = std::fs::read(dir.path().join(SHARES_DB)).unwrap();
    let wal = std::fs::read(dir.path().join("shares.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&c.id) && !text.contains(&c.revoke));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join(SHARES_DB))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_download_counts_at_completion_and_the_last_consumes() {
    let (_d, s) = open(SharesConfig::default());
    let c = s
        .create(
            NewShare {
                downloads: Some(2),
                ..new(1, 100)
            },
            T0,
        )
        .unwrap();
    let share = s.open_link(&c.id, T0).unwrap();
    // A 1-byte range, then a start cut off: nothing counted.
    assert!(!s.served(&share, "10.0.0.1", 99, 100, T0).unwrap());
    assert!(!s.served(&share, "10.0.0.2", 0, 40, T0).unwrap());
    assert_eq!(s.open_link(&c.id, T0).unwrap().downloads, 0);
    // The resume completes it: one download.
    assert!(s.served(&share, "10.0.0.2", 40, 100, T0).unwrap());
    assert_eq!(s.open_link(&c.id, T0).unwrap().downloads_left(), 1);
    assert!(s.served(&share, "10.0.0.3", 0, 100, T0).unwrap());
    assert!(matches!(
        s.open_link(&c.id, T0),
        Err(ShareError::Ended(ShareState::Consumed))
    ));
}

#[test]
fn expiry_leaves_a_tombstone_then_nothing() {
    let (_d, s) = open(SharesConfig::default());
    let c = s
        .create(
            NewShare {
                expires_in: Some(60),
                ..new(1, 1)
            },
            T0,
        )
        .unwrap();
    assert!(s.open_link(&c.id, T0 + 59).is_ok());
    // Past its expiry, before any sweep: the lookup itself says expired.
    assert!(matches!(
        s.open_link(&c.id, T0 + 60),
        Err(ShareError::Ended(ShareState::Expired))
    ));
    assert_eq!(s.list(1, T0 + 60).unwrap()[0].state, ShareState::Expired);
    assert!(matches!(
        s.revoke(Some(1), &c.id, T0 + 60),
        Err(ShareError::Ended(ShareState::Expired))
    ));
    let later = T0 + 60 + DEFAULT_TOMBSTONE + 1;
    // Lookups do no housekeeping: the tombstone stays until a sweep.
    assert!(matches!(
        s.open_link(&c.id, later),
        Err(ShareError::Ended(ShareState::Expired))
    ));
    s.tidy(later).unwrap();
    assert!(matches!(
        s.open_link(&c.id, later),
        Err(ShareError::NotFound)
    ));
    assert!(s.list(1, later).unwrap().is_empty());
}

#[test]
fn a_share_past_its_expiry_counts_nothing_before_the_sweep() {
    let (_d, s) = open(SharesConfig::default());
    let c = s
        .create(
            NewShare {
                expires_in: Some(60),
                downloads: Some(2),
                ..new(1, 100)
            },
            T0,
        )
        .unwrap();
    let share = s.open_link(&c.id, T0).unwrap();
    assert!(!s.served(&share, "10.0.0.1", 0, 100, T0 + 60).unwrap());
    s.tidy(T0 + 60).unwrap();
    assert_eq!(s.list(1, T0 + 60).unwrap()[0].downloads, 0);
}

#[test]
fn a_locked_owners_links_stop_and_come_back_unlocked() {
    let (_d, s) = open(SharesConfig::default());
    let locked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let l = locked.clone();
    s.set_owner_locked(std::sync::Arc::new(
        move |owner: i64| -> Result<bool, String> {
            Ok(owner == 1 && l.load(std::sync::atomic::Ordering::SeqCst))
        },
    ));
    let d = s.create(new(1, 10), T0).unwrap();
    let u = s.create_upload(upload_link(1, None, None), T0).unwrap();
    let other = s.create(new(2, 10), T0).unwrap();
    locked.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        s.open_link(&d.id, T0),
        Err(ShareError::OwnerLocked)
    ));
    assert!(matches!(
        s.open_upload(&u.id, T0),
        Err(ShareError::OwnerLocked)
    ));
    assert!(matches!(
        s.claim_upload(u.info.num, &record("inbox/a", 1), T0),
        Err(ShareError::OwnerLocked)
    ));
    assert_eq!(
        ShareError::OwnerLocked.code(),
        crate::wire::ErrorCode::Forbidden
    );
    assert!(s.open_link(&other.id, T0).is_ok(), "a second user's link");
    // An ended share still says how it ended.
    let e = s.create(new(1, 10), T0).unwrap();
    s.revoke(Some(1), &e.id, T0).unwrap();
    assert!(matches!(
        s.open_link(&e.id, T0),
        Err(ShareError::Ended(ShareState::Revoked))
    ));
    locked.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(s.open_link(&d.id, T0).is_ok());
    assert!(s.open_upload(&u.id, T0).is_ok());
    // A store failure refuses the link rather than serve it.
    s.set_owner_locked(std::sync::Arc::new(|_: i64| -> Result<bool, String> {
        Err("down".into())
    }));
    assert!(matches!(
        s.open_link(&d.id, T0),
        Err(ShareError::Internal { .. })
    ));
}

#[test]
fn limits_are_forced() {
    let cfg = SharesConfig {
        max_expiry: 3600,
        max_downloads: 5,
        creates_per_hour: 2,
        ..SharesConfig::default()
    };
    let (_d, s) = open(cfg);
    // The default (a day) is clamped under the maximum (an hour).
    assert_eq!(s.create(new(1, 1), T0).unwrap().info.expires, T0 + 3600);
    let too_long = NewShare {
        expires_in: Some(3601),
        ..new(1, 1)
    };
    assert!(matches!(s.create(too_long, T0), Err(ShareError::Limit(_))));
    let too_many = NewShare {
        downloads: Some(6),
        ..new(1, 1)
    };
    assert!(matches!(s.create(too_many, T0), Err(ShareError::Limit(_))));
    s.create(new(1, 1), T0).unwrap();
    let e = s.create(new(1, 1), T0 + 10).unwrap_err();
    assert!(e.to_string().contains("last hour"), "{e}");
    // Another user has their own count; an hour later so does this one.
    s.create(new(2, 1), T0).unwrap();
    s.create(new(1, 1), T0 + 3601).unwrap();
    // Bytes shared stay within the quota.
    let big = NewShare {
        quota: 150,
        ..new(3, 100)
    };
    s.create(big.clone(), T0).unwrap();
    assert!(matches!(
        s.create(big, T0),
        Err(ShareError::Quota { shared: 100, .. })
    ));
}

#[test]
fn revoking_takes_the_owner_or_the_token() {
    let (_d, s) = open(SharesConfig::default());
    let a = s.create(new(1, 1), T0).unwrap();
    let b = s.create(new(1, 1), T0).unwrap();
    let num = a.info.num.to_string();
    // Another user learns nothing: number, ID and link are all unknown.
    for which in [num.as_str(), a.id.as_str(), &format!("http://h/s/{}", a.id)] {
        assert!(matches!(
            s.revoke(Some(2), which, T0),
            Err(ShareError::NotFound)
        ));
    }
    assert!(s.open_link(&a.id, T0).is_ok());
    assert_eq!(
        s.revoke(Some(1), &num, T0).unwrap().state,
        ShareState::Revoked
    );
    assert!(matches!(
        s.open_link(&a.id, T0),
        Err(ShareError::Ended(ShareState::Revoked))
    ));
    assert!(matches!(
        s.revoke(Some(1), &num, T0),
        Err(ShareError::Ended(ShareState::Revoked))
    ));
    // The revoke token works for anyone, the link's ID for no stranger.
    s.revoke(None, &b.revoke, T0).unwrap();
    assert!(s.open_link(&b.id, T0).is_err());
}

#[test]
fn guessed_and_malformed_ids_are_not_found() {
    let (_d, s) = open(SharesConfig::default());
    s.create(new(1, 1), T0).unwrap();
    for id in [
        "00000000000000000000000000000000",
        "../../etc/passwd",
        "",
        "1",
        "%2e%2e",
    ] {
        assert!(matches!(s.open_link(id, T0), Err(ShareError::NotFound)));
    }
}

#[test]
fn a_deleted_owner_ends_every_share() {
    let (_d, s) = open(SharesConfig::default());
    let a = s.create(new(1, 1), T0).unwrap();
    assert_eq!(s.forget_owner(1, T0).unwrap(), 1);
    assert!(matches!(
        s.open_link(&a.id, T0),
        Err(ShareError::Ended(ShareState::Revoked))
    ));
}

#[test]
fn sealed_metadata_is_kept_as_given_and_bounded() {
    let (_d, s) = open(SharesConfig::default());
    let meta = vec![1u8, 2, 3, 0xff];
    let c = s
        .create(
            NewShare {
                e2e: Some(meta.clone()),
                ..new(1, 10)
            },
            T0,
        )
        .unwrap();
    assert_eq!(
        s.open_link(&c.id, T0).unwrap().e2e,
        Some(hex::encode(&meta))
    );
    assert_eq!(s.create(new(1, 10), T0).unwrap().info.e2e, None);
    for bad in [Vec::new(), vec![0u8; MAX_E2E_META + 1]] {
        let r = s.create(
            NewShare {
                e2e: Some(bad),
                ..new(1, 10)
            },
            T0,
        );
        assert!(matches!(r, Err(ShareError::Limit(_))), "{r:?}");
    }
}

fn upload_link(owner: i64, max_bytes: Option<u64>, max_files: Option<u64>) -> NewUploadLink {
    NewUploadLink {
        owner,
        dir: "inbox".into(),
        expires_in: None,
        max_bytes,
        max_files,
    }
}

fn record(path: &str, size: u64) -> UploadRecord {
    UploadRecord {
        path: path.into(),
        size,
        blake3: "ab".repeat(32),
        addr: "192.0.2.7".into(),
        at: T0,
    }
}

#[test]
fn an_upload_link_counts_what_it_takes_and_ends_when_full() {
    let cfg = SharesConfig {
        upload_max_bytes: 1000,
        upload_max_files: 3,
        ..SharesConfig::default()
    };
    let (_d, s) = open(cfg);
    // Over the server's maxima: refused, naming the limit.
    for (b, f) in [(Some(1001), None), (None, Some(4)), (Some(0), None)] {
        assert!(matches!(
            s.create_upload(upload_link(1, b, f), T0),
            Err(ShareError::Limit(_))
        ));
    }
    let c = s.create_upload(upload_link(1, None, Some(2)), T0).unwrap();
    let u = c.info.upload.unwrap();
    assert_eq!((u.max_bytes, u.max_files, u.files), (1000, 2, 0));
    // It is no download share, and a download share is no upload link.
    assert!(matches!(s.open_link(&c.id, T0), Err(ShareError::NotFound)));
    let d = s.create(new(1, 10), T0).unwrap();
    assert!(matches!(
        s.open_upload(&d.id, T0),
        Err(ShareError::NotFound)
    ));
    let link = s.open_upload(&c.id, T0).unwrap();
    assert!(s.check_room(&link, 1001).is_err());
    // A claimed place that was not published is given back.
    let seq = s
        .claim_upload(link.num, &record("inbox/a", 600), T0)
        .unwrap();
    assert!(matches!(
        s.claim_upload(link.num, &record("inbox/b", 500), T0),
        Err(ShareError::Limit(_))
    ));
    s.release_upload(link.num, seq).unwrap();
    s.claim_upload(link.num, &record("inbox/b", 500), T0)
        .unwrap();
    s.settle_upload(link.num, T0).unwrap();
    assert!(
        s.open_upload(&c.id, T0).is_ok(),
        "one file of two: still open"
    );
    s.claim_upload(link.num, &record("inbox/c", 1), T0).unwrap();
    s.settle_upload(link.num, T0).unwrap();
    assert!(matches!(
        s.open_upload(&c.id, T0),
        Err(ShareError::Ended(ShareState::Consumed))
    ));
    // The owner's log; another owner's is "no such share".
    let (info, log) = s.upload_log(1, &link.num.to_string(), T0).unwrap();
    assert_eq!(info.upload.unwrap().files, 2);
    let names: Vec<_> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(names, ["inbox/b", "inbox/c"]);
    assert_eq!(log[0].addr, "192.0.2.7");
    assert!(matches!(
        s.upload_log(2, &c.id, T0),
        Err(ShareError::NotFound)
    ));
    assert!(matches!(
        s.upload_log(1, &d.info.num.to_string(), T0),
        Err(ShareError::Limit(_))
    ));
    // Its tombstone goes with its log (at the sweep).
    let later = T0 + 30 * 24 * 3600;
    s.tidy(later).unwrap();
    assert!(matches!(
        s.upload_log(1, &link.num.to_string(), later),
        Err(ShareError::NotFound)
    ));
}

#[test]
fn upload_links_count_within_the_creates_per_hour() {
    let cfg = SharesConfig {
        creates_per_hour: 2,
        ..SharesConfig::default()
    };
    let (_d, s) = open(cfg);
    s.create(new(1, 1), T0).unwrap();
    s.create_upload(upload_link(1, None, None), T0).unwrap();
    assert!(matches!(
        s.create_upload(upload_link(1, None, None), T0),
        Err(ShareError::Limit(_))
    ));
    assert!(
        s.create_upload(upload_link(1, None, None), T0 + 3601)
            .is_ok()
    );
    // Revoked like any share; listed with its counts.
    let list = s.list(1, T0 + 3601).unwrap();
    assert!(list[0].upload.is_some() && list.iter().any(|x| x.upload.is_none()));
    let r = s
        .revoke(Some(1), &list[0].num.to_string(), T0 + 3601)
        .unwrap();
    assert_eq!(r.state, ShareState::Revoked);
    assert!(r.upload.is_some());
}

#[test]
fn the_gate_caps_each_address_and_the_total() {
    let cfg = SharesConfig {
        uploads_per_ip: 2,
        upload_rate_per_ip: 5,
        uploads_total: 3,
        ..SharesConfig::default()
    };
    let (_d, s) = open(cfg);
    let a: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let b: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    let p1 = s.admit_uploader(Some(a), true, T0).unwrap();
    let _p2 = s.admit_uploader(Some(a), true, T0).unwrap();
    assert!(
        s.admit_uploader(Some(a), true, T0).is_err(),
        "a third at once"
    );
    let _p3 = s.admit_uploader(Some(b), true, T0).unwrap();
    assert!(s.admit_uploader(None, true, T0).is_err(), "the total");
    drop(p1);
    let _p4 = s.admit_uploader(Some(a), true, T0).unwrap();
    // The rate: 5 requests a minute from a (3 so far plus 2 more).
    assert!(s.admit_uploader(Some(a), false, T0).is_ok());
    assert!(s.admit_uploader(Some(a), false, T0).is_ok());
    assert!(s.admit_uploader(Some(a), false, T0).is_err());
    assert!(s.admit_uploader(Some(a), false, T0 + 60).is_ok());
}

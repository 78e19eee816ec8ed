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
    assert!(matches!(
        s.open_link(&c.id, T0 + 60),
        Err(ShareError::Ended(ShareState::Expired))
    ));
    let later = T0 + 60 + DEFAULT_TOMBSTONE + 1;
    assert!(matches!(
        s.open_link(&c.id, later),
        Err(ShareError::NotFound)
    ));
    assert!(s.list(1, later).unwrap().is_empty());
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

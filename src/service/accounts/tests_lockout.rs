//! Tests of the rules bound to time through the service: lockouts (the
//! throttle wired to the store) and session expiry (the calendar).

use std::time::Duration;

use super::{Accounts, AuthError, IP, open};

#[tokio::test]
async fn a_session_ends_when_the_calendar_passes_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let c = super::cfg();
    let clock = c.clock.clone();
    let ttl = c.session_ttl;
    let a = Accounts::open(dir.path(), c).unwrap();
    a.add_user("alice", "correct horse").unwrap();
    let l = a.login("alice", "correct horse", IP).await.unwrap();
    clock.advance(ttl - Duration::from_secs(60));
    assert_eq!(a.resume(&l.token).await.unwrap().name, "alice");
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        a.resume(&l.token).await.unwrap_err(),
        AuthError::InvalidToken
    );
    // A login now is valid for a whole ttl from the calendar's now.
    let l = a.login("alice", "correct horse", IP).await.unwrap();
    assert!(l.identity.expires >= clock.now() + ttl.as_secs() - 1);
}

#[tokio::test]
async fn repeated_failures_lock_out_known_and_unknown_names_alike() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    for name in ["alice", "nobody"] {
        for _ in 0..5 {
            assert_eq!(
                a.login(name, "bad guess", None).await.unwrap_err(),
                AuthError::InvalidCredentials
            );
        }
        match a.login(name, "correct horse", None).await.unwrap_err() {
            AuthError::TooManyAttempts { retry_after } => {
                assert!(
                    retry_after <= Duration::from_secs(60) && retry_after > Duration::from_secs(50)
                );
            }
            e => panic!("{name}: {e:?}"),
        }
    }
    let listed = a.list_users().unwrap();
    assert!(listed[0].locked_until.is_some(), "list shows the lockout");
    a.unlock_user("alice").unwrap();
    a.login("alice", "correct horse", None).await.unwrap();
    assert_eq!(a.list_users().unwrap()[0].locked_until, None);
}

#[tokio::test]
async fn an_unlock_from_another_process_lifts_a_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(&dir);
    server.add_user("alice", "correct horse").unwrap();
    for _ in 0..5 {
        let _ = server.login("alice", "bad guess", None).await;
    }
    assert!(matches!(
        server.login("alice", "correct horse", None).await,
        Err(AuthError::TooManyAttempts { .. })
    ));
    // `sockit user unlock alice` opens its own Accounts on the same file.
    open(&dir).unlock_user("alice").unwrap();
    server.login("alice", "correct horse", None).await.unwrap();
}

#[tokio::test]
async fn a_burst_of_guesses_is_cut_off_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    // All 20 pass the caller's check at once; the job re-checks its turn.
    let guesses: Vec<_> = (0..20)
        .map(|_| a.login("alice", "bad guess", None))
        .collect();
    let results = futures_util::future::join_all(guesses).await;
    let wrong = results
        .iter()
        .filter(|r| **r == Err(AuthError::InvalidCredentials))
        .count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::TooManyAttempts { .. })))
        .count();
    assert_eq!((wrong, refused), (5, 15));
}

#[tokio::test]
async fn one_address_guessing_many_names_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    for i in 0..20 {
        let e = a
            .login(&format!("user{i}"), "bad guess", IP)
            .await
            .unwrap_err();
        assert_eq!(e, AuthError::InvalidCredentials, "attempt {i}");
    }
    let e = a.login("alice", "correct horse", IP).await.unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::TooManyAttempts);
    // Another address, or a Unix-socket client, is not affected.
    a.login("alice", "correct horse", None).await.unwrap();
}

#[tokio::test]
async fn a_lockout_from_guessers_does_not_keep_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir);
    a.add_user("alice", "correct horse").unwrap();
    let home = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
        198, 51, 100, 7,
    )));
    a.login("alice", "correct horse", home).await.unwrap();
    // Someone who learned the name guesses until the name is locked out.
    for _ in 0..5 {
        let _ = a.login("alice", "bad guess", IP).await;
    }
    assert!(matches!(
        a.login("alice", "correct horse", IP).await,
        Err(AuthError::TooManyAttempts { .. })
    ));
    assert!(matches!(
        a.login("alice", "correct horse", None).await,
        Err(AuthError::TooManyAttempts { .. })
    ));
    // The owner, from where she logged in before, still gets in.
    a.login("alice", "correct horse", home).await.unwrap();
}

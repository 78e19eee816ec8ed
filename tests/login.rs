//! Accounts over real sockets: `sockit user`, the login family of the frame
//! protocol, `sockit login/whoami/logout`, throttling, restarts.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::inproc::InProc;
use common::{Server, add_user, run, run_env};
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::server::Service;
use sockit::wire::{AuthReply, AuthRequest, Frame};

const IO_LIMIT: Duration = Duration::from_secs(30);
/// Cheap hashing so the suite stays fast; the production cost is benchmarked.
const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";

fn server(extra: &[&str]) -> Server {
    let mut args = vec![
        "--listen",
        "tcp://127.0.0.1:0",
        "--echo",
        "tcp://127.0.0.1:0",
    ];
    args.extend_from_slice(&["--argon2", CHEAP]);
    args.extend_from_slice(extra);
    Server::start(&args)
}

async fn client(srv: &Server) -> Client {
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    Client::connect(&ep, IO_LIMIT).await.unwrap()
}

fn code(r: Result<AuthReply, ClientError>) -> String {
    match r {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[tokio::test]
async fn login_whoami_logout_and_resume_on_a_new_connection() {
    let srv = server(&[]);
    add_user(&srv.data(), "Alice", PASS);
    let mut c = client(&srv).await;
    assert_eq!(
        code(c.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    let hello = c.hello().await.unwrap();
    assert!(
        hello
            .get("features")
            .unwrap()
            .as_array()
            .unwrap()
            .contains(&"login".into())
    );

    // Names ignore case: "alice" logs in to "Alice".
    let AuthReply::Login {
        user,
        token,
        expires,
    } = c.login("alice", PASS).await.unwrap()
    else {
        panic!("not a login reply")
    };
    assert_eq!(user, "Alice");
    assert_eq!(token.len(), 64);
    assert!(expires > 1_700_000_000);
    let who = c.auth(AuthRequest::Whoami {}).await.unwrap();
    assert_eq!(
        who,
        AuthReply::Whoami {
            user: "Alice".into(),
            expires
        }
    );

    // The token works on another connection...
    let mut other = client(&srv).await;
    let resumed = other.resume(&token).await.unwrap();
    assert_eq!(
        resumed,
        AuthReply::Resume {
            user: "Alice".into(),
            expires
        }
    );

    // ... until logout revokes it everywhere.
    c.auth(AuthRequest::Logout {}).await.unwrap();
    assert_eq!(
        code(c.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    assert_eq!(
        code(other.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    assert_eq!(
        code(client(&srv).await.resume(&token).await),
        "invalid_token"
    );
    // The token never reaches the server's log or the database in clear.
    let db = std::fs::read(srv.data().join("sockit.db")).unwrap_or_default();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let srv = server(&[]);
    add_user(&srv.data(), "bob", PASS);
    let mut c = client(&srv).await;
    let wrong = c.login("bob", "not the password").await.unwrap_err();
    let unknown = c.login("nobody", "not the password").await.unwrap_err();
    assert_eq!(wrong.code(), Some("invalid_credentials"));
    assert_eq!(wrong.to_string(), unknown.to_string());
    // The connection stays usable after a refusal.
    c.login("bob", PASS).await.unwrap();
}

#[tokio::test]
async fn lockout_after_repeated_failures_then_unlock() {
    let srv = server(&["--login-max-failures", "3", "--login-lockout", "600"]);
    add_user(&srv.data(), "carol", PASS);
    let mut c = client(&srv).await;
    for _ in 0..3 {
        assert_eq!(
            code(c.login("carol", "wrong password").await),
            "invalid_credentials"
        );
    }
    // Locked out: even the right password is refused, with a retry time.
    let reply = c
        .request(
            Frame::new("login")
                .set("name", "carol")
                .set("password", PASS),
        )
        .await;
    let ClientError::Server { code, message } = reply.unwrap_err() else {
        panic!()
    };
    assert_eq!(code, "too_many_attempts", "{message}");
    // The operator clears it while the server runs.
    let data = srv.data();
    let out = run(
        &["user", "unlock", "carol", "--data", data.to_str().unwrap()],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    c.login("carol", PASS).await.unwrap();
}

#[tokio::test]
async fn lockout_ends_by_itself() {
    // In process, so the test moves the server's clock instead of waiting.
    let srv = InProc::start(
        &[Service::Framed],
        |a| {
            a.account_max_failures = 2;
            a.lockout = Duration::from_secs(60);
        },
        |_| {},
    )
    .await;
    srv.add_user("dave", PASS).await;
    let ep: Endpoint = srv.addr(Service::Framed).parse().unwrap();
    let mut c = Client::connect(&ep, IO_LIMIT).await.unwrap();
    for _ in 0..2 {
        let _ = c.login("dave", "wrong password").await;
    }
    assert_eq!(code(c.login("dave", PASS).await), "too_many_attempts");
    srv.skip(Duration::from_secs(30)).await;
    assert_eq!(code(c.login("dave", PASS).await), "too_many_attempts");
    // Past the minute, the right password works again.
    srv.skip(Duration::from_secs(31)).await;
    c.login("dave", PASS).await.unwrap();
    srv.stop().await;
}

#[tokio::test]
async fn sessions_expire() {
    // In process: the server's calendar moves past the expiry at once
    // (tokio's clock stays, so the connections are not idle-closed).
    let srv = InProc::start(
        &[Service::Framed],
        |a| a.session_ttl = Duration::from_secs(3600),
        |_| {},
    )
    .await;
    srv.add_user("erin", PASS).await;
    let ep: Endpoint = srv.addr(Service::Framed).parse().unwrap();
    let mut c = Client::connect(&ep, IO_LIMIT).await.unwrap();
    let AuthReply::Login { token, .. } = c.login("erin", PASS).await.unwrap() else {
        panic!()
    };
    let mut other = Client::connect(&ep, IO_LIMIT).await.unwrap();
    // Valid within the hour, also from another connection.
    srv.skip_calendar(Duration::from_secs(3590));
    other.resume(&token).await.unwrap();
    c.auth(AuthRequest::Whoami {}).await.unwrap();
    // Refused once the hour is over, on both.
    srv.skip_calendar(Duration::from_secs(20));
    let mut late = Client::connect(&ep, IO_LIMIT).await.unwrap();
    assert_eq!(code(late.resume(&token).await), "invalid_token");
    assert_eq!(
        code(c.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    srv.stop().await;
}

/// The real binary's `--session-ttl` reaches the accounts service: a
/// session of one second is refused once its second is over. Bounded by
/// [`IO_LIMIT`], not a fixed wait.
#[tokio::test]
async fn session_ttl_flag_is_applied() {
    let srv = server(&["--session-ttl", "1"]);
    add_user(&srv.data(), "erin", PASS);
    let AuthReply::Login { expires, .. } = client(&srv).await.login("erin", PASS).await.unwrap()
    else {
        panic!()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expires <= now + 1,
        "expires {expires}, now {now}: the ttl was not applied"
    );
}

#[tokio::test]
async fn bad_input_is_refused_cheaply_and_the_connection_survives() {
    let srv = server(&[]);
    let mut c = client(&srv).await;
    // A password far over the limit (but inside the header limit).
    let huge = "x".repeat(60_000);
    let e = c.login("someone", &huge).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    // Fields of the wrong type.
    let e = c
        .request(Frame::new("login").set("name", 5).set("password", PASS))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("bad_request"));
    let e = c.request(Frame::new("resume")).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"));
    c.request(Frame::new("ping")).await.unwrap();
}

#[tokio::test]
async fn restart_keeps_users_and_sessions() {
    let srv = server(&[]);
    add_user(&srv.data(), "frank", PASS);
    let AuthReply::Login { token, .. } = client(&srv).await.login("frank", PASS).await.unwrap()
    else {
        panic!()
    };
    let dir = srv.stop_keep_dir();
    let srv = Server::start_in(dir, &["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let resumed = client(&srv).await.resume(&token).await.unwrap();
    assert!(matches!(resumed, AuthReply::Resume { ref user, .. } if user == "frank"));
    client(&srv).await.login("frank", PASS).await.unwrap();
}

#[tokio::test]
async fn operator_changes_revoke_sessions() {
    let srv = server(&[]);
    let data = srv.data();
    let d = data.to_str().unwrap();
    add_user(&data, "gina", PASS);
    let mut c = client(&srv).await;
    c.login("gina", PASS).await.unwrap();
    let out = run(
        &[
            "user",
            "passwd",
            "gina",
            "--password-stdin",
            "--argon2",
            CHEAP,
            "--data",
            d,
        ],
        b"another long password\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        code(c.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    assert_eq!(code(c.login("gina", PASS).await), "invalid_credentials");
    c.login("gina", "another long password").await.unwrap();

    assert!(
        run(&["user", "lock", "gina", "--data", d], b"")
            .status
            .success()
    );
    assert_eq!(
        code(c.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    assert_eq!(
        code(c.login("gina", "another long password").await),
        "account_locked"
    );
    // A locked account looks like any refusal to someone without the password.
    assert_eq!(
        code(c.login("gina", "wrong password").await),
        "invalid_credentials"
    );
    assert!(
        run(&["user", "unlock", "gina", "--data", d], b"")
            .status
            .success()
    );
    c.login("gina", "another long password").await.unwrap();

    assert!(
        run(&["user", "del", "gina", "--data", d], b"")
            .status
            .success()
    );
    assert_eq!(
        code(c.auth(AuthRequest::Whoami {}).await),
        "unauthenticated"
    );
    assert_eq!(
        code(c.login("gina", "another long password").await),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_logins_while_echo_keeps_answering() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = server(&[]);
    add_user(&srv.data(), "hal", PASS);
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    let mut logins = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let ep = ep.clone();
        logins.spawn(async move {
            let mut c = Client::connect(&ep, IO_LIMIT).await.unwrap();
            c.login("hal", PASS).await
        });
    }
    // Meanwhile the echo service keeps answering round trips.
    let mut s = tokio::net::TcpStream::connect(srv.sock("echo", "tcp://"))
        .await
        .unwrap();
    let mut echoed_during_flood = 0;
    let mut ok = 0;
    while !logins.is_empty() {
        s.write_all(b"ping\n").await.unwrap();
        let mut buf = [0u8; 5];
        tokio::time::timeout(IO_LIMIT, s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"ping\n");
        echoed_during_flood += 1;
        while let Some(done) = logins.try_join_next() {
            done.unwrap().unwrap();
            ok += 1;
        }
    }
    assert_eq!(ok, 100);
    assert!(echoed_during_flood > 0);
}

#[test]
fn cli_login_whoami_logout_keep_the_token_private() {
    let srv = server(&[]);
    add_user(&srv.data(), "ivy", PASS);
    let cfg = tempfile::tempdir().unwrap();
    let env = [("SOCKIT_CONFIG_DIR", cfg.path())];
    let addr = srv.addr("framed", "tcp://");
    let out = run_env(
        &["login", &addr, "--user", "ivy", "--password-stdin"],
        format!("{PASS}\n").as_bytes(),
        &env,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("login successful: ivy at {addr}")
    );
    let file = cfg.path().join("sessions.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let token = saved["servers"][&addr]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = run_env(&["whoami", &addr, "--json"], b"", &env);
    assert!(out.status.success(), "{out:?}");
    let who: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["user"], "ivy");
    for o in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(o).contains(&token));
    }

    let out = run_env(&["logout", &addr], b"", &env);
    assert!(out.status.success(), "{out:?}");
    let out = run_env(&["whoami", &addr], b"", &env);
    assert_eq!(
        out.status.code(),
        Some(3),
        "not logged in: 3, as everywhere"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not logged in"),
        "{out:?}"
    );

    // A wrong password exits 1 with the server's one-line reason.
    let env2 = [
        ("SOCKIT_CONFIG_DIR", cfg.path()),
        ("SOCKIT_PASSWORD", Path::new("nope nope")),
    ];
    let out = run_env(&["login", &addr, "--user", "ivy"], b"", &env2);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid username or password"),
        "{out:?}"
    );
}

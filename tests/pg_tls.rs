//! TLS between a node and PostgreSQL (`--store
//! postgres://…?sslmode=verify-full&sslrootcert=CA`): a throw-away
//! PostgreSQL that accepts TCP connections only over TLS (`hostssl`), its
//! certificate for `localhost` signed by a CA made for the test.
//!
//! What an operator checks: a node on `verify-full` starts, serves logins
//! and chat, and every connection it holds is encrypted; a server whose
//! certificate is not signed by the given CA, or does not name the host
//! dialed, is refused with a line saying why; `require` encrypts without a
//! CA; `disable` is refused by a TLS-only server.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::pg::Pg;
use common::{Accounts, CHEAP_ARGON2, Server, strip_scheme};
use sockit::client::Client;
use sockit::net::Conn;
use sockit::wire::{ChatReply, ChatRequest};

const PASS: &str = "correct horse battery";

/// The node's URL: TCP to `host` on the server's TLS port, with `params`.
fn url(pg: &Pg, host: &str, params: &str) -> String {
    format!(
        "postgres://sockit@{host}:{}/postgres?{params}",
        pg.tls_port()
    )
}

fn verify(mode: &str, ca: &Path) -> String {
    format!("sslmode={mode}&sslrootcert={}", ca.display())
}

/// `sockit user add NAME --store URL`: its exit and its stderr.
fn user_add(store: &str, name: &str) -> (bool, String) {
    let out = common::user_add(Accounts::Store(store), name, PASS);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_verify_full_serves_and_every_connection_it_holds_is_encrypted() {
    let pg = Pg::start_tls();
    let store = url(&pg, "localhost", &verify("verify-full", &pg.ca_file()));
    let (ok, err) = user_add(&store, "ann");
    assert!(ok, "user add over TLS: {err}");
    let node = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP_ARGON2,
        "--store",
        &store,
    ]);
    let addr: std::net::SocketAddr = strip_scheme(&node.addr("framed", "tcp://"))
        .parse()
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut c = Client::from_conn(Conn::Tcp(tcp).into());
    c.login("ann", PASS).await.unwrap();
    let send = ChatRequest::Send {
        room: "tls".into(),
        text: "over TLS".into(),
        key: None,
    };
    let joined = c
        .request(ChatRequest::Join { room: "tls".into() }.to_frame(None))
        .await;
    assert!(joined.is_ok(), "join over a TLS store: {joined:?}");
    let reply = c.request(send.to_frame(None)).await.unwrap();
    assert!(
        matches!(
            ChatReply::from_frame(&reply),
            Ok(ChatReply::Send { seq: 1, .. })
        ),
        "{reply:?}"
    );
    assert_eq!(
        pg.psql("SELECT text FROM chat_messages WHERE room = 'tls'"),
        "over TLS"
    );

    let counts = pg.psql(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.application_name = 'sockit' AND a.client_addr IS NOT NULL",
    );
    let (tls, all) = counts.split_once('|').unwrap();
    assert!(
        all.parse::<u32>().unwrap() > 0,
        "the node holds no connection: {counts}"
    );
    assert_eq!(tls, all, "encrypted | all of the node's connections");
}

#[test]
fn a_certificate_from_another_ca_or_for_another_name_is_refused_with_the_reason() {
    let pg = Pg::start_tls();
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("other-ca.pem");
    let k = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(&other_ca, p.self_signed(&k).unwrap().pem()).unwrap();

    let (ok, err) = user_add(
        &url(&pg, "localhost", &verify("verify-full", &other_ca)),
        "x",
    );
    assert!(!ok, "a server signed by another CA was trusted");
    assert!(err.contains("certificate"), "the reason is named: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // The certificate names localhost, not 127.0.0.1: verify-full refuses,
    // verify-ca (the chain only) accepts.
    let (ok, err) = user_add(
        &url(&pg, "127.0.0.1", &verify("verify-full", &pg.ca_file())),
        "x",
    );
    assert!(
        !ok && err.contains("certificate"),
        "name not checked: {err}"
    );
    let (ok, err) = user_add(
        &url(&pg, "127.0.0.1", &verify("verify-ca", &pg.ca_file())),
        "y",
    );
    assert!(ok, "verify-ca to a name the certificate lacks: {err}");
}

#[test]
fn require_encrypts_without_a_ca_disable_is_refused_and_bad_parameters_are_named() {
    let pg = Pg::start_tls();
    let (ok, err) = user_add(&url(&pg, "localhost", "sslmode=require"), "ann");
    assert!(ok, "require with no CA: {err}");
    let (ok, err) = user_add(&url(&pg, "localhost", "sslmode=disable"), "bob");
    assert!(!ok, "a TLS-only server accepted a plain connection");
    assert!(err.contains("PostgreSQL"), "{err}");

    let (ok, err) = user_add(&url(&pg, "localhost", "sslmode=verify-full"), "cy");
    assert!(!ok && err.contains("needs sslrootcert=FILE"), "{err}");
    let missing = pg.path().join("no-such-ca.pem");
    let (ok, err) = user_add(
        &url(&pg, "localhost", &verify("verify-full", &missing)),
        "cy",
    );
    assert!(
        !ok && err.contains("no-such-ca.pem"),
        "the missing file is named: {err}"
    );
}

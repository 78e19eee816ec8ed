//! Runs every conversation in tests/vectors/files.json against a real
//! server: one fresh account per vector, each step's reply checked field by
//! field. The vectors state the `file` family's rules (docs/PROTOCOL.md,
//! section 4) so that any client can check itself against the same file.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Server;
use serde::Deserialize;
use serde_json::{Map, Value};
use sockit::client::Client;
use sockit::net::Endpoint;
use sockit::wire::Frame;

const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);
/// How far from now a `"$now_s"` value may be: a test run's length.
const NOW_SLACK: i64 = 600;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    rule: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(default)]
    send: Option<Map<String, Value>>,
    /// The request's body, as text.
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    expect: Map<String, Value>,
    /// Fields the reply must not have.
    #[serde(default)]
    absent: Vec<String>,
    /// Close the connection and log in again on a new one.
    #[serde(default)]
    reconnect: bool,
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `got` holds everything `want` says: objects by subset, arrays element
/// by element (same length), `"$now_s"` any integer within NOW_SLACK
/// seconds of now.
fn matches(want: &Value, got: &Value) -> Result<(), String> {
    match (want, got) {
        (Value::String(s), Value::Number(n)) if s == "$now_s" => {
            let t = n.as_i64().ok_or("mtime is not an integer")?;
            if (t - now_s()).abs() <= NOW_SLACK {
                Ok(())
            } else {
                Err(format!("{t} is not Unix seconds near now"))
            }
        }
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).ok_or_else(|| format!("no field {k:?}"))?;
                matches(wv, gv).map_err(|e| format!("{k}: {e}"))?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!("{} elements, expected {}", g.len(), w.len()));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                matches(wv, gv).map_err(|e| format!("[{i}]: {e}"))?;
            }
            Ok(())
        }
        _ if want == got => Ok(()),
        _ => Err(format!("{got} is not {want}")),
    }
}

async fn connect(ep: &Endpoint, user: &str) -> Client {
    let mut c = Client::connect(ep, IO_LIMIT).await.unwrap();
    c.login(user, PASS).await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_vector_holds_on_a_real_server() {
    let text = include_str!("vectors/files.json");
    let file: File = serde_json::from_str(text).unwrap();
    assert!(file.vectors.len() >= 10);
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", "m=256,t=1,p=1"]);
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    for (i, v) in file.vectors.iter().enumerate() {
        let user = format!("vector{i}");
        common::add_user(&srv.data(), &user, PASS);
        let mut c = connect(&ep, &user).await;
        for (n, step) in v.steps.iter().enumerate() {
            let ctx = format!("vector {} step {n} ({})", v.name, v.rule);
            if step.reconnect {
                // Half-close and wait for the server's EOF: it ends the
                // connection only after pausing its uploads (fsync), so
                // the new connection finds them resumable, not busy.
                c.shutdown_write().await.unwrap();
                while let Ok(Some(_)) = c.recv().await {}
                drop(c);
                c = connect(&ep, &user).await;
                continue;
            }
            let send = step.send.clone().unwrap();
            let id = c.next_id();
            let mut frame = Frame {
                header: send,
                body: Default::default(),
            }
            .with_opt_id(Some(id));
            if let Some(b) = &step.body {
                if step.expect.get("type").and_then(Value::as_str) != Some("file.read") {
                    frame = frame.with_body(b.clone().into_bytes());
                }
            }
            c.send(frame).await.unwrap();
            let reply = c.recv().await.unwrap().unwrap();
            assert_eq!(reply.id(), Some(id), "{ctx}");
            let got = Value::Object(reply.header.clone());
            if let Err(e) = matches(&Value::Object(step.expect.clone()), &got) {
                panic!("{ctx}: {e}\nreply: {got}");
            }
            for k in &step.absent {
                assert!(!reply.header.contains_key(k), "{ctx}: {k} in {got}");
            }
            if step.expect.get("type").and_then(Value::as_str) == Some("file.read") {
                let want = step.body.clone().unwrap_or_default();
                assert_eq!(&reply.body[..], want.as_bytes(), "{ctx}: body");
            }
        }
    }
}

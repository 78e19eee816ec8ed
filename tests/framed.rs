//! The framed door and `sockit call` over real sockets: core messages,
//! pipelining, bodies, hostile peers.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, bin, run};
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::wire::{Frame, decode_from_slice, encode_to_vec};

const IO_LIMIT: Duration = Duration::from_secs(10);

fn framed_server() -> Server {
    Server::start(&["--listen", "tcp://127.0.0.1:0", "--listen", "unix://f.sock"])
}

async fn client(addr: &str) -> Client {
    Client::connect(&addr.parse::<Endpoint>().unwrap(), IO_LIMIT)
        .await
        .unwrap()
}

#[tokio::test]
async fn hello_ping_echo_over_tcp_and_unix() {
    let srv = framed_server();
    let unix = format!("unix://{}", srv.unix_path("framed").display());
    for addr in [srv.addr("framed", "tcp://"), unix] {
        let mut c = client(&addr).await;
        let hello = c.hello().await.unwrap();
        assert_eq!(hello.get("version").unwrap(), 1);
        assert_eq!(hello.get("limits").unwrap()["max_header"], 65536);

        let pong = c
            .request(Frame::new("ping").set("ts", serde_json::json!({"t": 5})))
            .await
            .unwrap();
        assert_eq!(pong.kind(), Some("pong"));
        assert_eq!(pong.get("ts").unwrap()["t"], 5);

        // Up to 64 KiB before login (--max-body-guest).
        let body: Vec<u8> = (0..65_536u32).map(|i| (i % 253) as u8).collect();
        let echo = c
            .request(Frame::new("echo").set("note", "x").with_body(body.clone()))
            .await
            .unwrap();
        assert_eq!(echo.get("note").unwrap(), "x");
        assert_eq!(echo.body, body);
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let srv = framed_server();
    let mut c = client(&srv.addr("framed", "tcp://")).await;
    for id in 0..1000u64 {
        c.feed(Frame::new("ping").with_id(id)).await.unwrap();
    }
    c.flush().await.unwrap();
    for id in 0..1000u64 {
        let f = c.recv().await.unwrap().unwrap();
        assert_eq!((f.kind(), f.id()), (Some("pong"), Some(id)));
    }
}

#[tokio::test]
async fn unknown_type_is_an_error_but_the_connection_stays() {
    let srv = framed_server();
    let mut c = client(&srv.addr("framed", "tcp://")).await;
    match c.request(Frame::new("teleport")).await {
        Err(ClientError::Server { code, .. }) => assert_eq!(code, "unknown_type"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.request(Frame::new("ping")).await.unwrap().kind(),
        Some("pong")
    );
}

/// Sends raw bytes and returns every frame read back before the server closed.
fn raw_exchange(addr: &str, bytes: &[u8]) -> Vec<Frame> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s.write_all(bytes).unwrap();
    // Our EOF: between frames a clean close, inside one a truncation.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let mut frames = Vec::new();
    let mut rest = &got[..];
    while !rest.is_empty() {
        let (f, used) = decode_from_slice(rest, &Default::default())
            .unwrap()
            .unwrap();
        frames.push(f);
        rest = &rest[used..];
    }
    frames
}

#[test]
fn hostile_frames_get_an_error_frame_then_close() {
    let srv = framed_server();
    let addr = srv.sock("framed", "tcp://");
    let mut bystander = TcpStream::connect(&addr).unwrap();
    bystander.set_read_timeout(Some(IO_LIMIT)).unwrap();

    let mut not_object = 4u32.to_be_bytes().to_vec();
    not_object.extend_from_slice(b"[1] ");
    let mut bad_json = 5u32.to_be_bytes().to_vec();
    bad_json.extend_from_slice(b"{nope");
    let mut huge_body = encode_to_vec(&Frame::new("ping")).unwrap();
    let big = br#"{"type":"echo","size":99999999999}"#;
    huge_body.extend_from_slice(&(big.len() as u32).to_be_bytes());
    huge_body.extend_from_slice(big);

    for (bytes, code, replies_before) in [
        (vec![0xff, 0xff, 0xff, 0xff], "header_too_large", 0),
        (not_object, "bad_header", 0),
        (bad_json, "bad_header", 0),
        (vec![0, 0, 0, 0], "bad_header", 0),
        (huge_body, "body_too_large", 1),
    ] {
        let frames = raw_exchange(&addr, &bytes);
        assert_eq!(frames.len(), replies_before + 1, "{code}: {frames:?}");
        let last = frames.last().unwrap();
        assert_eq!(last.kind(), Some("error"));
        assert_eq!(last.get("code").unwrap(), code);
    }
    // EOF inside a frame: the server answers truncated_frame and closes.
    let frames = raw_exchange(&addr, &[0, 0, 0, 50, b'{']);
    assert_eq!(frames[0].get("code").unwrap(), "truncated_frame");

    // Nobody else noticed.
    bystander
        .write_all(&encode_to_vec(&Frame::new("ping").with_id(9)).unwrap())
        .unwrap();
    let mut buf = [0u8; 256];
    let n = bystander.read(&mut buf).unwrap();
    let (pong, _) = decode_from_slice(&buf[..n], &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(pong.id(), Some(9));
}

/// The "id" of each JSON line `sockit call` printed.
fn reply_ids(stdout: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn call_prints_replies_as_json_lines() {
    let srv = framed_server();
    let addr = srv.addr("framed", "tcp://");
    let out = run(
        &["call", &addr, r#"{"type":"ping","id":7,"ts":"now"}"#],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line, serde_json::json!({"type":"pong","id":7,"ts":"now"}));

    let input = b"{\"type\":\"ping\",\"id\":1}\n{\"type\":\"ping\",\"id\":2}\n{\"type\":\"ping\",\"id\":3}\n";
    let out = run(&["call", &addr, "--stdin"], input);
    assert!(out.status.success());
    assert_eq!(reply_ids(&out.stdout), [1, 2, 3]);

    // A bad line is named and skipped; the lines around it still get answers.
    let input = b"{\"type\":\"ping\",\"id\":1}\nnot json\n[1]\n{\"type\":\"ping\",\"id\":4}\n";
    let out = run(&["call", &addr, "--stdin"], input);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(reply_ids(&out.stdout), [1, 4]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("stdin line 2: ") && stderr.contains("stdin line 3: "),
        "{stderr}"
    );

    // A body: summarised by size and SHA-256, or written out with --out.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.bin");
    std::fs::write(&file, b"abc").unwrap();
    let out = run(
        &[
            "call",
            &addr,
            r#"{"type":"echo"}"#,
            "--body",
            file.to_str().unwrap(),
        ],
        b"",
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["size"], 3);
    assert_eq!(
        line["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let copy = dir.path().join("copy.bin");
    let out = run(
        &[
            "call",
            &addr,
            r#"{"type":"echo"}"#,
            "--body",
            "-",
            "--out",
            copy.to_str().unwrap(),
        ],
        b"from stdin",
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read(&copy).unwrap(), b"from stdin");

    // An error reply: printed, and the exit status says so.
    let out = run(&["call", &addr, r#"{"type":"nope"}"#], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown_type"));
    // A header that is not a JSON object never leaves the machine.
    let out = run(&["call", &addr, "[1,2]"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a JSON object"));
}

#[test]
fn framed_over_udp_is_refused_at_start() {
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "udp://127.0.0.1:0", "--data"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a stream socket"));
}

#[test]
fn a_reply_over_the_limit_becomes_an_error_with_the_request_id() {
    // `1e5` re-serialises as `100000.0`: the echo of this 60 KB header would
    // be 135 KB, over the 64 KiB header limit.
    let srv = framed_server();
    let numbers = vec!["1e5"; 15_000].join(",");
    let header = format!(r#"{{"type":"echo","id":5,"n":[{numbers}]}}"#);
    let mut raw = (header.len() as u32).to_be_bytes().to_vec();
    raw.extend_from_slice(header.as_bytes());
    let mut s = TcpStream::connect(srv.sock("framed", "tcp://")).unwrap();
    s.set_read_timeout(Some(IO_LIMIT)).unwrap();
    s.write_all(&raw).unwrap();
    s.write_all(&encode_to_vec(&Frame::new("ping").with_id(6)).unwrap())
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let (err, used) = decode_from_slice(&got, &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(err.get("code").unwrap(), "header_too_large");
    assert_eq!(err.id(), Some(5));
    let (pong, _) = decode_from_slice(&got[used..], &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(pong.id(), Some(6));
}

#[test]
fn ping_and_bench_speak_the_frame_protocol() {
    let srv = framed_server();
    let addr = srv.addr("framed", "tcp://");
    let out = run(
        &[
            "ping", "-c", "3", "-i", "0.01", "--proto", "frame", "--json", &addr,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let last = String::from_utf8(out.stdout).unwrap();
    let j: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(
        (j["received"].as_u64(), j["mismatched"].as_u64()),
        (Some(3), Some(0))
    );

    for proto in ["frame-ping", "frame"] {
        let out = run(
            &[
                "bench",
                "--proto",
                proto,
                "--conns",
                "2",
                "--pipeline",
                "16",
                "--duration",
                "0.5",
                "--warmup",
                "0.1",
                "--json",
                &addr,
            ],
            b"",
        );
        assert!(out.status.success(), "{proto}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let j: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert!(j["messages"].as_u64().unwrap() > 0, "{proto}: {j}");
        assert_eq!(j["errors"], 0, "{proto}: {j}");
        assert_eq!(j["proto"], proto);
    }
    // Frames need a stream: a clear refusal over UDP.
    let out = run(
        &[
            "bench",
            "--proto",
            "frame-ping",
            "--duration",
            "0.1",
            "udp://127.0.0.1:9",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a TCP or Unix address"));
}

//! The perf door in memory, over `tokio::io::duplex`: a test each way, the
//! refusals, and the peers that go quiet or stop reading.

use super::*;
use tokio::io::{AsyncReadExt, DuplexStream};
use tokio_util::sync::CancellationToken;

const IDLE: Duration = Duration::from_secs(60);

fn opts() -> StreamOpts {
    StreamOpts {
        idle: IDLE,
        max_line: 16,
        shutdown: CancellationToken::new(),
        write_timeout: Duration::from_secs(30),
    }
}

/// A door on one end of a pipe; the test holds the other.
fn start(cap: usize) -> (DuplexStream, tokio::task::JoinHandle<io::Result<()>>) {
    let (peer, ours) = tokio::io::duplex(cap);
    (peer, tokio::spawn(perf_on(ours, opts())))
}

/// One line from the server, newline dropped.
async fn line(peer: &mut DuplexStream) -> String {
    let mut out = Vec::new();
    loop {
        match peer.read_u8().await.unwrap() {
            b'\n' => return String::from_utf8(out).unwrap(),
            b => out.push(b),
        }
    }
}

/// Reads the framed chunks up to the zero length, then the result line:
/// the payload bytes counted, and the result the server sent.
async fn chunks_and_result(peer: &mut DuplexStream) -> (u64, PerfResult) {
    let mut got = 0u64;
    let mut body = vec![0u8; CHUNK_LEN];
    loop {
        let len = peer.read_u32().await.unwrap() as usize;
        if len == 0 {
            break;
        }
        assert!(len <= CHUNK_LEN, "a chunk of {len} bytes");
        peer.read_exact(&mut body[..len]).await.unwrap();
        got += len as u64;
    }
    (got, serde_json::from_str(&line(peer).await).unwrap())
}

#[tokio::test]
async fn an_upload_test_counts_every_byte_the_client_sent() {
    let (mut peer, task) = start(64 * 1024);
    // Bytes right behind the header, in the same write, count too.
    let mut first = br#"{"perf":1,"mode":"up","secs":5}"#.to_vec();
    first.extend_from_slice(b"\n12345");
    peer.write_all(&first).await.unwrap();
    assert_eq!(line(&mut peer).await, r#"{"ok":true}"#);
    for _ in 0..10 {
        peer.write_all(&[7u8; 100_000]).await.unwrap();
    }
    peer.shutdown().await.unwrap();
    let (got, result) = chunks_and_result(&mut peer).await;
    assert_eq!((got, result.sent), (0, 0), "up: the server sends no data");
    assert_eq!(result.received, 1_000_005);
    assert_eq!(result.retransmits, None, "no TCP socket under a pipe");
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_download_test_sends_framed_chunks_then_the_count() {
    let (mut peer, task) = start(256 * 1024);
    peer.write_all(b"{\"perf\":1,\"mode\":\"down\",\"secs\":0.05}\n")
        .await
        .unwrap();
    peer.shutdown().await.unwrap();
    assert_eq!(line(&mut peer).await, r#"{"ok":true}"#);
    let (got, result) = chunks_and_result(&mut peer).await;
    assert!(got >= CHUNK_LEN as u64, "at least one chunk, got {got}");
    assert_eq!((result.sent, result.received), (got, 0));
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "EOF after the result");
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_bad_or_overlong_header_gets_one_error_line_and_no_test() {
    for (input, says) in [
        (
            b"{\"perf\":2,\"mode\":\"up\",\"secs\":1}\n".to_vec(),
            "version 2",
        ),
        (
            b"{\"perf\":1,\"mode\":\"up\",\"secs\":601}\n".to_vec(),
            "out of range",
        ),
        (b"GET / HTTP/1.1\r\n".to_vec(), "bad perf header"),
        (vec![b'x'; MAX_HEADER_LINE], "longer than 512"),
    ] {
        let (mut peer, task) = start(4096);
        peer.write_all(&input).await.unwrap();
        let reply: serde_json::Value = serde_json::from_str(&line(&mut peer).await).unwrap();
        let error = reply["error"].as_str().unwrap();
        assert!(error.contains(says), "{error}");
        task.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_sends_the_header_is_closed_at_the_idle_timeout() {
    let (mut peer, task) = start(4096);
    // One byte short of a header line: no newline ever comes.
    peer.write_all(br#"{"perf":1,"mode":"up","secs":1}"#)
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(started.elapsed(), IDLE);
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_a_download_is_cut_off() {
    let (mut peer, task) = start(64 * 1024);
    peer.write_all(b"{\"perf\":1,\"mode\":\"down\",\"secs\":600}\n")
        .await
        .unwrap();
    peer.shutdown().await.unwrap();
    assert_eq!(line(&mut peer).await, r#"{"ok":true}"#);
    // Nothing more is read: the pipe fills and the server's writes wait.
    let started = tokio::time::Instant::now();
    let e = task.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), IDLE);
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_an_upload_test_with_its_result() {
    let (mut peer, ours) = tokio::io::duplex(64 * 1024);
    let o = opts();
    let stop = o.shutdown.clone();
    let task = tokio::spawn(perf_on(ours, o));
    peer.write_all(b"{\"perf\":1,\"mode\":\"up\",\"secs\":600}\n")
        .await
        .unwrap();
    assert_eq!(line(&mut peer).await, r#"{"ok":true}"#);
    peer.write_all(&[1u8; 1000]).await.unwrap();
    // Paused time moves only once every task waits: the door has read
    // the bytes and waits for more when the stop comes.
    tokio::time::sleep(Duration::from_millis(1)).await;
    stop.cancel();
    let (got, result) = chunks_and_result(&mut peer).await;
    assert_eq!((got, result.received), (0, 1000));
    task.await.unwrap().unwrap();
}

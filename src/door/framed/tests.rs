//! The framed door in memory, over `tokio::io::duplex`: request and reply,
//! and the hostile peers (oversize, one byte short, never reading, idle).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

use super::*;
use crate::net::{Gate, MemBudget};
use crate::service::Services;
use crate::wire::ServerInfo;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const IDLE: Duration = Duration::from_secs(300);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

fn opts() -> FramedOpts {
    FramedOpts {
        info: Arc::new(ServerInfo::default()),
        idle: IDLE,
        shutdown: CancellationToken::new(),
        services: Services::default(),
        gate: Arc::new(Gate::default()),
        memory: Arc::new(MemBudget::default()),
        frame_timeout: DEFAULT_FRAME_TIMEOUT,
        guest_max_body: DEFAULT_GUEST_MAX_BODY,
        write_timeout: WRITE_TIMEOUT,
    }
}

/// The door on one end of a pipe of `cap` bytes each way; the peer's end.
fn door(cap: usize) -> (DuplexStream, JoinHandle<io::Result<()>>) {
    let (peer, ours) = tokio::io::duplex(cap);
    (peer, tokio::spawn(framed_on(ours, None, opts())))
}

/// A frame as the protocol draws it: length, JSON header, body.
fn frame(header: &str, body: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads one frame's header as JSON, skipping its body.
async fn reply(peer: &mut DuplexStream) -> serde_json::Value {
    let len = peer.read_u32().await.unwrap() as usize;
    let mut head = vec![0u8; len];
    peer.read_exact(&mut head).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&head).unwrap();
    let size = v["size"].as_u64().unwrap_or(0) as usize;
    let mut body = vec![0u8; size];
    peer.read_exact(&mut body).await.unwrap();
    v
}

async fn at_eof(peer: &mut DuplexStream) -> bool {
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.is_ok() && rest.is_empty()
}

#[tokio::test]
async fn requests_are_answered_in_order_and_eof_is_a_clean_close() {
    let (mut peer, task) = door(64 * 1024);
    let mut batch = frame(r#"{"id":1,"type":"hello","version":1}"#, b"");
    batch.extend(frame(r#"{"id":2,"type":"ping","ts":7}"#, b""));
    batch.extend(frame(r#"{"id":3,"size":5,"type":"echo"}"#, b"hello"));
    peer.write_all(&batch).await.unwrap();
    let hello = reply(&mut peer).await;
    assert_eq!(
        (hello["type"].as_str(), hello["id"].as_u64()),
        (Some("hello"), Some(1))
    );
    let pong = reply(&mut peer).await;
    assert_eq!(
        (pong["type"].as_str(), pong["ts"].as_u64()),
        (Some("pong"), Some(7))
    );
    let echo = reply(&mut peer).await;
    assert_eq!(
        (echo["type"].as_str(), echo["size"].as_u64()),
        (Some("echo"), Some(5))
    );
    peer.shutdown().await.unwrap();
    assert!(at_eof(&mut peer).await, "our EOF is answered with EOF");
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_oversize_frame_is_refused_before_its_body_and_closed() {
    let (mut peer, task) = door(64 * 1024);
    // A header length far over max_header: refused from the prefix alone.
    peer.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let e = reply(&mut peer).await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "header_too_large");
    peer.shutdown().await.unwrap();
    assert!(at_eof(&mut peer).await);
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_peer_one_byte_short_of_a_frame_is_told_and_closed_at_the_frame_timeout() {
    let (mut peer, task) = door(64 * 1024);
    peer.write_all(&frame(r#"{"id":1,"type":"hello","version":1}"#, b""))
        .await
        .unwrap();
    reply(&mut peer).await;
    let whole = frame(r#"{"id":2,"type":"ping"}"#, b"");
    peer.write_all(&whole[..whole.len() - 1]).await.unwrap();
    let started = tokio::time::Instant::now();
    let e = reply(&mut peer).await;
    assert_eq!(e["code"], FRAME_TIMEOUT.as_str());
    assert_eq!(started.elapsed(), DEFAULT_FRAME_TIMEOUT);
    peer.shutdown().await.unwrap();
    assert!(at_eof(&mut peer).await);
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_is_cut_off_at_the_write_timeout() {
    let (mut peer, task) = door(1024);
    peer.write_all(&frame(r#"{"id":1,"type":"hello","version":1}"#, b""))
        .await
        .unwrap();
    // Echoes of 16 KiB each: the replies fill the 1 KiB pipe at once,
    // and the peer never reads them.
    let body = vec![b'x'; 16 * 1024];
    let req = frame(r#"{"id":2,"size":16384,"type":"echo"}"#, &body);
    let writer = tokio::spawn(async move {
        let _ = peer.write_all(&req).await;
        peer // kept open, unread
    });
    let started = tokio::time::Instant::now();
    let e = task.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), WRITE_TIMEOUT);
    drop(writer.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn an_idle_peer_is_closed_at_the_idle_timeout() {
    let (mut peer, task) = door(64 * 1024);
    peer.write_all(&frame(r#"{"id":1,"type":"hello","version":1}"#, b""))
        .await
        .unwrap();
    reply(&mut peer).await;
    let started = tokio::time::Instant::now();
    assert!(at_eof(&mut peer).await, "closed, not refused");
    assert_eq!(started.elapsed(), IDLE);
    task.await.unwrap().unwrap();
}

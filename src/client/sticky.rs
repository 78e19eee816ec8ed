//! The sticky-packet lab: the same burst of messages read by a naive
//! `recv(1024)` reader and by the frame reader, over real loopback TCP.
//!
//! TCP delivers a byte stream, not messages: several sends can arrive in one
//! read ("merged"), and one send can take several reads ("split"). The naive
//! reader takes every read for one message and gets both wrong; the framed
//! reader (4-byte length + JSON header + body) recovers every message.

use std::io;

use bytes::BytesMut;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Decoder, Encoder};

use crate::wire::{Frame, FrameCodec};

/// The burst to send.
#[derive(Debug, Clone)]
pub struct StickyOpts {
    /// Messages in the burst.
    pub count: usize,
    /// Every `big_every`-th message is `big_size` bytes, larger than the naive
    /// reader's buffer, so splitting shows too (0: none).
    pub big_every: usize,
    /// Size of the large messages.
    pub big_size: usize,
    /// The naive reader's `recv` size (the classic 1024).
    pub recv_size: usize,
}

impl Default for StickyOpts {
    fn default() -> Self {
        StickyOpts {
            count: 100,
            big_every: 10,
            big_size: 3000,
            recv_size: 1024,
        }
    }
}

/// What one reader made of the burst.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReaderReport {
    /// Reads (naive) or frames (framed) that returned data.
    pub reads: usize,
    /// Messages the reader believes it got.
    pub messages_seen: usize,
    /// Sent messages it got exactly, intact and alone.
    pub intact: usize,
    /// Reads that held bytes of more than one message.
    pub merged_reads: usize,
    /// Messages whose bytes spread over more than one read.
    pub split_messages: usize,
}

/// Both readers' results for one burst.
#[derive(Debug, Clone, Serialize)]
pub struct StickyReport {
    /// Messages sent, each with its own `send` call.
    pub sent: usize,
    /// The naive `recv(N)` reader.
    pub naive: ReaderReport,
    /// The frame reader.
    pub framed: ReaderReport,
}

/// The message payloads of a burst: short text lines with a few large ones.
pub fn burst(opts: &StickyOpts) -> Vec<Vec<u8>> {
    (0..opts.count)
        .map(|i| {
            if opts.big_every > 0 && i % opts.big_every == opts.big_every - 1 {
                vec![b'#'; opts.big_size]
            } else {
                format!("message {i}: hello").into_bytes()
            }
        })
        .collect()
}

/// Scores a naive reader: `reads` are the lengths each `recv` returned, in
/// order, over the concatenation of `messages`.
pub fn score_naive(messages: &[Vec<u8>], reads: &[usize]) -> ReaderReport {
    // Message boundaries as byte offsets: message i spans bounds[i]..bounds[i+1].
    let mut bounds = vec![0usize];
    for m in messages {
        bounds.push(bounds[bounds.len() - 1] + m.len());
    }
    let mut report = ReaderReport {
        reads: reads.len(),
        messages_seen: reads.len(),
        ..Default::default()
    };
    let mut reads_per_msg = vec![0usize; messages.len()];
    let mut start = 0;
    for &len in reads {
        let end = start + len;
        // Messages overlapping [start, end).
        let first = bounds.partition_point(|&b| b <= start).saturating_sub(1);
        let last = bounds.partition_point(|&b| b < end).saturating_sub(1);
        if last > first {
            report.merged_reads += 1;
        }
        if let (Some(&s), Some(&e)) = (bounds.get(first), bounds.get(first + 1)) {
            if first == last && s == start && e == end {
                report.intact += 1;
            }
        }
        for count in reads_per_msg.iter_mut().take(last + 1).skip(first) {
            *count += 1;
        }
        start = end;
    }
    report.split_messages = reads_per_msg.iter().filter(|&&n| n > 1).count();
    report
}

/// Runs the lab over loopback: two connections, the same burst on each.
pub async fn run(opts: &StickyOpts) -> io::Result<StickyReport> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let messages = burst(opts);

    // Naive: raw bytes, one write per message, read with recv(recv_size).
    let (tx, mut rx) = connected(&listener, addr).await?;
    let writer = send_each(tx, messages.clone());
    let mut reads = Vec::new();
    let mut buf = vec![0u8; opts.recv_size.max(1)];
    loop {
        let n = rx.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        reads.push(n);
    }
    writer.await.map_err(io::Error::other)??;
    let naive = score_naive(&messages, &reads);

    // Framed: the same payloads as frame bodies, one write per frame.
    let (tx, mut rx) = connected(&listener, addr).await?;
    let mut codec = FrameCodec::new();
    let mut frames = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let mut out = BytesMut::new();
        let frame = Frame::new("msg").with_id(i as u64).with_body(m.clone());
        codec.encode(frame, &mut out).map_err(io::Error::other)?;
        frames.push(out.to_vec());
    }
    let writer = send_each(tx, frames);
    let mut codec = FrameCodec::new();
    let mut framed = ReaderReport::default();
    let mut inbuf = BytesMut::new();
    loop {
        while let Some(f) = codec.decode(&mut inbuf).map_err(io::Error::other)? {
            framed.reads += 1;
            framed.messages_seen += 1;
            let want = f.id().and_then(|i| messages.get(usize::try_from(i).ok()?));
            if want.is_some_and(|w| w[..] == f.body[..]) {
                framed.intact += 1;
            }
        }
        if rx.read_buf(&mut inbuf).await? == 0 {
            break;
        }
    }
    writer.await.map_err(io::Error::other)??;
    Ok(StickyReport {
        sent: messages.len(),
        naive,
        framed,
    })
}

/// Sends each message with its own write, then half-closes; runs beside
/// the reader, so a burst larger than the socket buffers flows, not stalls.
fn send_each(mut tx: TcpStream, messages: Vec<Vec<u8>>) -> tokio::task::JoinHandle<io::Result<()>> {
    tokio::spawn(async move {
        for m in &messages {
            tx.write_all(m).await?;
        }
        tx.shutdown().await
    })
}

/// A connected pair over real loopback TCP. Nagle stays on at the sender,
/// as in the classic programs, which is what merges small sends.
async fn connected(
    listener: &TcpListener,
    addr: std::net::SocketAddr,
) -> io::Result<(TcpStream, TcpStream)> {
    let (tx, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    Ok((tx?, accepted?.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_counts_merges_and_splits() {
        let msgs = vec![b"aa".to_vec(), b"bbb".to_vec(), b"c".to_vec()];
        // One read per message: all intact.
        let r = score_naive(&msgs, &[2, 3, 1]);
        assert_eq!((r.intact, r.merged_reads, r.split_messages), (3, 0, 0));
        // Everything in one read: merged, nothing intact.
        let r = score_naive(&msgs, &[6]);
        assert_eq!((r.intact, r.merged_reads, r.split_messages), (0, 1, 0));
        // "bbb" split over two reads, which also merge with neighbours.
        let r = score_naive(&msgs, &[3, 3]);
        assert_eq!((r.intact, r.merged_reads, r.split_messages), (0, 2, 1));
    }

    #[tokio::test]
    async fn the_frame_reader_recovers_every_message() {
        let report = run(&StickyOpts::default()).await.unwrap();
        assert_eq!(report.framed.intact, report.sent);
        // Large messages exceed recv(1024): the naive reader must split them.
        assert!(report.naive.split_messages >= 10, "{report:?}");
        assert!(report.naive.intact < report.sent, "{report:?}");
    }
}

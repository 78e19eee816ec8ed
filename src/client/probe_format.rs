//! What `ping` and `bench` put on the wire: raw echo probes, or the same
//! probes inside sockit frames, or another server's PING for comparison.
//!
//! Every variant has fixed-length requests and replies, so the engines keep
//! cutting replies at known offsets and nothing is parsed per message: a
//! framed probe is a constant frame prefix followed by the raw probe.

use std::fmt;
use std::str::FromStr;

use crate::wire::{Frame, encode_to_vec};

/// The request/reply format of a load or ping run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    /// Raw bytes to any echo service; the reply is the request.
    #[default]
    Echo,
    /// sockit `echo` frames whose body is the probe; the reply is the same
    /// frame (the server re-encodes an identical header).
    Frame,
    /// sockit `ping` frames answered by `pong` (no body): the protocol's
    /// cheapest round trip, comparable with Redis's PING.
    FramePing,
    /// Redis `PING` as a multi-bulk command (redis-benchmark's PING_MBULK),
    /// answered by `+PONG`.
    Redis,
    /// NATS `PING`, answered by `PONG`, after the INFO/CONNECT handshake.
    Nats,
}

/// The accepted names, for errors and `--help`.
pub const PROTO_NAMES: &str = "echo, frame, frame-ping, redis, nats";

impl FromStr for Proto {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "echo" => Proto::Echo,
            "frame" => Proto::Frame,
            "frame-ping" => Proto::FramePing,
            "redis" => Proto::Redis,
            "nats" => Proto::Nats,
            _ => return Err(format!("unknown protocol {s:?}; use one of {PROTO_NAMES}")),
        })
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Echo => "echo",
            Proto::Frame => "frame",
            Proto::FramePing => "frame-ping",
            Proto::Redis => "redis",
            Proto::Nats => "nats",
        })
    }
}

impl Proto {
    /// Whether the payload size is carried (false: the message is fixed).
    pub fn carries_payload(self) -> bool {
        matches!(self, Proto::Echo | Proto::Frame)
    }

    /// Whether the protocol needs a byte stream (TCP or Unix).
    pub fn needs_stream(self) -> bool {
        self != Proto::Echo
    }

    /// Bytes before a payload of `size` bytes, in requests and replies alike.
    pub fn prefix(self, size: usize) -> Vec<u8> {
        match self {
            Proto::Frame => {
                let mut bytes = encode_frame(&Frame::new("echo").with_body(vec![0u8; size]));
                bytes.truncate(bytes.len() - size);
                bytes
            }
            _ => Vec::new(),
        }
    }

    /// The fixed request and reply of protocols without a payload.
    pub fn fixed(self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            Proto::FramePing => Some((
                encode_frame(&Frame::new("ping")),
                encode_frame(&Frame::new("pong")),
            )),
            Proto::Redis => Some((b"*1\r\n$4\r\nPING\r\n".to_vec(), b"+PONG\r\n".to_vec())),
            Proto::Nats => Some((b"PING\r\n".to_vec(), b"PONG\r\n".to_vec())),
            Proto::Echo | Proto::Frame => None,
        }
    }

    /// The whole request and expected reply of one message with `payload`.
    pub fn message(self, payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
        if let Some(fixed) = self.fixed() {
            return fixed;
        }
        let mut msg = self.prefix(payload.len());
        msg.extend_from_slice(payload);
        (msg.clone(), msg)
    }
}

fn encode_frame(f: &Frame) -> Vec<u8> {
    // Frames built here are tiny and within every limit.
    encode_to_vec(f).unwrap_or_default()
}

/// The NATS client handshake: read the server's INFO line, then send
/// CONNECT (verbose off, so no +OK follows every command).
pub async fn nats_handshake(conn: &mut crate::net::Stream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    // Byte-at-a-time on purpose: the INFO line is short and read once, and
    // nothing after it may be consumed here.
    while !line.ends_with(b"\r\n") {
        if line.len() > 64 * 1024 {
            return Err(std::io::Error::other("NATS INFO line too long"));
        }
        if conn.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
    }
    if !line.starts_with(b"INFO") {
        return Err(std::io::Error::other("not a NATS server (no INFO line)"));
    }
    conn.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .await?;
    conn.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_echo_is_a_constant_prefix_and_the_payload() {
        let (req, reply) = Proto::Frame.message(b"abc");
        assert_eq!(req, reply);
        let decoded = crate::wire::decode_from_slice(&req, &Default::default())
            .unwrap()
            .unwrap();
        assert_eq!(decoded.0.kind(), Some("echo"));
        assert_eq!(&decoded.0.body[..], b"abc");
        assert_eq!(Proto::Frame.prefix(3).len() + 3, req.len());
    }

    #[test]
    fn fixed_messages_and_names() {
        let (req, reply) = Proto::FramePing.message(&[]);
        assert_eq!(req.len(), reply.len());
        for name in PROTO_NAMES.split(", ") {
            assert_eq!(name.parse::<Proto>().unwrap().to_string(), name);
        }
        assert!("http".parse::<Proto>().is_err());
    }
}

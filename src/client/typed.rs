//! The typed client of the frame protocol ([`Client`]), used by `sockit
//! call`, the framed modes of `ping` and `bench`, and the tests.
//!
//! The server may push frames (chat events) at any time, also while a
//! [`Client::request`] waits for its reply: those are kept, in order, and
//! [`Client::recv`] returns them before reading the connection again.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

use crate::net::tls::Trust;
use crate::net::{DialError, Endpoint, Stream, dial_with};
use crate::wire::{
    AuthReply, AuthRequest, ErrorCode, Frame, FrameCodec, FrameError, PROTOCOL_VERSION,
};

/// Why a framed exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection could not be made.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// The byte stream broke the protocol, or the socket failed.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The server's reply had an unexpected shape.
    #[error("unexpected reply from the server: {0}")]
    Unexpected(String),
    /// The server closed the connection before answering.
    #[error("the server closed the connection before answering")]
    Closed,
    /// The server answered with an error frame.
    #[error("server error {code}: {message}")]
    Server {
        /// The snake_case error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
}

/// Frames kept while a request waits for its reply: a busy room pushes
/// a few events per request, so 1,024 is far above the normal, and it
/// bounds what a server can make a client hold (the oldest go first).
pub const MAX_HELD_FRAMES: usize = 1024;

/// A connection speaking the frame protocol.
#[derive(Debug)]
pub struct Client {
    framed: Framed<Stream, FrameCodec>,
    next_id: u64,
    /// Frames that arrived while a request waited for its reply, not
    /// answering it (pushed events, replies to pipelined frames): the
    /// next [`Client::recv`] returns them first.
    held: VecDeque<Frame>,
}

impl Client {
    /// Connects to a `tcp://` or `unix://` endpoint within `timeout`.
    pub async fn connect(ep: &Endpoint, timeout: Duration) -> Result<Client, ClientError> {
        Client::connect_with(ep, timeout, &Trust::Unset).await
    }

    /// Connects to a `tcp://`, `unix://` or `tls://` endpoint within
    /// `timeout`, checking a TLS server's certificate as `trust` says.
    pub async fn connect_with(
        ep: &Endpoint,
        timeout: Duration,
        trust: &Trust,
    ) -> Result<Client, ClientError> {
        let conn = dial_with(ep, timeout, trust).await?;
        let _ = conn.set_nodelay();
        Ok(Client::from_conn(conn))
    }

    /// Wraps an already connected stream.
    pub fn from_conn(conn: Stream) -> Client {
        Client {
            framed: Framed::new(conn, FrameCodec::new()),
            next_id: 1,
            held: VecDeque::new(),
        }
    }

    /// Queues a frame without flushing (pipelining: flush once for many).
    pub async fn feed(&mut self, frame: Frame) -> Result<(), ClientError> {
        Ok(self.framed.feed(frame).await?)
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        Ok(SinkExt::<Frame>::flush(&mut self.framed).await?)
    }

    /// Sends a frame with a large body (a file chunk) now, without copying
    /// the body into the write buffer: what is queued goes first, then the
    /// header and the body in one vectored write.
    pub async fn send_large(&mut self, frame: Frame) -> Result<(), ClientError> {
        use bytes::Buf;
        use tokio::io::AsyncWriteExt;
        SinkExt::<Frame>::flush(&mut self.framed).await?;
        let mut head = bytes::BytesMut::new();
        self.framed.codec().encode_head(&frame, &mut head)?;
        let mut out = head.freeze().chain(frame.body);
        let conn = self.framed.get_mut();
        // The flush sends a TLS stream's last records.
        let sent = async {
            conn.write_all_buf(&mut out).await?;
            conn.flush().await
        };
        sent.await
            .map_err(|e| ClientError::from(crate::wire::FrameError::Io(e)))
    }

    /// Sends one frame now.
    pub async fn send(&mut self, frame: Frame) -> Result<(), ClientError> {
        Ok(self.framed.send(frame).await?)
    }

    /// The next frame from the server (first those a [`Client::request`]
    /// held back); `None` on a clean close between frames.
    pub async fn recv(&mut self) -> Result<Option<Frame>, ClientError> {
        if let Some(f) = self.held.pop_front() {
            return Ok(Some(f));
        }
        self.read().await
    }

    /// The next frame off the connection itself.
    async fn read(&mut self) -> Result<Option<Frame>, ClientError> {
        self.framed
            .next()
            .await
            .transpose()
            .map_err(ClientError::from)
    }

    /// The framed connection itself, e.g. to split it into a sink and a
    /// stream that run concurrently, with the frames a request held back
    /// (oldest first), which came before anything the stream yields.
    pub fn into_parts(self) -> (Framed<Stream, FrameCodec>, VecDeque<Frame>) {
        (self.framed, self.held)
    }

    /// Keeps a frame that does not answer the request waited on.
    fn hold(&mut self, frame: Frame) {
        if self.held.len() >= MAX_HELD_FRAMES {
            self.held.pop_front();
            tracing::warn!(
                max = MAX_HELD_FRAMES,
                "dropped the oldest frame pushed while waiting for a reply"
            );
        }
        self.held.push_back(frame);
    }

    /// Half-closes the sending side (the server then sees a clean EOF;
    /// over TLS, after a close_notify).
    pub async fn shutdown_write(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.framed.get_mut().shutdown().await
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends `frame` with a fresh id and waits for the reply carrying it.
    /// An `error` reply becomes [`ClientError::Server`]. Other frames that
    /// arrive meanwhile (pushed events) are kept for [`Client::recv`].
    pub async fn request(&mut self, frame: Frame) -> Result<Frame, ClientError> {
        let id = self.next_id();
        self.send(frame.with_id(id)).await?;
        loop {
            let reply = self.read().await?.ok_or(ClientError::Closed)?;
            // An error without an id answers a frame the server could not
            // even read: it concerns us too.
            if reply.kind() == Some("error") && reply.id().is_none_or(|r| r == id) {
                return Err(server_error(&reply));
            }
            if reply.id() == Some(id) {
                return Ok(reply);
            }
            self.hold(reply);
        }
    }

    /// Says hello; the reply names the server, its limits and features.
    pub async fn hello(&mut self) -> Result<Frame, ClientError> {
        self.request(
            Frame::new("hello")
                .set("version", PROTOCOL_VERSION)
                .set("client", format!("sockit/{}", env!("CARGO_PKG_VERSION"))),
        )
        .await
    }
}

impl Client {
    /// Sends one request of the `login` family and reads its typed reply.
    pub async fn auth(&mut self, req: AuthRequest) -> Result<AuthReply, ClientError> {
        let reply = self.request(req.to_frame(None)).await?;
        AuthReply::from_frame(&reply).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// Logs in; the reply carries the session token and its expiry.
    pub async fn login(&mut self, name: &str, password: &str) -> Result<AuthReply, ClientError> {
        self.auth(AuthRequest::Login {
            name: name.to_owned(),
            password: password.to_owned(),
        })
        .await
    }

    /// Adopts an existing session on this connection.
    pub async fn resume(&mut self, token: &str) -> Result<AuthReply, ClientError> {
        self.auth(AuthRequest::Resume {
            token: token.to_owned(),
        })
        .await
    }
}

impl ClientError {
    /// The server's error code as sent, when the server answered with an
    /// error (for printing; branch on [`ClientError::error_code`]).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The server's error code, typed; `None` when the server did not
    /// answer with an error, or sent a code this build does not know.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code().and_then(|c| c.parse().ok())
    }
}

/// Turns an `error` frame into a [`ClientError::Server`].
pub fn server_error(reply: &Frame) -> ClientError {
    let text = |k: &str| {
        reply
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    ClientError::Server {
        code: text("code"),
        message: text("message"),
    }
}

#[cfg(test)]
#[path = "typed_tests.rs"]
mod tests;

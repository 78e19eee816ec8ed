//! The WebSocket engine of `bench` (`ws://HOST:PORT/ws`, `wss://`): loads
//! the web door the way a browser talks to it.
//!
//! The web door's `/ws` carries the frame protocol, one JSON header per
//! text message, on a connection that starts logged in through the session
//! cookie (docs/PROTOCOL.md, section 12). Its smallest request with
//! a reply is `ping`, answered by `pong` with the same `id`, so each
//! message is `{"type":"ping","id":K}` with `K` the message's number: a
//! reply names the message it answers, and its latency counts from when
//! that message was issued (closed loop) or due (open loop), as the other
//! engines do. The cookie comes from one `POST /api/login` before the run
//! ([`web_login`]), as the page gets it.

use std::io;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::pace::{self, Pacer};
use super::plan::{ConnMode, Live, Plan, Tally};
use crate::net::{DialError, Endpoint, Stream};

/// Largest login response read: the door's reply is a few hundred bytes,
/// so anything near this is not a sockit web door.
const MAX_LOGIN_RESPONSE: usize = 64 * 1024;

/// Most messages queued per turn: after a reconnect the open loop may owe a
/// backlog; feeding it in slices bounds the sink's buffer and lets replies
/// be read between slices.
const MAX_FEED_PER_TURN: u64 = 1024;

/// A `ws://` or `wss://` target.
#[derive(Debug, Clone, PartialEq)]
pub struct WebTarget {
    /// The URL as given (`ws://127.0.0.1:8080/ws`).
    pub url: String,
    /// What is dialed: `tcp://HOST:PORT`, or `tls://HOST:PORT` for wss.
    pub endpoint: Endpoint,
    /// `HOST:PORT`, for the Host header.
    pub host: String,
    /// The session cookie, `name=token`, once logged in.
    pub cookie: Option<String>,
}

impl std::str::FromStr for WebTarget {
    type Err = String;

    /// Parses `ws://HOST:PORT/PATH` or `wss://HOST:PORT/PATH` (the path
    /// defaults to `/ws`, the web door's).
    fn from_str(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?}: write it as ws://HOST:PORT/ws"))?;
        let net = match scheme {
            "ws" => "tcp",
            "wss" => "tls",
            _ => return Err(format!("{url:?}: a WebSocket URL starts ws:// or wss://")),
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, "ws"));
        let endpoint = format!("{net}://{host}")
            .parse::<Endpoint>()
            .map_err(|e| format!("{url:?}: {e}"))?;
        Ok(WebTarget {
            url: format!("{scheme}://{host}/{path}"),
            endpoint,
            host: host.to_owned(),
            cookie: None,
        })
    }
}

impl WebTarget {
    /// True for `wss://`.
    pub fn secure(&self) -> bool {
        matches!(self.endpoint, Endpoint::Tls(_))
    }
}

/// Logs in through `POST /api/login` over `conn` and returns the session
/// cookie (`name=token`) the door set.
pub async fn web_login(
    mut conn: Stream,
    target: &WebTarget,
    user: &str,
    password: &str,
) -> io::Result<String> {
    let body = serde_json::json!({"name": user, "password": password}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.host,
        body.len()
    );
    conn.write_all(req.as_bytes()).await?;
    conn.flush().await?;
    let mut resp = Vec::new();
    (&mut conn)
        .take(MAX_LOGIN_RESPONSE as u64)
        .read_to_end(&mut resp)
        .await?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let bad = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
    if status != "200" {
        let why = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP status {status:?}"));
        return Err(bad(format!("web login as {user} refused: {why}")));
    }
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("set-cookie"))
        .and_then(|(_, v)| v.trim().split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| {
            bad("the web login set no session cookie; is this a sockit web door?".into())
        })
}

/// Opens the WebSocket over an already dialed connection.
pub(super) async fn handshake(
    conn: Stream,
    target: &WebTarget,
) -> Result<WebSocketStream<Stream>, DialError> {
    let fail = |hint: String, io: io::Error| DialError {
        addr: target.url.clone(),
        hint,
        io,
    };
    let mut req = target.url.as_str().into_client_request().map_err(|e| {
        fail(
            format!("bad WebSocket URL: {e}"),
            io::Error::other(e.to_string()),
        )
    })?;
    if let Some(c) = &target.cookie
        && let Ok(v) = c.parse()
    {
        req.headers_mut().insert("Cookie", v);
    }
    match tokio_tungstenite::client_async(req, conn).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => Err(fail(
            format!(
                "WebSocket handshake failed ({e}); is the session still valid and the path the web door's /ws?"
            ),
            io::Error::other(e.to_string()),
        )),
    }
}

/// The request for message `k`, and the reply it must get.
fn ping(k: u64) -> String {
    format!(r#"{{"type":"ping","id":{k}}}"#)
}

/// Runs one WebSocket until the plan's end; returns what it measured.
pub(super) async fn run(ws: WebSocketStream<Stream>, plan: Plan, live: Live) -> io::Result<Tally> {
    let mut pacer = match plan.mode {
        ConnMode::Open(s) => Some(Pacer::new(
            s.first.saturating_duration_since(Instant::now()),
            pace::period(s.interval()),
        )?),
        _ => None,
    };
    let mut flow = Flow {
        plan,
        live,
        tally: Tally::default(),
        issued: 0,
        completed: 0,
        issued_at: vec![plan.from; depth(&plan)],
    };
    if let Err(e) = flow.drive(ws, pacer.as_mut()).await {
        flow.tally.fail(e);
    }
    Ok(flow.finish())
}

fn depth(plan: &Plan) -> usize {
    match plan.mode {
        ConnMode::Closed { depth } => depth,
        _ => 0,
    }
}

struct Flow {
    plan: Plan,
    live: Live,
    tally: Tally,
    /// Messages sent.
    issued: u64,
    /// Replies received.
    completed: u64,
    /// Closed loop: when message `k` was sent, at `k % depth`.
    issued_at: Vec<Instant>,
}

impl Flow {
    async fn drive(
        &mut self,
        mut ws: WebSocketStream<Stream>,
        mut pacer: Option<&mut Pacer>,
    ) -> io::Result<()> {
        let end = tokio::time::sleep_until(self.plan.until);
        tokio::pin!(end);
        let last_issue = tokio::time::sleep_until(self.plan.issue_until);
        tokio::pin!(last_issue);
        let mut draining = false;
        loop {
            let now = Instant::now();
            if now >= self.plan.until {
                break;
            }
            if now >= self.plan.issue_until && self.completed == self.issued {
                self.plan.until = now;
                break;
            }
            self.send_owed(&mut ws, now).await?;
            tokio::select! {
                biased;
                _ = &mut end => break,
                () = self.live.stop.cancelled() => {
                    self.plan.until = Instant::now();
                    break;
                }
                () = &mut last_issue, if !draining => draining = true,
                got = ws.next() => self.receive(got)?,
                r = pace::tick(&mut pacer), if !draining => r?,
            }
        }
        // A polite close; the run is over either way.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(100), ws.close(None)).await;
        Ok(())
    }

    /// Sends every message the mode allows now, in one flush.
    async fn send_owed(
        &mut self,
        ws: &mut WebSocketStream<Stream>,
        now: Instant,
    ) -> io::Result<()> {
        let target = match self.plan.mode {
            _ if now >= self.plan.issue_until => match self.plan.mode {
                ConnMode::Open(s) => self.issued.max(s.due(self.plan.issue_until)),
                _ => self.issued,
            },
            ConnMode::Closed { depth } => self.completed + depth as u64,
            ConnMode::Open(s) => self.issued.max(s.due(now)),
            ConnMode::Stream => self.issued,
        };
        let target = target.min(self.issued + MAX_FEED_PER_TURN);
        if target == self.issued {
            return Ok(());
        }
        while self.issued < target {
            if let ConnMode::Closed { depth } = self.plan.mode {
                self.issued_at[(self.issued % depth as u64) as usize] = now;
            }
            ws.feed(Message::Text(ping(self.issued).into()))
                .await
                .map_err(io::Error::other)?;
            self.issued += 1;
        }
        ws.flush().await.map_err(io::Error::other)
    }

    /// Takes one message from the server.
    fn receive(
        &mut self,
        got: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> io::Result<()> {
        let text = match got {
            None | Some(Ok(Message::Close(_))) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the web door closed the WebSocket",
                ));
            }
            Some(Err(e)) => return Err(io::Error::other(e)),
            Some(Ok(Message::Text(t))) => t,
            // Pings are answered by the library; nothing else is ours.
            Some(Ok(_)) => return Ok(()),
        };
        let now = Instant::now();
        let reply: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        let id = reply["id"].as_u64();
        match (reply["type"].as_str(), id) {
            (Some("pong"), Some(k)) if k < self.issued => self.complete(k, now),
            (Some("error"), _) => {
                self.completed += 1;
                self.tally.fail(format!(
                    "the web door answered {}: {}",
                    reply["code"].as_str().unwrap_or("?"),
                    reply["message"].as_str().unwrap_or("")
                ));
            }
            // A pushed event (a chat message, presence): not a reply.
            (Some(_), None) => {}
            _ => {
                self.completed += 1;
                self.tally.mismatched += 1;
            }
        }
        Ok(())
    }

    fn complete(&mut self, k: u64, now: Instant) {
        self.completed += 1;
        if now < self.plan.from {
            return;
        }
        let sent = match self.plan.mode {
            ConnMode::Closed { depth } => self.issued_at[(k % depth as u64) as usize],
            ConnMode::Open(s) => s.at(k),
            ConnMode::Stream => return,
        };
        self.tally.messages += 1;
        let latency = now.saturating_duration_since(sent);
        self.tally.latency.record(latency);
        self.live.record(latency);
    }

    /// Counts as timeouts the messages still unanswered `timeout` after they
    /// were issued (or due) when the run ended.
    fn finish(mut self) -> Tally {
        let stale = self.plan.until.checked_sub(self.plan.timeout);
        let unanswered = self.issued.saturating_sub(self.completed);
        for k in self.issued - unanswered..self.issued {
            let sent = match self.plan.mode {
                ConnMode::Closed { depth } => self.issued_at[(k % depth as u64) as usize],
                ConnMode::Open(s) => s.at(k),
                ConnMode::Stream => break,
            };
            self.tally.timeouts += u64::from(stale.is_some_and(|s| sent <= s));
        }
        self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_endpoint_and_the_path() {
        let t: WebTarget = "ws://127.0.0.1:8080/ws".parse().unwrap();
        assert_eq!(t.endpoint.to_string(), "tcp://127.0.0.1:8080");
        assert_eq!((t.host.as_str(), t.secure()), ("127.0.0.1:8080", false));
        let t: WebTarget = "wss://example.org:8443".parse().unwrap();
        assert_eq!(t.url, "wss://example.org:8443/ws");
        assert!(t.secure());
        assert!("http://h:1/ws".parse::<WebTarget>().is_err());
        assert!("ws://nohost/ws".parse::<WebTarget>().is_err());
        assert_eq!(ping(7), r#"{"type":"ping","id":7}"#);
    }
}

//! The client side of chat over the frame protocol: a connection that
//! sends requests without waiting, reads replies and pushed events as they
//! come, remembers the last message number seen per room, and after a
//! reconnect rejoins every room and fetches what it missed, with no gap
//! and no duplicate. Given several servers (the nodes of a cluster), it
//! connects to the first that answers, and reconnects the same way, so a
//! node that dies hands its clients to the next.
//!
//! Requests and replies go through the typed client ([`Client`]): one
//! request loop, and what the server pushes while a request waits is held
//! there, bounded ([`MAX_HELD_FRAMES`](crate::client::typed::MAX_HELD_FRAMES),
//! the oldest dropped first), so a server that floods events at a client
//! busy with a request cannot make it hold more.

use std::collections::BTreeMap;
use std::time::Duration;

use super::credentials::{Credentials, CredentialsError, LoggedIn, connect_logged_in_any};
use super::failover::{Skipped, fell_over};
use crate::client::{Client, ClientError};
use crate::net::Endpoint;
use crate::net::tls::Trust;
use crate::wire::{ChatEvent, ChatMessage, ChatReply, ChatRequest, ErrorCode, Frame, MessageError};

/// What arrives on a chat connection.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// Someone else's message, pushed.
    Message(ChatMessage),
    /// A presence change, pushed: the sentence to show, and the room.
    Presence {
        /// The room.
        room: String,
        /// "bob joined lobby".
        notice: String,
    },
    /// The reply to one of our requests, with its id.
    Reply(u64, ChatReply),
    /// An error reply (to a request of ours, or without id: the server's
    /// last words before it closes, e.g. `slow_consumer`).
    Error {
        /// The request it answers, if any.
        id: Option<u64>,
        /// The stable code.
        code: String,
        /// The server's sentence.
        message: String,
    },
}

/// A logged-in chat connection.
#[derive(Debug)]
pub struct ChatConn {
    /// The nodes, in the order tried, with how each one's certificate is checked.
    servers: Vec<(Endpoint, Trust)>,
    /// The node this connection is on.
    server: Endpoint,
    /// Nodes skipped, unreachable, by the last (re)connect.
    skipped: Vec<Skipped>,
    creds: Credentials,
    timeout: Duration,
    user: String,
    /// The connection, with the frames pushed while a request waited.
    client: Client,
    /// Rooms joined, with the number of the last message seen in each.
    joined: BTreeMap<String, u64>,
    /// The epoch of each joined room's history as last seen: a catch-up
    /// in another epoch re-reads the latest page instead.
    epochs: BTreeMap<String, String>,
}

/// What a reconnect found: the messages said meanwhile, oldest first per
/// room, and the rooms whose history was reset meanwhile.
#[derive(Debug, Default)]
pub struct CatchUp {
    /// Messages missed (for a reset room: its latest page).
    pub missed: Vec<ChatMessage>,
    /// Rooms whose history has another epoch now: the numbers seen before
    /// mean nothing, and `missed` holds their latest page instead.
    pub reset: Vec<String>,
}

impl ChatConn {
    /// Connects to the first of `servers` that answers and resumes the
    /// session `sockit login` stored (see
    /// [`connect_logged_in_any`]); a tls:// server's certificate is
    /// checked as its `Trust` says.
    pub async fn connect(
        creds: &Credentials,
        servers: &[(Endpoint, Trust)],
        timeout: Duration,
    ) -> Result<Self, CredentialsError> {
        let logged_in = connect_logged_in_any(creds, servers, timeout).await?;
        Ok(Self::on(logged_in, creds, servers, timeout))
    }

    /// A chat connection on a logged-in client; `creds`, `servers` and
    /// `timeout` are what a reconnect uses.
    fn on(
        logged_in: LoggedIn,
        creds: &Credentials,
        servers: &[(Endpoint, Trust)],
        timeout: Duration,
    ) -> Self {
        let LoggedIn {
            client,
            user,
            server,
            skipped,
        } = logged_in;
        Self {
            servers: servers.to_vec(),
            server,
            skipped,
            creds: creds.clone(),
            timeout,
            user,
            client,
            joined: BTreeMap::new(),
            epochs: BTreeMap::new(),
        }
    }

    /// The account this connection speaks for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The node this connection is on.
    pub fn server(&self) -> &Endpoint {
        &self.server
    }

    /// The line saying which node the last (re)connect fell over to, and
    /// why, when it skipped any; `None` when the first node answered.
    pub fn fell_over(&self) -> Option<String> {
        fell_over(&self.skipped, &self.server)
    }

    /// Rooms joined, with the last message number seen in each.
    pub fn joined(&self) -> &BTreeMap<String, u64> {
        &self.joined
    }

    /// Sends a request without waiting for its reply; returns its id.
    pub async fn send(&mut self, req: &ChatRequest) -> Result<u64, ClientError> {
        self.send_frame(req.to_frame(None)).await
    }

    /// Sends any frame with a fresh id (a keepalive `ping`, say).
    pub async fn send_frame(&mut self, frame: Frame) -> Result<u64, ClientError> {
        let id = self.client.next_id();
        self.client.send(frame.with_id(id)).await?;
        Ok(id)
    }

    /// The next reply or event (first those pushed while a request
    /// waited); `Ok(None)` when the server closed.
    pub async fn next(&mut self) -> Result<Option<Incoming>, ClientError> {
        loop {
            let Some(frame) = self.client.recv().await? else {
                return Ok(None);
            };
            if let Some(incoming) = self.classify(&frame) {
                return Ok(Some(incoming));
            }
        }
    }

    /// Sorts a frame and keeps the last-seen numbers current. `None` for
    /// frames a chat client does not show (a keepalive's `pong`).
    fn classify(&mut self, f: &Frame) -> Option<Incoming> {
        match f.kind() {
            Some("error") => Some(Incoming::Error {
                id: f.id(),
                code: text(f, "code"),
                message: text(f, "message"),
            }),
            Some("pong") => None,
            _ => match ChatEvent::from_frame(f) {
                Ok(ChatEvent::Message(m)) => {
                    self.saw(&m.room, m.seq);
                    Some(Incoming::Message(m))
                }
                Ok(ChatEvent::Presence { room, notice, .. }) => {
                    Some(Incoming::Presence { room, notice })
                }
                // Typing: not shown by this client.
                Ok(ChatEvent::Typing { .. }) => None,
                // A `chat.read` with an id is the reply to ours; without,
                // another client of this account read on: not shown.
                Ok(ChatEvent::Read { .. }) if f.id().is_some() => self.reply(f),
                Ok(ChatEvent::Read { .. }) => None,
                // An event with fields we cannot read: not shown.
                Err(MessageError::BadFields { .. }) => None,
                Err(_) => self.reply(f),
            },
        }
    }

    /// A frame that is not an event: a reply of the chat family, or
    /// `None` for one a chat client does not show.
    fn reply(&mut self, f: &Frame) -> Option<Incoming> {
        let reply = ChatReply::from_frame(f).ok()?;
        self.track(&reply);
        Some(Incoming::Reply(f.id().unwrap_or(0), reply))
    }

    /// Keeps the rooms joined and the last numbers seen current.
    fn track(&mut self, reply: &ChatReply) {
        match reply {
            ChatReply::Join {
                room,
                last_seq,
                epoch,
            } => {
                self.joined.entry(room.clone()).or_insert(*last_seq);
                self.epochs
                    .entry(room.clone())
                    .or_insert_with(|| epoch.clone());
            }
            ChatReply::Leave { room } => {
                self.joined.remove(room);
                self.epochs.remove(room);
            }
            ChatReply::Send { room, seq, .. } => self.saw(room, *seq),
            _ => {}
        }
    }

    fn saw(&mut self, room: &str, seq: u64) {
        if let Some(last) = self.joined.get_mut(room) {
            *last = (*last).max(seq);
        }
    }

    /// Reconnects (after a dropped connection, a server restart, or a dead
    /// node: the first node of the list that answers), rejoins every room
    /// and returns the messages said meanwhile, oldest first: history after
    /// the last number seen, up to the rejoin's `last_seq`, so nothing is
    /// missed and nothing shown twice. A room whose history was reset
    /// meanwhile (another epoch: its numbers restarted) is named in
    /// [`CatchUp::reset`] and its latest page is returned instead.
    pub async fn reconnect(&mut self) -> Result<CatchUp, CredentialsError> {
        let LoggedIn {
            client,
            user,
            server,
            skipped,
        } = connect_logged_in_any(&self.creds, &self.servers, self.timeout).await?;
        (self.client, self.user) = (client, user);
        (self.server, self.skipped) = (server, skipped);
        let mut caught = CatchUp::default();
        for (room, seen) in self.joined.clone() {
            let (last_seq, epoch) = match self
                .request(ChatRequest::Join { room: room.clone() })
                .await?
            {
                ChatReply::Join {
                    last_seq, epoch, ..
                } => (last_seq, epoch),
                _ => continue,
            };
            let saw = self.epochs.get(&room).cloned().unwrap_or_default();
            let mut stale = saw != epoch;
            // Page through history from what we saw up to the join point;
            // everything after it arrives as events.
            let mut after = seen;
            let mut got = Vec::new();
            while !stale && after < last_seq {
                let req = ChatRequest::History {
                    room: room.clone(),
                    last: None,
                    after: Some(after),
                    before: None,
                    epoch: Some(saw.clone()),
                };
                let messages = match self.request(req).await {
                    Ok(ChatReply::History { messages, .. }) => messages,
                    Err(e) if e.error_code() == Some(ErrorCode::StaleEpoch) => {
                        stale = true;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => break,
                };
                let Some(last) = messages.last().map(|m| m.seq) else {
                    break;
                };
                got.extend(messages.into_iter().filter(|m| m.seq <= last_seq));
                after = last;
            }
            if stale {
                // Numbers seen before the reset mean nothing now: show the
                // latest page of the new history instead.
                let req = ChatRequest::History {
                    room: room.clone(),
                    last: None,
                    after: None,
                    before: None,
                    epoch: None,
                };
                got = match self.request(req).await? {
                    ChatReply::History { messages, .. } => messages,
                    _ => Vec::new(),
                };
                got.retain(|m| m.seq <= last_seq);
                caught.reset.push(room.clone());
                self.joined.insert(room.clone(), last_seq);
            } else {
                self.joined.insert(room.clone(), last_seq.max(seen));
            }
            caught.missed.extend(got);
            self.epochs.insert(room, epoch);
        }
        Ok(caught)
    }

    /// Sends a request and waits for its reply ([`Client::request`]);
    /// events that arrive meanwhile (in rooms already rejoined) are held,
    /// bounded, for [`Self::next`].
    pub async fn request(&mut self, req: ChatRequest) -> Result<ChatReply, ClientError> {
        let f = self.client.request(req.to_frame(None)).await?;
        let reply =
            ChatReply::from_frame(&f).map_err(|e| ClientError::Unexpected(e.to_string()))?;
        self.track(&reply);
        Ok(reply)
    }
}

fn text(f: &Frame, key: &str) -> String {
    f.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;

//! A named member of the line door: carrying out commands, sending
//! messages, and writing what the hub delivers.

mod changes;
mod history;

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use bytes::BytesMut;

use super::command::{Command, HELP, parse};
use super::io::{LineIo, Wake, notice};
use super::reader::Input;
use super::render::LINES;
use crate::service::accounts::{Accounts, RevokeWatch, revoked};
use crate::service::chat::{
    Amend, ChatError, DEFAULT_ROOM, DM_MARK, Event, Identity, Inbox, Session, Ticket,
};

/// Events written in one write when several are queued: amortises the
/// system call in a busy room while bounding what one write holds (at
/// most this many messages of at most 4 KiB each).
const EVENT_BATCH: usize = 64;

/// What handling one thing decided about the connection.
enum Flow {
    /// Keep going.
    On,
    /// The connection is over (already closed or to be dropped).
    End,
}

/// A member's conversation.
pub struct Chat {
    io: LineIo,
    /// The first seq the last `/history` showed in `room`: where
    /// `/history more` continues, back in time.
    oldest_shown: Option<u64>,
    session: Session,
    accounts: Option<Accounts>,
    /// Where plain lines go.
    room: Arc<str>,
    /// Messages queued for commit and not yet confirmed, oldest first.
    in_flight: VecDeque<Ticket>,
    /// While the member speaks for an account: its revocation signal.
    revoke: Option<Revoke>,
}

/// A logged-in line member's link to its account's revocations.
struct Revoke {
    watch: RevokeWatch,
    /// Unix second of the login: revocations from then on end the member.
    since: u64,
}

/// Most messages one line member may have queued for commit before it
/// waits for the oldest: a fast typist or a pasted block flows at the
/// hub's group-commit speed instead of one commit per line, and the order
/// is kept (the hub commits in submission order).
const MAX_IN_FLIGHT: usize = 64;

impl Chat {
    /// A member who has just connected to the hub.
    pub fn new(io: LineIo, session: Session, accounts: Option<Accounts>) -> Chat {
        Chat {
            io,
            oldest_shown: None,
            session,
            accounts,
            room: Arc::from(DEFAULT_ROOM),
            in_flight: VecDeque::new(),
            revoke: None,
        }
    }

    /// Puts the member in the lobby, then serves it until it is done.
    pub async fn run(mut self, mut inbox: Inbox) -> io::Result<()> {
        let name = self.session.name().clone();
        match self.session.join(DEFAULT_ROOM).await {
            Ok(j) => self.room = j.room,
            Err(e) => return self.io.close_with(&e.to_string()).await,
        }
        self.watch_account().await;
        self.io
            .notice(&format!(
                "you are {name} in {}; /help lists the commands",
                self.room
            ))
            .await?;
        let result = self.serve(&mut inbox).await;
        // However it ended, what the member said is committed before the
        // connection task finishes (a graceful shutdown waits for it).
        if let Err(e) = self.settle().await {
            tracing::warn!(error = %e, "a line member's last messages were not committed");
        }
        result
    }

    async fn serve(&mut self, inbox: &mut Inbox) -> io::Result<()> {
        loop {
            let wake = tokio::select! {
                w = self.io.next(Some(&mut *inbox)) => w?,
                () = revoked(self.revoke.as_mut().map(|r| &mut r.watch)) => {
                    if self.still_holds().await {
                        continue;
                    }
                    tracing::info!(name = %self.session.name(), "session revoked; closing the line member");
                    self.io
                        .close_with("your account was locked, deleted or its password changed; bye")
                        .await?;
                    return Ok(());
                }
            };
            let flow = match wake {
                Wake::Input(input) => self.input(input).await?,
                Wake::Event(ev) => self.events(ev, inbox).await?,
                Wake::Eof => Flow::End,
                Wake::Idle => {
                    self.io.close_with("idle for too long; bye").await?;
                    Flow::End
                }
                Wake::Shutdown => {
                    self.io
                        .close_with("the server is shutting down; bye")
                        .await?;
                    Flow::End
                }
            };
            if let Flow::End = flow {
                return Ok(());
            }
        }
    }

    /// Writes `first` and whatever else is queued (up to a batch), in one
    /// write. A cut-off writes its notice and ends the connection.
    async fn events(&mut self, first: Option<Event>, inbox: &mut Inbox) -> io::Result<Flow> {
        let Some(first) = first else {
            // The hub let go of the member (it is shutting down).
            self.io.close_with("the chat closed; bye").await?;
            return Ok(Flow::End);
        };
        let mut out = BytesMut::new();
        let mut next = Some(first);
        let mut batched = 0;
        while let Some(ev) = next.take() {
            match ev {
                Event::Message(m) => {
                    // The sender typed it already: no echo.
                    if m.origin != Some(self.session.id()) {
                        out.extend_from_slice(&m.render(&*LINES));
                    }
                }
                // A terminal would scroll with them: typing is not shown.
                Event::Presence(p) if p.typist().is_some() => {}
                Event::Presence(p) => out.extend_from_slice(&p.render(&*LINES)),
                // Read markers are for clients that show counts.
                Event::Read(_) => {}
                Event::Dropped => {
                    tracing::info!(name = %self.session.name(), "line chat member cut off");
                    self.io.write(&out).await?;
                    self.io
                        .close_with("you were cut off: you fell too far behind the room; reconnect")
                        .await?;
                    return Ok(Flow::End);
                }
            }
            batched += 1;
            // Take another event only if it will be written in this batch:
            // one taken and left behind would be lost.
            if batched < EVENT_BATCH {
                next = inbox.try_recv();
            }
        }
        if !out.is_empty() {
            self.io.write(&out).await?;
        }
        Ok(Flow::On)
    }

    /// Handles one unit of input.
    async fn input(&mut self, input: Input) -> io::Result<Flow> {
        let line = match input {
            Input::Line(l) => l,
            other => {
                let why = super::refusal(&other, self.io.max_line());
                self.io.notice(&why).await?;
                return Ok(Flow::On);
            }
        };
        let cmd = match parse(&line) {
            Ok(c) => c,
            Err(why) => {
                self.io.notice(&why).await?;
                return Ok(Flow::On);
            }
        };
        if !matches!(cmd, Command::Say(_) | Command::Blank) {
            // Commands see what was said before them: /history shows the
            // member's own last lines, /quit leaves after they are kept.
            if let Err(e) = self.settle().await {
                self.io.notice(&e.to_string()).await?;
            }
        }
        let result = match cmd {
            Command::Blank => Ok(None),
            Command::Say(text) => self.say(text).await,
            Command::Quit => {
                self.io.close_with("bye").await?;
                return Ok(Flow::End);
            }
            Command::Help => Ok(Some(notices(HELP))),
            Command::Join(room) => self.join(room).await.map(|()| None),
            Command::Query(to) => self.join(&format!("{DM_MARK}{to}")).await.map(|()| None),
            Command::Msg { to, text } => self.direct(to, text).await,
            Command::Rooms => self.rooms().await.map(Some),
            Command::Who => self.who().await.map(Some),
            Command::History(n, scroll) => self.history(n, scroll).await.map(Some),
            Command::Search(words) => self.search(words).await.map(Some),
            Command::Edit(seq, text) => self.amend(seq, Amend::Edit(text.to_owned())).await,
            Command::Delete(seq) => self.amend(seq, Amend::Delete).await,
            Command::Topic(text) => self.topic(text).await,
            Command::Nick(name) => {
                let r = self
                    .session
                    .rename(Identity::Guest(name.to_owned()))
                    .await
                    .map(|_| None);
                if r.is_ok() {
                    self.revoke = None;
                }
                r
            }
            Command::Login { name, password } => {
                match login(self.accounts.as_ref(), self.io.peer_ip(), name, password).await {
                    Ok(account) => {
                        let r = self
                            .session
                            .rename(Identity::Registered(account))
                            .await
                            .map(|_| None);
                        if r.is_ok() {
                            self.watch_account().await;
                        }
                        r
                    }
                    Err(why) => Ok(Some(notices(&[why]))),
                }
            }
        };
        match result {
            Ok(Some(reply)) => self.io.write(&reply).await?,
            Ok(None) => {}
            // Cut off meanwhile: the inbox says so next.
            Err(ChatError::Gone) => {}
            Err(e) => self.io.notice(&e.to_string()).await?,
        }
        Ok(Flow::On)
    }

    /// Subscribes to the account's revocations when the member speaks for
    /// one (registered names carry no `~`).
    async fn watch_account(&mut self) {
        self.revoke = None;
        let name = self.session.name().clone();
        let Some(accounts) = self.accounts.as_ref().filter(|_| !name.starts_with('~')) else {
            return;
        };
        match accounts.account_id(&name).await {
            Ok(Some(id)) => {
                self.revoke = Some(Revoke {
                    watch: accounts.subscribe(id),
                    since: crate::service::unix_now(),
                });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking up a line member's account"),
        }
    }

    /// After a revocation signal: whether the member's account still holds.
    async fn still_holds(&self) -> bool {
        let (Some(accounts), Some(r)) = (self.accounts.as_ref(), self.revoke.as_ref()) else {
            return true;
        };
        match accounts.revoked_since(r.watch.user_id(), r.since).await {
            Ok(revoked) => !revoked,
            // A store error: keep the member; the next signal re-checks.
            Err(_) => true,
        }
    }

    /// Queues a message without waiting for its commit; reports what
    /// earlier ones came to, and waits for the oldest only when too many
    /// are in flight.
    async fn say(&mut self, text: &str) -> Result<Option<BytesMut>, ChatError> {
        let ticket = self.session.submit(&self.room, text).await?;
        self.in_flight.push_back(ticket);
        while let Some(t) = self.in_flight.pop_front() {
            let outcome = if self.in_flight.len() + 1 > MAX_IN_FLIGHT {
                t.ack().await
            } else {
                match t.try_ack() {
                    Ok(outcome) => outcome,
                    Err(t) => {
                        self.in_flight.push_front(t);
                        break;
                    }
                }
            };
            outcome?;
        }
        Ok(None)
    }

    /// Waits until every message in flight is committed; the first
    /// failure, if any, is returned.
    async fn settle(&mut self) -> Result<(), ChatError> {
        let mut first = Ok(());
        while let Some(t) = self.in_flight.pop_front() {
            if let (Err(e), Ok(())) = (t.ack().await, &first) {
                first = Err(e);
            }
        }
        first
    }

    /// Moves to `room`: joins it, then leaves the one it was in, so plain
    /// lines have one obvious destination.
    async fn join(&mut self, room: &str) -> Result<(), ChatError> {
        let joined = self.session.join(room).await?;
        if joined.room != self.room {
            self.oldest_shown = None;
            let old = std::mem::replace(&mut self.room, joined.room);
            self.session.leave(&old).await?;
        }
        Ok(())
    }

    /// `/msg`: opens the conversation with `to` (staying in the current
    /// room) and says `text` there, confirmed before the next line.
    async fn direct(&mut self, to: &str, text: &str) -> Result<Option<BytesMut>, ChatError> {
        let room = self.session.join(&format!("{DM_MARK}{to}")).await?.room;
        let m = self.session.publish(&room, text).await?;
        let name = super::render::collapse_blanks(&m.text).into_owned();
        Ok(Some(notices(&[format!("-> *{to}* {name}")])))
    }

    async fn rooms(&self) -> Result<BytesMut, ChatError> {
        let rooms = self.session.hub().rooms().await?;
        let mut lines = vec![format!("{} rooms:", rooms.len())];
        lines.extend(rooms.iter().map(|r| {
            let here = if *r.name == *self.room {
                " (you are here)"
            } else {
                ""
            };
            format!(
                "  {}: {} online, {} messages{here}",
                r.name, r.members, r.last_id
            )
        }));
        Ok(notices(&lines))
    }

    async fn who(&self) -> Result<BytesMut, ChatError> {
        let members = self.session.who(&self.room).await?;
        let names: Vec<String> = members
            .iter()
            .map(|m| format!("{} ({})", m.name, m.door))
            .collect();
        let line = format!("{} in {}: {}", members.len(), self.room, names.join(", "));
        Ok(notices(&[line]))
    }
}

/// Notice lines, ready to write.
pub(super) fn notices<S: AsRef<str>>(lines: &[S]) -> BytesMut {
    let mut out = BytesMut::new();
    for l in lines {
        out.extend_from_slice(notice(l.as_ref()).as_bytes());
    }
    out
}

/// Authenticates `name` with the accounts service; the account's name as
/// registered, or the notice explaining why not. The session token the
/// login creates is revoked at once: the line door has no use for it, and
/// it should not sit in the store for a week.
pub async fn login(
    accounts: Option<&Accounts>,
    peer: Option<std::net::IpAddr>,
    name: &str,
    password: &str,
) -> Result<String, String> {
    let Some(accounts) = accounts else {
        return Err("logins are not available on this server".to_owned());
    };
    let login = accounts
        .login(name, password, peer)
        .await
        .map_err(|e| format!("login failed: {e}"))?;
    if let Err(e) = accounts.logout(&login.token).await {
        tracing::debug!(error = %e, "revoking the line door's session token");
    }
    tracing::info!(user = %login.identity.name, "line chat login");
    Ok(login.identity.name)
}

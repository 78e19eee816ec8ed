//! The per-connection protocol engine every door shares, with no sockets:
//! who the connection speaks for (auth), its chat membership and event
//! queue (`chat`), its open file transfers and their limits (`transfer`),
//! and the one mapping from a failed request to its [`ErrorCode`](crate::wire::ErrorCode)
//! ([`Failure::code`]).
//!
//! A door reads a request in its own framing, hands it to
//! [`Session::answer`] (one exhaustive `match` over [`Request`]), writes the
//! reply in its own format, and renders the chat events it takes from
//! [`Session::next_event`] itself. Core requests (`hello`, `ping`, `echo`)
//! need no state and are answered by `wire::answer_core`; the framed door
//! answers them in its batch without coming here at all.

mod chat;
mod chat_dm;
mod failure;
mod share;
#[cfg(test)]
mod tests;
mod transfer;

pub use chat::ChatState;
pub use failure::Failure;
pub use transfer::{Expected, FilesState, MAX_OPEN_PER_CONN, Unfinished};

use std::net::IpAddr;

use crate::service::Services;
use crate::service::accounts::{AuthError, Identity, RevokeWatch};
use crate::service::chat::DoorKind;
use crate::wire::{
    AuthReply, AuthRequest, Family, FileRequest, Frame, MessageError, Request, ServerInfo,
    UNAUTHENTICATED, answer_core, error_frame,
};

/// Who the connection speaks for, once logged in or resumed.
struct Authed {
    /// The account, as the store knows it.
    identity: Identity,
    /// The session token, kept to re-check it and to revoke it on logout.
    token: String,
}

/// What one framed connection remembers between requests.
pub struct Session {
    /// The peer's address, for per-IP login throttling and the chat
    /// hub's per-address budgets.
    peer: Option<IpAddr>,
    /// `None` until a `login` or `resume` succeeds.
    authed: Option<Authed>,
    /// Wakes when the account is revoked (lock, delete, password change,
    /// logout elsewhere), so the door ends the connection without waiting
    /// for its next request. Set with `authed`.
    revoke: Option<RevokeWatch>,
    /// The services every door shares.
    services: Services,
    /// Which door this is, for chat's `who` lists.
    door: DoorKind,
    /// Chat membership and its event queue, from the first chat request.
    chat: Option<ChatState>,
    /// Open transfers of the `file` family, when the server has a store.
    files: Option<FilesState>,
}

impl Session {
    /// A fresh, anonymous session of a connection through `door`.
    pub fn new(peer: Option<IpAddr>, services: Services, door: DoorKind) -> Self {
        Self {
            peer,
            authed: None,
            revoke: None,
            files: files_state(&services),
            services,
            door,
            chat: None,
        }
    }

    /// A session already speaking for `identity`, whose token the
    /// connection presented out of band (the web door's cookie).
    pub fn logged_in(
        peer: Option<IpAddr>,
        services: Services,
        door: DoorKind,
        identity: Identity,
        token: String,
    ) -> Self {
        let revoke = services
            .accounts
            .as_ref()
            .map(|a| a.subscribe(identity.user_id));
        Self {
            peer,
            authed: Some(Authed { identity, token }),
            revoke,
            files: files_state(&services),
            services,
            door,
            chat: None,
        }
    }

    /// True once a `login` or `resume` succeeded (and no `logout` since).
    pub fn is_authed(&self) -> bool {
        self.authed.is_some()
    }

    /// True when this server offers `family` to this connection.
    pub fn offers(&self, family: Family) -> bool {
        match family {
            Family::Core => true,
            Family::Auth => self.services.accounts.is_some(),
            Family::Chat => self.services.chat.is_some(),
            Family::File => self.services.accounts.is_some() && self.files.is_some(),
            Family::Share => {
                self.services.accounts.is_some()
                    && self.files.is_some()
                    && self.services.shares.is_some()
            }
        }
    }

    /// True when the request in `req` needs this session (a family other
    /// than the core one, offered here): the framed door answers the rest
    /// in its batch with `wire::respond`. Reads only `"type"`.
    pub fn serves(&self, req: &Frame) -> bool {
        matches!(Request::family(req), Ok(f) if f != Family::Core && self.offers(f))
    }

    /// Answers any request, core or stateful; the reply carries the
    /// request's id. A type of a family not offered here is
    /// `unknown_type`, whatever its fields.
    pub async fn answer(&mut self, req: &Frame, info: &ServerInfo) -> Frame {
        let id = req.id();
        let parsed = Request::family(req).and_then(|family| {
            if self.offers(family) {
                Request::parse(req, family)
            } else {
                Err(MessageError::UnknownType(
                    req.kind().unwrap_or_default().to_owned(),
                ))
            }
        });
        let reply = match parsed {
            Err(e) => return e.to_frame(id),
            Ok(Request::Core(core)) => return answer_core(core, req, info),
            Ok(Request::File(r)) => return self.file(r, req).await,
            Ok(Request::Share(r)) => self.share(r).await.map(|reply| reply.to_frame(id)),
            Ok(Request::Chat(r)) => self.chat(r).await.map(|reply| reply.to_frame(id)),
            Ok(Request::Auth(r)) => self.auth(r).await.map(|reply| reply.to_frame(id)),
        };
        reply.unwrap_or_else(|e| e.to_frame(id))
    }

    /// The connection is ending: unfinished uploads are paused (fsynced)
    /// so that they resume next time. Doors call this once, last.
    pub async fn close(&mut self) {
        if let Some(files) = self.files.as_mut() {
            files.close().await;
        }
    }

    /// A `file` request. Opening ones re-check the session (one revoked
    /// elsewhere stops here); the chunks of an open transfer only need the
    /// connection to be logged in, so they cost no database query.
    async fn file(&mut self, r: FileRequest, req: &Frame) -> Frame {
        let id = req.id();
        let user = if matches!(r, FileRequest::Write { .. } | FileRequest::Read { .. }) {
            self.authed
                .as_ref()
                .map(|a| a.identity.user_id)
                .ok_or(Failure::Unauthenticated)
        } else {
            self.identity().await.map(|i| i.user_id)
        };
        match (user, self.files.as_mut()) {
            (Ok(user), Some(files)) => files.handle(user, r, req.body.clone(), id).await,
            (Err(e), _) => e.to_frame(id),
            (_, None) => MessageError::UnknownType("file".to_owned()).to_frame(id),
        }
    }

    async fn auth(&mut self, req: AuthRequest) -> Result<AuthReply, Failure> {
        let accounts = self.services.accounts.as_ref().ok_or(Failure::NoAccounts)?;
        match req {
            AuthRequest::Login { name, password } => {
                let login = accounts.login(&name, &password, self.peer).await?;
                tracing::info!(user = %login.identity.name, "logged in");
                // Chat membership belongs to the identity it was made with.
                self.chat = None;
                let reply = AuthReply::Login {
                    user: login.identity.name.clone(),
                    token: login.token.clone(),
                    expires: login.identity.expires,
                };
                self.revoke = Some(accounts.subscribe(login.identity.user_id));
                self.authed = Some(Authed {
                    identity: login.identity,
                    token: login.token,
                });
                Ok(reply)
            }
            AuthRequest::Resume { token } => {
                let identity = accounts.resume(&token).await?;
                self.chat = None;
                let reply = AuthReply::Resume {
                    user: identity.name.clone(),
                    expires: identity.expires,
                };
                self.revoke = Some(accounts.subscribe(identity.user_id));
                self.authed = Some(Authed { identity, token });
                Ok(reply)
            }
            AuthRequest::Logout {} => {
                let authed = self.authed.take().ok_or(Failure::Unauthenticated)?;
                self.revoke = None;
                self.chat = None;
                accounts.logout(&authed.token).await?;
                tracing::info!(user = %authed.identity.name, "logged out");
                Ok(AuthReply::Logout {})
            }
            AuthRequest::Passwd {
                password,
                new_password,
            } => {
                let identity = self.identity().await?.clone();
                let token = self.authed.as_ref().map(|a| a.token.clone());
                let token = token.ok_or(Failure::Unauthenticated)?;
                let accounts = self.services.accounts.clone().ok_or(Failure::NoAccounts)?;
                let ended = accounts
                    .change_password(&identity, &token, &password, &new_password, self.peer)
                    .await?;
                Ok(AuthReply::Passwd {
                    ended: u64::try_from(ended).unwrap_or(u64::MAX),
                })
            }
            AuthRequest::Whoami {} => {
                let identity = self.identity().await?;
                Ok(AuthReply::Whoami {
                    user: identity.name.clone(),
                    expires: identity.expires,
                })
            }
        }
    }

    /// The account this connection speaks for, re-checked against the store
    /// so that a session revoked elsewhere (logout on another connection,
    /// `sockit user passwd/lock/del`) stops working here too.
    async fn identity(&mut self) -> Result<&Identity, Failure> {
        let accounts = self.services.accounts.as_ref().ok_or(Failure::NoAccounts)?;
        let token = self
            .authed
            .as_ref()
            .ok_or(Failure::Unauthenticated)?
            .token
            .clone();
        match accounts.resume(&token).await {
            Ok(identity) => Ok(&self.authed.insert(Authed { identity, token }).identity),
            Err(AuthError::InvalidToken) => {
                self.authed = None;
                self.revoke = None;
                self.chat = None;
                Err(Failure::Revoked)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the revocation watch out while the door waits on it beside
    /// the session's other futures; give it back with [`Session::put_revoke`].
    pub fn take_revoke(&mut self) -> Option<RevokeWatch> {
        self.revoke.take()
    }

    /// Gives back a watch taken by [`Session::take_revoke`], unless the
    /// session has since logged out or in again (then its own watch holds).
    pub fn put_revoke(&mut self, watch: Option<RevokeWatch>) {
        let same = |w: &RevokeWatch| {
            self.authed
                .as_ref()
                .is_some_and(|a| a.identity.user_id == w.user_id())
        };
        if self.revoke.is_none() && watch.as_ref().is_some_and(same) {
            self.revoke = watch;
        }
    }

    /// After the account's revocation signal: `None` while the session
    /// still holds (the signal was for another session of the account),
    /// else the error frame to push before the door closes the connection.
    pub async fn recheck(&mut self) -> Option<Frame> {
        self.authed.as_ref()?;
        match self.identity().await {
            Err(Failure::Revoked) => {
                tracing::info!("session revoked; closing the connection");
                Some(error_frame(UNAUTHENTICATED, REVOKED_MESSAGE, None))
            }
            // A store error: the next request re-checks again.
            _ => None,
        }
    }
}

/// Message of the error frame pushed (with no `id`) just before a door
/// closes a connection whose session was revoked.
pub const REVOKED_MESSAGE: &str = "the session was revoked (logout, password change, lock or deletion of the account); log in again";

/// Waits for `watch` to fire; never resolves when there is none.
pub async fn revoked(watch: Option<&mut RevokeWatch>) {
    match watch {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

/// The file state of a new connection: only with both a store and
/// accounts, since every file belongs to an account.
fn files_state(services: &Services) -> Option<FilesState> {
    match (&services.files, &services.accounts) {
        (Some(store), Some(_)) => Some(FilesState::new(store.clone())),
        _ => None,
    }
}

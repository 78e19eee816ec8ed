//! [`Request`]: every request the frame protocol accepts (on the framed
//! door and, one header per message, on the web door's WebSocket), read
//! out of a frame in one place.
//!
//! A request belongs to one [`Family`]; a server may offer only some of
//! them (no accounts, no chat, no file store), and a type of a family it
//! does not offer is `unknown_type` whatever its fields, so the family is
//! found from the type alone ([`Family::of`]) before the fields are read
//! ([`Request::parse`]).

use serde::de::DeserializeOwned;

use super::auth::AuthRequest;
use super::chat::ChatRequest;
use super::files::FileRequest;
use super::frame::Frame;
use super::message::{CoreRequest, MessageError, check_header, from_header, knows};
use super::share::ShareRequest;

/// One request from a client, of any family.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `hello`, `ping`, `echo`: answered with no connection state.
    Core(CoreRequest),
    /// `login`, `resume`, `logout`, `whoami`: needs the accounts service.
    Auth(AuthRequest),
    /// `chat.*`: needs the chat hub (and a login).
    Chat(ChatRequest),
    /// `file.*`: needs the file store (and a login).
    File(FileRequest),
    /// `share.*`: needs the shares service (and a login).
    Share(ShareRequest),
}

/// The message families of [`Request`], the unit a server offers or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// [`CoreRequest`]: always offered.
    Core,
    /// [`AuthRequest`].
    Auth,
    /// [`ChatRequest`].
    Chat,
    /// [`FileRequest`].
    File,
    /// [`ShareRequest`].
    Share,
}

impl Family {
    /// Every family, in the order [`Family::of`] asks them.
    pub const ALL: [Family; 5] = [
        Family::Core,
        Family::Auth,
        Family::Chat,
        Family::File,
        Family::Share,
    ];

    /// The family whose enum has a variant for `kind`, if any. Each
    /// family's serde derive is the only list of its types.
    pub fn of(kind: &str) -> Option<Family> {
        Self::ALL.into_iter().find(|f| f.knows(kind))
    }

    fn knows(self, kind: &str) -> bool {
        match self {
            Family::Core => knows::<CoreRequest>(kind),
            Family::Auth => knows::<AuthRequest>(kind),
            Family::Chat => knows::<ChatRequest>(kind),
            Family::File => knows::<FileRequest>(kind),
            Family::Share => knows::<ShareRequest>(kind),
        }
    }
}

impl Request {
    /// The family of the request in `frame`, after checking its `"type"`
    /// and `"id"`; `unknown_type` when no family has the type. Reads no
    /// other field.
    pub fn family(frame: &Frame) -> Result<Family, MessageError> {
        let kind = check_header(frame)?;
        Family::of(kind).ok_or_else(|| MessageError::UnknownType(kind.to_owned()))
    }

    /// Reads a request of any family out of a frame's header (the body is
    /// left to the caller: it is the chunk of a `file.write`).
    pub fn from_frame(frame: &Frame) -> Result<Request, MessageError> {
        Self::parse(frame, Self::family(frame)?)
    }

    /// Reads the request in `frame` as one of `family` (from
    /// [`Request::family`]).
    pub fn parse(frame: &Frame, family: Family) -> Result<Request, MessageError> {
        fn read<T: DeserializeOwned>(frame: &Frame) -> Result<T, MessageError> {
            from_header(frame)
        }
        Ok(match family {
            Family::Core => Request::Core(read(frame)?),
            Family::Auth => Request::Auth(read(frame)?),
            Family::Chat => Request::Chat(read(frame)?),
            Family::File => Request::File(read(frame)?),
            Family::Share => Request::Share(read(frame)?),
        })
    }

    /// The family this request belongs to.
    pub fn family_of(&self) -> Family {
        match self {
            Request::Core(_) => Family::Core,
            Request::Auth(_) => Family::Auth,
            Request::Chat(_) => Family::Chat,
            Request::File(_) => Family::File,
            Request::Share(_) => Family::Share,
        }
    }

    /// A frame carrying this request, with `id` when given and no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        match self {
            Request::Core(r) => r.to_frame(id),
            Request::Auth(r) => r.to_frame(id),
            Request::Chat(r) => r.to_frame(id),
            Request::File(r) => r.to_frame(id),
            Request::Share(r) => r.to_frame(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::{Hello, Ping};

    /// One request of every type; a new variant must be added here, since
    /// the round trip below is what proves [`Family::of`] routes it.
    fn every_request() -> Vec<Request> {
        let room = || "lobby".to_owned();
        let path = || "a/b".to_owned();
        vec![
            Request::Core(CoreRequest::Hello(Hello {
                version: 1,
                client: None,
                features: vec![],
            })),
            Request::Core(CoreRequest::Ping(Ping { ts: None })),
            Request::Core(CoreRequest::Echo {}),
            Request::Auth(AuthRequest::Login {
                name: "a".into(),
                password: "p".into(),
            }),
            Request::Auth(AuthRequest::Resume { token: "t".into() }),
            Request::Auth(AuthRequest::Logout {}),
            Request::Auth(AuthRequest::Whoami {}),
            Request::Auth(AuthRequest::Passwd {
                password: "p".into(),
                new_password: "q".into(),
            }),
            Request::Chat(ChatRequest::Join { room: room() }),
            Request::Chat(ChatRequest::Leave { room: room() }),
            Request::Chat(ChatRequest::Send {
                room: room(),
                text: "hi".into(),
                key: Some("k1".into()),
            }),
            Request::Chat(ChatRequest::History {
                room: room(),
                last: Some(2),
                after: None,
                before: None,
                epoch: None,
            }),
            Request::Chat(ChatRequest::Who { room: room() }),
            Request::Chat(ChatRequest::Rooms {}),
            Request::Chat(ChatRequest::Typing { room: room() }),
            Request::Chat(ChatRequest::Dm { to: "bob".into() }),
            Request::Chat(ChatRequest::Dms {}),
            Request::Chat(ChatRequest::Read {
                room: room(),
                seq: 7,
            }),
            Request::Chat(ChatRequest::Unread {
                rooms: vec![room()],
            }),
            Request::File(FileRequest::Put {
                path: path(),
                size: 3,
                fingerprint: "f".into(),
                force: false,
                md5: true,
            }),
            Request::File(FileRequest::Write {
                handle: 1,
                offset: 0,
            }),
            Request::File(FileRequest::PutEnd {
                handle: 1,
                blake3: Some("00".into()),
                md5: None,
            }),
            Request::File(FileRequest::Get {
                path: path(),
                offset: 0,
                md5: false,
            }),
            Request::File(FileRequest::Read {
                handle: 1,
                offset: 0,
                len: 9,
            }),
            Request::File(FileRequest::Close { handle: 1 }),
            Request::File(FileRequest::Stat { path: path() }),
            Request::File(FileRequest::ls("")),
            Request::File(FileRequest::PutCancel {
                handle: Some(1),
                path: None,
            }),
            Request::File(FileRequest::Rm {
                path: path(),
                recursive: true,
            }),
            Request::Share(ShareRequest::Create {
                path: path(),
                expires: Some(60),
                downloads: None,
                e2e: None,
            }),
            Request::Share(ShareRequest::Create {
                path: path(),
                expires: None,
                downloads: Some(2),
                e2e: Some("01ab".into()),
            }),
            Request::Share(ShareRequest::Ls {}),
            Request::Share(ShareRequest::Rm { share: "1".into() }),
            Request::File(FileRequest::Mkdir {
                path: path(),
                parents: true,
            }),
            Request::File(FileRequest::Mv {
                from: path(),
                to: "c".into(),
            }),
        ]
    }

    #[test]
    fn every_request_round_trips_into_its_family() {
        let all = every_request();
        // Thirty-four types of protocol v1, each once.
        let mut kinds: Vec<_> = all
            .iter()
            .map(|r| r.to_frame(None).kind().map(str::to_owned))
            .collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), 34);
        for req in all {
            let frame = req.to_frame(Some(4));
            assert_eq!(Request::family(&frame), Ok(req.family_of()), "{frame:?}");
            assert_eq!(Request::from_frame(&frame), Ok(req));
        }
    }

    #[test]
    fn unknown_types_and_bad_fields_are_told_apart() {
        let frame = |v: serde_json::Value| match v {
            serde_json::Value::Object(m) => Frame::from_parts(m, bytes::Bytes::new()),
            _ => unreachable!(),
        };
        for kind in ["pong", "chat.message", "file.nope", "chat", "", "error"] {
            let f = frame(json!({"type": kind, "id": 1}));
            assert_eq!(
                Request::from_frame(&f),
                Err(MessageError::UnknownType(kind.into()))
            );
        }
        let f = frame(json!({"type": "chat.send", "room": "x"}));
        assert_eq!(Request::family(&f), Ok(Family::Chat));
        let e = Request::from_frame(&f).unwrap_err();
        assert!(matches!(e, MessageError::BadFields { ref kind, .. } if kind == "chat.send"));
        let f = frame(json!({"type": "file.write", "handle": 1, "offset": -1}));
        assert_eq!(
            Request::from_frame(&f).unwrap_err().code(),
            crate::wire::ErrorCode::BadRequest
        );
        let f = frame(json!({"type": "ping", "id": "7"}));
        assert_eq!(Request::family(&f), Err(MessageError::BadId));
        let f = frame(json!({"id": 7}));
        assert_eq!(Request::family(&f), Err(MessageError::MissingType));
    }
}

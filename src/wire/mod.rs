//! Frame codec and message types of the sockit wire protocol (see docs/PROTOCOL.md).
//!
//! Layers, bottom up, each in its own file: [`Limits`] -> bytes <-> [`Frame`]
//! ([`FrameCodec`], [`encode_to_vec`], [`decode_from_slice`]) -> typed
//! [`Request`] (every request, by [`Family`]) / [`Reply`] -> [`respond`].
//! Beside them: [`ErrorCode`], the code of every error frame, and [`path`],
//! the name rules the file store and the client both enforce. Nothing here
//! does I/O or reads a clock, so all of it is tested in memory and fuzzed.
//!
//! ```
//! use sockit::wire::{Frame, FrameCodec, ServerInfo, respond};
//! use tokio_util::codec::{Decoder, Encoder};
//! use bytes::BytesMut;
//!
//! let mut codec = FrameCodec::new();
//! let mut buf = BytesMut::new();
//! codec.encode(Frame::new("ping").with_id(7).set("ts", 1), &mut buf).unwrap();
//! let request = codec.decode(&mut buf).unwrap().unwrap();
//! let reply = respond(&request, &ServerInfo::default());
//! assert_eq!(reply.kind(), Some("pong"));
//! assert_eq!(reply.id(), Some(7));
//! ```

mod auth;
mod chat;
mod chat_items;
mod code;
mod codec;
mod decode;
mod encode;
mod error;
mod fast;
mod files;
mod frame;
mod limits;
mod message;
pub mod path;
pub mod perf;
pub mod perf_udp;
mod request;
mod respond;
mod share;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod message_tests;

pub use auth::{AuthReply, AuthRequest, MAX_PASSWORD_BYTES, UNAUTHENTICATED};
pub use chat::{
    CHAT_MESSAGE, CHAT_PRESENCE, ChatConversation, ChatEvent, ChatMember, ChatMessage, ChatReply,
    ChatRequest, ChatRoom, MessageKind, SLOW_CONSUMER, SearchResult, shown_text,
};
pub use code::{ErrorCode, UnknownCode};
pub use codec::FrameCodec;
pub use decode::{PREFIX_LEN, decode_from_slice};
pub use encode::encode_to_vec;
pub use error::{FrameError, error_frame};
pub use fast::answer_ping;
pub use files::{BAD_HANDLE, EntryInfo, EntryKind, FileReply, FileRequest};
pub use frame::{Frame, ID, SIZE, TYPE};
pub use limits::{DEFAULT_MAX_BODY, DEFAULT_MAX_HEADER, Limits};
pub use message::{
    CoreRequest, ErrorReply, Hello, HelloReply, MessageError, PROTOCOL_VERSION, Ping, Reply,
    from_header, to_frame,
};
pub use request::{Family, Request};
pub use respond::{MIN_PROTOCOL_VERSION, ServerInfo, answer_core, respond};
pub use share::{ShareEntry, ShareReply, ShareRequest, UploadRecord, UploadStats};

//! Chat over the frame protocol for tests: a request and its typed reply,
//! the code of a refusal, and the next pushed event or message.

use std::time::Duration;

use sockit::client::{Client, ClientError};
use sockit::wire::{ChatEvent, ChatMessage, ChatReply, ChatRequest};

/// A bound on a hang, not a sleep.
pub const CHAT_LIMIT: Duration = Duration::from_secs(30);

/// Sends `req` and reads its reply (a refusal is the error).
pub async fn ask(c: &mut Client, req: ChatRequest) -> Result<ChatReply, ClientError> {
    let reply = tokio::time::timeout(CHAT_LIMIT, c.request(req.to_frame(None)))
        .await
        .expect("a request hung")?;
    Ok(ChatReply::from_frame(&reply).unwrap())
}

/// The code of a refusal; panics on a success.
pub fn refusal(r: Result<ChatReply, ClientError>) -> String {
    match r {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The next pushed event, whatever it is.
pub async fn next_any(c: &mut Client) -> ChatEvent {
    let f = tokio::time::timeout(CHAT_LIMIT, c.recv())
        .await
        .expect("no event within the time limit")
        .unwrap()
        .unwrap();
    ChatEvent::from_frame(&f).unwrap()
}

/// The next pushed event, skipping presence.
pub async fn next_event(c: &mut Client) -> ChatEvent {
    loop {
        match next_any(c).await {
            ChatEvent::Presence { .. } => continue,
            ev => return ev,
        }
    }
}

/// The next pushed message, skipping other events.
pub async fn next_message(c: &mut Client) -> ChatMessage {
    loop {
        if let ChatEvent::Message(m) = next_event(c).await {
            return m;
        }
    }
}

/// Sends `text` to `room` as `c`; its seq.
pub async fn say(c: &mut Client, room: &str, text: &str) -> u64 {
    let req = ChatRequest::Send {
        room: room.into(),
        text: text.into(),
        key: None,
    };
    match ask(c, req).await.unwrap() {
        ChatReply::Send { seq, .. } => seq,
        other => panic!("{other:?}"),
    }
}

/// What one account can read of a direct conversation, every way it can
/// ask: the texts its history holds, whether `chat.dms` lists it, its
/// unread count, and the texts a search for `word` finds in it.
#[derive(Debug, PartialEq, Eq)]
pub struct Reading {
    pub history: Vec<String>,
    pub listed: bool,
    pub unread: u64,
    pub found: Vec<String>,
}

/// [`Reading`] of `room` (its full `@a+b` name) as `c` sees it.
pub async fn reading(c: &mut Client, room: &str, word: &str) -> Reading {
    let req = ChatRequest::History {
        room: room.into(),
        last: Some(100),
        after: None,
        before: None,
        epoch: None,
    };
    let ChatReply::History { messages, .. } = ask(c, req).await.unwrap() else {
        panic!("not history")
    };
    let ChatReply::Dms { dms } = ask(c, ChatRequest::Dms {}).await.unwrap() else {
        panic!("not a conversation list")
    };
    let req = ChatRequest::Unread {
        rooms: vec![room.into()],
    };
    let ChatReply::Unread { rooms } = ask(c, req).await.unwrap() else {
        panic!("not unread counts")
    };
    let req = ChatRequest::Search {
        q: word.into(),
        room: None,
        before: None,
        limit: None,
    };
    let ChatReply::Search { results, .. } = ask(c, req).await.unwrap() else {
        panic!("not search results")
    };
    Reading {
        history: messages.into_iter().map(|m| m.text).collect(),
        listed: dms.iter().any(|d| d.room == room),
        unread: rooms.first().map_or(0, |r| r.unread),
        found: results
            .into_iter()
            .filter(|r| r.room == room)
            .map(|r| r.text)
            .collect(),
    }
}

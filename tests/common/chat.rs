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

/// The next pushed event, skipping presence.
pub async fn next_event(c: &mut Client) -> ChatEvent {
    loop {
        let f = tokio::time::timeout(CHAT_LIMIT, c.recv())
            .await
            .expect("no event within the time limit")
            .unwrap()
            .unwrap();
        match ChatEvent::from_frame(&f).unwrap() {
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

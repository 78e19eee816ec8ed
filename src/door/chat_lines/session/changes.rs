//! `/search`, `/edit` and `/delete` on the line door.

use bytes::BytesMut;

use super::super::io::notice;
use super::{Chat, notices};
use crate::service::chat::{Amend, ChatError, SearchQuery};

impl Chat {
    /// Shows the newest messages holding `words`, one line each with its
    /// room and seq (so `/join` and `/history N before SEQ+1` find it).
    pub(super) async fn search(&mut self, words: &str) -> Result<BytesMut, ChatError> {
        let page = self
            .session
            .search(SearchQuery::parse(words, None, None, None)?)
            .await?;
        if page.hits.is_empty() {
            return Ok(notices(&["no messages found"]));
        }
        let mut out = notices(&[format!("{} messages found, newest first:", page.hits.len())]);
        for h in &page.hits {
            let edited = if h.edited { " (edited)" } else { "" };
            let line = format!("[{}] #{} <{}> {}{edited}", h.room, h.seq, h.name, h.snippet);
            out.extend_from_slice(notice(&line).as_bytes());
        }
        Ok(out)
    }

    /// Shows the current room's topic (`text` empty) or sets it (`-`
    /// clears it); the room sees the change as a notice.
    pub(super) async fn topic(&mut self, text: &str) -> Result<Option<BytesMut>, ChatError> {
        if text.is_empty() {
            let topic = self.session.hub().topic(&self.room).await?;
            let line = if topic.is_empty() {
                format!("{} has no topic; /topic TEXT sets one", self.room)
            } else {
                format!("topic of {}: {topic}", self.room)
            };
            return Ok(Some(notices(&[line])));
        }
        let topic = if text == "-" { "" } else { text };
        self.amend(0, Amend::Topic(topic.to_owned())).await
    }

    /// Edits or deletes message `seq` of the current room; the room (the
    /// member included) sees the change as a notice.
    pub(super) async fn amend(
        &mut self,
        seq: u64,
        change: Amend,
    ) -> Result<Option<BytesMut>, ChatError> {
        self.session.amend(&self.room, seq, change).await?;
        Ok(None)
    }
}

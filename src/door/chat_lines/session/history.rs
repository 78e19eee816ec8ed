//! `/history` on the line door: the last messages of the member's room,
//! and scrolling back from the oldest one shown (`/history more`).

use bytes::BytesMut;

use super::super::command::Scroll;
use super::super::io::notice;
use super::super::render::LINES;
use super::{Chat, notices};
use crate::service::chat::{ChatError, HistoryQuery};

impl Chat {
    /// Shows `n` messages of the current room: the last ones, those before
    /// the oldest the previous `/history` showed, or those below a seq.
    pub(super) async fn history(
        &mut self,
        n: usize,
        scroll: Scroll,
    ) -> Result<BytesMut, ChatError> {
        let query = match (scroll, self.oldest_shown) {
            (Scroll::Latest, _) => HistoryQuery::Last(n),
            (Scroll::Before(seq), _) | (Scroll::Older, Some(seq)) => HistoryQuery::Before(seq, n),
            (Scroll::Older, None) => {
                return Ok(notices(&[
                    "nothing shown yet to scroll back from; /history first",
                ]));
            }
        };
        let page = self.session.history(&self.room, query).await?;
        let Some(first) = page.messages.first() else {
            return Ok(notices(&[format!("no older messages in {}", self.room)]));
        };
        self.oldest_shown = Some(first.id);
        let older = if page.more { " (older ones exist)" } else { "" };
        let head = match query {
            HistoryQuery::Before(seq, _) => format!(
                "{} messages before {seq} in {}{older}:",
                page.messages.len(),
                self.room
            ),
            _ => format!(
                "last {} messages in {}{older}:",
                page.messages.len(),
                self.room
            ),
        };
        let mut out = notices(&[head]);
        for m in &page.messages {
            out.extend_from_slice(&m.render(&*LINES));
        }
        out.extend_from_slice(notice("end of history").as_bytes());
        Ok(out)
    }
}

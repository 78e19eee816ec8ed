//! Several servers for one client command (issue 19): the addresses are
//! tried in turn, the first that answers is used, and what was skipped is
//! handed back so the command can say which server it fell over to.
//!
//! Only an unreachable node is skipped (refused, reset, timed out, closed
//! before answering): a node that answers with a refusal (wrong password,
//! locked account, quota) speaks for the whole cluster, so asking the
//! next one would only repeat it, or worse, hide it.

use std::fmt;
use std::future::Future;

use crate::client::ClientError;
use crate::net::Endpoint;
use crate::wire::FrameError;

/// True for failures that mean "this node is down or unreachable": the
/// next address is worth a try.
pub trait Unreachable {
    /// Whether another node might succeed where this one failed.
    fn unreachable(&self) -> bool;
}

impl Unreachable for ClientError {
    fn unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Dial(_) | ClientError::Closed | ClientError::Frame(FrameError::Io(_))
        )
    }
}

/// A node that was tried and skipped, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The address tried.
    pub server: Endpoint,
    /// Why it failed, one line.
    pub why: String,
}

/// The one line a command prints when it did not use its first server:
/// `tcp://a:7878 unreachable (connecting to ...: refused); fell over to tcp://b:7878`.
pub fn fell_over(skipped: &[Skipped], used: &Endpoint) -> Option<String> {
    let first = skipped.first()?;
    let others = match skipped.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "{} unreachable ({}){others}; fell over to {used}",
        first.server, first.why
    ))
}

/// Runs `attempt` on each server in turn until one succeeds or fails for
/// a reason other than being unreachable. Returns the value, the server
/// that gave it and the servers skipped; with every server unreachable,
/// the last one's error.
pub async fn in_turn<T, E, F, Fut>(
    servers: &[Endpoint],
    mut attempt: F,
) -> Result<(T, Endpoint, Vec<Skipped>), E>
where
    E: Unreachable + fmt::Display + From<ClientError>,
    F: FnMut(Endpoint) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut skipped = Vec::new();
    let mut left = servers.len();
    for server in servers {
        left -= 1;
        match attempt(server.clone()).await {
            Ok(v) => return Ok((v, server.clone(), skipped)),
            Err(e) if e.unreachable() && left > 0 => skipped.push(Skipped {
                server: server.clone(),
                why: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
    }
    // The callers' lists are never empty (the default server fills an
    // empty one); say so rather than panic if one ever is.
    Err(E::from(ClientError::Unexpected(
        "no server address to connect to".into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        s.parse().unwrap()
    }

    fn down() -> ClientError {
        ClientError::Closed
    }

    #[tokio::test]
    async fn skips_unreachable_nodes_and_stops_at_a_refusal() {
        let list = [
            ep("tcp://127.0.0.1:1"),
            ep("tcp://127.0.0.1:2"),
            ep("tcp://127.0.0.1:3"),
        ];
        let (v, used, skipped) = in_turn(&list, |s| async move {
            if s.to_string().ends_with(":3") {
                Ok(7)
            } else {
                Err(down())
            }
        })
        .await
        .unwrap();
        assert_eq!((v, used.to_string()), (7, "tcp://127.0.0.1:3".to_string()));
        assert_eq!(skipped.len(), 2);
        let line = fell_over(&skipped, &used).unwrap();
        assert!(
            line.starts_with("tcp://127.0.0.1:1 unreachable (")
                && line.ends_with(" and 1 more; fell over to tcp://127.0.0.1:3"),
            "{line}"
        );
        // A refusal is the cluster's answer: the next node is not asked.
        let mut asked = 0;
        let e = in_turn(&list, |_| {
            asked += 1;
            async { Err::<(), _>(ClientError::Unexpected("a refusal".into())) }
        })
        .await
        .unwrap_err();
        assert_eq!((asked, e.unreachable()), (1, false));
        // All down: the last node's error.
        let e = in_turn(&list, |_| async { Err::<(), _>(down()) })
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Closed));
        assert_eq!(fell_over(&[], &list[0]), None);
    }
}

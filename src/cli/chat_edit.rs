//! `sockit edit`, `delete` and `search`: changing one's own chat messages
//! and finding messages, from the command line (and the `/edit`,
//! `/delete` and `/search` commands of `sockit chat`).

use std::process::ExitCode;

use sockit::wire::{ChatReply, ChatRequest, SearchResult};

use super::chat::{TIMEOUT, connect, refused};

/// Arguments of `sockit edit`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Only your own messages, within the server's edit window (10 minutes
unless the operator changed it). Everyone in the room sees the new text,
marked as edited; history shows it too. `sockit say` prints a message's
number; `sockit history --json` lists them.

Examples:
  sockit edit --room ops 42 'deploy done (for real)'
  sockit edit --room ops 42 fixed --json"
)]
pub struct EditArgs {
    #[command(flatten)]
    server: super::server_addr::ServerArgs,
    /// The room.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// Print the confirmation as JSON.
    #[arg(long)]
    json: bool,
    /// The message's number (seq) in the room.
    seq: u64,
    /// The new text (several words are joined with spaces).
    #[arg(required = true)]
    text: Vec<String>,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit delete`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Only your own messages, within the server's edit window. The text is
erased from history and search; the room sees \"message deleted\".

Examples:
  sockit delete --room ops 42
  sockit delete --room ops 42 --json"
)]
pub struct DeleteArgs {
    #[command(flatten)]
    server: super::server_addr::ServerArgs,
    /// The room.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// Print the confirmation as JSON.
    #[arg(long)]
    json: bool,
    /// The message's number (seq) in the room.
    seq: u64,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit search`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Finds messages holding every word (the last one also as the start of
a word), newest first, in every room you can read. Punctuation and
operators are ordinary text. Edited messages are found by their new text,
deleted ones not at all.

Examples:
  sockit search deploy failed
  sockit search --room ops backup -n 5
  sockit search backup --before 1234 --json     the next page"
)]
pub struct SearchArgs {
    #[command(flatten)]
    server: super::server_addr::ServerArgs,
    /// Only this room.
    #[arg(long, short)]
    room: Option<String>,
    /// How many results (at most 100).
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
    /// The next page: the cursor the previous page printed.
    #[arg(long, value_name = "CURSOR")]
    before: Option<u64>,
    /// One JSON object per result, then `{"before": CURSOR}` if more exist.
    #[arg(long)]
    json: bool,
    /// The words to find.
    #[arg(required = true)]
    words: Vec<String>,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Runs `sockit edit`.
pub async fn edit(a: EditArgs) -> anyhow::Result<ExitCode> {
    let req = ChatRequest::Edit {
        room: a.room.clone(),
        seq: a.seq,
        text: a.text.join(" "),
    };
    change(&a.server, &a.tls, &a.room, req, a.json).await
}

/// Runs `sockit delete`.
pub async fn delete(a: DeleteArgs) -> anyhow::Result<ExitCode> {
    let req = ChatRequest::Delete {
        room: a.room.clone(),
        seq: a.seq,
    };
    change(&a.server, &a.tls, &a.room, req, a.json).await
}

/// Joins `room` (changes are made as a member) and sends `req`.
async fn change(
    server: &super::server_addr::ServerArgs,
    tls: &super::tls_opts::ClientTlsArgs,
    room: &str,
    req: ChatRequest,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut conn = connect(tls, server.resolve()?, TIMEOUT).await?;
    let done = async {
        conn.request(ChatRequest::Join {
            room: room.to_owned(),
        })
        .await?;
        conn.request(req).await
    };
    match done.await {
        Ok(ChatReply::Edit(m) | ChatReply::Delete(m)) if json => {
            println!("{}", serde_json::to_string(&m)?);
        }
        Ok(ChatReply::Edit(m) | ChatReply::Delete(m)) => {
            println!("{} in {} (entry {})", m.shown(), m.room, m.seq);
        }
        Ok(other) => anyhow::bail!("unexpected reply: {other:?}"),
        Err(e) => return refused(e),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `sockit search`.
pub async fn search(a: SearchArgs) -> anyhow::Result<ExitCode> {
    let mut conn = connect(&a.tls, a.server.resolve()?, TIMEOUT).await?;
    let req = ChatRequest::Search {
        q: a.words.join(" "),
        room: a.room.clone(),
        before: a.before,
        limit: Some(a.limit),
    };
    let (results, before) = match conn.request(req).await {
        Ok(ChatReply::Search { results, before }) => (results, before),
        Ok(other) => anyhow::bail!("unexpected reply: {other:?}"),
        Err(e) => return refused(e),
    };
    if a.json {
        for r in &results {
            println!("{}", serde_json::to_string(r)?);
        }
        if let Some(b) = before {
            println!("{}", serde_json::json!({ "before": b }));
        }
    } else {
        if results.is_empty() {
            eprintln!("no messages found");
        }
        for l in search_lines(&results, None) {
            println!("{l}");
        }
        if let Some(b) = before {
            eprintln!("more results: add --before {b}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per result (`2026-12-07 17:30Z [ops] #42 <ann> text`), then
/// where the next page starts.
pub fn search_lines(results: &[SearchResult], before: Option<u64>) -> Vec<String> {
    let mut out: Vec<String> = results
        .iter()
        .map(|r| {
            let edited = if r.edited { " (edited)" } else { "" };
            format!(
                "{} [{}] #{} <{}> {}{edited}",
                super::utc(r.ts / 1000),
                r.room,
                r.seq,
                r.name,
                r.text
            )
        })
        .collect();
    if results.is_empty() {
        out.push("* no messages found".to_owned());
    }
    if let Some(b) = before {
        out.push(format!("* more: /search with before {b}"));
    }
    out
}

/// The request for `/edit SEQ TEXT`, `/delete SEQ` or `/search WORDS` in
/// `room`; or how to use it.
pub fn command(cmd: &str, arg: &str, room: &str) -> Result<ChatRequest, String> {
    let (first, rest) = arg
        .split_once(' ')
        .map_or((arg, ""), |(a, b)| (a, b.trim()));
    let seq = first.trim_start_matches('#').parse::<u64>();
    match (cmd, seq) {
        ("/edit", Ok(seq)) if !rest.is_empty() => Ok(ChatRequest::Edit {
            room: room.to_owned(),
            seq,
            text: rest.to_owned(),
        }),
        ("/edit", _) => Err("usage: /edit SEQ NEW TEXT (the message's number)".to_owned()),
        ("/delete", Ok(seq)) if rest.is_empty() => Ok(ChatRequest::Delete {
            room: room.to_owned(),
            seq,
        }),
        ("/delete", _) => Err("usage: /delete SEQ (the message's number)".to_owned()),
        _ if arg.is_empty() => Err("usage: /search WORDS".to_owned()),
        _ => Ok(ChatRequest::Search {
            q: arg.to_owned(),
            room: None,
            before: None,
            limit: None,
        }),
    }
}

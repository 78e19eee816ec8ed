//! `sockit edit`, `delete` and `search`: changing one's own chat messages
//! and finding messages, from the command line (and the `/edit`,
//! `/delete` and `/search` commands of `sockit chat`).

use std::process::ExitCode;

use sockit::net::Endpoint;
use sockit::wire::{ChatReply, ChatRequest, SearchResult};

use super::chat::{TIMEOUT, connect, refused};
use super::server_addr::ServerList;

/// Arguments of `sockit edit`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Only your own messages, within the server's edit window (10 minutes
unless the operator changed it). Everyone in the room sees the new text,
marked as edited; history shows it too. `sockit say` prints a message's
number; `sockit history --json` lists them.

Examples:
  sockit edit --room ops 1 'deploy done (for real)'
  sockit edit --room ops 1 fixed --json"
)]
pub struct EditArgs {
    /// The framed server, as for `sockit say` (or the first word).
    #[arg(long, value_name = "ADDR")]
    server: Vec<ServerList>,
    /// The room.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// Print the confirmation as JSON.
    #[arg(long)]
    json: bool,
    /// The message's number (seq) in the room, then its new text (several
    /// words are joined with spaces).
    #[arg(required = true, value_name = "SEQ TEXT")]
    words: Vec<String>,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit delete`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Only your own messages, within the server's edit window. The text is
erased from history and search; the room sees \"message deleted\".

Examples:
  sockit delete --room ops 1
  sockit delete --room ops 1 --json"
)]
pub struct DeleteArgs {
    /// The framed server, as for `sockit say` (or the first word).
    #[arg(long, value_name = "ADDR")]
    server: Vec<ServerList>,
    /// The room.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// Print the confirmation as JSON.
    #[arg(long)]
    json: bool,
    /// The message's number (seq) in the room.
    #[arg(required = true, value_name = "SEQ")]
    words: Vec<String>,
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
    /// The framed server, as for `sockit say` (or the first word).
    #[arg(long, value_name = "ADDR")]
    server: Vec<ServerList>,
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
    let (servers, words) = servers_and_words(&a.server, &a.words)?;
    let (seq, text) = match words {
        [seq, text @ ..] if !text.is_empty() => (parse_seq(seq)?, text.join(" ")),
        _ => anyhow::bail!("give the message's number, then its new text: sockit edit 42 new text"),
    };
    let req = ChatRequest::Edit {
        room: a.room.clone(),
        seq,
        text,
    };
    change(servers, &a.tls, &a.room, req, a.json).await
}

/// Runs `sockit delete`.
pub async fn delete(a: DeleteArgs) -> anyhow::Result<ExitCode> {
    let (servers, words) = servers_and_words(&a.server, &a.words)?;
    let [seq] = words else {
        anyhow::bail!("give one message number: sockit delete 42");
    };
    let req = ChatRequest::Delete {
        room: a.room.clone(),
        seq: parse_seq(seq)?,
    };
    change(servers, &a.tls, &a.room, req, a.json).await
}

fn parse_seq(s: &str) -> anyhow::Result<u64> {
    s.trim_start_matches('#').parse().map_err(|_| {
        anyhow::anyhow!(
            "{s:?} is not a message number; `sockit history --json` shows each one's seq"
        )
    })
}

/// The servers (from `--server`, or the first word when it is an
/// address, as `sockit say` reads them) and the other words.
pub(super) fn servers_and_words<'a>(
    flag: &[ServerList],
    words: &'a [String],
) -> anyhow::Result<(Vec<Endpoint>, &'a [String])> {
    let (lead, words) = super::server_addr::split_leading_addr(words);
    if lead.is_some() && !flag.is_empty() {
        anyhow::bail!(
            "two servers given (--server and the first word); give one, or quote the text"
        );
    }
    let given: Vec<Endpoint> = match lead {
        Some(list) => list,
        None => flag.iter().flat_map(|l| l.0.iter().cloned()).collect(),
    };
    Ok((super::server_addr::resolve(&given)?, words))
}

/// Joins `room` (changes are made as a member) and sends `req`.
async fn change(
    servers: Vec<Endpoint>,
    tls: &super::tls_opts::ClientTlsArgs,
    room: &str,
    req: ChatRequest,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut conn = connect(tls, servers, TIMEOUT).await?;
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
    let (servers, words) = servers_and_words(&a.server, &a.words)?;
    let mut conn = connect(&a.tls, servers, TIMEOUT).await?;
    let req = ChatRequest::Search {
        q: words.join(" "),
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

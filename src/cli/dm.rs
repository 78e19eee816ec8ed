//! `sockit dm`: direct messages between accounts from the command line:
//! list the conversations with their unread counts, read one (which marks
//! it read), or send one message.

use std::process::ExitCode;

use sockit::wire::{ChatConversation, ChatReply, ChatRequest};

use super::chat::{TIMEOUT, connect, idempotency_key, refused};

/// Arguments of `sockit dm`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without NAME: your direct conversations, newest first, with unread
messages and mentions (100 reads \"99+\"). With NAME: the last messages
with that account, then the conversation is marked read. With NAME and
TEXT: sends TEXT to NAME. Direct messages are between accounts: log in
first (sockit login --user NAME). In `sockit chat`, `/join @NAME` (or
`--room @NAME`) talks with NAME; `sockit history --room @NAME` reads it.

Examples:
  sockit dm bob 'are you around?'
  sockit dm bob                     the conversation with bob; marks it read
  sockit dm                         every conversation, with unread counts
  sockit dm --json --server tcp://10.0.0.5:7878"
)]
pub struct DmArgs {
    /// The framed server (tcp://, tls:// or unix://); repeat it (or give a
    /// comma list) for several nodes, tried in turn [default:
    /// $SOCKIT_SERVER, else tcp://127.0.0.1:7878].
    #[arg(long, value_name = "ADDR")]
    server: Vec<super::server_addr::ServerList>,
    /// The account to write to or read with.
    name: Option<String>,
    /// The message (several words are joined with spaces).
    text: Vec<String>,
    /// How many of the last messages to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    last: usize,
    /// Show the conversation without marking it read.
    #[arg(long)]
    keep_unread: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Runs `sockit dm`.
pub async fn dm(a: DmArgs) -> anyhow::Result<ExitCode> {
    let given: Vec<_> = a.server.iter().flat_map(|l| l.0.iter().cloned()).collect();
    let mut conn = connect(&a.tls, super::server_addr::resolve(&given)?, TIMEOUT).await?;
    let Some(name) = a.name.clone() else {
        let dms = match conn.request(ChatRequest::Dms {}).await {
            Ok(ChatReply::Dms { dms }) => dms,
            Ok(other) => anyhow::bail!("unexpected reply: {other:?}"),
            Err(e) => return refused(e),
        };
        for c in &dms {
            if a.json {
                println!("{}", serde_json::to_string(c)?);
            } else {
                println!("{}", dm_line(c));
            }
        }
        if dms.is_empty() && !a.json {
            eprintln!("no direct messages yet; send one: sockit dm NAME TEXT");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let room = match conn.request(ChatRequest::Dm { to: name }).await {
        Ok(ChatReply::Dm { room, .. }) => room,
        Ok(other) => anyhow::bail!("unexpected reply: {other:?}"),
        Err(e) => return refused(e),
    };
    let sent = if a.text.is_empty() {
        show(&mut conn, &a, &room).await
    } else {
        let req = ChatRequest::Send {
            room,
            text: a.text.join(" "),
            key: Some(idempotency_key()),
        };
        conn.request(req)
            .await
            .map(|reply| print_sent(&reply, a.json))
    };
    match sent {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => refused(e),
    }
}

/// Prints the last messages of `room`, then marks them read.
async fn show(
    conn: &mut sockit::client::chat::ChatConn,
    a: &DmArgs,
    room: &str,
) -> Result<(), sockit::client::ClientError> {
    let req = ChatRequest::History {
        room: room.to_owned(),
        last: Some(a.last),
        after: None,
        before: None,
        epoch: None,
    };
    let ChatReply::History { messages, .. } = conn.request(req).await? else {
        return Ok(());
    };
    for m in &messages {
        if a.json {
            println!("{}", serde_json::to_string(m).unwrap_or_default());
        } else {
            println!("{} <{}> {}", super::utc(m.ts / 1000), m.name, m.text);
        }
    }
    if let (Some(last), false) = (messages.last(), a.keep_unread) {
        let req = ChatRequest::Read {
            room: room.to_owned(),
            seq: last.seq,
        };
        conn.request(req).await?;
    }
    Ok(())
}

fn print_sent(reply: &ChatReply, json: bool) {
    if let ChatReply::Send {
        room,
        seq,
        ts,
        text,
    } = reply
    {
        if json {
            let v = serde_json::json!({"room": room, "seq": seq, "ts": ts, "text": text});
            println!("{v}");
        } else {
            println!("sent to {room} as message {seq}");
        }
    }
}

/// One conversation as a line: `bob  3 unread, 1 mention  (@ann+bob)`.
pub fn dm_line(c: &ChatConversation) -> String {
    let count = |n: u64| {
        if n >= sockit::service::chat::COUNT_CAP {
            "99+".to_owned()
        } else {
            n.to_string()
        }
    };
    let mut s = format!(
        "{}  {} unread",
        c.with.as_deref().unwrap_or(&c.room),
        count(c.unread)
    );
    if c.mentions > 0 {
        s.push_str(&format!(", {} mentioned you", count(c.mentions)));
    }
    if c.ts > 0 {
        s.push_str(&format!(", last {}", super::utc(c.ts / 1000)));
    }
    s
}

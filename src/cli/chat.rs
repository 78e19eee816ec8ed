//! `sockit chat`, `say`, `history`: the chat rooms from the command line,
//! as the account `sockit login` stored for the server.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use sockit::client::chat::{CatchUp, ChatConn, Incoming};
use sockit::client::credentials::Credentials;
use sockit::net::Endpoint;
use sockit::wire::{ChatMessage, ChatReply, ChatRequest, Frame};
use tokio::sync::mpsc;

use super::chat_term::{Input, Output};

/// A ping this often keeps a quiet connection under the server's idle
/// timeout (5 minutes by default).
const KEEPALIVE: Duration = Duration::from_secs(60);

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Arguments of `sockit chat`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Type a line to say it in the current room. Commands:
  /join ROOM   join (and switch to) a room      /leave [ROOM]  leave a room
  /rooms       list rooms                       /who [ROOM]    who is in a room
  /history [N] the last N messages (20)         /quit          leave
  /join @NAME  a direct conversation with the account NAME (also --room @NAME)
  /edit SEQ TEXT  edit your message SEQ          /delete SEQ    delete it
  /search WORDS   search the rooms you can read  /topic [TEXT]  show or set the topic
Incoming messages print above the line you are typing. If the connection
drops or the server restarts, it reconnects and shows what was said meanwhile.
When stdin is not a terminal, each input line is sent and each message
received is printed (--json: one JSON object per line); it exits at the end
of input once every message is confirmed, or stays with --stay.
Log in first: sockit login --user NAME.

Examples:
  sockit chat
  sockit chat tcp://10.0.0.5:7878 --room ops
  echo 'deploy done' | sockit chat --room ops
  sockit chat --room ops --json --stay < /dev/null      a bot's feed
  sockit chat --server tcp://10.0.0.5:7878,tcp://10.0.0.6:7878 --room ops
      two nodes of a cluster, tried in turn; when one dies, chat falls over to
      the other and catches up from the last message it saw")]
pub struct ChatArgs {
    #[command(flatten)]
    server: super::server_addr::ServerArgs,
    /// The room to join first.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// Print one JSON object per event instead of text.
    #[arg(long)]
    json: bool,
    /// Without a terminal: keep printing after the input ends.
    #[arg(long)]
    stay: bool,
    /// Give up connecting after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit say`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The server is the first word when it is written as an address (tcp://,
tls://, unix://) and more words follow, else --server, else $SOCKIT_SERVER,
else tcp://127.0.0.1:7878.

Examples:
  sockit say --room ops 'backup finished'
  sockit say tcp://10.0.0.5:7878 --room lobby hello --json
  sockit say --server tcp://10.0.0.5:7878 --server tcp://10.0.0.6:7878 --room ops done
      the first node that answers; one line on stderr if it fell over"
)]
pub struct SayArgs {
    /// The framed server (tcp://, tls:// or unix://); repeat it (or give a
    /// comma list) for several nodes, tried in turn [default:
    /// $SOCKIT_SERVER, else tcp://127.0.0.1:7878].
    #[arg(long, value_name = "ADDR")]
    server: Vec<super::server_addr::ServerList>,
    /// The room.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// Print the confirmation as JSON.
    #[arg(long)]
    json: bool,
    /// The message (several words are joined with spaces).
    #[arg(required = true)]
    text: Vec<String>,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

/// Arguments of `sockit history`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockit history --room ops -n 50
  sockit history --room lobby --after 120 --json     everything after message 120
  sockit history --room lobby --before 120 -n 50     scroll back: the 50 before message 120")]
pub struct HistoryArgs {
    #[command(flatten)]
    server: super::server_addr::ServerArgs,
    /// The room.
    #[arg(long, short, default_value = "lobby")]
    room: String,
    /// How many of the last messages.
    #[arg(short = 'n', long, default_value_t = 20)]
    last: usize,
    /// Instead: every message after this number.
    #[arg(long, value_name = "SEQ", conflicts_with = "before")]
    after: Option<u64>,
    /// Scroll back: the last `-n` messages numbered below SEQ (the first
    /// seq of the page printed before).
    #[arg(long, value_name = "SEQ")]
    before: Option<u64>,
    /// One JSON object per message.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: super::tls_opts::ClientTlsArgs,
}

pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

/// Prints a server refusal and returns exit status 1, or passes the error up.
pub(super) fn refused(e: sockit::client::ClientError) -> anyhow::Result<ExitCode> {
    match e {
        sockit::client::ClientError::Server { message, .. } => {
            eprintln!("sockit: {message}");
            Ok(ExitCode::from(super::exit::REFUSED))
        }
        e => Err(e.into()),
    }
}

/// Runs `sockit say`.
pub async fn say(a: SayArgs) -> anyhow::Result<ExitCode> {
    let (servers, words) = super::chat_edit::servers_and_words(&a.server, &a.text)?;
    let mut conn = connect(&a.tls, servers, TIMEOUT).await?;
    let text = words.join(" ");
    let sent = async {
        conn.request(ChatRequest::Join {
            room: a.room.clone(),
        })
        .await?;
        conn.request(ChatRequest::Send {
            room: a.room.clone(),
            text,
            key: Some(idempotency_key()),
        })
        .await
    };
    match sent.await {
        Ok(ChatReply::Send {
            room,
            seq,
            ts,
            text,
        }) if a.json => {
            println!(
                "{}",
                serde_json::json!({"room": room, "seq": seq, "ts": ts, "text": text})
            );
        }
        Ok(ChatReply::Send { room, seq, .. }) => println!("sent to {room} as message {seq}"),
        Ok(other) => anyhow::bail!("unexpected reply: {other:?}"),
        Err(e) => return refused(e),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `sockit history`.
pub async fn history(a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let mut conn = connect(&a.tls, a.server.resolve()?, TIMEOUT).await?;
    let req = ChatRequest::History {
        room: a.room.clone(),
        last: a.after.is_none().then_some(a.last),
        after: a.after,
        before: a.before,
        epoch: None,
    };
    let (messages, more) = match conn.request(req).await {
        Ok(ChatReply::History { messages, more, .. }) => (messages, more),
        Ok(other) => anyhow::bail!("unexpected reply: {other:?}"),
        Err(e) => return refused(e),
    };
    for m in &messages {
        if a.json {
            println!("{}", serde_json::to_string(m)?);
        } else {
            println!("{} {}", super::utc(m.ts / 1000), line(m, Some(&m.room)));
        }
    }
    match messages.first() {
        // Pages going back in time tell where the next one starts.
        Some(first) if more && a.after.is_none() && !a.json => eprintln!(
            "older messages exist: sockit history --room {} --before {}",
            a.room, first.seq
        ),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Connects to the first of `servers` that answers, as the account
/// `sockit login` stored, and says so when it fell over to another node.
pub(super) async fn connect(
    tls: &super::tls_opts::ClientTlsArgs,
    servers: Vec<Endpoint>,
    timeout: Duration,
) -> anyhow::Result<ChatConn> {
    let servers = super::server_addr::with_trust(tls, servers).await?;
    let conn = ChatConn::connect(&Credentials::from_env()?, &servers, timeout).await?;
    if let Some(line) = conn.fell_over() {
        eprintln!("sockit: {line}");
    }
    Ok(conn)
}

/// `<name> text` (`* name edited #12: text` for an edit or delete), with
/// `[room] ` in front unless it is `current`.
pub(super) fn line(m: &ChatMessage, current: Option<&str>) -> String {
    let said = if m.is_change() {
        format!("* {} {}", m.name, m.shown())
    } else {
        format!("<{}> {}", m.name, m.shown())
    };
    if current == Some(m.room.as_str()) {
        said
    } else {
        format!("[{}] {said}", m.room)
    }
}

/// Runs `sockit chat`.
pub async fn chat(a: ChatArgs) -> anyhow::Result<ExitCode> {
    let timeout = super::seconds("--timeout", a.timeout, true)?;
    let mut conn = connect(&a.tls, a.server.resolve()?, timeout).await?;
    let tty = std::io::stdin().is_terminal() && !a.json;
    let (tx, mut input) = mpsc::channel(64);
    let mut out = if tty {
        super::chat_term::interactive(tx, conn.user())?
    } else {
        super::chat_term::piped(tx, a.json)
    };
    let mut ui = Ui {
        current: a.room.clone(),
        pending: HashMap::new(),
        input_done: false,
        stay: a.stay,
    };
    match conn
        .request(ChatRequest::Join {
            room: a.room.clone(),
        })
        .await
    {
        Ok(reply) if a.json => out.reply(&reply, None),
        Ok(_) => out.notice(&format!(
            "joined {} as {}; /help for commands",
            a.room,
            conn.user()
        )),
        Err(e) => {
            out.error(&e.to_string());
            return Ok(ExitCode::from(super::exit::REFUSED));
        }
    }
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        if ui.input_done && ui.pending.is_empty() && !ui.stay {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            got = input.recv(), if !ui.input_done => match got {
                Some(Input::Line(l)) => {
                    if !ui.command(&mut conn, &mut out, l.trim_end()).await {
                        return Ok(ExitCode::SUCCESS);
                    }
                    out.resume();
                }
                Some(Input::Eof) | None => ui.input_done = true,
            },
            got = conn.next() => match got {
                Ok(Some(incoming)) => ui.show(&mut out, incoming),
                Ok(None) | Err(_) => {
                    for text in ui.pending.drain().map(|(_, t)| t) {
                        out.error(&format!("not confirmed before the connection dropped: {text}"));
                    }
                    reconnect(&mut conn, &mut out, &ui.current).await;
                }
            },
            _ = keepalive.tick() => {
                let _ = conn.send_frame(Frame::new("ping")).await;
            }
        }
    }
}

/// Reconnects with backoff until it works, then shows what was missed.
async fn reconnect(conn: &mut ChatConn, out: &mut Output, current: &str) {
    out.status("connection lost; reconnecting");
    let mut wait = Duration::from_millis(250);
    loop {
        match conn.reconnect().await {
            Ok(CatchUp { missed, reset }) => {
                for room in &reset {
                    out.status(&format!(
                        "the history of {room} was reset while away; showing its latest messages"
                    ));
                }
                for m in &missed {
                    out.message(m, &line(m, Some(current)));
                }
                if let Some(line) = conn.fell_over() {
                    out.status(&line);
                }
                out.status(&format!(
                    "reconnected to {}; {} message(s) while away",
                    conn.server(),
                    missed.len()
                ));
                return;
            }
            Err(e) => {
                out.error(&format!("{e}; retrying in {} ms", wait.as_millis()));
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The chat screen's state.
struct Ui {
    /// Where plain lines go.
    current: String,
    /// Messages sent and not yet confirmed, by request id.
    pending: HashMap<u64, String>,
    /// stdin ended.
    input_done: bool,
    /// Keep running after stdin ends.
    stay: bool,
}

impl Ui {
    /// Handles one input line; false to quit.
    async fn command(&mut self, conn: &mut ChatConn, out: &mut Output, l: &str) -> bool {
        let (cmd, arg) = l.split_once(' ').map_or((l, ""), |(c, a)| (c, a.trim()));
        let req = match cmd {
            "" => return true,
            "/quit" | "/exit" => return false,
            "/help" => {
                out.notice(
                    "/join ROOM, /leave [ROOM], /rooms, /who [ROOM], /history [N], \
                     /edit SEQ TEXT, /delete SEQ, /search WORDS, /quit",
                );
                return true;
            }
            "/join" if !arg.is_empty() => {
                self.current = arg.to_lowercase();
                ChatRequest::Join {
                    room: arg.to_owned(),
                }
            }
            "/leave" => ChatRequest::Leave {
                room: self.room_or(arg),
            },
            "/rooms" => ChatRequest::Rooms {},
            "/who" => ChatRequest::Who {
                room: self.room_or(arg),
            },
            "/history" => ChatRequest::History {
                room: self.current.clone(),
                last: Some(arg.parse().unwrap_or(20)),
                after: None,
                before: None,
                epoch: None,
            },
            "/topic" => ChatRequest::Topic {
                room: self.current.clone(),
                topic: (!arg.is_empty()).then(|| arg.trim_start_matches('-').to_owned()),
            },
            "/edit" | "/delete" | "/search" => {
                match super::chat_edit::command(cmd, arg, &self.current) {
                    Ok(req) => req,
                    Err(usage) => {
                        out.error(&usage);
                        return true;
                    }
                }
            }
            "/nick" | "/login" => {
                out.notice("you speak as your account; use `sockit login --user NAME` to switch");
                return true;
            }
            c if c.starts_with('/') && !c.starts_with("//") => {
                out.error(&format!("unknown command {c}; /help lists them"));
                return true;
            }
            // "//text" sends "/text".
            _ => {
                let text = l
                    .strip_prefix('/')
                    .filter(|t| t.starts_with('/'))
                    .unwrap_or(l);
                let req = ChatRequest::Send {
                    room: self.current.clone(),
                    text: text.to_owned(),
                    key: Some(idempotency_key()),
                };
                match conn.send(&req).await {
                    Ok(id) => {
                        self.pending.insert(id, text.to_owned());
                    }
                    Err(e) => out.error(&format!("not sent ({e}): {text}")),
                }
                return true;
            }
        };
        if let Err(e) = conn.send(&req).await {
            out.error(&format!("not sent: {e}"));
        }
        true
    }

    fn room_or(&self, arg: &str) -> String {
        if arg.is_empty() {
            self.current.clone()
        } else {
            arg.to_owned()
        }
    }

    /// Shows one reply or event.
    fn show(&mut self, out: &mut Output, incoming: Incoming) {
        let current = Some(self.current.as_str());
        match incoming {
            Incoming::Message(m) => out.message(&m, &line(&m, current)),
            Incoming::Presence { room, notice } => out.presence(&room, &notice),
            Incoming::Error { id, code, message } => {
                let text = id.and_then(|id| self.pending.remove(&id));
                out.refused(&code, &message, text.as_deref());
            }
            Incoming::Reply(id, reply) => {
                if matches!(reply, ChatReply::Send { .. }) {
                    self.pending.remove(&id);
                }
                out.reply(&reply, current);
            }
        }
    }
}

/// The text form of a reply; `None` for replies shown as nothing.
pub fn reply_text(reply: &ChatReply, current: Option<&str>) -> Vec<String> {
    match reply {
        ChatReply::Join { room, .. } => vec![format!("* joined {room}")],
        ChatReply::Leave { room } => vec![format!("* left {room}")],
        ChatReply::Send { .. } => vec![],
        ChatReply::Rooms { rooms } => {
            let list: Vec<_> = rooms
                .iter()
                .map(|r| format!("{} ({})", r.name, r.members))
                .collect();
            vec![format!("* rooms: {}", list.join(", "))]
        }
        ChatReply::Who { room, members } => {
            let list: Vec<_> = members
                .iter()
                .map(|m| {
                    if m.door == "frame" {
                        m.name.clone()
                    } else {
                        format!("{} ({})", m.name, m.door)
                    }
                })
                .collect();
            vec![format!("* in {room}: {}", list.join(", "))]
        }
        ChatReply::History { messages, .. } => messages.iter().map(|m| line(m, current)).collect(),
        ChatReply::Typing { .. } | ChatReply::Read { .. } | ChatReply::Unread { .. } => vec![],
        ChatReply::Dm { room, with, .. } => vec![format!("* talking with {with} in {room}")],
        ChatReply::Dms { dms } => dms.iter().map(super::dm::dm_line).collect(),
        // One's own changes are not pushed back: the reply shows them.
        ChatReply::Edit(m) | ChatReply::Delete(m) => vec![line(m, current)],
        ChatReply::Topic { room, topic } if topic.is_empty() => {
            vec![format!("* {room} has no topic")]
        }
        ChatReply::Topic { room, topic } => vec![format!("* topic of {room}: {topic}")],
        ChatReply::Search { results, before } => super::chat_edit::search_lines(results, *before),
    }
}

/// A fresh idempotency key for one `chat.send` (32 random hex digits): a
/// resend of the same request after a lost reply is then answered with
/// the original message instead of posting it twice.
pub(super) fn idempotency_key() -> String {
    let mut b = [0u8; 16];
    // Without OS randomness, a time-based key still differs per message.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = t.to_le_bytes();
    }
    hex::encode(b)
}

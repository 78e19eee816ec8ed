//! The line chat door, for nc and telnet users: `sockit serve --chat-lines`.
//!
//! The conversation:
//! ```text
//! * welcome to sockit chat; what is your name? (or /login NAME PASSWORD)
//! bob
//! * ~bob joined lobby
//! * you are ~bob in lobby; /help lists the commands
//! hello all                       (sent to lobby; not echoed back)
//! <alice> hi bob                  (others' messages)
//! * ~carol joined lobby           (notices start with "* ")
//! ```
//! Guests are shown `~name`, registered users (after `/login`) by their
//! account name. Every line ends in CRLF, as telnet expects.
//!
//! Limits: lines of at most [`LINE_MAX`] bytes (or the server's
//! `--max-line` if smaller); a longer one is refused with a notice and the
//! rest of it discarded as it arrives. A line that is not UTF-8 is refused
//! with a notice (not converted). The member's queue is the hub's, and the
//! hub's cut-off policy applies: a member that falls [`queue_capacity`]
//! events behind is told so and disconnected. A member with no input and
//! no output for the idle time (default [`CHAT_IDLE_TIMEOUT`]) is
//! disconnected with a notice.
//!
//! [`queue_capacity`]: crate::service::chat::ChatConfig::queue_capacity

mod command;
mod io;
mod reader;
mod render;
mod session;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::net::{AsyncStream, Stream};
use crate::service::Services;
use crate::service::chat::{DEFAULT_MAX_MESSAGE_BYTES, DoorKind, Identity, Session};

pub use command::{Command, HELP, HISTORY_DEFAULT, parse};
pub(crate) use io::notice;
pub use io::{FINAL_WRITE_STALL, WRITE_STALL};
pub use reader::{Input, LineSplitter};
pub use render::{LINES, Lines, collapse_blanks};

use io::{LineIo, Wake};

/// Longest line the door accepts, in bytes: the hub's largest message plus
/// room for a command word, so any message the hub would take fits, and a
/// thousand members each sending an endless line cost at most ~5 MB.
pub const LINE_MAX: usize = DEFAULT_MAX_MESSAGE_BYTES + 512;

/// Default idle timeout of chat doors: an hour with nothing typed and
/// nothing said in the member's rooms. Chat users sit quietly for long
/// stretches, far beyond the five minutes that suit echo peers; an hour
/// still lets abandoned connections go the same day.
pub const CHAT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// What a peer over the per-IP connection cap reads before the server
/// closes: one notice line, as the door speaks.
pub const BUSY_LINE: &[u8] =
    b"* too many connections from your address; close some and try again\r\n";

/// Names a peer may try before we hang up: plenty for typos, few enough
/// that a script cannot use the prompt to probe which names are accounts.
const NAME_TRIES: usize = 10;

/// Settings of the line chat door.
#[derive(Debug, Clone)]
pub struct ChatLineOpts {
    /// The services: the chat hub (required) and accounts (for `/login`).
    pub services: Services,
    /// Disconnect after this long with no input and no output.
    pub idle: Duration,
    /// Longest line accepted (capped at [`LINE_MAX`]).
    pub max_line: usize,
    /// Cancelled at shutdown: members are told and disconnected.
    pub shutdown: CancellationToken,
}

/// Serves one line-chat connection until the peer quits, closes, idles,
/// is cut off, or the server stops.
pub async fn chat_lines_stream(conn: Stream, opts: ChatLineOpts) -> std::io::Result<()> {
    // NODELAY: chat lines are small writes that must leave at once.
    let _ = conn.set_nodelay();
    let peer = conn.peer_ip();
    chat_lines_on(conn, peer, opts).await
}

/// [`chat_lines_stream`] on any byte stream; `peer` is the address logins
/// are throttled by.
pub async fn chat_lines_on<S: AsyncStream + 'static>(
    conn: S,
    peer: Option<std::net::IpAddr>,
    opts: ChatLineOpts,
) -> std::io::Result<()> {
    let mut io = LineIo::new(
        conn,
        peer,
        opts.max_line.min(LINE_MAX),
        opts.idle,
        opts.shutdown.clone(),
    );
    let Some(hub) = opts.services.chat.clone() else {
        return io.close_with("chat is not enabled on this server").await;
    };
    io.notice("welcome to sockit chat; what is your name? (or /login NAME PASSWORD)")
        .await?;
    let mut tries = 0;
    let (session, inbox) = loop {
        let who = match io.next(None).await? {
            Wake::Input(input) => match name_line(&mut io, &opts, input).await? {
                NameLine::Quit => return io.close_with("bye").await,
                NameLine::Again => continue,
                NameLine::Who(who) => who,
            },
            Wake::Event(_) => continue, // no inbox yet
            Wake::Eof => return Ok(()),
            Wake::Idle => return io.close_with("idle for too long; bye").await,
            Wake::Shutdown => return io.close_with("the server is shutting down; bye").await,
        };
        match Session::open_from(hub.clone(), who, DoorKind::Line, io.peer_ip()).await {
            Ok(opened) => break opened,
            Err(e) => {
                tries += 1;
                if tries >= NAME_TRIES {
                    return io.close_with(&format!("{e}; too many tries, bye")).await;
                }
                io.notice(&format!("{e}; what is your name?")).await?;
            }
        }
    };
    tracing::debug!(name = %session.name(), "line chat member in");
    session::Chat::new(io, session, opts.services.accounts.clone())
        .run(inbox)
        .await
}

/// What a line typed at the name prompt asks for.
enum NameLine {
    /// Connect under this identity.
    Who(Identity),
    /// Ask again (after a notice).
    Again,
    /// Leave.
    Quit,
}

/// Understands a line typed at the name prompt: a guest name, `/login`,
/// `/quit` or `/help`.
async fn name_line(
    io: &mut LineIo,
    opts: &ChatLineOpts,
    input: Input,
) -> std::io::Result<NameLine> {
    let line = match input {
        Input::Line(l) => l,
        other => {
            io.notice(&refusal(&other, io.max_line())).await?;
            return Ok(NameLine::Again);
        }
    };
    match parse(&line) {
        Ok(Command::Say(name)) => Ok(NameLine::Who(Identity::Guest(name.trim().to_owned()))),
        Ok(Command::Blank) => {
            io.notice("what is your name?").await?;
            Ok(NameLine::Again)
        }
        Ok(Command::Quit) => Ok(NameLine::Quit),
        Ok(Command::Help) => {
            io.notices(HELP).await?;
            io.notice("first, what is your name?").await?;
            Ok(NameLine::Again)
        }
        Ok(Command::Login { name, password }) => {
            match session::login(
                opts.services.accounts.as_ref(),
                io.peer_ip(),
                name,
                password,
            )
            .await
            {
                Ok(account) => Ok(NameLine::Who(Identity::Registered(account))),
                Err(why) => {
                    io.notice(&format!("{why}; what is your name?")).await?;
                    Ok(NameLine::Again)
                }
            }
        }
        Ok(_) => {
            io.notice("pick a name first (or /login NAME PASSWORD)")
                .await?;
            Ok(NameLine::Again)
        }
        Err(why) => {
            io.notice(&why).await?;
            Ok(NameLine::Again)
        }
    }
}

/// The notice for input that is not a usable line.
pub(crate) fn refusal(input: &Input, max: usize) -> String {
    match input {
        Input::TooLong => {
            format!("line refused: longer than {max} bytes; its rest is discarded")
        }
        Input::BadUtf8 => "line refused: not valid UTF-8; set your terminal to UTF-8".to_owned(),
        Input::Line(_) => String::new(),
    }
}

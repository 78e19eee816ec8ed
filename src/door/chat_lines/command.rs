//! What a line typed into the line chat door means: a message, or one of
//! the `/commands`. Pure parsing; the door carries them out.

/// Messages `/history` shows when no count is given: a screenful.
pub const HISTORY_DEFAULT: usize = 20;

/// One typed line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Text for the current room (`//text` sends `/text` literally).
    Say(&'a str),
    /// Nothing but spaces: ignored.
    Blank,
    /// `/join ROOM`: move to ROOM.
    Join(&'a str),
    /// `/rooms`: list rooms.
    Rooms,
    /// `/who`: list the current room's members.
    Who,
    /// `/history [N] [more | before SEQ]`: N messages of the current room.
    History(usize, Scroll),
    /// `/nick NAME`: take a guest name.
    Nick(&'a str),
    /// `/login NAME PASSWORD`: speak as a registered user.
    Login {
        /// The account's name.
        name: &'a str,
        /// Its password (the rest of the line, so it may hold spaces).
        password: &'a str,
    },
    /// `/quit`: leave.
    Quit,
    /// `/help`: list the commands.
    Help,
    /// `/msg NAME TEXT`: a direct message to the account NAME, staying
    /// where one is.
    Msg {
        /// The account.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/query NAME`: move to the direct conversation with NAME, so plain
    /// lines go there (`/join ROOM` goes back).
    Query(&'a str),
    /// `/search WORDS`: messages holding the words, in every room.
    Search(&'a str),
    /// `/edit SEQ TEXT`: replace the text of one's own message SEQ here.
    Edit(u64, &'a str),
    /// `/delete SEQ`: delete one's own message SEQ here.
    Delete(u64),
    /// `/topic [TEXT]`: show this room's topic, or set it (`/topic -`
    /// clears it).
    Topic(&'a str),
}

/// Which N messages `/history` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// The last ones (`/history [N]`).
    Latest,
    /// Those just before the oldest one the last `/history` showed
    /// (`/history [N] more`): paging back one screen at a time.
    Older,
    /// Those numbered below SEQ (`/history [N] before SEQ`).
    Before(u64),
}

/// The `/history` usage line.
const HISTORY_USAGE: &str = "usage: /history [N] [more | before SEQ], N a number of messages";

/// The `/help` text, one notice per line.
pub const HELP: &[&str] = &[
    "commands:",
    "  /join ROOM            move to ROOM (created on first join)",
    "  /rooms                list rooms",
    "  /who                  who is in this room, on every door",
    "  /history [N]          the last N messages here (default 20)",
    "  /history [N] more     the N before those shown last (scroll back)",
    "  /history [N] before SEQ  the N numbered below SEQ",
    "  /msg NAME TEXT        a direct message to the account NAME (shown *NAME* text)",
    "  /query NAME           talk with NAME: plain lines go to them until /join",
    "  /nick NAME            change your guest name (shown ~NAME)",
    "  /login NAME PASSWORD  speak as a registered user (sent in clear: use a trusted network)",
    "  /search WORDS         find messages in every room (newest first)",
    "  /edit SEQ TEXT        change your message SEQ here (logged in, 10 minutes)",
    "  /delete SEQ           delete your message SEQ here (logged in, 10 minutes)",
    "  /topic [TEXT]         show this room's topic, or set it (logged in; - clears)",
    "  /quit                 leave",
    "  //text                send a line that starts with /",
    "any other line is a message to the room you are in",
];

/// Understands one line; `Err` holds the notice explaining the mistake.
pub fn parse(line: &str) -> Result<Command<'_>, String> {
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(if line.trim().is_empty() {
            Command::Blank
        } else {
            Command::Say(line)
        });
    };
    if rest.starts_with('/') {
        return Ok(Command::Say(rest));
    }
    let (word, args) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim_start()),
        None => (rest, ""),
    };
    let one_arg = |usage: &str| -> Result<&str, String> {
        let arg = args.trim_end();
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            Err(format!("usage: {usage}"))
        } else {
            Ok(arg)
        }
    };
    match word.to_ascii_lowercase().as_str() {
        "join" | "j" => one_arg("/join ROOM").map(Command::Join),
        "rooms" | "list" => Ok(Command::Rooms),
        "who" | "names" => Ok(Command::Who),
        "history" => history_args(args),
        "nick" => one_arg("/nick NAME").map(Command::Nick),
        "login" => match args.split_once(char::is_whitespace) {
            Some((name, password)) if !password.trim_start().is_empty() => Ok(Command::Login {
                name,
                password: password.trim_start(),
            }),
            _ => Err("usage: /login NAME PASSWORD".to_owned()),
        },
        "msg" | "m" => match args.split_once(char::is_whitespace) {
            Some((to, text)) if !text.trim().is_empty() => Ok(Command::Msg {
                to,
                text: text.trim_start(),
            }),
            _ => Err("usage: /msg NAME TEXT".to_owned()),
        },
        "query" | "q" => one_arg("/query NAME").map(Command::Query),
        "quit" | "exit" | "bye" => Ok(Command::Quit),
        "help" | "?" => Ok(Command::Help),
        "search" | "find" if !args.trim().is_empty() => Ok(Command::Search(args.trim_end())),
        "search" | "find" => Err("usage: /search WORDS".to_owned()),
        "edit" => match args.split_once(char::is_whitespace) {
            Some((seq, text)) if !text.trim().is_empty() => seq_arg(seq)
                .map(|seq| Command::Edit(seq, text.trim()))
                .ok_or_else(|| "usage: /edit SEQ NEW TEXT".to_owned()),
            _ => Err("usage: /edit SEQ NEW TEXT".to_owned()),
        },
        "topic" => Ok(Command::Topic(args.trim_end())),
        "delete" => seq_arg(args.trim_end())
            .map(Command::Delete)
            .ok_or_else(|| "usage: /delete SEQ".to_owned()),
        _ => Err(format!(
            "unknown command /{}; /help lists the commands (//text sends a line starting with /)",
            shorten(word)
        )),
    }
}

/// `/history`'s arguments: `[N] [more | before SEQ]`.
fn history_args(args: &str) -> Result<Command<'static>, String> {
    let mut words = args.split_whitespace().peekable();
    let n = match words.peek().map(|w| w.parse::<usize>()) {
        Some(Ok(n)) => {
            words.next();
            n
        }
        _ => HISTORY_DEFAULT,
    };
    let scroll = match (words.next(), words.next(), words.next()) {
        (None, _, _) => Scroll::Latest,
        (Some(w), None, _) if w.eq_ignore_ascii_case("more") => Scroll::Older,
        (Some(w), Some(seq), None) if w.eq_ignore_ascii_case("before") => {
            Scroll::Before(seq.parse().map_err(|_| HISTORY_USAGE.to_owned())?)
        }
        _ => return Err(HISTORY_USAGE.to_owned()),
    };
    Ok(Command::History(n, scroll))
}

/// A message number, as `/history` shows them (`12` or `#12`).
fn seq_arg(s: &str) -> Option<u64> {
    s.strip_prefix('#').unwrap_or(s).parse().ok()
}

/// The start of a word, so an unknown 4 KiB "command" is not echoed whole.
fn shorten(word: &str) -> String {
    const SHOWN: usize = 20;
    let clean = crate::service::chat::sanitize(word);
    match clean.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}...", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_messages() {
        assert_eq!(
            parse("/msg bob hi there").unwrap(),
            Command::Msg {
                to: "bob",
                text: "hi there"
            }
        );
        assert_eq!(parse("/query bob").unwrap(), Command::Query("bob"));
        assert_eq!(parse("/q bob").unwrap(), Command::Query("bob"));
        assert!(parse("/msg bob").is_err());
        assert!(parse("/msg bob   ").is_err());
        assert!(parse("/query").is_err());
        assert!(parse("/query a b").is_err());
    }

    #[test]
    fn messages_and_commands() {
        assert_eq!(parse("hello /join x"), Ok(Command::Say("hello /join x")));
        assert_eq!(parse("//join x"), Ok(Command::Say("/join x")));
        assert_eq!(parse("   "), Ok(Command::Blank));
        assert_eq!(parse("/join #dev "), Ok(Command::Join("#dev")));
        assert_eq!(parse("/JOIN dev"), Ok(Command::Join("dev")));
        assert_eq!(
            parse("/history"),
            Ok(Command::History(HISTORY_DEFAULT, Scroll::Latest))
        );
        assert_eq!(parse("/history 5"), Ok(Command::History(5, Scroll::Latest)));
        assert_eq!(
            parse("/history more"),
            Ok(Command::History(20, Scroll::Older))
        );
        assert_eq!(
            parse("/history 7 MORE"),
            Ok(Command::History(7, Scroll::Older))
        );
        assert_eq!(
            parse("/history 3 before 41"),
            Ok(Command::History(3, Scroll::Before(41)))
        );
        assert_eq!(parse("/nick zoë"), Ok(Command::Nick("zoë")));
        assert_eq!(
            parse("/login alice open sesame"),
            Ok(Command::Login {
                name: "alice",
                password: "open sesame"
            })
        );
        assert_eq!(parse("/search disk full"), Ok(Command::Search("disk full")));
        assert_eq!(
            parse("/edit #12 fixed it"),
            Ok(Command::Edit(12, "fixed it"))
        );
        assert_eq!(parse("/delete 12"), Ok(Command::Delete(12)));
        for q in ["/quit", "/rooms", "/who", "/help"] {
            assert!(parse(q).is_ok(), "{q}");
        }
    }

    #[test]
    fn mistakes_get_a_usage_line() {
        for bad in [
            "/join",
            "/join a b",
            "/nick",
            "/history x",
            "/history before",
            "/history before x",
            "/history 3 more 4",
            "/login alice",
            "/frob",
            "/search ",
            "/edit 12",
            "/edit x text",
            "/delete",
            "/delete 1 2",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with("usage") || e.starts_with("unknown"), "{e}");
        }
        let e = parse(&format!("/{}", "x".repeat(5000))).unwrap_err();
        assert!(e.len() < 200, "{e}");
    }
}

//! Where `sockit chat` reads lines and prints events: an editing line on a
//! terminal (rustyline, with history; incoming messages print above the
//! line being typed, so it is never garbled), or plain stdin/stdout for
//! scripts (text, or one JSON object per line).

use std::sync::mpsc as std_mpsc;

use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use serde_json::json;
use sockit::wire::{ChatMessage, ChatReply};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// One thing from the user.
#[derive(Debug)]
pub enum Input {
    /// A line, without its line end.
    Line(String),
    /// End of input (Ctrl-D, Ctrl-C at the prompt, or the pipe closed).
    Eof,
}

enum Sink {
    /// The terminal, through rustyline's printer.
    Printer(Box<dyn ExternalPrinter + Send>),
    /// Plain stdout (data) and stderr (notices).
    Plain,
}

/// The chat screen.
pub struct Output {
    sink: Sink,
    json: bool,
    /// Tells the line editor it may read the next line: it waits, so that
    /// the terminal is never left in raw mode when we quit.
    resume: Option<std_mpsc::Sender<()>>,
}

/// Reads lines on a terminal with editing and history.
pub fn interactive(tx: mpsc::Sender<Input>, user: &str) -> anyhow::Result<Output> {
    let mut rl = DefaultEditor::new()?;
    let printer = rl.create_external_printer()?;
    let (resume, go) = std_mpsc::channel::<()>();
    let prompt = format!("{user}> ");
    std::thread::Builder::new()
        .name("chat-input".into())
        .spawn(move || {
            loop {
                let input = match rl.readline(&prompt) {
                    Ok(line) => {
                        let _ = rl.add_history_entry(line.as_str());
                        Input::Line(line)
                    }
                    Err(ReadlineError::Interrupted | ReadlineError::Eof) | Err(_) => Input::Eof,
                };
                let eof = matches!(input, Input::Eof);
                if tx.blocking_send(input).is_err() || eof || go.recv().is_err() {
                    return;
                }
            }
        })?;
    Ok(Output {
        sink: Sink::Printer(Box::new(printer)),
        json: false,
        resume: Some(resume),
    })
}

/// Reads lines from a pipe.
pub fn piped(tx: mpsc::Sender<Input>, json: bool) -> Output {
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(Input::Line(line)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Input::Eof).await;
    });
    Output {
        sink: Sink::Plain,
        json,
        resume: None,
    }
}

impl Output {
    /// Lets the line editor read the next line.
    pub fn resume(&mut self) {
        if let Some(r) = &self.resume {
            let _ = r.send(());
        }
    }

    fn data(&mut self, text: String) {
        match &mut self.sink {
            Sink::Printer(p) => {
                let _ = p.print(text + "\n");
            }
            Sink::Plain => println!("{text}"),
        }
    }

    fn side(&mut self, text: String) {
        match &mut self.sink {
            Sink::Printer(p) => {
                let _ = p.print(text + "\n");
            }
            Sink::Plain => eprintln!("{text}"),
        }
    }

    /// A note from sockit itself.
    pub fn notice(&mut self, text: &str) {
        if !self.json {
            self.side(format!("* {text}"));
        }
    }

    /// A line about the connection that shows in every mode (with --json
    /// on stderr, beside the data): which node a reconnect fell over to.
    pub fn status(&mut self, text: &str) {
        self.side(format!("* {text}"));
    }

    /// Something went wrong locally.
    pub fn error(&mut self, text: &str) {
        self.side(format!("* error: {text}"));
    }

    /// A message from someone else (or from history).
    pub fn message(&mut self, m: &ChatMessage, line: &str) {
        if self.json {
            let mut v = serde_json::to_value(m).unwrap_or_default();
            v["type"] = "chat.message".into();
            self.data(v.to_string());
        } else {
            self.data(line.to_owned());
        }
    }

    /// Someone joined, left, was cut off or renamed.
    pub fn presence(&mut self, room: &str, notice: &str) {
        if self.json {
            self.data(json!({"type": "chat.presence", "room": room, "notice": notice}).to_string());
        } else {
            self.side(format!("* {notice}"));
        }
    }

    /// The server refused a request (`text`: the message it concerned).
    pub fn refused(&mut self, code: &str, message: &str, text: Option<&str>) {
        if self.json {
            let v = json!({"type": "error", "code": code, "message": message, "text": text});
            self.data(v.to_string());
        } else {
            match text {
                Some(t) => self.side(format!("* not sent ({message}): {t}")),
                None => self.side(format!("* {message}")),
            }
        }
    }

    /// The answer to a command.
    pub fn reply(&mut self, reply: &ChatReply, current: Option<&str>) {
        if self.json {
            if let Ok(v) = serde_json::to_string(reply) {
                self.data(v);
            }
            return;
        }
        for line in super::chat::reply_text(reply, current) {
            if line.starts_with("* ") {
                self.side(line);
            } else {
                self.data(line);
            }
        }
    }
}

//! `--exec` and `--sh-exec`: a program's stdin and stdout attached to a
//! connection, as ncat's `-e` and `-c` do. One process per connection.
//!
//! The child's ends of the pipes stay blocking (each end of a pipe is its
//! own open file), so the program sees ordinary stdin and stdout; only our
//! ends are registered with tokio.

use std::io;
use std::pin::Pin;
use std::process::{Child, Stdio};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::net::unix::pipe;
use tokio::task::JoinSet;

use super::{PipeError, PipeOpts, stream};
use crate::net::{Bound, Conn, Stream};

/// How long a program may take to exit once its connection is over and
/// its stdin closed, before it is killed: enough to flush and exit
/// cleanly, short enough that `listen -k` does not pile up stragglers.
pub const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How often a finished session checks whether its program has exited.
const REAP_POLL: Duration = Duration::from_millis(20);

/// The program attached to each connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `--exec "PROG ARGS..."`: split on whitespace and run directly, with
    /// no shell, so no quoting, globbing or expansion happens.
    Argv(Vec<String>),
    /// `--sh-exec "COMMAND"`: run by `/bin/sh -c`.
    Shell(String),
}

impl Program {
    /// Parses `--exec`'s value: a program and its arguments, split on
    /// whitespace.
    pub fn exec(cmd: &str) -> Result<Program, PipeError> {
        let argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        if argv.is_empty() {
            return Err(PipeError::Exec {
                cmd: cmd.to_string(),
                io: io::Error::new(io::ErrorKind::InvalidInput, "no program given"),
            });
        }
        Ok(Program::Argv(argv))
    }

    /// The command line as the user wrote it, for messages.
    pub fn describe(&self) -> String {
        match self {
            Program::Argv(argv) => argv.join(" "),
            Program::Shell(cmd) => format!("sh -c {cmd}"),
        }
    }

    /// Starts the program with piped stdin and stdout (stderr is ours).
    /// Returns it with the writer to its stdin (shut down to close) and
    /// the reader of its stdout.
    pub(super) fn spawn(&self) -> Result<Spawned, PipeError> {
        let mut cmd = match self {
            Program::Argv(argv) => {
                let mut c = std::process::Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
            Program::Shell(line) => {
                let mut c = std::process::Command::new("/bin/sh");
                c.arg("-c").arg(line);
                c
            }
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let fail = |io| PipeError::Exec {
            cmd: self.describe(),
            io,
        };
        let mut child = cmd.spawn().map_err(fail)?;
        let ends = (child.stdin.take(), child.stdout.take());
        // From here on, dropping `running` kills the program.
        let running = Running { child };
        match ends {
            (Some(i), Some(o)) => {
                let stdin = pipe::Sender::from_owned_fd(i.into()).map_err(fail)?;
                let stdout = pipe::Receiver::from_owned_fd(o.into()).map_err(fail)?;
                Ok((running, Closable(Some(stdin)), stdout))
            }
            _ => Err(fail(io::Error::other("the program's pipes are missing"))),
        }
    }
}

/// A started program, the writer to its stdin, the reader of its stdout.
pub(super) type Spawned = (Running, Closable<pipe::Sender>, pipe::Receiver);

/// A started program. Dropping it kills the program if it still runs.
pub(super) struct Running {
    child: Child,
}

impl Running {
    /// Gives the program (whose pipes the caller has dropped)
    /// [`EXIT_GRACE`] to exit, then kills it; reaps it either way.
    pub(super) async fn finish(mut self) {
        let deadline = tokio::time::Instant::now() + EXIT_GRACE;
        while tokio::time::Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    tracing::debug!(%status, "program exited");
                    return;
                }
                Ok(None) => tokio::time::sleep(REAP_POLL).await,
                Err(_) => break,
            }
        }
        tracing::debug!("program still running after the connection ended; killing it");
        // Drop kills and reaps.
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            // SIGKILL cannot be caught, so this wait is brief.
            let _ = self.child.wait();
        }
    }
}

/// A writer that `shutdown` closes for real (a pipe's own shutdown leaves
/// the descriptor open, so the reader would never see EOF).
pub(super) struct Closable<W>(pub(super) Option<W>);

impl<W: AsyncWrite + Unpin> AsyncWrite for Closable<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.0.as_mut() {
            Some(w) => Pin::new(w).poll_write(cx, buf),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.0.as_mut() {
            Some(w) => Pin::new(w).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0 = None;
        Poll::Ready(Ok(()))
    }
}

/// The session options for a program: it, not the peer's close, decides
/// when its side is done, so the session waits for its stdout to end.
fn program_opts(opts: &PipeOpts) -> PipeOpts {
    PipeOpts {
        end_on_peer_eof: false,
        peer_eof_grace: None,
        ..opts.clone()
    }
}

/// `connect --exec`: runs the program on a dialed connection.
pub(super) async fn attach(
    conn: Stream,
    addr: &str,
    opts: &PipeOpts,
    program: &Program,
) -> Result<(), PipeError> {
    let (running, mut stdin, mut stdout) = program.spawn()?;
    let r = stream::session(conn, addr, &program_opts(opts), &mut stdout, &mut stdin).await;
    drop((stdin, stdout));
    running.finish().await;
    r
}

/// `listen --exec`: runs the program on one accepted client (after TLS,
/// when listening on tls://).
pub(super) async fn serve_one(
    conn: Conn,
    peer: &str,
    opts: &PipeOpts,
    program: &Program,
) -> Result<(), PipeError> {
    let (running, mut stdin, mut stdout) = program.spawn()?;
    let r = stream::serve_client(conn, peer, &program_opts(opts), &mut stdout, &mut stdin).await;
    drop((stdin, stdout));
    running.finish().await;
    r
}

/// `listen -k --exec`: a program per client, at most `max_conns` at once
/// (later clients wait in the kernel's backlog), until dropped.
pub(super) async fn serve_many(
    bound: Bound,
    opts: &PipeOpts,
    program: &Program,
) -> Result<(), PipeError> {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            r = stream::accept_permitted(&bound, opts), if tasks.len() < opts.max_conns.max(1) => match r {
                Ok((conn, peer)) => {
                    tracing::debug!(%peer, "connection");
                    let (opts, program) = (opts.clone(), program.clone());
                    tasks.spawn(async move {
                        let res = serve_one(conn, &peer, &opts, &program).await;
                        (peer, res)
                    });
                }
                Err(e) => super::keep_open::accept_failed(e).await,
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((peer, res)) = done {
                    match res {
                        Ok(()) => tracing::debug!(%peer, "client left"),
                        // A program that cannot start will not start for the
                        // next client either.
                        Err(e @ PipeError::Exec { .. }) => return Err(e),
                        Err(e) => tracing::warn!("{e}"),
                    }
                }
            }
        }
    }
}

//! One table of exit statuses for every command (printed by `sockit
//! --help` and the README), and the one-line error text `main` prints.

use sockit::client::ClientError;
use sockit::client::credentials::CredentialsError;

/// Refused by the server (wrong password, quota, busy, ...) or a check
/// failed.
pub const REFUSED: u8 = 1;
/// Usage or local error.
pub const USAGE: u8 = 2;
/// Not logged in, or the stored session was refused.
pub const NOT_LOGGED_IN: u8 = 3;
/// Cannot connect, or the connection dropped.
pub const NETWORK: u8 = 7;

/// The status for an error that ended a command.
pub fn status(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(CredentialsError::NotLoggedIn(_) | CredentialsError::Refused { .. }) =
            cause.downcast_ref::<CredentialsError>()
        {
            return NOT_LOGGED_IN;
        }
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            if is_network(c) {
                return NETWORK;
            }
        }
        // A pipe's connection that failed once made (reset, refused by
        // ICMP, timed out) carries its io::Error beside its words.
        if let Some(sockit::client::pipe::PipeError::Peer { io, .. }) =
            cause.downcast_ref::<sockit::client::pipe::PipeError>()
        {
            if is_network_io(io) {
                return NETWORK;
            }
        }
        // Refused, reset, unreachable or silent (a dial error carries its
        // io::Error as its source); not a certificate that fails its check,
        // which a rerun would not fix (a local error, 2).
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(is_network_io)
        {
            return NETWORK;
        }
    }
    USAGE
}

/// True when a client error means the network failed, not the server
/// refusing: a rerun may succeed.
pub fn is_network(e: &ClientError) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ClientError::Dial(d) => is_network_io(&d.io),
        ClientError::Closed => true,
        ClientError::Frame(sockit::wire::FrameError::Io(io)) => {
            is_network_io(io) || io.kind() == K::UnexpectedEof
        }
        _ => false,
    }
}

/// True for the I/O errors of a network that failed: refused, reset,
/// unreachable, timed out.
fn is_network_io(io: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        io.kind(),
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::NotConnected
            | K::TimedOut
            | K::HostUnreachable
            | K::NetworkUnreachable
    )
}

/// An error and its causes on one line, each cause once: a cause whose
/// text the line already holds (a wrapper that prints its source, a
/// library message repeated) is left out.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // "connection refused; is a server listening there?" already says
        // what the OS's "Connection refused (os error 111)" would.
        let bare = text
            .split(" (os error ")
            .next()
            .unwrap_or(&text)
            .to_lowercase();
        if bare.is_empty() || line.to_lowercase().contains(&bare) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockit::net::DialError;

    #[test]
    fn causes_appear_once() {
        let io = std::io::Error::other("cannot resolve the host (no such name); check the name");
        let e = anyhow::Error::new(DialError {
            addr: "tcp://nohost.invalid:1".into(),
            hint: io.to_string(),
            io,
        });
        let line = one_line(&e);
        assert_eq!(
            line,
            "connecting to tcp://nohost.invalid:1: cannot resolve the host (no such name); check the name"
        );
        // A name that does not resolve is the user's to fix.
        assert_eq!(status(&e), USAGE);
        let io = std::io::Error::from_raw_os_error(111);
        let e = anyhow::Error::new(DialError {
            addr: "tcp://127.0.0.1:1".into(),
            hint: "connection refused; is a server listening there?".into(),
            io,
        });
        assert_eq!(
            one_line(&e),
            "connecting to tcp://127.0.0.1:1: connection refused; is a server listening there?"
        );
        assert_eq!(status(&e), NETWORK);
        let e = anyhow::Error::new(CredentialsError::NotLoggedIn("tcp://h:1".into()));
        assert_eq!(status(&e), NOT_LOGGED_IN);
        assert_eq!(status(&anyhow::anyhow!("bad flag")), USAGE);
    }
}

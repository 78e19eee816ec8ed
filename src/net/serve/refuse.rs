//! Refusing a peer: a reset for those the access lists deny, and for
//! those over a cap a one-line refusal (inside TLS on a tls:// listener)
//! read during a short, bounded linger.

use std::time::Duration;

use bytes::Bytes;

use super::Shared;
use crate::net::conn::Conn;
use crate::net::tls::ServerTls;

/// Refused peers that may linger at once while their one-line refusal is
/// read (see [`crate::net::stream::linger_close`]); past this, refused peers are closed
/// at once, so a flood of them holds few descriptors.
pub(super) const REFUSALS_LINGERING: usize = 64;

/// How long a refused peer may take to read its refusal and close.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// How long a refused peer of a tls:// listener has for the handshake
/// inside which it is told it was refused: short, since it holds no
/// connection slot, only one of the few lingering turns.
const REFUSAL_HANDSHAKE: Duration = Duration::from_secs(2);

/// What a peer over the per-IP cap is told before the close: the door's
/// own words, inside TLS on a tls:// listener (a TLS client reading
/// plaintext would report a corrupt record, not the refusal).
#[derive(Clone, Debug, Default)]
pub struct Busy {
    /// The door's refusal (an error frame, a line); empty: say nothing.
    msg: Bytes,
    /// The listener's TLS acceptor, when it speaks TLS.
    tls: Option<ServerTls>,
}

impl Busy {
    /// Says `msg`, inside TLS when `tls` is given.
    pub fn new(msg: Bytes, tls: Option<ServerTls>) -> Busy {
        Busy { msg, tls }
    }
}

/// Closes a connection the access lists deny with a reset (RST), not a
/// FIN: a client then reports "connection reset" instead of reading a
/// normal end of an empty reply and exiting as if all went well.
pub(super) fn reset(conn: Conn) {
    if let Conn::Tcp(s) | Conn::Proxied(s, _) = &conn {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    }
}

/// Tells a refused peer `busy` (if the socket takes it at once; over TLS
/// after a short handshake) and closes, lingering briefly so the message
/// is read rather than lost to a reset, unless too many refused peers
/// linger already. Holds no connection slot.
pub(super) fn refuse(conn: Conn, busy: &Busy, shared: &Shared) {
    if busy.msg.is_empty() {
        return;
    }
    if let Some(tls) = busy.tls.clone() {
        let Ok(turn) = shared.lingering.clone().try_acquire_owned() else {
            return;
        };
        let msg = busy.msg.clone();
        shared.tracker.spawn(async move {
            let _turn = turn;
            let told = async {
                use tokio::io::AsyncWriteExt;
                let mut s = tls.accept(conn).await?;
                s.write_all(&msg).await?;
                s.shutdown().await
            };
            let _ = tokio::time::timeout(REFUSAL_HANDSHAKE, told).await;
        });
        return;
    }
    if conn.try_write(&busy.msg).is_err() {
        return;
    }
    let Ok(turn) = shared.lingering.clone().try_acquire_owned() else {
        return;
    };
    shared.tracker.spawn(async move {
        let _turn = turn;
        let mut conn = conn;
        let _ = crate::net::stream::linger_close(&mut conn, REFUSAL_LINGER).await;
    });
}

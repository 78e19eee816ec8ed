//! The floor for framed pings on tokio: the least a server built like
//! sockit (one single-threaded runtime, one task per connection, readiness
//! plus non-blocking reads) can spend per ping. It answers the one frame
//! `sockit bench --proto frame-ping` sends, `{"type":"ping"}`, and nothing
//! else; no limits, no idle timeout, no shutdown, no logging.
//!
//! `bench/framed_compare.sh` runs it beside sockit and Redis: sockit's
//! distance from it is what its features cost per request, and its
//! distance from Redis is what tokio costs.
//!
//! Run: `cargo run --release --example ping_floor -- 127.0.0.1:7900`

use std::io::{self, Read};

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};

const PING: &[u8] = b"\0\0\0\x0f{\"type\":\"ping\"}";
const PONG: &[u8] = b"\0\0\0\x0f{\"type\":\"pong\"}";

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7900".to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("ping_floor listening on {}", listener.local_addr()?);
        loop {
            let (conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = serve(conn).await;
            });
        }
    })
}

async fn serve(conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 4096];
    let mut held = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        conn.readable().await?;
        // A short read means the socket is drained: tell tokio, and skip
        // the read that would only say "would block" (as sockit does).
        let mut got = 0;
        let read = conn.try_io(Interest::READABLE, || {
            let n = (&*SockRef::from(&conn)).read(&mut buf[held..])?;
            if n > 0 && held + n < buf.len() {
                got = n;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        let n = match read {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(_) if got > 0 => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        held += n;
        let mut at = 0;
        out.clear();
        while buf[at..held].starts_with(PING) {
            out.extend_from_slice(PONG);
            at += PING.len();
        }
        if buf[at..held].len() >= PING.len() {
            return Err(io::Error::other("not the ping frame this floor answers"));
        }
        buf.copy_within(at..held, 0);
        held -= at;
        let mut rest = &out[..];
        while !rest.is_empty() {
            match conn.try_write(rest) {
                Ok(w) => rest = &rest[w..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.writable().await?,
                Err(e) => return Err(e),
            }
        }
    }
}

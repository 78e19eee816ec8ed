//! Endpoints, listeners, connections (TLS included) and the loops that serve them.

pub mod addr;
pub mod conn;
pub mod dial;
pub mod idle;
pub mod limits;
pub mod listen;
pub mod serve;
pub mod shard;
pub mod tls;

pub use addr::{AddrError, Endpoint, HostPort, Transport};
pub use conn::{Conn, Relayed, StdConn};
pub use dial::{DialError, dial, dial_udp, dial_with};
pub use idle::{IdleTimer, Wake, wait_input};
pub use limits::raise_fd_limit;
pub use listen::{BindError, Bound, bind};
pub use serve::{Shared, StreamListener, serve_datagrams, serve_stream};
pub use shard::Shards;

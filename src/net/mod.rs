//! Endpoints, listeners, connections (TLS included) and the loops that serve them.

pub mod acl;
pub mod addr;
pub mod budget;
pub mod conn;
pub mod dial;
pub mod forwarded;
pub mod gate;
pub mod idle;
pub mod limits;
pub mod listen;
pub mod proxy_header;
pub mod refusals;
pub mod serve;
pub mod stream;
pub mod tls;
pub mod tuning;
pub mod usage;
pub mod watched;

pub use acl::{Acl, AclError, Cidr};
pub use addr::{AddrError, Endpoint, HostPort, Transport};
pub use budget::{Charge, MemBudget, Spent};
pub use conn::{Conn, StdConn};
pub use dial::{DialError, dial, dial_udp, dial_with};
pub use gate::{Gate, GateRules, PeerSlot, Refused};
pub use idle::{IdleTimer, Wake, poll_quiet};
pub use limits::{PeerKey, raise_fd_limit};
pub use listen::{BindError, Bound, bind};
pub use serve::{
    Busy, Shared, StreamListener, serve_datagrams, serve_stream, serve_stream_http,
    serve_stream_with,
};
pub use stream::{
    AsyncStream, Stream, linger_close, poll_read_pooled, write_all_within, write_buf_within,
};
pub use tuning::shard::Shards;
pub use watched::{Activity, Watched, watch};

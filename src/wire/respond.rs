//! The core request handler: a pure function from request frame to reply frame.

use super::frame::Frame;
use super::limits::Limits;
use super::message::{CoreRequest, Hello, HelloReply, MessageError, PROTOCOL_VERSION, Ping, Reply};

/// Lowest protocol version this server accepts from a client.
pub const MIN_PROTOCOL_VERSION: u64 = 1;

/// What the server tells clients about itself in its `hello` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Server software and version, e.g. `sockit/0.1.0`.
    pub server: String,
    /// Limits the server's decoder enforces, so clients can size frames.
    pub limits: Limits,
    /// Message families offered; clients check this before using one.
    pub features: Vec<String>,
}

impl ServerInfo {
    /// Info for this build of sockit with the given limits and the core
    /// features (`echo`, `ping`); doors that serve more families push them
    /// onto `features`.
    pub fn new(limits: Limits) -> Self {
        Self {
            server: format!("sockit/{}", env!("CARGO_PKG_VERSION")),
            limits,
            features: vec!["echo".to_owned(), "ping".to_owned()],
        }
    }
}

impl Default for ServerInfo {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// Answers one core request: `hello`, `ping`, `echo`, or an `error` frame.
///
/// Pure (no I/O, no clock, no connection state), so the framed door just
/// loops decode -> `respond` -> encode, and tests call it directly. Every
/// reply carries the request's `"id"` when it had a valid one. Errors
/// returned here never require closing the connection.
pub fn respond(req: &Frame, info: &ServerInfo) -> Frame {
    match CoreRequest::from_frame(req) {
        Ok(core) => answer_core(core, req, info),
        Err(e) => e.to_frame(req.id()),
    }
}

/// Answers `core`, already read out of `req` (whose id and, for an echo,
/// whole content the reply carries).
pub fn answer_core(core: CoreRequest, req: &Frame, info: &ServerInfo) -> Frame {
    let id = req.id();
    match core {
        CoreRequest::Hello(hello) => match negotiate(&hello) {
            Ok(version) => Reply::Hello(HelloReply {
                version,
                server: info.server.clone(),
                limits: info.limits,
                features: info.features.clone(),
            })
            .to_frame(id),
            Err(e) => e.to_frame(id),
        },
        CoreRequest::Ping(Ping { ts }) => Reply::Pong(Ping { ts }).to_frame(id),
        // The request already has type "echo", its id and every other
        // field; cloning shares the body rather than copying it.
        CoreRequest::Echo {} => req.clone(),
    }
}

/// Picks the version both sides speak: the lower of the two highest.
fn negotiate(hello: &Hello) -> Result<u64, MessageError> {
    if hello.version < MIN_PROTOCOL_VERSION {
        return Err(MessageError::UnsupportedVersion(hello.version));
    }
    Ok(hello.version.min(PROTOCOL_VERSION))
}

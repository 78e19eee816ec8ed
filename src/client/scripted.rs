//! A scripted frame-protocol server on a loopback socket (port 0), for the
//! client's unit tests: the test writes what the server says.

use std::future::Future;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

use super::Client;
use crate::net::Conn;
use crate::wire::FrameCodec;

/// The server side of one scripted connection.
pub(crate) type ServerSide = Framed<TcpStream, FrameCodec>;

/// A client connected to a server that runs `script` on its one
/// connection; the handle ends when the script does.
pub(crate) async fn scripted<F, Fut>(script: F) -> (Client, JoinHandle<()>)
where
    F: FnOnce(ServerSide) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        script(Framed::new(sock, FrameCodec::new())).await;
    });
    let sock = TcpStream::connect(addr).await.unwrap();
    (Client::from_conn(Conn::from(sock).into()), server)
}

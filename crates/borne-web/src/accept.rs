//! The accept loop both HTTP servers (the dashboard and the reference receiver) run: each
//! connection is handed to the server's own per-connection code (hyper, TLS, fault injection);
//! a failed accept (say, out of file descriptors) is logged and retried, never ends the server.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections until `shutdown` resolves, calling `on_connection` for each (it spawns
/// the connection's task). `server` names the server in the logs.
pub async fn until_shutdown(
    listener: TcpListener,
    server: &'static str,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_connection: impl FnMut(TcpStream, SocketAddr),
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => on_connection(stream, peer),
                Err(e) => {
                    tracing::warn!(server, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut shutdown => return,
        }
    }
}

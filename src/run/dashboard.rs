//! Serving the manager's dashboard on a runtime, beside the kiosk or alone (`borne dashboard`).

use crate::app::App;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A dashboard being served, until `stop`.
pub struct Served {
    pub bound: SocketAddr,
    task: JoinHandle<()>,
    shutdown: oneshot::Sender<()>,
}

impl Served {
    /// Stops accepting, lets the connections in progress end, and waits for the server.
    pub fn stop(self, runtime: &Runtime) {
        let _ = self.shutdown.send(());
        let _ = runtime.block_on(self.task);
    }
}

/// Binds the dashboard on `listen` and serves it on `runtime` until stopped.
pub fn start(app: &App, listen: SocketAddr, runtime: &Runtime) -> Result<Served> {
    let tls = match &app.config.dashboard.tls {
        Some((cert, key)) => Some(crate::dashboard::tls_acceptor(cert, key)?),
        None => None,
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .with_context(|| format!("tableau de bord : impossible d'écouter sur {listen}"))?;
    let bound = listener.local_addr()?;
    let state = crate::dashboard::Dashboard::new(app.clone(), app.config.dashboard.session_idle, tls.is_some());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = runtime.spawn(crate::dashboard::serve(listener, state, tls, async {
        let _ = stopped.await;
    }));
    Ok(Served { bound, task, shutdown })
}

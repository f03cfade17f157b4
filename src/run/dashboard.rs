//! Serving the manager's dashboard on a runtime, beside the kiosk or alone (`borne dashboard`).
//! Beside the kiosk, a dashboard whose password is set later (`borne passwd` on a running
//! kiosk) opens within `PASSWORD_POLL`, with no restart.

use crate::app::App;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often a kiosk without a manager password looks for one.
pub const PASSWORD_POLL: Duration = Duration::from_secs(2);

/// A dashboard being served (or waiting for its password), until `stop`.
pub struct Served {
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

/// Binds the dashboard on `listen`.
async fn bind(app: &App, listen: SocketAddr) -> Result<(tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>)> {
    let tls = match &app.config.dashboard.tls {
        Some((cert, key)) => Some(crate::dashboard::tls_acceptor(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("tableau de bord : impossible d'écouter sur {listen}"))?;
    Ok((listener, tls))
}

fn serve(
    app: &App,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stopped: oneshot::Receiver<()>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let state = crate::dashboard::Dashboard::new(app.clone(), app.config.dashboard.session_idle, tls.is_some());
    crate::dashboard::serve(listener, state, tls, async {
        let _ = stopped.await;
    })
}

/// Binds the dashboard on `listen` and serves it on `runtime` until stopped; returns the
/// address it listens on.
pub fn start(app: &App, listen: SocketAddr, runtime: &Runtime) -> Result<(SocketAddr, Served)> {
    let (listener, tls) = runtime.block_on(bind(app, listen))?;
    let bound = listener.local_addr()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = runtime.spawn(serve(app, listener, tls, stopped));
    Ok((bound, Served { task, shutdown }))
}

/// Waits on `runtime` for a manager password to be set, then serves the dashboard on the
/// configured address until stopped.
pub fn start_once_password_set(app: &App, runtime: &Runtime) -> Served {
    let (shutdown, mut stopped) = oneshot::channel::<()>();
    let app = app.clone();
    let task = runtime.spawn(async move {
        let mut store = None;
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                _ = tokio::time::sleep(PASSWORD_POLL) => {}
            }
            let looked = {
                let app = app.clone();
                tokio::task::spawn_blocking(move || -> Result<(bool, crate::store::Store)> {
                    let store = match store {
                        Some(store) => store,
                        None => crate::store::Store::open_reader(&app.data_dir)?,
                    };
                    Ok((store.manager_password_is_set()?, store))
                })
            };
            store = match looked.await {
                Ok(Ok((false, kept))) => Some(kept),
                Ok(Ok((true, _))) => break,
                Ok(Err(e)) => {
                    tracing::warn!("dashboard: password not read: {e:#}");
                    None
                }
                Err(e) => {
                    tracing::warn!("dashboard: password not read: {e}");
                    None
                }
            };
        }
        match bind(&app, app.config.dashboard.listen).await {
            Ok((listener, tls)) => {
                tracing::info!(listen = %app.config.dashboard.listen, "manager password set: dashboard served");
                serve(&app, listener, tls, stopped).await;
            }
            Err(e) => tracing::error!("dashboard not served: {e:#}"),
        }
    });
    Served { task, shutdown }
}

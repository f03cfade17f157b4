//! The uploader on its own thread, with its own store connection and runtime, so it never
//! blocks the visitor's screen.

use crate::app::App;
use crate::store::Integrity;
use anyhow::{Context, Result};
use std::sync::Arc;
use tokio::sync::{Notify, watch};

/// The uploader running on its own thread.
pub struct UploaderHandle {
    shutdown: watch::Sender<bool>,
    /// Wakes the uploader at once (after a visitor's commit).
    pub nudge: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UploaderHandle {
    pub fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The uploader of `app`'s configuration, on its own store connection.
pub fn uploader(app: &App) -> Result<crate::uplink::Uploader<crate::uplink::http::HttpTransport>> {
    let upload = app.config.upload.as_ref().context("l'envoi n'est pas activé (upload.enabled)")?;
    let transport = crate::uplink::http::HttpTransport::new(upload).map_err(anyhow::Error::msg)?;
    let store = app.open_store(Integrity::Trust)?;
    Ok(crate::uplink::Uploader::new(store, transport, upload, &app.config.device_id, Box::new(app.clock()))?
        .with_published_survey(app.config.clone()))
}

/// Starts the uploader on a thread of its own, with a two-worker runtime: the HTTP connection
/// progresses on one worker while the next batch is built on the other. When its configuration
/// file changes while the platform refuses the kiosk's identity, the uploader starts again with
/// the file as it is now (a typo in `device_id` or a JDMA id fixed without a restart); a file
/// that no longer validates is said, and the uploader goes on as it was.
pub fn spawn(app: &App) -> Result<UploaderHandle> {
    let uploader = uploader(app)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let nudge = Arc::new(Notify::new());
    let thread_nudge = nudge.clone();
    let mut app = app.clone();
    let thread = std::thread::Builder::new().name("uploader".into()).spawn(move || {
        let runtime = match super::runtime::two_worker_runtime("uploader") {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "uploader runtime");
                return;
            }
        };
        let config_file = match &app.config.source {
            crate::config::ConfigSource::File(path) => Some(path.clone()),
            crate::config::ConfigSource::Embedded => None,
        };
        let mut running = uploader;
        loop {
            let Some(upload) = app.config.upload.clone() else { return };
            let ended = runtime.block_on(running.run(
                shutdown_rx.clone(),
                thread_nudge.clone(),
                upload.token_file.clone(),
                config_file.clone(),
                upload.heartbeat_interval,
            ));
            if ended == crate::uplink::Ended::Shutdown {
                return;
            }
            let Some(path) = &config_file else { return };
            // The file as it is now, if it still validates and uploads; else as it was.
            let changed = match crate::config::load_file(path) {
                Ok(config) if config.upload.is_some() => Some(App { config, data_dir: app.data_dir.clone() }),
                Ok(_) => {
                    tracing::error!("the changed configuration turns uploads off: going on as it was until a restart");
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "the changed configuration is refused: going on as it was");
                    None
                }
            };
            let rebuilt = changed.and_then(|next| match self::uploader(&next) {
                Ok(rebuilt) => Some((next, rebuilt)),
                Err(e) => {
                    tracing::error!(error = %e, "uploader not started with the changed configuration: going on as it was");
                    None
                }
            });
            match rebuilt {
                Some((next, rebuilt)) => {
                    tracing::info!(device_id = %next.config.device_id, "uploader started again with the changed configuration");
                    (app, running) = (next, rebuilt);
                }
                None => match self::uploader(&app) {
                    Ok(same) => running = same,
                    Err(e) => {
                        tracing::error!(error = %e, "uploader stopped");
                        return;
                    }
                },
            }
        }
    })?;
    Ok(UploaderHandle { shutdown, nudge, thread: Some(thread) })
}

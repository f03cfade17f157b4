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
    let labels = crate::uplink::labels_of(&app.config.survey);
    Ok(crate::uplink::Uploader::new(store, transport, upload, &app.config.device_id, Box::new(app.clock()))?
        .with_labels(labels)
        .with_published_survey(app.config.clone()))
}

/// Starts the uploader on a thread of its own, with a two-worker runtime: the HTTP connection
/// progresses on one worker while the next batch is built on the other.
pub fn spawn(app: &App) -> Result<UploaderHandle> {
    let upload = app.config.upload.clone().context("l'envoi n'est pas activé (upload.enabled)")?;
    let uploader = uploader(app)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let nudge = Arc::new(Notify::new());
    let thread_nudge = nudge.clone();
    let thread = std::thread::Builder::new().name("uploader".into()).spawn(move || {
        let runtime = match super::runtime::two_worker_runtime("uploader") {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "uploader runtime");
                return;
            }
        };
        runtime.block_on(uploader.run(shutdown_rx, thread_nudge, upload.token_file.clone(), upload.heartbeat_interval));
    })?;
    Ok(UploaderHandle { shutdown, nudge, thread: Some(thread) })
}

//! What every command and every long-running part needs: the validated configuration, where the
//! data lives, and the clock the configuration asks for. Low in the layering, so that the
//! dashboard, the uploader and the commands all take the same context without importing each
//! other.

use crate::clock::SystemClock;
use crate::config::Config;
use crate::store::{Integrity, Store};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The validated configuration and where the data lives.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub data_dir: PathBuf,
}

impl App {
    pub fn new(config: Config, data_dir_override: Option<&Path>) -> App {
        let data_dir = config.resolve_data_dir(data_dir_override);
        App { config, data_dir }
    }

    /// Opens the review store, saying on standard error when a damaged one was set aside.
    pub fn open_store(&self, integrity: Integrity) -> Result<Store> {
        let (store, report) = Store::open(&self.data_dir, integrity)?;
        if let Some(aside) = report.moved_aside {
            eprintln!(
                "ATTENTION : la base était endommagée ; elle a été mise de côté sous {} et une base neuve a été créée.",
                aside.display()
            );
        }
        Ok(store)
    }

    /// The system clock, with the synchronisation source the configuration names.
    pub fn clock(&self) -> SystemClock {
        SystemClock { source: self.config.clock_source }
    }
}

//! The kiosk's housekeeping: timestamps corrected once the clock is synchronised, old comments
//! erased.

use crate::app::App;
use crate::store::Store;
use anyhow::Result;

pub fn maintain(app: &App, store: &mut Store) -> Result<()> {
    let clock = app.clock();
    let reading = crate::clock::Clock::read(&clock);
    let corrected = store.correct_unsynced(&reading, |at| crate::clock::Clock::offset_at(&clock, at))?;
    if corrected > 0 {
        tracing::info!(corrected, "timestamps corrected after clock synchronisation");
    }
    let erased = store.erase_old_comments(reading.now_utc, app.config.comment_retention_days)?;
    if erased > 0 {
        tracing::info!(erased, "old comments erased");
    }
    Ok(())
}

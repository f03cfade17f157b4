//! The interface each engine implements for the reviews themselves: batches and heartbeats
//! from the kiosks, the sites and kiosks registered, the counts and the export. Over plain
//! types ([`super::model`]) only; the engines own their SQL.

use super::model::{Device, DeviceAuth, ExportReview, Result, Site, Stored, Totals};
use crate::validate::ParsedBatch;
use borne_model::wire::Heartbeat;
use chrono::{DateTime, NaiveDate, Utc};
use std::future::Future;

/// A page of exported reviews goes to the sink; an error from it stops the export.
pub type ExportSink<'a> = &'a mut (dyn FnMut(Vec<ExportReview>) -> std::io::Result<()> + Send);

pub trait Reviews {
    /// The device of a token's hash, when known and not revoked.
    fn authenticate(&self, hash: &str) -> impl Future<Output = Result<Option<DeviceAuth>>> + Send;
    /// Stores a validated batch once: its idempotency record, new reviews, answers and counts
    /// in one transaction.
    fn store_batch(
        &self,
        batch: &ParsedBatch,
        site_id: Option<&str>,
        body_sha256: &str,
        received_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Stored>> + Send;
    fn store_heartbeat(&self, hb: &Heartbeat, received_at: DateTime<Utc>) -> impl Future<Output = Result<()>> + Send;
    /// Housekeeping: months ahead (where partitioned) and expired idempotency records.
    fn maintain(&self, now: DateTime<Utc>) -> impl Future<Output = Result<()>> + Send;
    fn add_site(&self, site: &Site) -> impl Future<Output = Result<()>> + Send;
    fn sites(&self) -> impl Future<Output = Result<Vec<Site>>> + Send;
    fn add_device(&self, device_id: &str, site_id: &str, hash: &str) -> impl Future<Output = Result<()>> + Send;
    fn devices(&self) -> impl Future<Output = Result<Vec<Device>>> + Send;
    fn revoke_device(&self, device_id: &str) -> impl Future<Output = Result<()>> + Send;
    fn rotate_device(&self, device_id: &str, hash: &str) -> impl Future<Output = Result<()>> + Send;
    fn totals(&self) -> impl Future<Output = Result<Totals>> + Send;
    /// `(site, field code, answer item, count)` rows over the kiosks' local days `[from, to]`,
    /// of `sites` (every site when `None`).
    fn site_counts(
        &self,
        sites: Option<Vec<String>>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<(String, String, i64, i64)>>> + Send;
    /// One site's `(day, field code, answer item, count)` rows, day by day, over the kiosks'
    /// local days `[from, to]` (one read).
    fn site_days(
        &self,
        site: String,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<(NaiveDate, String, i64, i64)>>> + Send;
    /// Reviews received since `since`, oldest first, a page at a time; how many in all.
    fn export(&self, since: Option<DateTime<Utc>>, sink: ExportSink<'_>) -> impl Future<Output = Result<u64>> + Send;
}

//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format: batches by outcome,
//! reviews by result, batch latency, heartbeats, and the database pool.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

pub struct Metrics {
    registry: Registry,
    /// `processed`, `replayed`, `conflict`, `unauthorized`, `forbidden`, `bad_request`,
    /// `too_large`, `unavailable`, `injected`.
    pub batches: Family<Outcome, Counter>,
    /// `accepted`, `duplicate`, `rejected`.
    pub reviews: Family<ResultLabel, Counter>,
    pub batch_seconds: Histogram,
    pub heartbeats: Family<Outcome, Counter>,
    pool_size: Gauge,
    pool_available: Gauge,
    pool_waiting: Gauge,
    /// Reviews bound for JDMA by state (`forwarded`, `pending`, `unsure`, `ambiguous`,
    /// `failed`), over every instance, as of the last minute.
    pub jdma_reviews: Family<StateLabel, Gauge>,
    /// What this instance's forwarding rounds did, by outcome.
    pub jdma_outcomes: Family<Outcome, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("borne_platform");
        let batches = Family::<Outcome, Counter>::default();
        registry.register("batches", "Batch requests by outcome", batches.clone());
        let reviews = Family::<ResultLabel, Counter>::default();
        registry.register("reviews", "Reviews in processed batches, by result", reviews.clone());
        // 1 ms to ~16 s.
        let batch_seconds = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15));
        registry.register("batch_duration_seconds", "Time to validate and store a batch", batch_seconds.clone());
        let heartbeats = Family::<Outcome, Counter>::default();
        registry.register("heartbeats", "Heartbeat requests by outcome", heartbeats.clone());
        let pool_size = Gauge::default();
        registry.register("db_pool_connections", "Database connections open", pool_size.clone());
        let pool_available = Gauge::default();
        registry.register("db_pool_available", "Database connections idle", pool_available.clone());
        let pool_waiting = Gauge::default();
        registry.register("db_pool_waiting", "Requests waiting for a database connection", pool_waiting.clone());
        let jdma_reviews = Family::<StateLabel, Gauge>::default();
        registry.register("jdma_reviews", "Reviews bound for Je donne mon avis, by state", jdma_reviews.clone());
        let jdma_outcomes = Family::<Outcome, Counter>::default();
        registry.register(
            "jdma_outcomes",
            "Outcomes of this instance's calls to Je donne mon avis",
            jdma_outcomes.clone(),
        );
        Metrics {
            registry,
            batches,
            reviews,
            batch_seconds,
            heartbeats,
            pool_size,
            pool_available,
            pool_waiting,
            jdma_reviews,
            jdma_outcomes,
        }
    }

    pub fn batch(&self, outcome: &str) {
        self.batches.get_or_create(&Outcome { outcome: outcome.into() }).inc();
    }

    pub fn review(&self, result: &str, n: u64) {
        self.reviews.get_or_create(&ResultLabel { result: result.into() }).inc_by(n);
    }

    pub fn heartbeat(&self, outcome: &str) {
        self.heartbeats.get_or_create(&Outcome { outcome: outcome.into() }).inc();
    }

    /// The outbox's counts, summed over the sites.
    pub fn jdma_counts(&self, counts: &[crate::storage::forwarding::JdmaCounts]) {
        let sum = |f: fn(&crate::storage::forwarding::JdmaCounts) -> u64| counts.iter().map(f).sum::<u64>() as i64;
        for (state, n) in [
            ("forwarded", sum(|c| c.forwarded)),
            ("pending", sum(|c| c.pending - c.unsure)),
            ("unsure", sum(|c| c.unsure)),
            ("ambiguous", sum(|c| c.ambiguous)),
            ("failed", sum(|c| c.failed)),
        ] {
            self.jdma_reviews.get_or_create(&StateLabel { state: state.into() }).set(n);
        }
    }

    /// One forwarding round's outcomes.
    pub fn jdma_round(&self, round: &crate::jdma::Round) {
        for (outcome, n) in [
            ("forwarded", round.forwarded),
            ("unsure", round.unsure),
            ("ambiguous", round.ambiguous),
            ("failed", round.failed),
            ("pending", round.pending),
        ] {
            if n > 0 {
                self.jdma_outcomes.get_or_create(&Outcome { outcome: outcome.into() }).inc_by(n as u64);
            }
        }
    }

    /// The text exposition, with the pool's gauges read now.
    pub fn render(&self, pool: (usize, usize, usize)) -> String {
        self.pool_size.set(pool.0 as i64);
        self.pool_available.set(pool.1 as i64);
        self.pool_waiting.set(pool.2 as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

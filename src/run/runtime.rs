//! The Tokio runtimes the kiosk's parts run on, sized for a Pi.

/// A Tokio runtime with two workers, named after what runs on it: one worker makes progress on
/// the network while the other does store work, and neither takes more of a Pi. Blocking work
/// (store reads, exports) gets a few threads, not Tokio's default 512: each thread that
/// allocates keeps an allocator arena of its own.
pub fn two_worker_runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name(name)
        .enable_all()
        .build()
}

/// Blocks until Ctrl+C (SIGINT).
pub fn until_interrupted() -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(tokio::signal::ctrl_c())
}

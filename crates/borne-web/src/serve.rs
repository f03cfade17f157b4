//! The bounded HTTP/1 server both web servers run (the kiosk's dashboard and the platform): a
//! client can hold a connection only while it makes progress, and a crowd of slow clients
//! cannot lock the next one out.
//!
//! - **Timeouts, by phase of a connection.** Idle (no request under way, before the first one
//!   too): [`Limits::idle`]. Headers (from a request's first byte, or the TLS handshake, to its
//!   last header byte): [`Limits::headers`]. Body (from the handler's first read to the last
//!   byte): [`Limits::body`], in all, whatever the pace (a body trickled a byte a second is cut).
//!   Response: [`Limits::write`] without a byte taken by the client. The handler's own work has
//!   no deadline here (the database has its own).
//! - **A connection cap that sheds the idle and the slow, not the newcomer.** At
//!   [`Limits::max_connections`], a new connection closes the oldest one that is idle or still
//!   sending its request (headers or body); one whose request is being answered is never shed.
//!   A slowloris crowd thus holds at most the cap, and each new client (a kiosk, a health check,
//!   a manager) takes the place of the slowest of them; its request then takes milliseconds,
//!   far less than the crowd needs to come back round.
//! - **The client's address.** From a configured list of trusted proxies only: the PROXY
//!   protocol v2 header HAProxy sends (`send-proxy-v2`), or `X-Forwarded-For` read from the
//!   right, skipping trusted hops ([`ClientAddress`]). Anyone else's word is ignored.
//!
//! Each request carries its [`Peer`] (the client's address as decided above) and its
//! connection's [`Connection`] handle (to drop the connection unanswered: fault injection).

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long each phase of a connection may last, and how many connections are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    /// A request that announces a larger body (`Content-Length`) is answered 413 at once,
    /// without a byte of it read; each route still reads what it reads against its own limit.
    pub max_body: u64,
    pub idle: Duration,
    pub headers: Duration,
    pub body: Duration,
    pub write: Duration,
}

impl Default for Limits {
    /// A kiosk's batch of 1 MiB reaches the platform in well under 60 s even over a poor
    /// mobile link; a browser sends its headers at once.
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_body: 2 * 1024 * 1024,
            idle: Duration::from_secs(30),
            headers: Duration::from_secs(10),
            body: Duration::from_secs(60),
            write: Duration::from_secs(30),
        }
    }
}

/// The client's address, as decided for this connection and request (see [`ClientAddress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

/// Whose word about a client's address is taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAddress {
    /// Addresses (or networks) of the proxies in front: only their connections may carry a
    /// PROXY header or `X-Forwarded-For`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The trusted proxies send a PROXY protocol v2 header first on each connection
    /// (HAProxy's `send-proxy-v2`); a trusted connection without one is closed.
    pub proxy_protocol: bool,
}

impl ClientAddress {
    /// Parses a list of addresses or networks (`10.0.0.0/8`, `127.0.0.1`, `::1`).
    pub fn parse_proxies(items: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
        items
            .iter()
            .map(|item| {
                let item = item.trim();
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("« {item} » n'est ni une adresse IP ni un réseau (10.0.0.0/8)"))
            })
            .collect()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with these headers: the right-most
    /// address of `X-Forwarded-For` that is not a trusted proxy, when `peer` is one (and the
    /// PROXY protocol is not in use: then the connection's own header already said it).
    pub fn of_request(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        if self.proxy_protocol || !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().parse::<IpAddr>().map(canonical))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        hops.into_iter().rev().find(|ip| !self.trusts(*ip)).unwrap_or(peer)
    }
}

/// IPv4 addresses seen through an IPv6 socket are compared as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

const IDLE: u8 = 0;
const HEADERS: u8 = 1;
const HANDLING: u8 = 2;
const BODY: u8 = 3;
const RESPONDING: u8 = 4;
/// Told to close (shed for a newcomer): not to be picked again while it closes.
const SHED: u8 = 5;

/// What one connection is doing, and since when (milliseconds since the server started).
struct Activity {
    phase: AtomicU8,
    since_ms: AtomicU64,
    epoch: Instant,
    /// Requests whose response has not been fully sent yet.
    in_flight: AtomicUsize,
    kill: tokio::sync::Notify,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn set(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// When the current phase runs out, if it can.
    fn deadline(&self, limits: &Limits) -> Option<u64> {
        let since = self.since_ms.load(Ordering::Relaxed);
        let limit = match self.phase.load(Ordering::Relaxed) {
            IDLE => limits.idle,
            HEADERS => limits.headers,
            BODY => limits.body,
            RESPONDING => limits.write,
            _ => return None,
        };
        Some(since + limit.as_millis() as u64)
    }

    /// Idle, or still sending its request: a connection that may be shed for a newcomer.
    fn sheddable(&self) -> bool {
        matches!(self.phase.load(Ordering::Relaxed), IDLE | HEADERS | BODY)
    }
}

/// A request's handle on its connection.
#[derive(Clone)]
pub struct Connection(Arc<Activity>);

impl Connection {
    /// Closes the connection without an answer (fault injection: "the platform committed, the
    /// kiosk never heard").
    pub fn drop_unanswered(&self) {
        self.0.kill.notify_one();
    }
}

/// Connections told to close that may still be held, beyond the cap, before the server stops
/// taking new ones until they have.
const SHED_SLACK: usize = 32;

/// The connections held, to shed the slowest when full.
struct Registry {
    connections: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
    /// Told whenever a connection has ended.
    closed: tokio::sync::Notify,
}

impl Registry {
    fn add(&self, activity: Arc<Activity>, limits: &Limits, server: &'static str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut map = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let closing = map.values().filter(|a| a.phase.load(Ordering::Relaxed) == SHED).count();
        if map.len() - closing >= limits.max_connections {
            let oldest =
                map.values().filter(|a| a.sheddable()).min_by_key(|a| a.since_ms.load(Ordering::Relaxed)).cloned();
            match oldest {
                Some(victim) => {
                    victim.phase.store(SHED, Ordering::Relaxed);
                    victim.kill.notify_one();
                }
                None => tracing::warn!(server, held = map.len(), "every connection is busy answering: none shed"),
            }
        }
        map.insert(id, activity);
        id
    }

    fn remove(&self, id: u64) {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        self.closed.notify_waiters();
    }

    fn len(&self) -> usize {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A stream that marks its connection busy with a request from the request's first byte, and
/// notes each byte the client takes while a response is written.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let _ = self
                .activity
                .phase
                .compare_exchange(IDLE, HEADERS, Ordering::Relaxed, Ordering::Relaxed)
                .map(|_| self.activity.since_ms.store(self.activity.now_ms(), Ordering::Relaxed));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) && self.activity.phase.load(Ordering::Relaxed) == RESPONDING {
            self.activity.since_ms.store(self.activity.now_ms(), Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) && self.activity.phase.load(Ordering::Relaxed) == RESPONDING {
            self.activity.since_ms.store(self.activity.now_ms(), Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body: the connection is in its body phase while the handler waits for bytes.
struct RequestBody<B> {
    inner: B,
    activity: Arc<Activity>,
    started: bool,
    /// Read to its end (or empty from the start).
    read: Arc<std::sync::atomic::AtomicBool>,
}

impl<B> http_body::Body for RequestBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if !self.started {
            self.started = true;
            self.activity.set(BODY);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                self.read.store(true, Ordering::Relaxed);
                self.activity.set(HANDLING);
            }
            Poll::Ready(Some(Err(_))) => self.activity.set(HANDLING),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => {
                self.read.store(true, Ordering::Relaxed);
                self.activity.set(HANDLING);
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body: the connection is in its response phase until the last byte is handed to
/// the socket (or the body is dropped), then idle.
struct ResponseBody {
    inner: Body,
    activity: Arc<Activity>,
    done: bool,
}

impl ResponseBody {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            if self.activity.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
                self.activity.set(IDLE);
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A byte stream a connection may run over (TCP, TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// What turns an accepted TCP stream into the stream HTTP runs over (a TLS handshake); it runs
/// within the headers' deadline.
pub type Handshake =
    Arc<dyn Fn(TcpStream) -> Pin<Box<dyn Future<Output = std::io::Result<Box<dyn Io>>> + Send>> + Send + Sync>;

/// A server: its name in the logs, its limits, whose word on addresses it takes, an optional
/// handshake (TLS).
#[derive(Clone)]
pub struct Server {
    pub name: &'static str,
    pub limits: Limits,
    pub clients: ClientAddress,
    pub handshake: Option<Handshake>,
}

impl Server {
    pub fn new(name: &'static str, limits: Limits, clients: ClientAddress) -> Server {
        Server { name, limits, clients, handshake: None }
    }

    /// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets each
    /// request in flight finish (idle keep-alive connections are closed) for at most `grace`,
    /// and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        app: axum::Router,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) {
        raise_open_files_limit(self.name);
        let registry = Arc::new(Registry {
            connections: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            closed: tokio::sync::Notify::new(),
        });
        let epoch = Instant::now();
        let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
        // Each connection task holds a clone; when all are dropped, every connection has ended.
        let (alive, mut all_ended) = tokio::sync::mpsc::channel::<()>(1);
        let server = Arc::new(self);
        tokio::pin!(shutdown);
        loop {
            // Shed connections close on their next turn; until they have, no more is taken in
            // (a burst of newcomers would otherwise hold many more than the cap at once).
            while registry.len() >= server.limits.max_connections + SHED_SLACK {
                let _ = tokio::time::timeout(Duration::from_millis(20), registry.closed.notified()).await;
            }
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(server = server.name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let activity = Arc::new(Activity {
                phase: AtomicU8::new(IDLE),
                since_ms: AtomicU64::new(epoch.elapsed().as_millis() as u64),
                epoch,
                in_flight: AtomicUsize::new(0),
                kill: tokio::sync::Notify::new(),
            });
            let id = registry.add(activity.clone(), &server.limits, server.name);
            let (registry, server, app) = (registry.clone(), server.clone(), app.clone());
            let (stopping, alive) = (stopping.clone(), alive.clone());
            tokio::spawn(async move {
                let _alive = alive;
                connection(stream, peer, activity, server, app, stopping).await;
                registry.remove(id);
            });
        }
        let _ = stopping_tx.send(true);
        drop(alive);
        let _ = tokio::time::timeout(grace, all_ended.recv()).await;
    }
}

/// One connection: the PROXY header and handshake within the headers' deadline, then HTTP/1
/// until the client leaves, a phase runs out, it is shed, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
    server: Arc<Server>,
    app: axum::Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    activity.set(HEADERS);
    let opening = async {
        let mut stream = stream;
        let mut client = peer.ip();
        if server.clients.proxy_protocol && server.clients.trusts(client) {
            client = read_proxy_header(&mut stream).await?;
        }
        let io: Box<dyn Io> = match &server.handshake {
            Some(handshake) => handshake(stream).await?,
            None => Box::new(stream),
        };
        Ok::<_, std::io::Error>((io, client))
    };
    let opened = tokio::select! {
        opened = tokio::time::timeout(server.limits.headers, opening) => opened,
        _ = activity.kill.notified() => return,
    };
    let (io, client) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => {
            tracing::debug!(server = server.name, %peer, error = %e, "connection refused before HTTP");
            return;
        }
        Err(_) => return,
    };
    activity.set(IDLE);
    let handle = Connection(activity.clone());
    let clients = server.clients.clone();
    let max_body = server.limits.max_body;
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |request: http::Request<hyper::body::Incoming>| {
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            activity.set(HANDLING);
            let ip = clients.of_request(client, request.headers());
            let too_large = http_body::Body::size_hint(request.body()).lower() > max_body;
            let read = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut request = request.map(|body| {
                read.store(http_body::Body::is_end_stream(&body), Ordering::Relaxed);
                Body::new(RequestBody { inner: body, activity: activity.clone(), started: false, read: read.clone() })
            });
            request.extensions_mut().insert(Peer(ip));
            request.extensions_mut().insert(handle.clone());
            let activity = activity.clone();
            let mut app = app.clone();
            async move {
                let mut response = if too_large {
                    payload_too_large(max_body)
                } else {
                    match tower_service::Service::call(&mut app, request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                };
                // Answered before its body was read (a stranger's, a body too large): the
                // connection ends with this answer, said so, so that no client sends its next
                // request on a connection about to close.
                if !read.load(Ordering::Relaxed) {
                    response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                }
                activity.set(RESPONDING);
                Ok::<_, std::convert::Infallible>(response.map(|body| ResponseBody {
                    inner: body,
                    activity,
                    done: false,
                }))
            }
        }
    });
    // Headers of 64 KiB at most (hyper's read buffer may otherwise grow to 400 KiB a connection).
    let connection = hyper::server::conn::http1::Builder::new()
        .max_buf_size(64 * 1024)
        .serve_connection(hyper_util::rt::TokioIo::new(Tracked { inner: io, activity: activity.clone() }), service);
    tokio::pin!(connection);
    let mut graceful = false;
    loop {
        let wait = match activity.deadline(&server.limits) {
            Some(deadline) => {
                Duration::from_millis(deadline.saturating_sub(activity.now_ms())).min(Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(server = server.name, error = %e, "connection ended");
                }
                return;
            }
            _ = activity.kill.notified() => return,
            _ = stopping.wait_for(|s| *s), if !graceful => {
                graceful = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(wait) => {
                if activity.deadline(&server.limits).is_some_and(|d| d <= activity.now_ms()) {
                    tracing::debug!(server = server.name, %peer, phase = activity.phase.load(Ordering::Relaxed), "connection timed out");
                    return;
                }
            }
        }
    }
}

/// 413 in the API's shape (`{message, code}`), for a body announced too large.
fn payload_too_large(max_body: u64) -> http::Response<Body> {
    let text = format!("{{\"message\":\"body larger than {max_body} bytes\",\"code\":\"PAYLOAD_TOO_LARGE\"}}");
    let mut response = http::Response::new(Body::from(text));
    *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// Reads a PROXY protocol v2 header (HAProxy's `send-proxy-v2`) and returns the client's
/// address it names; a health check's `LOCAL` header names none: the proxy itself is the peer.
async fn read_proxy_header(stream: &mut TcpStream) -> std::io::Result<IpAddr> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let mut header = vec![0u8; 16];
    stream.read_exact(&mut header).await?;
    if header[..12] != ppp::v2::PROTOCOL_PREFIX[..] {
        return Err(invalid("a trusted proxy's connection without a PROXY v2 header".into()));
    }
    let length = u16::from_be_bytes([header[14], header[15]]) as usize;
    header.resize(16 + length, 0);
    stream.read_exact(&mut header[16..]).await?;
    let parsed = ppp::v2::Header::try_from(&header[..]).map_err(|e| invalid(format!("PROXY header: {e}")))?;
    let local = stream.peer_addr()?.ip();
    Ok(match parsed.addresses {
        ppp::v2::Addresses::IPv4(a) => IpAddr::V4(a.source_address),
        ppp::v2::Addresses::IPv6(a) => canonical(IpAddr::V6(a.source_address)),
        _ => local,
    })
}

/// glibc's allocator, tuned for a server left alone for years. Each thread that allocates gets
/// its own arena (up to 8 per core), each keeping what it freed: two serve a 2-core machine as
/// well. And a freed block larger than the mmap threshold raises that threshold (up to 32 MiB),
/// so the next argon2id verification (19 MiB) comes from the heap and stays there, fragmented,
/// after it is freed: with a fixed threshold of 1 MiB, large blocks are always mapped and given
/// back when freed (a crowd of sign-ins measured 61 MiB held after, 22 MiB with it). Called
/// first thing by both programs, before their threads start; a no-op elsewhere than glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets parameters of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// A server holds one descriptor per connection: the soft limit (1024 by default) would
/// refuse connections long before the cap. Raised to the hard limit, as the unit allows.
fn raise_open_files_limit(server: &'static str) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
        }
    };
    if raised {
        tracing::debug!(server, open_files = limit.rlim_cur, "open files limit");
    } else {
        tracing::warn!(server, error = %std::io::Error::last_os_error(), "cannot raise the open files limit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients(proxies: &[&str]) -> ClientAddress {
        let items: Vec<String> = proxies.iter().map(|s| s.to_string()).collect();
        ClientAddress { trusted_proxies: ClientAddress::parse_proxies(&items).unwrap(), proxy_protocol: false }
    }

    #[test]
    fn forwarded_addresses_are_taken_from_trusted_proxies_only() {
        let c = clients(&["127.0.0.1", "10.0.0.0/8"]);
        let mut h = http::HeaderMap::new();
        h.append("x-forwarded-for", "198.51.100.9, 203.0.113.5".parse().unwrap());
        h.append("x-forwarded-for", "10.1.2.3".parse().unwrap());
        // The right-most hop that is not a trusted proxy is the client; what it claimed is not.
        assert_eq!(c.of_request("127.0.0.1".parse().unwrap(), &h), "203.0.113.5".parse::<IpAddr>().unwrap());
        // From an untrusted peer, the header is ignored.
        assert_eq!(c.of_request("192.0.2.1".parse().unwrap(), &h), "192.0.2.1".parse::<IpAddr>().unwrap());
        // A garbled header gives the proxy itself, not a forged address.
        let mut bad = http::HeaderMap::new();
        bad.insert("x-forwarded-for", "203.0.113.5, nonsense".parse().unwrap());
        assert_eq!(c.of_request("127.0.0.1".parse().unwrap(), &bad), "127.0.0.1".parse::<IpAddr>().unwrap());
        // IPv4 through an IPv6 socket.
        assert!(c.trusts("::ffff:10.9.9.9".parse().unwrap()));
        assert!(ClientAddress::parse_proxies(&["not an address".into()]).is_err());
    }
}

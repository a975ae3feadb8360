//! The accept loop every listener runs (**SVC-1** to **SVC-6**).
//!
//! - At most [`Limits::max_connections`] connections are held at once: the loop takes a
//!   slot before it accepts, so that beyond the cap new connections wait in the kernel's
//!   queue instead of taking descriptors and memory (**SVC-5**).
//! - When accepting fails for lack of resources (no descriptor left, `EMFILE`, `ENFILE`;
//!   no buffer or memory, `ENOBUFS`, `ENOMEM`), the loop waits before it tries again,
//!   doubling the wait from [`Limits::accept_backoff_min`] to
//!   [`Limits::accept_backoff_max`], instead of spinning on an error the kernel will
//!   return again at once; the connections already held are served meanwhile, and as
//!   their timeouts close them, descriptors come back (**SVC-6**). An error that concerns
//!   one connection only (the peer reset it before it was accepted) is skipped at once.
//! - The peer's address is dropped as the connection is accepted: nothing downstream can
//!   log or store it (**POL-20**).
//! - Each connection then has [`Limits::handshake_timeout`] to finish its TLS handshake
//!   (**SVC-1**); each request has [`Limits::header_timeout`] from its first byte to the
//!   end of its head (**SVC-2**) and [`Limits::body_timeout`] from there to the end of its
//!   body, which is read whole, up to the interface's size limit, before any handler runs
//!   (**SVC-3**, **SVC-10**); and a connection on which no byte moves either way for
//!   [`Limits::idle_timeout`] while no request on it is being handled is closed: before its
//!   first request, between requests, and when a client stops reading its response
//!   (**SVC-4**). A handler that is working is never cut off by these timeouts; its own
//!   calls are bounded instead.
//! - HTTP/1.1 only (hyper's HTTP/1 server; no HTTP/2 code is built). A request head over
//!   64 KiB, or one that does not parse as HTTP, never reaches a handler: hyper answers it
//!   itself, with a bodiless `400`, `414` or `431`, and closes the connection. The
//!   connection's stream (`Tracked`) recognises that answer as it is written (a `400`,
//!   `414` or `431` with no `content-type`: every answer of a handler or of the layers
//!   here has one, SVC-8) and writes the interface's JSON refusal in its place
//!   ([`Transport::Malformed`], [`Transport::UriTooLong`], [`Transport::HeadTooLarge`]),
//!   keeping hyper's `date`, so that these refusals are typed JSON too (**SVC-8**).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::limits::Limits;
use crate::refusal::{JsonRefusals, Refusals, Transport, json_refusals, refuse_and_close};
use crate::request_log::{ConnectionEvent, RequestLog, count_requests};

/// The most bytes of a request head (request line and headers) hyper buffers.
const MAX_HEAD: usize = 64 * 1024;

/// The listening socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    /// The address.
    pub addr: SocketAddr,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Opens the listening socket.
///
/// # Errors
/// [`ListenError`].
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError { addr, source })
}

/// Tells who is behind a connection from its TLS session (its verified client
/// certificate), or `None` to close it at once.
pub type Identify<I> = Arc<dyn Fn(&rustls::ServerConnection) -> Option<I> + Send + Sync>;

/// What a listener serves, and how.
pub struct Endpoint<I> {
    /// The TLS configuration ([`crate::tls::server_config`]).
    pub tls: Arc<rustls::ServerConfig>,
    /// The routes, with their state.
    pub router: Router,
    /// The limits.
    pub limits: Limits,
    /// The largest request body the interface takes, in bytes.
    pub max_body: usize,
    /// How the interface writes the transport's refusals.
    pub refusals: Arc<dyn Refusals>,
    /// Who is behind a connection; handlers find it in the request's extensions.
    pub identify: Identify<I>,
    /// The request tally.
    pub log: RequestLog,
}

impl<I> std::fmt::Debug for Endpoint<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("limits", &self.limits)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// A running listener.
#[derive(Debug)]
pub struct Serving {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    tally: JoinHandle<()>,
    open: Arc<AtomicUsize>,
    log: RequestLog,
}

impl Serving {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections it holds now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Its request tally.
    pub fn request_log(&self) -> &RequestLog {
        &self.log
    }

    /// Stops accepting (connections already held end as their timeouts or clients close
    /// them) and stops the tally.
    pub fn stop(&self) {
        self.accept.abort();
        self.tally.abort();
    }

    /// Waits until the listener stops.
    pub async fn wait(&mut self) {
        let _ = (&mut self.accept).await;
    }

    /// Stops accepting and waits until the listening socket is closed.
    pub async fn shutdown(mut self) {
        self.stop();
        let _ = (&mut self.accept).await;
        let _ = (&mut self.tally).await;
    }
}

/// What every connection of a listener shares.
struct Shared<I> {
    acceptor: tokio_rustls::TlsAcceptor,
    /// The interface's refusals of request heads, written in place of hyper's.
    heads: Arc<HeadRefusals>,
    app: Router,
    limits: Limits,
    identify: Identify<I>,
    log: RequestLog,
    open: Arc<AtomicUsize>,
}

/// Serves `endpoint` on `listener` until stopped.
///
/// # Errors
/// [`ListenError`] if the socket has no local address.
pub fn serve<I: Clone + Send + Sync + 'static>(
    listener: TcpListener,
    endpoint: Endpoint<I>,
) -> Result<Serving, ListenError> {
    let addr = listener.local_addr().map_err(|source| ListenError {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let Endpoint {
        tls,
        router,
        limits,
        max_body,
        refusals,
        identify,
        log,
    } = endpoint;
    let heads = Arc::new(HeadRefusals::new(&*refusals));
    // Innermost first: the body is read whole before the handler; refusals the
    // framework writes become JSON; every request is counted with its final status.
    let app = router
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(
            Bodies {
                max: max_body,
                timeout: limits.body_timeout,
                refusals: refusals.clone(),
            },
            buffer_body,
        ))
        .layer(from_fn_with_state(
            JsonRefusals { refusals, max_body },
            json_refusals,
        ))
        .layer(from_fn_with_state(log.clone(), count_requests));
    let open = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        acceptor: tokio_rustls::TlsAcceptor::from(tls),
        heads,
        app,
        limits,
        identify,
        log: log.clone(),
        open: open.clone(),
    });
    let accept = tokio::spawn(accept_loop(listener, shared));
    let tally = tokio::spawn(log.clone().run());
    Ok(Serving {
        addr,
        accept,
        tally,
        open,
        log,
    })
}

/// An accept error that concerns one connection only: skip it and accept the next.
fn concerns_one_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

async fn accept_loop<I: Clone + Send + Sync + 'static>(
    listener: TcpListener,
    shared: Arc<Shared<I>>,
) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
    let mut backoff = shared.limits.accept_backoff_min;
    let mut warned: Option<Instant> = None;
    loop {
        // A slot first: at the cap, connections wait in the kernel's queue (SVC-5).
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            // The peer's address is dropped here: nothing downstream can log or store it.
            Ok((tcp, _peer_addr)) => {
                backoff = shared.limits.accept_backoff_min;
                shared.log.count(ConnectionEvent::Accepted);
                let shared = shared.clone();
                shared.open.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    connection(tcp, &shared).await;
                    shared.open.fetch_sub(1, Ordering::SeqCst);
                    drop(slot);
                });
            }
            Err(e) if concerns_one_connection(&e) => {}
            Err(e) => {
                drop(slot);
                shared.log.count(ConnectionEvent::AcceptFailed);
                // Said at most once a minute, with no address: the operator learns the
                // service is short of descriptors without a line per attempt.
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(error = %e, wait_ms = backoff.as_millis() as u64, "cannot accept connections; waiting before trying again");
                    warned = Some(Instant::now());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(shared.limits.accept_backoff_max);
            }
        }
    }
}

async fn connection<I: Clone + Send + Sync + 'static>(tcp: TcpStream, shared: &Shared<I>) {
    let _ = tcp.set_nodelay(true);
    let limits = shared.limits;
    // Each ending is counted before the connection is closed, so that the tally holds it
    // by the time the client sees the close.
    let mut accept = shared.acceptor.accept(tcp).into_fallible();
    let tls = match tokio::time::timeout(limits.handshake_timeout, &mut accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err((_, tcp))) => {
            shared.log.count(ConnectionEvent::HandshakeFailed);
            drop(tcp);
            return;
        }
        Err(_) => {
            shared.log.count(ConnectionEvent::HandshakeFailed);
            drop(accept);
            return;
        }
    };
    let Some(who) = (shared.identify)(tls.get_ref().1) else {
        shared.log.count(ConnectionEvent::HandshakeFailed);
        drop(tls);
        return;
    };
    let activity = Arc::new(Activity::new());
    let handback = Arc::new(std::sync::Mutex::new(None));
    let io = Tracked {
        inner: Some(tls),
        handback: handback.clone(),
        activity: activity.clone(),
        heads: shared.heads.clone(),
        log: shared.log.clone(),
        replacing: None,
    };
    let app = shared.app.clone();
    let busy = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        let who = who.clone();
        let guard = busy.begin();
        async move {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(who);
            let resp = app.oneshot(req).await;
            drop(guard);
            resp
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // The timeouts are the watchdog's below; hyper's own header timer is not used.
    http.header_read_timeout(None).max_buf_size(MAX_HEAD);
    let mut conn = Box::pin(
        http.serve_connection(TokioIo::new(io), service)
            .without_shutdown(),
    );
    let ended = tokio::select! {
        done = conn.as_mut() => done.ok(),
        event = activity.closes(&limits) => {
            shared.log.count(event);
            None
        }
    };
    if let Some(parts) = ended {
        linger(parts.io.into_inner()).await;
        return;
    }
    // Ended by an error, or closed by the watchdog (its ending counted): dropping hyper's
    // connection drops the stream and so closes it, unless a request head was refused, in
    // which case the stream comes back to linger, so that the client reads the refusal
    // instead of a reset for the rest of a head it was still sending.
    drop(conn);
    let refused = handback.lock().ok().and_then(|mut s| s.take());
    if let Some(stream) = refused {
        linger(stream).await;
    }
}

/// Closes a connection the way HTTP servers must when a request body may be left unread
/// (a refusal before the body was read): says it is done writing, then reads and drops
/// what the client still sends, for a second or a mebibyte at most, so that the client
/// reads the refusal instead of a reset.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = io.shutdown().await;
        let mut buf = [0u8; 4096];
        let mut left: usize = 1 << 20;
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// What the watchdog of a connection watches: when a byte last moved, when the head
/// being read started, and whether a request is being handled. Times are milliseconds
/// since `origin`; `head` is that plus one, and zero for none.
struct Activity {
    origin: Instant,
    last: AtomicU64,
    head: AtomicU64,
    in_flight: AtomicUsize,
    /// Wakes the watchdog when a head starts: its deadline is sooner than idleness's.
    head_started: tokio::sync::Notify,
}

/// A request being handled: the connection is not idle until it is dropped.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last.store(self.0.now(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            head: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            head_started: tokio::sync::Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) {
        let now = self.now();
        self.last.store(now, Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            // The first byte of a head: its header timeout starts now.
            if self
                .head
                .compare_exchange(0, now + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                self.head_started.notify_one();
            }
        }
    }

    fn wrote(&self) {
        self.last.store(self.now(), Ordering::SeqCst);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head.store(0, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Resolves when the connection must be closed, with why.
    async fn closes(&self, limits: &Limits) -> ConnectionEvent {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (idle, header) = (ms(limits.idle_timeout), ms(limits.header_timeout));
        loop {
            let now = self.now();
            let next = if self.in_flight.load(Ordering::SeqCst) > 0 {
                // A handler is working: look again later.
                now.saturating_add(idle)
            } else {
                let idle_at = self.last.load(Ordering::SeqCst).saturating_add(idle);
                let head = self.head.load(Ordering::SeqCst);
                let head_at = (head != 0).then(|| (head - 1).saturating_add(header));
                if head_at.is_some_and(|t| now >= t) {
                    return ConnectionEvent::HeaderTimeout;
                }
                if now >= idle_at {
                    return ConnectionEvent::Idle;
                }
                head_at.map_or(idle_at, |t| t.min(idle_at))
            };
            let until =
                tokio::time::sleep_until((self.origin + Duration::from_millis(next)).into());
            tokio::select! {
                () = until => {}
                () = self.head_started.notified() => {}
            }
        }
    }
}

/// The connection's plaintext stream, reporting each byte that moves to its [`Activity`],
/// and writing the interface's JSON refusal in place of hyper's own answer to a request
/// head it could not take ([`automatic_refusal`]).
///
/// Not vectored, so that hyper hands it each response's bytes in one buffer (its
/// "flatten" write strategy) and an answer can be recognised whole.
struct Tracked<S> {
    /// The stream; `None` only while it is being dropped.
    inner: Option<S>,
    /// Where the stream goes when this is dropped after a head was refused.
    handback: Arc<std::sync::Mutex<Option<S>>>,
    activity: Arc<Activity>,
    heads: Arc<HeadRefusals>,
    log: RequestLog,
    /// The refusal being written in place of hyper's answer, and how much of it is out.
    replacing: Option<(Vec<u8>, usize)>,
}

impl<S> Drop for Tracked<S> {
    fn drop(&mut self) {
        if self.replacing.is_some()
            && let Some(stream) = self.inner.take()
            && let Ok(mut slot) = self.handback.lock()
        {
            *slot = Some(stream);
        }
    }
}

/// The error of a stream used after it was handed back (never: it is handed back only
/// as it is dropped).
fn gone() -> std::io::Error {
    std::io::Error::other("the connection's stream was handed back")
}

impl<S: AsyncWrite + Unpin> Tracked<S> {
    /// Writes what is left of the replacing refusal.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacing
            && *written < bytes.len()
        {
            let Some(inner) = self.inner.as_mut() else {
                return Poll::Ready(Err(gone()));
            };
            match Pin::new(inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    *written += n;
                    self.activity.wrote();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        let r = Pin::new(inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none()
            && let Some(auto) = automatic_refusal(buf)
            && let Some(bytes) = this.heads.response(auto.status, auto.date)
        {
            this.log.count(ConnectionEvent::HeadRefused);
            this.replacing = Some((bytes, 0));
        }
        if this.replacing.is_some() {
            // hyper's answer (and anything it wrote after, though it writes nothing
            // more: it closes the connection) is taken as written; the refusal goes out
            // in its place.
            return match this.drain(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        let r = Pin::new(inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        r
    }

    /// Vectored writes pass through when the stream under it takes them (TLS does), so
    /// that hyper queues a response's head and body buffers instead of copying the body
    /// into its own. hyper's bodiless answer to a bad head is one buffer, checked as in
    /// [`AsyncWrite::poll_write`].
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let mut written = bufs.iter().filter(|b| !b.is_empty());
        if this.replacing.is_none()
            && let (Some(only), None) = (written.next(), written.next())
            && let Some(auto) = automatic_refusal(only)
            && let Some(bytes) = this.heads.response(auto.status, auto.date)
        {
            this.log.count(ConnectionEvent::HeadRefused);
            this.replacing = Some((bytes, 0));
        }
        if this.replacing.is_some() {
            let all = bufs.iter().map(|b| b.len()).sum();
            return match this.drain(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(all)),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        let r = Pin::new(inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => match this.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_flush(cx),
                None => Poll::Ready(Err(gone())),
            },
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => match this.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_shutdown(cx),
                None => Poll::Ready(Err(gone())),
            },
            other => other,
        }
    }
}

/// The longest buffer [`automatic_refusal`] considers: hyper's bodiless answer is a status
/// line, `content-length: 0`, `connection: close` and a `date`, about 110 bytes.
const MAX_AUTOMATIC: usize = 512;

/// hyper's own answer to a request head it could not take, as [`automatic_refusal`]
/// recognises it.
#[derive(Debug, PartialEq, Eq)]
struct Automatic<'a> {
    /// `400`, `414` or `431`.
    status: u16,
    /// Its `date` header's value, if it had one.
    date: Option<&'a [u8]>,
}

/// Whether `buf` is exactly hyper's answer to a request head it could not parse (a
/// bodiless `400`, `414` or `431` with no `content-type`), and if so its status and date.
/// No answer of a handler or of this listener's layers has that shape: every failure
/// status they write is JSON (or, for [`crate::refusal::Verbatim`] bodies, a `409` with
/// its own `content-type`), SVC-8.
///
/// Every buffer the connection writes passes through here, tiles and entry bundles
/// included, so the cheap tests come first: the length (hyper's answer is a status line
/// and at most a few short headers) and the 13-byte status prefix; only a buffer that
/// passes both is searched for the end of its head.
fn automatic_refusal(buf: &[u8]) -> Option<Automatic<'_>> {
    if buf.len() > MAX_AUTOMATIC {
        return None;
    }
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = match rest.get(..4)? {
        b"400 " => 400,
        b"414 " => 414,
        b"431 " => 431,
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let mut lines = buf[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    // The status line, already read above.
    lines.next()?;
    let mut date = None;
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-type")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
        {
            return None;
        }
        if name.eq_ignore_ascii_case(b"content-length") && value != b"0" {
            return None;
        }
        if name.eq_ignore_ascii_case(b"date") {
            date = Some(value);
        }
    }
    Some(Automatic { status, date })
}

/// The interface's refusals of request heads (SVC-8), each made once when the listener
/// starts, as the head lines (status line and headers, without `content-length`,
/// `connection` and `date`) and the body of a whole HTTP/1.1 response.
struct HeadRefusals {
    malformed: Option<(Vec<u8>, Vec<u8>)>,
    uri_too_long: Option<(Vec<u8>, Vec<u8>)>,
    too_large: Option<(Vec<u8>, Vec<u8>)>,
}

impl HeadRefusals {
    fn new(refusals: &dyn Refusals) -> Self {
        Self {
            malformed: Self::prepare(
                refusals,
                &Transport::Malformed {
                    what: "the request head does not parse as HTTP/1.1".to_owned(),
                },
            ),
            uri_too_long: Self::prepare(refusals, &Transport::UriTooLong),
            too_large: Self::prepare(refusals, &Transport::HeadTooLarge { limit: MAX_HEAD }),
        }
    }

    /// The refusal's head lines and body; `None` if its body is not ready at once (every
    /// interface's is: [`crate::refusal::respond`] makes them from bytes in memory), and
    /// then hyper's answer is left as it is.
    fn prepare(refusals: &dyn Refusals, t: &Transport) -> Option<(Vec<u8>, Vec<u8>)> {
        use std::future::Future as _;
        let response = refusals.refuse(t);
        let status = response.status();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_str(),
            status.canonical_reason().unwrap_or("")
        )
        .into_bytes();
        for (name, value) in response.headers() {
            if name == header::CONTENT_LENGTH || name == header::CONNECTION || name == header::DATE
            {
                continue;
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let collect = axum::body::to_bytes(response.into_body(), 64 * 1024);
        let mut collect = std::pin::pin!(collect);
        match collect
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            Poll::Ready(Ok(body)) => Some((head, body.to_vec())),
            _ => None,
        }
    }

    /// The whole response refusing a head hyper answered with `status`, with its `date`.
    fn response(&self, status: u16, date: Option<&[u8]>) -> Option<Vec<u8>> {
        let (head, body) = match status {
            414 => self.uri_too_long.as_ref(),
            431 => self.too_large.as_ref(),
            _ => self.malformed.as_ref(),
        }?;
        let mut out = head.clone();
        if let Some(date) = date {
            out.extend_from_slice(b"date: ");
            out.extend_from_slice(date);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(
            format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
        Some(out)
    }
}

/// The state of [`buffer_body`].
#[derive(Clone)]
struct Bodies {
    max: usize,
    timeout: Duration,
    refusals: Arc<dyn Refusals>,
}

/// A layer: reads the request's body whole, at most `max` bytes within `timeout`, before
/// the handler runs; refuses (and closes the connection) otherwise (**SVC-3**,
/// **SVC-10**).
async fn buffer_body(State(b): State<Bodies>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = Transport::BodyTooLarge { limit: b.max };
    if declared.is_some_and(|n| n > b.max as u64) {
        return refuse_and_close(&*b.refusals, &too_large);
    }
    let read = tokio::time::timeout(b.timeout, Limited::new(body, b.max).collect()).await;
    let bytes = match read {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return refuse_and_close(&*b.refusals, &too_large);
        }
        Ok(Err(_)) => {
            return refuse_and_close(
                &*b.refusals,
                &Transport::Malformed {
                    what: "the request body could not be read".to_owned(),
                },
            );
        }
        Err(_) => return refuse_and_close(&*b.refusals, &Transport::BodyTimeout),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;

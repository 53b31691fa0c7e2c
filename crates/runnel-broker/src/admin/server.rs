//! The admin listener's accept loop: binds at startup, serves HTTP/1.1 with hyper on plain
//! TCP or TLS (the same rustls builder as the SSL listeners), and stops on the broker's
//! `CancellationToken`. Every resource is bounded: connections by [`ADMIN_CONNECTIONS_MAX`],
//! the TLS handshake by `TLS_HANDSHAKE_TIMEOUT_MS`, request headers by
//! [`HEADER_READ_TIMEOUT_MS`], a request by [`REQUEST_TIMEOUT_MS`], a connection's life by
//! [`CONNECTION_LIFETIME_MS_MAX`], and shutdown by [`SHUTDOWN_DRAIN_MS_MAX`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::auth::BasicAuth;
use super::reply;
use super::routes;
use super::state::AdminState;
use crate::config::admin::AdminProtocol;
use crate::config::BrokerConfig;
use crate::tls::{ListenerTls, TLS_HANDSHAKE_TIMEOUT_MS};

/// Most admin connections open at once; more wait in the kernel's backlog.
pub const ADMIN_CONNECTIONS_MAX: usize = 64;
/// How long a client may take to send a request's headers (also bounds an idle keep-alive).
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// How long one request may take to be answered before it gets a 503.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// How long one connection may stay open, however busy; it is then closed gracefully.
pub const CONNECTION_LIFETIME_MS_MAX: u64 = 600_000;
/// How long shutdown waits for admin connections to finish their request.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin listener {address}: {reason}")]
    Bind { address: String, reason: String },
    #[error("admin listener TLS: {0}")]
    Tls(String),
}

/// The admin listener, bound and not yet serving.
pub struct AdminServer {
    listener: TcpListener,
    tls: Option<ListenerTls>,
    auth: BasicAuth,
}

/// The running admin listener: what `Broker::attach_admin` needs.
pub struct AdminHandle {
    pub state: Arc<AdminState>,
    pub task: JoinHandle<()>,
    pub local_addr: SocketAddr,
}

impl AdminServer {
    /// Binds `admin.listener` and builds its TLS; `None` when the listener is off.
    pub async fn bind(config: &BrokerConfig) -> Result<Option<AdminServer>, AdminError> {
        let Some(address) = config.admin.bind else { return Ok(None) };
        let tls = match config.admin.protocol {
            AdminProtocol::Plaintext => None,
            AdminProtocol::Ssl => {
                let ssl = config.admin.ssl(&config.explicit).map_err(|error| AdminError::Tls(error.to_string()))?;
                Some(ListenerTls::build(&ssl).map_err(|error| AdminError::Tls(error.to_string()))?)
            }
        };
        let listener = TcpListener::bind(address)
            .await
            .map_err(|error| AdminError::Bind { address: address.to_string(), reason: error.to_string() })?;
        Ok(Some(AdminServer { listener, tls, auth: BasicAuth::new(config.admin.users.clone()) }))
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Starts serving until `shutdown`: `/healthz` at once, the rest once the broker attaches.
    pub fn serve(self, shutdown: CancellationToken) -> Result<AdminHandle, AdminError> {
        let local_addr = self
            .listener
            .local_addr()
            .map_err(|error| AdminError::Bind { address: "admin.listener".into(), reason: error.to_string() })?;
        let state = Arc::new(AdminState::new(self.auth, shutdown.clone()));
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %local_addr, "admin listener on {scheme}://{local_addr}");
        let task = tokio::spawn(accept_loop(self.listener, self.tls, state.clone(), shutdown));
        Ok(AdminHandle { state, task, local_addr })
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<ListenerTls>, state: Arc<AdminState>, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(ADMIN_CONNECTIONS_MAX));
    let acceptor = tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.server_config));
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot { Ok(slot) => slot, Err(_) => break },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = shutdown.cancelled() => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (state, acceptor, shutdown) = (state.clone(), acceptor.clone(), shutdown.clone());
                    connections.spawn(async move {
                        serve_connection(stream, peer, acceptor, state, shutdown).await;
                        drop(slot);
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.cancelled() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AdminState>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return serve_http(stream, state, shutdown).await;
    };
    match tokio::time::timeout(Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS), acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_http(stream, state, shutdown).await,
        Ok(Err(error)) => tracing::debug!(%peer, "admin TLS handshake failed: {error}"),
        Err(_) => tracing::debug!(%peer, "admin TLS handshake not completed within {TLS_HANDSHAKE_TIMEOUT_MS} ms"),
    }
}

async fn serve_http<S>(stream: S, state: Arc<AdminState>, shutdown: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let state = state.clone();
        async move {
            let answered = tokio::time::timeout(Duration::from_millis(REQUEST_TIMEOUT_MS), routes::dispatch(state, request)).await;
            Ok::<_, Infallible>(answered.unwrap_or_else(|_| {
                reply::error(StatusCode::SERVICE_UNAVAILABLE, format!("not answered within {REQUEST_TIMEOUT_MS} ms"))
            }))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(HEADER_READ_TIMEOUT_MS))
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let lifetime = tokio::time::sleep(Duration::from_millis(CONNECTION_LIFETIME_MS_MAX));
    tokio::pin!(lifetime);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = shutdown.cancelled() => {}
        _ = &mut lifetime => {}
    }
    // Finish the request in flight, then close.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX), connection).await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The status line of `GET path` on a fresh connection.
    async fn status_of(address: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(address).await.expect("connects");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("writes");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("reads");
        answer.lines().next().unwrap_or_default().to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_health_before_the_broker_is_ready_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().expect("temp dir");
        let map = [("log.dirs".to_string(), dir.path().display().to_string()), ("admin.listener".to_string(), "127.0.0.1:0".to_string())]
            .into();
        let (config, _) = BrokerConfig::from_map(&map).expect("config");
        let server = AdminServer::bind(&config).await.expect("binds").expect("enabled");
        let shutdown = CancellationToken::new();
        let handle = server.serve(shutdown.clone()).expect("serves");
        let address = handle.local_addr;
        assert_eq!(status_of(address, "/healthz").await, "HTTP/1.1 200 OK");
        assert_eq!(status_of(address, "/readyz").await, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(status_of(address, "/api/topics").await, "HTTP/1.1 503 Service Unavailable");
        handle.state.set_ready(Arc::new(crate::context::testing::context(dir.path())));
        assert_eq!(status_of(address, "/readyz").await, "HTTP/1.1 200 OK");
        assert_eq!(status_of(address, "/api/topics").await, "HTTP/1.1 200 OK");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX), handle.task)
            .await
            .expect("the accept loop ends on shutdown")
            .expect("no panic");
        assert!(TcpStream::connect(address).await.is_err(), "the port is released");
    }

    #[tokio::test]
    async fn an_empty_admin_listener_binds_nothing() {
        let map = [("admin.listener".to_string(), String::new())].into();
        let (config, _) = BrokerConfig::from_map(&map).expect("config");
        assert!(AdminServer::bind(&config).await.expect("no error").is_none());
    }
}

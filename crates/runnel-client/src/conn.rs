//! One connection to one broker: framing, correlation ids, pipelining and version choice.
//!
//! Owns: the socket (through two tasks, a writer and a reader), the map from correlation id
//! to the caller waiting for that response, and the API versions negotiated by ApiVersions
//! when the connection opens. Requests from any number of callers are pipelined on the one
//! socket; a caller waits only for its own response. Decoding a response body happens in the
//! caller, which knows the message type.
//!
//! A connection that fails (socket error, oversized frame, a request timing out, as the Java
//! client does) is closed for good and fails every waiting caller; `Cluster` then opens a new
//! one. Dropping the last handle closes it.

mod sasl;
mod tls;
mod versions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::ClientConfig;
use crate::error::{check, Error, Result};

pub use versions::{client_versions, CLIENT_SOFTWARE_NAME};

/// Requests queued for the writer before `send` waits for room.
const OUTGOING_QUEUE_DEPTH: usize = 256;
/// ApiVersions version tried first; a broker that does not serve it answers at v0 with its
/// own range (KIP-511), and we retry at the highest version it names.
const API_VERSIONS_VERSION_PREFERRED: i16 = 3;
const UNSUPPORTED_VERSION: i16 = 35;

/// A byte stream to a broker: plain TCP today, TLS later, behind one type.
trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> BrokerStream for T {}

/// A handle to one broker connection. Cheap to clone; all clones share the socket.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    addr: String,
    client_id: StrBytes,
    request_timeout: Duration,
    /// Negotiated version per API key: min(broker max, client max), for APIs both speak.
    versions: HashMap<i16, i16>,
    outgoing: mpsc::Sender<Outgoing>,
    next_correlation_id: AtomicI32,
    closed: CancellationToken,
    _close_on_drop: DropGuard,
}

struct Outgoing {
    frame: Bytes,
    /// `None` for requests that get no response (Produce with acks=0).
    awaiting: Option<(i32, Pending)>,
}

struct Pending {
    response_header_version: i16,
    reply: oneshot::Sender<Result<Bytes>>,
}

impl Connection {
    /// Opens a connection: TCP, then TLS and SASL when `security.protocol` asks for them,
    /// with API versions negotiated before anything else is sent.
    pub async fn connect(addr: &str, config: &ClientConfig) -> Result<Connection> {
        let io_error = |source| Error::Io { broker: addr.to_string(), source };
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let tcp = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Timeout(format!("connecting to {addr} ({} ms)", config.connect_timeout_ms)))?
            .map_err(io_error)?;
        tcp.set_nodelay(true).map_err(io_error)?;
        let stream: Box<dyn BrokerStream> = if config.security_protocol.uses_tls() {
            let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
            let tls = tokio::time::timeout(connect_timeout, tls::connect(tls::client_config(&config.ssl)?, host, tcp))
                .await
                .map_err(|_| Error::Timeout(format!("TLS handshake with {addr} ({} ms)", config.connect_timeout_ms)))??;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let mut connection = Connection::start(addr, config, stream);
        connection.negotiate_versions().await.map_err(|error| match error {
            // A TLS broker refuses a client certificate after the handshake, by closing.
            Error::Closed => Error::Io {
                broker: addr.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    if config.security_protocol.uses_tls() {
                        "the broker closed the connection after the TLS handshake (is the client certificate missing or untrusted?)"
                    } else {
                        "the broker closed the connection before answering ApiVersions (is this a TLS or SASL listener?)"
                    },
                ),
            },
            other => other,
        })?;
        if config.security_protocol.uses_sasl() {
            let sasl = config.sasl.as_ref().ok_or_else(|| Error::Config("SASL needs sasl.mechanism and credentials".into()))?;
            sasl::authenticate(&connection, sasl).await?;
        }
        Ok(connection)
    }

    fn start(addr: &str, config: &ClientConfig, stream: Box<dyn BrokerStream>) -> Connection {
        let (read_half, write_half) = tokio::io::split(stream);
        let (outgoing, queue) = mpsc::channel(OUTGOING_QUEUE_DEPTH);
        let pending = Arc::new(Mutex::new(HashMap::new()));
        let closed = CancellationToken::new();
        tokio::spawn(write_loop(addr.to_string(), write_half, queue, pending.clone(), closed.clone()));
        tokio::spawn(read_loop(addr.to_string(), read_half, config.response_bytes_max, pending.clone(), closed.clone()));
        Connection {
            inner: Arc::new(Inner {
                addr: addr.to_string(),
                client_id: StrBytes::from_string(config.client_id.clone()),
                request_timeout: Duration::from_millis(config.request_timeout_ms),
                versions: HashMap::new(),
                outgoing,
                next_correlation_id: AtomicI32::new(0),
                _close_on_drop: closed.clone().drop_guard(),
                closed,
            }),
        }
    }

    /// The broker address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Whether the connection has failed or been closed; a closed connection fails every send.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Closes the connection; waiting callers get [`Error::Closed`].
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// The version this connection uses for `api`. Build a request's fields for this version.
    pub fn version(&self, api: ApiKey) -> Result<i16> {
        self.inner.versions.get(&(api as i16)).copied().ok_or_else(|| Error::UnsupportedVersion {
            api: format!("{api:?}"),
            broker: self.inner.addr.clone(),
        })
    }

    /// Sends `request` at the negotiated version and waits for its response, at most
    /// `request.timeout.ms`.
    ///
    /// Ordering: requests are written to the socket in the order their `send` futures are
    /// first polled (the queue to the writer is FIFO, and waiting for room in it is fair).
    /// The idempotent producer relies on this to keep a partition's batches in sequence.
    pub async fn send<Req: Request>(&self, request: Req) -> Result<Req::Response> {
        self.send_with_timeout(request, self.inner.request_timeout).await
    }

    /// As [`Connection::send`] with a caller-chosen bound, for requests the broker may hold
    /// on purpose (a long-polling Fetch, a JoinGroup waiting for a rebalance).
    pub async fn send_with_timeout<Req: Request>(&self, request: Req, timeout: Duration) -> Result<Req::Response> {
        let api = api_key::<Req>()?;
        let version = self.version(api)?;
        self.send_at(request, version, timeout).await
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub async fn send_no_response<Req: Request>(&self, request: Req) -> Result<()> {
        let api = api_key::<Req>()?;
        let version = self.version(api)?;
        let (_, frame) = self.encode(&request, version)?;
        self.enqueue(Outgoing { frame, awaiting: None }).await
    }

    async fn send_at<Req: Request>(&self, request: Req, version: i16, timeout: Duration) -> Result<Req::Response> {
        let (correlation_id, frame) = self.encode(&request, version)?;
        let (reply, response) = oneshot::channel();
        let response_header_version = <Req::Response as HeaderVersion>::header_version(version);
        let pending = Pending { response_header_version, reply };
        self.enqueue(Outgoing { frame, awaiting: Some((correlation_id, pending)) }).await?;
        let mut body = match tokio::time::timeout(timeout, response).await {
            Ok(Ok(body)) => body?,
            Ok(Err(_)) => return Err(Error::Closed),
            Err(_) => {
                // Kafka's clients close a connection whose request timed out: the stream's
                // state is unknown, and a late response must not reach a later caller.
                self.close();
                return Err(Error::Timeout(format!(
                    "{:?} v{version} to {} ({} ms)",
                    api_key::<Req>()?,
                    self.inner.addr,
                    timeout.as_millis()
                )));
            }
        };
        Req::Response::decode(&mut body, version)
            .map_err(|e| Error::Protocol(format!("decoding {:?} v{version} response: {e:#}", api_key::<Req>())))
    }

    fn encode<Req: Request>(&self, request: &Req, version: i16) -> Result<(i32, Bytes)> {
        let correlation_id = self.inner.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(Req::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.inner.client_id.clone()));
        let header_version = Req::header_version(version);
        let encode_error = |e: &dyn std::fmt::Display| Error::Protocol(format!("encoding {:?} v{version}: {e}", Req::KEY));
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&[0; 4]);
        header.encode(&mut frame, header_version).map_err(|e| encode_error(&e))?;
        request.encode(&mut frame, version).map_err(|e| encode_error(&e))?;
        let size = i32::try_from(frame.len() - 4).map_err(|_| Error::Protocol("request larger than 2 GiB".into()))?;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        Ok((correlation_id, frame.freeze()))
    }

    async fn enqueue(&self, outgoing: Outgoing) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.inner.outgoing.send(outgoing).await.map_err(|_| Error::Closed)
    }

    async fn negotiate_versions(&mut self) -> Result<()> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str(CLIENT_SOFTWARE_NAME))
            .with_client_software_version(StrBytes::from_static_str(crate::VERSION));
        let mut version = API_VERSIONS_VERSION_PREFERRED;
        let response = loop {
            let response = self.send_at(request.clone(), version, self.inner.request_timeout).await?;
            if response.error_code != UNSUPPORTED_VERSION || version == 0 {
                break response;
            }
            let broker_max = response
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map_or(0, |k| k.max_version);
            version = broker_max.clamp(0, version - 1);
        };
        check(response.error_code, None, format!("ApiVersions to {}", self.inner.addr))?;
        let broker: HashMap<i16, (i16, i16)> =
            response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        let inner = Arc::get_mut(&mut self.inner).ok_or_else(|| Error::Protocol("connection shared before negotiation".into()))?;
        inner.versions = versions::negotiate(&broker);
        Ok(())
    }
}

fn api_key<Req: Request>() -> Result<ApiKey> {
    ApiKey::try_from(Req::KEY).map_err(|_| Error::Protocol(format!("unknown API key {}", Req::KEY)))
}

async fn write_loop(
    addr: String,
    mut socket: tokio::io::WriteHalf<Box<dyn BrokerStream>>,
    mut queue: mpsc::Receiver<Outgoing>,
    pending: Arc<Mutex<HashMap<i32, Pending>>>,
    closed: CancellationToken,
) {
    loop {
        let outgoing = tokio::select! {
            _ = closed.cancelled() => break,
            next = queue.recv() => match next {
                Some(outgoing) => outgoing,
                None => break,
            },
        };
        if let Some((correlation_id, waiter)) = outgoing.awaiting {
            lock(&pending).insert(correlation_id, waiter);
        }
        if let Err(error) = socket.write_all(&outgoing.frame).await {
            tracing::debug!("connection to {addr} failed writing: {error}");
            break;
        }
    }
    closed.cancel();
    fail_all(&pending);
    let _ = socket.shutdown().await;
}

async fn read_loop(
    addr: String,
    mut socket: tokio::io::ReadHalf<Box<dyn BrokerStream>>,
    response_bytes_max: usize,
    pending: Arc<Mutex<HashMap<i32, Pending>>>,
    closed: CancellationToken,
) {
    let outcome = tokio::select! {
        _ = closed.cancelled() => Ok(()),
        outcome = read_responses(&mut socket, response_bytes_max, &pending) => outcome,
    };
    if let Err(error) = outcome {
        tracing::debug!("connection to {addr} closed: {error}");
    }
    closed.cancel();
    fail_all(&pending);
}

async fn read_responses(
    socket: &mut tokio::io::ReadHalf<Box<dyn BrokerStream>>,
    response_bytes_max: usize,
    pending: &Mutex<HashMap<i32, Pending>>,
) -> Result<()> {
    let io = |source| Error::Io { broker: String::new(), source };
    loop {
        let size = socket.read_i32().await.map_err(io)?;
        let size = usize::try_from(size).map_err(|_| Error::Protocol(format!("negative response size {size}")))?;
        if size < 4 || size > response_bytes_max {
            return Err(Error::Protocol(format!("response of {size} bytes (limit {response_bytes_max})")));
        }
        let mut body = vec![0; size];
        socket.read_exact(&mut body).await.map_err(io)?;
        let mut body = Bytes::from(body);
        let correlation_id = (&body[..4]).get_i32();
        let Some(waiter) = lock(pending).remove(&correlation_id) else {
            return Err(Error::Protocol(format!("response for unknown correlation id {correlation_id}")));
        };
        let delivered = ResponseHeader::decode(&mut body, waiter.response_header_version)
            .map(|_| body)
            .map_err(|e| Error::Protocol(format!("response header: {e:#}")));
        // The caller may have timed out and gone; that is not this connection's failure.
        let _ = waiter.reply.send(delivered);
    }
}

fn fail_all(pending: &Mutex<HashMap<i32, Pending>>) {
    // Dropping each reply sender wakes its caller with `Error::Closed`.
    lock(pending).clear();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

//! One client connection: the TLS handshake on SSL listeners, SASL authentication on SASL
//! listeners, then read a frame, decode it, hand it to a handler, write the reply.
//!
//! Requests on a connection are answered one at a time and in order, as Kafka does (it
//! mutes a channel while a request is in flight), so a long-polling fetch holds only its
//! own connection. Anything that cannot be read or answered (a failed or stalled handshake
//! too) closes the connection with exactly one log line naming the peer, the listener and,
//! once known, the principal; the broker and its other clients carry on. Past the handshake
//! the transport is just a byte stream: handlers see only the [`Session`]. A fetch
//! response's large record sets are written from their read buffers with vectored writes
//! rather than copied into the response buffer (`runnel_protocol::fetch_response`), or, on
//! plain TCP, sent from the log's files with `sendfile` (`send_file`); over TLS those are
//! read in first, since the bytes must be encrypted.
//!
//! The SASL gate: until `sasl::Authenticator` reports success, frames are bounded by
//! `sasl.server.max.receive.size` and go to the authenticator, which lets only ApiVersions
//! through to the handlers; the exchange as a whole is bounded by
//! `SASL_AUTHENTICATION_TIMEOUT_MS`. Its principal then replaces the session's.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::Encodable;
use runnel_log::FileSlice;
use runnel_protocol::fetch_response::{spliceable, wire_parts, Splice, WirePart};
use runnel_protocol::frame::{
    check_frame_size, decode_request_header, peek_preamble, write_fetch_response, write_response, FrameError,
    FRAME_SIZE_PREFIX_BYTES,
};
use runnel_protocol::kafka_protocol;
use runnel_protocol::versions::{support_for, API_VERSIONS_MAX};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::config::sasl::ListenerSaslConfig;
use crate::config::SecurityProtocol;
use crate::context::BrokerContext;
use crate::handlers::{self, Caller, Dispatched, Reply};
use crate::sasl::{Authenticator, Step, SASL_AUTHENTICATION_TIMEOUT_MS};
use crate::send_file::{self, WRITE_SLICES_MAX};
use crate::session::Session;
use crate::tls::{KafkaPrincipal, ListenerTls, TLS_HANDSHAKE_TIMEOUT_MS};

/// The least one socket read asks for. Frames are read through this buffer: the size prefix
/// and the body (and often the next pipelined frame) arrive in one `recvfrom` instead of
/// three, and the body is split off as `Bytes` without a copy or a zero-fill.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Produce requests a connection may have appended but not yet answered while their group
/// commit runs: reading on meanwhile lets one sync cover several of a producer's in-flight
/// requests (the Java producer sends up to 5 by default). Responses still go out in order.
const DEFERRED_RESPONSES_MAX: usize = 8;

/// A produce response that waits for its batches' group commit, with what encoding needs.
struct Deferred {
    reply: Pin<Box<dyn Future<Output = Reply> + Send>>,
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
}

/// How [`answer`] left a request.
enum Answer {
    /// The response (if any) is in `out`.
    Written,
    /// The response comes once the produce's batches are durable.
    Deferred(Deferred),
}

/// What the request loop woke up for.
// Moved once per request and never stored; boxing the reply would allocate per response.
#[allow(clippy::large_enum_variant)]
enum Event {
    Frame(Result<Option<Bytes>, Closed>),
    Durable(Reply),
}

/// An established byte stream, and whether record sets can be sent to it from files.
trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// The socket, when bytes reach the wire as written (no TLS): `sendfile` can feed it.
    fn plain_socket(&self) -> Option<&TcpStream>;
}

impl Transport for TcpStream {
    fn plain_socket(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn plain_socket(&self) -> Option<&TcpStream> {
        None
    }
}

/// A response on its way out: the frame in `out`, less the record sets it leaves out.
#[derive(Default)]
struct Outgoing {
    out: BytesMut,
    /// Record sets written from their own buffers.
    splices: Vec<Splice>,
    /// Record sets sent from the log's files, by the index in their external splice.
    files: Vec<Vec<FileSlice>>,
}

impl Outgoing {
    /// Drops the last response, releasing the read buffers and files it pinned.
    fn clear(&mut self) {
        self.out.clear();
        self.splices.clear();
        self.files.clear();
    }

    fn len(&self) -> usize {
        self.out.len() + self.splices.iter().map(Splice::len).sum::<usize>()
    }
}

/// What a negative connections.max.idle.ms (Kafka: never expire) waits for: a century.
const CONNECTION_IDLE_MS_UNBOUNDED: u64 = 100 * 365 * 24 * 3_600_000;

/// connections.max.idle.ms as a wait: negative means no limit, as in Kafka.
fn idle_limit_ms(configured_ms: i64) -> u64 {
    u64::try_from(configured_ms).map_or(CONNECTION_IDLE_MS_UNBOUNDED, |ms| ms.max(1))
}

/// What a connection needs to know about the listener that accepted it.
#[derive(Debug)]
pub struct ServedListener {
    /// Upper-cased listener name.
    pub name: Arc<str>,
    pub security_protocol: SecurityProtocol,
    /// Present exactly when the listener speaks TLS.
    pub tls: Option<ListenerTls>,
    /// Present exactly when the listener authenticates with SASL.
    pub sasl: Option<Arc<ListenerSaslConfig>>,
}

/// Why a connection ended early; each becomes the connection's one log line.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("{0}")]
    Frame(#[from] runnel_protocol::frame::FrameError),
    #[error("connection ended inside a frame: {0}")]
    Truncated(std::io::Error),
    #[error("idle longer than connections.max.idle.ms")]
    Idle,
    #[error("unsupported version {version} of {api_key:?}")]
    UnsupportedVersion { api_key: ApiKey, version: i16 },
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed { api_key: ApiKey, version: i16, reason: String },
    #[error("cannot answer {api_key:?} v{version}: {reason}")]
    Unanswerable { api_key: ApiKey, version: i16, reason: String },
    #[error("write failed: {0}")]
    Write(std::io::Error),
}

/// Serves one accepted TCP connection until it closes or shutdown.
pub async fn serve(
    ctx: Arc<BrokerContext>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ServedListener>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &listener.tls else {
        let session = Session::anonymous(peer, listener.name.clone(), listener.security_protocol);
        return serve_stream(ctx, stream, session, listener.sasl.clone(), shutdown).await;
    };
    let handshake_ms = TLS_HANDSHAKE_TIMEOUT_MS.min(idle_limit_ms(ctx.config.connections_max_idle_ms));
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config.clone());
    let accepted = tokio::select! {
        accepted = tokio::time::timeout(Duration::from_millis(handshake_ms), acceptor.accept(stream)) => accepted,
        _ = shutdown.cancelled() => return,
    };
    let listener_name = &listener.name;
    let stream = match accepted {
        Err(_) => {
            tracing::warn!(%peer, listener = %listener_name, "closing connection: TLS handshake not completed within {handshake_ms} ms");
            return;
        }
        Ok(Err(error)) => {
            tracing::warn!(%peer, listener = %listener_name, "closing connection: TLS handshake failed: {error}");
            return;
        }
        Ok(Ok(stream)) => stream,
    };
    let principal = match tls.principal(stream.get_ref().1.peer_certificates()) {
        Ok(principal) => principal,
        Err(error) => {
            tracing::warn!(%peer, listener = %listener_name, "closing connection: no principal for the client certificate: {error}");
            return;
        }
    };
    tracing::debug!(%peer, listener = %listener_name, %principal, "TLS connection established");
    let session = Session { peer, listener: listener.name.clone(), security_protocol: listener.security_protocol, principal };
    serve_stream(ctx, stream, session, listener.sasl.clone(), shutdown).await
}

/// The request loop over an established byte stream (plain TCP or TLS), after SASL
/// authentication when the listener asks for it.
async fn serve_stream<S: Transport>(
    ctx: Arc<BrokerContext>,
    mut stream: S,
    mut session: Session,
    sasl: Option<Arc<ListenerSaslConfig>>,
    shutdown: CancellationToken,
) {
    // Bytes read from the socket and not yet handed out as frames; shared by the SASL gate
    // and the request loop, since a client may pipeline its first request behind the last
    // SASL frame.
    let mut inbound = BytesMut::new();
    if let Some(sasl) = sasl {
        match authenticate(&ctx, &mut stream, &mut inbound, &session, sasl, &shutdown).await {
            Ok(Some(principal)) => session.principal = principal,
            Ok(None) => return,
            Err(reason) => {
                let (peer, listener, principal) = (&session.peer, &session.listener, &session.principal);
                tracing::warn!(%peer, %listener, %principal, "closing connection: {reason}");
                return;
            }
        }
    }
    let frame_bytes_max = ctx.config.socket_request_max_bytes as usize;
    let idle_ms = idle_limit_ms(ctx.config.connections_max_idle_ms);
    let mut outgoing = Outgoing::default();
    let mut deferred: VecDeque<Deferred> = VecDeque::new();
    let mut deferred_out = Outgoing::default();
    let (peer, listener, principal) = (&session.peer, &session.listener, &session.principal);
    let close = |closed: Closed| match closed {
        Closed::Write(_) => tracing::debug!(%peer, %listener, %principal, "closing connection: {closed}"),
        closed => tracing::warn!(%peer, %listener, %principal, "closing connection: {closed}"),
    };
    loop {
        let room = deferred.len() < DEFERRED_RESPONSES_MAX;
        let event = match deferred.front_mut() {
            None => tokio::select! {
                frame = read_frame(&mut stream, &mut inbound, frame_bytes_max, idle_ms) => Event::Frame(frame),
                _ = shutdown.cancelled() => return,
            },
            // read_frame keeps a partial frame in `inbound`, so losing the race is harmless.
            Some(front) if room => tokio::select! {
                biased;
                reply = &mut front.reply => Event::Durable(reply),
                frame = read_frame(&mut stream, &mut inbound, frame_bytes_max, idle_ms) => Event::Frame(frame),
                _ = shutdown.cancelled() => return,
            },
            Some(front) => tokio::select! {
                reply = &mut front.reply => Event::Durable(reply),
                _ = shutdown.cancelled() => return,
            },
        };
        let body = match event {
            Event::Durable(reply) => {
                let Some(done) = deferred.pop_front() else { continue };
                let (id, key, version) = (done.correlation_id, done.api_key, done.version);
                if let Err(closed) = send_deferred(&mut stream, (id, key, version), reply, &mut deferred_out).await {
                    return close(closed);
                }
                continue;
            }
            Event::Frame(Ok(Some(body))) => body,
            Event::Frame(Ok(None)) => return,
            Event::Frame(Err(closed)) => return close(closed),
        };
        // Only produce requests overtake a pending group commit: anything else is handled
        // once every earlier produce is durable, exactly as if they had been answered in turn.
        let is_produce = peek_preamble(&body).is_ok_and(|preamble| preamble.api_key == ApiKey::Produce as i16);
        if !is_produce {
            if let Err(closed) = drain_deferred(&mut stream, &mut deferred, &mut deferred_out).await {
                return close(closed);
            }
        }
        let timer = ctx.request_metrics.start(&body);
        match answer(&ctx, body, &session, &mut outgoing, stream.plain_socket().is_some(), &shutdown).await {
            Ok(Answer::Deferred(pending)) => {
                timer.finish(0);
                deferred.push_back(pending);
                continue;
            }
            Ok(Answer::Written) => timer.finish(outgoing.len()),
            Err(closed) => return close(closed),
        }
        // Responses go out in request order: every deferred one before this one.
        if let Err(closed) = drain_deferred(&mut stream, &mut deferred, &mut deferred_out).await {
            return close(closed);
        }
        let written = write_outgoing(&mut stream, &outgoing).await;
        // The record sets pin read buffers and files: release them now, not at the
        // connection's next request (this also leaves `outgoing` empty for it).
        outgoing.clear();
        if let Err(error) = written {
            return close(Closed::Write(error));
        }
    }
}

/// Writes a response: its record sets from files with `sendfile`, any others inserted at
/// their positions with vectored writes; then flushes.
async fn write_outgoing<S: Transport>(stream: &mut S, outgoing: &Outgoing) -> std::io::Result<()> {
    let Outgoing { out, splices, files } = outgoing;
    if splices.is_empty() {
        return write_flushed(stream, out).await;
    }
    let parts = wire_parts(out, splices);
    if !files.is_empty() {
        let socket = stream.plain_socket().ok_or_else(|| std::io::Error::other("file record sets for a TLS stream"))?;
        let files: Vec<&[FileSlice]> = files.iter().map(Vec::as_slice).collect();
        return send_file::write_parts(socket, &parts, &files).await;
    }
    let mut slices: Vec<std::io::IoSlice<'_>> = parts
        .into_iter()
        .map(|part| match part {
            WirePart::Bytes(bytes) => Ok(std::io::IoSlice::new(bytes)),
            WirePart::External(_) => Err(std::io::Error::other("an external record set without its files")),
        })
        .collect::<Result<_, _>>()?;
    let mut remaining: &mut [std::io::IoSlice<'_>] = &mut slices;
    while !remaining.is_empty() {
        let batch = remaining.len().min(WRITE_SLICES_MAX);
        let written = stream.write_vectored(&remaining[..batch]).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        std::io::IoSlice::advance_slices(&mut remaining, written);
    }
    stream.flush().await
}

/// Writes one response and flushes it: TLS buffers records, the flush puts them on the wire.
async fn write_flushed<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Encodes and writes a deferred produce's reply (correlation id, API key and version).
async fn send_deferred<S: Transport>(
    stream: &mut S,
    (correlation_id, api_key, version): (i32, ApiKey, i16),
    reply: Reply,
    buf: &mut Outgoing,
) -> Result<(), Closed> {
    buf.clear();
    encode_reply(buf, reply, correlation_id, api_key, version)?;
    write_outgoing(stream, buf).await.map_err(Closed::Write)
}

/// Waits for every deferred reply in order and writes each.
async fn drain_deferred<S: Transport>(
    stream: &mut S,
    deferred: &mut VecDeque<Deferred>,
    buf: &mut Outgoing,
) -> Result<(), Closed> {
    while let Some(done) = deferred.pop_front() {
        let Deferred { reply, correlation_id, api_key, version } = done;
        let reply = reply.await;
        send_deferred(stream, (correlation_id, api_key, version), reply, buf).await?;
    }
    Ok(())
}

/// Runs the SASL exchange: the authenticated principal, `None` if the client left or the broker
/// is shutting down, or why the connection must close (after any error response was sent).
async fn authenticate<S: Transport>(
    ctx: &BrokerContext,
    stream: &mut S,
    inbound: &mut BytesMut,
    session: &Session,
    sasl: Arc<ListenerSaslConfig>,
    shutdown: &CancellationToken,
) -> Result<Option<KafkaPrincipal>, String> {
    let idle_ms = idle_limit_ms(ctx.config.connections_max_idle_ms);
    let limit_ms = SASL_AUTHENTICATION_TIMEOUT_MS.min(idle_ms);
    let frame_bytes_max = sasl.max_receive_bytes;
    let mut gate = Authenticator::new(sasl);
    let exchange = async {
        loop {
            let body = match read_frame(stream, inbound, frame_bytes_max, idle_ms).await {
                Ok(Some(body)) => body,
                Ok(None) => return Ok(None),
                Err(Closed::Frame(FrameError::TooLarge { size, .. })) => {
                    return Err(format!(
                        "failing SASL authentication: frame of {size} bytes exceeds sasl.server.max.receive.size={frame_bytes_max}"
                    ))
                }
                Err(closed) => return Err(format!("during SASL authentication: {closed}")),
            };
            let mut outgoing = Outgoing::default();
            let (authenticated, failure) = match gate.step(body.clone(), &ctx.scram_credentials) {
                Step::Answer => {
                    let send_files = stream.plain_socket().is_some();
                    let answered = answer(ctx, body, session, &mut outgoing, send_files, shutdown).await;
                    if let Answer::Deferred(mut pending) = answered.map_err(|closed| closed.to_string())? {
                        let reply = (&mut pending.reply).await;
                        let (id, key, version) = (pending.correlation_id, pending.api_key, pending.version);
                        encode_reply(&mut outgoing, reply, id, key, version).map_err(|closed| closed.to_string())?;
                    }
                    (None, None)
                }
                Step::Reply(reply) => {
                    outgoing.out = reply;
                    (None, None)
                }
                Step::Authenticated { reply, principal, mechanism } => {
                    outgoing.out = reply;
                    tracing::debug!(peer = %session.peer, listener = %session.listener, %principal, %mechanism, "SASL authentication succeeded");
                    (Some(principal), None)
                }
                Step::Fail { reply, reason } => {
                    outgoing.out = reply.unwrap_or_default();
                    (None, Some(reason))
                }
            };
            write_outgoing(stream, &outgoing).await.map_err(|error| Closed::Write(error).to_string())?;
            if let Some(reason) = failure {
                return Err(reason);
            }
            if authenticated.is_some() {
                return Ok(authenticated);
            }
        }
    };
    tokio::select! {
        outcome = tokio::time::timeout(Duration::from_millis(limit_ms), exchange) => {
            outcome.unwrap_or_else(|_| Err(format!("SASL authentication not completed within {limit_ms} ms")))
        }
        _ = shutdown.cancelled() => Ok(None),
    }
}

/// Reads one frame body through `inbound`; `None` on a clean end of stream between frames.
async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    inbound: &mut BytesMut,
    frame_bytes_max: usize,
    idle_ms: u64,
) -> Result<Option<Bytes>, Closed> {
    let idle = Duration::from_millis(idle_ms);
    let read_prefix = async {
        while inbound.len() < FRAME_SIZE_PREFIX_BYTES {
            inbound.reserve(READ_CHUNK_BYTES);
            match stream.read_buf(inbound).await {
                // A reset between frames is how many clients close, and a TLS client that
                // closes without close_notify reads as an unexpected EOF: neither is worth a
                // warning.
                Ok(0) if inbound.is_empty() => return Ok(false),
                Err(error)
                    if inbound.is_empty()
                        && matches!(
                            error.kind(),
                            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                        ) =>
                {
                    return Ok(false)
                }
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(true)
    };
    match tokio::time::timeout(idle, read_prefix).await {
        Err(_) => return Err(Closed::Idle),
        Ok(Ok(false)) => return Ok(None),
        Ok(Ok(true)) => {}
        Ok(Err(error)) => return Err(Closed::Truncated(error)),
    }
    let mut prefix = [0u8; FRAME_SIZE_PREFIX_BYTES];
    prefix.copy_from_slice(&inbound[..FRAME_SIZE_PREFIX_BYTES]);
    let size = check_frame_size(i32::from_be_bytes(prefix), frame_bytes_max)?;
    let frame_bytes = FRAME_SIZE_PREFIX_BYTES + size;
    let read_body = async {
        if inbound.len() < frame_bytes {
            // Room for the whole frame plus a chunk, so the next frame's start comes along.
            inbound.reserve(frame_bytes - inbound.len() + READ_CHUNK_BYTES);
        }
        while inbound.len() < frame_bytes {
            if stream.read_buf(inbound).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok::<(), std::io::Error>(())
    };
    match tokio::time::timeout(idle, read_body).await {
        Err(_) => Err(Closed::Idle),
        Ok(Err(error)) => Err(Closed::Truncated(error)),
        Ok(Ok(())) => {
            inbound.advance(FRAME_SIZE_PREFIX_BYTES);
            Ok(Some(inbound.split_to(size).freeze()))
        }
    }
}

/// Decodes and handles one request, leaving the encoded response (if any) in `outgoing`
/// (record sets in files only when `send_files`), or handing back a produce's reply that
/// waits for its group commit.
async fn answer(
    ctx: &BrokerContext,
    mut body: Bytes,
    session: &Session,
    outgoing: &mut Outgoing,
    send_files: bool,
    shutdown: &CancellationToken,
) -> Result<Answer, Closed> {
    let preamble = peek_preamble(&body)?;
    let api_key = ApiKey::try_from(preamble.api_key)
        .map_err(|_| runnel_protocol::frame::FrameError::UnknownApiKey(preamble.api_key))?;
    let version = preamble.api_version;
    let correlation_id = preamble.correlation_id;
    if api_key == ApiKey::ApiVersions && version > API_VERSIONS_MAX {
        // KIP-511: the client learns our range from a v0 body and retries with our max.
        let fallback = handlers::unsupported_version_fallback();
        return write_response(&mut outgoing.out, correlation_id, 0, |buf| fallback.encode(buf, 0))
            .map(|()| Answer::Written)
            .map_err(|error| Closed::Unanswerable { api_key, version, reason: error.to_string() });
    }
    if !support_for(api_key).is_some_and(|support| support.serves(version)) {
        return Err(Closed::UnsupportedVersion { api_key, version });
    }
    let header = decode_request_header(api_key, version, &mut body)?;
    let request = RequestKind::decode(api_key, &mut body, version)
        .map_err(|error| Closed::Malformed { api_key, version, reason: error.to_string() })?;
    let caller = Caller { client_id: header.client_id.as_deref().unwrap_or(""), session };
    match handlers::dispatch(ctx, request, version, &caller, shutdown).await {
        Dispatched::Now(Reply::Fetch(fetch)) if !send_files || !spliceable(&fetch.response, version) => {
            let response = fetch
                .read_in(&ctx.read_buffers)
                .map_err(|error| Closed::Unanswerable { api_key, version, reason: format!("reading fetched records: {error}") })?;
            let reply = Reply::Respond(ResponseKind::Fetch(response));
            encode_reply(outgoing, reply, correlation_id, api_key, version).map(|()| Answer::Written)
        }
        Dispatched::Now(reply) => encode_reply(outgoing, reply, correlation_id, api_key, version).map(|()| Answer::Written),
        Dispatched::AfterSync(reply) => Ok(Answer::Deferred(Deferred { reply, correlation_id, api_key, version })),
    }
}

/// Encodes a handler's reply as a response frame in `outgoing` (nothing for a silent one); a
/// fetch response's large record sets go to its splices instead of being copied, and those
/// left in the log's files to its files.
fn encode_reply(outgoing: &mut Outgoing, reply: Reply, correlation_id: i32, api_key: ApiKey, version: i16) -> Result<(), Closed> {
    let header_version = api_key.response_header_version(version);
    let Outgoing { out, splices, files } = outgoing;
    let written = match reply {
        Reply::Respond(ResponseKind::Fetch(fetch)) => {
            write_fetch_response(out, correlation_id, header_version, &fetch, version, &[], splices)
        }
        Reply::Fetch(fetch) => {
            let externals: Vec<_> = fetch.files.iter().map(|records| records.external()).collect();
            let written = write_fetch_response(out, correlation_id, header_version, &fetch.response, version, &externals, splices);
            files.extend(fetch.files.into_iter().map(|records| records.slices));
            written
        }
        Reply::Respond(response) => write_response(out, correlation_id, header_version, |buf| response.encode(buf, version)),
        Reply::Silent => Ok(()),
        Reply::Close(reason) => return Err(Closed::Unanswerable { api_key, version, reason: reason.into() }),
    };
    written.map_err(|error| Closed::Unanswerable { api_key, version, reason: error.to_string() })
}

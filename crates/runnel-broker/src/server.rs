//! The broker process: open storage, bind listeners, serve connections, shut down cleanly.
//!
//! Listeners: every entry of `listeners` (minus controller listeners) is bound, each with its
//! own accept loop. PLAINTEXT listeners serve as they are; SSL listeners get their TLS server
//! built from their `ssl.*` settings at startup, so a bad keystore stops the broker before it
//! serves anything. SASL_PLAINTEXT and SASL_SSL listeners get their SASL settings (mechanisms,
//! PLAIN users) resolved at startup too, SASL_SSL also its TLS; a SASL mechanism Runnel lacks
//! stops the broker rather than being served as something weaker. Each listener is advertised
//! under its own name.
//!
//! Shutdown follows mini-redis: one `CancellationToken` is cancelled (by SIGTERM/Ctrl-C in
//! the binary, or by a test); accept loops stop, each connection finishes the request it is
//! answering and exits, the `JoinSet` of connection tasks drains within a bound, and only
//! then are the logs flushed and closed, so no append is cut in half by shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::acl::{AclStoreError, Authorization};
use crate::admin::AdminHandle;
use crate::config::listener::{Listener, SecurityProtocol};
use crate::config::BrokerConfig;
use crate::connection::ServedListener;
use crate::context::{now_ms, AdvertisedEndpoint, AdvertisedListeners, BrokerContext};
use crate::groups::{GroupLoadError, GroupService};
use crate::producer_ids::{ProducerIdAllocator, ProducerIdError};
use crate::sasl::{CredentialStoreError, ScramCredentialStore};
use crate::tls::ListenerTls;
use crate::topics::{TopicError, TopicRegistry};
use crate::{cluster_meta, connection};

/// How long shutdown waits for in-flight requests before closing logs anyway.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 30_000;
/// How often partitions get a chance to roll by time and flush by flush.ms.
pub const LOG_TICK_INTERVAL_MS: u64 = 1_000;
/// Kafka's log.cleaner.backoff.ms default: how often compacted topics are checked.
pub const LOG_CLEANER_BACKOFF_MS: u64 = 15_000;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot use log directory {path}: {source}")]
    LogDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Meta(#[from] cluster_meta::MetaError),
    #[error("cannot open the topics: {0}")]
    Topics(#[from] TopicError),
    #[error(transparent)]
    ProducerIds(#[from] ProducerIdError),
    #[error("cannot load consumer groups: {0}")]
    Groups(#[from] GroupLoadError),
    #[error("cannot load the ACLs: {0}")]
    Acls(#[from] AclStoreError),
    #[error(transparent)]
    ScramCredentials(#[from] CredentialStoreError),
    #[error("listener {listener}: {reason}")]
    Listener { listener: String, reason: String },
}

/// A broker with its storage open and its listeners bound, not yet serving.
pub struct Broker {
    ctx: Arc<BrokerContext>,
    listeners: Vec<(TcpListener, Arc<ServedListener>)>,
    admin: Option<AdminHandle>,
}

impl Broker {
    /// Opens (recovering) the log directory and binds every listener.
    pub async fn bind(config: BrokerConfig) -> Result<Self, BrokerError> {
        let config = Arc::new(config);
        let log_dir = config.log_dirs[0].clone();
        std::fs::create_dir_all(&log_dir).map_err(|source| BrokerError::LogDir { path: log_dir.clone(), source })?;
        let cluster_id = cluster_meta::load_or_create(&log_dir, config.node_id)?;
        let storage: Arc<dyn runnel_log::Storage> = Arc::new(runnel_log::FileStorage::new());
        let topics = TopicRegistry::open(&log_dir, storage, config.clone(), now_ms())?;
        let producer_ids = ProducerIdAllocator::open(&log_dir)?;
        let groups = GroupService::load(&config, &topics)?;
        let scram_credentials = ScramCredentialStore::open(&log_dir)?;
        let authorization = Authorization::open(&config.authorizer, &log_dir)?;

        // TLS first: a bad keystore should fail before any port is taken.
        let mut served = Vec::new();
        for listener in &config.listeners {
            served.push(served_listener(&config, listener)?);
        }
        let mut listeners = Vec::new();
        let mut advertised = Vec::new();
        for (listener, served) in config.listeners.iter().zip(served) {
            let shown = listener.connection_string();
            let bound = TcpListener::bind(listener.bind_address())
                .await
                .map_err(|error| BrokerError::Listener { listener: shown.clone(), reason: error.to_string() })?;
            let local = bound.local_addr().map_err(|error| BrokerError::Listener { listener: shown, reason: error.to_string() })?;
            if let Some(endpoint) = advertised_endpoint(&config, listener, local) {
                advertised.push((listener.name.clone(), endpoint));
            }
            tracing::info!(listener = %listener.name, protocol = listener.security_protocol.name(), address = %local, "listening");
            listeners.push((bound, Arc::new(served)));
        }
        let advertised = AdvertisedListeners::new(advertised);
        let ctx = Arc::new(BrokerContext {
            node_id: config.node_id,
            config,
            cluster_id,
            advertised,
            topics,
            producer_ids,
            groups,
            scram_credentials,
            authorization,
            request_metrics: crate::admin::RequestMetrics::default(),
            read_buffers: Default::default(),
        });
        Ok(Self { ctx, listeners, admin: None })
    }

    /// The bound address of every listener, in `listeners` order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|(listener, _)| listener.local_addr().ok()).collect()
    }

    /// The bound address of the listener called `name` (upper-cased, as in `listeners`).
    pub fn local_addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.listeners.iter().find(|(_, served)| &*served.name == name).and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Hands the running admin listener the broker: from now on it answers everything and
    /// /readyz is 200. `run` samples consumer lag for it and waits for it at shutdown.
    pub fn attach_admin(&mut self, admin: AdminHandle) {
        admin.state.set_ready(self.ctx.clone());
        self.admin = Some(admin);
    }

    /// The admin listener's bound address, once attached.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.local_addr)
    }

    pub fn log_dir(&self) -> &std::path::Path {
        &self.ctx.config.log_dirs[0]
    }

    /// Serves until `shutdown` is cancelled, then drains and closes the logs.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut background = JoinSet::new();
        let max_connections = usize::try_from(self.ctx.config.max_connections).unwrap_or(0).min(Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max_connections));
        for (listener, served) in self.listeners {
            background.spawn(accept_loop(self.ctx.clone(), listener, served, slots.clone(), shutdown.clone()));
        }
        background.spawn(log_maintenance(self.ctx.clone(), shutdown.clone()));
        let ctx = self.ctx.clone();
        let timers_shutdown = shutdown.clone();
        background.spawn(async move { ctx.groups.run_timers(&ctx.topics, timers_shutdown).await });
        if let Some(admin) = self.admin {
            background.spawn(crate::admin::sample_lag(admin.state.clone(), shutdown.clone()));
            background.spawn(async move {
                if let Err(error) = admin.task.await {
                    tracing::error!(%error, "admin listener failed");
                }
            });
        }
        shutdown.cancelled().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let drained = tokio::time::timeout(Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX), async {
            // Accept loops end only after their connections have.
            while background.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("in-flight requests did not finish within {SHUTDOWN_DRAIN_MS_MAX} ms; closing logs anyway");
        }
        self.ctx.topics.close_all();
        tracing::info!("shutdown complete");
    }
}

/// Accepts connections until shutdown, then waits for its connections to finish. At
/// max.connections open connections it stops accepting until one closes, as Kafka's
/// acceptor does; waiting clients sit in the kernel's backlog.
async fn accept_loop(
    ctx: Arc<BrokerContext>,
    listener: TcpListener,
    served: Arc<ServedListener>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the connection semaphore is never closed"),
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = shutdown.cancelled() => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let serve = connection::serve(ctx.clone(), stream, peer, served.clone(), shutdown.clone());
                    connections.spawn(async move {
                        serve.await;
                        drop(slot);
                    });
                }
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.cancelled() => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Rolls and flushes by time every tick, applies retention every
/// log.retention.check.interval.ms, and compacts compacted topics every
/// log.cleaner.backoff.ms. Each pass runs on the blocking pool: it does file IO and may
/// take long (a compaction round rewrites segments), and must not stall request handling.
async fn log_maintenance(ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    let every = |ms: u64| {
        let mut interval = tokio::time::interval(Duration::from_millis(ms.max(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    };
    let mut tick = every(LOG_TICK_INTERVAL_MS);
    let mut retention = every(ctx.config.log_retention_check_interval_ms.max(1) as u64);
    let mut cleaner = every(LOG_CLEANER_BACKOFF_MS);
    loop {
        let chore = tokio::select! {
            _ = tick.tick() => Chore::Tick,
            _ = retention.tick() => Chore::Retention,
            _ = cleaner.tick() => Chore::Compaction,
            _ = shutdown.cancelled() => return,
        };
        let ctx = ctx.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || run_chore(&ctx, chore, now_ms())).await {
            tracing::error!(?chore, %error, "log maintenance task failed");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chore {
    Tick,
    Retention,
    Compaction,
}

/// Runs one maintenance pass over every partition it applies to, logging what changed.
fn run_chore(ctx: &BrokerContext, chore: Chore, now: i64) {
    for topic in ctx.topics.all() {
        if chore == Chore::Compaction && !topic.settings.cleanup_policy.compact {
            continue;
        }
        for partition in &topic.partitions {
            let outcome = partition.with_log_mut(|log| match chore {
                Chore::Tick => log.tick(now).map(|()| None),
                Chore::Retention => log.apply_retention(now).map(|done| {
                    (done.segments_deleted > 0)
                        .then(|| format!("retention deleted {} segments, {} bytes", done.segments_deleted, done.bytes_deleted))
                }),
                Chore::Compaction => log.compact(now).map(|done| {
                    done.cleaned.then(|| format!("compacted {} bytes to {}", done.bytes_before, done.bytes_after))
                }),
            });
            match outcome {
                Ok(Some(summary)) => tracing::info!(topic = %topic.name, partition = partition.index, "{summary}"),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(topic = %topic.name, partition = partition.index, ?chore, %error, "log maintenance failed")
                }
            }
        }
    }
}

/// What a connection needs of its listener: for SSL and SASL_SSL, the TLS server built from its
/// settings; for SASL_PLAINTEXT and SASL_SSL, its mechanisms and PLAIN users.
fn served_listener(config: &BrokerConfig, listener: &Listener) -> Result<ServedListener, BrokerError> {
    let fail = |reason: String| BrokerError::Listener { listener: listener.connection_string(), reason };
    let tls = match listener.security_protocol {
        SecurityProtocol::Plaintext | SecurityProtocol::SaslPlaintext => None,
        SecurityProtocol::Ssl | SecurityProtocol::SaslSsl => {
            let ssl = config.listener_ssl(listener).map_err(|error| fail(error.to_string()))?;
            if !ssl.dropped_protocols.is_empty() {
                tracing::warn!(
                    listener = %listener.name,
                    "ssl.enabled.protocols: {} not offered (rustls implements TLSv1.2 and TLSv1.3 only; Java disables the older ones too)",
                    ssl.dropped_protocols.join(", ")
                );
            }
            Some(ListenerTls::build(&ssl).map_err(|error| fail(error.to_string()))?)
        }
    };
    let sasl = match listener.security_protocol {
        SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl => {
            let sasl = config.listener_sasl(listener).map_err(|error| fail(error.to_string()))?;
            for warning in &sasl.warnings {
                tracing::warn!(listener = %listener.name, "{warning}");
            }
            Some(Arc::new(sasl))
        }
        SecurityProtocol::Plaintext | SecurityProtocol::Ssl => None,
    };
    Ok(ServedListener { name: Arc::from(listener.name.as_str()), security_protocol: listener.security_protocol, tls, sasl })
}

/// Where clients of `listener` are told to connect: its advertised.listeners entry (same
/// name; advertised.listeners defaults to listeners), with the bound port when that entry asks
/// for port 0 and the bound address when its host is a wildcard. `None` when the listener is
/// not advertised: Kafka then gives clients of that listener no broker address.
fn advertised_endpoint(config: &BrokerConfig, listener: &Listener, bound: SocketAddr) -> Option<AdvertisedEndpoint> {
    let advertised = config.advertised_listeners.iter().find(|advertised| advertised.name == listener.name)?;
    let advertised = advertised.with_wildcard_resolved(&crate::config::local_hostname());
    let host = advertised.host.unwrap_or_else(|| bound.ip().to_string());
    let port = if advertised.port == 0 { bound.port() } else { advertised.port };
    Some(AdvertisedEndpoint { host, port: i32::from(port) })
}
